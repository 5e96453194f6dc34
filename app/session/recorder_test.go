package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator"
	"github.com/clusterlab/clusterlab/simulator/scenario"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

func stepKinds(sc *scenario.Scenario) []string {
	out := make([]string, len(sc.Steps))
	for i, st := range sc.Steps {
		out[i] = st.Kind
	}
	return out
}

func TestRecorderOutput(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	rec := NewRecorder(RecorderOptions{Name: "debug-svc", Description: "svc flaps after a split", Now: func() time.Time { return t0 }})
	rec.Start(7, 3)
	assert.True(t, rec.Recording())

	counter := cluster.PID{Node: "node-2", ID: 12}
	steps := []struct {
		op     string
		params map[string]any
		result any
		after  time.Duration
	}{
		{"spawn", map[string]any{"node": "node-1", "behavior": "echo", "name": "e1"}, map[string]any{"pid": "node-1/5", "node": "node-1"}, 0},
		{"register", map[string]any{"name": "svc", "pid": "node-1/5"}, nil, 50 * time.Millisecond},
		{"list_processes", map[string]any{"limit": json.Number("10")}, nil, 60 * time.Millisecond},
		{"partition", map[string]any{"groups": []any{[]any{"node-1"}, []any{"node-2", "node-3"}}}, nil, time.Second},
		{"heal", map[string]any{}, nil, 3 * time.Second},
		{"node_crash", map[string]any{"node": "node-3"}, nil, 20 * time.Second},
		{"kill_process", map[string]any{"pid": "node-2/9"}, nil, 20*time.Second + 10*time.Millisecond},
		{"node_crash", map[string]any{"node": "observer"}, nil, 20*time.Second + 20*time.Millisecond},
		{"link_latency", map[string]any{"a": "node-1", "b": "node-2", "latency": 50 * time.Millisecond, "jitter": "10ms"}, nil, 20*time.Second + 30*time.Millisecond},
		{"link_loss", map[string]any{"a": "node-1", "b": "node-2", "p": json.Number("0.2")}, nil, 20*time.Second + 40*time.Millisecond},
		{"spawn", map[string]any{"node": "node-2", "behavior": "counter", "args": map[string]any{"start": json.Number("5")}}, counter, 20*time.Second + 50*time.Millisecond},
		{"send", map[string]any{"pid": counter, "kind": "inc"}, nil, 20*time.Second + 60*time.Millisecond},
		{"kill_process", map[string]any{"pid": "node-2/12", "reason": "killed"}, nil, 20*time.Second + 70*time.Millisecond},
		{"node_start", map[string]any{"role": "worker"}, nil, 21 * time.Second},
		{"cut", map[string]any{"from": "node-4", "to": "node-1"}, nil, 21*time.Second + 10*time.Millisecond},
		{"warp_drive", map[string]any{}, nil, 21*time.Second + 20*time.Millisecond},
	}
	for _, s := range steps {
		rec.RecordResult(s.op, s.params, s.result, t0.Add(s.after))
	}
	out, err := rec.Stop(FinalState{Converged: true, ProcessCounts: map[string]int{"echo": 1, "ticker": 4}, Registry: []string{"svc", "demo-name"}})
	require.NoError(t, err)
	assert.False(t, rec.Recording())
	t.Logf("recorded scenario:\n%s", out)

	sc, err := scenario.Parse(out)
	require.NoError(t, err, "the recorded scenario parses:\n%s", out)
	assert.Equal(t, "debug-svc", sc.Name)
	assert.Equal(t, int64(7), sc.Seed)
	assert.Equal(t, 3, sc.Nodes)
	assert.Equal(t, []string{
		"spawn", "register", // 50ms apart: no sleep
		"sleep", "partition", // 950ms
		"sleep", "heal", // 2s
		"sleep", "crash", // 17s capped to 5s
		"latency", "loss", "spawn", "send", "kill",
		"sleep", "start_nodes", // 930ms
		"cut",
		"wait_until", "expect", "expect", "expect", "expect",
	}, stepKinds(sc))

	text := string(out)
	for _, want := range []string{
		"- spawn: {node: node-1, behavior: echo, name: e1, as: e1}",
		"- register: {name: svc, pid: $e1}",
		"- sleep: 950ms",
		"- partition: [[node-1], [node-2, node-3]]",
		"- sleep: 5s",
		"- crash: node-3",
		"- latency: {a: node-1, b: node-2, latency: 50ms, jitter: 10ms}",
		"- loss: {a: node-1, b: node-2, p: 0.2}",
		"- spawn: {node: node-2, behavior: counter, args: {start: 5}, as: p2}",
		"- send: {to: $p2, kind: inc}",
		"- kill: {pid: $p2, reason: killed}",
		"- start_nodes: {count: 1}",
		"- cut: {from: node-4, to: node-1}",
		"- expect: {condition: converged}",
		"- expect: {condition: {process_count: {behavior: counter, equals: 0}}}",
		"- expect: {condition: {process_count: {behavior: echo, equals: 1}}}",
		"- expect: {condition: {registry: {name: svc, resolves_everywhere: true}}}",
		"within: 15s",
		"# Recorded by clusterlab on 2026-05-01T09:00:00Z: 12 operations.",
		`# left out: kill_process not replayed: node-2/9 was not started during the recording`,
		`# left out: node_crash not replayed: node "observer" is not a node of the replay`,
		`# left out: warp_drive not replayed: no scenario step does this`,
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "ticker", "behaviours the recording did not start are not expected")
	assert.NotContains(t, text, "demo-name", "names the recording did not register are not expected")
	assert.NotContains(t, text, "list_processes")
	assert.Len(t, rec.Warnings(), 3)
}

func TestRecorderStates(t *testing.T) {
	rec := NewRecorder(RecorderOptions{})
	_, err := rec.Stop(FinalState{})
	assert.ErrorIs(t, err, ErrNotRecording)

	rec.Record("node_crash", map[string]any{"node": "node-1"}, time.Now()) // not recording: ignored
	rec.Start(1, 2)
	_, err = rec.Stop(FinalState{})
	assert.ErrorIs(t, err, ErrInvalid, "nothing to replay")

	// Start again discards the earlier recording.
	rec.Start(1, 2)
	rec.Record("node_crash", map[string]any{"node": "node-1"}, time.Now())
	rec.Start(3, 2)
	rec.Record("node_crash", map[string]any{"node": "node-2"}, time.Now())
	out, err := rec.Stop(FinalState{})
	require.NoError(t, err)
	assert.Contains(t, string(out), "crash: node-2")
	assert.NotContains(t, string(out), "crash: node-1")
	assert.Contains(t, string(out), "seed: 3")

	// Bounded.
	rec = NewRecorder(RecorderOptions{MaxOperations: 3})
	rec.Start(1, 1)
	at := time.Now()
	for i := range 10 {
		rec.Record("heal", nil, at.Add(time.Duration(i)*time.Millisecond))
	}
	out, err = rec.Stop(FinalState{})
	require.NoError(t, err)
	assert.Equal(t, 3, strings.Count(string(out), "- heal: {}"))
	require.NotEmpty(t, rec.Warnings())
	assert.Contains(t, rec.Warnings()[0], "more than 3 operations")
}

func TestRecorderEveryOutputParses(t *testing.T) {
	// Odd inputs must still give a scenario that parses (or be left out).
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := NewRecorder(RecorderOptions{})
	rec.Start(1, 3)
	odd := []struct {
		op     string
		params map[string]any
		result any
	}{
		{"partition", map[string]any{"groups": "node-1,node-2;node-3"}, nil},
		{"partition", map[string]any{"groups": 5}, nil},
		{"partition", map[string]any{"groups": []any{[]any{"node-1", 3}}}, nil},
		{"link_loss", map[string]any{"a": "node-1", "b": "node-2", "p": 7.0}, nil},
		{"link_latency", map[string]any{"a": "node-1", "b": "node-2", "latency": "fast"}, nil},
		{"spawn", map[string]any{"node": "node-1", "behavior": "echo", "name": "has spaces: and colons", "args": json.RawMessage(`{"x":[1,{"y":"z"}]}`)}, map[string]any{"pid": cluster.PID{Node: "node-1", ID: 1}}},
		{"spawn", map[string]any{"node": "node-1", "behavior": "echo", "name": "has spaces: and colons"}, "node-1/2"},
		{"spawn", map[string]any{"behavior": "echo", "labels": map[string]any{"team": "a", "n": 3}}, struct {
			PID string `json:"pid"`
		}{"node-2/1"}},
		{"spawn", map[string]any{"behavior": "echo", "trap_exits": true}, nil},
		{"register", map[string]any{"name": "svc: odd\nname", "pid": "node-1/2"}, nil},
		{"send", map[string]any{"pid": "node-2/1", "kind": "ping", "body": "multi\nline: yes"}, nil},
		{"call", map[string]any{"pid": "node-1/1", "kind": "get"}, nil},
		{"start_supervisor", map[string]any{"name": "sup", "max_restarts": json.Number("3"), "period": 5 * time.Second}, nil},
		{"start_child", map[string]any{"supervisor": "sup", "id": "c1", "behavior": "counter", "restart": "permanent", "placement": map[string]any{"node": "node-2"}}, map[string]any{"pid": "node-2/7"}},
		{"start_children", map[string]any{"supervisor": "sup", "count": json.Number("4"), "behavior": "echo", "prefix": "w-"}, nil},
		{"sandbox_create", map[string]any{"name": "box", "nodes": []any{"node-1", "node-2"}, "children": []any{map[string]any{"behavior": "ticker", "count": json.Number("2"), "bogus": 1}}}, nil},
		{"trace_start", map[string]any{"pid": "node-2/7", "kinds": []string{"send", "receive"}, "duration": "10s"}, map[string]any{"id": "tr-1"}},
		{"trace_stop", map[string]any{"id": "tr-1"}, nil},
		{"trace_stop", map[string]any{"id": "nope"}, nil},
		{"sandbox_destroy", map[string]any{"name": "box"}, nil},
		{"terminate_child", map[string]any{"supervisor": "sup", "id": "c1"}, nil},
		{"unregister", map[string]any{"name": "svc: odd\nname"}, nil},
		{"uncut", map[string]any{"from": "node-1", "to": "node-2"}, nil},
		{"node_restart", map[string]any{"node": "node-3"}, nil},
		{"node_stop", map[string]any{"node": "node-2"}, nil},
	}
	for i, o := range odd {
		rec.RecordResult(o.op, o.params, o.result, at.Add(time.Duration(i)*10*time.Millisecond))
	}
	out, err := rec.Stop(FinalState{Converged: true, ProcessCounts: map[string]int{"echo": 3}})
	require.NoError(t, err)
	t.Logf("scenario:\n%s\nwarnings: %q", out, rec.Warnings())
	sc, err := scenario.Parse(out)
	require.NoError(t, err, "scenario:\n%s", out)
	kinds := stepKinds(sc)
	for _, k := range []string{"start_supervisor", "start_child", "start_children", "sandbox_create", "trace_start", "trace_stop", "sandbox_destroy", "terminate_child", "unregister", "uncut", "restart", "stop"} {
		assert.Contains(t, kinds, k)
	}
	assert.Len(t, rec.Warnings(), 6, "groups 5, groups with a number, p 7, latency fast, trap_exits, unknown trace")
}

// finalStateOf reads the final state of a simulated cluster the way the
// app would: processes per behaviour and registered names.
func finalStateOf(sim *simulator.Simulator) FinalState {
	fs := FinalState{Converged: sim.Converged(), ProcessCounts: map[string]int{}}
	names := map[string]bool{}
	for _, n := range sim.Running() {
		for _, p := range n.LocalProcesses() {
			fs.ProcessCounts[p.Behavior]++
		}
		for _, e := range n.RegistryEntries() {
			names[e.Name] = true
		}
	}
	for name := range names {
		fs.Registry = append(fs.Registry, name)
	}
	sort.Strings(fs.Registry)
	return fs
}

// TestRecordedSessionReplays records a short session done by hand on a
// simulated cluster (what the app does for the operations a developer
// runs), saves it as a scenario, and replays it with the scenario runner.
func TestRecordedSessionReplays(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two simulated clusters")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const seed, nodes = 11, 3
	sim, err := simulator.New(simulator.Config{Nodes: nodes, Seed: seed, Setup: workload.Register})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer ccancel()
		_ = sim.Close(cctx)
	})
	require.NoError(t, sim.Start(ctx))
	require.NoError(t, sim.WaitConverged(ctx))

	rec := NewRecorder(RecorderOptions{Name: "hand-session"})
	rec.Start(seed, nodes)
	n1 := sim.Node("node-1")
	do := func(op string, params map[string]any, result any) {
		t.Helper()
		rec.RecordResult(op, params, result, time.Now())
	}

	e1, err := n1.Spawn(ctx, "node-1", "echo", cluster.SpawnOptions{Name: "e1"})
	require.NoError(t, err)
	do("spawn", map[string]any{"node": "node-1", "behavior": "echo", "name": "e1"}, map[string]any{"pid": e1.String()})

	require.NoError(t, n1.Register(ctx, "svc", e1))
	do("register", map[string]any{"name": "svc", "pid": e1}, nil)

	c1, err := n1.Spawn(ctx, "node-2", "counter", cluster.SpawnOptions{})
	require.NoError(t, err)
	do("spawn", map[string]any{"node": "node-2", "behavior": "counter"}, c1)

	e2, err := n1.Spawn(ctx, "node-2", "echo", cluster.SpawnOptions{})
	require.NoError(t, err)
	do("spawn", map[string]any{"node": "node-2", "behavior": "echo"}, e2.String())

	require.NoError(t, sim.Crash("node-3"))
	do("node_crash", map[string]any{"node": "node-3"}, nil)

	require.NoError(t, n1.Kill(ctx, c1, cluster.ReasonKilled))
	do("kill_process", map[string]any{"pid": c1.String(), "reason": "killed"}, nil)

	require.NoError(t, sim.WaitConverged(ctx))
	require.Eventually(t, func() bool {
		fs := finalStateOf(sim)
		return fs.Converged && fs.ProcessCounts["counter"] == 0 && len(fs.Registry) == 1
	}, 30*time.Second, 20*time.Millisecond)
	final := finalStateOf(sim)
	out, err := rec.Stop(final)
	require.NoError(t, err)
	t.Logf("final state %+v; recorded:\n%s", final, out)

	sc, err := scenario.Parse(out)
	require.NoError(t, err)
	var buf bytes.Buffer
	rep, err := scenario.Run(ctx, sc, scenario.RunOptions{Out: &buf})
	require.NoError(t, err)
	t.Logf("replay:\n%s", buf.String())
	require.True(t, rep.Passed, "the recorded session replays:\n%s", buf.String())
}

// TestRecordedDivergenceIsReported: a replay whose final state differs
// from the recording fails at the expect step and says how.
func TestRecordedDivergenceIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := NewRecorder(RecorderOptions{Name: "diverges", Settle: 500 * time.Millisecond})
	rec.Start(3, 2)
	rec.RecordResult("spawn", map[string]any{"node": "node-1", "behavior": "echo"}, "node-1/1", time.Now())
	// Claim two echo processes were running at the end: the replay has one.
	out, err := rec.Stop(FinalState{ProcessCounts: map[string]int{"echo": 2}})
	require.NoError(t, err)
	sc, err := scenario.Parse(out)
	require.NoError(t, err)
	var buf bytes.Buffer
	rep, err := scenario.Run(ctx, sc, scenario.RunOptions{Out: &buf})
	require.NoError(t, err)
	t.Logf("replay:\n%s", buf.String())
	assert.False(t, rep.Passed)
	assert.Contains(t, buf.String(), "wait_until")
	assert.Contains(t, buf.String(), "echo")
}

// FuzzRecorder: arbitrary params (as JSON) never panic the recorder, and
// what it writes always parses as a scenario.
func FuzzRecorder(f *testing.F) {
	f.Add("spawn", `{"node":"node-1","behavior":"echo","name":"e1"}`, `{"pid":"node-1/1"}`)
	f.Add("partition", `{"groups":[["node-1"],["node-2"]]}`, `null`)
	f.Add("sandbox_create", `{"name":"b","children":[{"behavior":"x","count":2}]}`, `null`)
	f.Add("link_latency", `{"a":"node-1","b":"node-2","latency":"5ms"}`, `null`)
	f.Fuzz(func(t *testing.T, op, params, result string) {
		var p map[string]any
		dec := json.NewDecoder(strings.NewReader(params))
		dec.UseNumber()
		if dec.Decode(&p) != nil {
			return
		}
		var res any
		_ = json.Unmarshal([]byte(result), &res)
		rec := NewRecorder(RecorderOptions{})
		rec.Start(1, 2)
		rec.RecordResult(op, p, res, time.Now())
		rec.RecordResult("heal", nil, nil, time.Now())
		out, err := rec.Stop(FinalState{Converged: true})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Stop: %v", err)
			}
			return
		}
		var doc map[string]any
		if err := yaml.Unmarshal(out, &doc); err != nil {
			t.Fatalf("output is not YAML: %v\n%s", err, out)
		}
		if _, err := scenario.Parse(out); err != nil {
			t.Fatalf("output is not a valid scenario: %v\n%s", err, out)
		}
	})
}

func TestRecorderConcurrentUse(t *testing.T) {
	rec := NewRecorder(RecorderOptions{})
	rec.Start(1, 3)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 50 {
				rec.RecordResult("spawn", map[string]any{"node": "node-1", "behavior": "echo"}, fmt.Sprintf("node-1/%d", g*100+i), time.Now())
				_ = rec.Warnings()
				_ = rec.Recording()
			}
		}()
	}
	for range 4 {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("recorders did not finish")
		}
	}
	out, err := rec.Stop(FinalState{ProcessCounts: map[string]int{"echo": 200}})
	require.NoError(t, err)
	assert.Equal(t, 200, strings.Count(string(out), "- spawn:"))
}
