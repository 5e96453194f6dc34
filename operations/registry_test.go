package operations

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

func echoOp(name string) Operation {
	return Define(Spec{Name: name, Category: "test", Summary: "echo", Params: []Param{{Name: "x", Type: TypeInt, Default: int64(1)}}},
		func(_ context.Context, _ *Env, p Params) (any, error) { return p.Int("x"), nil })
}

func TestRegistryAddReplaceRemove(t *testing.T) {
	r := NewRegistry()
	changes := 0
	var mu sync.Mutex
	cancel := r.OnChange(func() { mu.Lock(); changes++; mu.Unlock() })
	defer cancel()

	require.NoError(t, r.Add(echoOp("a"), SourceBuiltin))
	require.ErrorIs(t, r.Add(echoOp("a"), SourceBuiltin), ErrExists)
	require.Error(t, r.Add(Define(Spec{Name: "Bad"}, nil), SourceBuiltin))
	require.Error(t, r.Add(nil, SourceBuiltin))
	v1 := r.Version()

	replaced := Define(Spec{Name: "a", Category: "test", Summary: "v2"}, func(context.Context, *Env, Params) (any, error) { return "v2", nil })
	require.NoError(t, r.Replace(replaced, "/ops/a.star"))
	assert.Greater(t, r.Version(), v1)
	e, ok := r.Get("a")
	require.True(t, ok)
	assert.Equal(t, "v2", e.Spec.Summary)
	assert.Equal(t, "/ops/a.star", e.Source)
	res, err := r.Run(context.Background(), nil, "a", nil)
	require.NoError(t, err)
	assert.Equal(t, "v2", res)

	assert.True(t, r.Remove("a"))
	assert.False(t, r.Remove("a"))
	_, err = r.Run(context.Background(), nil, "a", nil)
	assert.Equal(t, CodeUnknownOperation, AsError(err, nil).Code)
	assert.Equal(t, 404, AsError(err, nil).Status())

	mu.Lock()
	assert.Equal(t, 3, changes, "add, replace and remove change the registry; failed adds and a second remove do not")
	mu.Unlock()
}

func TestRegistryLoadFailures(t *testing.T) {
	r := NewRegistry()
	r.SetFailed(LoadFailure{Name: "broken", Source: "/ops/broken.star", Error: "line 3: syntax error"})
	cat := r.Catalog()
	require.Len(t, cat, 1)
	assert.Equal(t, "broken", cat[0].Name)
	assert.Equal(t, "line 3: syntax error", cat[0].LoadError)

	_, err := r.Run(context.Background(), nil, "broken", nil)
	oe := AsError(err, nil)
	assert.Equal(t, CodeLoadError, oe.Code)
	assert.Equal(t, 422, oe.Status())
	assert.Contains(t, oe.Remediation, "/ops/broken.star")

	// Fixing the file replaces the failure with the operation.
	require.NoError(t, r.Replace(echoOp("broken"), "/ops/broken.star"))
	assert.Empty(t, r.Failures())
	_, err = r.Run(context.Background(), nil, "broken", nil)
	require.NoError(t, err)

	r.SetFailed(LoadFailure{Name: "other", Source: "/ops/other.star", Error: "x"})
	r.ClearFailed("/ops/other.star")
	assert.Empty(t, r.Failures())
}

func TestRunContract(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Add(Define(Spec{Name: "slow", Timeout: 50 * time.Millisecond},
		func(ctx context.Context, _ *Env, _ Params) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}), SourceBuiltin))
	require.NoError(t, r.Add(Define(Spec{Name: "boom"},
		func(context.Context, *Env, Params) (any, error) { panic("kaboom") }), SourceBuiltin))
	require.NoError(t, r.Add(Define(Spec{Name: "sim", SimulatorOnly: true},
		func(context.Context, *Env, Params) (any, error) { return "ran", nil }), SourceBuiltin))
	require.NoError(t, r.Add(Define(Spec{Name: "deadline"},
		func(ctx context.Context, _ *Env, _ Params) (any, error) {
			d, ok := ctx.Deadline()
			return ok && time.Until(d) <= DefaultTimeout, nil
		}), SourceBuiltin))
	require.NoError(t, r.Add(echoOp("echo"), SourceBuiltin))

	_, err := r.Run(context.Background(), nil, "slow", nil)
	oe := AsError(err, nil)
	assert.Equal(t, CodeTimeout, oe.Code)
	assert.Equal(t, 504, oe.Status())
	assert.Contains(t, oe.Message, "did not finish within 50ms")

	_, err = r.Run(context.Background(), nil, "boom", nil)
	oe = AsError(err, nil)
	assert.Equal(t, CodeInternal, oe.Code)
	assert.Contains(t, oe.Message, "kaboom")

	_, err = r.Run(context.Background(), &Env{}, "sim", nil)
	oe = AsError(err, nil)
	assert.Equal(t, CodeSimulatorOnly, oe.Code)
	assert.Equal(t, 422, oe.Status())

	res, err := r.Run(context.Background(), nil, "deadline", nil)
	require.NoError(t, err)
	assert.Equal(t, true, res, "the framework gives every run a deadline")

	_, err = r.Run(context.Background(), nil, "echo", map[string]any{"x": "nope"})
	assert.Equal(t, CodeInvalidParams, AsError(err, nil).Code)
	res, err = r.Run(context.Background(), nil, "echo", map[string]any{"x": "42"})
	require.NoError(t, err)
	assert.Equal(t, int64(42), res)
}

func TestAsError(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   string
		status int
		remedy string
	}{
		{"unreachable", &cluster.RPCError{Code: cluster.CodeNodeUnreachable, Node: "node-3", State: "dead", Message: "gone"}, CodeNodeUnreachable, 502, "node-3 is dead as seen by this node"},
		{"wrapped unreachable", fmt.Errorf("x: %w", &cluster.RPCError{Code: cluster.CodeNodeUnreachable, Node: "n2", State: "suspect", Message: "slow"}), CodeNodeUnreachable, 502, "n2 is suspect"},
		{"timeout", &cluster.RPCError{Code: cluster.CodeTimeout, Node: "n1", State: "alive", Message: "late"}, CodeTimeout, 504, "n1 is alive but slow"},
		{"not found", &cluster.RPCError{Code: cluster.CodeNotFound, Node: "n1", Message: "no process n1/9"}, CodeNotFound, 404, "list_processes"},
		{"conflict", &cluster.RPCError{Code: cluster.CodeConflict, Node: "n1", Message: "taken"}, CodeConflict, 409, "another name"},
		{"bad request", &cluster.RPCError{Code: cluster.CodeBadRequest, Node: "n1", Message: "bad"}, CodeBadRequest, 400, ""},
		{"internal", &cluster.RPCError{Code: cluster.CodeInternal, Node: "n1", Message: "oops"}, CodeInternal, 500, ""},
		{"sentinel no process", fmt.Errorf("x: %w", cluster.ErrNoProcess), CodeNotFound, 404, ""},
		{"bad pid", fmt.Errorf("x: %w", cluster.ErrBadPID), CodeBadRequest, 400, ""},
		{"deadline", context.DeadlineExceeded, CodeTimeout, 504, "retry"},
		{"operations error", Errorf(CodeConflict, "x"), CodeConflict, 409, ""},
		{"plain", errors.New("plain"), CodeInternal, 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oe := AsError(tt.err, nil)
			assert.Equal(t, tt.code, oe.Code)
			assert.Equal(t, tt.status, oe.Status())
			assert.Contains(t, oe.Remediation, tt.remedy)
		})
	}
	assert.Nil(t, AsError(nil, nil))
}

func TestUnreachableRemediationWithSimulator(t *testing.T) {
	env := &Env{Sim: fakeSim{}}
	got := UnreachableRemediation(env, "node-3", "dead")
	assert.Contains(t, got, "node-3 is dead")
	assert.Contains(t, got, "clusterlab op run node_restart node=node-3 --yes")
	assert.Contains(t, got, "clusterlab op run list_nodes")
	got = UnreachableRemediation(env, "node-2", "alive")
	assert.Contains(t, got, "heal")
	got = UnreachableRemediation(&Env{}, "node-2", "dead")
	assert.Contains(t, got, "check that its process runs")
}

type fakeSim struct{ SimControl }

func TestCatalogEntry(t *testing.T) {
	r := NewRegistry()
	require.NoError(t, r.Add(Define(Spec{Name: "d", Params: []Param{{Name: "t", Type: TypeDuration, Default: "1s"}}},
		func(context.Context, *Env, Params) (any, error) { return nil, nil }), SourceBuiltin))
	cat := r.Catalog()
	require.Len(t, cat, 1)
	assert.Equal(t, "1s", cat[0].Params[0].Default)
	assert.Equal(t, DefaultTimeout.Milliseconds(), cat[0].TimeoutMS)
	assert.NotNil(t, cat[0].Schema)
}
