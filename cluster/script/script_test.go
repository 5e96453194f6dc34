package script_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.starlark.net/starlark"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/cluster/script"
	"github.com/clusterlab/clusterlab/simulator"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

// startSim starts three worker nodes running the demo workloads.
func startSim(t *testing.T) *simulator.Simulator {
	t.Helper()
	s, err := simulator.New(simulator.Config{Nodes: 3, Seed: 41, Setup: workload.Register})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	require.NoError(t, s.Start(ctx))
	require.NoError(t, s.WaitConverged(ctx))
	return s
}

func TestRun(t *testing.T) {
	s := startSim(t)
	n1 := s.Node("node-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	tests := []struct {
		name   string
		src    string
		limits script.Limits
		check  func(t *testing.T, res script.Result)
		err    error  // sentinel the error must match
		errMsg string // text the error must contain
	}{
		{
			name: "members",
			src: `
names = [m["name"] for m in cluster.members()]
result = {"names": names, "states": [m["state"] for m in cluster.members()], "self": cluster.self_node(), "role": cluster.members()[0]["role"], "tags": cluster.members()[0]["tags"]}
`,
			check: func(t *testing.T, res script.Result) {
				assert.Equal(t, map[string]any{
					"names":  []any{"node-1", "node-2", "node-3"},
					"states": []any{"alive", "alive", "alive"},
					"self":   "node-1",
					"role":   "worker",
					"tags":   map[string]any{},
				}, res.Value)
			},
		},
		{
			name: "spawn call kill round trip",
			src: `
pid = cluster.spawn("echo", node="node-2", name="e1")
reply = cluster.call(pid, "ping", "hello", timeout=2)
ctr = cluster.spawn("counter", node="node-3", args={"start": 40})
cluster.send(ctr, "inc", "2")
value = cluster.call(ctr, "get")["body"]
local = cluster.spawn("echo")
before = len(cluster.processes(node="node-2", behavior="echo"))
cluster.kill(pid)
cluster.kill(ctr, reason="done")
cluster.kill(local)
after = len(cluster.processes(node="node-2", behavior="echo"))
result = {"pid": pid, "reply": reply, "value": value, "local": local, "before": before, "after": after}
`,
			check: func(t *testing.T, res script.Result) {
				v := res.Value.(map[string]any)
				pid := v["pid"].(string)
				assert.True(t, strings.HasPrefix(pid, "node-2/"), "spawned on node-2: %s", pid)
				assert.Equal(t, map[string]any{"kind": "echo", "body": "hello", "from": pid}, v["reply"])
				assert.Equal(t, "42", v["value"])
				assert.True(t, strings.HasPrefix(v["local"].(string), "node-1/"), "no node spawns on the script's node")
				assert.Equal(t, int64(1), v["before"])
				assert.Equal(t, int64(0), v["after"])
			},
		},
		{
			name: "lookup",
			src: `
pid = cluster.spawn("echo", node="node-3")
result = [cluster.lookup("nobody"), pid]
`,
			check: func(t *testing.T, res script.Result) {
				assert.Nil(t, res.Value.([]any)[0])
			},
		},
		{
			name: "processes",
			src: `
pid = cluster.spawn("ticker", node="node-2", args={"interval": "1s"})
ps = [p for p in cluster.processes(behavior="ticker") if p["pid"] == pid]
cluster.kill(pid)
result = ps[0]
`,
			check: func(t *testing.T, res script.Result) {
				p := res.Value.(map[string]any)
				assert.Equal(t, "node-2", p["node"])
				assert.Equal(t, "ticker", p["behavior"])
				assert.Contains(t, p, "mailbox")
			},
		},
		{
			name: "print capture",
			src: `
print("hello", 1)
for i in range(3):
    print("line", i)
`,
			check: func(t *testing.T, res script.Result) {
				assert.Equal(t, "hello 1\nline 0\nline 1\nline 2\n", res.Output)
				assert.False(t, res.OutputTruncated)
				assert.Nil(t, res.Value)
				assert.Positive(t, res.Steps)
			},
		},
		{
			name:   "print is bounded",
			src:    `for i in range(1000): print("0123456789")`,
			limits: script.Limits{MaxOutput: 100},
			check: func(t *testing.T, res script.Result) {
				assert.Len(t, res.Output, 100)
				assert.True(t, res.OutputTruncated)
			},
		},
		{
			name: "json module and result conversion",
			src:  `result = json.decode(json.encode({"a": [1, 2.5, True, None], "b": b"x"[0:0] == b""}))`,
			check: func(t *testing.T, res script.Result) {
				assert.Equal(t, map[string]any{"a": []any{int64(1), 2.5, true, nil}, "b": true}, res.Value)
			},
		},
		{
			name: "sleep",
			src:  `cluster.sleep(0.01)`,
		},
		{
			name:   "step limit exceeded",
			src:    "x = 0\nfor i in range(100000000):\n    x += i\n",
			limits: script.Limits{MaxSteps: 10000},
			err:    script.ErrStepLimit,
			errMsg: "step limit of 10000 exceeded",
		},
		{
			name:   "timeout",
			src:    "def spin():\n    while True:\n        pass\nspin()\n",
			limits: script.Limits{MaxSteps: 1 << 62, Timeout: 200 * time.Millisecond},
			err:    script.ErrTimeout,
			errMsg: "timeout after 200ms",
		},
		{
			name:   "sleep is bounded by the timeout",
			src:    `cluster.sleep(30)`,
			limits: script.Limits{Timeout: 100 * time.Millisecond},
			err:    script.ErrTimeout,
			errMsg: "sleep: interrupted",
		},
		{
			name:   "sleep is bounded by MaxSleep",
			src:    `cluster.sleep(2)`,
			limits: script.Limits{MaxSleep: time.Second},
			errMsg: "sleep: 2s is longer than the limit of 1s",
		},
		{
			name:   "load is refused",
			src:    `load("other.star", "x")`,
			err:    script.ErrLoadRefused,
			errMsg: `load("other.star") is not allowed`,
		},
		{
			name:   "syntax error",
			src:    "x = (\n",
			err:    script.ErrSyntax,
			errMsg: "test.star:2:1",
		},
		{
			name:   "undefined name",
			src:    "x = open('/etc/passwd')\n",
			err:    script.ErrSyntax,
			errMsg: "undefined: open",
		},
		{
			name:   "recursion is refused",
			src:    "def f(n):\n    return f(n + 1)\nf(0)\n",
			errMsg: "called recursively",
		},
		{
			name:   "runtime error has the position",
			src:    "x = 1\ny = x // 0\n",
			errMsg: "test.star:2:7: floored division by zero",
		},
		{name: "spawn without behaviour", src: `cluster.spawn()`, errMsg: "spawn: missing argument for behavior"},
		{name: "spawn with a bad node type", src: `cluster.spawn("echo", node=3)`, errMsg: "spawn: node must be a string or None, not int"},
		{name: "spawn with bad args", src: `cluster.spawn("echo", args=1.5)`, errMsg: "spawn: args must be a string, bytes, dict, list or None, not float"},
		{name: "spawn an unknown behaviour", src: `cluster.spawn("nope", node="node-2")`, errMsg: `unknown behaviour "nope"`},
		{name: "spawn on a missing node", src: `cluster.spawn("echo", node="node-9")`, errMsg: "node_unreachable"},
		{name: "send to a bad pid", src: `cluster.send("nope", "ping")`, errMsg: `send: cluster: bad pid: "nope"`},
		{name: "send with a pid of the wrong type", src: `cluster.send(12, "ping")`, errMsg: `send: pid must be a "node/id" string, not int`},
		{name: "send without a kind", src: `cluster.send("node-1/1", "")`, errMsg: "send: kind is empty"},
		{name: "call a missing process", src: `cluster.call("node-2/99999", "ping")`, errMsg: "not_found"},
		{name: "call with a bad timeout", src: `cluster.call("node-2/1", "ping", timeout=-1)`, errMsg: "call: timeout -1"},
		{name: "call with a zero timeout", src: `cluster.call("node-2/1", "ping", timeout=0)`, errMsg: "want more than 0"},
		{name: "kill a missing process", src: `cluster.kill("node-3/99999")`, errMsg: "kill: cluster: not_found"},
		{name: "sleep a negative time", src: `cluster.sleep(-1)`, errMsg: "sleep: seconds -1"},
		{name: "members takes no arguments", src: `cluster.members(1)`, errMsg: "members: got 1 arguments, want at most 0"},
		{name: "unknown keyword", src: `cluster.spawn("echo", nodes="x")`, errMsg: "unexpected keyword argument"},
		{name: "result that does not convert", src: `result = cluster.spawn`, errMsg: "result: cannot convert a builtin_function_or_method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := script.Run(ctx, script.Env{Node: n1}, "test.star", tt.src, tt.limits)
			if tt.err == nil && tt.errMsg == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err, "Run(%q) = nil error", tt.src)
				if tt.err != nil {
					assert.ErrorIs(t, err, tt.err)
				}
				assert.Contains(t, err.Error(), tt.errMsg)
				var se *script.Error
				assert.True(t, errors.As(err, &se), "the error is a *script.Error: %T", err)
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func TestRunErrorHasBacktrace(t *testing.T) {
	s := startSim(t)
	src := "def helper():\n    cluster.send('bad', 'x')\n\nhelper()\n"
	_, err := script.Run(context.Background(), script.Env{Node: s.Node("node-1")}, "bt.star", src, script.Limits{})
	var se *script.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "bt.star:2:17", se.Pos, "the innermost script position, not the builtin")
	assert.Contains(t, se.Backtrace, "bt.star:4:7: in <toplevel>")
	assert.Contains(t, se.Backtrace, "bt.star:2:17: in helper")
	assert.Contains(t, se.Backtrace, "Error in send")
	assert.Contains(t, err.Error(), "script: bt.star:2:17: send: cluster: bad pid")
}

func TestRunValidatesInput(t *testing.T) {
	ctx := context.Background()
	_, err := script.Run(ctx, script.Env{}, "x.star", "x = 1", script.Limits{})
	assert.ErrorIs(t, err, script.ErrBadLimits)
	s := startSim(t)
	env := script.Env{Node: s.Node("node-1")}
	for _, l := range []script.Limits{{Timeout: -1}, {Timeout: time.Hour}, {MaxSleep: -1}, {MaxOutput: -1}} {
		_, err := script.Run(ctx, env, "x.star", "x = 1", l)
		assert.ErrorIs(t, err, script.ErrBadLimits, "Run with %+v", l)
	}
	_, err = script.Run(ctx, env, "x.star", strings.Repeat(" ", script.MaxSource+1), script.Limits{})
	assert.ErrorContains(t, err, "more than")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = script.Run(cctx, env, "x.star", "while True:\n    pass\n", script.Limits{})
	assert.ErrorIs(t, err, script.ErrCanceled)
}

func TestRunFromAnObserver(t *testing.T) {
	s := startSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	obs, err := s.AddNode(ctx, "observer", cluster.RoleObserver, nil)
	require.NoError(t, err)
	require.NoError(t, s.WaitConverged(ctx))
	_, err = script.Run(ctx, script.Env{Node: obs}, "o.star", `cluster.spawn("echo")`, script.Limits{})
	assert.ErrorContains(t, err, "give node=: observer is an observer")
	res, err := script.Run(ctx, script.Env{Node: obs}, "o.star", `
pid = cluster.spawn("echo", node="node-1")
result = cluster.call(pid, "ping", "x")["from"] == pid
cluster.kill(pid)
`, script.Limits{})
	require.NoError(t, err)
	assert.Equal(t, true, res.Value)
}

func TestExecInSandbox(t *testing.T) {
	s := startSim(t)
	n1 := s.Node("node-1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := script.ExecInSandbox(ctx, n1, "nope", `x = 1`, script.Limits{})
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err), "ExecInSandbox on an unknown sandbox: %v", err)

	_, err = n1.CreateSandbox(ctx, cluster.SandboxSpec{Name: "play", Nodes: []string{"node-2", "node-3"}})
	require.NoError(t, err)
	res, err := script.ExecInSandbox(ctx, n1, "play", `
a = cluster.spawn("echo")
b = cluster.spawn("echo")
c = cluster.spawn("counter", node="node-3", name="c")
print(cluster.sandbox)
result = [a, b, c, cluster.call(a, "ping", "in the sandbox")["body"]]
`, script.Limits{})
	require.NoError(t, err)
	assert.Equal(t, "play\n", res.Output)
	v := res.Value.([]any)
	assert.Equal(t, "in the sandbox", v[3])
	assert.True(t, strings.HasPrefix(v[0].(string), "node-2/"), "round-robin over the sandbox nodes: %v", v)
	assert.True(t, strings.HasPrefix(v[1].(string), "node-3/"), "round-robin over the sandbox nodes: %v", v)

	_, err = script.ExecInSandbox(ctx, n1, "play", `cluster.spawn("echo", node="node-1")`, script.Limits{})
	assert.ErrorContains(t, err, "not one of its nodes")

	d, err := n1.SandboxInfo(ctx, "play")
	require.NoError(t, err)
	var found []string
	for _, pn := range d.PerNode {
		for _, p := range pn.Processes {
			assert.Equal(t, "play", p.Labels[cluster.SandboxLabel])
			found = append(found, p.PID.String())
		}
	}
	assert.ElementsMatch(t, v[:3], toAny(found), "the script's spawns are labelled with the sandbox")
	assert.Len(t, d.Processes, 3, "and listed in its inventory")

	rep, err := n1.DestroySandbox(ctx, "play")
	require.NoError(t, err)
	assert.True(t, rep.Verified)
	assert.Equal(t, 3, rep.Stopped)
	_, err = script.ExecInSandbox(ctx, n1, "play", `x = 1`, script.Limits{})
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err), "a destroyed sandbox takes no scripts")
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func TestModuleWithBind(t *testing.T) {
	s := startSim(t)
	thread := &starlark.Thread{Name: "op"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	script.Bind(thread, ctx, script.Limits{MaxSleep: time.Millisecond})
	globals, err := starlark.ExecFileOptions(script.FileOptions(), thread, "op.star", `
node = cluster.self_node()
def run():
    cluster.sleep(1)
`, script.Predeclared(script.Env{Node: s.Node("node-2")}))
	require.NoError(t, err)
	assert.Equal(t, starlark.String("node-2"), globals["node"])
	_, err = starlark.Call(thread, globals["run"], nil, nil)
	assert.ErrorContains(t, err, "longer than the limit of 1ms", "Bind carries the limits to the module")
	_, err = starlark.ExecFileOptions(script.FileOptions(), thread, "load.star", `load("x.star", "y")`, nil)
	assert.ErrorIs(t, err, script.ErrLoadRefused)
}

// BenchmarkRunPure measures a run's fixed cost plus a small computation
// (no cluster calls).
func BenchmarkRunPure(b *testing.B) {
	s, err := simulator.New(simulator.Config{Nodes: 1, Seed: 42})
	require.NoError(b, err)
	ctx := context.Background()
	b.Cleanup(func() { _ = s.Close(ctx) })
	require.NoError(b, s.Start(ctx))
	env := script.Env{Node: s.Node("node-1")}
	src := "x = 0\nfor i in range(100):\n    x += i * i\nresult = x\n"
	for b.Loop() {
		if _, err := script.Run(ctx, env, "b.star", src, script.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunSpawnCallKill measures one remote spawn, call and kill from
// a script.
func BenchmarkRunSpawnCallKill(b *testing.B) {
	s, err := simulator.New(simulator.Config{Nodes: 2, Seed: 43, Setup: workload.Register})
	require.NoError(b, err)
	ctx := context.Background()
	b.Cleanup(func() { _ = s.Close(ctx) })
	require.NoError(b, s.Start(ctx))
	require.NoError(b, s.WaitConverged(ctx))
	env := script.Env{Node: s.Node("node-1")}
	src := "p = cluster.spawn('echo', node='node-2')\ncluster.call(p, 'ping', 'x')\ncluster.kill(p)\n"
	for b.Loop() {
		if _, err := script.Run(ctx, env, "b.star", src, script.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
