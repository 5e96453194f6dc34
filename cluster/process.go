package cluster

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Mailbox policy: mailboxes are unbounded. A process that falls behind keeps
// every message (nothing is dropped silently); its current length and its
// high-water mark are reported by ProcessInfo so that tools and health rules
// can see a growing backlog. Messages between one pair of processes arrive in
// the order they were sent, locally and across nodes.

// Process statuses reported by ProcessInfo.
const (
	StatusWaiting  = "waiting"  // idle, mailbox empty
	StatusRunnable = "runnable" // has messages, or is handling one
	StatusExiting  = "exiting"  // an exit signal is being processed
	StatusExited   = "exited"
)

// SpawnOptions tunes a new process.
type SpawnOptions struct {
	// Name registers the process under a node-local name (unique per node).
	Name string
	// Args is passed to Behavior.Init.
	Args []byte
	// LinkTo links the new process to this one atomically with the spawn.
	LinkTo PID
	// TrapExits turns exit signals from links into KindExit messages.
	TrapExits bool
	// Labels are free-form key/values shown in ProcessInfo (sandbox,
	// supervisor and child id use them).
	Labels map[string]string
}

// Process is a running process on this node. Behaviours receive their own
// *Process in every callback and use it to send, call, reply and link. Its
// methods are safe for concurrent use.
type Process struct {
	node      *Node
	pid       PID
	behavior  Behavior
	bname     string
	name      string
	labels    map[string]string
	startedAt time.Time

	mu         sync.Mutex
	queue      mailbox
	scheduled  bool // a goroutine owns the behaviour (running, initialising or exiting)
	exitReason Reason
	exiting    bool
	stopping   atomic.Bool // mirrors exiting, read without the lock between messages
	tracer     atomic.Pointer[tracer]
	exited     bool
	trapExits  bool
	msgsIn     uint64
	msgsOut    uint64
	highWater  int
	links      map[PID]struct{}
	monitors   map[monitorKey]struct{} // who monitors this process
	monitoring map[uint64]PID          // refs this process holds on others
	waiters    []chan struct{}
}

type monitorKey struct {
	watcher PID
	ref     uint64
}

// PID returns the process's PID.
func (p *Process) PID() PID { return p.pid }

// Node returns the node the process runs on.
func (p *Process) Node() *Node { return p.node }

// Send sends msg to another process, local or remote, with From set to p.
func (p *Process) Send(to PID, msg Message) error {
	msg.From = p.pid
	p.mu.Lock()
	p.msgsOut++
	p.mu.Unlock()
	if t := p.tracer.Load(); t != nil {
		t.emit(p, TraceSend, to, &msg, "")
	}
	return p.node.Send(to, msg)
}

// Call sends a request and waits for the reply or ctx's end.
func (p *Process) Call(ctx context.Context, to PID, msg Message) (Message, error) {
	msg.From = p.pid
	p.mu.Lock()
	p.msgsOut++
	p.mu.Unlock()
	if t := p.tracer.Load(); t != nil {
		t.emit(p, TraceSend, to, &msg, "")
	}
	return p.node.Call(ctx, to, msg)
}

// Reply answers a request received through Call.
func (p *Process) Reply(req Message, reply Message) error {
	reply.From = p.pid
	if t := p.tracer.Load(); t != nil {
		t.emit(p, TraceSend, req.From, &reply, "")
	}
	return p.node.Reply(req, reply)
}

// SendAfter delivers msg to to after d; the returned func cancels it.
func (p *Process) SendAfter(to PID, msg Message, d time.Duration) (cancel func() bool) {
	msg.From = p.pid
	return p.node.clock.AfterFunc(d, func() { _ = p.node.Send(to, msg) })
}

// Spawn starts a new process on this process's node.
func (p *Process) Spawn(b Behavior, opts SpawnOptions) (PID, error) {
	pid, err := p.node.SpawnBehavior(b, opts)
	if t := p.tracer.Load(); t != nil && err == nil {
		t.emit(p, TraceSpawn, pid, nil, "")
	}
	return pid, err
}

// Link links p with another process: when either exits abnormally, the
// other gets the exit signal.
func (p *Process) Link(ctx context.Context, other PID) error {
	return p.node.Link(ctx, p.pid, other)
}

// Monitor starts monitoring other: p receives a KindDown message when other
// exits. It returns the monitor reference.
func (p *Process) Monitor(ctx context.Context, other PID) (uint64, error) {
	return p.node.Monitor(ctx, p.pid, other)
}

// Demonitor removes a monitor made with Monitor.
func (p *Process) Demonitor(ctx context.Context, ref uint64) {
	p.node.Demonitor(ctx, p.pid, ref)
}

// Exit ends p with reason after the current message.
func (p *Process) Exit(reason Reason) { p.signalExit(reason, true) }

// SetTrapExits turns trapping of exit signals on or off.
func (p *Process) SetTrapExits(on bool) {
	p.mu.Lock()
	p.trapExits = on
	p.mu.Unlock()
}

// deliver enqueues a message; it reports false when the process has exited.
func (p *Process) deliver(m Message) bool {
	p.mu.Lock()
	if p.exiting {
		p.mu.Unlock()
		return false
	}
	p.queue.push(m)
	p.msgsIn++
	if n := p.queue.n; n > p.highWater {
		p.highWater = n
	}
	start := !p.scheduled
	p.scheduled = true
	p.mu.Unlock()
	if start {
		go p.run()
	}
	return true
}

// idleSpins is how many times a drained process yields before it gives
// its goroutine back.
const idleSpins = 2

// run drains the mailbox in batches until it is empty or the process exits.
func (p *Process) run() {
	spins := 0
	for {
		p.mu.Lock()
		if p.exiting {
			p.mu.Unlock()
			p.finish()
			return
		}
		if p.queue.n == 0 {
			if spins < idleSpins {
				// Under a steady stream the next message is usually a
				// moment away: yielding once is far cheaper than parking
				// and starting a goroutine again.
				p.mu.Unlock()
				spins++
				runtime.Gosched()
				continue
			}
			p.scheduled = false
			p.mu.Unlock()
			return
		}
		spins = 0
		seg := p.queue.takeAll()
		p.mu.Unlock()
		for seg != nil {
			for i := range seg.buf {
				if p.stopping.Load() {
					break
				}
				if reason, failed := p.handle(seg.buf[i]); failed {
					p.signalExit(reason, false)
				}
			}
			next := seg.next
			seg.release()
			seg = next
		}
	}
}

// handle runs the behaviour on one message, turning errors and panics into
// exit reasons.
func (p *Process) handle(m Message) (reason Reason, failed bool) {
	defer func() {
		if r := recover(); r != nil {
			p.node.log.Warn("process panicked", "pid", p.pid.String(), "behavior", p.bname, "panic", r, "stack", string(debug.Stack()))
			reason, failed = Reason(fmt.Sprintf("panic: %v", r)), true
		}
	}()
	if t := p.tracer.Load(); t != nil {
		t.emit(p, TraceReceive, m.From, &m, "")
	}
	if err := p.behavior.Handle(p, m); err != nil {
		return Reason(err.Error()), true
	}
	return "", false
}

// signalExit marks p as exiting with reason. When no goroutine owns the
// behaviour, the caller finishes the exit itself (so killing an idle
// process completes before Kill returns); otherwise the owning goroutine
// does after the current message. fromOwner is true when the caller is that
// goroutine.
func (p *Process) signalExit(reason Reason, _ bool) {
	p.mu.Lock()
	if p.exiting {
		p.mu.Unlock()
		return
	}
	p.exiting = true
	p.stopping.Store(true)
	p.exitReason = reason
	finishNow := !p.scheduled
	p.scheduled = true
	p.mu.Unlock()
	if finishNow {
		p.finish()
	}
}

// finish runs Terminate, unregisters p and notifies links and monitors.
func (p *Process) finish() {
	p.mu.Lock()
	if p.exited {
		p.mu.Unlock()
		return
	}
	reason := p.exitReason
	p.mu.Unlock()

	func() {
		defer func() {
			if r := recover(); r != nil {
				p.node.log.Warn("terminate panicked", "pid", p.pid.String(), "panic", r)
			}
		}()
		p.behavior.Terminate(p, reason)
	}()

	info := p.Info()
	if t := p.tracer.Load(); t != nil {
		t.emit(p, TraceExit, PID{}, nil, reason)
	}
	p.node.procs.remove(p)
	p.mu.Lock()
	p.exited = true
	for seg := p.queue.takeAll(); seg != nil; seg = seg.next {
		seg.release()
	}
	links, monitors, monitoring, waiters := p.links, p.monitors, p.monitoring, p.waiters
	p.links, p.monitors, p.monitoring, p.waiters = nil, nil, nil, nil
	p.mu.Unlock()

	n := p.node
	for other := range links {
		n.sendExitSignal(p.pid, other, reason)
	}
	for k := range monitors {
		n.sendDown(k.watcher, p.pid, k.ref, reason)
	}
	for ref, target := range monitoring {
		n.dropWatch(target, p.pid, ref)
	}
	for _, w := range waiters {
		close(w)
	}
	n.exitMu.RLock()
	hooks := n.onExit
	n.exitMu.RUnlock()
	for _, h := range hooks {
		h(info, reason)
	}
}

// exitSignal applies an exit signal from a linked process.
func (p *Process) exitSignal(from PID, reason Reason) {
	p.mu.Lock()
	if p.exiting {
		p.mu.Unlock()
		return
	}
	delete(p.links, from)
	trap := p.trapExits
	p.mu.Unlock()
	switch {
	case reason == ReasonKilled && !trap:
		p.signalExit(ReasonKilled, false)
	case trap:
		p.deliver(Message{From: from, Kind: KindExit, Body: []byte(reason)})
	case reason == ReasonNormal:
		// A normal exit of a linked process does not propagate.
	default:
		p.signalExit(reason, false)
	}
}

// wait returns a channel closed when p has exited.
func (p *Process) wait() <-chan struct{} {
	ch := make(chan struct{})
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		close(ch)
		return ch
	}
	p.waiters = append(p.waiters, ch)
	return ch
}

// ProcessInfo is a snapshot of one process, as shown by tools.
type ProcessInfo struct {
	PID              PID               `json:"pid"`
	Node             string            `json:"node"`
	Name             string            `json:"name,omitempty"`
	Registered       []string          `json:"registered,omitempty"`
	Behavior         string            `json:"behavior"`
	Status           string            `json:"status"`
	Mailbox          int               `json:"mailbox"`
	MailboxHighWater int               `json:"mailbox_high_water"`
	MessagesIn       uint64            `json:"messages_in"`
	MessagesOut      uint64            `json:"messages_out"`
	StartedAt        time.Time         `json:"started_at"`
	Links            []PID             `json:"links,omitempty"`
	Monitors         []PID             `json:"monitors,omitempty"`
	Monitoring       []PID             `json:"monitoring,omitempty"`
	TrapExits        bool              `json:"trap_exits,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
}

// Info returns a snapshot of p.
func (p *Process) Info() ProcessInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	info := ProcessInfo{
		PID:              p.pid,
		Node:             p.pid.Node,
		Name:             p.name,
		Behavior:         p.bname,
		Mailbox:          p.queue.n,
		MailboxHighWater: p.highWater,
		MessagesIn:       p.msgsIn,
		MessagesOut:      p.msgsOut,
		StartedAt:        p.startedAt,
		TrapExits:        p.trapExits,
		Labels:           p.labels,
		Registered:       p.node.registry.registeredNames(p.pid),
	}
	switch {
	case p.exited:
		info.Status = StatusExited
	case p.exiting:
		info.Status = StatusExiting
	case p.scheduled:
		info.Status = StatusRunnable
	default:
		info.Status = StatusWaiting
	}
	for l := range p.links {
		info.Links = append(info.Links, l)
	}
	for k := range p.monitors {
		info.Monitors = append(info.Monitors, k.watcher)
	}
	for _, t := range p.monitoring {
		info.Monitoring = append(info.Monitoring, t)
	}
	sortPIDs(info.Links)
	sortPIDs(info.Monitors)
	sortPIDs(info.Monitoring)
	return info
}

// sortPIDs sorts ps in place. Most processes have no links or monitors:
// only a slice with an order is sorted, and without sort.Slice's
// allocations (Info runs for every row of a process listing).
func sortPIDs(ps []PID) {
	if len(ps) > 1 {
		slices.SortFunc(ps, comparePID)
	}
}

func comparePID(a, b PID) int {
	switch {
	case a.Node < b.Node:
		return -1
	case a.Node > b.Node:
		return 1
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

// procTable is the node's process table, sharded to keep lock hold times
// short under concurrent sends.
type procTable struct {
	shards [64]procShard
	names  sync.Map // local name -> *Process
}

type procShard struct {
	mu sync.RWMutex
	m  map[uint64]*Process
}

func (t *procTable) get(id uint64) *Process {
	s := &t.shards[id%uint64(len(t.shards))]
	s.mu.RLock()
	p := s.m[id]
	s.mu.RUnlock()
	return p
}

func (t *procTable) put(p *Process) {
	s := &t.shards[p.pid.ID%uint64(len(t.shards))]
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[uint64]*Process)
	}
	s.m[p.pid.ID] = p
	s.mu.Unlock()
}

func (t *procTable) remove(p *Process) {
	s := &t.shards[p.pid.ID%uint64(len(t.shards))]
	s.mu.Lock()
	delete(s.m, p.pid.ID)
	s.mu.Unlock()
	if p.name != "" {
		t.names.CompareAndDelete(p.name, p)
	}
}

func (t *procTable) all() []*Process {
	var out []*Process
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for _, p := range s.m {
			out = append(out, p)
		}
		s.mu.RUnlock()
	}
	return out
}

func (t *procTable) count() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
