package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// The distributed name registry (Horde.Registry): cluster-unique names bound
// to PIDs, replicated to every node so that a lookup never leaves the node.
// A registration is made by the node the process runs on; it is gossiped as
// a delta and carried in push/pull snapshots. A name is dropped when its
// process exits (a deletion is gossiped) or when its node is declared dead
// (every node drops it on its own). When a partition heals, names bound on
// both sides meet: mergeEntry picks the same winner everywhere and the
// loser's node ends the losing process with reason name_conflict.

// RegistryEntry is one registered name.
type RegistryEntry struct {
	Name         string    `json:"name"`
	PID          PID       `json:"pid"`
	Node         string    `json:"node"`
	RegisteredAt time.Time `json:"registered_at"`
}

// RegistryConflict records two processes that held one name at the same
// time (on two sides of a partition) and how it was settled.
type RegistryConflict struct {
	Name   string    `json:"name"`
	Winner PID       `json:"winner"`
	Loser  PID       `json:"loser"`
	Rule   string    `json:"rule"`
	Time   time.Time `json:"time"`
	// ObservedBy lists the nodes that saw the conflict.
	ObservedBy []string `json:"observed_by"`
}

const (
	methodRegRegister   = "reg.register"
	methodRegUnregister = "reg.unregister"
	methodRegConflicts  = "reg.conflicts"
	maxConflictHistory  = 1000
	// tombstoneTTL is how long a deletion is remembered so that a late
	// copy of the deleted binding is not taken for a live one.
	tombstoneTTL = 5 * time.Minute
)

type registry struct {
	n *Node

	mu        sync.RWMutex
	bindings  map[string]map[PID]regEntry // name -> pid -> binding (live or deleted)
	holders   map[string]regEntry         // name -> the live binding that holds it
	byPID     map[PID][]string            // live bindings by process
	clock     uint64                      // Lamport clock for versions
	conflicts []RegistryConflict
	deletedAt map[bindingKey]time.Time
}

type bindingKey struct {
	name string
	pid  PID
}

func (n *Node) initRegistry() {
	r := &registry{
		n:         n,
		bindings:  make(map[string]map[PID]regEntry),
		holders:   make(map[string]regEntry),
		byPID:     make(map[PID][]string),
		deletedAt: make(map[bindingKey]time.Time),
	}
	n.registry = r
	n.AddReplica(ReplicaRegistry, r)
	n.OnProcessExit(func(info ProcessInfo, _ Reason) { r.processExited(info.PID) })
	n.Subscribe(func(ev MemberEvent) {
		if ev.Type == MemberDied || ev.Type == MemberLeft {
			r.dropNode(ev.Member.Name)
		}
	})
	n.HandleRPC(methodRegRegister, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var req struct {
			Name string
			PID  PID
		}
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: register: %v", ErrBadFrame, err)
		}
		return nil, r.registerLocal(req.Name, req.PID)
	})
	n.HandleRPC(methodRegUnregister, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var req struct{ Name string }
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: unregister: %v", ErrBadFrame, err)
		}
		return nil, r.unregisterLocal(req.Name)
	})
	n.HandleRPC(methodRegConflicts, func(context.Context, string, []byte) ([]byte, error) {
		return json.Marshal(n.RegistryConflicts())
	})
}

// Register binds name to pid cluster-wide. The process's own node makes
// the registration. A name already bound to another live process is a
// conflict (*RPCError with CodeConflict).
func (n *Node) Register(ctx context.Context, name string, pid PID) error {
	if err := validName(name); err != nil {
		return &RPCError{Code: CodeBadRequest, Node: n.name, Message: err.Error()}
	}
	if pid.Node == n.name {
		return n.registry.registerLocal(name, pid)
	}
	return n.RequestJSON(ctx, pid.Node, methodRegRegister, struct {
		Name string
		PID  PID
	}{name, pid}, nil)
}

// Unregister removes a name. The node of the process that holds it does
// the deletion.
func (n *Node) Unregister(ctx context.Context, name string) error {
	pid, ok := n.Whereis(name)
	if !ok {
		return &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("name %q is not registered", name)}
	}
	if pid.Node == n.name {
		return n.registry.unregisterLocal(name)
	}
	return n.RequestJSON(ctx, pid.Node, methodRegUnregister, struct{ Name string }{name}, nil)
}

// Whereis looks a name up in this node's copy of the registry: no network.
func (n *Node) Whereis(name string) (PID, bool) {
	r := n.registry
	r.mu.RLock()
	e, ok := r.holders[name]
	r.mu.RUnlock()
	if !ok {
		return PID{}, false
	}
	return e.PID, true
}

// RegistryEntries lists every registered name, sorted by name.
func (n *Node) RegistryEntries() []RegistryEntry {
	r := n.registry
	r.mu.RLock()
	out := make([]RegistryEntry, 0, len(r.holders))
	for _, e := range r.holders {
		out = append(out, RegistryEntry{Name: e.Name, PID: e.PID, Node: e.PID.Node, RegisteredAt: e.RegisteredAt})
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// RegistryConflicts lists the conflicts this node has seen, oldest first.
func (n *Node) RegistryConflicts() []RegistryConflict {
	r := n.registry
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.conflicts)
}

// registeredNames returns the names bound to pid (for ProcessInfo).
func (r *registry) registeredNames(pid PID) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := r.byPID[pid]
	if len(names) == 0 {
		return nil
	}
	return slices.Clone(names)
}

func (r *registry) registerLocal(name string, pid PID) error {
	n := r.n
	if err := validName(name); err != nil {
		return &RPCError{Code: CodeBadRequest, Node: n.name, Message: err.Error()}
	}
	p := n.Process(pid)
	if p == nil {
		return &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no process %s", pid)}
	}
	r.mu.Lock()
	if cur, ok := r.holders[name]; ok {
		r.mu.Unlock()
		if cur.PID == pid {
			return nil
		}
		return &RPCError{Code: CodeConflict, Node: n.name, Message: fmt.Sprintf("name %q is already registered to %s", name, cur.PID)}
	}
	r.clock++
	if old, ok := r.bindings[name][pid]; ok {
		r.clock = max(r.clock, old.Version+1)
	}
	e := regEntry{Name: name, PID: pid, RegisteredAt: n.clock.Now(), Version: r.clock}
	r.putLocked(e)
	r.mu.Unlock()
	// The process may have exited between the check and now: its exit hook
	// ran before the entry existed, so look again.
	if n.Process(pid) == nil {
		r.processExited(pid)
		return &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no process %s", pid)}
	}
	n.Broadcast(ReplicaRegistry, name, encodeRegistryDelta(e))
	return nil
}

func (r *registry) unregisterLocal(name string) error {
	r.mu.Lock()
	cur, ok := r.holders[name]
	if !ok || cur.PID.Node != r.n.name {
		r.mu.Unlock()
		return &RPCError{Code: CodeNotFound, Node: r.n.name, Message: fmt.Sprintf("name %q is not registered here", name)}
	}
	e := r.tombstoneLocked(cur)
	r.mu.Unlock()
	r.n.Broadcast(ReplicaRegistry, name, encodeRegistryDelta(e))
	return nil
}

// tombstoneLocked replaces a live entry by its deletion.
func (r *registry) tombstoneLocked(cur regEntry) regEntry {
	r.clock = max(r.clock, cur.Version) + 1
	e := cur
	e.Version, e.Deleted = r.clock, true
	r.putLocked(e)
	return e
}

// putLocked stores a binding and refreshes the name's holder, the PID
// index and the deletion times.
func (r *registry) putLocked(e regEntry) {
	bs := r.bindings[e.Name]
	if bs == nil {
		bs = make(map[PID]regEntry)
		r.bindings[e.Name] = bs
	}
	if old, ok := bs[e.PID]; ok && !old.Deleted {
		r.unindexLocked(old.PID, e.Name)
	}
	bs[e.PID] = e
	r.clock = max(r.clock, e.Version)
	k := bindingKey{e.Name, e.PID}
	if e.Deleted {
		r.deletedAt[k] = r.n.clock.Now()
	} else {
		delete(r.deletedAt, k)
		r.byPID[e.PID] = append(r.byPID[e.PID], e.Name)
	}
	r.refreshLocked(e.Name)
}

// refreshLocked recomputes who holds a name and returns the losers of a
// conflict, if several live bindings exist.
func (r *registry) refreshLocked(name string) (winner regEntry, losers []regEntry, rule string) {
	var live []regEntry
	for _, b := range r.bindings[name] {
		if !b.Deleted {
			live = append(live, b)
		}
	}
	if len(r.bindings[name]) == 0 {
		delete(r.bindings, name)
	}
	if len(live) == 0 {
		delete(r.holders, name)
		return regEntry{}, nil, ""
	}
	winner, losers, rule = holder(live)
	r.holders[name] = winner
	return winner, losers, rule
}

func (r *registry) unindexLocked(pid PID, name string) {
	names := slices.DeleteFunc(r.byPID[pid], func(s string) bool { return s == name })
	if len(names) == 0 {
		delete(r.byPID, pid)
	} else {
		r.byPID[pid] = names
	}
}

// processExited deletes the names of a local process that exited.
func (r *registry) processExited(pid PID) {
	r.mu.Lock()
	names := slices.Clone(r.byPID[pid])
	var dels []regEntry
	for _, name := range names {
		if cur, ok := r.bindings[name][pid]; ok && !cur.Deleted {
			dels = append(dels, r.tombstoneLocked(cur))
		}
	}
	r.mu.Unlock()
	for _, e := range dels {
		r.n.Broadcast(ReplicaRegistry, e.Name, encodeRegistryDelta(e))
	}
}

// dropNode forgets the names of a node declared dead or gone: each node
// does this on its own, so nothing is gossiped.
func (r *registry) dropNode(node string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, bs := range r.bindings {
		for pid, e := range bs {
			if pid.Node != node {
				continue
			}
			if !e.Deleted {
				r.unindexLocked(pid, name)
			}
			delete(bs, pid)
			delete(r.deletedAt, bindingKey{name, pid})
		}
		r.refreshLocked(name)
	}
	r.gcLocked()
}

// gcLocked forgets deletions older than tombstoneTTL.
func (r *registry) gcLocked() {
	cutoff := r.n.clock.Now().Add(-tombstoneTTL)
	for k, at := range r.deletedAt {
		if at.Before(cutoff) {
			delete(r.deletedAt, k)
			if e, ok := r.bindings[k.name][k.pid]; ok && e.Deleted {
				delete(r.bindings[k.name], k.pid)
				r.refreshLocked(k.name)
			}
		}
	}
}

// merge applies one incoming entry and reports whether local state
// changed. Conflicts are recorded, and a local loser is ended.
func (r *registry) merge(in regEntry) bool {
	n := r.n
	if in.PID.Node != n.name {
		if st := n.MemberState(in.PID.Node); st == StateDead || st == StateLeft {
			// A binding from a node we consider gone: when it comes back,
			// its rejoin brings the binding again.
			return false
		}
	} else if !in.Deleted && n.Process(in.PID) == nil {
		// A stale copy of a binding of one of our processes that has
		// exited: answer with its deletion (we are its authority).
		r.mu.Lock()
		cur, ok := r.bindings[in.Name][in.PID]
		if ok && cur.Deleted && cur.Version >= in.Version {
			r.mu.Unlock()
			return false
		}
		r.clock = max(r.clock, in.Version)
		del := r.tombstoneLocked(in)
		r.mu.Unlock()
		n.Broadcast(ReplicaRegistry, in.Name, encodeRegistryDelta(del))
		return true
	}
	r.mu.Lock()
	cur, ok := r.bindings[in.Name][in.PID]
	keep, changed := mergeBinding(cur, ok, in)
	r.clock = max(r.clock, in.Version)
	if !changed {
		r.mu.Unlock()
		return false
	}
	r.putLocked(keep)
	winner, losers, rule := r.refreshLocked(in.Name)
	var kill []PID
	for _, l := range losers {
		r.recordLocked(RegistryConflict{Name: in.Name, Winner: winner.PID, Loser: l.PID, Rule: rule, Time: n.clock.Now(), ObservedBy: []string{n.name}})
		if l.PID.Node == n.name {
			kill = append(kill, l.PID)
		}
	}
	r.mu.Unlock()
	for _, pid := range kill {
		n.log.Info("registry conflict lost", "name", in.Name, "loser", pid.String(), "winner", winner.PID.String(), "rule", rule)
		go func() {
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RPCTimeout)
			defer cancel()
			_ = n.Kill(ctx, pid, ReasonNameConflict)
		}()
	}
	return true
}

func (r *registry) recordLocked(c RegistryConflict) {
	for _, old := range r.conflicts {
		if old.Name == c.Name && old.Winner == c.Winner && old.Loser == c.Loser {
			return
		}
	}
	if len(r.conflicts) >= maxConflictHistory {
		r.conflicts = slices.Delete(r.conflicts, 0, 1)
	}
	r.conflicts = append(r.conflicts, c)
}

// Snapshot implements Replica.
func (r *registry) Snapshot() []byte {
	r.mu.Lock()
	r.gcLocked()
	var es []regEntry
	for _, bs := range r.bindings {
		for _, e := range bs {
			es = append(es, e)
		}
	}
	r.mu.Unlock()
	return encodeRegistrySnapshot(es)
}

// MergeSnapshot implements Replica.
func (r *registry) MergeSnapshot(b []byte) error {
	es, err := decodeRegistrySnapshot(b)
	if err != nil {
		return err
	}
	for _, e := range es {
		if r.merge(e) {
			// Pass on what was news here, so that the rest of this side of
			// a healed partition learns it without waiting for its own
			// push/pull.
			r.n.Broadcast(ReplicaRegistry, e.Name, encodeRegistryDelta(e))
		}
	}
	return nil
}

// MergeDelta implements Replica.
func (r *registry) MergeDelta(b []byte) (bool, error) {
	e, err := decodeRegistryDelta(b)
	if err != nil {
		return false, err
	}
	return r.merge(e), nil
}

// RegistryConflicts gathers the conflict histories of every live node,
// merging the records of one conflict seen by several nodes.
func (v *View) RegistryConflicts(ctx context.Context) ([]RegistryConflict, []NodeError) {
	targets, missing := v.targets(nil)
	type key struct {
		name          string
		winner, loser PID
	}
	merged := map[key]*RegistryConflict{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, v.PerNodeTimeout)
			defer cancel()
			var cs []RegistryConflict
			err := v.node.RequestJSON(cctx, name, methodRegConflicts, struct{}{}, &cs)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				missing = append(missing, nodeError(name, err))
				return
			}
			for _, c := range cs {
				k := key{c.Name, c.Winner, c.Loser}
				if m, ok := merged[k]; ok {
					m.ObservedBy = append(m.ObservedBy, c.ObservedBy...)
					if c.Time.Before(m.Time) {
						m.Time = c.Time
					}
					continue
				}
				cc := c
				merged[k] = &cc
			}
		}()
	}
	wg.Wait()
	out := make([]RegistryConflict, 0, len(merged))
	for _, c := range merged {
		sort.Strings(c.ObservedBy)
		c.ObservedBy = slices.Compact(c.ObservedBy)
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Name < out[j].Name
	})
	return out, missing
}
