package cluster

// SetSandboxesForTest replaces a node's copy of the sandbox records, as if
// they had been gossiped to it. Tests and benchmarks use it to put a large
// converged state in place without starting its processes.
func SetSandboxesForTest(n *Node, rs []SandboxInfo) {
	s := n.sandboxes
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.recs)
	for _, r := range rs {
		r = normalizeSandbox(r)
		s.recs[r.Name] = &r
		s.clock = max(s.clock, r.Version)
	}
}
