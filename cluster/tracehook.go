package cluster

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Trace event kinds.
const (
	TraceSend    = "send"
	TraceReceive = "receive"
	TraceSpawn   = "spawn"
	TraceExit    = "exit"
)

// TraceEvent is one event of a traced process, recorded on the node where
// the process runs.
type TraceEvent struct {
	// Seq orders the events of one trace session, from 1. A gap means
	// events were dropped (counted in TraceInfo.Dropped).
	Seq uint64 `json:"seq"`
	// Time is when the event happened: the node's clock at the session's
	// start plus the monotonic time since, so times never go back within
	// a session.
	Time time.Time `json:"time"`
	// Node is where the traced process runs.
	Node string `json:"node"`
	// PID is the traced process.
	PID  PID    `json:"pid"`
	Kind string `json:"kind"`
	// From and To are the two ends of a send or receive; To is the new
	// process of a spawn. From is zero for a message sent from outside
	// any process.
	From PID `json:"from,omitzero"`
	To   PID `json:"to,omitzero"`
	// MsgKind and Summary describe the message (the body cut to
	// SummaryLen bytes).
	MsgKind string `json:"msg_kind,omitempty"`
	Summary string `json:"summary,omitempty"`
	// Reason is the exit reason of an exit event.
	Reason string `json:"reason,omitempty"`
}

// SummaryLen bounds the message summary in a trace event.
const SummaryLen = 64

// Kind bits: a tracer keeps the kinds it records as a mask.
const (
	traceBitSend uint8 = 1 << iota
	traceBitReceive
	traceBitSpawn
	traceBitExit

	traceBitsAll = traceBitSend | traceBitReceive | traceBitSpawn | traceBitExit
)

// traceKindBit maps an event kind to its bit (0 for an unknown kind). An
// if-chain, most frequent first: comparisons with short constants compile
// to a few word compares, where a switch may call into the runtime.
func traceKindBit(kind string) uint8 {
	if kind == TraceReceive {
		return traceBitReceive
	}
	if kind == TraceSend {
		return traceBitSend
	}
	if kind == TraceSpawn {
		return traceBitSpawn
	}
	if kind == TraceExit {
		return traceBitExit
	}
	return 0
}

// traceKindName is the inverse of traceKindBit.
func traceKindName(bit uint8) string {
	switch bit {
	case traceBitSend:
		return TraceSend
	case traceBitReceive:
		return TraceReceive
	case traceBitSpawn:
		return TraceSpawn
	case traceBitExit:
		return TraceExit
	}
	return ""
}

// rawEvent is an event as the traced process records it: plain copies of
// what it already holds, no allocation and no formatting. The session's
// goroutine turns it into a TraceEvent later (message bodies are immutable
// by convention, so keeping a reference to one is safe).
type rawEvent struct {
	at   int64 // unix nanoseconds (tracer.now)
	peer PID
	// text is the message kind, or the exit reason of an exit event.
	text string
	body []byte
	kind uint8
}

// tracer records the events of one traced process for one trace session.
// A process pays for tracing only while its tracer pointer is set: an
// untraced process does one atomic load per event site.
//
// emit runs on whatever goroutine acts for the process (usually its own)
// and may be called concurrently; it never blocks and never allocates: it
// copies the event into a preallocated buffer under a short lock. When the
// buffer is full it only counts the event as dropped, without the lock or
// the clock. The session's goroutine (trace.go) swaps the buffer out,
// sizes the next one within a recording budget, and streams the events to
// the node that asked.
//
// Dropped receive events, the bulk of a busy process's drops, are counted
// without even an atomic operation: receive (and exit) events are emitted
// only by the goroutine that runs the process (process.go's handle and
// finish; the process's lock hands that role from one goroutine to the
// next), so that goroutine, the owner, counts them in ownDropped, which no
// one else touches while it may run. The owner folds ownDropped into
// dropped under mu when it records its next event (the session goroutine
// makes room at every batch, so a drop is reported a batch later at most)
// and once the session has ended (ownSettled); when the process is idle,
// the session goroutine folds it instead, under the process's lock
// (settle). A tracer stays hooked on its process until it is settled, so
// that the final count is exact.
type tracer struct {
	kinds uint8  // kinds recorded (exit always ends the session)
	max   uint64 // events after which the session ends

	// Event times: monotonic time since base, read only for recorded
	// events, or the node's clock when it is not the system clock.
	base     time.Time
	baseUnix int64
	clock    Clock // nil for the system clock

	// wake nudges the session goroutine: the first event waits, a batch
	// is ready, or the session ended. Capacity 1, never blocks.
	wake chan struct{}
	// full is set while buf is full: emit then counts the event in
	// ownDropped or fastDropped without taking the lock.
	full        atomic.Bool
	fastDropped atomic.Uint64
	// dropLen is len(TraceReceive) while full when receive events are
	// recorded, else 0: emit's inlined test (no other kind has that
	// length, and no kind is empty).
	dropLen atomic.Uint32
	// ownDropped: receive events dropped while full, owner only (above).
	ownDropped uint64

	mu         sync.Mutex
	proc       *Process
	buf        []rawEvent // len = events waiting; cap = what may be recorded
	accepted   uint64     // events recorded so far (the last one's Seq)
	lastAt     int64      // time of the last event: times never go back
	dropped    uint64     // events lost because buf was full (with fastDropped)
	endReason  string     // set once; nothing is recorded afterwards
	ownSettled bool       // ownDropped is folded for good; the tracer is unhooked
}

func newTracer(p *Process, kinds uint8, maxEvents int, bufCap int, clock Clock) *tracer {
	t := &tracer{
		kinds: kinds,
		max:   uint64(maxEvents),
		base:  time.Now(),
		wake:  make(chan struct{}, 1),
		proc:  p,
		buf:   make([]rawEvent, 0, bufCap),
	}
	if _, system := clock.(SystemClock); system {
		t.baseUnix = t.base.UnixNano()
	} else {
		t.clock = clock // an injected clock is read for every event
	}
	return t
}

// now returns the time of an event being recorded, in unix nanoseconds:
// with the system clock, a monotonic reading (cheaper than time.Now).
func (t *tracer) now() int64 {
	if t.clock != nil {
		return t.clock.Now().UnixNano()
	}
	return t.baseUnix + int64(time.Since(t.base))
}

// emit records one event of p. kind is one of the Trace* kinds; peer is
// the other process of a send, receive or spawn; m is the message of a
// send or receive; reason is the exit reason of an exit.
//
// emit itself is the drop of a receive event while the buffer is full,
// small enough (the compiler's inlining budget, exactly) to be inlined
// where the process handles a message, where kind is a constant: a busy
// traced process drops most of its events, and this is then all it pays
// for each. p is the tracer's process.
func (t *tracer) emit(_ *Process, kind string, peer PID, m *Message, reason Reason) {
	if uint32(len(kind)) == t.dropLen.Load() {
		t.ownDropped++ // owner only: see tracer
	} else {
		t.emitSlow(kind, peer, m, reason)
	}
}

// emitSlow is emit's general case (p is t.proc).
func (t *tracer) emitSlow(kind string, peer PID, m *Message, reason Reason) {
	p := t.proc
	bit := traceKindBit(kind)
	// Receive and exit events come from the process's owner only.
	owner := bit == traceBitReceive || bit == traceBitExit
	if t.kinds&bit == 0 {
		if bit == traceBitExit {
			// Not recorded, but the session still ends with the process.
			t.mu.Lock()
			if t.endReason == "" {
				t.endReason = TraceEndProcessExit
			}
			t.settleLocked()
			t.mu.Unlock()
			p.tracer.CompareAndSwap(t, nil)
			t.signal()
		}
		return
	}
	if t.full.Load() && bit != traceBitExit {
		if owner { // receive (exit is never dropped)
			t.ownDropped++
			return
		}
		t.fastDropped.Add(1)
		return
	}
	at := t.now()
	text := string(reason)
	var body []byte
	if m != nil {
		text, body = m.Kind, m.Body
	}
	t.mu.Lock()
	if owner && t.ownDropped > 0 {
		t.dropped += t.ownDropped
		t.ownDropped = 0
	}
	if t.endReason != "" {
		settled := false
		if owner && !t.ownSettled {
			t.settleLocked()
			settled = true
		}
		t.mu.Unlock()
		if settled {
			p.tracer.CompareAndSwap(t, nil)
			t.signal()
		}
		return
	}
	if at < t.lastAt {
		at = t.lastAt // another goroutine recorded a later clock reading first
	}
	t.lastAt = at
	n := len(t.buf)
	if n < cap(t.buf) {
		t.buf = append(t.buf, rawEvent{at: at, peer: peer, text: text, body: body, kind: bit})
		t.accepted++
		n++
		if n == cap(t.buf) {
			t.setFull(true)
		}
	} else {
		t.dropped++
	}
	ending := false
	if bit == traceBitExit {
		t.endReason, ending = TraceEndProcessExit, true
	} else if t.accepted >= t.max {
		t.endReason, ending = TraceEndMaxEvents, true
	}
	if ending {
		t.setFull(false) // the owner's next event settles (when not now)
		if owner {
			t.settleLocked()
		}
	}
	t.mu.Unlock()
	if ending && owner {
		p.tracer.CompareAndSwap(t, nil)
	}
	if ending || n == 1 || n == traceBatchSize {
		t.signal()
	}
}

// settleLocked folds the owner's drops for good. The caller holds mu and
// is the owner, or holds the process's lock while no goroutine runs it;
// it unhooks the tracer next.
func (t *tracer) settleLocked() {
	t.dropped += t.ownDropped
	t.ownDropped = 0
	t.ownSettled = true
}

// end stops recording with reason (the first reason wins) and wakes the
// session goroutine, which settles the tracer (the owner may still have
// drops of its own to count), sends what is left and the end.
func (t *tracer) end(reason string) {
	t.mu.Lock()
	if t.endReason == "" {
		t.endReason = reason
	}
	t.mu.Unlock()
	// The owner's next event then takes the lock, sees the end and settles.
	t.setFull(false)
	t.signal()
}

// setFull sets full, and dropLen with it when receive events are recorded.
func (t *tracer) setFull(full bool) {
	t.full.Store(full)
	if full && t.kinds&traceBitReceive != 0 {
		t.dropLen.Store(uint32(len(TraceReceive)))
	} else {
		t.dropLen.Store(0)
	}
}

// settled reports whether the owner's drops are all counted.
func (t *tracer) settled() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ownSettled
}

// trySettle settles an ended tracer from the session goroutine when no
// goroutine runs the process (it is idle or has exited): the process's
// lock then orders the last owner's counting before this read. It reports
// whether the tracer is settled.
func (t *tracer) trySettle() bool {
	if t.settled() {
		return true
	}
	p := t.proc
	p.mu.Lock()
	idle := !p.scheduled || p.exited
	if idle {
		t.mu.Lock()
		if !t.ownSettled {
			t.settleLocked()
		}
		t.mu.Unlock()
		p.tracer.CompareAndSwap(t, nil)
	}
	p.mu.Unlock()
	return idle
}

// abandon unhooks an ended tracer that could not be settled in time (its
// process stayed busy in one message all along): the receive events it
// dropped since it last recorded one may then be missing from the count.
func (t *tracer) abandon() {
	t.proc.tracer.CompareAndSwap(t, nil)
}

func (t *tracer) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// tracerState is what the session goroutine reads when it wakes.
type tracerState struct {
	pending   int
	accepted  uint64
	dropped   uint64
	endReason string
}

func (t *tracer) state() tracerState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return tracerState{pending: len(t.buf), accepted: t.accepted, dropped: t.dropped + t.fastDropped.Load(), endReason: t.endReason}
}

// take swaps the waiting events out for spare (emptied; its capacity is
// what emit may record until the next take) and returns them with the Seq
// of the first one.
func (t *tracer) take(spare []rawEvent) (evs []rawEvent, first uint64, st tracerState) {
	t.mu.Lock()
	evs = t.buf
	t.buf = spare[:0]
	t.setFull(cap(spare) == 0)
	first = t.accepted - uint64(len(evs)) + 1
	st = tracerState{accepted: t.accepted, dropped: t.dropped + t.fastDropped.Load(), endReason: t.endReason}
	t.mu.Unlock()
	return evs, first, st
}

// appendTraceEvent encodes one recorded event in the batch wire format
// (see trace.go) without allocating: the summary is cut from the body
// directly into b. Only the peer is written: the other end of a send,
// receive or spawn is the traced process itself.
func appendTraceEvent(b []byte, r *rawEvent, seq uint64) []byte {
	b = appendUvarint(b, seq)
	b = appendUvarint(b, uint64(r.at))
	b = append(b, r.kind)
	b = appendPID(b, r.peer)
	if r.kind == traceBitExit {
		b = append(b, 0) // no message kind
		b = appendSummary(b, nil)
		return appendString(b, cutString(r.text, maxTraceReasonLen))
	}
	b = appendString(b, cutString(r.text, maxTraceMsgKindLen))
	b = appendSummary(b, r.body)
	return append(b, 0) // no reason
}

// Bounds of the free-form strings of a trace event.
const (
	maxTraceMsgKindLen = 128
	maxTraceReasonLen  = 256
	maxTraceSummaryLen = SummaryLen + 16
)

// cutString cuts s to at most n bytes without splitting a UTF-8 sequence.
func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// appendSummary appends the length-prefixed summary of a message body:
// printable UTF-8 text cut to SummaryLen bytes ("…" marks the cut), or
// "<N bytes>" for anything else.
func appendSummary(b, body []byte) []byte {
	if len(body) == 0 {
		return append(b, 0)
	}
	cut := body
	if len(cut) > SummaryLen {
		cut = cut[:SummaryLen]
		// Do not split a UTF-8 sequence at the cut.
		for i := 0; i < utf8.UTFMax-1 && !utf8.Valid(cut); i++ {
			cut = cut[:len(cut)-1]
		}
	}
	if utf8.Valid(cut) && printable(cut) {
		const more = "…"
		if len(cut) == len(body) {
			return appendBytes(b, cut)
		}
		b = appendUvarint(b, uint64(len(cut)+len(more)))
		b = append(b, cut...)
		return append(b, more...)
	}
	var tmp [32]byte
	s := append(tmp[:0], '<')
	s = strconv.AppendInt(s, int64(len(body)), 10)
	s = append(s, " bytes>"...)
	return appendBytes(b, s)
}

// printable reports whether b has no control characters but tab and
// newline.
func printable(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// OnProcessExit registers fn to run after any local process has exited,
// with its last snapshot and the exit reason. Packages built on the node
// (registry, supervisor, sandboxes) use it. fn runs on the exiting
// process's goroutine and must not block.
func (n *Node) OnProcessExit(fn func(ProcessInfo, Reason)) {
	n.exitMu.Lock()
	defer n.exitMu.Unlock()
	n.onExit = append(n.onExit[:len(n.onExit):len(n.onExit)], fn)
}
