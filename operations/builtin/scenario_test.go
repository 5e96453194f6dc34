package builtin

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/operations"
)

func TestScenarioRunParams(t *testing.T) {
	var got ScenarioRequest
	SetScenarioRunner(func(_ context.Context, req ScenarioRequest) (ScenarioReport, error) {
		got = req
		return ScenarioReport{Name: "x", Passed: true, Seed: 9}, nil
	})
	t.Cleanup(func() { SetScenarioRunner(nil) })
	env := &operations.Env{}
	tests := []struct {
		name     string
		raw      map[string]any
		wantCode string
		want     ScenarioRequest
	}{
		{"yaml", map[string]any{"yaml": "nodes: 1\nsteps: []\n", "seed": "9"}, "", ScenarioRequest{YAML: []byte("nodes: 1\nsteps: []\n"), Seed: 9}},
		{"path", map[string]any{"path": "testdata/a.yml"}, "", ScenarioRequest{Path: "testdata/a.yml", YAML: []byte{}}},
		{"neither", map[string]any{}, operations.CodeInvalidParams, ScenarioRequest{}},
		{"both", map[string]any{"path": "a.yaml", "yaml": "x"}, operations.CodeInvalidParams, ScenarioRequest{}},
		{"not yaml", map[string]any{"path": "/etc/passwd"}, operations.CodeInvalidParams, ScenarioRequest{}},
		{"bad seed", map[string]any{"yaml": "x", "seed": "many"}, operations.CodeInvalidParams, ScenarioRequest{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = ScenarioRequest{}
			res, err := operations.Default().Run(context.Background(), env, "scenario_run", tt.raw)
			if tt.wantCode != "" {
				require.Error(t, err)
				require.Equal(t, tt.wantCode, operations.AsError(err, env).Code, "scenario_run(%v): %v", tt.raw, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, ScenarioReport{Name: "x", Passed: true, Seed: 9}, res)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestScenarioRunWithoutRunner(t *testing.T) {
	SetScenarioRunner(nil)
	_, err := operations.Default().Run(context.Background(), &operations.Env{}, "scenario_run", map[string]any{"yaml": "x"})
	require.Equal(t, operations.CodeUnprocessable, operations.AsError(err, nil).Code)
	e, ok := operations.Default().Get("scenario_run")
	require.True(t, ok)
	require.False(t, e.Spec.SimulatorOnly, "scenario_run runs its own simulator: it works anywhere")
}
