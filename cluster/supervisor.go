package cluster

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The distributed supervisor (Horde.DynamicSupervisor). Supervisor specs
// and child specs are cluster-wide state: every node keeps a copy (the
// supervisor Replica), deltas travel as gossip broadcasts and whole copies
// in push/pull, so a node that missed a delta or a healed partition
// converges. No node is in charge: every node computes each child's owner
// from the live members with PlaceChild, starts the children it owns and
// stops those it runs but no longer owns (a migration). Restarts follow the
// child's policy and OTP-style restart intensity, counted on the node where
// the child runs.
//
// Concurrency: supervisors.actMu serialises the spawns and stops this node
// makes (the reconcile pass, StartChild and RestartChild requests);
// supervisors.mu guards the data and is held only briefly. actMu is taken
// before mu, never the other way round, and neither is held while calling
// Broadcast or a remote node.

// Restart policies of a child.
const (
	// RestartPermanent restarts the child whenever it exits. The default.
	RestartPermanent = "permanent"
	// RestartTransient restarts the child only after an abnormal exit; a
	// normal or shutdown exit removes its spec.
	RestartTransient = "transient"
	// RestartTemporary never restarts the child; its spec is removed when
	// it exits.
	RestartTemporary = "temporary"
)

// Process labels carried by supervised children.
const (
	// LabelSupervisor holds the supervisor's name.
	LabelSupervisor = "supervisor"
	// LabelChild holds the child's id.
	LabelChild = "child"
)

// Defaults and bounds of supervisor and child specs.
const (
	// DefaultMaxRestarts is SupervisorSpec.MaxRestarts when zero.
	DefaultMaxRestarts = 3
	// DefaultRestartPeriod is SupervisorSpec.Period when zero.
	DefaultRestartPeriod = 5 * time.Second
	// MaxRestartPeriod bounds SupervisorSpec.Period.
	MaxRestartPeriod = 24 * time.Hour
	// MaxChildArgs bounds ChildSpec.Args.
	MaxChildArgs = 64 << 10
	// MaxSupervisorNameLen bounds supervisor names and child ids.
	MaxSupervisorNameLen = 128
	// MaxPlacementTags bounds Placement.Tags.
	MaxPlacementTags = 16
	// MaxMigrations is how many migrations a node remembers.
	MaxMigrations = 1000
)

const (
	methodSupStart      = "sup.start"
	methodSupRestart    = "sup.restart"
	methodSupApply      = "sup.apply"
	methodSupChildren   = "sup.children"
	methodSupMigrations = "sup.migrations"
	methodSupLoad       = "sup.load"
	methodSupList       = "sup.list"

	supWireVersion byte = 1
	// maxSupRecords bounds the supervisors plus children a node keeps (and
	// accepts in one snapshot).
	maxSupRecords = 100_000
	// maxSupDelta bounds a delta: gossip deltas are far smaller, but a
	// delta sent over RPC (many tombstones, large args) may not be.
	maxSupDelta    = 8 << 20
	maxTagKeyLen   = 64
	maxTagValLen   = 128
	maxMaxRestarts = 1_000_000
	// supReconcileInterval is how often a node checks its children even
	// when nothing changed.
	supReconcileInterval = 500 * time.Millisecond
	// supShutdownGrace delays the decision on a child that exited with
	// reason shutdown that the supervisor did not ask for: when the whole
	// node is stopping, its children must move, not restart here (nor be
	// removed, for transient children).
	supShutdownGrace = 300 * time.Millisecond
	// supTombstoneTTL is how long deletions are remembered.
	supTombstoneTTL = 10 * time.Minute
	// supStopTimeout bounds the wait for a child being stopped.
	supStopTimeout = 2 * time.Second
	// supApplyTimeout bounds each node's part of a synchronous change.
	supApplyTimeout = 3 * time.Second
	maxSupOrphans   = 10_000
)

// SupervisorSpec describes a named supervisor. In JSON, Period is a Go
// duration string ("5s"); a number is read as nanoseconds.
type SupervisorSpec struct {
	// Name is the supervisor's cluster-unique name.
	Name string `json:"name"`
	// MaxRestarts is how many restarts a node allows within Period before
	// it marks the supervisor failed; default DefaultMaxRestarts.
	MaxRestarts int `json:"max_restarts"`
	// Period is the restart intensity window; default DefaultRestartPeriod.
	Period time.Duration `json:"period"`
}

type supervisorSpecJSON struct {
	Name        string          `json:"name"`
	MaxRestarts int             `json:"max_restarts"`
	Period      json.RawMessage `json:"period,omitempty"`
}

// MarshalJSON writes Period as a duration string.
func (s SupervisorSpec) MarshalJSON() ([]byte, error) {
	p, _ := json.Marshal(s.Period.String())
	return json.Marshal(supervisorSpecJSON{Name: s.Name, MaxRestarts: s.MaxRestarts, Period: p})
}

// UnmarshalJSON reads Period as a duration string or nanoseconds.
func (s *SupervisorSpec) UnmarshalJSON(b []byte) error {
	var w supervisorSpecJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var period time.Duration
	if len(w.Period) > 0 && string(w.Period) != "null" {
		var str string
		if err := json.Unmarshal(w.Period, &str); err == nil {
			d, err := time.ParseDuration(str)
			if err != nil {
				return fmt.Errorf("cluster: supervisor period %q: %w", str, err)
			}
			period = d
		} else {
			var ns int64
			if err := json.Unmarshal(w.Period, &ns); err != nil {
				return fmt.Errorf("cluster: supervisor period: want a duration string or nanoseconds")
			}
			period = time.Duration(ns)
		}
	}
	*s = SupervisorSpec{Name: w.Name, MaxRestarts: w.MaxRestarts, Period: period}
	return nil
}

// ChildSpec describes one supervised child.
type ChildSpec struct {
	// ID names the child within its supervisor.
	ID string `json:"id"`
	// Behavior is a registered behaviour name.
	Behavior string `json:"behavior"`
	// Args is passed to the behaviour's Init (at most MaxChildArgs bytes;
	// base64 in JSON).
	Args []byte `json:"args,omitempty"`
	// Restart is RestartPermanent (default), RestartTransient or
	// RestartTemporary.
	Restart string `json:"restart,omitempty"`
	// Placement says where the child may run.
	Placement Placement `json:"placement,omitzero"`
}

// Placement holds a child's placement strategy and preferences.
type Placement struct {
	// Strategy is StrategyRendezvous (default) or StrategyLeastLoaded.
	Strategy string `json:"strategy,omitempty"`
	// Node is the preferred node: it owns the child whenever it is an
	// eligible live member. With StrategyLeastLoaded the starting node
	// pins its choice here.
	Node string `json:"node,omitempty"`
	// Tags are required node tags: only nodes with all of them qualify.
	Tags map[string]string `json:"tags,omitempty"`
}

// ChildPlacement says where a child was started and whether its placement
// preference was honoured.
type ChildPlacement struct {
	Supervisor string `json:"supervisor"`
	ID         string `json:"id"`
	// Node is where the child runs and PID its process.
	Node string `json:"node"`
	PID  PID    `json:"pid"`
	// Honoured is false when a preference (preferred node, pinned
	// least-loaded node) could not be followed; Reason says why.
	Honoured bool   `json:"honoured"`
	Reason   string `json:"reason,omitempty"`
}

// ChildInfo is one running child.
type ChildInfo struct {
	Supervisor string `json:"supervisor"`
	ID         string `json:"id"`
	Behavior   string `json:"behavior"`
	Node       string `json:"node"`
	PID        PID    `json:"pid"`
	// Status is the process status (waiting, runnable, exiting).
	Status string `json:"status"`
	// Restarts counts the restarts of the child on its current node.
	Restarts  int       `json:"restarts"`
	StartedAt time.Time `json:"started_at"`
}

// Migration records a child that moved from one node to another.
type Migration struct {
	Supervisor string `json:"supervisor"`
	Child      string `json:"child"`
	From       string `json:"from"`
	To         string `json:"to"`
	// Reason says why, e.g. "node-3 died", "node-5 joined",
	// "preferred node node-2 back".
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}

// SupervisorInfo is one supervisor as a node sees it.
type SupervisorInfo struct {
	Spec SupervisorSpec `json:"spec"`
	// Children counts its child specs (cluster-wide).
	Children int `json:"children"`
	// Failed is set when the restart intensity was exceeded on this node:
	// it restarts none of the supervisor's children until RestartChild or
	// a new StartSupervisor clears it.
	Failed     bool   `json:"failed"`
	FailReason string `json:"fail_reason,omitempty"`
}

// ChildSpecRef names a child spec, for anomaly reports.
type ChildSpecRef struct {
	Supervisor string `json:"supervisor"`
	ID         string `json:"id"`
	Behavior   string `json:"behavior"`
	// Owner is the node that should run the child as the asking node
	// computes it; empty when no node qualifies.
	Owner string `json:"owner,omitempty"`
}

// ---------------------------------------------------------------------------
// Validation.

func validateSupName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(s) > MaxSupervisorNameLen {
		return fmt.Errorf("%s is %d bytes, more than %d", what, len(s), MaxSupervisorNameLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '/' {
			return fmt.Errorf("%s %q has a forbidden character %q at %d (printable ASCII without spaces or slashes)", what, s, c, i)
		}
	}
	return nil
}

// normalizeSupervisorSpec fills defaults and validates.
func normalizeSupervisorSpec(s SupervisorSpec) (SupervisorSpec, error) {
	if err := validateSupName("supervisor name", s.Name); err != nil {
		return s, err
	}
	if s.MaxRestarts < 0 || s.MaxRestarts > maxMaxRestarts {
		return s, fmt.Errorf("supervisor %s: max_restarts %d is outside 0..%d", s.Name, s.MaxRestarts, maxMaxRestarts)
	}
	if s.Period < 0 || s.Period > MaxRestartPeriod {
		return s, fmt.Errorf("supervisor %s: period %s is outside 0..%s", s.Name, s.Period, MaxRestartPeriod)
	}
	if s.MaxRestarts == 0 {
		s.MaxRestarts = DefaultMaxRestarts
	}
	if s.Period == 0 {
		s.Period = DefaultRestartPeriod
	}
	return s, nil
}

// normalizeChildSpec fills defaults, validates and copies the spec so that
// the caller's later changes do not reach the replica.
func normalizeChildSpec(c ChildSpec) (ChildSpec, error) {
	if err := validateSupName("child id", c.ID); err != nil {
		return c, err
	}
	if c.Behavior == "" || len(c.Behavior) > MaxSupervisorNameLen || !utf8.ValidString(c.Behavior) {
		return c, fmt.Errorf("child %s: behavior must be 1..%d bytes of UTF-8", c.ID, MaxSupervisorNameLen)
	}
	if len(c.Args) > MaxChildArgs {
		return c, fmt.Errorf("child %s: args are %d bytes, more than %d", c.ID, len(c.Args), MaxChildArgs)
	}
	switch c.Restart {
	case "":
		c.Restart = RestartPermanent
	case RestartPermanent, RestartTransient, RestartTemporary:
	default:
		return c, fmt.Errorf("child %s: restart %q is not permanent, transient or temporary", c.ID, c.Restart)
	}
	p := &c.Placement
	switch p.Strategy {
	case "":
		p.Strategy = StrategyRendezvous
	case StrategyRendezvous, StrategyLeastLoaded:
	default:
		return c, fmt.Errorf("child %s: placement strategy %q is not %s or %s", c.ID, p.Strategy, StrategyRendezvous, StrategyLeastLoaded)
	}
	if p.Node != "" {
		if err := ValidateNodeName(p.Node); err != nil {
			return c, fmt.Errorf("child %s: placement node: %v", c.ID, err)
		}
	}
	if len(p.Tags) > MaxPlacementTags {
		return c, fmt.Errorf("child %s: %d placement tags, more than %d", c.ID, len(p.Tags), MaxPlacementTags)
	}
	tags := make(map[string]string, len(p.Tags))
	for k, v := range p.Tags {
		if k == "" || len(k) > maxTagKeyLen || len(v) > maxTagValLen || !utf8.ValidString(k) || !utf8.ValidString(v) || strings.ContainsAny(k, "=,") {
			return c, fmt.Errorf("child %s: placement tag %q=%q: keys are 1..%d bytes without '=' or ',', values at most %d bytes", c.ID, k, v, maxTagKeyLen, maxTagValLen)
		}
		tags[k] = v
	}
	p.Tags = tags
	if len(tags) == 0 {
		p.Tags = nil
	}
	c.Args = bytes.Clone(c.Args)
	return c, nil
}

// ---------------------------------------------------------------------------
// Replicated records and their merge, as pure code.

// supRecord is one supervisor, live or deleted (a tombstone). Records are
// last-writer-wins registers ordered by (Ver, Org), Ver a Lamport counter.
type supRecord struct {
	Name string         `json:"n"`
	Spec SupervisorSpec `json:"s,omitzero"`
	Ver  uint64         `json:"v"`
	Org  string         `json:"o"`
	// Cleared is the version of the deletion that preceded this
	// incarnation: children with versions up to it belong to an earlier
	// incarnation and are dead.
	Cleared uint64 `json:"c,omitempty"`
	Deleted bool   `json:"d,omitempty"`
	seenAt  time.Time
}

// childLoc is where a child was last started; a register of its own.
type childLoc struct {
	Node string    `json:"n"`
	PID  PID       `json:"p"`
	At   time.Time `json:"t"`
	Ver  uint64    `json:"v"`
}

// childRecord is one child spec, live or deleted, plus where it last ran.
type childRecord struct {
	Sup     string    `json:"s"`
	ID      string    `json:"i"`
	Spec    ChildSpec `json:"c,omitzero"`
	Ver     uint64    `json:"v"`
	Org     string    `json:"o"`
	Deleted bool      `json:"d,omitempty"`
	Loc     childLoc  `json:"l,omitzero"`
	seenAt  time.Time
}

// supDelta is the unit of replication: deltas and snapshots alike.
type supDelta struct {
	Sups     []supRecord   `json:"s,omitempty"`
	Children []childRecord `json:"c,omitempty"`
}

type childKey struct{ sup, id string }

func (k childKey) String() string { return k.sup + "/" + k.id }

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func jsonBytes(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// cmpSupRecord orders two versions of a supervisor: version, then origin,
// then a deletion wins, then the content (so that even a collision of
// version and origin, from a restarted node, resolves the same everywhere).
func cmpSupRecord(a, b supRecord) int {
	if c := cmp.Compare(a.Ver, b.Ver); c != 0 {
		return c
	}
	if c := strings.Compare(a.Org, b.Org); c != 0 {
		return c
	}
	if c := cmpBool(a.Deleted, b.Deleted); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Cleared, b.Cleared); c != 0 {
		return c
	}
	return bytes.Compare(jsonBytes(a.Spec), jsonBytes(b.Spec))
}

// cmpChildSpec orders two versions of a child spec like cmpSupRecord.
func cmpChildSpec(a, b childRecord) int {
	if c := cmp.Compare(a.Ver, b.Ver); c != 0 {
		return c
	}
	if c := strings.Compare(a.Org, b.Org); c != 0 {
		return c
	}
	if c := cmpBool(a.Deleted, b.Deleted); c != 0 {
		return c
	}
	return bytes.Compare(jsonBytes(a.Spec), jsonBytes(b.Spec))
}

func cmpLoc(a, b childLoc) int {
	if c := cmp.Compare(a.Ver, b.Ver); c != 0 {
		return c
	}
	if c := strings.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	if c := cmp.Compare(a.PID.ID, b.PID.ID); c != 0 {
		return c
	}
	return a.At.Compare(b.At)
}

// mergeSup returns the record a node keeps for a supervisor and whether it
// differs from cur.
func mergeSup(cur supRecord, has bool, in supRecord) (supRecord, bool) {
	if !has || cmpSupRecord(in, cur) > 0 {
		return in, true
	}
	return cur, false
}

// mergeChild returns the record a node keeps for a child: the spec part
// and the location part are merged independently.
func mergeChild(cur childRecord, has bool, in childRecord) (childRecord, bool) {
	if !has {
		return in, true
	}
	out, changed := cur, false
	if cmpChildSpec(in, cur) > 0 {
		out.Spec, out.Ver, out.Org, out.Deleted = in.Spec, in.Ver, in.Org, in.Deleted
		changed = true
	}
	if cmpLoc(in.Loc, cur.Loc) > 0 {
		out.Loc = in.Loc
		changed = true
	}
	return out, changed
}

// childLive reports whether a child record is a live child of a live
// supervisor incarnation.
func childLive(c childRecord, sup supRecord, hasSup bool) bool {
	return !c.Deleted && hasSup && !sup.Deleted && c.Ver > sup.Cleared
}

// exitAction is what a child's exit leads to.
type exitAction int

const (
	exitRestart exitAction = iota
	exitRemove
)

// childExitAction applies the restart policy: permanent children always
// restart; transient ones only after an abnormal exit (not normal or
// shutdown), and are removed otherwise; temporary ones are removed.
func childExitAction(restart string, reason Reason) exitAction {
	switch restart {
	case RestartTemporary:
		return exitRemove
	case RestartTransient:
		if reason == ReasonNormal || reason == ReasonShutdown {
			return exitRemove
		}
	}
	return exitRestart
}

// restartIntensity records a restart at now in the window of earlier
// restarts (dropping those older than period) and reports whether the
// restarts within the period now exceed maxRestarts.
func restartIntensity(window []time.Time, now time.Time, maxRestarts int, period time.Duration) ([]time.Time, bool) {
	cutoff := now.Add(-period)
	kept := window[:0:0]
	for _, t := range window {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	kept = append(kept, now)
	return kept, len(kept) > maxRestarts
}

// migrationReason says why a child moved from one live-or-not node to
// another, given the from node's membership state as the mover sees it.
func migrationReason(sup string, spec ChildSpec, from, to, fromState string, cands []Candidate) string {
	switch fromState {
	case StateDead:
		return from + " died"
	case StateLeft:
		return from + " left"
	case StateAlive, StateSuspect:
	default:
		return from + " is gone"
	}
	if spec.Placement.Node == to {
		if spec.Placement.Strategy == StrategyLeastLoaded {
			return "pinned node " + to + " back"
		}
		return "preferred node " + to + " back"
	}
	without := slices.DeleteFunc(slices.Clone(cands), func(c Candidate) bool { return c.Name == to })
	if owner, _, _, err := PlaceChild(sup, spec, without); err == nil && owner == from {
		return to + " joined"
	}
	return "owner changed from " + from + " to " + to + " (membership or tags changed)"
}

// ---------------------------------------------------------------------------
// Wire format: one version byte, then JSON. Decoding validates every record.

func encodeSupDelta(d supDelta) []byte {
	b, _ := json.Marshal(d)
	return append([]byte{supWireVersion}, b...)
}

func decodeSupDelta(b []byte, limit int) (supDelta, error) {
	var d supDelta
	if len(b) == 0 {
		return d, fmt.Errorf("%w: supervisor state: empty", ErrBadFrame)
	}
	if len(b) > limit {
		return d, fmt.Errorf("%w: supervisor state of %d bytes, limit %d", ErrBadFrame, len(b), limit)
	}
	if b[0] != supWireVersion {
		return d, fmt.Errorf("%w: supervisor state version %d, want %d", ErrBadFrame, b[0], supWireVersion)
	}
	if err := json.Unmarshal(b[1:], &d); err != nil {
		return supDelta{}, fmt.Errorf("%w: supervisor state: %v", ErrBadFrame, err)
	}
	if n := len(d.Sups) + len(d.Children); n > maxSupRecords {
		return supDelta{}, fmt.Errorf("%w: supervisor state has %d records, limit %d", ErrBadFrame, n, maxSupRecords)
	}
	for i := range d.Sups {
		if err := validateSupRecord(&d.Sups[i]); err != nil {
			return supDelta{}, fmt.Errorf("%w: supervisor record %d: %v", ErrBadFrame, i, err)
		}
	}
	for i := range d.Children {
		if err := validateChildRecord(&d.Children[i]); err != nil {
			return supDelta{}, fmt.Errorf("%w: child record %d: %v", ErrBadFrame, i, err)
		}
	}
	return d, nil
}

func validateSupRecord(r *supRecord) error {
	if err := validateSupName("supervisor name", r.Name); err != nil {
		return err
	}
	if r.Ver == 0 || r.Ver == math.MaxUint64 || r.Cleared >= r.Ver {
		return fmt.Errorf("supervisor %s: bad version %d (cleared %d)", r.Name, r.Ver, r.Cleared)
	}
	if err := ValidateNodeName(r.Org); err != nil {
		return fmt.Errorf("supervisor %s: origin: %v", r.Name, err)
	}
	if r.Deleted {
		r.Spec = SupervisorSpec{}
		return nil
	}
	spec, err := normalizeSupervisorSpec(r.Spec)
	if err != nil {
		return err
	}
	if spec != r.Spec || spec.Name != r.Name {
		return fmt.Errorf("supervisor %s: spec not normalized or misnamed", r.Name)
	}
	return nil
}

func validateChildRecord(r *childRecord) error {
	if err := validateSupName("supervisor name", r.Sup); err != nil {
		return err
	}
	if err := validateSupName("child id", r.ID); err != nil {
		return err
	}
	if r.Ver == 0 || r.Ver == math.MaxUint64 || r.Loc.Ver == math.MaxUint64 {
		return fmt.Errorf("child %s/%s: bad version %d", r.Sup, r.ID, r.Ver)
	}
	if err := ValidateNodeName(r.Org); err != nil {
		return fmt.Errorf("child %s/%s: origin: %v", r.Sup, r.ID, err)
	}
	if r.Loc.Ver > 0 || r.Loc.Node != "" || !r.Loc.PID.IsZero() {
		if err := ValidateNodeName(r.Loc.Node); err != nil {
			return fmt.Errorf("child %s/%s: location: %v", r.Sup, r.ID, err)
		}
		if r.Loc.PID.Node != r.Loc.Node || r.Loc.PID.ID == 0 || r.Loc.Ver == 0 {
			return fmt.Errorf("child %s/%s: bad location %s on %s", r.Sup, r.ID, r.Loc.PID, r.Loc.Node)
		}
	}
	if r.Deleted {
		r.Spec = ChildSpec{}
		return nil
	}
	if r.Spec.ID != r.ID {
		return fmt.Errorf("child %s/%s: spec names id %q", r.Sup, r.ID, r.Spec.ID)
	}
	if r.Spec.Restart == "" || r.Spec.Placement.Strategy == "" {
		return fmt.Errorf("child %s/%s: spec not normalized", r.Sup, r.ID)
	}
	spec, err := normalizeChildSpec(r.Spec)
	if err != nil {
		return err
	}
	r.Spec = spec
	return nil
}

// ---------------------------------------------------------------------------
// The node's subsystem.

type localChild struct {
	pid       PID
	startedAt time.Time
	restarts  int
	// prevLoc is where the child was known to run when it started here;
	// moved is set once its migration is recorded.
	prevLoc childLoc
	moved   bool
}

type pendingExit struct {
	pid      PID
	reason   Reason
	at       time.Time // real time, for the grace period
	restarts int
}

type supFailure struct {
	reason string
	ver    uint64 // the supervisor version it failed under
}

type stopMark struct {
	why string
	at  time.Time
}

// supOutcome is what a decision made under mu asks for once mu is released.
type supOutcome struct {
	keys      []string
	deltas    [][]byte
	kick      bool
	kickAfter time.Duration
}

func (o *supOutcome) add(other supOutcome) {
	o.keys = append(o.keys, other.keys...)
	o.deltas = append(o.deltas, other.deltas...)
	o.kick = o.kick || other.kick
	o.kickAfter = max(o.kickAfter, other.kickAfter)
}

// supervisors is the node's supervisor subsystem and its Replica.
type supervisors struct {
	n        *Node
	kick     chan struct{}
	loopOnce sync.Once

	actMu sync.Mutex // serialises spawns and stops; taken before mu

	mu             sync.Mutex
	clock          uint64 // Lamport clock for versions
	sups           map[string]supRecord
	children       map[childKey]childRecord
	local          map[childKey]*localChild
	byPID          map[PID]childKey
	stopping       map[PID]stopMark
	orphans        map[PID]Reason
	pendingExits   map[childKey]pendingExit
	pendingRestart map[childKey]int
	// handedTo records, for a child this node stopped because another
	// node became its owner, that node: if the child comes back here
	// before this node learnt where it ran, the move back is still
	// recorded as coming from there.
	handedTo   map[childKey]string
	restarts   map[string][]time.Time
	failed     map[string]supFailure
	migrations []Migration
}

// initSupervisors attaches the subsystem to the node; NewNode calls it.
func (n *Node) initSupervisors() {
	s := &supervisors{
		n:              n,
		kick:           make(chan struct{}, 1),
		sups:           make(map[string]supRecord),
		children:       make(map[childKey]childRecord),
		local:          make(map[childKey]*localChild),
		byPID:          make(map[PID]childKey),
		stopping:       make(map[PID]stopMark),
		orphans:        make(map[PID]Reason),
		pendingExits:   make(map[childKey]pendingExit),
		pendingRestart: make(map[childKey]int),
		handedTo:       make(map[childKey]string),
		restarts:       make(map[string][]time.Time),
		failed:         make(map[string]supFailure),
	}
	n.supervisors = s
	n.AddReplica(ReplicaSupervisor, s)
	n.OnProcessExit(s.processExited)
	// The first event is this node's own join, delivered by the event
	// loop once the node runs: the reconcile loop starts from there (and
	// joins the node's WaitGroup, so Stop waits for it).
	n.Subscribe(func(MemberEvent) {
		s.loopOnce.Do(func() {
			n.wg.Add(1)
			go s.loop()
		})
		s.kickLoop()
	})
	n.HandleRPC(methodSupStart, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var req supStartRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: start child: %v", ErrBadFrame, err)
		}
		resp, err := s.startChildLocal(ctx, req)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	})
	n.HandleRPC(methodSupRestart, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var req supRestartRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: restart child: %v", ErrBadFrame, err)
		}
		cp, err := s.restartChildLocal(ctx, childKey{req.Supervisor, req.ID})
		if err != nil {
			return nil, err
		}
		return json.Marshal(cp)
	})
	n.HandleRPC(methodSupApply, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		return nil, s.applyLocal(ctx, b)
	})
	n.HandleRPC(methodSupChildren, func(_ context.Context, _ string, b []byte) ([]byte, error) {
		var req struct{ Supervisor string }
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: children: %v", ErrBadFrame, err)
		}
		out := n.LocalChildren()
		if req.Supervisor != "" {
			out = slices.DeleteFunc(out, func(c ChildInfo) bool { return c.Supervisor != req.Supervisor })
		}
		return json.Marshal(out)
	})
	n.HandleRPC(methodSupList, func(context.Context, string, []byte) ([]byte, error) {
		return json.Marshal(n.Supervisors())
	})
	n.HandleRPC(methodSupMigrations, func(context.Context, string, []byte) ([]byte, error) {
		return json.Marshal(n.Migrations())
	})
	n.HandleRPC(methodSupLoad, func(context.Context, string, []byte) ([]byte, error) {
		return json.Marshal(n.procs.count())
	})
}

type supStartRequest struct {
	Sup  supRecord
	Spec ChildSpec
}

// supStartResponse carries the new child's record back, so that the
// caller can replicate it before StartChild returns.
type supStartResponse struct {
	Placement ChildPlacement
	Delta     []byte
}

type supRestartRequest struct{ Supervisor, ID string }

func (s *supervisors) kickLoop() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// loop reconciles on every kick (membership change, spec change, exit) and
// every supReconcileInterval, until the node stops. The interval and the
// shutdown grace run on real time, not on the node's injected Clock: they
// are the runtime's housekeeping, and a test clock that holds time still
// (or counts pending timers) must not stall or see them. Timestamps users
// see and the restart intensity window use the Clock.
func (s *supervisors) loop() {
	defer s.n.wg.Done()
	ctx := s.n.ctx
	t := time.NewTicker(supReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		}
		s.reconcile(ctx)
	}
}

// leaving reports whether the node is stopping gracefully: Stop marks its
// metadata before it leaves, after it has stopped its processes.
func (s *supervisors) leaving() bool {
	d := s.n.delegate
	if d == nil {
		return false
	}
	b := d.meta.Load()
	if b == nil {
		return false
	}
	m, err := decodeMeta(*b)
	return err == nil && m.Leaving
}

// candidates lists every known member for placement. A member about to
// leave counts as left, so its children move at once.
func (s *supervisors) candidates() []Candidate {
	n := s.n
	n.membersMu.RLock()
	defer n.membersMu.RUnlock()
	out := make([]Candidate, 0, len(n.members))
	for name, r := range n.members {
		st := r.state
		if r.meta.Leaving && (st == StateAlive || st == StateSuspect) {
			st = StateLeft
		}
		out = append(out, Candidate{Name: name, Role: r.meta.Role, Tags: r.meta.Tags, State: st})
	}
	slices.SortFunc(out, func(a, b Candidate) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// candidateState is a member's state as placement sees it (a member about
// to leave counts as left).
func candidateState(cands []Candidate, name string) string {
	for _, c := range cands {
		if c.Name == name {
			if c.State == "" {
				return StateAlive
			}
			return c.State
		}
	}
	return StateUnknown
}

// liveChildLocked returns the live record of a child and its supervisor.
func (s *supervisors) liveChildLocked(k childKey) (childRecord, supRecord, bool) {
	c, ok := s.children[k]
	if !ok {
		return childRecord{}, supRecord{}, false
	}
	sp, hasSup := s.sups[k.sup]
	return c, sp, childLive(c, sp, hasSup)
}

func (s *supervisors) putSupLocked(r supRecord, now time.Time) {
	r.seenAt = now
	s.sups[r.Name] = r
	s.clock = max(s.clock, r.Ver)
	if f, ok := s.failed[r.Name]; ok && (r.Deleted || r.Ver > f.ver) {
		delete(s.failed, r.Name)
		delete(s.restarts, r.Name)
	}
	if r.Deleted {
		delete(s.restarts, r.Name)
	}
}

func (s *supervisors) putChildLocked(r childRecord, now time.Time) {
	r.seenAt = now
	s.children[childKey{r.Sup, r.ID}] = r
	s.clock = max(s.clock, r.Ver, r.Loc.Ver)
}

// mergeLocked merges a decoded delta and returns the records that changed
// and the locations this node re-asserts.
func (s *supervisors) mergeLocked(d supDelta, now time.Time) (changed, reassert supDelta, err error) {
	for _, in := range d.Sups {
		cur, has := s.sups[in.Name]
		if !has && len(s.sups)+len(s.children) >= maxSupRecords {
			return changed, reassert, fmt.Errorf("cluster: supervisor state full (%d records); dropped supervisor %s", maxSupRecords, in.Name)
		}
		out, ch := mergeSup(cur, has, in)
		s.clock = max(s.clock, in.Ver)
		if ch {
			s.putSupLocked(out, now)
			changed.Sups = append(changed.Sups, out)
		}
	}
	for _, in := range d.Children {
		k := childKey{in.Sup, in.ID}
		cur, has := s.children[k]
		if !has && len(s.sups)+len(s.children) >= maxSupRecords {
			return changed, reassert, fmt.Errorf("cluster: supervisor state full (%d records); dropped child %s", maxSupRecords, k)
		}
		out, ch := mergeChild(cur, has, in)
		s.clock = max(s.clock, in.Ver, in.Loc.Ver)
		if ch {
			s.putChildLocked(out, now)
			changed.Children = append(changed.Children, out)
		}
		if r, ok := s.checkLocLocked(k, in.Loc, now); ok {
			reassert.Children = append(reassert.Children, r)
		}
	}
	return changed, reassert, nil
}

// checkLocLocked looks at a location received for a child that runs here.
// A location newer than the one known when the child started here, of an
// instance that started before it elsewhere, is where the child moved from
// (the news came late, e.g. to a node that restarted): the migration is
// recorded now. Since this instance is the later one, its location is
// re-asserted when the merge took the other.
func (s *supervisors) checkLocLocked(k childKey, in childLoc, now time.Time) (childRecord, bool) {
	lc := s.local[k]
	n := s.n
	if lc == nil || in.Node == "" || in.PID == lc.pid || !in.At.Before(lc.startedAt) {
		return childRecord{}, false
	}
	cur, _, live := s.liveChildLocked(k)
	if !live {
		return childRecord{}, false
	}
	if in.Node != n.name && !lc.moved && cmpLoc(in, lc.prevLoc) > 0 {
		lc.moved = true
		cands := s.candidates()
		s.recordMigrationLocked(Migration{
			Supervisor: k.sup, Child: k.id, From: in.Node, To: n.name, Time: lc.startedAt,
			Reason: migrationReason(k.sup, cur.Spec, in.Node, n.name, candidateState(cands, in.Node), cands),
		})
	}
	if cur.Loc.PID == lc.pid {
		return childRecord{}, false
	}
	s.clock++
	cur.Loc = childLoc{Node: n.name, PID: lc.pid, At: lc.startedAt, Ver: s.clock}
	s.putChildLocked(cur, now)
	return cur, true
}

func (s *supervisors) merge(d supDelta) (supDelta, error) {
	s.mu.Lock()
	changed, reassert, err := s.mergeLocked(d, s.n.clock.Now())
	s.mu.Unlock()
	if len(changed.Sups)+len(changed.Children) > 0 {
		s.kickLoop()
	}
	s.gossipRecords(reassert)
	return changed, err
}

// gcLocked forgets old tombstones and stale bookkeeping.
func (s *supervisors) gcLocked(now time.Time) {
	cutoff := now.Add(-supTombstoneTTL)
	for name, r := range s.sups {
		if r.Deleted && r.seenAt.Before(cutoff) {
			delete(s.sups, name)
		}
	}
	for k, r := range s.children {
		if r.Deleted && r.seenAt.Before(cutoff) {
			delete(s.children, k)
			delete(s.handedTo, k)
		}
	}
	for pid, m := range s.stopping {
		if now.Sub(m.at) > time.Minute && s.n.Process(pid) == nil {
			delete(s.stopping, pid)
		}
	}
	for k := range s.pendingRestart {
		if _, _, live := s.liveChildLocked(k); !live {
			delete(s.pendingRestart, k)
		}
	}
}

// Snapshot implements Replica.
func (s *supervisors) Snapshot() []byte {
	s.mu.Lock()
	s.gcLocked(s.n.clock.Now())
	d := supDelta{Sups: make([]supRecord, 0, len(s.sups)), Children: make([]childRecord, 0, len(s.children))}
	for _, r := range s.sups {
		d.Sups = append(d.Sups, r)
	}
	for _, r := range s.children {
		d.Children = append(d.Children, r)
	}
	s.mu.Unlock()
	return encodeSupDelta(d)
}

// MergeSnapshot implements Replica. Records that were news here are passed
// on as deltas, so that the rest of this side of a healed partition learns
// them without waiting for its own push/pull.
func (s *supervisors) MergeSnapshot(b []byte) error {
	d, err := decodeSupDelta(b, maxSnapshot)
	if err != nil {
		return err
	}
	changed, err := s.merge(d)
	s.gossipRecords(changed)
	return err
}

// gossipRecords broadcasts each record of d as its own small delta, so that
// gossip carries (and relays) it to nodes this one cannot reach directly.
// A record too large for a gossip packet is left to push/pull.
func (s *supervisors) gossipRecords(d supDelta) {
	for _, r := range d.Sups {
		s.gossip("s/"+r.Name, encodeSupDelta(supDelta{Sups: []supRecord{r}}))
	}
	for _, r := range d.Children {
		s.gossip("c/"+r.Sup+"/"+r.ID, encodeSupDelta(supDelta{Children: []childRecord{r}}))
	}
}

// MergeDelta implements Replica.
func (s *supervisors) MergeDelta(b []byte) (bool, error) {
	d, err := decodeSupDelta(b, maxSupDelta)
	if err != nil {
		return false, err
	}
	changed, err := s.merge(d)
	return len(changed.Sups)+len(changed.Children) > 0, err
}

// gossip broadcasts a small delta. A delta too large for a gossip packet
// (a child with large args) is left to push/pull: Broadcast would send it
// to every member over RPC and wait, and neither memberlist's goroutines
// nor the reconcile loop may wait on the network. The API calls that must
// not wait for push/pull replicate synchronously (applyEverywhere).
func (s *supervisors) gossip(key string, delta []byte) {
	if len(delta)+2 > maxDelta {
		return
	}
	s.n.Broadcast(ReplicaSupervisor, key, delta)
}

func (s *supervisors) finish(o supOutcome) {
	for i, d := range o.deltas {
		s.gossip(o.keys[i], d)
	}
	if o.kick {
		s.kickLoop()
	}
	if o.kickAfter > 0 {
		time.AfterFunc(o.kickAfter, s.kickLoop)
	}
}

// applyLocal merges a delta sent by a synchronous change and reconciles at
// once, so that the change has taken effect here when the call returns.
func (s *supervisors) applyLocal(ctx context.Context, b []byte) error {
	d, err := decodeSupDelta(b, maxSupDelta)
	if err != nil {
		return err
	}
	if _, err := s.merge(d); err != nil {
		return err
	}
	s.reconcile(ctx)
	return nil
}

// applyEverywhere applies a delta on every live member and waits (each
// node at most supApplyTimeout). Nodes that do not answer get it through
// gossip.
func (s *supervisors) applyEverywhere(ctx context.Context, delta []byte) {
	n := s.n
	var wg sync.WaitGroup
	for _, name := range n.AliveMembers() {
		if name == n.name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, supApplyTimeout)
			defer cancel()
			if _, err := n.Request(cctx, name, methodSupApply, delta); err != nil {
				n.log.Debug("supervisor change not applied synchronously; gossip will carry it", "to", name, "err", err)
			}
		}()
	}
	if err := s.applyLocal(ctx, delta); err != nil {
		n.log.Warn("supervisor change not applied locally", "err", err)
	}
	wg.Wait()
}

// ---------------------------------------------------------------------------
// Exits and restarts.

// processExited is the OnProcessExit hook.
func (s *supervisors) processExited(info ProcessInfo, reason Reason) {
	if info.Labels[LabelSupervisor] == "" || !s.n.running() {
		return
	}
	s.mu.Lock()
	k, ok := s.byPID[info.PID]
	if !ok {
		// Exited before its spawner recorded it: the spawner finds it here.
		if len(s.orphans) < maxSupOrphans {
			s.orphans[info.PID] = reason
		}
		s.mu.Unlock()
		return
	}
	out := s.exitedLocked(k, info.PID, reason, s.n.clock.Now())
	s.mu.Unlock()
	s.finish(out)
}

// exitedLocked handles the exit of a local child.
func (s *supervisors) exitedLocked(k childKey, pid PID, reason Reason, now time.Time) supOutcome {
	delete(s.byPID, pid)
	restarts := 0
	if lc := s.local[k]; lc != nil && lc.pid == pid {
		restarts = lc.restarts
		delete(s.local, k)
	}
	if _, ok := s.stopping[pid]; ok {
		delete(s.stopping, pid)
		return supOutcome{kick: true}
	}
	if _, _, live := s.liveChildLocked(k); !live {
		return supOutcome{}
	}
	if reason == ReasonShutdown {
		// Perhaps the whole node is stopping: decide after a grace period.
		s.pendingExits[k] = pendingExit{pid: pid, reason: reason, at: time.Now(), restarts: restarts}
		return supOutcome{kickAfter: supShutdownGrace + 10*time.Millisecond}
	}
	return s.applyPolicyLocked(k, pid, reason, restarts, now)
}

// applyPolicyLocked restarts or removes a child that exited on its own.
func (s *supervisors) applyPolicyLocked(k childKey, pid PID, reason Reason, restarts int, now time.Time) supOutcome {
	rec, sp, live := s.liveChildLocked(k)
	if !live {
		return supOutcome{}
	}
	log := s.n.log.With("supervisor", k.sup, "child", k.id, "pid", pid.String(), "reason", string(reason))
	if childExitAction(rec.Spec.Restart, reason) == exitRemove {
		log.Info("child exited; its spec is removed", "restart", rec.Spec.Restart)
		return s.tombstoneChildLocked(k, rec, now)
	}
	if _, failed := s.failed[k.sup]; failed {
		return supOutcome{}
	}
	window, exceeded := restartIntensity(s.restarts[k.sup], now, sp.Spec.MaxRestarts, sp.Spec.Period)
	s.restarts[k.sup] = window
	if exceeded {
		why := fmt.Sprintf("child %s exited (%s): more than %d restarts within %s on %s", k.id, reason, sp.Spec.MaxRestarts, sp.Spec.Period, s.n.name)
		s.failed[k.sup] = supFailure{reason: why, ver: sp.Ver}
		log.Warn("supervisor failed: restart intensity exceeded", "max_restarts", sp.Spec.MaxRestarts, "period", sp.Spec.Period)
		return supOutcome{}
	}
	log.Info("restarting child", "restart", rec.Spec.Restart)
	s.pendingRestart[k] = restarts + 1
	return supOutcome{kick: true}
}

func (s *supervisors) tombstoneChildLocked(k childKey, rec childRecord, now time.Time) supOutcome {
	s.clock++
	tomb := childRecord{Sup: k.sup, ID: k.id, Ver: s.clock, Org: s.n.name, Deleted: true, Loc: rec.Loc}
	s.putChildLocked(tomb, now)
	delete(s.pendingRestart, k)
	delete(s.pendingExits, k)
	return supOutcome{keys: []string{"c/" + k.String()}, deltas: [][]byte{encodeSupDelta(supDelta{Children: []childRecord{tomb}})}}
}

// ---------------------------------------------------------------------------
// Reconciliation.

type supStart struct {
	k        childKey
	spec     ChildSpec
	restarts int
}

type supStop struct {
	k   childKey
	pid PID
	why string
}

// reconcile makes this node run exactly the live children it owns.
func (s *supervisors) reconcile(ctx context.Context) {
	n := s.n
	s.actMu.Lock()
	defer s.actMu.Unlock()
	if !n.running() || s.leaving() {
		return
	}
	cands := s.candidates()
	now := n.clock.Now()
	var out supOutcome
	var starts []supStart
	var stops []supStop

	s.mu.Lock()
	s.gcLocked(now)
	// No spawn is in flight (we hold actMu): an orphan now is no child.
	clear(s.orphans)
	for k, pe := range s.pendingExits {
		if time.Since(pe.at) < supShutdownGrace {
			continue
		}
		delete(s.pendingExits, k)
		out.add(s.applyPolicyLocked(k, pe.pid, pe.reason, pe.restarts, now))
	}
	for k, rec := range s.children {
		if _, _, live := s.liveChildLocked(k); !live {
			continue
		}
		if _, pending := s.pendingExits[k]; pending {
			continue
		}
		owner, _, _, err := PlaceChild(k.sup, rec.Spec, cands)
		if err != nil {
			owner = ""
		}
		lc := s.local[k]
		switch {
		case owner == n.name && lc == nil:
			if _, failed := s.failed[k.sup]; !failed {
				starts = append(starts, supStart{k: k, spec: rec.Spec, restarts: s.pendingRestart[k]})
			}
		case owner != n.name && lc != nil:
			why := "owner is now " + owner
			if owner == "" {
				why = "no node qualifies: " + err.Error()
			} else {
				s.handedTo[k] = owner
			}
			stops = append(stops, supStop{k: k, pid: lc.pid, why: why})
		case owner != n.name:
			delete(s.pendingRestart, k)
		}
	}
	for k, lc := range s.local {
		if _, _, live := s.liveChildLocked(k); !live {
			stops = append(stops, supStop{k: k, pid: lc.pid, why: "child spec removed"})
		}
	}
	s.mu.Unlock()

	s.finish(out)
	for _, st := range stops {
		s.stopLocal(ctx, st.k, st.pid, st.why)
	}
	slices.SortFunc(starts, func(a, b supStart) int { return strings.Compare(a.k.String(), b.k.String()) })
	for _, st := range starts {
		if ctx.Err() != nil || !n.running() {
			return
		}
		if _, err := s.spawnLocal(ctx, st.k, st.spec, st.restarts, nil, cands); err != nil {
			s.startFailed(st.k, err)
		}
	}
}

// startFailed counts a failed start toward the restart intensity, so that
// a child that cannot start does not retry forever.
func (s *supervisors) startFailed(k childKey, err error) {
	now := s.n.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, sp, live := s.liveChildLocked(k)
	if !live {
		return
	}
	s.n.log.Warn("supervised child failed to start", "supervisor", k.sup, "child", k.id, "err", err)
	if _, failed := s.failed[k.sup]; failed {
		return
	}
	window, exceeded := restartIntensity(s.restarts[k.sup], now, sp.Spec.MaxRestarts, sp.Spec.Period)
	s.restarts[k.sup] = window
	if exceeded {
		s.failed[k.sup] = supFailure{
			reason: fmt.Sprintf("child %s failed to start more than %d times within %s on %s: %v", k.id, sp.Spec.MaxRestarts, sp.Spec.Period, s.n.name, err),
			ver:    sp.Ver,
		}
	}
}

// stopLocal stops a local child on purpose: its exit restarts nothing.
func (s *supervisors) stopLocal(ctx context.Context, k childKey, pid PID, why string) {
	s.mu.Lock()
	s.stopping[pid] = stopMark{why: why, at: s.n.clock.Now()}
	s.mu.Unlock()
	kctx, cancel := context.WithTimeout(ctx, supStopTimeout)
	defer cancel()
	err := s.n.Kill(kctx, pid, ReasonShutdown)
	if err != nil && ErrorCode(err) != CodeNotFound {
		s.n.log.Warn("could not stop supervised child", "supervisor", k.sup, "child", k.id, "pid", pid.String(), "err", err)
		return
	}
	s.n.log.Info("stopped supervised child", "supervisor", k.sup, "child", k.id, "pid", pid.String(), "why", why)
}

// spawnLocal starts a child here. With rec set, the child's spec is
// recorded together with its location (StartChild); otherwise the spec
// must be live already. The caller holds actMu.
func (s *supervisors) spawnLocal(ctx context.Context, k childKey, spec ChildSpec, restarts int, rec *childRecord, cands []Candidate) (PID, error) {
	n := s.n
	labels := map[string]string{LabelSupervisor: k.sup, LabelChild: k.id}
	pid, err := n.Spawn(ctx, "", spec.Behavior, SpawnOptions{Args: spec.Args, Labels: labels})
	if err != nil {
		return PID{}, err
	}
	now := n.clock.Now()
	s.mu.Lock()
	if rec != nil {
		s.clock++
		r := *rec
		r.Ver, r.Org = s.clock, n.name
		s.putChildLocked(r, now)
	}
	cur, _, live := s.liveChildLocked(k)
	if !live {
		s.stopping[pid] = stopMark{why: "spec removed while starting", at: now}
		s.mu.Unlock()
		kctx, cancel := context.WithTimeout(ctx, supStopTimeout)
		_ = n.Kill(kctx, pid, ReasonShutdown)
		cancel()
		return PID{}, fmt.Errorf("cluster: child %s was removed while it started", k)
	}
	lc := &localChild{pid: pid, startedAt: now, restarts: restarts, prevLoc: cur.Loc}
	from := cur.Loc.Node
	if to := s.handedTo[k]; (from == "" || from == n.name) && to != "" && to != n.name {
		from = to // the news of where it ran has not arrived yet
	}
	delete(s.handedTo, k)
	if from != "" && from != n.name {
		lc.moved = true
		if cands == nil {
			cands = s.candidates()
		}
		s.recordMigrationLocked(Migration{
			Supervisor: k.sup, Child: k.id, From: from, To: n.name, Time: now,
			Reason: migrationReason(k.sup, cur.Spec, from, n.name, candidateState(cands, from), cands),
		})
	}
	s.clock++
	cur.Loc = childLoc{Node: n.name, PID: pid, At: now, Ver: s.clock}
	s.putChildLocked(cur, now)
	s.local[k] = lc
	s.byPID[pid] = k
	delete(s.pendingRestart, k)
	out := supOutcome{keys: []string{"c/" + k.String()}, deltas: [][]byte{encodeSupDelta(supDelta{Children: []childRecord{cur}})}}
	if reason, ok := s.orphans[pid]; ok {
		delete(s.orphans, pid)
		out.add(s.exitedLocked(k, pid, reason, now))
	}
	s.mu.Unlock()
	s.finish(out)
	return pid, nil
}

func (s *supervisors) recordMigrationLocked(m Migration) {
	if len(s.migrations) >= MaxMigrations {
		s.migrations = slices.Delete(s.migrations, 0, len(s.migrations)-MaxMigrations+1)
	}
	s.migrations = append(s.migrations, m)
	s.n.log.Info("child migrated", "supervisor", m.Supervisor, "child", m.Child, "from", m.From, "to", m.To, "reason", m.Reason)
}

// startChildLocal is the owner's side of StartChild: record and start.
func (s *supervisors) startChildLocal(ctx context.Context, req supStartRequest) (supStartResponse, error) {
	n := s.n
	if err := validateSupRecord(&req.Sup); err != nil || req.Sup.Deleted {
		return supStartResponse{}, &RPCError{Code: CodeBadRequest, Node: n.name, Message: fmt.Sprintf("bad supervisor record: %v", err)}
	}
	spec, err := normalizeChildSpec(req.Spec)
	if err != nil {
		return supStartResponse{}, &RPCError{Code: CodeBadRequest, Node: n.name, Message: err.Error()}
	}
	if _, err := s.merge(supDelta{Sups: []supRecord{req.Sup}}); err != nil {
		return supStartResponse{}, err
	}
	if _, ok := n.behaviors.get(spec.Behavior); !ok {
		return supStartResponse{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("unknown behaviour %q (known: %s)", spec.Behavior, strings.Join(n.Behaviors(), ", "))}
	}
	k := childKey{req.Sup.Name, spec.ID}
	s.actMu.Lock()
	defer s.actMu.Unlock()
	s.mu.Lock()
	sp, ok := s.sups[k.sup]
	if !ok || sp.Deleted {
		s.mu.Unlock()
		return supStartResponse{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no supervisor %q", k.sup)}
	}
	if _, _, live := s.liveChildLocked(k); live {
		s.mu.Unlock()
		return supStartResponse{}, &RPCError{Code: CodeConflict, Node: n.name, Message: fmt.Sprintf("supervisor %s already has a child %q", k.sup, k.id)}
	}
	s.mu.Unlock()
	pid, err := s.spawnLocal(ctx, k, spec, 0, &childRecord{Sup: k.sup, ID: k.id, Spec: spec}, nil)
	if err != nil {
		if ErrorCode(err) != "" {
			return supStartResponse{}, err
		}
		return supStartResponse{}, &RPCError{Code: CodeBadRequest, Node: n.name, Message: err.Error()}
	}
	s.mu.Lock()
	rec := s.children[k]
	s.mu.Unlock()
	return supStartResponse{
		Placement: ChildPlacement{Supervisor: k.sup, ID: k.id, Node: n.name, PID: pid, Honoured: true},
		Delta:     encodeSupDelta(supDelta{Children: []childRecord{rec}}),
	}, nil
}

// restartChildLocal is the owner's side of RestartChild: clear a failure,
// stop the running instance if any and start a fresh one here.
func (s *supervisors) restartChildLocal(ctx context.Context, k childKey) (ChildPlacement, error) {
	n := s.n
	s.actMu.Lock()
	defer s.actMu.Unlock()
	s.mu.Lock()
	rec, _, live := s.liveChildLocked(k)
	if !live {
		s.mu.Unlock()
		return ChildPlacement{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no child %s", k)}
	}
	delete(s.failed, k.sup)
	delete(s.restarts, k.sup)
	delete(s.pendingExits, k)
	restarts := s.pendingRestart[k]
	lc := s.local[k]
	if lc != nil {
		restarts = lc.restarts + 1
	}
	s.mu.Unlock()
	if lc != nil {
		s.stopLocal(ctx, k, lc.pid, "restart requested")
	}
	pid, err := s.spawnLocal(ctx, k, rec.Spec, restarts, nil, s.candidates())
	if err != nil {
		if ErrorCode(err) != "" {
			return ChildPlacement{}, err
		}
		return ChildPlacement{}, &RPCError{Code: CodeBadRequest, Node: n.name, Message: err.Error()}
	}
	return ChildPlacement{Supervisor: k.sup, ID: k.id, Node: n.name, PID: pid, Honoured: true}, nil
}

// loads asks every live worker for its process count, for least-loaded
// placement; a node that does not answer counts as fully loaded.
func (s *supervisors) loads(ctx context.Context, cands []Candidate) []Candidate {
	n := s.n
	out := slices.Clone(cands)
	var wg sync.WaitGroup
	for i := range out {
		c := &out[i]
		if !c.live() || !c.worker() {
			continue
		}
		if c.Name == n.name {
			c.Load = n.procs.count()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			var load int
			if err := n.RequestJSON(cctx, c.Name, methodSupLoad, nil, &load); err != nil {
				load = math.MaxInt
			}
			c.Load = load
		}()
	}
	wg.Wait()
	return out
}

// ---------------------------------------------------------------------------
// API on *Node.

func (n *Node) supBadRequest(err error) error {
	return &RPCError{Code: CodeBadRequest, Node: n.name, Message: err.Error()}
}

// StartSupervisor creates a supervisor cluster-wide. Starting it again
// with the same spec succeeds and clears a failed state on every node; a
// different spec for a running supervisor is a conflict (*RPCError with
// CodeConflict): stop it first.
func (n *Node) StartSupervisor(ctx context.Context, spec SupervisorSpec) error {
	if !n.running() {
		return ErrStopped
	}
	spec, err := normalizeSupervisorSpec(spec)
	if err != nil {
		return n.supBadRequest(fmt.Errorf("cluster: start supervisor: %w", err))
	}
	s := n.supervisors
	now := n.clock.Now()
	s.mu.Lock()
	cur, ok := s.sups[spec.Name]
	if ok && !cur.Deleted && cur.Spec != spec {
		s.mu.Unlock()
		return &RPCError{Code: CodeConflict, Node: n.name, Message: fmt.Sprintf("supervisor %s already runs with max_restarts %d and period %s; stop it first to change its spec", spec.Name, cur.Spec.MaxRestarts, cur.Spec.Period)}
	}
	s.clock++
	rec := supRecord{Name: spec.Name, Spec: spec, Ver: s.clock, Org: n.name}
	switch {
	case ok && !cur.Deleted:
		rec.Cleared = cur.Cleared
	case ok:
		rec.Cleared = cur.Ver
	}
	s.putSupLocked(rec, now)
	s.mu.Unlock()
	d := supDelta{Sups: []supRecord{rec}}
	s.gossipRecords(d)
	s.applyEverywhere(ctx, encodeSupDelta(d))
	return nil
}

// StopSupervisor deletes a supervisor and all its children cluster-wide
// and waits until every reachable node has stopped its share of them.
func (n *Node) StopSupervisor(ctx context.Context, name string) error {
	if !n.running() {
		return ErrStopped
	}
	s := n.supervisors
	now := n.clock.Now()
	s.mu.Lock()
	cur, ok := s.sups[name]
	if !ok || cur.Deleted {
		s.mu.Unlock()
		return &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no supervisor %q", name)}
	}
	s.clock++
	d := supDelta{Sups: []supRecord{{Name: name, Ver: s.clock, Org: n.name, Deleted: true}}}
	s.putSupLocked(d.Sups[0], now)
	for k, c := range s.children {
		if k.sup == name && !c.Deleted {
			tomb := childRecord{Sup: k.sup, ID: k.id, Ver: s.clock, Org: n.name, Deleted: true, Loc: c.Loc}
			s.putChildLocked(tomb, now)
			d.Children = append(d.Children, tomb)
		}
	}
	s.mu.Unlock()
	s.gossipRecords(d)
	s.applyEverywhere(ctx, encodeSupDelta(d))
	return nil
}

// Supervisors lists the live supervisors, sorted by name, with this node's
// failure state.
func (n *Node) Supervisors() []SupervisorInfo {
	s := n.supervisors
	s.mu.Lock()
	defer s.mu.Unlock()
	count := make(map[string]int)
	for k := range s.children {
		if _, _, live := s.liveChildLocked(k); live {
			count[k.sup]++
		}
	}
	out := make([]SupervisorInfo, 0, len(s.sups))
	for name, r := range s.sups {
		if r.Deleted {
			continue
		}
		info := SupervisorInfo{Spec: r.Spec, Children: count[name]}
		if f, ok := s.failed[name]; ok {
			info.Failed, info.FailReason = true, f.reason
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b SupervisorInfo) int { return strings.Compare(a.Spec.Name, b.Spec.Name) })
	return out
}

// StartChild adds a child to a supervisor: it computes the placement, asks
// the owner to record and start the child at once, and returns where it
// started and, when a preference could not be honoured, why. Errors are
// *RPCError: not_found for an unknown supervisor or behaviour, or when no
// node qualifies; conflict for a duplicate child id; bad_request for an
// invalid spec or a failing Init.
func (n *Node) StartChild(ctx context.Context, sup string, spec ChildSpec) (ChildPlacement, error) {
	if !n.running() {
		return ChildPlacement{}, ErrStopped
	}
	spec, err := normalizeChildSpec(spec)
	if err != nil {
		return ChildPlacement{}, n.supBadRequest(fmt.Errorf("cluster: start child: %w", err))
	}
	s := n.supervisors
	k := childKey{sup, spec.ID}
	s.mu.Lock()
	sp, ok := s.sups[sup]
	if !ok || sp.Deleted {
		s.mu.Unlock()
		return ChildPlacement{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no supervisor %q", sup)}
	}
	if _, _, live := s.liveChildLocked(k); live {
		s.mu.Unlock()
		return ChildPlacement{}, &RPCError{Code: CodeConflict, Node: n.name, Message: fmt.Sprintf("supervisor %s already has a child %q", sup, spec.ID)}
	}
	s.mu.Unlock()
	cands := s.candidates()
	if spec.Placement.Strategy == StrategyLeastLoaded && spec.Placement.Node == "" {
		owner, _, _, err := PlaceChild(sup, spec, s.loads(ctx, cands))
		if err != nil {
			return ChildPlacement{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: err.Error()}
		}
		spec.Placement.Node = owner
	}
	owner, honoured, reason, err := PlaceChild(sup, spec, cands)
	if err != nil {
		return ChildPlacement{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: err.Error()}
	}
	var resp supStartResponse
	if err := n.RequestJSON(ctx, owner, methodSupStart, supStartRequest{Sup: sp, Spec: spec}, &resp); err != nil {
		return ChildPlacement{}, err
	}
	// Replicate the new record before returning: a later StartChild sees
	// the id taken, and the spec survives its owner crashing at once.
	if _, err := decodeSupDelta(resp.Delta, maxSupDelta); err != nil {
		n.log.Warn("start child: malformed record from owner", "owner", owner, "err", err)
	} else {
		s.applyEverywhere(ctx, resp.Delta)
	}
	cp := resp.Placement
	cp.Honoured, cp.Reason = honoured, reason
	return cp, nil
}

// TerminateChild stops a child and deletes its spec cluster-wide; it waits
// until every reachable node has applied the deletion.
func (n *Node) TerminateChild(ctx context.Context, sup, id string) error {
	if !n.running() {
		return ErrStopped
	}
	s := n.supervisors
	k := childKey{sup, id}
	now := n.clock.Now()
	s.mu.Lock()
	rec, _, live := s.liveChildLocked(k)
	if !live {
		s.mu.Unlock()
		return &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no child %s", k)}
	}
	out := s.tombstoneChildLocked(k, rec, now)
	s.mu.Unlock()
	s.gossip(out.keys[0], out.deltas[0])
	s.applyEverywhere(ctx, out.deltas[0])
	return nil
}

// RestartChild stops a child and starts it again on its owner, clearing
// the supervisor's failed state there.
func (n *Node) RestartChild(ctx context.Context, sup, id string) (ChildPlacement, error) {
	if !n.running() {
		return ChildPlacement{}, ErrStopped
	}
	s := n.supervisors
	k := childKey{sup, id}
	s.mu.Lock()
	rec, _, live := s.liveChildLocked(k)
	s.mu.Unlock()
	if !live {
		return ChildPlacement{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no child %s", k)}
	}
	owner, honoured, reason, err := PlaceChild(sup, rec.Spec, s.candidates())
	if err != nil {
		return ChildPlacement{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: err.Error()}
	}
	var cp ChildPlacement
	if err := n.RequestJSON(ctx, owner, methodSupRestart, supRestartRequest{Supervisor: sup, ID: id}, &cp); err != nil {
		return ChildPlacement{}, err
	}
	cp.Honoured, cp.Reason = honoured, reason
	return cp, nil
}

// Migrations returns the moves of children that this node started, oldest
// first (at most MaxMigrations).
func (n *Node) Migrations() []Migration {
	s := n.supervisors
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.migrations)
}

// LocalChildren lists the supervised children running on this node,
// sorted by supervisor and id.
func (n *Node) LocalChildren() []ChildInfo {
	s := n.supervisors
	type item struct {
		k  childKey
		lc localChild
		b  string
	}
	s.mu.Lock()
	items := make([]item, 0, len(s.local))
	for k, lc := range s.local {
		items = append(items, item{k: k, lc: *lc, b: s.children[k].Spec.Behavior})
	}
	s.mu.Unlock()
	out := make([]ChildInfo, 0, len(items))
	for _, it := range items {
		ci := ChildInfo{Supervisor: it.k.sup, ID: it.k.id, Behavior: it.b, Node: n.name, PID: it.lc.pid, Restarts: it.lc.restarts, StartedAt: it.lc.startedAt, Status: StatusExited}
		if p := n.Process(it.lc.pid); p != nil {
			info := p.Info()
			ci.Status, ci.Behavior = info.Status, info.Behavior
		}
		out = append(out, ci)
	}
	slices.SortFunc(out, cmpChildInfo)
	return out
}

func cmpChildInfo(a, b ChildInfo) int {
	if c := strings.Compare(a.Supervisor, b.Supervisor); c != 0 {
		return c
	}
	if c := strings.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := strings.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	return comparePID(a.PID, b.PID)
}

// liveChildSpecs returns every live child with the owner this node
// computes for it.
func (s *supervisors) liveChildSpecs() []ChildSpecRef {
	cands := s.candidates()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ChildSpecRef
	for k, rec := range s.children {
		if _, _, live := s.liveChildLocked(k); !live {
			continue
		}
		owner, _, _, _ := PlaceChild(k.sup, rec.Spec, cands)
		out = append(out, ChildSpecRef{Supervisor: k.sup, ID: k.id, Behavior: rec.Spec.Behavior, Owner: owner})
	}
	slices.SortFunc(out, func(a, b ChildSpecRef) int {
		return cmp.Or(strings.Compare(a.Supervisor, b.Supervisor), strings.Compare(a.ID, b.ID))
	})
	return out
}

// ---------------------------------------------------------------------------
// Cluster-wide views.

// supFanOut sends one request to every live member and hands each answer
// to each; the nodes that fail are returned.
func (v *View) supFanOut(ctx context.Context, method string, payload []byte, each func(node string, b []byte) error) []NodeError {
	targets, missing := v.targets(nil)
	errs := make([]error, len(targets))
	outs := make([][]byte, len(targets))
	var wg sync.WaitGroup
	for i, name := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, v.PerNodeTimeout)
			defer cancel()
			outs[i], errs[i] = v.node.Request(cctx, name, method, payload)
		}()
	}
	wg.Wait()
	for i, name := range targets {
		err := errs[i]
		if err == nil {
			if uerr := each(name, outs[i]); uerr != nil {
				err = &RPCError{Code: CodeInternal, Node: name, Message: "malformed " + method + " response: " + uerr.Error()}
			}
		}
		if err != nil {
			missing = append(missing, nodeError(name, err))
		}
	}
	return missing
}

// Children lists the running children of supervisor sup ("" for all) on
// every live node, sorted by supervisor, id and node, and names the nodes
// that did not answer.
func (v *View) Children(ctx context.Context, sup string) ([]ChildInfo, []NodeError) {
	payload, _ := json.Marshal(struct{ Supervisor string }{sup})
	var out []ChildInfo
	missing := v.supFanOut(ctx, methodSupChildren, payload, func(node string, b []byte) error {
		var cs []ChildInfo
		if err := json.Unmarshal(b, &cs); err != nil {
			return err
		}
		for _, c := range cs {
			c.Node = node
			out = append(out, c)
		}
		return nil
	})
	slices.SortFunc(out, cmpChildInfo)
	if out == nil {
		out = []ChildInfo{}
	}
	return out, missing
}

// Supervisors lists the supervisors as the view's node knows them, with
// the failure state of every live node: Failed is set when the supervisor
// failed on any node, and FailReason names each such node.
func (v *View) Supervisors(ctx context.Context) ([]SupervisorInfo, []NodeError) {
	out := v.node.Supervisors()
	byName := make(map[string]int, len(out))
	for i, info := range out {
		byName[info.Spec.Name] = i
		out[i].Failed, out[i].FailReason = false, ""
	}
	reasons := make(map[string][]string)
	missing := v.supFanOut(ctx, methodSupList, nil, func(node string, b []byte) error {
		var infos []SupervisorInfo
		if err := json.Unmarshal(b, &infos); err != nil {
			return err
		}
		for _, info := range infos {
			if info.Failed {
				reasons[info.Spec.Name] = append(reasons[info.Spec.Name], node+": "+info.FailReason)
			}
		}
		return nil
	})
	for name, rs := range reasons {
		if i, ok := byName[name]; ok {
			slices.Sort(rs)
			out[i].Failed, out[i].FailReason = true, strings.Join(rs, "; ")
		}
	}
	return out, missing
}

// Migrations gathers the migration histories of every live node, sorted
// by time.
func (v *View) Migrations(ctx context.Context) ([]Migration, []NodeError) {
	var out []Migration
	missing := v.supFanOut(ctx, methodSupMigrations, nil, func(_ string, b []byte) error {
		var ms []Migration
		if err := json.Unmarshal(b, &ms); err != nil {
			return err
		}
		out = append(out, ms...)
		return nil
	})
	slices.SortStableFunc(out, func(a, b Migration) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Supervisor, b.Supervisor), strings.Compare(a.Child, b.Child))
	})
	if out == nil {
		out = []Migration{}
	}
	return out, missing
}

// ChildAnomalies compares the child specs this node knows with the
// children running on the nodes that answered: missing lists specs with no
// running instance, duplicates every instance of a child that runs on more
// than one node. A child of a node in missingNodes may be reported
// missing although it runs there.
func (v *View) ChildAnomalies(ctx context.Context) (missing []ChildSpecRef, duplicates []ChildInfo, missingNodes []NodeError) {
	specs := v.node.supervisors.liveChildSpecs()
	running, missingNodes := v.Children(ctx, "")
	byKey := make(map[childKey][]ChildInfo)
	for _, c := range running {
		k := childKey{c.Supervisor, c.ID}
		byKey[k] = append(byKey[k], c)
	}
	for _, ref := range specs {
		if len(byKey[childKey{ref.Supervisor, ref.ID}]) == 0 {
			missing = append(missing, ref)
		}
	}
	for _, c := range running {
		if len(byKey[childKey{c.Supervisor, c.ID}]) > 1 {
			duplicates = append(duplicates, c)
		}
	}
	return missing, duplicates, missingNodes
}
