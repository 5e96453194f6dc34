package cluster_test

import (
	"context"
	"encoding/binary"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/process"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator"
)

// tracee is the traced behaviour of these tests: "ping" answers "pong" to
// the sender, "spawn" spawns an idle child, "quit" exits normally; calls
// are answered with "pong".
type tracee struct{}

func (tracee) Init(*cluster.Process, []byte) error { return nil }
func (tracee) Handle(p *cluster.Process, m cluster.Message) error {
	switch {
	case m.Ref != 0:
		return p.Reply(m, cluster.Message{Kind: "pong", Body: m.Body})
	case m.Kind == "ping" && !m.From.IsZero():
		return p.Send(m.From, cluster.Message{Kind: "pong", Body: m.Body})
	case m.Kind == "spawn":
		_, err := p.Spawn(idle{}, cluster.SpawnOptions{})
		return err
	case m.Kind == "quit":
		p.Exit(cluster.ReasonNormal)
	}
	return nil
}
func (tracee) Terminate(*cluster.Process, cluster.Reason) {}

// traceSim starts a simulated cluster of three nodes that can spawn
// "tracee" processes.
func traceSim(t *testing.T) *simulator.Simulator {
	t.Helper()
	s, err := simulator.New(simulator.Config{Nodes: 3, Seed: 33, Setup: func(n *cluster.Node) error {
		return n.RegisterBehavior("tracee", func() cluster.Behavior { return tracee{} })
	}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	require.NoError(t, s.WaitConverged(ctx), "seed %d", s.Seed())
	return s
}

// waitTraceEnd waits until the session has ended and returns its snapshot.
func waitTraceEnd(t *testing.T, n *cluster.Node, id string, within time.Duration) cluster.TraceSnapshot {
	t.Helper()
	var snap cluster.TraceSnapshot
	require.Eventually(t, func() bool {
		var err error
		snap, err = n.Trace(id, 0)
		require.NoError(t, err)
		return !snap.Info.Running()
	}, within, 5*time.Millisecond, "trace %s should end", id)
	return snap
}

// waitTraceEvents waits until the session holds at least want events.
func waitTraceEvents(t *testing.T, n *cluster.Node, id string, want int) cluster.TraceSnapshot {
	t.Helper()
	var snap cluster.TraceSnapshot
	require.Eventually(t, func() bool {
		var err error
		snap, err = n.Trace(id, 0)
		require.NoError(t, err)
		return len(snap.Events) >= want
	}, 10*time.Second, 5*time.Millisecond, "trace %s should hold %d events", id, want)
	return snap
}

type wantEvent struct {
	kind, msgKind, summary, reason string
	from, to                       cluster.PID
}

func TestTraceRemoteProcess(t *testing.T) {
	s := traceSim(t)
	n1, n3 := s.Node("node-1"), s.Node("node-3")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pid, err := n1.Spawn(ctx, "node-2", "tracee", cluster.SpawnOptions{})
	require.NoError(t, err)
	box := newInbox()
	sender, err := n3.SpawnBehavior(box, cluster.SpawnOptions{})
	require.NoError(t, err)

	var liveMu sync.Mutex
	var live []cluster.TraceEvent
	stopLive := n1.OnTraceEvent(func(_ string, ev cluster.TraceEvent) {
		liveMu.Lock()
		live = append(live, ev)
		liveMu.Unlock()
	})
	defer stopLive()
	ends := make(chan cluster.TraceInfo, 1)
	defer n1.OnTraceEnd(func(info cluster.TraceInfo) { ends <- info })()

	before := time.Now()
	info, err := n1.StartTrace(ctx, pid, cluster.TraceOptions{})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(info.ID, "node-2/"), "id %q names the traced node", info.ID)
	assert.Equal(t, "node-2", info.Node)
	assert.Equal(t, pid, info.PID)
	assert.Equal(t, []string{"send", "receive", "spawn", "exit"}, info.Kinds)
	assert.Equal(t, cluster.DefaultTraceDuration, info.Duration)
	assert.Equal(t, cluster.DefaultTraceMaxEvents, info.MaxEvents)
	assert.True(t, info.Running())
	assert.False(t, info.Started.IsZero())

	var want []wantEvent
	for i := range 10 {
		body := "msg-" + strconv.Itoa(i)
		require.NoError(t, n3.Send(pid, cluster.Message{From: sender, Kind: "ping", Body: []byte(body)}))
		want = append(want,
			wantEvent{kind: cluster.TraceReceive, msgKind: "ping", summary: body, from: sender, to: pid},
			wantEvent{kind: cluster.TraceSend, msgKind: "pong", summary: body, from: pid, to: sender})
	}
	for i := range 10 {
		m := box.next(t, 5*time.Second)
		assert.Equal(t, "msg-"+strconv.Itoa(i), string(m.Body))
	}
	require.NoError(t, n3.Send(pid, cluster.Message{From: sender, Kind: "spawn"}))
	require.NoError(t, n3.Send(pid, cluster.Message{From: sender, Kind: "quit", Body: []byte(strings.Repeat("x", 100))}))
	want = append(want,
		wantEvent{kind: cluster.TraceReceive, msgKind: "spawn", from: sender, to: pid},
		wantEvent{kind: cluster.TraceSpawn, from: pid},
		wantEvent{kind: cluster.TraceReceive, msgKind: "quit", summary: strings.Repeat("x", cluster.SummaryLen) + "…", from: sender, to: pid},
		wantEvent{kind: cluster.TraceExit, reason: string(cluster.ReasonNormal)})

	snap := waitTraceEnd(t, n1, info.ID, 10*time.Second)
	assert.Equal(t, cluster.TraceEndProcessExit, snap.Info.EndReason)
	assert.False(t, snap.Info.Ended.IsZero())
	assert.Equal(t, len(want), snap.Info.Events)
	assert.Zero(t, snap.Info.Dropped)
	require.Len(t, snap.Events, len(want))
	last := before.Add(-time.Second)
	for i, ev := range snap.Events {
		w := want[i]
		assert.Equal(t, uint64(i+1), ev.Seq, "event %d", i)
		assert.Equal(t, "node-2", ev.Node, "event %d", i)
		assert.Equal(t, pid, ev.PID, "event %d", i)
		assert.Equal(t, w.kind, ev.Kind, "event %d", i)
		assert.Equal(t, w.msgKind, ev.MsgKind, "event %d", i)
		assert.Equal(t, w.summary, ev.Summary, "event %d", i)
		assert.Equal(t, w.reason, ev.Reason, "event %d", i)
		assert.Equal(t, w.from, ev.From, "event %d", i)
		if w.kind == cluster.TraceSpawn {
			assert.Equal(t, "node-2", ev.To.Node, "the child runs beside its parent")
			assert.NotZero(t, ev.To.ID)
		} else {
			assert.Equal(t, w.to, ev.To, "event %d", i)
		}
		assert.False(t, ev.Time.Before(last), "event %d: time %v goes back before %v", i, ev.Time, last)
		assert.False(t, ev.Time.After(time.Now().Add(time.Second)), "event %d: time %v in the future", i, ev.Time)
		last = ev.Time
	}

	// Polling after a sequence number returns the rest, in order.
	tail, err := n1.Trace(info.ID, uint64(len(want)-2))
	require.NoError(t, err)
	require.Len(t, tail.Events, 2)
	assert.Equal(t, cluster.TraceExit, tail.Events[1].Kind)

	// The live listener saw the same events, in the same order.
	liveMu.Lock()
	assert.Equal(t, snap.Events, live)
	liveMu.Unlock()
	select {
	case end := <-ends:
		assert.Equal(t, info.ID, end.ID)
		assert.Equal(t, cluster.TraceEndProcessExit, end.EndReason)
	case <-time.After(5 * time.Second):
		t.Fatal("OnTraceEnd was not called")
	}

	// Only the requesting node lists the session.
	list := n1.Traces()
	require.NotEmpty(t, list)
	assert.Equal(t, info.ID, list[0].ID)
	assert.Empty(t, n3.Traces())
	_, err = n3.Trace(info.ID, 0)
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err))
}

func TestTraceStopAndRestart(t *testing.T) {
	s := traceSim(t)
	n1, n2 := s.Node("node-1"), s.Node("node-2")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pid, err := n2.SpawnBehavior(tracee{}, cluster.SpawnOptions{})
	require.NoError(t, err)
	box := newInbox()
	sender, err := n1.SpawnBehavior(box, cluster.SpawnOptions{})
	require.NoError(t, err)

	info, err := n1.StartTrace(ctx, pid, cluster.TraceOptions{Kinds: []string{"receive"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"receive"}, info.Kinds)

	// One trace per process at a time.
	_, err = n2.StartTrace(ctx, pid, cluster.TraceOptions{})
	assert.Equal(t, cluster.CodeConflict, cluster.ErrorCode(err), "err = %v", err)

	for range 3 {
		require.NoError(t, n1.Send(pid, cluster.Message{From: sender, Kind: "ping"}))
		box.next(t, 5*time.Second)
	}
	// A call round trip is traced too (the request is received).
	_, err = n1.Call(ctx, pid, cluster.Message{Kind: "call-me"})
	require.NoError(t, err)
	waitTraceEvents(t, n1, info.ID, 4)

	require.NoError(t, n1.StopTrace(ctx, info.ID))
	snap, err := n1.Trace(info.ID, 0)
	require.NoError(t, err)
	assert.Equal(t, cluster.TraceEndStopped, snap.Info.EndReason)
	assert.False(t, snap.Info.Ended.IsZero())
	require.Len(t, snap.Events, 4, "only receive events were asked for")
	for _, ev := range snap.Events {
		assert.Equal(t, cluster.TraceReceive, ev.Kind)
	}
	assert.Equal(t, "call-me", snap.Events[3].MsgKind)
	require.NoError(t, n1.StopTrace(ctx, info.ID), "stopping twice is fine")

	// Nothing is recorded after the stop.
	require.NoError(t, n1.Send(pid, cluster.Message{From: sender, Kind: "ping"}))
	box.next(t, 5*time.Second)
	snap, err = n1.Trace(info.ID, 0)
	require.NoError(t, err)
	assert.Len(t, snap.Events, 4)

	// The process can be traced again, here from its own node.
	again, err := n2.StartTrace(ctx, pid, cluster.TraceOptions{})
	require.NoError(t, err)
	assert.NotEqual(t, info.ID, again.ID)
	require.NoError(t, n1.Send(pid, cluster.Message{From: sender, Kind: "ping"}))
	box.next(t, 5*time.Second)
	got := waitTraceEvents(t, n2, again.ID, 2)
	assert.Equal(t, cluster.TraceReceive, got.Events[0].Kind)
	assert.Equal(t, cluster.TraceSend, got.Events[1].Kind)
	require.NoError(t, n2.StopTrace(ctx, again.ID))

	_, err = n1.Trace("node-2/0", 0)
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err))
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(n1.StopTrace(ctx, "nope")))
	ids := []string{}
	for _, ti := range n1.Traces() {
		ids = append(ids, ti.ID)
	}
	assert.Equal(t, []string{info.ID}, ids)
}

func TestTraceBounds(t *testing.T) {
	s := traceSim(t)
	n1, n3 := s.Node("node-1"), s.Node("node-3")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	tests := []struct {
		name       string
		opts       cluster.TraceOptions
		sends      int
		wantReason string
		wantEvents int
	}{
		{"max events", cluster.TraceOptions{MaxEvents: 5, Kinds: []string{"receive"}}, 20, cluster.TraceEndMaxEvents, 5},
		{"max events counts every kind", cluster.TraceOptions{MaxEvents: 7}, 20, cluster.TraceEndMaxEvents, 7},
		{"duration", cluster.TraceOptions{Duration: time.Second}, 2, cluster.TraceEndDuration, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, err := n1.Spawn(ctx, "node-3", "tracee", cluster.SpawnOptions{})
			require.NoError(t, err)
			box := newInbox()
			sender, err := n3.SpawnBehavior(box, cluster.SpawnOptions{})
			require.NoError(t, err)
			info, err := n1.StartTrace(ctx, pid, tt.opts)
			require.NoError(t, err)
			for range tt.sends {
				require.NoError(t, n3.Send(pid, cluster.Message{From: sender, Kind: "ping"}))
			}
			for range tt.sends {
				box.next(t, 5*time.Second)
			}
			snap := waitTraceEnd(t, n1, info.ID, 10*time.Second)
			assert.Equal(t, tt.wantReason, snap.Info.EndReason)
			assert.Equal(t, tt.wantEvents, snap.Info.Events)
			require.Len(t, snap.Events, tt.wantEvents)
			for i, ev := range snap.Events {
				assert.Equal(t, uint64(i+1), ev.Seq)
			}
			if tt.wantReason == cluster.TraceEndDuration {
				assert.GreaterOrEqual(t, snap.Info.Ended.Sub(snap.Info.Started), tt.opts.Duration)
			}
			// The process runs on untraced.
			require.NoError(t, n3.Send(pid, cluster.Message{From: sender, Kind: "ping"}))
			box.next(t, 5*time.Second)
		})
	}
}

func TestTraceMissingProcess(t *testing.T) {
	s := traceSim(t)
	n1 := s.Node("node-1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tests := []struct {
		name     string
		pid      cluster.PID
		wantCode string
		wantErr  error
	}{
		{"remote", cluster.PID{Node: "node-2", ID: 999999}, cluster.CodeNotFound, nil},
		{"local", cluster.PID{Node: "node-1", ID: 999999}, cluster.CodeNotFound, nil},
		{"unknown node", cluster.PID{Node: "ghost", ID: 1}, cluster.CodeNodeUnreachable, nil},
		{"zero pid", cluster.PID{}, "", cluster.ErrBadPID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := n1.StartTrace(ctx, tt.pid, cluster.TraceOptions{})
			require.Error(t, err)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				return
			}
			assert.Equal(t, tt.wantCode, cluster.ErrorCode(err), "StartTrace(%v) = %v", tt.pid, err)
		})
	}
	assert.Empty(t, n1.Traces(), "failed starts leave nothing behind")
}

func TestTraceNodeLost(t *testing.T) {
	s := traceSim(t)
	n1 := s.Node("node-1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pid, err := n1.Spawn(ctx, "node-3", "tracee", cluster.SpawnOptions{})
	require.NoError(t, err)
	info, err := n1.StartTrace(ctx, pid, cluster.TraceOptions{})
	require.NoError(t, err)
	_, err = n1.Call(ctx, pid, cluster.Message{Kind: "hello"})
	require.NoError(t, err)
	waitTraceEvents(t, n1, info.ID, 2)

	crashed := time.Now()
	require.NoError(t, s.Crash("node-3"))
	snap := waitTraceEnd(t, n1, info.ID, 15*time.Second)
	t.Logf("node_lost %v after the crash", time.Since(crashed))
	assert.Equal(t, cluster.TraceEndNodeLost, snap.Info.EndReason)
	assert.Len(t, snap.Events, 2, "events that arrived before the crash are kept")
	assert.NoError(t, n1.StopTrace(ctx, info.ID))
}

func TestTraceRequesterLostEndsCollection(t *testing.T) {
	s := traceSim(t)
	n2 := s.Node("node-2")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pid, err := n2.SpawnBehavior(tracee{}, cluster.SpawnOptions{})
	require.NoError(t, err)
	_, err = s.Node("node-1").StartTrace(ctx, pid, cluster.TraceOptions{})
	require.NoError(t, err)
	// Traced again from node-3 once node-1 is gone: the collector let go.
	require.NoError(t, s.Crash("node-1"))
	require.Eventually(t, func() bool {
		_, err := n2.StartTrace(ctx, pid, cluster.TraceOptions{})
		return err == nil
	}, 15*time.Second, 20*time.Millisecond, "the process should be free to trace once its requester is lost")
}

func TestTraceOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    cluster.TraceOptions
		wantErr string
	}{
		{"defaults", cluster.TraceOptions{}, ""},
		{"every kind", cluster.TraceOptions{Kinds: []string{"exit", "spawn", "receive", "send", "send"}}, ""},
		{"bounds at the limit", cluster.TraceOptions{Duration: cluster.MaxTraceDuration, MaxEvents: cluster.MaxTraceMaxEvents}, ""},
		{"unknown kind", cluster.TraceOptions{Kinds: []string{"send", "link"}}, `Kinds: unknown kind "link"`},
		{"empty kind", cluster.TraceOptions{Kinds: []string{""}}, "Kinds"},
		{"negative duration", cluster.TraceOptions{Duration: -time.Second}, "Duration -1s is negative"},
		{"tiny duration", cluster.TraceOptions{Duration: time.Microsecond}, "Duration 1µs is under the minimum"},
		{"long duration", cluster.TraceOptions{Duration: 11 * time.Minute}, "Duration 11m0s is over the maximum 10m0s"},
		{"negative max events", cluster.TraceOptions{MaxEvents: -1}, "MaxEvents -1 is negative"},
		{"too many events", cluster.TraceOptions{MaxEvents: cluster.MaxTraceMaxEvents + 1}, "MaxEvents 100001 is over the maximum 100000"},
	}
	for _, tt := range tests {
		err := tt.opts.Validate()
		if tt.wantErr == "" {
			assert.NoError(t, err, "%s: Validate(%+v)", tt.name, tt.opts)
			continue
		}
		assert.ErrorIs(t, err, cluster.ErrBadTraceOptions, "%s", tt.name)
		assert.ErrorContains(t, err, tt.wantErr, "%s: Validate(%+v)", tt.name, tt.opts)
	}

	// StartTrace refuses them before touching the network.
	n := traceNode(t)
	pid, err := n.SpawnBehavior(tracee{}, cluster.SpawnOptions{})
	require.NoError(t, err)
	_, err = n.StartTrace(context.Background(), pid, cluster.TraceOptions{MaxEvents: -5})
	assert.ErrorIs(t, err, cluster.ErrBadTraceOptions)
	assert.Empty(t, n.Traces())
}

func TestTraceLocalProcessAndCall(t *testing.T) {
	n := traceNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pid, err := n.SpawnBehavior(tracee{}, cluster.SpawnOptions{})
	require.NoError(t, err)
	info, err := n.StartTrace(ctx, pid, cluster.TraceOptions{Kinds: []string{"send", "receive"}})
	require.NoError(t, err)
	reply, err := n.Call(ctx, pid, cluster.Message{Kind: "q", Body: []byte{0, 1, 2}})
	require.NoError(t, err)
	assert.Equal(t, "pong", reply.Kind)
	snap := waitTraceEvents(t, n, info.ID, 2)
	assert.Equal(t, cluster.TraceReceive, snap.Events[0].Kind)
	assert.Equal(t, "<3 bytes>", snap.Events[0].Summary, "binary bodies are summarised by size")
	assert.True(t, snap.Events[0].From.IsZero(), "a call from outside any process has no sender")
	assert.Equal(t, cluster.TraceSend, snap.Events[1].Kind)
	assert.Equal(t, "pong", snap.Events[1].MsgKind)

	// Killing the process ends the session even though exit is not recorded.
	require.NoError(t, n.Kill(ctx, pid, cluster.ReasonKilled))
	snap = waitTraceEnd(t, n, info.ID, 5*time.Second)
	assert.Equal(t, cluster.TraceEndProcessExit, snap.Info.EndReason)
	assert.Len(t, snap.Events, 2)
}

func TestTraceExitRace(t *testing.T) {
	// Starting a trace while the process exits never leaves a session
	// running: it ends as process_exit, or the start says not_found.
	n := traceNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 50 {
		pid, err := n.SpawnBehavior(tracee{}, cluster.SpawnOptions{})
		require.NoError(t, err)
		killed := make(chan error, 1)
		go func() { killed <- n.Kill(ctx, pid, cluster.ReasonShutdown) }()
		info, err := n.StartTrace(ctx, pid, cluster.TraceOptions{})
		require.NoError(t, <-killed)
		if err != nil {
			assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err), "round %d: %v", i, err)
			continue
		}
		snap := waitTraceEnd(t, n, info.ID, 5*time.Second)
		assert.Equal(t, cluster.TraceEndProcessExit, snap.Info.EndReason, "round %d", i)
	}
}

func TestTraceHistoryIsBounded(t *testing.T) {
	n := traceNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var first string
	for i := range cluster.TraceHistory + 5 {
		pid, err := n.SpawnBehavior(tracee{}, cluster.SpawnOptions{})
		require.NoError(t, err)
		info, err := n.StartTrace(ctx, pid, cluster.TraceOptions{MaxEvents: 1})
		require.NoError(t, err, "start %d", i)
		if i == 0 {
			first = info.ID
		}
		require.NoError(t, n.StopTrace(ctx, info.ID))
	}
	list := n.Traces()
	assert.Len(t, list, cluster.TraceHistory)
	for i := 1; i < len(list); i++ {
		assert.False(t, list[i].Started.After(list[i-1].Started), "newest first")
	}
	_, err := n.Trace(first, 0)
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err), "the oldest session is forgotten")
}

func TestTraceBusyProcessAccountsForEveryEvent(t *testing.T) {
	// A process receiving as fast as a sender can push: the trace keeps
	// up or drops, but every event is either delivered, in order, or
	// counted as dropped; the process is never slowed by a full buffer.
	s := traceSim(t)
	n1, n2 := s.Node("node-1"), s.Node("node-2")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const count = 30000
	sk := &sink{want: count, done: make(chan struct{})}
	pid, err := n2.SpawnBehavior(sk, cluster.SpawnOptions{})
	require.NoError(t, err)
	info, err := n1.StartTrace(ctx, pid, cluster.TraceOptions{Kinds: []string{"receive"}, MaxEvents: cluster.MaxTraceMaxEvents})
	require.NoError(t, err)
	msg := cluster.Message{Kind: "m", Body: []byte("body")}
	for range count {
		require.NoError(t, n2.Send(pid, msg))
	}
	select {
	case <-sk.done:
	case <-ctx.Done():
		t.Fatal("the sink did not receive every message")
	}
	require.NoError(t, n1.StopTrace(ctx, info.ID))
	snap, err := n1.Trace(info.ID, 0)
	require.NoError(t, err)
	assert.Equal(t, cluster.TraceEndStopped, snap.Info.EndReason)
	assert.Equal(t, count, snap.Info.Events+snap.Info.Dropped, "events %d + dropped %d", snap.Info.Events, snap.Info.Dropped)
	require.Len(t, snap.Events, snap.Info.Events)
	for i := 1; i < len(snap.Events); i++ {
		prev, ev := snap.Events[i-1], snap.Events[i]
		require.Greater(t, ev.Seq, prev.Seq)
		require.False(t, ev.Time.Before(prev.Time), "seq %d goes back in time", ev.Seq)
		require.Equal(t, "body", ev.Summary)
	}
	t.Logf("%d events delivered, %d dropped", snap.Info.Events, snap.Info.Dropped)
}

// traceNode starts one node on the simulator's network.
func traceNode(tb testing.TB) *cluster.Node {
	tb.Helper()
	n, err := cluster.NewNode(cluster.Config{Name: "solo", Profile: cluster.ProfileLocal, Network: simulator.NewNetwork(1)})
	require.NoError(tb, err)
	require.NoError(tb, n.Start(context.Background()))
	tb.Cleanup(func() { n.Halt() })
	return n
}

// traceBatchSeed is a well-formed trace.events payload (wire version 1)
// for the fuzzer to start from.
func traceBatchSeed(token uint64, id, end string, events int) []byte {
	str := func(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	b := []byte{1}
	b = binary.AppendUvarint(b, token)
	b = str(b, id)
	b = binary.AppendUvarint(b, 0)
	b = str(b, end)
	if end != "" {
		b = binary.AppendUvarint(b, uint64(time.Now().UnixNano()))
	}
	b = binary.AppendUvarint(b, uint64(events))
	for i := range events {
		b = binary.AppendUvarint(b, uint64(i+1))
		b = binary.AppendUvarint(b, uint64(time.Now().UnixNano()))
		b = append(b, 2) // receive
		b = str(b, "solo")
		b = binary.AppendUvarint(b, 7) // from solo/7
		b = str(b, "ping")
		b = str(b, "hello")
		b = str(b, "")
	}
	return b
}

// FuzzTraceRPC feeds arbitrary payloads to the tracing RPC methods: they
// are refused with a clear error (bad_request, not_found), never a panic
// (which the RPC layer would report as internal).
func FuzzTraceRPC(f *testing.F) {
	n := traceNode(f)
	pid, err := n.SpawnBehavior(tracee{}, cluster.SpawnOptions{})
	require.NoError(f, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := n.StartTrace(ctx, pid, cluster.TraceOptions{Duration: cluster.MaxTraceDuration})
	require.NoError(f, err)
	// The seed is a batch the node accepts and decodes.
	_, err = n.Request(ctx, n.Name(), "trace.events", traceBatchSeed(1, info.ID, "", 3))
	require.NoError(f, err)
	snap, err := n.Trace(info.ID, 0)
	require.NoError(f, err)
	require.Len(f, snap.Events, 3)
	assert.Equal(f, cluster.PID{Node: "solo", ID: 7}, snap.Events[2].From)
	assert.Equal(f, pid, snap.Events[2].To)
	assert.Equal(f, "hello", snap.Events[2].Summary)
	f.Add(byte(0), traceBatchSeed(1, info.ID, "", 3))
	f.Add(byte(0), traceBatchSeed(1, info.ID, "stopped", 1))
	f.Add(byte(0), traceBatchSeed(99, "solo/1", "", 2))
	f.Add(byte(0), []byte{1, 0xff, 0xff})
	f.Add(byte(1), []byte(`{"token":5,"pid":"solo/999","options":{"kinds":["send"],"duration":1000000000}}`))
	f.Add(byte(1), []byte(`{"options":{"max_events":-3}}`))
	f.Add(byte(2), []byte(`{"id":"solo/12"}`))
	methods := []string{"trace.events", "trace.start", "trace.stop"}
	f.Fuzz(func(t *testing.T, which byte, payload []byte) {
		method := methods[int(which)%len(methods)]
		if method == "trace.stop" && strings.Contains(string(payload), info.ID) {
			return // stopping the seed session is legitimate
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := n.Request(ctx, n.Name(), method, payload)
		if code := cluster.ErrorCode(err); code == cluster.CodeInternal {
			t.Fatalf("%s(%q) = %v", method, payload, err)
		}
	})
}

// ---- benchmarks ----

// processCPU returns the CPU time (user and system) this test process has
// used so far, with the OS's accounting resolution (a clock tick).
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	p, err := process.NewProcess(int32(os.Getpid()))
	require.NoError(b, err)
	ts, err := p.Times()
	require.NoError(b, err)
	return time.Duration((ts.User + ts.System) * float64(time.Second))
}

// benchTraceModes are the variants every tracing benchmark runs: nothing
// traced (compare with BenchmarkLocalSend and BenchmarkLocalCall), another
// process traced (the measured one must not pay), and the measured process
// itself traced, recording every kind.
var benchTraceModes = []string{"untraced", "other-traced", "traced"}

// runTraceBench runs op b.N times on pid in the given mode and reports,
// besides ns/op: cpu-ns/op, the CPU time of the whole process per op (on
// a shared machine it moves far less than ns/op with other processes'
// load), and for the traced mode the events recorded and dropped per op.
//
// A session ends after MaxTraceMaxEvents recorded events, so the traced
// mode runs in chunks of chunk ops, each ended by drain (the process has
// handled all), and between chunks, with the timer stopped, starts a new
// session when the last one has ended. events/op + dropped/op says how
// much of the run was traced (1 for all of it). The CPU time counts
// everything, the sessions' starts and ends included.
func runTraceBench(b *testing.B, mode string, n *cluster.Node, pid cluster.PID, chunk int, op func(), drain func(ops int)) {
	ctx := context.Background()
	if mode == "other-traced" {
		other, err := n.SpawnBehavior(tracee{}, cluster.SpawnOptions{})
		require.NoError(b, err)
		_, err = n.StartTrace(ctx, other, cluster.TraceOptions{Duration: cluster.MaxTraceDuration})
		require.NoError(b, err)
	}
	var id string
	var events, dropped int
	stop := func() {
		if id == "" {
			return
		}
		require.NoError(b, n.StopTrace(ctx, id))
		snap, err := n.Trace(id, ^uint64(0))
		require.NoError(b, err)
		events += snap.Info.Events
		dropped += snap.Info.Dropped
	}
	rotate := func() {
		if mode != "traced" {
			return
		}
		if id != "" {
			snap, err := n.Trace(id, ^uint64(0))
			require.NoError(b, err)
			if snap.Info.Running() {
				return
			}
			events += snap.Info.Events
			dropped += snap.Info.Dropped
		}
		info, err := n.StartTrace(ctx, pid, cluster.TraceOptions{Duration: cluster.MaxTraceDuration, MaxEvents: cluster.MaxTraceMaxEvents})
		require.NoError(b, err)
		id = info.ID
	}
	b.ReportAllocs()
	cpu := processCPU(b)
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		b.StopTimer()
		rotate()
		b.StartTimer()
		k := min(chunk, b.N-done)
		for range k {
			op()
		}
		drain(done + k)
	}
	b.StopTimer()
	if mode == "traced" {
		stop()
		b.ReportMetric(float64(events)/float64(b.N), "events/op")
		b.ReportMetric(float64(dropped)/float64(b.N), "dropped/op")
	}
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkTracedReceive measures a process receiving at full rate from a
// sender (as BenchmarkLocalSend), untraced and traced: one receive event
// per op.
func BenchmarkTracedReceive(b *testing.B) {
	for _, mode := range benchTraceModes {
		b.Run(mode, func(b *testing.B) {
			n := benchNode(b, realFabric())
			s := &sink{want: int64(b.N), done: make(chan struct{})}
			pid, err := n.SpawnBehavior(s, cluster.SpawnOptions{})
			require.NoError(b, err)
			msg := cluster.Message{Kind: "m", Body: []byte("payload")}
			runTraceBench(b, mode, n, pid, cluster.MaxTraceMaxEvents, func() {
				if err := n.Send(pid, msg); err != nil {
					b.Fatal(err)
				}
			}, func(ops int) {
				for s.n.Load() < int64(ops) {
					runtime.Gosched()
				}
			})
		})
	}
}

// BenchmarkTracedCall measures call round trips to a process that answers
// each with Reply, untraced and traced: a receive and a send event per op.
func BenchmarkTracedCall(b *testing.B) {
	for _, mode := range benchTraceModes {
		b.Run(mode, func(b *testing.B) {
			n := benchNode(b, realFabric())
			pid, err := n.SpawnBehavior(tracee{}, cluster.SpawnOptions{})
			require.NoError(b, err)
			ctx := context.Background()
			msg := cluster.Message{Kind: "ping", Body: []byte("payload")}
			runTraceBench(b, mode, n, pid, cluster.MaxTraceMaxEvents/2, func() {
				if _, err := n.Call(ctx, pid, msg); err != nil {
					b.Fatal(err)
				}
			}, func(int) {})
		})
	}
}

// BenchmarkTraceOverhead measures the cost of tracing as a ratio, robust
// on a shared machine: it alternates phases (about 10 ms each) on two
// identical processes, one untraced and one traced by a long-lived session
// (renewed between phases when it ends), so both see the same background
// load. Each pair of phases gives one overhead; it reports their median
// (overhead-%; a phase that another program's burst slowed down moves
// the mean, mean-overhead-%, far more), the median time per op of each
// process, and the events recorded and dropped per traced op (the trace
// records every kind; every event is one or the other). ns/op counts
// both phases.
func BenchmarkTraceOverhead(b *testing.B) {
	b.Run("receive", func(b *testing.B) {
		n := benchNode(b, realFabric())
		var pids [2]cluster.PID
		var sinks [2]*sink
		var sent [2]int64
		for i := range pids {
			sinks[i] = &sink{want: -1, done: make(chan struct{})}
			pid, err := n.SpawnBehavior(sinks[i], cluster.SpawnOptions{})
			require.NoError(b, err)
			pids[i] = pid
		}
		msg := cluster.Message{Kind: "m", Body: []byte("payload")}
		runPairedTraceBench(b, n, pids, 100_000, func(i, k int) {
			pid := pids[i]
			for range k {
				if err := n.Send(pid, msg); err != nil {
					b.Fatal(err)
				}
			}
			sent[i] += int64(k)
			for sinks[i].n.Load() < sent[i] { // the phase ends when all are handled
				runtime.Gosched()
			}
		})
	})
	b.Run("call", func(b *testing.B) {
		n := benchNode(b, realFabric())
		var pids [2]cluster.PID
		for i := range pids {
			pid, err := n.SpawnBehavior(tracee{}, cluster.SpawnOptions{})
			require.NoError(b, err)
			pids[i] = pid
		}
		ctx := context.Background()
		msg := cluster.Message{Kind: "ping", Body: []byte("payload")}
		runPairedTraceBench(b, n, pids, 5_000, func(i, k int) {
			pid := pids[i]
			for range k {
				if _, err := n.Call(ctx, pid, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// runPairedTraceBench runs b.N ops in phases of phase ops, alternating
// between pids[0] (untraced) and pids[1] (traced).
func runPairedTraceBench(b *testing.B, n *cluster.Node, pids [2]cluster.PID, phase int, run func(i, k int)) {
	ctx := context.Background()
	var spent [2]time.Duration
	var ops [2]int
	var perOp [2][]float64    // ns/op of each full phase
	var cpuPerOp [2][]float64 // CPU ns/op of the whole test process in each full phase
	var id string
	var events, dropped int
	collect := func() {
		snap, err := n.Trace(id, ^uint64(0))
		require.NoError(b, err)
		events += snap.Info.Events
		dropped += snap.Info.Dropped
	}
	b.ResetTimer()
	for done, i := 0, 0; done < b.N; i = 1 - i {
		k := min(phase, b.N-done)
		if i == 1 {
			b.StopTimer()
			if id != "" {
				if snap, err := n.Trace(id, ^uint64(0)); err != nil || !snap.Info.Running() {
					collect()
					id = ""
				}
			}
			if id == "" {
				info, err := n.StartTrace(ctx, pids[1], cluster.TraceOptions{Duration: cluster.MaxTraceDuration, MaxEvents: cluster.MaxTraceMaxEvents})
				require.NoError(b, err)
				id = info.ID
			}
			b.StartTimer()
		}
		start := time.Now()
		cpu0, cpuOK := threadsCPU()
		run(i, k)
		d := time.Since(start)
		cpu1, _ := threadsCPU()
		spent[i] += d
		ops[i] += k
		done += k
		if k == phase {
			perOp[i] = append(perOp[i], float64(d)/float64(k))
			if cpuOK {
				cpuPerOp[i] = append(cpuPerOp[i], float64(cpu1-cpu0)/float64(k))
			}
		}
	}
	b.StopTimer()
	if id != "" {
		require.NoError(b, n.StopTrace(ctx, id))
		collect()
	}
	pairs := min(len(perOp[0]), len(perOp[1]))
	if pairs == 0 {
		return
	}
	overheads := make([]float64, pairs)
	for j := range pairs {
		overheads[j] = 100 * (perOp[1][j] - perOp[0][j]) / perOp[0][j]
	}
	median := func(xs []float64) float64 {
		xs = slices.Clone(xs)
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	p := float64(spent[0]) / float64(ops[0])
	t := float64(spent[1]) / float64(ops[1])
	b.ReportMetric(median(perOp[0]), "untraced-ns/op")
	b.ReportMetric(median(perOp[1]), "traced-ns/op")
	b.ReportMetric(median(overheads), "overhead-%")
	b.ReportMetric(100*(t-p)/p, "mean-overhead-%")
	b.ReportMetric(float64(pairs), "pairs")
	if cpuPairs := min(len(cpuPerOp[0]), len(cpuPerOp[1])); cpuPairs > 0 {
		cpuOverheads := make([]float64, cpuPairs)
		for j := range cpuPairs {
			cpuOverheads[j] = 100 * (cpuPerOp[1][j] - cpuPerOp[0][j]) / cpuPerOp[0][j]
		}
		b.ReportMetric(median(cpuOverheads), "cpu-overhead-%")
	}
	b.ReportMetric(float64(events)/float64(ops[1]), "events/traced-op")
	b.ReportMetric(float64(dropped)/float64(ops[1]), "dropped/traced-op")
}

// gate counts the messages it handles and blocks in a "block" message
// until released, so that a test can end a trace while the process is busy.
type gate struct {
	n       atomic.Int64
	blocked chan struct{}
	release chan struct{}
}

func (g *gate) Init(*cluster.Process, []byte) error { return nil }
func (g *gate) Handle(_ *cluster.Process, m cluster.Message) error {
	g.n.Add(1)
	if m.Kind == "block" {
		close(g.blocked)
		<-g.release
	}
	return nil
}
func (g *gate) Terminate(*cluster.Process, cluster.Reason) {}

func TestTraceEndWhileBusyCountsEveryDrop(t *testing.T) {
	// The process drops receive events while its buffer is full, then the
	// trace is stopped while the process is busy inside a message: the
	// session waits for the process to count its last drops, and every
	// event before the stop is either delivered or counted as dropped.
	n := traceNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g := &gate{blocked: make(chan struct{}), release: make(chan struct{})}
	pid, err := n.SpawnBehavior(g, cluster.SpawnOptions{})
	require.NoError(t, err)
	info, err := n.StartTrace(ctx, pid, cluster.TraceOptions{Kinds: []string{"receive"}, MaxEvents: cluster.MaxTraceMaxEvents, Duration: time.Minute})
	require.NoError(t, err)
	const count = 30000
	msg := cluster.Message{Kind: "m", Body: []byte("body")}
	for range count {
		require.NoError(t, n.Send(pid, msg))
	}
	require.NoError(t, n.Send(pid, cluster.Message{Kind: "block"}))
	select {
	case <-g.blocked:
	case <-ctx.Done():
		t.Fatal("the process did not reach the block message")
	}
	// Stop the session on the collector (the RPC StopTrace sends; it
	// returns once the session has ended there, without waiting for the
	// last batch as StopTrace does).
	_, err = n.Request(ctx, n.Name(), "trace.stop", []byte(`{"id":"`+info.ID+`"}`))
	require.NoError(t, err)
	// The session cannot settle while the process is busy; the next
	// message (after the stop, so not part of the trace) settles it.
	require.NoError(t, n.Send(pid, msg))
	close(g.release)
	snap := waitTraceEnd(t, n, info.ID, 5*time.Second)
	assert.Equal(t, cluster.TraceEndStopped, snap.Info.EndReason)
	assert.Equal(t, count+1, snap.Info.Events+snap.Info.Dropped, "events %d + dropped %d", snap.Info.Events, snap.Info.Dropped)
	t.Logf("%d events delivered, %d dropped", snap.Info.Events, snap.Info.Dropped)

	// The process is no longer traced: a new session can start.
	require.Eventually(t, func() bool {
		_, err := n.StartTrace(ctx, pid, cluster.TraceOptions{})
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
}
