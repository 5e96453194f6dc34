package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/process"
)

// Metrics: what a node reports about its machine and itself, and the
// "health.sample" RPC through which the health monitor (cluster/health)
// collects it with the node's membership view and recent membership events.

// ResourceSource measures the resources of the machine a node runs on. It
// is the node's one extension point for metrics: GopsutilSource reads the
// real host, ModelSource models a virtual node whose pressure tests and the
// simulator inject.
//
// Concurrency: Sample may be called concurrently from several goroutines
// (RPC handlers serving several monitors, a local monitor); implementations
// must be safe for concurrent use, must not block past ctx's deadline, and
// should cost well under a millisecond of CPU.
type ResourceSource interface {
	// Sample returns the resources now. Percentages are derived from the
	// interval since the previous call (the first call may report 0).
	Sample(ctx context.Context) (Resources, error)
}

// Resources is one measurement of a node's machine and process.
type Resources struct {
	// Time is when the sample was taken.
	Time time.Time `json:"time"`
	// CPUPercent is the host's CPU use over all cores, 0..100.
	CPUPercent float64 `json:"cpu_percent"`
	// MemUsedPercent is the host's used memory, 0..100.
	MemUsedPercent float64 `json:"mem_used_percent"`
	// MemTotal and MemUsed are the host's memory in bytes.
	MemTotal uint64 `json:"mem_total"`
	MemUsed  uint64 `json:"mem_used"`
	// Load1, Load5 and Load15 are the host's load averages.
	Load1  float64 `json:"load1"`
	Load5  float64 `json:"load5"`
	Load15 float64 `json:"load15"`
	// ProcCPUPercent is this process's CPU use in percent of one core
	// (above 100 when it uses several cores).
	ProcCPUPercent float64 `json:"proc_cpu_percent"`
	// ProcRSS is this process's resident memory in bytes.
	ProcRSS uint64 `json:"proc_rss"`
	// Goroutines is this process's goroutine count.
	Goroutines int `json:"goroutines"`
}

// Validate reports the first field of r that no real machine could
// report (negative, NaN, infinite or out of range); r came from the network.
func (r Resources) Validate() error {
	check := func(name string, v, hi float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > hi {
			return fmt.Errorf("%w: resources %s = %v outside 0..%v", ErrBadFrame, name, v, hi)
		}
		return nil
	}
	for _, f := range []struct {
		name string
		v    float64
		hi   float64
	}{
		{"cpu_percent", r.CPUPercent, 100},
		{"mem_used_percent", r.MemUsedPercent, 100},
		{"load1", r.Load1, 1e6},
		{"load5", r.Load5, 1e6},
		{"load15", r.Load15, 1e6},
		{"proc_cpu_percent", r.ProcCPUPercent, 100 * 4096},
	} {
		if err := check(f.name, f.v, f.hi); err != nil {
			return err
		}
	}
	if r.MemUsed > r.MemTotal && r.MemTotal > 0 {
		return fmt.Errorf("%w: resources mem_used %d above mem_total %d", ErrBadFrame, r.MemUsed, r.MemTotal)
	}
	if r.Goroutines < 0 {
		return fmt.Errorf("%w: resources goroutines = %d", ErrBadFrame, r.Goroutines)
	}
	return nil
}

// ErrNoResources reports a node without a ResourceSource.
var ErrNoResources = errors.New("cluster: no resource source")

// GopsutilSource reads the real host and process with gopsutil: host CPU
// (from /proc/stat deltas between calls), memory, load averages, and this
// process's CPU, RSS and goroutines. It is safe for concurrent use.
type GopsutilSource struct {
	proc *process.Process

	mu        sync.Mutex
	lastHost  cpu.TimesStat
	lastProc  float64 // process CPU seconds (user+system)
	lastWall  time.Time
	havePrior bool
}

// NewGopsutilSource returns a source for this host and process.
func NewGopsutilSource() (*GopsutilSource, error) {
	p, err := process.NewProcess(int32(os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("cluster: gopsutil process: %w", err)
	}
	return &GopsutilSource{proc: p}, nil
}

// Sample implements ResourceSource.
func (s *GopsutilSource) Sample(ctx context.Context) (Resources, error) {
	now := time.Now()
	r := Resources{Time: now, Goroutines: runtime.NumGoroutine()}
	times, err := cpu.TimesWithContext(ctx, false)
	if err != nil || len(times) == 0 {
		return Resources{}, fmt.Errorf("cluster: sample host cpu: %w", errOr(err, "no cpu times"))
	}
	pt, err := s.proc.TimesWithContext(ctx)
	if err != nil {
		return Resources{}, fmt.Errorf("cluster: sample process cpu: %w", err)
	}
	procCPU := pt.User + pt.System
	s.mu.Lock()
	if s.havePrior {
		r.CPUPercent = hostBusyPercent(s.lastHost, times[0])
		if wall := now.Sub(s.lastWall).Seconds(); wall > 0 {
			r.ProcCPUPercent = math.Max(0, (procCPU-s.lastProc)/wall*100)
		}
	}
	s.lastHost, s.lastProc, s.lastWall, s.havePrior = times[0], procCPU, now, true
	s.mu.Unlock()

	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return Resources{}, fmt.Errorf("cluster: sample memory: %w", err)
	}
	r.MemTotal, r.MemUsed, r.MemUsedPercent = vm.Total, vm.Used, clampPercent(vm.UsedPercent)
	if avg, err := load.AvgWithContext(ctx); err == nil {
		r.Load1, r.Load5, r.Load15 = avg.Load1, avg.Load5, avg.Load15
	}
	if mi, err := s.proc.MemoryInfoWithContext(ctx); err == nil {
		r.ProcRSS = mi.RSS
	}
	return r, nil
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

// hostBusyPercent is the share of non-idle CPU time between two readings.
func hostBusyPercent(a, b cpu.TimesStat) float64 {
	busy := func(t cpu.TimesStat) (total, busy float64) {
		total = t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
		return total, total - t.Idle - t.Iowait
	}
	ta, ba := busy(a)
	tb, bb := busy(b)
	if tb <= ta {
		return 0
	}
	return clampPercent((bb - ba) / (tb - ta) * 100)
}

func clampPercent(v float64) float64 {
	switch {
	case math.IsNaN(v) || v < 0:
		return 0
	case v > 100:
		return 100
	}
	return v
}

// ModelSource models the resources of a virtual node: a quiet baseline with
// a little deterministic noise, and pressure injected with SetCPU,
// SetMemory and SetLoad. Two models with the same seed produce the same
// sequence of samples. It is safe for concurrent use.
type ModelSource struct {
	clock Clock

	mu   sync.Mutex
	rng  *rand.Rand
	cpu  float64 // baseline or injected host CPU percent
	mem  float64
	load float64
	// injected marks which values were set (no noise is added to them
	// beyond ±0.5 so that thresholds are crossed predictably).
	cpuSet, memSet, loadSet bool
}

// Model defaults: an idle 4-core machine with 8 GiB.
const (
	modelMemTotal  = 8 << 30
	modelBaseCPU   = 8.0
	modelBaseMem   = 35.0
	modelBaseLoad  = 0.3
	modelBaseRSS   = 48 << 20
	modelBaseGorou = 40
)

// NewModelSource returns a model seeded with seed; clock stamps the samples
// (nil: the system clock).
func NewModelSource(seed int64, clock Clock) *ModelSource {
	if clock == nil {
		clock = SystemClock{}
	}
	return &ModelSource{
		clock: clock,
		rng:   rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		cpu:   modelBaseCPU,
		mem:   modelBaseMem,
		load:  modelBaseLoad,
	}
}

// SetCPU injects host CPU pressure in percent (clamped to 0..100); a
// negative value returns to the baseline.
func (m *ModelSource) SetCPU(percent float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cpu, m.cpuSet = clampPercent(percent), percent >= 0
	if !m.cpuSet {
		m.cpu = modelBaseCPU
	}
}

// SetMemory injects memory pressure in percent used (clamped to 0..100); a
// negative value returns to the baseline.
func (m *ModelSource) SetMemory(percent float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mem, m.memSet = clampPercent(percent), percent >= 0
	if !m.memSet {
		m.mem = modelBaseMem
	}
}

// SetLoad injects a load average (all three); a negative value returns to
// the baseline.
func (m *ModelSource) SetLoad(x float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if math.IsNaN(x) || x < 0 {
		m.load, m.loadSet = modelBaseLoad, false
		return
	}
	m.load, m.loadSet = math.Min(x, 1e6), true
}

// Pressure returns the injected values: host CPU percent, memory percent
// and load average, each -1 when not injected (the model's baseline).
func (m *ModelSource) Pressure() (cpu, memory, load float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cpu, memory, load = -1, -1, -1
	if m.cpuSet {
		cpu = m.cpu
	}
	if m.memSet {
		memory = m.mem
	}
	if m.loadSet {
		load = m.load
	}
	return cpu, memory, load
}

// Reset returns every value to the baseline.
func (m *ModelSource) Reset() {
	m.SetCPU(-1)
	m.SetMemory(-1)
	m.SetLoad(-1)
}

// Sample implements ResourceSource.
func (m *ModelSource) Sample(ctx context.Context) (Resources, error) {
	if err := ctx.Err(); err != nil {
		return Resources{}, fmt.Errorf("cluster: model sample: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	noise := func(set bool, base float64) float64 {
		amp := 2.0 // baseline wanders ±2 points
		if set {
			amp = 0.5
		}
		return base + (m.rng.Float64()*2-1)*amp
	}
	cpuPct := clampPercent(noise(m.cpuSet, m.cpu))
	memPct := clampPercent(noise(m.memSet, m.mem))
	ld := math.Max(0, m.load*(1+(m.rng.Float64()*2-1)*0.05))
	r := Resources{
		Time:           m.clock.Now(),
		CPUPercent:     cpuPct,
		MemUsedPercent: memPct,
		MemTotal:       modelMemTotal,
		MemUsed:        uint64(memPct / 100 * modelMemTotal),
		Load1:          ld,
		Load5:          ld * 0.9,
		Load15:         ld * 0.8,
		// The node's own process takes a fifth of the host's CPU in the
		// model, and its memory grows a little with host pressure.
		ProcCPUPercent: cpuPct * 0.2 * 4,
		ProcRSS:        uint64(modelBaseRSS * (1 + memPct/200) * (1 + (m.rng.Float64()*2-1)*0.02)),
		Goroutines:     modelBaseGorou + m.rng.IntN(5),
	}
	return r, nil
}

// SampleNode measures the resources of node n with its ResourceSource: the
// one set by SetResourceSource, else Config.Resources. It fails with
// ErrNoResources when the node has none.
func SampleNode(ctx context.Context, n *Node) (Resources, error) {
	src := resourceSourceOf(n)
	if src == nil {
		return Resources{}, fmt.Errorf("%w on node %s", ErrNoResources, n.name)
	}
	r, err := src.Sample(ctx)
	if err != nil {
		return Resources{}, fmt.Errorf("cluster: node %s: %w", n.name, err)
	}
	return r, nil
}

func resourceSourceOf(n *Node) ResourceSource {
	if h := healthOf(n); h != nil {
		h.mu.Lock()
		src := h.src
		h.mu.Unlock()
		if src != nil {
			return src
		}
	}
	// cfg.Resources is written only by NewNode: reading this one field
	// does not race with SetTags, which writes another.
	return n.cfg.Resources
}

// SetResourceSource gives node n a ResourceSource that overrides
// Config.Resources. It is for code that receives nodes whose Config is
// already fixed, like the simulator's Setup hook giving each virtual node a
// ModelSource. It enables the health RPC (see EnableHealthRPC).
func SetResourceSource(n *Node, src ResourceSource) {
	h := enableHealth(n)
	h.mu.Lock()
	h.src = src
	h.mu.Unlock()
}

// MethodHealthSample is the RPC method that returns a node's HealthSample.
const MethodHealthSample = "health.sample"

// Bounds on a health sample, enforced on both ends.
const (
	// MaxHealthSampleSize bounds an encoded HealthSample.
	MaxHealthSampleSize = 4 << 20
	// MaxHealthMembers bounds the members in one sample.
	MaxHealthMembers = 10000
	// MaxHealthEvents bounds the membership events in one sample.
	MaxHealthEvents = 256
	// healthEventLog is how many recent membership events a node keeps.
	healthEventLog = 1024
)

// HealthSampleRequest asks a node for its HealthSample.
type HealthSampleRequest struct {
	// EventsAfter returns the membership events with a sequence number
	// above it (0: from the oldest kept).
	EventsAfter uint64 `json:"events_after,omitempty"`
	// Boot is the Boot of the node's previous answer; when the node has
	// restarted since, EventsAfter is ignored (sequence numbers restarted).
	Boot string `json:"boot,omitempty"`
	// NoEvents leaves the events out (the timeline collector is paused).
	NoEvents bool `json:"no_events,omitempty"`
	// ViewHash is the ViewHash of the node's previous answer: when its
	// view of the members has not changed since, Members is left out
	// (MembersSame), which keeps a steady-state sample small.
	ViewHash uint64 `json:"view_hash,omitempty"`
	// DirectChecks bounds the peers the node checks directly for this
	// sample (see HealthSample.Links): 0 means DefaultDirectChecks, a
	// negative value none; at most MaxDirectChecks.
	DirectChecks int `json:"direct_checks,omitempty"`
}

// MemberHealth is one member as the sampled node sees it.
type MemberHealth struct {
	Name  string        `json:"name"`
	Role  string        `json:"role,omitempty"`
	State string        `json:"state"`
	Since time.Time     `json:"since"`
	RTT   time.Duration `json:"rtt_ns,omitempty"`
}

// HealthEvent is one membership change seen by the sampled node.
type HealthEvent struct {
	// Seq numbers the node's events from 1, in order, within one Boot.
	Seq    uint64          `json:"seq"`
	Type   MemberEventType `json:"type"`
	Member string          `json:"member"`
	State  string          `json:"state"`
	Time   time.Time       `json:"time"`
	// Incarnation is the member's incarnation (Member.Incarnation) as the
	// node knew it when the event happened.
	Incarnation uint64 `json:"incarnation,omitempty"`
}

// HealthSample is what the "health.sample" RPC returns: a node's
// resources, its view of the members, its Lifeguard health score, its
// process counts and its recent membership events.
type HealthSample struct {
	Node string `json:"node"`
	// Boot identifies this run of the node; it changes when the node
	// restarts.
	Boot string    `json:"boot"`
	Time time.Time `json:"time"`
	// Resources is nil when the node has no ResourceSource or sampling
	// failed; ResourcesError then says why.
	Resources      *Resources `json:"resources,omitempty"`
	ResourcesError string     `json:"resources_error,omitempty"`
	// Members is the node's view of the cluster, itself included; it is
	// left out when MembersSame (unchanged since the request's ViewHash).
	Members []MemberHealth `json:"members,omitempty"`
	// ViewHash identifies the members' names, roles, states and Since.
	ViewHash    uint64 `json:"view_hash"`
	MembersSame bool   `json:"members_same,omitempty"`
	HealthScore int    `json:"health_score"`
	Processes   int    `json:"processes"`
	// Supervised counts the supervised children running on the node; nil
	// when the node cannot tell.
	Supervised *int `json:"supervised,omitempty"`
	// Events are the membership events after the request's EventsAfter,
	// oldest first, at most MaxHealthEvents; EventsLost is set when older
	// ones were dropped from the node's bounded log before being read.
	Events     []HealthEvent `json:"events,omitempty"`
	EventsLost bool          `json:"events_lost,omitempty"`
	// Links are the peers the node sees alive (or suspect) but whose
	// direct path failed its latest direct checks: memberlist may route
	// its probes around such a link through other nodes, so membership
	// does not show it, yet the node cannot talk to the peer directly.
	// Sorted by peer; at most MaxHealthMembers.
	Links []LinkHealth `json:"links,omitempty"`
}

// LinkHealth is one peer the sampled node could not reach directly.
type LinkHealth struct {
	Peer string `json:"peer"`
	// Failures counts the direct checks in a row that got no answer, with
	// no direct memberlist ack from the peer in between.
	Failures int `json:"failures"`
	// Since is when the first of those checks failed (node's clock).
	Since time.Time `json:"since"`
	// LastAck is the node's last direct ack from the peer, by a
	// memberlist probe or a direct check (zero: none since it started).
	LastAck time.Time `json:"last_ack,omitzero"`
}

// Direct reachability. memberlist calls the ping delegate only for the
// acks of its direct probes (an ack relayed by an indirect probe does not
// count), so the time of the last direct ack per peer says whether the
// direct path works. When it is older than DirectFresh, a health sample
// checks the path itself with a direct ping (one UDP round trip, bounded
// by the profile's ProbeTimeout), for at most DirectChecks peers: the ones
// failing already first, then the stalest. A one-way cut fails both ends'
// checks (a round trip needs both directions).
const (
	// DirectFresh is how recent a direct ack must be for the path to count
	// as working without a check.
	DirectFresh = time.Second
	// DefaultDirectChecks is the number of peers checked per sample when
	// the request does not say.
	DefaultDirectChecks = 8
	// MaxDirectChecks bounds HealthSampleRequest.DirectChecks.
	MaxDirectChecks = 64
)

// linkState is a node's direct reachability of one peer.
type linkState struct {
	ack   time.Time // last direct ack (memberlist probe or check)
	fails int       // consecutive failed checks since ack
	since time.Time // first of those failures
	gen   uint64    // checkLinks round that last saw the peer live
}

// noteDirectAck records a direct ack from peer (the ping delegate calls
// it); nothing when the health RPC is not enabled on n.
func noteDirectAck(n *Node, peer string) {
	h := healthOf(n)
	if h == nil {
		return
	}
	now := n.clock.Now()
	h.linkMu.Lock()
	defer h.linkMu.Unlock()
	st := h.links[peer]
	if st == nil {
		if h.links == nil {
			h.links = make(map[string]*linkState)
		}
		st = &linkState{}
		h.links[peer] = st
	}
	st.ack, st.fails, st.since = now, 0, time.Time{}
}

// udpAddr is a gossip address for memberlist's Ping.
type udpAddr string

func (a udpAddr) Network() string { return "udp" }
func (a udpAddr) String() string  { return string(a) }

// checkLinks checks the direct path to up to limit peers whose direct ack
// is stale and returns the peers whose path is failing.
func (h *nodeHealth) checkLinks(n *Node, limit int) []LinkHealth {
	type cand struct {
		name, addr string
		fails      int
		last       time.Time
	}
	now := n.clock.Now()
	var cands []cand
	// Lock order: membersMu, then linkMu (the ping delegate takes them
	// one after the other, never nested).
	n.membersMu.RLock()
	h.linkMu.Lock()
	if h.links == nil {
		h.links = make(map[string]*linkState)
	}
	h.linkGen++
	for name, r := range n.members {
		if name == n.name || (r.state != StateAlive && r.state != StateSuspect) {
			continue
		}
		st := h.links[name]
		if st == nil {
			// No ack seen yet: count from now, so a node just started
			// does not check everyone at once.
			st = &linkState{ack: now}
			h.links[name] = st
		}
		st.gen = h.linkGen
		if st.fails == 0 && now.Sub(st.ack) < DirectFresh {
			continue
		}
		cands = append(cands, cand{name: name, addr: r.addr, fails: st.fails, last: st.ack})
	}
	n.membersMu.RUnlock()
	for name, st := range h.links {
		if st.gen != h.linkGen {
			delete(h.links, name)
		}
	}
	ml := n.ml
	busy := h.checking
	if limit > 0 && !busy && ml != nil && n.running() && len(cands) > 0 {
		h.checking = true
	} else {
		cands = nil
	}
	h.linkMu.Unlock()

	if len(cands) > 0 {
		slices.SortFunc(cands, func(a, b cand) int {
			if a.fails != b.fails {
				return b.fails - a.fails
			}
			if c := a.last.Compare(b.last); c != 0 {
				return c
			}
			return strings.Compare(a.name, b.name)
		})
		cands = cands[:min(len(cands), limit)]
		ok := make([]bool, len(cands))
		var wg sync.WaitGroup
		for i, c := range cands {
			wg.Go(func() {
				_, err := ml.Ping(c.name, udpAddr(c.addr))
				ok[i] = err == nil
			})
		}
		wg.Wait()
		done := n.clock.Now()
		h.linkMu.Lock()
		for i, c := range cands {
			st := h.links[c.name]
			switch {
			case st == nil:
			case ok[i]:
				st.ack, st.fails, st.since = done, 0, time.Time{}
			case st.ack.After(now):
				// A memberlist probe got a direct ack meanwhile.
			default:
				if st.fails == 0 {
					st.since = now
				}
				st.fails++
			}
		}
		h.checking = false
		h.linkMu.Unlock()
	}

	h.linkMu.Lock()
	defer h.linkMu.Unlock()
	var out []LinkHealth
	for name, st := range h.links {
		if st.fails > 0 {
			out = append(out, LinkHealth{Peer: name, Failures: st.fails, Since: st.since, LastAck: st.ack})
		}
	}
	slices.SortFunc(out, func(a, b LinkHealth) int { return strings.Compare(a.Peer, b.Peer) })
	return out
}

// nodeHealth is the per-node state of the health RPC.
type nodeHealth struct {
	n    *Node
	boot string

	mu     sync.Mutex
	src    ResourceSource
	events []HealthEvent // ring, oldest first once full
	seq    uint64
	// The view hash as of event seq hashSeq: membership records change
	// only with an event, so it stays valid until the next one.
	hashSeq   uint64
	hash      uint64
	hashValid bool

	// linkMu guards the direct reachability of the peers.
	linkMu   sync.Mutex
	links    map[string]*linkState
	linkGen  uint64
	checking bool // a checkLinks round is pinging
}

// healthStates maps *Node to its *nodeHealth; an entry is removed when the
// node stops.
var healthStates sync.Map

func healthOf(n *Node) *nodeHealth {
	if v, ok := healthStates.Load(n); ok {
		return v.(*nodeHealth)
	}
	return nil
}

// EnableHealthRPC registers the "health.sample" RPC method on n and starts
// keeping a bounded log of n's membership events for the health monitor's
// timeline. Call it before Start to log every event; it is idempotent.
// The app, the agent and the simulator's Setup call it: NewNode does not.
func EnableHealthRPC(n *Node) { enableHealth(n) }

func enableHealth(n *Node) *nodeHealth {
	fresh := &nodeHealth{n: n, boot: fmt.Sprintf("%x", rand.Uint64())}
	v, loaded := healthStates.LoadOrStore(n, fresh)
	h := v.(*nodeHealth)
	if loaded {
		return h
	}
	unsubscribe := n.Subscribe(h.record)
	context.AfterFunc(n.ctx, func() {
		unsubscribe()
		healthStates.Delete(n)
	})
	n.HandleRPC(MethodHealthSample, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var req HealthSampleRequest
		if len(b) > 0 {
			if len(b) > 4096 {
				return nil, fmt.Errorf("%w: health sample request of %d bytes", ErrBadFrame, len(b))
			}
			if err := json.Unmarshal(b, &req); err != nil {
				return nil, fmt.Errorf("%w: health sample request: %v", ErrBadFrame, err)
			}
		}
		return json.Marshal(LocalHealthSample(ctx, n, req))
	})
	return h
}

func (h *nodeHealth) record(ev MemberEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e := HealthEvent{Seq: h.seq, Type: ev.Type, Member: ev.Member.Name, State: ev.Member.State, Time: ev.Time, Incarnation: ev.Member.Incarnation}
	if len(h.events) >= healthEventLog {
		copy(h.events, h.events[1:])
		h.events = h.events[:len(h.events)-1]
	}
	h.events = append(h.events, e)
}

// eventsAfter returns up to MaxHealthEvents events after seq, and whether
// some were lost.
func (h *nodeHealth) eventsAfter(seq uint64) ([]HealthEvent, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) == 0 {
		return nil, false
	}
	lost := seq+1 < h.events[0].Seq && seq > 0
	i := 0
	for i < len(h.events) && h.events[i].Seq <= seq {
		i++
	}
	out := h.events[i:]
	if len(out) > MaxHealthEvents {
		out = out[:MaxHealthEvents]
	}
	return append([]HealthEvent(nil), out...), lost
}

// supervisedChildren counts the supervised children running on n; ok is
// false when the node has no supervisor subsystem.
func supervisedChildren(n *Node) (count int, ok bool) {
	if n.supervisors == nil {
		return 0, false
	}
	return len(n.LocalChildren()), true
}

// LocalHealthSample builds node n's HealthSample without the network (the
// handler of "health.sample" and a monitor sampling its own node use it).
func LocalHealthSample(ctx context.Context, n *Node, req HealthSampleRequest) HealthSample {
	h := enableHealth(n)
	s := HealthSample{
		Node:        n.name,
		Boot:        h.boot,
		Time:        n.clock.Now(),
		HealthScore: n.HealthScore(),
		Processes:   n.procs.count(),
	}
	if r, err := SampleNode(ctx, n); err != nil {
		s.ResourcesError = err.Error()
	} else {
		s.Resources = &r
	}
	h.mu.Lock()
	seq, cached, hash := h.seq, h.hashValid && h.hashSeq == h.seq, h.hash
	h.mu.Unlock()
	limit := req.DirectChecks
	if limit == 0 {
		limit = DefaultDirectChecks
	}
	s.Links = h.checkLinks(n, min(limit, MaxDirectChecks))
	if len(s.Links) > MaxHealthMembers {
		s.Links = s.Links[:MaxHealthMembers]
	}
	if cached && req.ViewHash != 0 && req.ViewHash == hash {
		// Unchanged since the caller's last sample: skip the copy.
		s.ViewHash, s.MembersSame = hash, true
	} else {
		members := n.Members()
		if len(members) > MaxHealthMembers {
			members = members[:MaxHealthMembers]
		}
		s.ViewHash = viewHash(members)
		h.mu.Lock()
		h.hashSeq, h.hash, h.hashValid = seq, s.ViewHash, true
		h.mu.Unlock()
		if req.ViewHash == s.ViewHash {
			s.MembersSame = true
		} else {
			s.Members = make([]MemberHealth, len(members))
			for i, m := range members {
				s.Members[i] = MemberHealth{Name: m.Name, Role: m.Role, State: m.State, Since: m.Since, RTT: m.RTT}
			}
		}
	}
	if c, ok := supervisedChildren(n); ok {
		s.Supervised = &c
	}
	if !req.NoEvents {
		after := req.EventsAfter
		if req.Boot != h.boot {
			after = 0
		}
		s.Events, s.EventsLost = h.eventsAfter(after)
	}
	return s
}

// viewHash is FNV-1a over the members' names, roles, states and Since
// (not RTT, which changes with every probe); never 0.
func viewHash(members []Member) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, m := range members {
		_, _ = h.Write([]byte(m.Name))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(m.Role))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(m.State))
		binary.BigEndian.PutUint64(b[:], uint64(m.Since.UnixNano()))
		_, _ = h.Write(b[:])
	}
	return max(h.Sum64(), 1)
}

// RequestHealthSample asks node target for its HealthSample through n (a
// local call when target is n itself) and validates the answer.
func RequestHealthSample(ctx context.Context, n *Node, target string, req HealthSampleRequest) (HealthSample, error) {
	if target == n.name {
		return LocalHealthSample(ctx, n, req), nil
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return HealthSample{}, fmt.Errorf("cluster: health sample request: %w", err)
	}
	out, err := n.Request(ctx, target, MethodHealthSample, payload)
	if err != nil {
		return HealthSample{}, err
	}
	s, err := DecodeHealthSample(out)
	if err != nil {
		return HealthSample{}, &RPCError{Code: CodeInternal, Node: target, Message: err.Error()}
	}
	if s.Node != target {
		return HealthSample{}, &RPCError{Code: CodeInternal, Node: target, Message: fmt.Sprintf("health sample names node %q", s.Node)}
	}
	return s, nil
}

var knownStates = map[string]bool{StateAlive: true, StateSuspect: true, StateDead: true, StateLeft: true, StateUnknown: true}

var knownEventTypes = map[MemberEventType]bool{
	MemberJoined: true, MemberUpdated: true, MemberDied: true, MemberLeft: true,
	MemberSuspected: true, MemberRecovered: true,
}

// DecodeHealthSample decodes and validates a HealthSample received from
// the network: sizes, names, states, event order and resource ranges. It
// never panics; a malformed sample is an error wrapping ErrBadFrame.
func DecodeHealthSample(b []byte) (HealthSample, error) {
	if len(b) > MaxHealthSampleSize {
		return HealthSample{}, fmt.Errorf("%w: health sample of %d bytes exceeds %d", ErrBadFrame, len(b), MaxHealthSampleSize)
	}
	var s HealthSample
	if err := json.Unmarshal(b, &s); err != nil {
		return HealthSample{}, fmt.Errorf("%w: health sample: %v", ErrBadFrame, err)
	}
	if err := s.Validate(); err != nil {
		return HealthSample{}, err
	}
	return s, nil
}

// Validate checks a sample's fields; DecodeHealthSample calls it.
func (s HealthSample) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: health sample: %s", ErrBadFrame, fmt.Sprintf(format, args...))
	}
	if err := ValidateNodeName(s.Node); err != nil {
		return bad("node: %v", err)
	}
	if len(s.Boot) > 64 {
		return bad("boot of %d bytes", len(s.Boot))
	}
	if len(s.ResourcesError) > 4096 {
		return bad("resources_error of %d bytes", len(s.ResourcesError))
	}
	if s.Resources != nil {
		if err := s.Resources.Validate(); err != nil {
			return err
		}
	}
	if s.HealthScore < 0 || s.Processes < 0 || (s.Supervised != nil && *s.Supervised < 0) {
		return bad("negative count")
	}
	if s.MembersSame && len(s.Members) > 0 {
		return bad("members_same with %d members", len(s.Members))
	}
	if len(s.Members) > MaxHealthMembers {
		return bad("%d members exceed %d", len(s.Members), MaxHealthMembers)
	}
	for i, m := range s.Members {
		if err := ValidateNodeName(m.Name); err != nil {
			return bad("member %d: %v", i, err)
		}
		if !knownStates[m.State] {
			return bad("member %s: unknown state %q", m.Name, m.State)
		}
		if m.RTT < 0 || len(m.Role) > 64 {
			return bad("member %s: bad rtt or role", m.Name)
		}
	}
	if len(s.Links) > MaxHealthMembers {
		return bad("%d links exceed %d", len(s.Links), MaxHealthMembers)
	}
	for i, l := range s.Links {
		if err := ValidateNodeName(l.Peer); err != nil {
			return bad("link %d: %v", i, err)
		}
		if l.Failures < 1 {
			return bad("link %s: %d failures", l.Peer, l.Failures)
		}
	}
	if len(s.Events) > MaxHealthEvents {
		return bad("%d events exceed %d", len(s.Events), MaxHealthEvents)
	}
	var prev uint64
	for i, e := range s.Events {
		if e.Seq <= prev {
			return bad("event %d: sequence %d not after %d", i, e.Seq, prev)
		}
		prev = e.Seq
		if !knownEventTypes[e.Type] {
			return bad("event %d: unknown type %q", i, e.Type)
		}
		if err := ValidateNodeName(e.Member); err != nil {
			return bad("event %d: %v", i, err)
		}
		if !knownStates[e.State] {
			return bad("event %d: unknown state %q", i, e.State)
		}
	}
	return nil
}
