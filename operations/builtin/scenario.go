package builtin

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/clusterlab/clusterlab/operations"
)

// ScenarioRequest is one scenario_run: a scenario file or inline YAML,
// and an optional seed that replaces the scenario's.
type ScenarioRequest struct {
	// Path is a scenario file (.yaml or .yml); empty when YAML is set.
	Path string
	// YAML is the scenario itself; empty when Path is set.
	YAML []byte
	// Seed, when not 0, replaces the scenario's seed.
	Seed int64
}

// ScenarioReport is what scenario_run returns.
type ScenarioReport struct {
	// Name names the scenario.
	Name string `json:"name"`
	// Passed is true when every step succeeded.
	Passed bool `json:"passed"`
	// Seed is the seed the run used.
	Seed int64 `json:"seed"`
	// Steps are the runner's step results, in order (JSON-encodable).
	Steps any `json:"steps"`
	// Failure describes the failing step; empty when the run passed.
	Failure string `json:"failure,omitempty"`
	// Output is the runner's printed progress.
	Output string `json:"output"`
	// Duration is the run's wall time.
	Duration string `json:"duration"`
}

// ScenarioRunner runs a simulator scenario on a fresh simulated cluster of
// its own (never the one the app shows). The app implements it with
// simulator/scenario, so that this package does not import the simulator.
// It must be safe for concurrent use, honour ctx, and return an
// *operations.Error (invalid_params for a scenario that does not parse,
// not_found for a missing file) where it can.
type ScenarioRunner func(ctx context.Context, req ScenarioRequest) (ScenarioReport, error)

var scenarioRunner atomic.Pointer[ScenarioRunner]

// SetScenarioRunner installs the runner scenario_run uses; nil removes
// it. The app calls it at start.
func SetScenarioRunner(r ScenarioRunner) {
	if r == nil {
		scenarioRunner.Store(nil)
		return
	}
	scenarioRunner.Store(&r)
}

// ScenarioTimeout bounds one scenario_run.
const ScenarioTimeout = 5 * time.Minute

// maxScenarioYAML bounds the yaml parameter.
const maxScenarioYAML = 512 << 10

func scenarioRun(ctx context.Context, _ *operations.Env, p operations.Params) (any, error) {
	rp := scenarioRunner.Load()
	if rp == nil {
		return nil, operations.Errorf(operations.CodeUnprocessable, "scenario_run is not available: no scenario runner is installed in this process")
	}
	req := ScenarioRequest{Path: p.String("path"), YAML: []byte(p.String("yaml")), Seed: p.Int("seed")}
	switch {
	case req.Path == "" && len(req.YAML) == 0:
		return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: "scenario_run needs path or yaml"}).
			Fix("pass path=FILE.yaml (a scenario file on the app's machine) or yaml=... (the scenario itself)")
	case req.Path != "" && len(req.YAML) > 0:
		return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: "scenario_run takes path or yaml, not both"}).
			Fix("pass only one of them")
	case req.Path != "":
		ext := strings.ToLower(filepath.Ext(req.Path))
		if ext != ".yaml" && ext != ".yml" {
			return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: fmt.Sprintf("scenario file %s: want a .yaml or .yml file", req.Path)}).
				With("path", req.Path).
				Fix("scenarios are YAML files, like simulator/scenario/testdata/crash-detect.yaml")
		}
	}
	return (*rp)(ctx, req)
}

func init() {
	operations.Register(operations.Define(operations.Spec{
		Name:     "scenario_run",
		Category: CategorySimulator,
		Summary:  "Run a simulator scenario (YAML) on a fresh simulated cluster of its own and report each step",
		Description: "Runs a scenario file (path) or inline YAML (yaml) against a new simulated cluster, separate from the one shown, " +
			"so it works in any mode. Returns whether it passed, the seed it used (replay with seed=N), every step with its timing, " +
			"what was expected and seen at a failure, and the runner's printed output.",
		Params: []operations.Param{
			{Name: "path", Type: operations.TypeString, MaxLen: operations.N(4096), Description: "a scenario file (.yaml) on the app's machine"},
			{Name: "yaml", Type: operations.TypeString, MaxLen: operations.N(maxScenarioYAML), Description: "the scenario itself, instead of path"},
			{Name: "seed", Type: operations.TypeInt, Description: "replace the scenario's seed (0: keep it)"},
		},
		Result:  "{name, passed, seed, steps:[{index, kind, summary, ok, duration, note, expected, seen, error}], failure, output, duration}",
		Timeout: ScenarioTimeout,
	}, scenarioRun))
}
