package cluster

import (
	"strconv"
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
	// Seq orders the events of one trace session.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Node string    `json:"node"`
	// PID is the traced process.
	PID  PID    `json:"pid"`
	Kind string `json:"kind"`
	// From and To are the two ends of a send or receive; To is the new
	// process of a spawn.
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

// tracer receives the events of one traced process. A process pays for
// tracing only while its tracer pointer is set: an untraced process does
// one atomic load per event site.
type tracer struct {
	fn func(TraceEvent)
}

// emit builds the event and hands it to the tracer's sink.
func (t *tracer) emit(p *Process, kind string, peer PID, m *Message, reason Reason) {
	ev := TraceEvent{Time: p.node.clock.Now(), Node: p.node.name, PID: p.pid, Kind: kind, Reason: string(reason)}
	switch kind {
	case TraceSend:
		ev.From, ev.To = p.pid, peer
	case TraceReceive:
		ev.From, ev.To = peer, p.pid
	case TraceSpawn:
		ev.From, ev.To = p.pid, peer
	}
	if m != nil {
		ev.MsgKind = m.Kind
		ev.Summary = summarize(m.Body)
	}
	t.fn(ev)
}

// summarize returns printable text for a message body, cut to SummaryLen.
func summarize(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	cut := b
	if len(cut) > SummaryLen {
		cut = cut[:SummaryLen]
	}
	if utf8.Valid(cut) {
		s := string(cut)
		if len(b) > SummaryLen {
			s += "…"
		}
		return s
	}
	return "<" + strconv.Itoa(len(b)) + " bytes>"
}

// setTracer turns tracing of p on (t non-nil) or off.
func (p *Process) setTracer(t *tracer) { p.tracer.Store(t) }

// OnProcessExit registers fn to run after any local process has exited,
// with its last snapshot and the exit reason. Packages built on the node
// (registry, supervisor, sandboxes) use it. fn runs on the exiting
// process's goroutine and must not block.
func (n *Node) OnProcessExit(fn func(ProcessInfo, Reason)) {
	n.exitMu.Lock()
	defer n.exitMu.Unlock()
	n.onExit = append(n.onExit[:len(n.onExit):len(n.onExit)], fn)
}
