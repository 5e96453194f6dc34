package scenario

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runTimeout bounds one scenario run in tests.
const runTimeout = 2 * time.Minute

// TestScenarios replays every scenario in testdata/: each must pass.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no scenarios in testdata/")
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			sc, err := Load(file)
			require.NoError(t, err)
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			rep, err := Run(ctx, sc, RunOptions{Out: &out})
			require.NoError(t, err, "Run(%s)\n%s", file, out.String())
			require.True(t, rep.Passed, "%s\n%s", rep.Failure(), out.String())
			assert.Len(t, rep.Steps, len(sc.Steps)+1, "setup and every step reported")
			assert.Contains(t, out.String(), "replay with: clusterlab scenario run "+file)
			t.Logf("\n%s", out.String())
		})
	}
}

func runString(t *testing.T, src string, opts RunOptions) (*Report, string) {
	t.Helper()
	sc, err := Parse([]byte(src))
	require.NoError(t, err)
	var out bytes.Buffer
	opts.Out = &out
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	rep, err := Run(ctx, sc, opts)
	require.NoError(t, err, out.String())
	return rep, out.String()
}

// TestRunFailsAtTheRightStep: a scenario that expects a wrong count fails
// at that step, says what was expected and seen, runs nothing after it, and
// prints the seed.
func TestRunFailsAtTheRightStep(t *testing.T) {
	rep, out := runString(t, `
name: wrong-count
seed: 7
nodes: 2
steps:
  - spawn: {node: node-1, behavior: echo}
  - spawn: {node: node-2, behavior: echo}
  - expect:
      condition: {process_count: {behavior: echo, equals: 3}}
  - crash: node-2
`, RunOptions{})
	require.False(t, rep.Passed)
	f := rep.Failed()
	require.NotNil(t, f)
	assert.Equal(t, 3, f.Index)
	assert.Equal(t, "expect", f.Kind)
	assert.Equal(t, 8, f.Line)
	assert.Equal(t, "the number of running processes with behavior=echo == 3", f.Expected)
	assert.Equal(t, "2 (node-1: 1, node-2: 1)", f.Seen)
	assert.Len(t, rep.Steps, 4, "setup and steps 1-3; step 4 must not run")
	assert.Equal(t, int64(7), rep.Seed)
	for _, want := range []string{
		"[ 3] expect process_count(behavior=echo) == 3 ... FAILED",
		"expected: the number of running processes with behavior=echo == 3",
		"seen:     2 (node-1: 1, node-2: 1)",
		"FAILED at step 3 (expect process_count(behavior=echo) == 3, line 8)",
		"seed 7 — replay with: clusterlab scenario run FILE",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "crash node-2")
	assert.Contains(t, rep.Failure(), "failed at step 3")
	assert.Contains(t, rep.Failure(), "seed 7")
}

func TestRunWaitUntilGivesUp(t *testing.T) {
	rep, out := runString(t, `
nodes: 2
steps:
  - wait_until: {condition: {alive: {node: node-1, sees: 3}}, within: 200ms}
`, RunOptions{Seed: 99})
	require.False(t, rep.Passed)
	f := rep.Failed()
	require.NotNil(t, f)
	assert.Equal(t, 1, f.Index)
	assert.Equal(t, "node-1 to see 3 members alive (itself included) within 200ms", f.Expected)
	assert.Equal(t, "node-1 sees 2 alive: node-1, node-2", f.Seen)
	assert.GreaterOrEqual(t, f.Duration, 200*time.Millisecond)
	assert.Contains(t, out, "seed 99 — replay with: clusterlab scenario run FILE --seed 99", "an overridden seed is named in the replay line")
}

func TestRunStepErrorIsReported(t *testing.T) {
	rep, out := runString(t, `
nodes: 1
steps:
  - spawn: {node: node-1, behavior: no-such-behaviour}
`, RunOptions{})
	require.False(t, rep.Passed)
	f := rep.Failed()
	require.NotNil(t, f)
	assert.Contains(t, f.Error, "no-such-behaviour")
	assert.Contains(t, out, "error: ")
}

func TestRunUsesVariablesAndNotes(t *testing.T) {
	rep, out := runString(t, `
nodes: 2
steps:
  - spawn: {node: node-2, behavior: echo, as: e}
  - kill: $e
  - expect: {condition: {process_gone: $e}}
  - restart: node-2
  - expect: {condition: {not: {process_alive: node-2/1}}}
`, RunOptions{})
	require.True(t, rep.Passed, rep.Failure())
	assert.Regexp(t, `spawn echo on node-2 as \$e \.\.\. ok \(\d+\.\d\ds\) → node-2/\d+`, out)
}

// lockedBuffer is a bytes.Buffer safe to read while Run writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	sc, err := Parse([]byte("nodes: 1\nsteps:\n  - wait_until: {condition: {alive: {node: node-1, sees: 5}}, within: 1m}\n"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	type result struct {
		rep *Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := Run(ctx, sc, RunOptions{Out: out})
		done <- result{rep, err}
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "[ 1] wait_until") }, 30*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case res := <-done:
		require.ErrorIs(t, res.err, context.Canceled)
		require.NotNil(t, res.rep)
		assert.False(t, res.rep.Passed)
		assert.Equal(t, 1, res.rep.Failed().Index)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

func TestRunRejectsUnparsedScenario(t *testing.T) {
	_, err := Run(context.Background(), &Scenario{Steps: []Step{{Kind: "crash"}}}, RunOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Parse or Load")
	_, err = Run(context.Background(), nil, RunOptions{})
	require.Error(t, err)
}
