package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Tracing: a node starts a trace session on a process anywhere in the
// cluster with StartTrace. The process's node (the collector) hooks a
// tracer on the process, records its events there and streams them in
// batches (trace.events, one-way, in order) to the node that asked (the
// requester), which keeps them for Trace, Traces and OnTraceEvent. A
// session ends when its duration passes, MaxEvents events were recorded,
// the process exits (the exit event is the last one), the requester stops
// it, or the other node is lost.
//
// The hot path is in tracehook.go; this file holds the session goroutine,
// the RPC methods and the requester's bookkeeping.

// RPC methods of tracing.
const (
	methodTraceStart  = "trace.start"
	methodTraceEvents = "trace.events"
	methodTraceStop   = "trace.stop"
)

// Trace end reasons, as in TraceInfo.EndReason.
const (
	// TraceEndDuration: the session's Duration passed.
	TraceEndDuration = "duration"
	// TraceEndMaxEvents: MaxEvents events were recorded.
	TraceEndMaxEvents = "max_events"
	// TraceEndProcessExit: the traced process exited.
	TraceEndProcessExit = "process_exit"
	// TraceEndStopped: StopTrace ended it.
	TraceEndStopped = "stopped"
	// TraceEndNodeLost: the traced node died or left before the end
	// reached the requester.
	TraceEndNodeLost = "node_lost"
)

// Bounds and defaults of trace options.
const (
	// DefaultTraceDuration is the Duration of a session that names none.
	DefaultTraceDuration = 30 * time.Second
	// MinTraceDuration is the shortest Duration accepted.
	MinTraceDuration = 10 * time.Millisecond
	// MaxTraceDuration is the longest Duration accepted.
	MaxTraceDuration = 10 * time.Minute
	// DefaultTraceMaxEvents is the MaxEvents of a session that names none.
	DefaultTraceMaxEvents = 1000
	// MaxTraceMaxEvents is the largest MaxEvents accepted.
	MaxTraceMaxEvents = 100_000
)

// Bounds of what a node keeps.
const (
	// TraceHistory is how many sessions a requesting node remembers
	// (running and ended); the oldest ended ones are forgotten first.
	TraceHistory = 100
	// MaxStoredTraceEvents bounds the events a requesting node keeps over
	// all remembered sessions, counted by their MaxEvents.
	MaxStoredTraceEvents = 1_000_000
	// MaxTracedProcesses bounds the sessions one node collects at once.
	MaxTracedProcesses = 256
)

const (
	// Waiting events are sent within traceFlushEvery, or within
	// traceFlushGap once traceBatchSize of them wait; batches of a busy
	// process are at least traceFlushGap apart (each wake-up of the
	// session goroutine costs the node more than a batch's events do).
	traceFlushEvery = 50 * time.Millisecond
	traceFlushGap   = 10 * time.Millisecond
	traceBatchSize  = 100
	// traceBufStart and traceBufMax bound the events waiting on the
	// collector; more are dropped and counted rather than slowing the
	// process. A session of at most traceBufStart events never drops. A
	// buffer that fills up is replaced by one four times larger, up to
	// traceBufMax: enough for a process that records a million events per
	// second while the session goroutine waits a scheduler time slice.
	traceBufStart = 4096
	traceBufMax   = 16384
	// traceMaxRate bounds the events a session records per second on
	// average (bursts of up to traceBufMax pass): the work of recording
	// (encoding, storing, garbage) then stays a few percent of the node
	// however busy the process is. Events over it are dropped and counted.
	// A recorded event costs about 150 ns of CPU all told (the clock read
	// alone is 50 ns on a VM), a dropped one about 1 ns: at 200 000/s a
	// process answering calls at full rate lost 15% of its throughput
	// (BenchmarkTraceOverhead/call), at 50 000/s it stays under 5%. That
	// is still 50 000 events a second, more than anyone reads.
	traceMaxRate = 50_000
	// traceChunk bounds the events of one batch sent (a batch of the
	// longest events stays well under the RPC frame limit), traceMaxBatch
	// those of one batch accepted from the network.
	traceChunk    = 2048
	traceMaxBatch = 4096
	// traceGrace is how long after its duration a requester waits for a
	// session's end before closing it itself.
	traceGrace = 5 * time.Second
	// traceStopWait bounds how long StopTrace waits for the last batch.
	traceStopWait = 2 * time.Second
	// traceSettleWait bounds how long an ended session waits for its
	// process to count its last drops (it does at its next event, or
	// when idle: see tracer); traceSettlePoll is how often it looks.
	traceSettleWait = time.Second
	traceSettlePoll = 2 * time.Millisecond
	// maxTraceIDLen bounds session ids read from the network.
	maxTraceIDLen = MaxNodeNameLen + 24
)

// ErrBadTraceOptions reports invalid TraceOptions.
var ErrBadTraceOptions = errors.New("cluster: bad trace options")

// TraceOptions configures a trace session.
type TraceOptions struct {
	// Kinds are the event kinds to record: a subset of send, receive,
	// spawn, exit. Empty records all of them. The session ends when the
	// process exits whether or not exit is recorded.
	Kinds []string `json:"kinds,omitempty"`
	// Duration bounds the session: default DefaultTraceDuration, between
	// MinTraceDuration and MaxTraceDuration.
	Duration time.Duration `json:"duration,omitempty"`
	// MaxEvents ends the session once that many events were recorded:
	// default DefaultTraceMaxEvents, at most MaxTraceMaxEvents.
	MaxEvents int `json:"max_events,omitempty"`
}

// Validate names the first invalid field.
func (o TraceOptions) Validate() error {
	_, err := o.normalize()
	return err
}

// normalize validates o and returns it with defaults filled in and Kinds
// deduplicated in canonical order.
func (o TraceOptions) normalize() (TraceOptions, error) {
	mask, err := traceKindMask(o.Kinds)
	if err != nil {
		return o, err
	}
	switch {
	case o.Duration < 0:
		return o, fmt.Errorf("%w: Duration %v is negative", ErrBadTraceOptions, o.Duration)
	case o.Duration == 0:
		o.Duration = DefaultTraceDuration
	case o.Duration < MinTraceDuration:
		return o, fmt.Errorf("%w: Duration %v is under the minimum %v", ErrBadTraceOptions, o.Duration, MinTraceDuration)
	case o.Duration > MaxTraceDuration:
		return o, fmt.Errorf("%w: Duration %v is over the maximum %v", ErrBadTraceOptions, o.Duration, MaxTraceDuration)
	}
	switch {
	case o.MaxEvents < 0:
		return o, fmt.Errorf("%w: MaxEvents %d is negative", ErrBadTraceOptions, o.MaxEvents)
	case o.MaxEvents == 0:
		o.MaxEvents = DefaultTraceMaxEvents
	case o.MaxEvents > MaxTraceMaxEvents:
		return o, fmt.Errorf("%w: MaxEvents %d is over the maximum %d", ErrBadTraceOptions, o.MaxEvents, MaxTraceMaxEvents)
	}
	o.Kinds = traceKindList(mask)
	return o, nil
}

// traceKindMask turns a kind list into a mask; empty means all kinds.
func traceKindMask(kinds []string) (uint8, error) {
	if len(kinds) == 0 {
		return traceBitsAll, nil
	}
	if len(kinds) > 16 {
		return 0, fmt.Errorf("%w: Kinds has %d entries, want a subset of send, receive, spawn, exit", ErrBadTraceOptions, len(kinds))
	}
	var mask uint8
	for _, k := range kinds {
		bit := traceKindBit(k)
		if bit == 0 {
			return 0, fmt.Errorf("%w: Kinds: unknown kind %q (want send, receive, spawn or exit)", ErrBadTraceOptions, cutString(k, 64))
		}
		mask |= bit
	}
	return mask, nil
}

func traceKindList(mask uint8) []string {
	var out []string
	for _, bit := range []uint8{traceBitSend, traceBitReceive, traceBitSpawn, traceBitExit} {
		if mask&bit != 0 {
			out = append(out, traceKindName(bit))
		}
	}
	return out
}

// TraceInfo describes a trace session as the requesting node knows it.
type TraceInfo struct {
	// ID names the session cluster-wide: "<node>/<seq>", node being where
	// the process runs.
	ID   string `json:"id"`
	PID  PID    `json:"pid"`
	Node string `json:"node"`
	// Kinds are the recorded kinds, in canonical order.
	Kinds []string `json:"kinds"`
	// Duration and MaxEvents are the session's bounds.
	Duration  time.Duration `json:"duration"`
	MaxEvents int           `json:"max_events"`
	Started   time.Time     `json:"started"`
	// Ended is zero while the session runs.
	Ended time.Time `json:"ended,omitzero"`
	// EndReason is one of the TraceEnd* reasons once ended.
	EndReason string `json:"end_reason,omitempty"`
	// Events is how many events arrived; Dropped how many were lost (the
	// collector's buffer was full, or a batch was lost on the way).
	Events  int `json:"events"`
	Dropped int `json:"dropped"`
}

// Running reports whether the session has not ended.
func (i TraceInfo) Running() bool { return i.EndReason == "" }

// TraceSnapshot is a session's state and a run of its events.
type TraceSnapshot struct {
	Info   TraceInfo    `json:"info"`
	Events []TraceEvent `json:"events"`
}

// traces is the node's trace subsystem: the sessions it collects for
// others (collectors, by id) and the sessions it started (sessions).
type traces struct {
	n      *Node
	seq    atomic.Uint64 // session ids
	tokens atomic.Uint64 // requester-side session tokens

	cmu        sync.Mutex
	collectors map[string]*collector
	byPID      map[uint64]*collector
	ncoll      atomic.Int32

	smu      sync.Mutex
	history  []*session // oldest first
	byID     map[string]*session
	byToken  map[uint64]*session
	lsnSeq   uint64
	onEvent  map[uint64]func(string, TraceEvent)
	onEnd    map[uint64]func(TraceInfo)
	reserved int // sum of MaxEvents over history
}

// initTracing attaches the subsystem to the node; NewNode calls it.
func (n *Node) initTracing() {
	ts := &traces{
		n:          n,
		collectors: make(map[string]*collector),
		byPID:      make(map[uint64]*collector),
		byID:       make(map[string]*session),
		byToken:    make(map[uint64]*session),
		onEvent:    make(map[uint64]func(string, TraceEvent)),
		onEnd:      make(map[uint64]func(TraceInfo)),
	}
	// Session ids start from the boot time in microseconds so that a
	// restarted node never reuses the id of an earlier session.
	ts.seq.Store(uint64(max(0, n.clock.Now().UnixMicro())))
	n.traces = ts
	n.HandleRPC(methodTraceStart, ts.handleStart)
	n.HandleRPC(methodTraceEvents, ts.handleEvents)
	n.HandleRPC(methodTraceStop, ts.handleStop)
	n.OnProcessExit(ts.processExited)
	n.Subscribe(ts.memberChanged)
}

// ---- requester side ----

// session is a trace this node started.
type session struct {
	token uint64
	// deliver orders the delivery of one session's batches to listeners.
	deliver sync.Mutex

	mu       sync.Mutex
	info     TraceInfo
	batches  []storedBatch // in Seq order
	count    int           // events in batches
	lastSeq  uint64
	lost     uint64 // events missing from seq gaps
	done     chan struct{}
	watchdog func() bool
}

// storedBatch keeps a batch's events in their wire encoding: compact and
// free of pointers (the collector of a busy process sends many events);
// Trace and the listeners decode them.
type storedBatch struct {
	first, last uint64
	count       int
	data        []byte
}

// StartTrace starts tracing the process pid, on any node, and returns the
// new session. The events are collected where the process runs and
// streamed to this node: read them with Trace, or push them with
// OnTraceEvent. Errors: ErrBadTraceOptions, an *RPCError not_found for a
// missing process, node_unreachable for an unreachable node, conflict when
// the process is already traced.
func (n *Node) StartTrace(ctx context.Context, pid PID, opts TraceOptions) (TraceInfo, error) {
	if !n.running() {
		return TraceInfo{}, ErrStopped
	}
	opts, err := opts.normalize()
	if err != nil {
		return TraceInfo{}, err
	}
	if pid.Node == "" || pid.ID == 0 {
		return TraceInfo{}, fmt.Errorf("%w: %q: cannot trace it", ErrBadPID, pid.String())
	}
	ts := n.traces
	s, err := ts.newSession(pid, opts)
	if err != nil {
		return TraceInfo{}, err
	}
	var resp traceStartResponse
	err = n.RequestJSON(ctx, pid.Node, methodTraceStart, traceStartRequest{Token: s.token, PID: pid, Options: opts}, &resp)
	if err == nil && !validTraceID(resp.ID, pid.Node) {
		err = &RPCError{Code: CodeInternal, Node: pid.Node, Message: fmt.Sprintf("bad trace session id %q", cutString(resp.ID, 64))}
	}
	if err != nil {
		ts.discard(s)
		return TraceInfo{}, fmt.Errorf("cluster: start trace of %s: %w", pid, err)
	}
	return ts.activate(s, resp), nil
}

type traceStartRequest struct {
	Token   uint64       `json:"token"`
	PID     PID          `json:"pid"`
	Options TraceOptions `json:"options"`
}

type traceStartResponse struct {
	ID      string    `json:"id"`
	Started time.Time `json:"started"`
}

func validTraceID(id, node string) bool {
	if len(id) > maxTraceIDLen || !strings.HasPrefix(id, node+"/") {
		return false
	}
	_, err := strconv.ParseUint(id[len(node)+1:], 10, 64)
	return err == nil
}

// newSession reserves room in the history for a session about to start.
func (ts *traces) newSession(pid PID, opts TraceOptions) (*session, error) {
	s := &session{
		token: ts.tokens.Add(1),
		info: TraceInfo{
			PID: pid, Node: pid.Node, Kinds: opts.Kinds,
			Duration: opts.Duration, MaxEvents: opts.MaxEvents,
		},
		done: make(chan struct{}),
	}
	ts.smu.Lock()
	defer ts.smu.Unlock()
	for len(ts.history) >= TraceHistory || ts.reserved+opts.MaxEvents > MaxStoredTraceEvents {
		if !ts.evictOldestEndedLocked() {
			return nil, fmt.Errorf("cluster: start trace of %s on %s: %d sessions hold %d of %d stored events; stop or wait for one", pid, ts.n.name, len(ts.history), ts.reserved, MaxStoredTraceEvents)
		}
	}
	ts.history = append(ts.history, s)
	ts.byToken[s.token] = s
	ts.reserved += opts.MaxEvents
	return s, nil
}

// evictOldestEndedLocked forgets the oldest ended session.
func (ts *traces) evictOldestEndedLocked() bool {
	for i, s := range ts.history {
		s.mu.Lock()
		ended := s.info.EndReason != ""
		id, maxEvents := s.info.ID, s.info.MaxEvents
		s.mu.Unlock()
		if !ended {
			continue
		}
		ts.history = slices.Delete(ts.history, i, i+1)
		if ts.byID[id] == s {
			delete(ts.byID, id)
		}
		if ts.byToken[s.token] == s {
			delete(ts.byToken, s.token)
		}
		ts.reserved -= maxEvents
		return true
	}
	return false
}

// discard forgets a session whose start failed.
func (ts *traces) discard(s *session) {
	ts.smu.Lock()
	defer ts.smu.Unlock()
	if i := slices.Index(ts.history, s); i >= 0 {
		ts.history = slices.Delete(ts.history, i, i+1)
		ts.reserved -= s.info.MaxEvents
	}
	delete(ts.byToken, s.token)
}

// activate records the collector's answer and arms the watchdog that
// closes the session if its end never arrives.
func (ts *traces) activate(s *session, resp traceStartResponse) TraceInfo {
	s.mu.Lock()
	s.info.ID, s.info.Started = resp.ID, resp.Started
	if s.info.EndReason == "" {
		s.watchdog = ts.n.clock.AfterFunc(s.info.Duration+traceGrace, func() { ts.expire(s) })
	}
	info := s.snapshotInfoLocked()
	s.mu.Unlock()
	ts.smu.Lock()
	ts.byID[resp.ID] = s
	ts.smu.Unlock()
	return info
}

// expire closes a session whose end did not arrive in time.
func (ts *traces) expire(s *session) {
	reason := TraceEndDuration
	if st := ts.n.MemberState(s.info.Node); st != StateAlive && st != StateSuspect {
		reason = TraceEndNodeLost
	}
	ts.finish(s, reason, ts.n.clock.Now())
}

// finish ends a session on this node (first reason wins) and tells the
// end listeners.
func (ts *traces) finish(s *session, reason string, at time.Time) {
	s.mu.Lock()
	if s.info.EndReason != "" {
		s.mu.Unlock()
		return
	}
	ts.endLocked(s, reason, at)
	info := s.snapshotInfoLocked()
	s.mu.Unlock()
	ts.ended(s, info)
}

func (ts *traces) endLocked(s *session, reason string, at time.Time) {
	s.info.EndReason, s.info.Ended = reason, at
	close(s.done)
	if s.watchdog != nil {
		s.watchdog()
	}
}

// ended forgets the session's token and runs the end listeners.
func (ts *traces) ended(s *session, info TraceInfo) {
	ts.smu.Lock()
	if ts.byToken[s.token] == s {
		delete(ts.byToken, s.token)
	}
	fns := make([]func(TraceInfo), 0, len(ts.onEnd))
	for _, fn := range ts.onEnd {
		fns = append(fns, fn)
	}
	ts.smu.Unlock()
	for _, fn := range fns {
		fn(info)
	}
}

func (s *session) snapshotInfoLocked() TraceInfo {
	info := s.info
	info.Events = s.count
	return info
}

func (ts *traces) lookup(id string) (*session, error) {
	ts.smu.Lock()
	s := ts.byID[id]
	ts.smu.Unlock()
	if s == nil {
		return nil, &RPCError{Code: CodeNotFound, Node: ts.n.name, Message: fmt.Sprintf("no trace session %q started from this node (it keeps the last %d)", cutString(id, maxTraceIDLen), TraceHistory)}
	}
	return s, nil
}

// Trace returns a session started from this node with its events whose
// Seq is above afterSeq, in order (0 for all). Poll with the last Seq seen
// to follow a running session.
func (n *Node) Trace(id string, afterSeq uint64) (TraceSnapshot, error) {
	s, err := n.traces.lookup(id)
	if err != nil {
		return TraceSnapshot{}, err
	}
	s.mu.Lock()
	info := s.snapshotInfoLocked()
	i := sort.Search(len(s.batches), func(i int) bool { return s.batches[i].last > afterSeq })
	batches := s.batches[i:len(s.batches):len(s.batches)]
	s.mu.Unlock()
	snap := TraceSnapshot{Info: info}
	if len(batches) > 0 {
		dec := newTraceEventDecoder(info.Node, info.PID)
		for _, b := range batches {
			var err error
			snap.Events, err = dec.decode(snap.Events, b.data, b.count, afterSeq)
			if err != nil { // checked on arrival: cannot happen
				return snap, fmt.Errorf("cluster: trace %s: %w", id, err)
			}
		}
	}
	return snap, nil
}

// Traces lists the sessions started from this node, newest first (the
// last TraceHistory of them).
func (n *Node) Traces() []TraceInfo {
	ts := n.traces
	ts.smu.Lock()
	hist := slices.Clone(ts.history)
	ts.smu.Unlock()
	out := make([]TraceInfo, 0, len(hist))
	for i := len(hist) - 1; i >= 0; i-- {
		s := hist[i]
		s.mu.Lock()
		info := s.snapshotInfoLocked()
		s.mu.Unlock()
		if info.ID == "" {
			continue // still starting
		}
		out = append(out, info)
	}
	return out
}

// StopTrace ends a session started from this node and waits (within ctx,
// and at most a couple of seconds) for its last events. Stopping an ended
// session does nothing. When the traced node cannot be reached the session
// ends as node_lost.
func (n *Node) StopTrace(ctx context.Context, id string) error {
	ts := n.traces
	s, err := ts.lookup(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	ended, node := s.info.EndReason != "", s.info.Node
	s.mu.Unlock()
	if ended {
		return nil
	}
	b, _ := json.Marshal(traceStopRequest{ID: id})
	if _, err := n.Request(ctx, node, methodTraceStop, b); err != nil {
		switch ErrorCode(err) {
		case CodeNotFound:
			// The collector already ended it: its last batch is on the way.
		case CodeNodeUnreachable:
			ts.finish(s, TraceEndNodeLost, n.clock.Now())
			return nil
		default:
			return fmt.Errorf("cluster: stop trace %s: %w", id, err)
		}
	}
	wait := time.NewTimer(traceStopWait)
	defer wait.Stop()
	select {
	case <-s.done:
	case <-wait.C:
		ts.finish(s, TraceEndStopped, n.clock.Now())
	case <-ctx.Done():
		ts.finish(s, TraceEndStopped, n.clock.Now())
	}
	return nil
}

type traceStopRequest struct {
	ID string `json:"id"`
}

// OnTraceEvent registers fn to receive every event of the sessions this
// node started, as they arrive. Events of one session come in order;
// different sessions may call fn concurrently. fn must not block for
// long. The returned func unregisters it.
func (n *Node) OnTraceEvent(fn func(id string, ev TraceEvent)) (cancel func()) {
	ts := n.traces
	ts.smu.Lock()
	ts.lsnSeq++
	key := ts.lsnSeq
	ts.onEvent[key] = fn
	ts.smu.Unlock()
	return func() {
		ts.smu.Lock()
		delete(ts.onEvent, key)
		ts.smu.Unlock()
	}
}

// OnTraceEnd registers fn to run once when a session this node started
// ends, with its final info. fn must not block for long. The returned func
// unregisters it.
func (n *Node) OnTraceEnd(fn func(TraceInfo)) (cancel func()) {
	ts := n.traces
	ts.smu.Lock()
	ts.lsnSeq++
	key := ts.lsnSeq
	ts.onEnd[key] = fn
	ts.smu.Unlock()
	return func() {
		ts.smu.Lock()
		delete(ts.onEnd, key)
		ts.smu.Unlock()
	}
}

// traceBatch is a run of one session's events, sent by the collector to
// the requester. The last batch of a session carries End.
type traceBatch struct {
	Token   uint64
	ID      string
	Dropped uint64 // dropped on the collector so far
	End     string
	Ended   time.Time
	// Count events, Seq First to Last, in their wire encoding.
	Count       int
	First, Last uint64
	Data        []byte
}

// handleEvents receives a batch from a collector.
func (ts *traces) handleEvents(_ context.Context, from string, b []byte) ([]byte, error) {
	batch, err := decodeTraceBatch(b)
	if err == nil {
		batch.Data = slices.Clone(batch.Data) // kept: do not alias the frame
		err = ts.ingest(from, &batch)
	}
	if err != nil {
		ts.n.stats.badFrames.Add(1)
		ts.n.log.Debug("trace batch refused", "from", from, "err", err)
		return nil, err
	}
	return nil, nil
}

// ingest stores a batch in its session and tells the listeners. Batches
// from the network are checked against the session: right node, ids, and
// sequence numbers that only go up within the session's bounds.
func (ts *traces) ingest(from string, b *traceBatch) error {
	ts.smu.Lock()
	s := ts.byToken[b.Token]
	nlisteners := len(ts.onEvent)
	ts.smu.Unlock()
	if s == nil {
		if from != ts.n.name && b.End == "" && validTraceID(b.ID, from) {
			// Nobody here waits for it (a start whose answer was lost, a
			// session ended here first): ask the collector to stop.
			payload, _ := json.Marshal(traceStopRequest{ID: b.ID})
			go func() { _ = ts.n.Notify(ts.n.ctx, from, methodTraceStop, payload) }()
		}
		return nil
	}
	s.deliver.Lock()
	defer s.deliver.Unlock()
	s.mu.Lock()
	if err := s.checkLocked(from, b); err != nil {
		s.mu.Unlock()
		return err
	}
	if s.info.EndReason != "" {
		s.mu.Unlock()
		return nil
	}
	if s.info.ID == "" {
		s.info.ID = b.ID
	}
	if b.Count > 0 {
		s.lost += b.Last - s.lastSeq - uint64(b.Count)
		s.lastSeq = b.Last
		s.batches = append(s.batches, storedBatch{first: b.First, last: b.Last, count: b.Count, data: b.Data})
		s.count += b.Count
	}
	s.info.Dropped = int(min(b.Dropped+s.lost, uint64(1<<31-1)))
	id, node, pid := s.info.ID, s.info.Node, s.info.PID
	var info TraceInfo
	if b.End != "" {
		ts.endLocked(s, b.End, b.Ended)
		info = s.snapshotInfoLocked()
	}
	s.mu.Unlock()

	if b.Count > 0 && nlisteners > 0 {
		ts.smu.Lock()
		fns := make([]func(string, TraceEvent), 0, len(ts.onEvent))
		for _, fn := range ts.onEvent {
			fns = append(fns, fn)
		}
		ts.smu.Unlock()
		evs, err := newTraceEventDecoder(node, pid).decode(nil, b.Data, b.Count, 0)
		if err != nil {
			ts.n.log.Warn("trace batch undecodable", "id", id, "err", err)
		}
		for _, fn := range fns {
			for _, ev := range evs {
				fn(id, ev)
			}
		}
	}
	if b.End != "" {
		ts.ended(s, info)
	}
	return nil
}

// checkLocked validates a batch against its session.
func (s *session) checkLocked(from string, b *traceBatch) error {
	if from != s.info.Node {
		return fmt.Errorf("%w: trace batch for %s from node %s", ErrBadFrame, s.info.PID, from)
	}
	if s.info.ID != "" && b.ID != s.info.ID || !validTraceID(b.ID, from) {
		return fmt.Errorf("%w: trace batch id %q does not match session %q", ErrBadFrame, cutString(b.ID, maxTraceIDLen), s.info.ID)
	}
	if b.Count > 0 && (b.First <= s.lastSeq || b.Last > uint64(s.info.MaxEvents)) {
		return fmt.Errorf("%w: trace events %d..%d after %d (max %d)", ErrBadFrame, b.First, b.Last, s.lastSeq, s.info.MaxEvents)
	}
	return nil
}

// ---- collector side ----

// collector runs one session on the traced process's node.
type collector struct {
	ts          *traces
	t           *tracer
	id          string
	token       uint64
	requester   string
	pid         PID
	duration    time.Duration
	started     time.Time
	sent        uint64     // events sent so far
	sentDropped uint64     // dropped count last sent
	inUse       []rawEvent // the buffer emit fills (its full capacity)
	spare       []rawEvent // the buffer emit fills next (nil until needed)
	bufCap      int        // the buffers' size
	// The recording budget (traceMaxRate): tokens are events that may
	// still be recorded; allowed is the capacity given to the buffer in
	// use, paid in advance and refunded for what it did not record.
	tokens   float64
	allowed  int
	refilled time.Time
	bufMax   int // how far the buffers may grow
	done     chan struct{}
}

// handleStart starts a session on a local process for a requester.
func (ts *traces) handleStart(_ context.Context, from string, b []byte) ([]byte, error) {
	var req traceStartRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, fmt.Errorf("%w: trace start: %v", ErrBadFrame, err)
	}
	resp, err := ts.startCollector(from, req)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

func (ts *traces) startCollector(from string, req traceStartRequest) (traceStartResponse, error) {
	n := ts.n
	opts, err := req.Options.normalize()
	if err != nil {
		return traceStartResponse{}, &RPCError{Code: CodeBadRequest, Node: n.name, Message: err.Error()}
	}
	if req.PID.Node != n.name {
		return traceStartResponse{}, &RPCError{Code: CodeBadRequest, Node: n.name, Message: fmt.Sprintf("%s is not on %s", req.PID, n.name)}
	}
	p := n.procs.get(req.PID.ID)
	if p == nil {
		return traceStartResponse{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no process %s", req.PID)}
	}
	mask, _ := traceKindMask(opts.Kinds)
	t := newTracer(p, mask, opts.MaxEvents, min(opts.MaxEvents, traceBufStart), n.clock)
	c := &collector{
		ts: ts, t: t, token: req.Token, requester: from, pid: req.PID,
		duration: opts.Duration, started: n.clock.Now(),
		bufCap: cap(t.buf), bufMax: min(opts.MaxEvents, traceBufMax),
		inUse: t.buf, allowed: cap(t.buf), refilled: time.Now(),
		done: make(chan struct{}),
	}
	ts.cmu.Lock()
	if len(ts.collectors) >= MaxTracedProcesses {
		ts.cmu.Unlock()
		return traceStartResponse{}, &RPCError{Code: CodeConflict, Node: n.name, Message: fmt.Sprintf("%d processes are traced on %s already; stop a trace first", MaxTracedProcesses, n.name)}
	}
	if !p.tracer.CompareAndSwap(nil, t) {
		other := ts.byPID[req.PID.ID]
		ts.cmu.Unlock()
		msg := fmt.Sprintf("%s is already traced", req.PID)
		if other != nil {
			msg += " by session " + other.id + " of node " + other.requester
		}
		return traceStartResponse{}, &RPCError{Code: CodeConflict, Node: n.name, Message: msg + "; stop that trace first"}
	}
	c.id = n.name + "/" + strconv.FormatUint(ts.seq.Add(1), 10)
	ts.collectors[c.id] = c
	ts.byPID[req.PID.ID] = c
	ts.ncoll.Add(1)
	ts.cmu.Unlock()

	// The process may have exited before its tracer was set: then no exit
	// event or exit hook will come.
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited {
		t.end(TraceEndProcessExit)
	}
	n.log.Debug("trace started", "id", c.id, "pid", req.PID.String(), "for", from, "kinds", opts.Kinds)
	go c.run()
	return traceStartResponse{ID: c.id, Started: c.started}, nil
}

// handleStop ends a session this node collects, on its requester's word.
func (ts *traces) handleStop(_ context.Context, from string, b []byte) ([]byte, error) {
	var req traceStopRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, fmt.Errorf("%w: trace stop: %v", ErrBadFrame, err)
	}
	ts.cmu.Lock()
	c := ts.collectors[req.ID]
	ts.cmu.Unlock()
	if c == nil || c.requester != from {
		return nil, &RPCError{Code: CodeNotFound, Node: ts.n.name, Message: fmt.Sprintf("no running trace session %q for node %s", cutString(req.ID, maxTraceIDLen), from)}
	}
	c.t.end(TraceEndStopped)
	return nil, nil
}

// processExited ends the session of a process that exited without an
// exit event (exit not recorded, or the tracer was set too late).
func (ts *traces) processExited(info ProcessInfo, _ Reason) {
	if ts.ncoll.Load() == 0 {
		return
	}
	ts.cmu.Lock()
	c := ts.byPID[info.PID.ID]
	ts.cmu.Unlock()
	if c != nil {
		c.t.end(TraceEndProcessExit)
	}
}

// memberChanged ends the sessions that depend on a node that died or
// left: those it traced for this node, and those this node collects for it.
func (ts *traces) memberChanged(ev MemberEvent) {
	if ev.Type != MemberDied && ev.Type != MemberLeft {
		return
	}
	name := ev.Member.Name
	ts.smu.Lock()
	var lost []*session
	for _, s := range ts.byToken {
		if s.info.Node == name { // Node never changes after creation
			lost = append(lost, s)
		}
	}
	ts.smu.Unlock()
	for _, s := range lost {
		ts.finish(s, TraceEndNodeLost, ev.Time)
	}
	ts.cmu.Lock()
	var orphans []*collector
	for _, c := range ts.collectors {
		if c.requester == name {
			orphans = append(orphans, c)
		}
	}
	ts.cmu.Unlock()
	for _, c := range orphans {
		c.t.end(TraceEndNodeLost)
	}
}

// run is the session's goroutine: it sends the events in batches and ends
// the session. It sleeps until emit wakes it (an event waits, a batch is
// ready, the end) and then flushes when the batch is due.
func (c *collector) run() {
	n := c.ts.n
	t := c.t
	defer c.cleanup()
	cancelDeadline := n.clock.AfterFunc(c.duration, func() { t.end(TraceEndDuration) })
	defer cancelDeadline()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var armed time.Time // when timer fires; zero when stopped
	lastFlush := time.Now()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.wake:
		case <-timer.C:
			armed = time.Time{}
		}
		st := t.state()
		if st.endReason != "" {
			c.settle()
			c.flush(true)
			return
		}
		if st.pending == 0 && st.dropped == c.sentDropped {
			continue
		}
		due := lastFlush.Add(traceFlushEvery)
		if st.pending >= traceBatchSize {
			due = lastFlush.Add(traceFlushGap)
		}
		if now := time.Now(); now.Before(due) {
			if armed.IsZero() || due.Before(armed) {
				timer.Reset(due.Sub(now))
				armed = due
			}
			continue
		}
		if !c.flush(false) {
			return
		}
		lastFlush = time.Now()
		if !armed.IsZero() {
			timer.Stop()
			armed = time.Time{}
		}
		// Drops since the swap are reported with the next batch; make
		// sure there is one.
		if t.state().dropped != c.sentDropped {
			timer.Reset(traceFlushEvery)
			armed = lastFlush.Add(traceFlushEvery)
		}
	}
}

// settle waits, within traceSettleWait, until the ended tracer's owner
// has counted all its drops (see tracer), and unhooks it.
func (c *collector) settle() {
	t := c.t
	if t.trySettle() {
		return
	}
	n := c.ts.n
	deadline := time.NewTimer(traceSettleWait)
	defer deadline.Stop()
	poll := time.NewTicker(traceSettlePoll)
	defer poll.Stop()
	for !t.trySettle() {
		select {
		case <-t.wake: // the owner settled, or more events came
		case <-poll.C: // the process may have gone idle
		case <-deadline.C:
			t.abandon()
			n.log.Warn("trace ended while its process stayed busy in one message: the receive events it dropped since it last recorded one are missing from the count",
				"id", c.id, "pid", c.pid.String())
			return
		case <-n.ctx.Done():
			t.abandon()
			return
		}
	}
}

// flush sends the waiting events (and the end when final), in batches of
// at most traceChunk events. It reports false when the session cannot go
// on (the requester is gone).
func (c *collector) flush(final bool) bool {
	cur := c.t.state()
	if !final && cur.pending == 0 && cur.dropped == c.sentDropped {
		return true
	}
	// The buffer emit fills next: allocated only once events flow, larger
	// when the last one filled up, and limited to what the budget allows.
	if cur.pending >= c.bufCap && c.bufCap < c.bufMax {
		c.bufCap = min(4*c.bufCap, c.bufMax)
		c.spare = nil
	}
	allow := 0 // nothing is recorded after the end
	if !final {
		if c.spare == nil {
			c.spare = make([]rawEvent, 0, c.bufCap)
		}
		now := time.Now()
		c.tokens = min(c.tokens+traceMaxRate*now.Sub(c.refilled).Seconds(), traceBufMax)
		c.refilled = now
		// At least one: its arrival wakes this goroutine (a fast drop
		// does not), which grants the next allowance.
		allow = max(1, min(c.bufCap, int(c.tokens)))
		c.tokens -= float64(allow)
	}
	next := c.spare
	evs, first, st := c.t.take(next[:0:allow])
	c.tokens = min(c.tokens+float64(c.allowed-len(evs)), traceBufMax)
	c.allowed = allow
	used := c.inUse
	c.inUse, c.spare = next, nil
	ok := true
	for start := 0; ok && (start < len(evs) || start == 0); start += traceChunk {
		chunk := evs[start:min(start+traceChunk, len(evs))]
		last := start+len(chunk) == len(evs)
		ok = c.send(chunk, first+uint64(start), st, final && last)
	}
	clear(evs) // drop the references to message bodies
	if cap(used) == c.bufCap {
		c.spare = used[:0]
	}
	c.sentDropped = st.dropped
	return ok
}

// send encodes one batch and delivers it to the requester.
func (c *collector) send(evs []rawEvent, first uint64, st tracerState, final bool) bool {
	n := c.ts.n
	batch := traceBatch{Token: c.token, ID: c.id, Dropped: st.dropped, Count: len(evs)}
	if final {
		batch.End, batch.Ended = st.endReason, n.clock.Now()
	}
	if len(evs) > 0 {
		batch.First, batch.Last = first, first+uint64(len(evs))-1
	}
	payload, off := encodeTraceBatch(&batch, evs)
	batch.Data = payload[off:]
	c.sent += uint64(len(evs))
	if c.requester == n.name {
		if err := c.ts.ingest(n.name, &batch); err != nil {
			n.log.Warn("trace batch refused", "id", c.id, "err", err)
		}
		return true
	}
	if err := n.Notify(n.ctx, c.requester, methodTraceEvents, payload); err != nil {
		if st := n.MemberState(c.requester); st != StateAlive && st != StateSuspect {
			n.log.Debug("trace requester lost", "id", c.id, "requester", c.requester, "err", err)
			c.t.end(TraceEndNodeLost)
			return false
		}
		n.log.Debug("trace batch lost", "id", c.id, "requester", c.requester, "events", len(evs), "err", err)
	}
	return true
}

func (c *collector) cleanup() {
	ts := c.ts
	c.t.end(TraceEndNodeLost) // no-op unless the node is stopping
	if !c.t.settled() {
		c.t.abandon() // the node is stopping
	}
	ts.cmu.Lock()
	if ts.collectors[c.id] == c {
		delete(ts.collectors, c.id)
		ts.ncoll.Add(-1)
	}
	if ts.byPID[c.pid.ID] == c {
		delete(ts.byPID, c.pid.ID)
	}
	ts.cmu.Unlock()
	close(c.done)
	ts.n.log.Debug("trace ended", "id", c.id, "reason", c.t.state().endReason, "events", c.sent)
}

// ---- wire format of a batch ----
//
//	u8 version | uvarint token | string id | uvarint dropped |
//	string end | uvarint ended (unix ns, when end is set) |
//	uvarint count | count × event
//	event: uvarint seq | uvarint time (unix ns) | u8 kind | pid peer |
//	       string msg kind | string summary | string reason
//
// Node and PID are the session's and are not repeated; peer is the other
// end (From of a receive, To of a send or spawn, zero for an exit). The
// requester keeps the events in this encoding.

const traceBatchVersion byte = 1

// encodeTraceBatch encodes the batch header and the events evs (Seq from
// b.First); it returns the payload and where the events start in it.
func encodeTraceBatch(b *traceBatch, evs []rawEvent) (payload []byte, eventsAt int) {
	size := 64 + len(b.ID)
	for i := range evs {
		size += 40 + len(evs[i].peer.Node) + len(evs[i].text) + min(len(evs[i].body), SummaryLen+3)
	}
	out := make([]byte, 0, size)
	out = append(out, traceBatchVersion)
	out = appendUvarint(out, b.Token)
	out = appendString(out, b.ID)
	out = appendUvarint(out, b.Dropped)
	out = appendString(out, b.End)
	if b.End != "" {
		out = appendUvarint(out, uint64(b.Ended.UnixNano()))
	}
	out = appendUvarint(out, uint64(len(evs)))
	eventsAt = len(out)
	for i := range evs {
		out = appendTraceEvent(out, &evs[i], b.First+uint64(i))
	}
	return out, eventsAt
}

// decodeTraceBatch decodes and checks a batch from the network: version,
// counts, lengths, kinds, sequence and end reason. Data aliases p. It
// never panics.
func decodeTraceBatch(p []byte) (traceBatch, error) {
	if len(p) == 0 || p[0] != traceBatchVersion {
		return traceBatch{}, fmt.Errorf("%w: trace batch: unknown version", ErrBadFrame)
	}
	d := decoder{b: p[1:]}
	b := traceBatch{Token: d.uvarint("trace token")}
	b.ID = string(d.bytes("trace id", maxTraceIDLen))
	b.Dropped = d.uvarint("trace dropped")
	b.End = string(d.bytes("trace end", 32))
	if b.End != "" {
		b.Ended = time.Unix(0, int64(d.uvarint("trace ended")))
	}
	count := d.uvarint("trace event count")
	if d.err != nil {
		return traceBatch{}, d.err
	}
	switch b.End {
	case "", TraceEndDuration, TraceEndMaxEvents, TraceEndProcessExit, TraceEndStopped, TraceEndNodeLost:
	default:
		return traceBatch{}, fmt.Errorf("%w: trace batch: unknown end reason %q", ErrBadFrame, b.End)
	}
	// Every event takes at least 8 bytes: do not trust count further.
	if count > traceMaxBatch || count > uint64(len(d.b)/8) {
		return traceBatch{}, fmt.Errorf("%w: trace batch: %d events in %d bytes", ErrBadFrame, count, len(d.b))
	}
	b.Count, b.Data = int(count), d.b
	first, last, err := checkTraceEvents(d.b, b.Count)
	if err != nil {
		return traceBatch{}, err
	}
	b.First, b.Last = first, last
	return b, nil
}

// traceEventReader walks encoded events without allocating.
type traceEventReader struct {
	d decoder
}

type encodedTraceEvent struct {
	seq, at                  uint64
	kind                     uint8
	peerNode                 []byte
	peerID                   uint64
	msgKind, summary, reason []byte
}

func (r *traceEventReader) next() (e encodedTraceEvent) {
	d := &r.d
	e.seq = d.uvarint("trace seq")
	e.at = d.uvarint("trace time")
	if d.err != nil {
		return e
	}
	if len(d.b) == 0 {
		d.fail("trace kind")
		return e
	}
	e.kind, d.b = d.b[0], d.b[1:]
	e.peerNode = d.bytes("trace peer", MaxNodeNameLen)
	e.peerID = d.uvarint("trace peer")
	e.msgKind = d.bytes("trace msg kind", maxTraceMsgKindLen)
	e.summary = d.bytes("trace summary", maxTraceSummaryLen)
	e.reason = d.bytes("trace reason", maxTraceReasonLen)
	return e
}

// checkTraceEvents validates count encoded events filling data exactly
// and returns their first and last Seq.
func checkTraceEvents(data []byte, count int) (first, last uint64, err error) {
	r := traceEventReader{d: decoder{b: data}}
	for i := range count {
		e := r.next()
		if r.d.err != nil {
			return 0, 0, r.d.err
		}
		switch {
		case traceKindName(e.kind) == "":
			return 0, 0, fmt.Errorf("%w: trace event kind %d", ErrBadFrame, e.kind)
		case i > 0 && e.seq <= last, e.seq == 0:
			return 0, 0, fmt.Errorf("%w: trace event seq %d after %d", ErrBadFrame, e.seq, last)
		case !validPIDBytes(e.peerNode, e.peerID):
			return 0, 0, fmt.Errorf("%w: trace event pid", ErrBadFrame)
		}
		if i == 0 {
			first = e.seq
		}
		last = e.seq
	}
	if err := r.d.end(); err != nil {
		return 0, 0, err
	}
	return first, last, nil
}

// validPIDBytes checks an encoded PID as ValidateNodeName would, without
// allocating; the zero PID is valid.
func validPIDBytes(node []byte, id uint64) bool {
	if len(node) == 0 {
		return id == 0
	}
	for _, c := range node {
		if c <= ' ' || c > '~' || c == '/' {
			return false
		}
	}
	return true
}

// traceEventDecoder turns encoded events into TraceEvents, sharing the
// strings that repeat (node names, message kinds).
type traceEventDecoder struct {
	node   string
	pid    PID
	intern map[string]string
}

func newTraceEventDecoder(node string, pid PID) *traceEventDecoder {
	return &traceEventDecoder{node: node, pid: pid, intern: make(map[string]string)}
}

func (t *traceEventDecoder) str(b []byte) string {
	switch {
	case len(b) == 0:
		return ""
	case string(b) == t.node:
		return t.node
	}
	if s, ok := t.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(t.intern) < 1024 {
		t.intern[s] = s
	}
	return s
}

// decode appends the events of data with Seq above after to dst.
func (t *traceEventDecoder) decode(dst []TraceEvent, data []byte, count int, after uint64) ([]TraceEvent, error) {
	r := traceEventReader{d: decoder{b: data}}
	for range count {
		e := r.next()
		if r.d.err != nil {
			return dst, r.d.err
		}
		if e.seq <= after {
			continue
		}
		ev := TraceEvent{
			Seq:     e.seq,
			Time:    time.Unix(0, int64(e.at)),
			Node:    t.node,
			PID:     t.pid,
			Kind:    traceKindName(e.kind),
			MsgKind: t.str(e.msgKind),
			Summary: string(e.summary),
			Reason:  t.str(e.reason),
		}
		peer := PID{Node: t.str(e.peerNode), ID: e.peerID}
		switch e.kind {
		case traceBitSend, traceBitSpawn:
			ev.From, ev.To = t.pid, peer
		case traceBitReceive:
			ev.From, ev.To = peer, t.pid
		}
		dst = append(dst, ev)
	}
	return dst, nil
}
