package cluster

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Sandboxes: a named namespace whose processes span chosen nodes.
//
// The sandbox record (spec, target nodes, the inventory of the processes
// started through the sandbox, and what was lost) is cluster-wide state:
// every node keeps a copy, carried as a Replica of kind ReplicaSandbox.
// A record is a join-semilattice: MergeSandbox unions inventories and
// losses, a process's status only moves forward (running → lost/exited),
// and a destruction is a tombstone that wins; so concurrent changes made on
// different nodes (a spawn here, a node loss recorded there) never
// overwrite each other and every node converges on the same record.
//
// Every process of a sandbox carries the label sandbox=<name>, which is
// what inspection and destruction look for on every node: a process that
// the inventory missed is still found.
//
// Node loss: when a member dies or leaves, the running processes the
// inventory places on it are marked lost and the sandbox turns degraded.
// One node records each loss, chosen deterministically (the lowest-named
// live node among the sandbox's nodes), and gossips it; with OnNodeLoss
// "restart" it also starts the lost processes again on the remaining live
// sandbox nodes (least loaded first). A sandbox stays degraded once it has
// lost something; its Lost list says what and where it was restarted.
//
// Limits: two nodes that disagree on membership (a partition) may both
// record a loss, and with "restart" both restart the lost processes. After
// the partition heals the label finds every copy; destroy stops them all.

// Sandbox states.
const (
	SandboxActive    = "active"
	SandboxDegraded  = "degraded"
	SandboxDestroyed = "destroyed"
)

// Node loss policies (SandboxSpec.OnNodeLoss).
const (
	// OnNodeLossKeep marks the sandbox degraded and lists what was lost.
	OnNodeLossKeep = "keep"
	// OnNodeLossRestart also starts the lost processes again on the
	// remaining sandbox nodes.
	OnNodeLossRestart = "restart"
)

// Statuses of a process in a sandbox's inventory.
const (
	SandboxProcRunning = "running"
	SandboxProcLost    = "lost"
	SandboxProcExited  = "exited"
)

// SandboxLabel is the process label that ties a process to its sandbox.
const SandboxLabel = "sandbox"

// Limits on sandboxes, enforced on local input and on records received
// from the network.
const (
	// MaxSandboxNodes bounds a sandbox's target nodes (and Spread).
	MaxSandboxNodes = 256
	// MaxSandboxChildren bounds the initial children of a spec.
	MaxSandboxChildren = 1000
	// MaxSandboxArgs bounds one child's Args.
	MaxSandboxArgs = 4 << 10
	// MaxSandboxProcesses bounds a sandbox's inventory.
	MaxSandboxProcesses = 10000

	maxSandboxLosses    = 1000
	maxSandboxRecord    = 4 << 20
	maxSandboxes        = 10000
	maxSandboxString    = 255
	maxSandboxReason    = 1024
	sandboxTombstoneTTL = 10 * time.Minute
	methodSandboxStop   = "sandbox.stop"
	maxInfoPages        = 100
)

// ErrInvalidSandbox reports a sandbox spec or record that is not valid; the
// wrapping error names the field.
var ErrInvalidSandbox = errors.New("cluster: invalid sandbox")

var sandboxNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// SandboxSpec describes a sandbox to create.
type SandboxSpec struct {
	// Name names the sandbox cluster-wide: 1-63 characters of a-z, 0-9,
	// '-', '_' and '.', starting with a letter or digit.
	Name string `json:"name"`
	// Nodes are the target nodes. Give Nodes or Spread, not both.
	Nodes []string `json:"nodes,omitempty"`
	// Spread picks this many live worker nodes, deterministically for the
	// sandbox's name (rendezvous hashing).
	Spread int `json:"spread,omitempty"`
	// Children are started when the sandbox is created.
	Children []SandboxChild `json:"children,omitempty"`
	// OnNodeLoss is OnNodeLossKeep (default) or OnNodeLossRestart.
	OnNodeLoss string `json:"on_node_loss,omitempty"`
}

// SandboxChild is a process to start in a sandbox.
type SandboxChild struct {
	// Behavior is the registered behaviour name.
	Behavior string `json:"behavior"`
	// Args is passed to the behaviour's Init; at most MaxSandboxArgs bytes.
	Args []byte `json:"args,omitempty"`
	// Name is an optional node-local process name.
	Name string `json:"name,omitempty"`
	// Node is one of the sandbox's nodes; empty picks them round-robin.
	Node string `json:"node,omitempty"`
}

// SandboxProcess is one process of a sandbox's inventory.
type SandboxProcess struct {
	PID      PID    `json:"pid"`
	Node     string `json:"node"`
	Behavior string `json:"behavior"`
	Args     []byte `json:"args,omitempty"`
	Name     string `json:"name,omitempty"`
	// StartedAt is when the sandbox started it.
	StartedAt time.Time `json:"started_at"`
	// Status is SandboxProcRunning, SandboxProcLost or SandboxProcExited.
	Status string `json:"status"`
	// Reason is the exit reason of an exited process.
	Reason string `json:"reason,omitempty"`
	// Replaces is the lost process this one was restarted for.
	Replaces PID `json:"replaces,omitzero"`
}

// SandboxLoss records the processes a sandbox lost with a node.
type SandboxLoss struct {
	// Node is the node that died or left.
	Node string `json:"node"`
	// PIDs are the processes that ran there.
	PIDs []PID `json:"pids"`
	// Time is when the loss was recorded.
	Time time.Time `json:"time"`
	// RecordedBy is the node that recorded it.
	RecordedBy string `json:"recorded_by"`
	// Restarted says where each lost process was started again (policy
	// OnNodeLossRestart).
	Restarted []SandboxRestart `json:"restarted,omitempty"`
}

// SandboxRestart is one lost process started again elsewhere.
type SandboxRestart struct {
	Lost PID    `json:"lost"`
	PID  PID    `json:"pid,omitzero"`
	Node string `json:"node,omitempty"`
	// Error says why the restart failed, when it did.
	Error string `json:"error,omitempty"`
}

// SandboxInfo is a sandbox's cluster-wide record as this node knows it. It
// is also what nodes gossip (see EncodeSandboxDelta).
type SandboxInfo struct {
	Name string `json:"name"`
	// State is SandboxActive, SandboxDegraded or SandboxDestroyed; it
	// follows from the record (DestroyedAt, Lost).
	State string      `json:"state"`
	Spec  SandboxSpec `json:"spec"`
	// Nodes are the resolved target nodes.
	Nodes       []string  `json:"nodes"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	DestroyedAt time.Time `json:"destroyed_at,omitzero"`
	// Version grows with every change (a Lamport clock).
	Version   uint64           `json:"version"`
	Processes []SandboxProcess `json:"processes"`
	Lost      []SandboxLoss    `json:"lost,omitempty"`
}

// SandboxNodeProcesses are the processes of a sandbox found on one node.
type SandboxNodeProcesses struct {
	Node      string        `json:"node"`
	Processes []ProcessInfo `json:"processes"`
}

// SandboxDetail is a sandbox's record plus the processes found labelled
// with it on every node that answered.
type SandboxDetail struct {
	SandboxInfo
	// PerNode lists, by node name, the processes running there; every
	// sandbox node that answered is listed, even with none.
	PerNode []SandboxNodeProcesses `json:"per_node"`
	// Missing names the nodes that did not answer, and why.
	Missing []NodeError `json:"missing,omitempty"`
}

// SandboxNodeStop is what destroying a sandbox stopped on one node.
type SandboxNodeStop struct {
	Node    string   `json:"node"`
	Stopped []PID    `json:"stopped"`
	Errors  []string `json:"errors,omitempty"`
}

// DestroyReport says what destroying a sandbox did.
type DestroyReport struct {
	Sandbox string `json:"sandbox"`
	// PerNode lists, by node name, what each answering node stopped.
	PerNode []SandboxNodeStop `json:"per_node"`
	// Stopped counts the processes stopped.
	Stopped int `json:"stopped"`
	// Verified is true when a second fan-out found no process left on any
	// live member. Nodes that are down are listed in Missing: a crashed
	// node lost its processes; a partitioned one stops them when it learns
	// of the destruction.
	Verified bool `json:"verified"`
	// Leftovers are processes still found after the destruction.
	Leftovers []ProcessInfo `json:"leftovers,omitempty"`
	// Missing names the nodes that did not answer, and why.
	Missing []NodeError `json:"missing,omitempty"`
}

// Validate checks a spec and names the first invalid field. Errors wrap
// ErrInvalidSandbox.
func (s SandboxSpec) Validate() error {
	if !sandboxNameRE.MatchString(s.Name) {
		return fmt.Errorf("%w: name %q: want 1-63 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit", ErrInvalidSandbox, s.Name)
	}
	switch {
	case len(s.Nodes) > 0 && s.Spread != 0:
		return fmt.Errorf("%w: sandbox %s: give nodes or spread, not both", ErrInvalidSandbox, s.Name)
	case s.Spread < 0 || s.Spread > MaxSandboxNodes:
		return fmt.Errorf("%w: sandbox %s: spread %d: want 1..%d", ErrInvalidSandbox, s.Name, s.Spread, MaxSandboxNodes)
	case len(s.Nodes) == 0 && s.Spread == 0:
		return fmt.Errorf("%w: sandbox %s: give target nodes or spread", ErrInvalidSandbox, s.Name)
	case len(s.Nodes) > MaxSandboxNodes:
		return fmt.Errorf("%w: sandbox %s: %d nodes, more than %d", ErrInvalidSandbox, s.Name, len(s.Nodes), MaxSandboxNodes)
	}
	for i, node := range s.Nodes {
		if err := ValidateNodeName(node); err != nil {
			return fmt.Errorf("%w: sandbox %s: nodes[%d]: %v", ErrInvalidSandbox, s.Name, i, err)
		}
		if slices.Contains(s.Nodes[:i], node) {
			return fmt.Errorf("%w: sandbox %s: nodes[%d]: %q is listed twice", ErrInvalidSandbox, s.Name, i, node)
		}
	}
	switch s.OnNodeLoss {
	case "", OnNodeLossKeep, OnNodeLossRestart:
	default:
		return fmt.Errorf("%w: sandbox %s: on_node_loss %q: want %q or %q", ErrInvalidSandbox, s.Name, s.OnNodeLoss, OnNodeLossKeep, OnNodeLossRestart)
	}
	if len(s.Children) > MaxSandboxChildren {
		return fmt.Errorf("%w: sandbox %s: %d children, more than %d", ErrInvalidSandbox, s.Name, len(s.Children), MaxSandboxChildren)
	}
	for i, c := range s.Children {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("%w: sandbox %s: children[%d]: %v", ErrInvalidSandbox, s.Name, i, err)
		}
		if c.Node != "" && len(s.Nodes) > 0 && !slices.Contains(s.Nodes, c.Node) {
			return fmt.Errorf("%w: sandbox %s: children[%d]: node %q is not one of the sandbox's nodes %v", ErrInvalidSandbox, s.Name, i, c.Node, s.Nodes)
		}
	}
	return nil
}

// Validate checks a child and names the first invalid field.
func (c SandboxChild) Validate() error {
	if err := checkToken("behavior", c.Behavior, true); err != nil {
		return err
	}
	if len(c.Args) > MaxSandboxArgs {
		return fmt.Errorf("args: %d bytes, more than %d", len(c.Args), MaxSandboxArgs)
	}
	if err := checkToken("name", c.Name, false); err != nil {
		return err
	}
	if c.Node != "" {
		if err := ValidateNodeName(c.Node); err != nil {
			return fmt.Errorf("node: %v", err)
		}
	}
	return nil
}

// checkToken checks a short printable string (behaviour or process name).
func checkToken(field, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%s: empty", field)
		}
		return nil
	}
	if len(s) > maxSandboxString {
		return fmt.Errorf("%s: %d bytes, more than %d", field, len(s), maxSandboxString)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%s %q: forbidden character %q at %d", field, s, c, i)
		}
	}
	return nil
}

// SpreadNodes picks k of the candidate nodes for a sandbox by rendezvous
// hashing on its name: the same name and candidates give the same nodes on
// every node, and adding a candidate moves few sandboxes. The result is
// sorted by name; nil when there are fewer than k candidates.
func SpreadNodes(sandbox string, candidates []string, k int) []string {
	if k <= 0 || len(candidates) < k {
		return nil
	}
	type scored struct {
		node  string
		score uint64
	}
	s := make([]scored, 0, len(candidates))
	for _, c := range candidates {
		h := fnv.New64a()
		h.Write([]byte(sandbox))
		h.Write([]byte{0})
		h.Write([]byte(c))
		s = append(s, scored{c, h.Sum64()})
	}
	slices.SortFunc(s, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return strings.Compare(a.node, b.node)
	})
	out := make([]string, 0, k)
	for _, x := range s[:k] {
		out = append(out, x.node)
	}
	sort.Strings(out)
	return out
}

// lossRecorder picks the node that records the loss of a sandbox node: the
// lowest-named live node among the sandbox's nodes, or, when none of them
// is alive, the lowest-named live member. alive is sorted.
func lossRecorder(sandboxNodes, alive []string) string {
	best := ""
	for _, node := range sandboxNodes {
		if _, ok := slices.BinarySearch(alive, node); ok && (best == "" || node < best) {
			best = node
		}
	}
	if best == "" && len(alive) > 0 {
		best = alive[0]
	}
	return best
}

// sandboxState derives a record's state.
func sandboxState(r *SandboxInfo) string {
	switch {
	case !r.DestroyedAt.IsZero():
		return SandboxDestroyed
	case len(r.Lost) > 0:
		return SandboxDegraded
	}
	return SandboxActive
}

func statusRank(s string) int {
	switch s {
	case SandboxProcLost:
		return 1
	case SandboxProcExited:
		return 2
	}
	return 0
}

type procKey struct {
	pid PID
	at  int64
}

func keyOf(p SandboxProcess) procKey { return procKey{p.PID, p.StartedAt.UnixNano()} }

type lossKey struct {
	node, by string
	at       int64
}

func lossKeyOf(l SandboxLoss) lossKey { return lossKey{l.Node, l.RecordedBy, l.Time.UnixNano()} }

func sameIncarnation(a, b *SandboxInfo) bool {
	return a.CreatedBy == b.CreatedBy && a.CreatedAt.UnixNano() == b.CreatedAt.UnixNano()
}

// newerIncarnation orders two different creations of one name: the one
// with the higher version (a re-creation after a destruction), then the
// later creation, then the lower creator name.
func newerIncarnation(a, b *SandboxInfo) bool {
	if a.Version != b.Version {
		return a.Version > b.Version
	}
	if at, bt := a.CreatedAt.UnixNano(), b.CreatedAt.UnixNano(); at != bt {
		return at > bt
	}
	return a.CreatedBy < b.CreatedBy
}

// MergeSandbox merges an incoming copy of a sandbox record into the local
// one and reports whether the result differs from local. It is
// commutative, associative and idempotent, so nodes that see the same
// changes in any order agree:
//
//   - different incarnations of the name (created twice): the newer wins
//     whole (see newerIncarnation);
//   - the version is the maximum, and a destruction is kept (the earliest);
//   - inventories are unioned by (pid, started at); a process's status
//     only moves forward: running < lost < exited;
//   - losses are unioned by (node, recorder, time), with their PIDs and
//     restarts unioned.
func MergeSandbox(local, in SandboxInfo) (SandboxInfo, bool) {
	local.State = sandboxState(&local)
	if !sameIncarnation(&local, &in) {
		if newerIncarnation(&in, &local) {
			return normalizeSandbox(in), true
		}
		return local, false
	}
	out := cloneSandbox(local)
	changed := false
	if in.Version > out.Version {
		out.Version, changed = in.Version, true
	}
	if !in.DestroyedAt.IsZero() && (out.DestroyedAt.IsZero() || in.DestroyedAt.UnixNano() < out.DestroyedAt.UnixNano()) {
		out.DestroyedAt, changed = in.DestroyedAt, true
	}
	idx := make(map[procKey]int, len(out.Processes))
	for i, p := range out.Processes {
		idx[keyOf(p)] = i
	}
	for _, p := range in.Processes {
		i, ok := idx[keyOf(p)]
		if !ok {
			idx[keyOf(p)] = len(out.Processes)
			out.Processes = append(out.Processes, p)
			changed = true
			continue
		}
		if mergeProc(&out.Processes[i], p) {
			changed = true
		}
	}
	lidx := make(map[lossKey]int, len(out.Lost))
	for i, l := range out.Lost {
		lidx[lossKeyOf(l)] = i
	}
	for _, l := range in.Lost {
		i, ok := lidx[lossKeyOf(l)]
		if !ok {
			lidx[lossKeyOf(l)] = len(out.Lost)
			out.Lost = append(out.Lost, cloneLoss(l))
			changed = true
			continue
		}
		if mergeLoss(&out.Lost[i], l) {
			changed = true
		}
	}
	if !changed {
		return local, false
	}
	return normalizeSandbox(out), true
}

func mergeProc(cur *SandboxProcess, in SandboxProcess) bool {
	changed := false
	rc, ri := statusRank(cur.Status), statusRank(in.Status)
	switch {
	case ri > rc:
		cur.Status, cur.Reason, changed = in.Status, in.Reason, true
	case ri == rc && in.Reason != cur.Reason && (cur.Reason == "" || (in.Reason != "" && in.Reason < cur.Reason)):
		cur.Reason, changed = in.Reason, true
	}
	if cur.Replaces.IsZero() && !in.Replaces.IsZero() {
		cur.Replaces, changed = in.Replaces, true
	}
	return changed
}

func mergeLoss(cur *SandboxLoss, in SandboxLoss) bool {
	changed := false
	for _, pid := range in.PIDs {
		if !slices.Contains(cur.PIDs, pid) {
			cur.PIDs = append(cur.PIDs, pid)
			changed = true
		}
	}
	for _, r := range in.Restarted {
		i := slices.IndexFunc(cur.Restarted, func(x SandboxRestart) bool { return x.Lost == r.Lost })
		if i < 0 {
			cur.Restarted = append(cur.Restarted, r)
			changed = true
			continue
		}
		if betterRestart(r, cur.Restarted[i]) {
			cur.Restarted[i] = r
			changed = true
		}
	}
	return changed
}

// betterRestart orders two restart records of one lost process: a success
// beats a failure, then the lower PID, then the smaller error text.
func betterRestart(a, b SandboxRestart) bool {
	if a.PID.IsZero() != b.PID.IsZero() {
		return !a.PID.IsZero()
	}
	if c := comparePID(a.PID, b.PID); c != 0 {
		return c < 0
	}
	if a.Node != b.Node {
		return a.Node < b.Node
	}
	return a.Error < b.Error
}

func cloneLoss(l SandboxLoss) SandboxLoss {
	l.PIDs = slices.Clone(l.PIDs)
	l.Restarted = slices.Clone(l.Restarted)
	return l
}

func cloneSandbox(r SandboxInfo) SandboxInfo {
	r.Nodes = slices.Clone(r.Nodes)
	r.Spec.Nodes = slices.Clone(r.Spec.Nodes)
	r.Spec.Children = slices.Clone(r.Spec.Children)
	r.Processes = slices.Clone(r.Processes)
	r.Lost = slices.Clone(r.Lost)
	for i := range r.Lost {
		r.Lost[i] = cloneLoss(r.Lost[i])
	}
	return r
}

// normalizeSandbox puts a record in canonical form: duplicates merged,
// lists sorted, state derived.
func normalizeSandbox(r SandboxInfo) SandboxInfo {
	r = cloneSandbox(r)
	procs := make([]SandboxProcess, 0, len(r.Processes))
	idx := make(map[procKey]int, len(r.Processes))
	for _, p := range r.Processes {
		if i, ok := idx[keyOf(p)]; ok {
			mergeProc(&procs[i], p)
			continue
		}
		idx[keyOf(p)] = len(procs)
		procs = append(procs, p)
	}
	slices.SortFunc(procs, func(a, b SandboxProcess) int {
		if c := cmp.Compare(a.StartedAt.UnixNano(), b.StartedAt.UnixNano()); c != 0 {
			return c
		}
		return comparePID(a.PID, b.PID)
	})
	r.Processes = procs
	losses := make([]SandboxLoss, 0, len(r.Lost))
	lidx := make(map[lossKey]int, len(r.Lost))
	for _, l := range r.Lost {
		if i, ok := lidx[lossKeyOf(l)]; ok {
			mergeLoss(&losses[i], l)
			continue
		}
		lidx[lossKeyOf(l)] = len(losses)
		losses = append(losses, cloneLoss(l))
	}
	for i := range losses {
		l := &losses[i]
		slices.SortFunc(l.PIDs, comparePID)
		l.PIDs = slices.Compact(l.PIDs)
		// Keep one restart per lost process, the best.
		slices.SortFunc(l.Restarted, func(a, b SandboxRestart) int {
			if c := comparePID(a.Lost, b.Lost); c != 0 {
				return c
			}
			if betterRestart(a, b) {
				return -1
			}
			if betterRestart(b, a) {
				return 1
			}
			return 0
		})
		l.Restarted = slices.CompactFunc(l.Restarted, func(a, b SandboxRestart) bool { return a.Lost == b.Lost })
	}
	slices.SortFunc(losses, func(a, b SandboxLoss) int {
		if c := cmp.Compare(a.Time.UnixNano(), b.Time.UnixNano()); c != 0 {
			return c
		}
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		return strings.Compare(a.RecordedBy, b.RecordedBy)
	})
	r.Lost = losses
	if len(r.Lost) == 0 {
		r.Lost = nil
	}
	if r.Processes == nil {
		r.Processes = []SandboxProcess{}
	}
	r.State = sandboxState(&r)
	return r
}

// validateSandboxRecord checks a record received from the network.
func validateSandboxRecord(r *SandboxInfo) error {
	if err := r.Spec.Validate(); err != nil {
		return err
	}
	if r.Name != r.Spec.Name {
		return fmt.Errorf("%w: record name %q differs from spec name %q", ErrInvalidSandbox, r.Name, r.Spec.Name)
	}
	if len(r.Nodes) == 0 || len(r.Nodes) > MaxSandboxNodes {
		return fmt.Errorf("%w: sandbox %s: %d nodes: want 1..%d", ErrInvalidSandbox, r.Name, len(r.Nodes), MaxSandboxNodes)
	}
	for i, node := range r.Nodes {
		if err := ValidateNodeName(node); err != nil {
			return fmt.Errorf("%w: sandbox %s: nodes[%d]: %v", ErrInvalidSandbox, r.Name, i, err)
		}
	}
	if err := ValidateNodeName(r.CreatedBy); err != nil {
		return fmt.Errorf("%w: sandbox %s: created_by: %v", ErrInvalidSandbox, r.Name, err)
	}
	if len(r.Processes) > MaxSandboxProcesses {
		return fmt.Errorf("%w: sandbox %s: %d processes, more than %d", ErrInvalidSandbox, r.Name, len(r.Processes), MaxSandboxProcesses)
	}
	for i, p := range r.Processes {
		if err := validateSandboxProcess(p); err != nil {
			return fmt.Errorf("%w: sandbox %s: processes[%d]: %v", ErrInvalidSandbox, r.Name, i, err)
		}
	}
	if len(r.Lost) > maxSandboxLosses {
		return fmt.Errorf("%w: sandbox %s: %d losses, more than %d", ErrInvalidSandbox, r.Name, len(r.Lost), maxSandboxLosses)
	}
	for i, l := range r.Lost {
		if err := validateSandboxLoss(l); err != nil {
			return fmt.Errorf("%w: sandbox %s: lost[%d]: %v", ErrInvalidSandbox, r.Name, i, err)
		}
	}
	return nil
}

func validPID(p PID) error {
	if p.ID == 0 {
		return fmt.Errorf("pid %q: want node/id", p)
	}
	return ValidateNodeName(p.Node)
}

func validateSandboxProcess(p SandboxProcess) error {
	if err := validPID(p.PID); err != nil {
		return err
	}
	if p.Node != p.PID.Node {
		return fmt.Errorf("node %q differs from the pid's %q", p.Node, p.PID.Node)
	}
	if err := (SandboxChild{Behavior: p.Behavior, Args: p.Args, Name: p.Name}).Validate(); err != nil {
		return err
	}
	if statusRank(p.Status) == 0 && p.Status != SandboxProcRunning {
		return fmt.Errorf("status %q", p.Status)
	}
	if len(p.Reason) > maxSandboxReason {
		return fmt.Errorf("reason: %d bytes", len(p.Reason))
	}
	if !p.Replaces.IsZero() {
		if err := validPID(p.Replaces); err != nil {
			return fmt.Errorf("replaces: %v", err)
		}
	}
	return nil
}

func validateSandboxLoss(l SandboxLoss) error {
	if err := ValidateNodeName(l.Node); err != nil {
		return err
	}
	if err := ValidateNodeName(l.RecordedBy); err != nil {
		return fmt.Errorf("recorded_by: %v", err)
	}
	if len(l.PIDs) > MaxSandboxProcesses || len(l.Restarted) > MaxSandboxProcesses {
		return fmt.Errorf("%d pids, %d restarts: more than %d", len(l.PIDs), len(l.Restarted), MaxSandboxProcesses)
	}
	for _, p := range l.PIDs {
		if err := validPID(p); err != nil {
			return err
		}
	}
	for _, r := range l.Restarted {
		if err := validPID(r.Lost); err != nil {
			return fmt.Errorf("restarted: %v", err)
		}
		if !r.PID.IsZero() {
			if err := validPID(r.PID); err != nil {
				return fmt.Errorf("restarted: %v", err)
			}
		}
		if r.Node != "" {
			if err := ValidateNodeName(r.Node); err != nil {
				return fmt.Errorf("restarted: %v", err)
			}
		}
		if len(r.Error) > maxSandboxReason {
			return fmt.Errorf("restarted: error of %d bytes", len(r.Error))
		}
	}
	return nil
}

// Wire formats. Version 1 is JSON (still decoded, so that a node running
// an older build is understood); version 2, what this build sends, is a
// compact binary encoding: a push/pull snapshot of 100 sandboxes × 1000
// processes is ~2 MB instead of ~11 MB of JSON, and decoding it costs a
// fraction of JSON's. A version 2 snapshot also carries digests, so that a
// receiver that already holds the same state skips decoding it (see
// sandboxes.MergeSnapshot).
//
// Record (version 2), integers as (u)varints, strings and byte slices as
// uvarint length + bytes:
//
//	name, spec (JSON), nodes (count, strings), created_by, created_at (time),
//	destroyed_at (time), version, processes (count, then each: pid node,
//	pid id, behavior, args, name, started_at as a varint delta from the
//	previous process's, status byte, reason, replaces (node, id))),
//	lost (count, then each: node, pids (count, pids), time, recorded_by,
//	restarted (count, then each: lost pid, pid, node, error)).
//
// A time is a byte (0 zero, 1 set) and, when set, varint Unix nanoseconds.
//
// Snapshot (version 2): version byte, SHA-256 of the rest, record count,
// then each record as name, its 16-byte digest (SHA-256 of the record's
// bytes, truncated) and the record's bytes.
const (
	sandboxWireJSON   byte = 1
	sandboxWireBinary byte = 2
	// sandboxDigestLen is the length of a record's digest in a snapshot.
	sandboxDigestLen = 16
)

// sandboxRecordDigest is a record's digest in a version 2 snapshot.
type sandboxRecordDigest [sandboxDigestLen]byte

func digestRecord(enc []byte) sandboxRecordDigest {
	sum := sha256.Sum256(enc)
	return sandboxRecordDigest(sum[:sandboxDigestLen])
}

// EncodeSandboxDelta encodes one sandbox record as nodes gossip it: a
// version byte, then the record (binary, see above).
func EncodeSandboxDelta(r SandboxInfo) ([]byte, error) {
	b, err := appendSandboxRecord([]byte{sandboxWireBinary}, &r)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// DecodeSandboxDelta decodes what EncodeSandboxDelta encoded (or a version
// 1 JSON record), validating every field and bounding every size; the
// record comes back normalized.
func DecodeSandboxDelta(b []byte) (SandboxInfo, error) {
	ver, body, err := sandboxWire(b, "delta")
	if err != nil {
		return SandboxInfo{}, err
	}
	var r SandboxInfo
	if ver == sandboxWireJSON {
		if err := json.Unmarshal(bytes.TrimSpace(body), &r); err != nil {
			return SandboxInfo{}, fmt.Errorf("%w: sandbox delta: %v", ErrBadFrame, err)
		}
	} else {
		r, err = decodeSandboxRecord(body)
		if err != nil {
			return SandboxInfo{}, fmt.Errorf("sandbox delta: %w", err)
		}
	}
	if err := validateSandboxRecord(&r); err != nil {
		return SandboxInfo{}, fmt.Errorf("%w: sandbox delta: %v", ErrBadFrame, err)
	}
	return normalizeSandbox(r), nil
}

// sandboxSnapPart is one record of a snapshot being encoded: its name,
// digest and encoding.
type sandboxSnapPart struct {
	name   string
	digest sandboxRecordDigest
	enc    []byte
}

// encodeSandboxSnapshot assembles a version 2 snapshot from encoded
// records, sorted by name, and returns it with its digest.
func encodeSandboxSnapshot(parts []sandboxSnapPart) ([]byte, [sha256.Size]byte) {
	size := 1 + sha256.Size + binary.MaxVarintLen64
	for _, p := range parts {
		size += 2*binary.MaxVarintLen64 + len(p.name) + sandboxDigestLen + len(p.enc)
	}
	b := make([]byte, 1+sha256.Size, size)
	b[0] = sandboxWireBinary
	b = binary.AppendUvarint(b, uint64(len(parts)))
	for _, p := range parts {
		b = appendString(b, p.name)
		b = append(b, p.digest[:]...)
		b = appendBytes(b, p.enc)
	}
	sum := sha256.Sum256(b[1+sha256.Size:])
	copy(b[1:], sum[:])
	return b, sum
}

// EncodeSandboxSnapshot encodes every record for push/pull anti-entropy.
func EncodeSandboxSnapshot(rs []SandboxInfo) ([]byte, error) {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b SandboxInfo) int { return strings.Compare(a.Name, b.Name) })
	parts := make([]sandboxSnapPart, 0, len(rs))
	for i := range rs {
		enc, err := appendSandboxRecord(nil, &rs[i])
		if err != nil {
			return nil, err
		}
		parts = append(parts, sandboxSnapPart{name: rs[i].Name, digest: digestRecord(enc), enc: enc})
	}
	b, _ := encodeSandboxSnapshot(parts)
	return b, nil
}

// DecodeSandboxSnapshot decodes what EncodeSandboxSnapshot encoded (or a
// version 1 JSON snapshot).
func DecodeSandboxSnapshot(b []byte) ([]SandboxInfo, error) {
	ver, body, err := sandboxWire(b, "snapshot")
	if err != nil {
		return nil, err
	}
	if ver == sandboxWireJSON {
		return decodeSandboxSnapshotJSON(body)
	}
	snap, err := parseSandboxSnapshot(body)
	if err != nil {
		return nil, err
	}
	out := make([]SandboxInfo, 0, len(snap.parts))
	for i, p := range snap.parts {
		r, err := decodeSandboxPart(p)
		if err != nil {
			return nil, fmt.Errorf("sandbox snapshot record %d: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// decodeSandboxPart decodes, validates and normalizes one record of a
// version 2 snapshot.
func decodeSandboxPart(p sandboxSnapPart) (SandboxInfo, error) {
	r, err := decodeSandboxRecord(p.enc)
	if err != nil {
		return SandboxInfo{}, err
	}
	if r.Name != p.name {
		return SandboxInfo{}, fmt.Errorf("%w: sandbox record %q filed as %q", ErrBadFrame, r.Name, p.name)
	}
	if err := validateSandboxRecord(&r); err != nil {
		return SandboxInfo{}, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	return normalizeSandbox(r), nil
}

func decodeSandboxSnapshotJSON(body []byte) ([]SandboxInfo, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(body), &raw); err != nil {
		return nil, fmt.Errorf("%w: sandbox snapshot: %v", ErrBadFrame, err)
	}
	if len(raw) > maxSandboxes {
		return nil, fmt.Errorf("%w: sandbox snapshot: %d records, more than %d", ErrBadFrame, len(raw), maxSandboxes)
	}
	out := make([]SandboxInfo, 0, len(raw))
	for i, rb := range raw {
		var r SandboxInfo
		if err := json.Unmarshal(rb, &r); err != nil {
			return nil, fmt.Errorf("%w: sandbox snapshot record %d: %v", ErrBadFrame, i, err)
		}
		if err := validateSandboxRecord(&r); err != nil {
			return nil, fmt.Errorf("%w: sandbox snapshot record %d: %v", ErrBadFrame, i, err)
		}
		out = append(out, normalizeSandbox(r))
	}
	return out, nil
}

// parsedSandboxSnapshot is a version 2 snapshot split into its records,
// not decoded yet.
type parsedSandboxSnapshot struct {
	digest [sha256.Size]byte
	parts  []sandboxSnapPart
}

// parseSandboxSnapshot splits a version 2 snapshot's body (after the
// version byte) into records and checks its digests. The parts' bytes
// alias body.
func parseSandboxSnapshot(body []byte) (parsedSandboxSnapshot, error) {
	var snap parsedSandboxSnapshot
	if len(body) < sha256.Size {
		return snap, fmt.Errorf("%w: sandbox snapshot: truncated digest", ErrBadFrame)
	}
	copy(snap.digest[:], body)
	rest := body[sha256.Size:]
	if sha256.Sum256(rest) != snap.digest {
		return snap, fmt.Errorf("%w: sandbox snapshot: digest mismatch", ErrBadFrame)
	}
	d := decoder{b: rest}
	n := d.uvarint("sandbox snapshot count")
	if d.err == nil && (n > maxSandboxes || n > uint64(len(d.b))) {
		return snap, fmt.Errorf("%w: sandbox snapshot: %d records, more than %d", ErrBadFrame, n, min(maxSandboxes, len(d.b)))
	}
	snap.parts = make([]sandboxSnapPart, 0, n)
	for range n {
		var p sandboxSnapPart
		p.name = string(d.bytes("sandbox snapshot name", maxSandboxString))
		if d.err == nil {
			if len(d.b) < sandboxDigestLen {
				d.fail("sandbox snapshot record digest")
			} else {
				copy(p.digest[:], d.b)
				d.b = d.b[sandboxDigestLen:]
			}
		}
		p.enc = d.bytes("sandbox snapshot record", maxSandboxRecord)
		if d.err != nil {
			return snap, d.err
		}
		if digestRecord(p.enc) != p.digest {
			return snap, fmt.Errorf("%w: sandbox snapshot: record %q digest mismatch", ErrBadFrame, p.name)
		}
		if k := len(snap.parts); k > 0 && snap.parts[k-1].name > p.name {
			return snap, fmt.Errorf("%w: sandbox snapshot: record %q out of order", ErrBadFrame, p.name)
		}
		snap.parts = append(snap.parts, p)
	}
	if err := d.end(); err != nil {
		return snap, err
	}
	return snap, nil
}

// sandboxWire checks a frame's version byte and size and returns the
// version and the body.
func sandboxWire(b []byte, what string) (byte, []byte, error) {
	if len(b) < 1 {
		return 0, nil, fmt.Errorf("%w: empty sandbox %s", ErrBadFrame, what)
	}
	if b[0] != sandboxWireJSON && b[0] != sandboxWireBinary {
		return 0, nil, fmt.Errorf("%w: sandbox %s version %d, want %d or %d", ErrBadFrame, what, b[0], sandboxWireJSON, sandboxWireBinary)
	}
	if len(b)-1 > maxSandboxRecord*4 || (what == "delta" && len(b)-1 > maxSandboxRecord) {
		return 0, nil, fmt.Errorf("%w: sandbox %s of %d bytes is too large", ErrBadFrame, what, len(b))
	}
	return b[0], b[1:], nil
}

func appendSandboxTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}

func sandboxStatusCode(s string) byte {
	switch s {
	case SandboxProcLost:
		return 1
	case SandboxProcExited:
		return 2
	case SandboxProcRunning:
		return 0
	}
	return sandboxStatusOther
}

const (
	sandboxStatusOther byte = 3
	sandboxNodeOther   byte = 0x80
)

var sandboxStatuses = [...]string{SandboxProcRunning, SandboxProcLost, SandboxProcExited}

// appendSandboxRecord appends a record's binary encoding (see above).
func appendSandboxRecord(b []byte, r *SandboxInfo) ([]byte, error) {
	spec, err := json.Marshal(r.Spec)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode sandbox %s: %w", r.Name, err)
	}
	if b == nil {
		b = make([]byte, 0, 128+len(spec)+len(r.Processes)*24)
	}
	b = appendString(b, r.Name)
	b = appendBytes(b, spec)
	b = appendStrings(b, r.Nodes)
	b = appendString(b, r.CreatedBy)
	b = appendSandboxTime(b, r.CreatedAt)
	b = appendSandboxTime(b, r.DestroyedAt)
	b = binary.AppendUvarint(b, r.Version)
	b = binary.AppendUvarint(b, uint64(len(r.Processes)))
	var prev int64
	for i := range r.Processes {
		p := &r.Processes[i]
		b = appendPID(b, p.PID)
		b = appendString(b, p.Behavior)
		b = appendBytes(b, p.Args)
		b = appendString(b, p.Name)
		at := p.StartedAt.UnixNano()
		b = binary.AppendVarint(b, at-prev)
		prev = at
		// The status byte: the status's code, or sandboxStatusOther and
		// the text; sandboxNodeOther when the node is not the PID's,
		// followed by the node (both invalid, kept so that the receiver
		// names the error).
		st := sandboxStatusCode(p.Status)
		if p.Node != p.PID.Node {
			st |= sandboxNodeOther
		}
		b = append(b, st)
		if st&sandboxStatusOther == sandboxStatusOther {
			b = appendString(b, p.Status)
		}
		if st&sandboxNodeOther != 0 {
			b = appendString(b, p.Node)
		}
		b = appendString(b, p.Reason)
		b = appendPID(b, p.Replaces)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Lost)))
	for i := range r.Lost {
		l := &r.Lost[i]
		b = appendString(b, l.Node)
		b = appendPIDs(b, l.PIDs)
		b = appendSandboxTime(b, l.Time)
		b = appendString(b, l.RecordedBy)
		b = binary.AppendUvarint(b, uint64(len(l.Restarted)))
		for _, x := range l.Restarted {
			b = appendPID(b, x.Lost)
			b = appendPID(b, x.PID)
			b = appendString(b, x.Node)
			b = appendString(b, x.Error)
		}
	}
	return b, nil
}

// sandboxDecoder decodes one binary record; it interns the strings that
// repeat from process to process (node, behaviour).
type sandboxDecoder struct {
	decoder
	seen map[string]string
}

// count reads a count of items, each at least one byte, bounded by limit.
func (d *sandboxDecoder) count(what string, limit int) int {
	n := d.uvarint(what)
	if d.err == nil && (n > uint64(limit) || n > uint64(len(d.b))) {
		d.err = fmt.Errorf("%w: sandbox record: %d %s, more than %d", ErrBadFrame, n, what, min(limit, len(d.b)))
		return 0
	}
	return int(n)
}

func (d *sandboxDecoder) str(what string, limit uint64) string {
	return string(d.bytes(what, limit))
}

func (d *sandboxDecoder) interned(what string) string {
	b := d.bytes(what, maxSandboxString)
	if len(b) == 0 {
		return ""
	}
	if s, ok := d.seen[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.seen) < 256 {
		d.seen[s] = s
	}
	return s
}

// pid reads a PID; its node is checked by validateSandboxRecord.
func (d *sandboxDecoder) pid(what string) PID {
	return PID{Node: d.interned(what), ID: d.uvarint(what)}
}

func (d *sandboxDecoder) time(what string) time.Time {
	if d.err != nil {
		return time.Time{}
	}
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail(what)
		return time.Time{}
	}
	set := d.b[0] == 1
	d.b = d.b[1:]
	if !set {
		return time.Time{}
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return time.Time{}
	}
	d.b = d.b[n:]
	return time.Unix(0, v).UTC()
}

// decodeSandboxRecord decodes one binary record; the caller validates it.
func decodeSandboxRecord(b []byte) (SandboxInfo, error) {
	d := sandboxDecoder{decoder: decoder{b: b}, seen: make(map[string]string)}
	var r SandboxInfo
	r.Name = d.str("name", maxSandboxString)
	if spec := d.bytes("spec", maxSandboxRecord); d.err == nil {
		if err := json.Unmarshal(spec, &r.Spec); err != nil {
			return SandboxInfo{}, fmt.Errorf("%w: sandbox record spec: %v", ErrBadFrame, err)
		}
	}
	if n := d.count("nodes", MaxSandboxNodes); n > 0 {
		r.Nodes = make([]string, 0, n)
		for range n {
			r.Nodes = append(r.Nodes, d.interned("nodes"))
		}
	}
	r.CreatedBy = d.interned("created_by")
	r.CreatedAt = d.time("created_at")
	r.DestroyedAt = d.time("destroyed_at")
	r.Version = d.uvarint("version")
	n := d.count("processes", MaxSandboxProcesses)
	r.Processes = make([]SandboxProcess, 0, n)
	var at int64
	for range n {
		if d.err != nil {
			break
		}
		var p SandboxProcess
		p.PID = d.pid("pid")
		p.Node = p.PID.Node
		p.Behavior = d.interned("behavior")
		if args := d.bytes("args", MaxSandboxArgs); len(args) > 0 {
			p.Args = bytes.Clone(args)
		}
		p.Name = d.str("process name", maxSandboxString)
		delta, k := binary.Varint(d.b)
		if d.err == nil && k <= 0 {
			d.fail("started_at")
		} else if d.err == nil {
			d.b = d.b[k:]
			at += delta
			p.StartedAt = time.Unix(0, at).UTC()
		}
		if d.err == nil {
			if len(d.b) == 0 || d.b[0]&^(sandboxNodeOther|sandboxStatusOther) != 0 {
				d.fail("status")
			} else {
				st := d.b[0]
				d.b = d.b[1:]
				if code := st &^ sandboxNodeOther; code == sandboxStatusOther {
					p.Status = d.str("status", maxSandboxString)
				} else {
					p.Status = sandboxStatuses[code]
				}
				if st&sandboxNodeOther != 0 {
					p.Node = d.str("node", maxSandboxString)
				}
			}
		}
		p.Reason = d.str("reason", maxSandboxReason)
		p.Replaces = d.pid("replaces")
		r.Processes = append(r.Processes, p)
	}
	if n := d.count("losses", maxSandboxLosses); n > 0 {
		r.Lost = make([]SandboxLoss, 0, n)
		for range n {
			if d.err != nil {
				break
			}
			var l SandboxLoss
			l.Node = d.interned("loss node")
			if k := d.count("loss pids", MaxSandboxProcesses); k > 0 {
				l.PIDs = make([]PID, 0, k)
				for range k {
					l.PIDs = append(l.PIDs, d.pid("loss pid"))
				}
			}
			l.Time = d.time("loss time")
			l.RecordedBy = d.interned("recorded_by")
			if k := d.count("restarts", MaxSandboxProcesses); k > 0 {
				l.Restarted = make([]SandboxRestart, 0, k)
				for range k {
					x := SandboxRestart{Lost: d.pid("restart lost"), PID: d.pid("restart pid")}
					x.Node = d.interned("restart node")
					x.Error = d.str("restart error", maxSandboxReason)
					l.Restarted = append(l.Restarted, x)
				}
			}
			r.Lost = append(r.Lost, l)
		}
	}
	if err := d.end(); err != nil {
		return SandboxInfo{}, fmt.Errorf("sandbox record: %w", err)
	}
	return r, nil
}

// sandboxes is the node's sandbox subsystem: its copy of every record, the
// Replica that gossips them, and the node-loss reconciliation.
type sandboxes struct {
	n *Node

	mu    sync.Mutex
	recs  map[string]*SandboxInfo
	clock uint64 // Lamport clock for versions

	bmu sync.Mutex // serialises broadcasts so a newer copy is never replaced by an older one

	kmu         sync.Mutex
	reconciling bool
	again       bool

	// Guarded by mu: the push/pull snapshot, cached (see Snapshot).
	snap sandboxSnapCache
}

// sandboxSnapCache keeps the encoded snapshot and each record's encoding,
// valid while the records they were made from are the ones in recs
// (records are never changed in place: a change stores a new one), and
// the digests of the snapshots merged lately.
type sandboxSnapCache struct {
	recs   map[string]sandboxCachedRec
	valid  bool
	enc    []byte
	digest [sha256.Size]byte
	// seen are digests of snapshots merged whole; merging one again would
	// change nothing, as merges are idempotent and state only grows
	// (forgetting a record clears seen).
	seen     [8][sha256.Size]byte
	nseen    int
	dropped  uint64 // records dropped for maxSandboxes, so not merged
	skipped  uint64 // snapshots skipped whole
	decoded  uint64 // records decoded from snapshots
	rskipped uint64 // records skipped as identical to ours
}

// sandboxCachedRec is a record's encoding for the snapshot.
type sandboxCachedRec struct {
	rec    *SandboxInfo
	digest sandboxRecordDigest
	enc    []byte
}

// initSandboxes attaches the subsystem to the node; NewNode calls it.
func (n *Node) initSandboxes() {
	s := &sandboxes{n: n, recs: make(map[string]*SandboxInfo)}
	n.sandboxes = s
	n.AddReplica(ReplicaSandbox, s)
	n.OnProcessExit(s.processExited)
	n.Subscribe(func(ev MemberEvent) {
		switch ev.Type {
		case MemberDied, MemberLeft, MemberJoined:
			s.kick()
		}
	})
	n.HandleRPC(methodSandboxStop, s.handleStop)
}

func (s *sandboxes) tick(v uint64) uint64 {
	s.clock = max(s.clock, v) + 1
	return s.clock
}

func (n *Node) sandboxErr(code, format string, args ...any) *RPCError {
	return &RPCError{Code: code, Node: n.name, Message: fmt.Sprintf(format, args...)}
}

// CreateSandbox creates a sandbox and starts its initial children, each
// with the label sandbox=<name>, on their nodes. Errors are *RPCError:
// bad_request for an invalid spec, conflict for a name in use,
// node_unreachable for a target node that is not alive. If a child fails
// to start, the ones started are stopped, the sandbox is destroyed and the
// error names the child.
func (n *Node) CreateSandbox(ctx context.Context, spec SandboxSpec) (SandboxInfo, error) {
	if !n.running() {
		return SandboxInfo{}, ErrStopped
	}
	if err := spec.Validate(); err != nil {
		return SandboxInfo{}, n.sandboxErr(CodeBadRequest, "%v", err)
	}
	if spec.OnNodeLoss == "" {
		spec.OnNodeLoss = OnNodeLossKeep
	}
	spec.Nodes = slices.Clone(spec.Nodes)
	spec.Children = slices.Clone(spec.Children)
	nodes, err := n.resolveSandboxNodes(spec)
	if err != nil {
		return SandboxInfo{}, err
	}
	for i, c := range spec.Children {
		if c.Node != "" && !slices.Contains(nodes, c.Node) {
			return SandboxInfo{}, n.sandboxErr(CodeBadRequest, "create sandbox %s: children[%d]: node %q is not one of the sandbox's nodes %v", spec.Name, i, c.Node, nodes)
		}
	}
	s := n.sandboxes
	s.mu.Lock()
	if cur := s.recs[spec.Name]; cur != nil && cur.DestroyedAt.IsZero() {
		s.mu.Unlock()
		return SandboxInfo{}, n.sandboxErr(CodeConflict, "sandbox %q already exists (created by %s at %s)", spec.Name, cur.CreatedBy, cur.CreatedAt.Format(time.RFC3339))
	}
	var prev uint64
	if cur := s.recs[spec.Name]; cur != nil {
		prev = cur.Version
	} else if len(s.recs) >= maxSandboxes {
		s.mu.Unlock()
		return SandboxInfo{}, n.sandboxErr(CodeConflict, "create sandbox %s: the cluster holds %d sandboxes, the most it can", spec.Name, len(s.recs))
	}
	rec := &SandboxInfo{
		Name: spec.Name, Spec: spec, Nodes: nodes,
		CreatedBy: n.name, CreatedAt: n.clock.Now(), Version: s.tick(prev),
		Processes: []SandboxProcess{},
	}
	rec.State = sandboxState(rec)
	s.recs[spec.Name] = rec
	s.mu.Unlock()

	started := make([]SandboxProcess, 0, len(spec.Children))
	rr := 0
	for i, c := range spec.Children {
		node := c.Node
		if node == "" {
			node = nodes[rr%len(nodes)]
			rr++
		}
		pid, err := n.Spawn(ctx, node, c.Behavior, SpawnOptions{Name: c.Name, Args: c.Args, Labels: map[string]string{SandboxLabel: spec.Name}})
		if err != nil {
			n.rollbackSandbox(spec.Name, started)
			return SandboxInfo{}, fmt.Errorf("cluster: create sandbox %s: children[%d] (%s on %s): %w", spec.Name, i, c.Behavior, node, err)
		}
		started = append(started, SandboxProcess{PID: pid, Node: node, Behavior: c.Behavior, Args: c.Args, Name: c.Name, StartedAt: n.clock.Now(), Status: SandboxProcRunning})
	}
	s.mu.Lock()
	cur := s.recs[spec.Name]
	if cur == nil || !sameIncarnation(cur, rec) || !cur.DestroyedAt.IsZero() {
		s.mu.Unlock()
		n.rollbackSandbox(spec.Name, started)
		return SandboxInfo{}, n.sandboxErr(CodeConflict, "create sandbox %s: it was destroyed or replaced while its children started", spec.Name)
	}
	next := *cur
	next.Processes = append(slices.Clone(cur.Processes), started...)
	next.Version = s.tick(cur.Version)
	next = normalizeSandbox(next)
	s.recs[spec.Name] = &next
	s.mu.Unlock()
	s.broadcast(spec.Name)
	n.log.Info("sandbox created", "sandbox", spec.Name, "nodes", nodes, "children", len(started))
	return cloneSandbox(next), nil
}

// rollbackSandbox stops what a failed create started and destroys the record.
func (n *Node) rollbackSandbox(name string, started []SandboxProcess) {
	s := n.sandboxes
	s.mu.Lock()
	if cur := s.recs[name]; cur != nil && cur.DestroyedAt.IsZero() {
		next := cloneSandbox(*cur)
		next.DestroyedAt = n.clock.Now()
		next.Version = s.tick(cur.Version)
		next.State = sandboxState(&next)
		s.recs[name] = &next
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RPCTimeout)
	defer cancel()
	for _, p := range started {
		if err := n.Kill(ctx, p.PID, ReasonShutdown); err != nil && ErrorCode(err) != CodeNotFound {
			n.log.Warn("sandbox rollback: stop failed", "sandbox", name, "pid", p.PID.String(), "err", err)
		}
	}
	s.broadcast(name)
}

// resolveSandboxNodes turns a spec's Nodes or Spread into target nodes.
func (n *Node) resolveSandboxNodes(spec SandboxSpec) ([]string, error) {
	members := n.Members()
	byName := make(map[string]Member, len(members))
	for _, m := range members {
		byName[m.Name] = m
	}
	if len(spec.Nodes) > 0 {
		for _, node := range spec.Nodes {
			m, ok := byName[node]
			switch {
			case !ok:
				return nil, &RPCError{Code: CodeNodeUnreachable, Node: node, State: StateUnknown, Message: fmt.Sprintf("sandbox %s: node %q is not a member of the cluster", spec.Name, node)}
			case m.State != StateAlive && m.State != StateSuspect:
				return nil, &RPCError{Code: CodeNodeUnreachable, Node: node, State: m.State, Message: fmt.Sprintf("sandbox %s: node %q is %s", spec.Name, node, m.State)}
			case m.Role == RoleObserver:
				return nil, n.sandboxErr(CodeBadRequest, "sandbox %s: node %q is an observer and hosts no workloads", spec.Name, node)
			}
		}
		return spec.Nodes, nil
	}
	var workers []string
	for _, m := range members {
		if (m.State == StateAlive || m.State == StateSuspect) && m.Role != RoleObserver {
			workers = append(workers, m.Name)
		}
	}
	nodes := SpreadNodes(spec.Name, workers, spec.Spread)
	if nodes == nil {
		return nil, n.sandboxErr(CodeBadRequest, "sandbox %s: spread %d: only %d live worker nodes (%s)", spec.Name, spec.Spread, len(workers), strings.Join(workers, ", "))
	}
	return nodes, nil
}

// SandboxSpawn starts a process in a sandbox (on child.Node, which must be
// one of the sandbox's nodes, or round-robin over its live nodes) and adds
// it to the inventory.
func (n *Node) SandboxSpawn(ctx context.Context, sandbox string, child SandboxChild) (PID, error) {
	if !n.running() {
		return PID{}, ErrStopped
	}
	if err := child.Validate(); err != nil {
		return PID{}, n.sandboxErr(CodeBadRequest, "sandbox %s: spawn: %v", sandbox, err)
	}
	s := n.sandboxes
	alive := n.AliveMembers()
	s.mu.Lock()
	rec := s.recs[sandbox]
	if rec == nil || !rec.DestroyedAt.IsZero() {
		s.mu.Unlock()
		return PID{}, n.sandboxErr(CodeNotFound, "no sandbox %q", sandbox)
	}
	if len(rec.Processes) >= MaxSandboxProcesses {
		s.mu.Unlock()
		return PID{}, n.sandboxErr(CodeConflict, "sandbox %s holds %d processes, the most it can", sandbox, len(rec.Processes))
	}
	node := child.Node
	if node != "" && !slices.Contains(rec.Nodes, node) {
		s.mu.Unlock()
		return PID{}, n.sandboxErr(CodeBadRequest, "sandbox %s: node %q is not one of its nodes %v", sandbox, node, rec.Nodes)
	}
	if node == "" {
		var live []string
		for _, x := range rec.Nodes {
			if _, ok := slices.BinarySearch(alive, x); ok {
				live = append(live, x)
			}
		}
		if len(live) == 0 {
			s.mu.Unlock()
			return PID{}, n.sandboxErr(CodeNodeUnreachable, "sandbox %s: none of its nodes %v is alive", sandbox, rec.Nodes)
		}
		node = live[len(rec.Processes)%len(live)]
	}
	incarnation := *rec
	s.mu.Unlock()

	pid, err := n.Spawn(ctx, node, child.Behavior, SpawnOptions{Name: child.Name, Args: child.Args, Labels: map[string]string{SandboxLabel: sandbox}})
	if err != nil {
		return PID{}, fmt.Errorf("cluster: sandbox %s: spawn %s on %s: %w", sandbox, child.Behavior, node, err)
	}
	entry := SandboxProcess{PID: pid, Node: node, Behavior: child.Behavior, Args: child.Args, Name: child.Name, StartedAt: n.clock.Now(), Status: SandboxProcRunning}
	s.mu.Lock()
	cur := s.recs[sandbox]
	if cur == nil || !sameIncarnation(cur, &incarnation) || !cur.DestroyedAt.IsZero() {
		s.mu.Unlock()
		kctx, cancel := context.WithTimeout(n.ctx, n.cfg.RPCTimeout)
		defer cancel()
		_ = n.Kill(kctx, pid, ReasonShutdown)
		return PID{}, n.sandboxErr(CodeConflict, "sandbox %s was destroyed while %s started; it was stopped", sandbox, pid)
	}
	next := cloneSandbox(*cur)
	next.Processes = append(next.Processes, entry)
	next.Version = s.tick(cur.Version)
	next = normalizeSandbox(next)
	s.recs[sandbox] = &next
	s.mu.Unlock()
	s.broadcast(sandbox)
	return pid, nil
}

// Sandboxes lists the live (not destroyed) sandboxes this node knows, by
// name. It reads the local copy: no network.
func (n *Node) Sandboxes() []SandboxInfo {
	s := n.sandboxes
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gcLocked()
	out := make([]SandboxInfo, 0, len(s.recs))
	for _, r := range s.recs {
		if r.DestroyedAt.IsZero() {
			out = append(out, cloneSandbox(*r))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Sandbox returns this node's copy of a sandbox's record, live or recently
// destroyed (State tells). It reads the local copy: no network.
func (n *Node) Sandbox(name string) (SandboxInfo, bool) {
	s := n.sandboxes
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs[name]
	if r == nil {
		return SandboxInfo{}, false
	}
	return cloneSandbox(*r), true
}

// sandboxTargets are the nodes a fan-out about a sandbox goes to: every
// live member, plus the sandbox's nodes and the nodes of its inventory
// (those that are down come back as missing).
func (n *Node) sandboxTargets(r *SandboxInfo) []string {
	set := map[string]struct{}{}
	for _, x := range n.AliveMembers() {
		set[x] = struct{}{}
	}
	for _, x := range r.Nodes {
		set[x] = struct{}{}
	}
	for _, p := range r.Processes {
		if p.Status == SandboxProcRunning {
			set[p.Node] = struct{}{}
		}
	}
	out := make([]string, 0, len(set))
	for x := range set {
		out = append(out, x)
	}
	sort.Strings(out)
	return out
}

// labelled finds every process labelled with the sandbox on targets.
func (n *Node) sandboxLabelled(ctx context.Context, name string, targets []string) ([]ProcessInfo, []NodeError, error) {
	v := NewView(n)
	q := ProcessQuery{Nodes: targets, Label: SandboxLabel + "=" + name, Limit: MaxPageSize}
	var procs []ProcessInfo
	var missing []NodeError
	for range maxInfoPages {
		page, err := v.Processes(ctx, q)
		if err != nil {
			return nil, nil, fmt.Errorf("cluster: sandbox %s: list processes: %w", name, err)
		}
		procs = append(procs, page.Processes...)
		for _, m := range page.Missing {
			if !slices.ContainsFunc(missing, func(x NodeError) bool { return x.Node == m.Node }) {
				missing = append(missing, m)
			}
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	return procs, missing, nil
}

// SandboxInfo returns a sandbox's record with the processes labelled with
// it on every node (a fan-out), grouped by node, and the nodes that did
// not answer. A recently destroyed sandbox is returned with state
// destroyed, so that what is left of it can still be seen.
func (n *Node) SandboxInfo(ctx context.Context, name string) (SandboxDetail, error) {
	rec, ok := n.Sandbox(name)
	if !ok {
		return SandboxDetail{}, n.sandboxErr(CodeNotFound, "no sandbox %q", name)
	}
	targets := n.sandboxTargets(&rec)
	procs, missing, err := n.sandboxLabelled(ctx, name, targets)
	if err != nil {
		return SandboxDetail{}, err
	}
	d := SandboxDetail{SandboxInfo: rec, Missing: missing}
	answered := func(node string) bool {
		return !slices.ContainsFunc(missing, func(m NodeError) bool { return m.Node == node })
	}
	byNode := map[string][]ProcessInfo{}
	for _, node := range rec.Nodes {
		if answered(node) {
			byNode[node] = []ProcessInfo{}
		}
	}
	for _, p := range procs {
		byNode[p.Node] = append(byNode[p.Node], p)
	}
	for node, ps := range byNode {
		d.PerNode = append(d.PerNode, SandboxNodeProcesses{Node: node, Processes: ps})
	}
	slices.SortFunc(d.PerNode, func(a, b SandboxNodeProcesses) int { return strings.Compare(a.Node, b.Node) })
	if d.PerNode == nil {
		d.PerNode = []SandboxNodeProcesses{}
	}
	return d, nil
}

type sandboxStopRequest struct {
	Name string `json:"name"`
	// Tombstone is the destroyed record (EncodeSandboxDelta), applied by
	// the target before it stops its processes.
	Tombstone []byte `json:"tombstone,omitempty"`
}

type sandboxStopResponse struct {
	Stopped []PID    `json:"stopped"`
	Errors  []string `json:"errors,omitempty"`
}

// DestroySandbox destroys a sandbox: its record becomes a tombstone, every
// node stops its processes labelled with it, and a second fan-out verifies
// that none is left (leftovers found then are stopped and looked for once
// more). A destroyed sandbox can be destroyed again while its tombstone is
// remembered, to retry; otherwise an unknown name is not_found.
func (n *Node) DestroySandbox(ctx context.Context, name string) (DestroyReport, error) {
	if !n.running() {
		return DestroyReport{}, ErrStopped
	}
	s := n.sandboxes
	s.mu.Lock()
	cur := s.recs[name]
	if cur == nil {
		s.mu.Unlock()
		return DestroyReport{}, n.sandboxErr(CodeNotFound, "no sandbox %q", name)
	}
	if cur.DestroyedAt.IsZero() {
		next := cloneSandbox(*cur)
		next.DestroyedAt = n.clock.Now()
		next.Version = s.tick(cur.Version)
		next.State = sandboxState(&next)
		s.recs[name] = &next
		cur = &next
	}
	rec := cloneSandbox(*cur)
	s.mu.Unlock()
	tomb, err := EncodeSandboxDelta(rec)
	if err != nil {
		return DestroyReport{}, err
	}
	report := DestroyReport{Sandbox: name, PerNode: []SandboxNodeStop{}}
	targets := n.sandboxTargets(&rec)
	perNode := map[string]*SandboxNodeStop{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, node := range targets {
		if st := n.MemberState(node); st != StateAlive && st != StateSuspect {
			report.Missing = append(report.Missing, NodeError{Node: node, Code: CodeNodeUnreachable, State: st, Message: "the node is not a live member; it stops the sandbox's processes when it learns of the destruction"})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, n.cfg.RPCTimeout)
			defer cancel()
			var resp sandboxStopResponse
			err := n.RequestJSON(cctx, node, methodSandboxStop, sandboxStopRequest{Name: name, Tombstone: tomb}, &resp)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				report.Missing = append(report.Missing, nodeError(node, err))
				return
			}
			perNode[node] = &SandboxNodeStop{Node: node, Stopped: resp.Stopped, Errors: resp.Errors}
		}()
	}
	wg.Wait()
	s.broadcast(name)

	leftovers, missing, err := n.sandboxLabelled(ctx, name, targets)
	if err != nil {
		return report, err
	}
	if len(leftovers) > 0 {
		// Started while the stop fan-out ran: stop them one by one.
		for _, p := range leftovers {
			err := n.Kill(ctx, p.PID, ReasonShutdown)
			if err != nil && ErrorCode(err) == CodeNotFound {
				err = nil
			}
			ns := perNode[p.Node]
			if ns == nil {
				ns = &SandboxNodeStop{Node: p.Node}
				perNode[p.Node] = ns
			}
			if err != nil {
				ns.Errors = append(ns.Errors, fmt.Sprintf("stop %s: %v", p.PID, err))
				continue
			}
			ns.Stopped = append(ns.Stopped, p.PID)
		}
		leftovers, missing, err = n.sandboxLabelled(ctx, name, targets)
		if err != nil {
			return report, err
		}
	}
	for _, m := range missing {
		if !slices.ContainsFunc(report.Missing, func(x NodeError) bool { return x.Node == m.Node }) {
			report.Missing = append(report.Missing, m)
		}
	}
	for _, ns := range perNode {
		slices.SortFunc(ns.Stopped, comparePID)
		if ns.Stopped == nil {
			ns.Stopped = []PID{}
		}
		report.Stopped += len(ns.Stopped)
		report.PerNode = append(report.PerNode, *ns)
	}
	slices.SortFunc(report.PerNode, func(a, b SandboxNodeStop) int { return strings.Compare(a.Node, b.Node) })
	slices.SortFunc(report.Missing, func(a, b NodeError) int { return strings.Compare(a.Node, b.Node) })
	report.Leftovers = leftovers
	liveMissing := slices.ContainsFunc(missing, func(m NodeError) bool {
		st := n.MemberState(m.Node)
		return st == StateAlive || st == StateSuspect
	})
	report.Verified = len(leftovers) == 0 && !liveMissing
	n.log.Info("sandbox destroyed", "sandbox", name, "stopped", report.Stopped, "verified", report.Verified)
	return report, nil
}

// handleStop applies a sandbox's tombstone and stops this node's processes
// labelled with it.
func (s *sandboxes) handleStop(ctx context.Context, _ string, b []byte) ([]byte, error) {
	var req sandboxStopRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, fmt.Errorf("%w: sandbox stop: %v", ErrBadFrame, err)
	}
	if !sandboxNameRE.MatchString(req.Name) {
		return nil, s.n.sandboxErr(CodeBadRequest, "sandbox stop: bad name %q", req.Name)
	}
	if len(req.Tombstone) > 0 {
		r, err := DecodeSandboxDelta(req.Tombstone)
		if err != nil {
			return nil, err
		}
		if r.Name != req.Name || r.DestroyedAt.IsZero() {
			return nil, s.n.sandboxErr(CodeBadRequest, "sandbox stop: the tombstone is not sandbox %q's destruction", req.Name)
		}
		s.merge(r, false)
	}
	stopped, errs := s.stopLocal(ctx, req.Name)
	return json.Marshal(sandboxStopResponse{Stopped: stopped, Errors: errs})
}

// stopLocal stops this node's processes labelled with the sandbox.
func (s *sandboxes) stopLocal(ctx context.Context, name string) ([]PID, []string) {
	n := s.n
	var pids []PID
	for _, p := range n.procs.all() {
		if p.labels[SandboxLabel] == name {
			pids = append(pids, p.pid)
		}
	}
	stopped := make([]PID, 0, len(pids))
	var errs []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, pid := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := n.Kill(ctx, pid, ReasonShutdown)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				stopped = append(stopped, pid)
			case ErrorCode(err) == CodeNotFound:
				// It exited on its own meanwhile.
			default:
				errs = append(errs, fmt.Sprintf("stop %s: %v", pid, err))
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(stopped, comparePID)
	sort.Strings(errs)
	return stopped, errs
}

// processExited marks a sandbox process that exited on this node. Exits
// with reason shutdown are left alone: they come from the node stopping
// (its processes are then recorded lost when it leaves) or from a
// destruction.
func (s *sandboxes) processExited(info ProcessInfo, reason Reason) {
	name := info.Labels[SandboxLabel]
	if name == "" || reason == ReasonShutdown || !s.n.running() {
		return
	}
	s.mu.Lock()
	cur := s.recs[name]
	if cur == nil || !cur.DestroyedAt.IsZero() {
		s.mu.Unlock()
		return
	}
	i := -1
	for j, p := range cur.Processes {
		if p.PID == info.PID && p.Status == SandboxProcRunning {
			i = j
		}
	}
	if i < 0 {
		s.mu.Unlock()
		return
	}
	next := cloneSandbox(*cur)
	r := string(reason)
	if len(r) > maxSandboxReason {
		r = r[:maxSandboxReason]
	}
	next.Processes[i].Status, next.Processes[i].Reason = SandboxProcExited, r
	next.Version = s.tick(cur.Version)
	s.recs[name] = &next
	s.mu.Unlock()
	// Exit hooks must not block: gossip from another goroutine.
	go s.broadcast(name)
}

// broadcast gossips the current copy of each named record.
func (s *sandboxes) broadcast(names ...string) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	for _, name := range names {
		s.mu.Lock()
		r := s.recs[name]
		var b []byte
		var err error
		if r != nil {
			b, err = EncodeSandboxDelta(*r)
		}
		s.mu.Unlock()
		if err != nil {
			s.n.log.Warn("sandbox not gossiped", "sandbox", name, "err", err)
			continue
		}
		if b != nil {
			s.n.Broadcast(ReplicaSandbox, name, b)
		}
	}
}

// merge applies a record from another node. It reports whether local state
// changed. When the merge destroys a sandbox that was live here and
// cleanup is set, this node stops its own processes of it (a node that was
// away during the destruction cleans up when it hears of it).
func (s *sandboxes) merge(in SandboxInfo, cleanup bool) bool {
	s.mu.Lock()
	cur := s.recs[in.Name]
	var out SandboxInfo
	changed := true
	if cur == nil {
		if !in.DestroyedAt.IsZero() && s.n.clock.Now().Sub(in.DestroyedAt) > sandboxTombstoneTTL {
			s.mu.Unlock()
			return false
		}
		if len(s.recs) >= maxSandboxes {
			s.snap.dropped++
			s.mu.Unlock()
			s.n.log.Warn("sandbox dropped: too many sandboxes", "sandbox", in.Name)
			return false
		}
		out = normalizeSandbox(in)
	} else {
		out, changed = MergeSandbox(*cur, in)
	}
	if !changed {
		s.mu.Unlock()
		return false
	}
	wasLive := cur != nil && cur.DestroyedAt.IsZero() && sameIncarnation(cur, &out)
	s.clock = max(s.clock, out.Version)
	s.recs[in.Name] = &out
	s.mu.Unlock()
	if cleanup && wasLive && !out.DestroyedAt.IsZero() {
		go func() {
			ctx, cancel := context.WithTimeout(s.n.ctx, s.n.cfg.RPCTimeout)
			defer cancel()
			if stopped, _ := s.stopLocal(ctx, in.Name); len(stopped) > 0 {
				s.n.log.Info("sandbox destroyed elsewhere: stopped local processes", "sandbox", in.Name, "stopped", len(stopped))
			}
		}()
	}
	if out.DestroyedAt.IsZero() {
		s.kick()
	}
	return true
}

// gcLocked forgets tombstones older than sandboxTombstoneTTL.
func (s *sandboxes) gcLocked() {
	cutoff := s.n.clock.Now().Add(-sandboxTombstoneTTL)
	for name, r := range s.recs {
		if !r.DestroyedAt.IsZero() && r.DestroyedAt.Before(cutoff) {
			delete(s.recs, name)
			s.snap.nseen = 0
		}
	}
}

// snapCurrentLocked reports whether the cached snapshot encodes recs.
func (s *sandboxes) snapCurrentLocked() bool {
	c := &s.snap
	if !c.valid || len(c.recs) != len(s.recs) {
		return false
	}
	for name, r := range s.recs {
		if c.recs[name].rec != r {
			return false
		}
	}
	return true
}

// snapshotLocked returns the snapshot of recs, re-encoding only the
// records that changed since the last one.
func (s *sandboxes) snapshotLocked() []byte {
	c := &s.snap
	if s.snapCurrentLocked() {
		return c.enc
	}
	if c.recs == nil {
		c.recs = make(map[string]sandboxCachedRec, len(s.recs))
	}
	names := make([]string, 0, len(s.recs))
	for name := range s.recs {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]sandboxSnapPart, 0, len(names))
	for _, name := range names {
		r := s.recs[name]
		cr, ok := c.recs[name]
		if !ok || cr.rec != r {
			enc, err := appendSandboxRecord(nil, r)
			if err != nil {
				s.n.log.Warn("sandbox left out of the snapshot", "sandbox", name, "err", err)
				delete(c.recs, name)
				continue
			}
			cr = sandboxCachedRec{rec: r, digest: digestRecord(enc), enc: enc}
			c.recs[name] = cr
		}
		parts = append(parts, sandboxSnapPart{name: name, digest: cr.digest, enc: cr.enc})
	}
	for name := range c.recs {
		if _, ok := s.recs[name]; !ok {
			delete(c.recs, name)
		}
	}
	c.enc, c.digest = encodeSandboxSnapshot(parts)
	// A record that failed to encode leaves the cache invalid, so that it
	// is tried again.
	c.valid = len(parts) == len(names)
	return c.enc
}

// seenLocked reports whether a snapshot with this digest needs no merge:
// it is ours, or one merged whole before.
func (s *sandboxes) seenLocked(digest [sha256.Size]byte) bool {
	c := &s.snap
	if s.snapCurrentLocked() && digest == c.digest {
		return true
	}
	for i := range min(c.nseen, len(c.seen)) {
		if c.seen[i] == digest {
			return true
		}
	}
	return false
}

func (s *sandboxes) rememberLocked(digest [sha256.Size]byte) {
	c := &s.snap
	c.seen[c.nseen%len(c.seen)] = digest
	c.nseen++
	if c.nseen >= 2*len(c.seen) {
		c.nseen -= len(c.seen)
	}
}

// Snapshot implements Replica. The encoding is cached: an idle node
// returns the same bytes without encoding anything.
func (s *sandboxes) Snapshot() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gcLocked()
	return s.snapshotLocked()
}

// MergeSnapshot implements Replica. A version 2 snapshot whose digest is
// that of our own state, or of a snapshot merged before, is not decoded;
// otherwise only the records whose digest differs from ours are. A
// snapshot with any invalid record is rejected whole.
func (s *sandboxes) MergeSnapshot(b []byte) error {
	ver, body, err := sandboxWire(b, "snapshot")
	if err != nil {
		return err
	}
	if ver == sandboxWireJSON {
		rs, err := DecodeSandboxSnapshot(b)
		if err != nil {
			return err
		}
		s.mergeAll(rs)
		return nil
	}
	if len(body) >= sha256.Size {
		var digest [sha256.Size]byte
		copy(digest[:], body)
		s.mu.Lock()
		seen := s.seenLocked(digest)
		if seen {
			s.snap.skipped++
		}
		s.mu.Unlock()
		if seen {
			return nil
		}
	}
	snap, err := parseSandboxSnapshot(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	todo := make([]sandboxSnapPart, 0, len(snap.parts))
	for _, p := range snap.parts {
		if cr, ok := s.snap.recs[p.name]; ok && cr.rec == s.recs[p.name] && cr.digest == p.digest {
			continue // the same record as ours
		}
		todo = append(todo, p)
	}
	s.snap.rskipped += uint64(len(snap.parts) - len(todo))
	s.snap.decoded += uint64(len(todo))
	dropped := s.snap.dropped
	s.mu.Unlock()
	rs := make([]SandboxInfo, 0, len(todo))
	for _, p := range todo {
		r, err := decodeSandboxPart(p)
		if err != nil {
			return fmt.Errorf("sandbox snapshot record %q: %w", p.name, err)
		}
		rs = append(rs, r)
	}
	s.mergeAll(rs)
	s.mu.Lock()
	if s.snap.dropped == dropped {
		s.rememberLocked(snap.digest)
	}
	s.mu.Unlock()
	return nil
}

// mergeAll merges records from a snapshot and passes on what was news.
func (s *sandboxes) mergeAll(rs []SandboxInfo) {
	var news []string
	for _, r := range rs {
		if s.merge(r, true) {
			news = append(news, r.Name)
		}
	}
	if len(news) > 0 {
		// Pass on what was news here (a healed partition), off
		// memberlist's goroutine.
		go s.broadcast(news...)
	}
}

// MergeDelta implements Replica.
func (s *sandboxes) MergeDelta(b []byte) (bool, error) {
	r, err := DecodeSandboxDelta(b)
	if err != nil {
		return false, err
	}
	return s.merge(r, true), nil
}

// kick runs reconcile in the background; calls made while it runs are
// folded into one more pass.
func (s *sandboxes) kick() {
	s.kmu.Lock()
	if s.reconciling {
		s.again = true
		s.kmu.Unlock()
		return
	}
	s.reconciling = true
	s.kmu.Unlock()
	go func() {
		for {
			s.reconcile()
			s.kmu.Lock()
			if !s.again {
				s.reconciling = false
				s.kmu.Unlock()
				return
			}
			s.again = false
			s.kmu.Unlock()
		}
	}()
}

// lostWork is a loss this node recorded and must restart.
type lostWork struct {
	sandbox string
	rec     SandboxInfo // the record after the loss was recorded
	loss    SandboxLoss
	procs   []SandboxProcess
}

// reconcile records the losses this node is responsible for: running
// processes of live sandboxes on nodes that are dead or left.
func (s *sandboxes) reconcile() {
	n := s.n
	if !n.running() {
		return
	}
	alive := n.AliveMembers()
	down := func(node string) bool {
		st := n.MemberState(node)
		return node != n.name && (st == StateDead || st == StateLeft)
	}
	var changed []string
	var work []lostWork
	s.mu.Lock()
	for name, cur := range s.recs {
		if !cur.DestroyedAt.IsZero() {
			continue
		}
		byNode := map[string][]int{}
		for i, p := range cur.Processes {
			if p.Status == SandboxProcRunning && down(p.Node) {
				byNode[p.Node] = append(byNode[p.Node], i)
			}
		}
		if len(byNode) == 0 || lossRecorder(cur.Nodes, alive) != n.name {
			continue
		}
		next := cloneSandbox(*cur)
		nodes := make([]string, 0, len(byNode))
		for node := range byNode {
			nodes = append(nodes, node)
		}
		sort.Strings(nodes)
		for _, node := range nodes {
			loss := SandboxLoss{Node: node, Time: n.clock.Now(), RecordedBy: n.name}
			var procs []SandboxProcess
			for _, i := range byNode[node] {
				next.Processes[i].Status = SandboxProcLost
				loss.PIDs = append(loss.PIDs, next.Processes[i].PID)
				procs = append(procs, next.Processes[i])
			}
			next.Lost = append(next.Lost, loss)
			n.log.Warn("sandbox lost processes with a node", "sandbox", name, "node", node, "pids", len(loss.PIDs))
			if next.Spec.OnNodeLoss == OnNodeLossRestart {
				work = append(work, lostWork{sandbox: name, loss: cloneLoss(loss), procs: procs})
			}
		}
		next.Version = s.tick(cur.Version)
		next = normalizeSandbox(next)
		s.recs[name] = &next
		for i := range work {
			if work[i].sandbox == name {
				work[i].rec = next
			}
		}
		changed = append(changed, name)
	}
	s.mu.Unlock()
	if len(changed) > 0 {
		s.broadcast(changed...)
	}
	for _, w := range work {
		s.restart(w, alive)
	}
}

// restart starts a loss's processes again on the sandbox's remaining live
// nodes, least loaded first, and records where.
func (s *sandboxes) restart(w lostWork, alive []string) {
	n := s.n
	load := map[string]int{}
	var live []string
	for _, node := range w.rec.Nodes {
		if _, ok := slices.BinarySearch(alive, node); ok && node != w.loss.Node {
			live = append(live, node)
			load[node] = 0
		}
	}
	for _, p := range w.rec.Processes {
		if p.Status == SandboxProcRunning {
			if _, ok := load[p.Node]; ok {
				load[p.Node]++
			}
		}
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RPCTimeout)
	defer cancel()
	var restarts []SandboxRestart
	var started []SandboxProcess
	for _, p := range w.procs {
		r := SandboxRestart{Lost: p.PID}
		if len(live) == 0 {
			r.Error = "no live sandbox node to restart on"
			restarts = append(restarts, r)
			continue
		}
		node := live[0]
		for _, x := range live[1:] {
			if load[x] < load[node] {
				node = x
			}
		}
		r.Node = node
		pid, err := n.Spawn(ctx, node, p.Behavior, SpawnOptions{Name: p.Name, Args: p.Args, Labels: map[string]string{SandboxLabel: w.sandbox}})
		if err != nil {
			r.Error = err.Error()
			if len(r.Error) > maxSandboxReason {
				r.Error = r.Error[:maxSandboxReason]
			}
		} else {
			r.PID = pid
			load[node]++
			started = append(started, SandboxProcess{PID: pid, Node: node, Behavior: p.Behavior, Args: p.Args, Name: p.Name, StartedAt: n.clock.Now(), Status: SandboxProcRunning, Replaces: p.PID})
		}
		restarts = append(restarts, r)
	}
	s.mu.Lock()
	cur := s.recs[w.sandbox]
	if cur == nil || !sameIncarnation(cur, &w.rec) || !cur.DestroyedAt.IsZero() {
		s.mu.Unlock()
		for _, p := range started {
			_ = n.Kill(ctx, p.PID, ReasonShutdown)
		}
		return
	}
	next := cloneSandbox(*cur)
	next.Processes = append(next.Processes, started...)
	loss := w.loss
	loss.Restarted = restarts
	next.Lost = append(next.Lost, loss) // merged with the recorded loss by key
	next.Version = s.tick(cur.Version)
	next = normalizeSandbox(next)
	s.recs[w.sandbox] = &next
	s.mu.Unlock()
	n.log.Info("sandbox restarted lost processes", "sandbox", w.sandbox, "node", w.loss.Node, "restarted", len(started), "of", len(w.procs))
	s.broadcast(w.sandbox)
}
