package builtin

import (
	"context"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
)

// Process tracing. Sessions are collected where the traced process runs
// and streamed to the observer, which keeps them: trace_get reads them
// (poll with after), and the app pushes live events to the UI.

var traceID = operations.Param{Name: "id", Type: operations.TypeString, Required: true, MinLen: operations.N(3), MaxLen: operations.N(cluster.MaxNodeNameLen + 24), Pattern: `[!-~]+/[0-9]+`, Description: "the trace session id, node/seq"}

func traceStart(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	opts := cluster.TraceOptions{Kinds: p.Strings("kinds"), Duration: p.Duration("duration"), MaxEvents: int(p.Int("max_events"))}
	return env.Node.StartTrace(ctx, p.PID("pid"), opts)
}

// TraceEvents is what trace_get returns: the session and a run of its
// events.
type TraceEvents struct {
	cluster.TraceSnapshot
	// More is true when events after the last returned one are kept: ask
	// again with after = NextAfter.
	More bool `json:"more"`
	// NextAfter is the Seq to pass as after to continue.
	NextAfter uint64 `json:"next_after"`
}

func traceGet(_ context.Context, env *operations.Env, p operations.Params) (any, error) {
	after := uint64(p.Int("after"))
	snap, err := env.Node.Trace(p.String("id"), after)
	if err != nil {
		return nil, err
	}
	if snap.Events == nil {
		snap.Events = []cluster.TraceEvent{}
	}
	res := TraceEvents{TraceSnapshot: snap, NextAfter: after}
	if limit := int(p.Int("limit")); len(res.Events) > limit {
		res.Events, res.More = res.Events[:limit], true
	}
	if n := len(res.Events); n > 0 {
		res.NextAfter = res.Events[n-1].Seq
	}
	return res, nil
}

func traceStop(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	id := p.String("id")
	if err := env.Node.StopTrace(ctx, id); err != nil {
		return nil, err
	}
	snap, err := env.Node.Trace(id, ^uint64(0))
	if err != nil {
		return nil, err
	}
	return snap.Info, nil
}

func traceList(_ context.Context, env *operations.Env, p operations.Params) (any, error) {
	all := env.Node.Traces()
	running := p.Bool("running")
	out := make([]cluster.TraceInfo, 0, len(all))
	for _, t := range all {
		if !running || t.Running() {
			out = append(out, t)
		}
	}
	return map[string]any{"traces": out}, nil
}

func init() {
	operations.Register(operations.Define(operations.Spec{
		Name:     "trace_start",
		Category: CategoryTrace,
		Summary:  "Trace a process on any node: its sends, receives, spawns and exit",
		Description: "The session ends after duration, after max_events, when the process exits, when stopped, or when its node is lost. " +
			"Read the events with trace_get; the UI also receives them live.",
		Params: []operations.Param{
			pidParam,
			{Name: "kinds", Type: operations.TypeList, Items: operations.TypeEnum, Enum: []string{cluster.TraceSend, cluster.TraceReceive, cluster.TraceSpawn, cluster.TraceExit}, MaxLen: operations.N(4), Description: "event kinds to record (comma-separated); all when empty"},
			{Name: "duration", Type: operations.TypeDuration, Default: cluster.DefaultTraceDuration.String(), Min: operations.F(cluster.MinTraceDuration.Seconds()), Max: operations.F(cluster.MaxTraceDuration.Seconds()), Description: "how long to trace"},
			{Name: "max_events", Type: operations.TypeInt, Default: int64(cluster.DefaultTraceMaxEvents), Min: operations.F(1), Max: operations.F(cluster.MaxTraceMaxEvents), Description: "stop after this many events"},
		},
		Result: "{id, pid, node, kinds, duration, max_events, started, ended, end_reason, events, dropped}",
	}, traceStart))
	operations.Register(operations.Define(operations.Spec{
		Name:     "trace_get",
		Category: CategoryTrace,
		Summary:  "Get a trace session and its events after a sequence number",
		Params: []operations.Param{
			traceID,
			{Name: "after", Type: operations.TypeInt, Default: int64(0), Min: operations.F(0), Description: "only events with a larger seq (0: from the start)"},
			{Name: "limit", Type: operations.TypeInt, Default: int64(1000), Min: operations.F(1), Max: operations.F(cluster.MaxTraceMaxEvents), Description: "at most this many events"},
		},
		Result: "{info: {id, pid, node, end_reason, events, ...}, events: [{seq, time, node, pid, kind, from, to, msg_kind, summary, reason}], more, next_after}",
	}, traceGet))
	operations.Register(operations.Define(operations.Spec{
		Name:     "trace_stop",
		Category: CategoryTrace,
		Summary:  "Stop a trace session (its events stay readable)",
		Params:   []operations.Param{traceID},
		Result:   "{id, pid, node, end_reason, events, ...}",
		Timeout:  15 * time.Second,
	}, traceStop))
	operations.Register(operations.Define(operations.Spec{
		Name:     "trace_list",
		Category: CategoryTrace,
		Summary:  "List the trace sessions started from this app, newest first",
		Params: []operations.Param{
			{Name: "running", Type: operations.TypeBool, Default: false, Description: "only the running ones"},
		},
		Result: "{traces: [{id, pid, node, kinds, started, ended, end_reason, events, dropped}]}",
	}, traceList))
}
