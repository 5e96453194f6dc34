package script

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
	"github.com/clusterlab/clusterlab/simulator"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

const countEchoes = `
operation(
    name = "count_echoes",
    summary = "Count echo processes",
    category = "scripts",
    params = {"node": param("node", required = False, description = "only this node")},
    destructive = False,
)

def execute(params):
    procs = cluster.processes(node = params.get("node"), behavior = "echo")
    return {"count": len(procs)}
`

const greet = `
operation(
    name = "greet",
    summary = "Say hello",
    params = {
        "who": param("string", required = True, min_len = 1, max_len = 10),
        "times": param("int", default = 1, min = 1, max = 3),
        "wait": param("duration", default = "1s"),
    },
    timeout = 5,
)

def execute(params):
    return {"msg": ("hello " + params["who"] + " ") * params["times"], "wait": params["wait"]}
`

// testEnv starts a one-node simulated cluster with the demo behaviours and
// spawns n echo processes on it.
func testEnv(t *testing.T, echoes int) *operations.Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sim, err := simulator.New(simulator.Config{Nodes: 1, Seed: 3, Setup: workload.Register})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sim.Close(ctx)
	})
	require.NoError(t, sim.Start(ctx))
	require.NoError(t, sim.WaitConverged(ctx))
	n := sim.Node("node-1")
	require.NotNil(t, n)
	for range echoes {
		_, err := n.Spawn(ctx, "node-1", workload.Echo, cluster.SpawnOptions{})
		require.NoError(t, err)
	}
	return &operations.Env{Node: n, View: cluster.NewView(n)}
}

func writeFile(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(src), 0o600))
	return p
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantErr string
	}{
		{"good", countEchoes, ""},
		{"defaults", greet, ""},
		{"syntax error", "operation(name = \"x\"\n", "x.star:2:1"},
		{"no declaration", "def execute(params):\n    return 1\n", "no operation(...) declaration"},
		{"no execute", `operation(name = "x", summary = "s")`, "no execute(params) function"},
		{"execute arity", "operation(name = \"x\", summary = \"s\")\ndef execute():\n    return 1\n", "exactly one"},
		{"bad name", "operation(name = \"Bad-Name\", summary = \"s\")\ndef execute(p):\n    return 1\n", "spec name"},
		{"bad param type", "operation(name = \"x\", summary = \"s\", params = {\"a\": param(\"blob\")})\ndef execute(p):\n    return 1\n", "type \"blob\""},
		{"bad param name", "operation(name = \"x\", summary = \"s\", params = {\"A b\": param(\"int\")})\ndef execute(p):\n    return 1\n", "param name"},
		{"not a param", "operation(name = \"x\", summary = \"s\", params = {\"a\": 1})\ndef execute(p):\n    return 1\n", "want param(...)"},
		{"empty summary", "operation(name = \"x\", summary = \"\")\ndef execute(p):\n    return 1\n", "summary must not be empty"},
		{"twice", "operation(name = \"x\", summary = \"s\")\noperation(name = \"y\", summary = \"s\")\ndef execute(p):\n    return 1\n", "called twice"},
		{"cluster at load", "operation(name = \"x\", summary = \"s\")\ncluster.members()\ndef execute(p):\n    return 1\n", "no node"},
		{"load refused", "load(\"x.star\", \"y\")\n", "load"},
		{"endless loop at load", "while True:\n    pass\n", "too many steps"},
		{"bad timeout", "operation(name = \"x\", summary = \"s\", timeout = -1)\ndef execute(p):\n    return 1\n", "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := Parse("x.star", []byte(tt.src))
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotEmpty(t, op.Spec().Name)
				return
			}
			require.Error(t, err, "Parse(%s) = nil error; want %q", tt.name, tt.wantErr)
			require.ErrorIs(t, err, ErrLoad)
			require.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestParseSpec(t *testing.T) {
	op, err := Parse("greet.star", []byte(greet))
	require.NoError(t, err)
	spec := op.Spec()
	require.Equal(t, "greet", spec.Name)
	require.Equal(t, DefaultCategory, spec.Category)
	require.Equal(t, 5*time.Second, spec.Timeout)
	require.Len(t, spec.Params, 3)
	require.Equal(t, "times", spec.Params[0].Name)
	require.Equal(t, operations.TypeInt, spec.Params[0].Type)
	require.Equal(t, int64(1), spec.Params[0].Default)
	require.Equal(t, "who", spec.Params[2].Name)
	require.True(t, spec.Params[2].Required)
}

func TestScriptRunThroughRegistry(t *testing.T) {
	env := testEnv(t, 2)
	reg := operations.NewRegistry()
	for _, src := range []string{countEchoes, greet} {
		op, err := Parse("x.star", []byte(src))
		require.NoError(t, err)
		require.NoError(t, reg.Add(op, "x.star"))
	}
	ctx := context.Background()

	res, err := reg.Run(ctx, env, "count_echoes", nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"count": int64(2)}, res)

	res, err = reg.Run(ctx, env, "greet", map[string]any{"who": "bob", "times": "2"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"msg": "hello bob hello bob ", "wait": 1.0}, res)

	// The framework validates a script's params like a built-in's.
	for _, raw := range []map[string]any{
		{},                            // who missing
		{"who": "bob", "times": 9},    // above max
		{"who": "bob", "extra": true}, // unknown param
		{"who": "a very long name"},   // longer than max_len
		{"who": 5},                    // wrong type
	} {
		_, err := reg.Run(ctx, env, "greet", raw)
		require.Error(t, err, "greet(%v) = nil error; want invalid params", raw)
		require.Equal(t, operations.CodeInvalidParams, operations.AsError(err, env).Code, "greet(%v): %v", raw, err)
	}
	_, err = reg.Run(ctx, env, "count_echoes", map[string]any{"node": "nope"})
	require.Equal(t, operations.CodeInvalidParams, operations.AsError(err, env).Code)
}

func TestScriptRunErrors(t *testing.T) {
	env := testEnv(t, 0)
	tests := []struct {
		name     string
		body     string
		wantCode []string
		wantMsg  string
	}{
		{"fails", "    fail(\"boom\")", []string{operations.CodeUnprocessable}, "boom"},
		{"bad result", "    return cluster", []string{operations.CodeUnprocessable}, "does not convert"},
		{"endless", "    while True:\n        pass", []string{operations.CodeUnprocessable}, "step limit"},
		{"unknown pid", "    return cluster.call(\"node-1/999999\", \"ping\")",
			// not_found once cluster/script wraps cluster errors with %w;
			// today the module formats them with %v.
			[]string{operations.CodeNotFound, operations.CodeUnprocessable}, "no process node-1/999999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "operation(name = \"e\", summary = \"s\")\ndef execute(params):\n" + tt.body + "\n"
			op, err := Parse("e.star", []byte(src))
			require.NoError(t, err)
			reg := operations.NewRegistry()
			require.NoError(t, reg.Add(op, "e.star"))
			_, err = reg.Run(context.Background(), env, "e", nil)
			require.Error(t, err)
			oe := operations.AsError(err, env)
			require.Contains(t, tt.wantCode, oe.Code, "run %s: %v", tt.name, err)
			require.Contains(t, oe.Message, tt.wantMsg)
		})
	}
	t.Run("timeout", func(t *testing.T) {
		src := "operation(name = \"slow\", summary = \"s\", timeout = 0.2)\ndef execute(params):\n    cluster.sleep(5)\n"
		op, err := Parse("slow.star", []byte(src))
		require.NoError(t, err)
		reg := operations.NewRegistry()
		require.NoError(t, reg.Add(op, "slow.star"))
		_, err = reg.Run(context.Background(), env, "slow", nil)
		require.Equal(t, operations.CodeTimeout, operations.AsError(err, env).Code, "%v", err)
	})
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, 10*time.Millisecond, "waiting for %s", what)
}

func failureOf(reg *operations.Registry, source string) (operations.LoadFailure, bool) {
	for _, f := range reg.Failures() {
		if f.Source == source {
			return f, true
		}
	}
	return operations.LoadFailure{}, false
}

func TestLoader(t *testing.T) {
	dir := t.TempDir()
	reg := operations.NewRegistry()
	builtin := operations.Define(operations.Spec{Name: "list_nodes", Category: "cluster", Summary: "builtin"}, func(context.Context, *operations.Env, operations.Params) (any, error) {
		return nil, nil
	})
	require.NoError(t, reg.Add(builtin, operations.SourceBuiltin))

	good := writeFile(t, dir, "count.star", countEchoes)
	bad := writeFile(t, dir, "bad.star", "operation(\n")
	clash := writeFile(t, dir, "clash.star", "operation(name = \"list_nodes\", summary = \"s\")\ndef execute(p):\n    return 1\n")
	writeFile(t, dir, "notes.txt", "ignored")

	l, err := NewLoader(Config{Dir: dir, Registry: reg, Debounce: 20 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, l.Start(context.Background()))
	t.Cleanup(func() { _ = l.Close() })

	// Start loads synchronously.
	e, ok := reg.Get("count_echoes")
	require.True(t, ok)
	require.Equal(t, good, e.Source)
	f, ok := failureOf(reg, bad)
	require.True(t, ok, "bad syntax listed as a failure")
	require.Equal(t, "bad", f.Name)
	require.Contains(t, f.Error, "bad.star:")
	f, ok = failureOf(reg, clash)
	require.True(t, ok, "name clash listed as a failure")
	require.Equal(t, "list_nodes", f.Name)
	require.Contains(t, f.Error, "taken by builtin")
	e, _ = reg.Get("list_nodes")
	require.Equal(t, operations.SourceBuiltin, e.Source, "the builtin stays")
	_, err = reg.Lookup("bad")
	require.Equal(t, operations.CodeLoadError, operations.AsError(err, nil).Code)

	// Fixing the broken file loads it.
	writeFile(t, dir, "bad.star", greet)
	waitFor(t, "greet loaded", func() bool { _, ok := reg.Get("greet"); return ok })
	_, ok = failureOf(reg, bad)
	require.False(t, ok)

	// Renaming the operation inside a file replaces the old name.
	writeFile(t, dir, "bad.star", "operation(name = \"greet2\", summary = \"s\")\ndef execute(p):\n    return 1\n")
	waitFor(t, "greet renamed", func() bool {
		_, old := reg.Get("greet")
		_, renamed := reg.Get("greet2")
		return !old && renamed
	})

	// Breaking a loaded file removes the operation and lists the error.
	writeFile(t, dir, "count.star", "operation(name = \"count_echoes\", summary = \"s\")\ndef execute(p):\n    return undefined_name\n")
	waitFor(t, "count_echoes broken", func() bool {
		_, loaded := reg.Get("count_echoes")
		_, failed := failureOf(reg, good)
		return !loaded && failed
	})
	f, _ = failureOf(reg, good)
	require.Equal(t, "count_echoes", f.Name)
	require.Contains(t, f.Error, "undefined_name")

	// A new file appears.
	writeFile(t, dir, "new.star", "operation(name = \"fresh\", summary = \"s\")\ndef execute(p):\n    return 1\n")
	waitFor(t, "fresh loaded", func() bool { _, ok := reg.Get("fresh"); return ok })

	// Removing files removes their operations and failures.
	require.NoError(t, os.Remove(filepath.Join(dir, "new.star")))
	require.NoError(t, os.Remove(good))
	waitFor(t, "removed", func() bool {
		_, ok := reg.Get("fresh")
		_, failed := failureOf(reg, good)
		return !ok && !failed
	})

	// Renaming a file away is a removal too.
	require.NoError(t, os.Rename(bad, filepath.Join(dir, "bad.star.bak")))
	waitFor(t, "renamed away", func() bool { _, ok := reg.Get("greet2"); return !ok })

	// Close unregisters what the loader registered.
	require.NoError(t, l.Close())
	_, ok = failureOf(reg, clash)
	require.False(t, ok)
	require.Len(t, reg.List(), 1)
	require.NoError(t, l.Close())
}

func TestLoaderMissingDir(t *testing.T) {
	project := t.TempDir()
	dir := Dir(project)
	reg := operations.NewRegistry()
	l, err := NewLoader(Config{Dir: dir, Registry: reg})
	require.NoError(t, err)
	require.NoError(t, l.Start(context.Background()))
	t.Cleanup(func() { _ = l.Close() })
	require.Empty(t, reg.List())

	require.NoError(t, os.MkdirAll(dir, 0o700))
	writeFile(t, dir, "count.star", countEchoes)
	waitFor(t, "directory picked up", func() bool { _, ok := reg.Get("count_echoes"); return ok })
}

func TestLoaderScriptsClash(t *testing.T) {
	dir := t.TempDir()
	reg := operations.NewRegistry()
	a := writeFile(t, dir, "a.star", countEchoes)
	b := writeFile(t, dir, "b.star", countEchoes)
	l, err := NewLoader(Config{Dir: dir, Registry: reg})
	require.NoError(t, err)
	require.NoError(t, l.Start(context.Background()))
	t.Cleanup(func() { _ = l.Close() })
	e, ok := reg.Get("count_echoes")
	require.True(t, ok)
	require.Equal(t, a, e.Source, "the first file in name order wins")
	f, ok := failureOf(reg, b)
	require.True(t, ok)
	require.Contains(t, f.Error, "taken by "+a)
}

func TestNewLoaderConfig(t *testing.T) {
	_, err := NewLoader(Config{Registry: operations.NewRegistry()})
	require.Error(t, err)
	_, err = NewLoader(Config{Dir: "x"})
	require.Error(t, err)
	require.True(t, errors.Is(ErrLoad, ErrLoad))
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(countEchoes))
	f.Add([]byte(greet))
	f.Add([]byte("operation(name = \"x\", summary = \"s\", params = {\"a\": param(\"list\", items = \"list:node\")})\ndef execute(p):\n    return 1\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		op, err := Parse("f.star", src)
		if err == nil && op.Spec().Name == "" {
			t.Fatalf("Parse = op without a name")
		}
	})
}
