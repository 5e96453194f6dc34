package cluster

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Membership states as reported by Member.State and MemberState.
const (
	StateAlive   = "alive"
	StateSuspect = "suspect"
	StateDead    = "dead"
	StateLeft    = "left"
	StateUnknown = "unknown"
)

// Member is one node as this node sees it.
type Member struct {
	Name    string            `json:"name"`
	Addr    string            `json:"addr"`
	RPCAddr string            `json:"rpc_addr,omitempty"`
	APIAddr string            `json:"api_addr,omitempty"`
	Role    string            `json:"role"`
	Tags    map[string]string `json:"tags,omitempty"`
	Version string            `json:"version,omitempty"`
	State   string            `json:"state"`
	Since   time.Time         `json:"since"`
	Local   bool              `json:"local,omitempty"`
	// RTT is the round-trip time of this node's last successful probe of
	// the member (0 when unknown, and for the local node).
	RTT time.Duration `json:"rtt_ns,omitempty"`
	// Incarnation tells the runs of one node name apart (its start time
	// in Unix milliseconds; 0 when unknown): a restarted node rejoins
	// with a larger one.
	Incarnation uint64 `json:"incarnation,omitempty"`
}

// MemberEventType says what happened to a member.
type MemberEventType string

// Member event types.
const (
	MemberJoined  MemberEventType = "join"
	MemberUpdated MemberEventType = "update"
	MemberDied    MemberEventType = "dead"
	MemberLeft    MemberEventType = "left"
	// MemberSuspected: this node's probe of the member failed.
	MemberSuspected MemberEventType = "suspect"
	// MemberRecovered: a suspected member answered again.
	MemberRecovered MemberEventType = "recovered"
)

// MemberEvent is a membership change seen by this node.
type MemberEvent struct {
	Type   MemberEventType `json:"type"`
	Member Member          `json:"member"`
	Time   time.Time       `json:"time"`
}

type memberRecord struct {
	addr  string
	meta  NodeMeta
	rtt   time.Duration
	state string
	since time.Time
}

const (
	nodeNew int32 = iota
	nodeRunning
	nodeStopped
)

// Node is one member of a cluster: membership, processes and RPC. Create it
// with NewNode, then Start, Join, and finally Stop (graceful) or Halt (a
// crash: silence without goodbye). All methods are safe for concurrent use.
type Node struct {
	cfg   Config
	name  string
	log   *slog.Logger
	clock Clock

	state  atomic.Int32
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	ep Endpoint
	// incarnation is this run's start time (NodeMeta.Incarnation), set
	// by Start before memberlist runs.
	incarnation uint64
	ml          *memberlist.Memberlist

	procs     procTable
	nextID    atomic.Uint64
	nextRef   atomic.Uint64
	behaviors behaviorTable
	handlers  rpcHandlers
	calls     sync.Map // ref -> chan Message

	peersMu sync.Mutex
	peers   map[string]*peerSlot
	connsMu sync.Mutex
	conns   map[net.Conn]struct{}

	membersMu sync.RWMutex
	members   map[string]*memberRecord
	seeds     []string

	watchMu sync.Mutex
	watches map[string]map[watchKey]struct{} // remote node -> links/monitors on its processes

	subsMu sync.Mutex
	subs   map[uint64]func(MemberEvent)
	subSeq uint64
	events chan MemberEvent

	stats    nodeStats
	delegate *delegate
	replicas replicaSet
	bcast    *memberlist.TransmitLimitedQueue
	clash    atomic.Pointer[string] // address of another node using our name
	exitMu   sync.RWMutex
	onExit   []func(ProcessInfo, Reason)

	// Subsystems, each in its own file.
	registry    *registry
	supervisors *supervisors
	traces      *traces
	sandboxes   *sandboxes
}

type nodeStats struct {
	framesIn        atomic.Uint64
	framesOut       atomic.Uint64
	badFrames       atomic.Uint64
	droppedMessages atomic.Uint64
}

// NodeStats are the runtime's counters for one node.
type NodeStats struct {
	Processes       int    `json:"processes"`
	FramesIn        uint64 `json:"frames_in"`
	FramesOut       uint64 `json:"frames_out"`
	BadFrames       uint64 `json:"bad_frames"`
	DroppedMessages uint64 `json:"dropped_messages"`
}

// NewNode validates cfg and returns a node that is not yet started.
func NewNode(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n := &Node{
		cfg:     cfg,
		name:    cfg.Name,
		log:     cfg.Logger.With("node", cfg.Name),
		clock:   cfg.Clock,
		peers:   make(map[string]*peerSlot),
		conns:   make(map[net.Conn]struct{}),
		members: make(map[string]*memberRecord),
		watches: make(map[string]map[watchKey]struct{}),
		subs:    make(map[uint64]func(MemberEvent)),
		events:  make(chan MemberEvent, 1024),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.registerProcessRPC()
	n.HandleRPC(methodDelta, func(_ context.Context, _ string, b []byte) ([]byte, error) {
		n.receiveDelta(b)
		return nil, nil
	})
	n.initRegistry()
	n.initSupervisors()
	n.initTracing()
	n.initSandboxes()
	return n, nil
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

// Role returns the node's role.
func (n *Node) Role() string { return n.cfg.Role }

// Config returns the node's configuration with defaults filled in.
func (n *Node) Config() Config { return n.cfg }

func (n *Node) running() bool { return n.state.Load() == nodeRunning }

// Start binds the network and starts membership and RPC. The node is alone
// until Join.
func (n *Node) Start(ctx context.Context) error {
	if !n.state.CompareAndSwap(nodeNew, nodeRunning) {
		return fmt.Errorf("cluster: start node %s: already started", n.name)
	}
	ep, err := n.cfg.Network.Bind(BindConfig{Name: n.name, Bind: n.cfg.Bind, Advertise: n.cfg.Advertise, Logger: n.log})
	if err != nil {
		n.state.Store(nodeStopped)
		return fmt.Errorf("cluster: start node %s: %w", n.name, err)
	}
	n.ep = ep
	n.incarnation = uint64(time.Now().UnixMilli())
	meta, err := encodeMeta(n.cfg.meta(ep.RPCAddr(), n.incarnation))
	if err != nil {
		_ = ep.Close()
		n.state.Store(nodeStopped)
		return fmt.Errorf("cluster: start node %s: %w", n.name, err)
	}
	mc := n.cfg.Profile.MemberlistConfig()
	mc.Name = n.name
	mc.Transport = ep.Transport()
	host, port := ep.GossipAddr()
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = host, port
	mc.Label = n.cfg.Label
	mc.SecretKey = n.cfg.SecretKey
	mc.Logger = log.New(memberlistLog{n}, "", 0)
	mc.Ping = &pingDelegate{n: n}
	n.bcast = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return max(1, n.aliveCount()) },
		RetransmitMult: mc.RetransmitMult,
	}
	d := &delegate{n: n}
	d.meta.Store(&meta)
	mc.Delegate = d
	mc.Events = &eventDelegate{n: n}
	mc.Conflict = &conflictDelegate{n: n}
	n.delegate = d
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = ep.Close()
		n.state.Store(nodeStopped)
		return fmt.Errorf("cluster: start node %s: memberlist: %w", n.name, err)
	}
	n.ml = ml
	n.wg.Add(3)
	go n.serveRPC(ep.Listener())
	go n.rejoinLoop()
	go n.eventLoop()
	n.log.Info("node started", "gossip", net.JoinHostPort(host, strconv.Itoa(port)), "rpc", ep.RPCAddr(), "profile", n.cfg.Profile)
	return nil
}

// Addr returns the node's advertised gossip address, the one to give to
// other nodes as a seed.
func (n *Node) Addr() string {
	if n.ep == nil {
		return ""
	}
	host, port := n.ep.GossipAddr()
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Join contacts seeds ("host:port" gossip addresses) and merges their view of
// the cluster. It returns how many seeds answered; it fails only when none
// did. The seeds are remembered and retried while the node is alone.
func (n *Node) Join(ctx context.Context, seeds []string) (int, error) {
	if !n.running() {
		return 0, ErrStopped
	}
	n.membersMu.Lock()
	n.seeds = append([]string(nil), seeds...)
	n.membersMu.Unlock()
	type result struct {
		k   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		k, err := n.ml.Join(seeds)
		ch <- result{k, err}
	}()
	select {
	case r := <-ch:
		if clash := n.clash.Load(); clash != nil {
			return r.k, fmt.Errorf("%w: %q is already used by the node at %s: give this node another --name", ErrNameClash, n.name, *clash)
		}
		if r.err != nil && r.k == 0 {
			return 0, n.explainJoinError(seeds, r.err)
		}
		return r.k, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: node %s join %v: %v", ErrNoSeed, n.name, seeds, ctx.Err())
	}
}

// Stop stops the node gracefully: its processes exit with reason shutdown
// (links and monitors elsewhere are told), it leaves the cluster, and it
// closes the network.
func (n *Node) Stop(ctx context.Context) error {
	if !n.running() {
		return nil
	}
	// Mark the node as leaving before its processes stop, so that
	// subsystems (the supervisor) know the shutdown exits are not theirs
	// to restart; the mark is gossiped once the processes are gone.
	m := n.cfg.meta(n.ep.RPCAddr(), n.incarnation)
	m.Leaving = true
	b, merr := encodeMeta(m)
	if merr == nil {
		n.delegate.meta.Store(&b)
	}
	n.stopProcesses(ReasonShutdown)
	timeout := time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if merr == nil {
		_ = n.ml.UpdateNode(timeout / 2)
	}
	err := n.ml.Leave(timeout / 2)
	n.shutdown()
	if err != nil {
		return fmt.Errorf("cluster: node %s leave: %w", n.name, err)
	}
	return nil
}

// Halt stops the node as a crash would: no leave message, processes vanish
// without telling anyone. The others detect the failure through probes.
func (n *Node) Halt() {
	if !n.running() {
		return
	}
	n.shutdown()
	n.stopProcesses(ReasonKilled)
}

func (n *Node) shutdown() {
	if !n.state.CompareAndSwap(nodeRunning, nodeStopped) {
		return
	}
	n.cancel()
	_ = n.ml.Shutdown()
	_ = n.ep.Close()
	n.peersMu.Lock()
	peers := n.peers
	n.peers = make(map[string]*peerSlot)
	n.peersMu.Unlock()
	for _, s := range peers {
		s.mu.Lock()
		if s.p != nil {
			s.p.close()
		}
		s.mu.Unlock()
	}
	n.connsMu.Lock()
	for c := range n.conns {
		_ = c.Close()
	}
	n.conns = nil
	n.connsMu.Unlock()
	n.wg.Wait()
	n.log.Info("node stopped")
}

// trackConn records open streams so that shutdown can close them; it
// returns false when the node is already stopped.
func (n *Node) trackConn(c net.Conn, add bool) bool {
	n.connsMu.Lock()
	defer n.connsMu.Unlock()
	if n.conns == nil {
		if add {
			_ = c.Close()
		}
		return false
	}
	if add {
		n.conns[c] = struct{}{}
	} else {
		delete(n.conns, c)
	}
	return true
}

func (n *Node) stopProcesses(reason Reason) {
	for _, p := range n.procs.all() {
		p.signalExit(reason, false)
	}
	for _, p := range n.procs.all() {
		<-p.wait()
	}
}

// Stats returns the node's runtime counters.
func (n *Node) Stats() NodeStats {
	return NodeStats{
		Processes:       n.procs.count(),
		FramesIn:        n.stats.framesIn.Load(),
		FramesOut:       n.stats.framesOut.Load(),
		BadFrames:       n.stats.badFrames.Load(),
		DroppedMessages: n.stats.droppedMessages.Load(),
	}
}

// HealthScore returns memberlist's Lifeguard awareness score for this node:
// 0 is healthy; higher means this node itself is slow to answer probes
// (and so suspects others less eagerly).
func (n *Node) HealthScore() int {
	if !n.running() {
		return 0
	}
	return n.ml.GetHealthScore()
}

// SetTags replaces the node's tags and gossips the change.
func (n *Node) SetTags(tags map[string]string) error {
	cfg := n.cfg
	cfg.Tags = tags
	meta, err := encodeMeta(cfg.meta(n.ep.RPCAddr(), n.incarnation))
	if err != nil {
		return err
	}
	n.delegate.meta.Store(&meta)
	n.cfg.Tags = tags
	return n.ml.UpdateNode(n.cfg.RPCTimeout)
}

// Members returns every node this node knows, alive or not, sorted by name.
func (n *Node) Members() []Member {
	n.membersMu.RLock()
	out := make([]Member, 0, len(n.members))
	for name, r := range n.members {
		out = append(out, n.memberFrom(name, r))
	}
	n.membersMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (n *Node) memberFrom(name string, r *memberRecord) Member {
	return Member{
		Name: name, Addr: r.addr, RPCAddr: r.meta.RPC, APIAddr: r.meta.API,
		Role: r.meta.Role, Tags: r.meta.Tags, Version: r.meta.Version,
		State: r.state, Since: r.since, Local: name == n.name, RTT: r.rtt,
		Incarnation: r.meta.Incarnation,
	}
}

// MemberState returns a node's membership state as this node sees it:
// alive, suspect, dead, left or unknown. memberlist does not publish its
// suspicions; a node is suspect here from the moment this node's own probe
// of it failed until it answers again or is declared dead.
func (n *Node) MemberState(name string) string {
	n.membersMu.RLock()
	defer n.membersMu.RUnlock()
	r, ok := n.members[name]
	if !ok {
		return StateUnknown
	}
	return r.state
}

// setSuspect moves an alive member to suspect (on) or back to alive (off).
func (n *Node) setSuspect(name string, on bool) {
	from, to := StateAlive, StateSuspect
	if !on {
		from, to = StateSuspect, StateAlive
	}
	now := n.clock.Now()
	n.membersMu.Lock()
	r := n.members[name]
	if r == nil || r.state != from {
		n.membersMu.Unlock()
		return
	}
	r.state, r.since = to, now
	m := n.memberFrom(name, r)
	n.membersMu.Unlock()
	t := MemberSuspected
	if !on {
		t = MemberRecovered
	}
	n.emit(MemberEvent{Type: t, Member: m, Time: now})
}

func (n *Node) memberRecord(name string) (memberRecord, bool) {
	n.membersMu.RLock()
	defer n.membersMu.RUnlock()
	r, ok := n.members[name]
	if !ok {
		return memberRecord{}, false
	}
	return *r, true
}

// AliveMembers returns the names of members in state alive or suspect,
// sorted, including this node.
func (n *Node) AliveMembers() []string {
	n.membersMu.RLock()
	defer n.membersMu.RUnlock()
	var out []string
	for name, r := range n.members {
		if r.state == StateAlive || r.state == StateSuspect {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// aliveCount is len(AliveMembers()) without building the list: memberlist
// asks for it on every gossip round.
func (n *Node) aliveCount() int {
	n.membersMu.RLock()
	defer n.membersMu.RUnlock()
	c := 0
	for _, r := range n.members {
		if r.state == StateAlive || r.state == StateSuspect {
			c++
		}
	}
	return c
}

// Subscribe calls fn for every membership change, in order, from one
// goroutine; fn must not block for long. The returned func unsubscribes.
func (n *Node) Subscribe(fn func(MemberEvent)) (unsubscribe func()) {
	n.subsMu.Lock()
	n.subSeq++
	id := n.subSeq
	n.subs[id] = fn
	n.subsMu.Unlock()
	return func() {
		n.subsMu.Lock()
		delete(n.subs, id)
		n.subsMu.Unlock()
	}
}

func (n *Node) eventLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case ev := <-n.events:
			if ev.Type == MemberDied || ev.Type == MemberLeft {
				n.nodeDown(ev.Member.Name)
			}
			n.subsMu.Lock()
			fns := make([]func(MemberEvent), 0, len(n.subs))
			for _, fn := range n.subs {
				fns = append(fns, fn)
			}
			n.subsMu.Unlock()
			for _, fn := range fns {
				fn(ev)
			}
		}
	}
}

// observe records a membership change from memberlist's event delegate.
func (n *Node) observe(t MemberEventType, mn *memberlist.Node) {
	meta, err := decodeMeta(mn.Meta)
	if err != nil {
		n.stats.badFrames.Add(1)
		n.log.Warn("bad node metadata", "member", mn.Name, "err", err)
	}
	state := StateAlive
	now := n.clock.Now()
	n.membersMu.Lock()
	r := n.members[mn.Name]
	if r == nil {
		r = &memberRecord{}
		n.members[mn.Name] = r
	}
	if t == MemberDied {
		// memberlist marks a node that announced its own leave as
		// StateLeft; a node about to leave also says so in its metadata
		// first, in case its leave message is missed here.
		state = StateDead
		if mn.State == memberlist.StateLeft || r.meta.Leaving || meta.Leaving {
			t, state = MemberLeft, StateLeft
		}
	}
	if r.state != state {
		r.since = now
	}
	r.addr = mn.Address()
	r.state = state
	if err == nil {
		r.meta = meta
	}
	m := n.memberFrom(mn.Name, r)
	n.membersMu.Unlock()
	n.emit(MemberEvent{Type: t, Member: m, Time: now})
}

// emit queues a membership event for the event loop without blocking
// memberlist.
func (n *Node) emit(ev MemberEvent) {
	select {
	case n.events <- ev:
	default:
		n.log.Warn("membership event queue full; dropping event", "member", ev.Member.Name, "type", ev.Type)
		if ev.Type == MemberDied || ev.Type == MemberLeft {
			go n.nodeDown(ev.Member.Name)
		}
	}
}

// rejoinLoop retries peers this node saw but no longer sees alive (not
// those that left), and the seeds while alone: memberlist does not heal a
// partition by itself.
func (n *Node) rejoinLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.RejoinInterval)
	defer t.Stop()
	lastDiscovery := time.Time{}
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		if n.cfg.Discovery != nil && time.Since(lastDiscovery) >= n.cfg.DiscoveryInterval {
			lastDiscovery = time.Now()
			n.discover()
		}
		var addrs []string
		alive := 0
		n.membersMu.RLock()
		for name, r := range n.members {
			switch {
			case name == n.name:
			case r.state == StateAlive:
				alive++
			case r.state == StateDead:
				addrs = append(addrs, r.addr)
			}
		}
		if alive == 0 {
			addrs = append(addrs, n.seeds...)
		}
		n.membersMu.RUnlock()
		if len(addrs) == 0 {
			continue
		}
		rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
		if len(addrs) > 3 {
			addrs = addrs[:3]
		}
		if k, err := n.ml.Join(addrs); err == nil && k > 0 {
			n.log.Debug("rejoined peers", "contacted", k)
		}
	}
}

// delegate carries node metadata in memberlist.
type delegate struct {
	n    *Node
	meta atomic.Pointer[[]byte]
}

func (d *delegate) NodeMeta(limit int) []byte {
	b := *d.meta.Load()
	if len(b) > limit {
		return nil
	}
	return b
}
func (d *delegate) NotifyMsg(b []byte) { d.n.receiveDelta(b) }
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.n.bcast.GetBroadcasts(overhead, limit)
}
func (d *delegate) LocalState(join bool) []byte            { return d.n.snapshot() }
func (d *delegate) MergeRemoteState(buf []byte, join bool) { d.n.mergeSnapshot(buf) }

// eventDelegate turns memberlist's callbacks into member records.
type eventDelegate struct{ n *Node }

func (e *eventDelegate) NotifyJoin(m *memberlist.Node)   { e.n.observe(MemberJoined, m) }
func (e *eventDelegate) NotifyUpdate(m *memberlist.Node) { e.n.observe(MemberUpdated, m) }
func (e *eventDelegate) NotifyLeave(m *memberlist.Node)  { e.n.observe(MemberDied, m) }

// pingDelegate records round-trip times and clears suspicion when a probe
// succeeds. memberlist calls NotifyPingComplete only for the ack of a
// direct probe (memberlist v0.7.0 state.go probeNode), never for one
// relayed by an indirect probe, so it also records the last direct ack
// (see HealthSample.Links).
type pingDelegate struct{ n *Node }

func (p *pingDelegate) AckPayload() []byte { return nil }
func (p *pingDelegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, _ []byte) {
	p.n.membersMu.Lock()
	if r := p.n.members[other.Name]; r != nil {
		r.rtt = rtt
	}
	p.n.membersMu.Unlock()
	p.n.setSuspect(other.Name, false)
	noteDirectAck(p.n, other.Name)
}

// memberlistLog receives memberlist's log lines: it forwards them to slog
// and learns suspicions from them, which memberlist publishes nowhere else.
type memberlistLog struct{ n *Node }

func (w memberlistLog) Write(p []byte) (int, error) {
	line := string(p)
	if i := strings.Index(line, "memberlist: Suspect "); i >= 0 {
		rest := line[i+len("memberlist: Suspect "):]
		if j := strings.Index(rest, " has failed"); j > 0 {
			w.n.setSuspect(rest[:j], true)
		}
	}
	if !w.n.running() {
		// Errors while shutting down are expected (closed sockets).
		w.n.log.Debug(strings.TrimSpace(line), "component", "memberlist")
		return len(p), nil
	}
	return slogWriter{w.n.log}.Write(p)
}
