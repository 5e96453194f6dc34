package app

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/operations"
	opscript "github.com/clusterlab/clusterlab/operations/script"
)

// cloneRegistry copies the built-in operations into a registry of the
// test's own, so that script operations do not leak into other tests.
func cloneRegistry(t *testing.T) *operations.Registry {
	t.Helper()
	reg := operations.NewRegistry()
	for _, e := range operations.Default().List() {
		require.NoError(t, reg.Add(e.Op, e.Source))
	}
	return reg
}

const scriptV1 = `
operation(
    name = "count_echoes",
    summary = "Count echo processes",
    params = {"node": param("node", required = False, description = "only this node")},
)

def execute(params):
    procs = cluster.processes(node = params.get("node"), behavior = "echo")
    return {"count": len(procs)}
`

const scriptV2 = `
operation(name = "count_echoes", summary = "Count echo processes, v2")

def execute(params):
    return {"count": len(cluster.processes(behavior = "echo")), "version": 2}
`

// catalogEntry returns the catalog entry of name from GET /operations.
func catalogEntry(t *testing.T, srv *testServer, name string) map[string]any {
	t.Helper()
	status, body := srv.request(t, http.MethodGet, APIPrefix+"/operations", nil)
	require.Equal(t, http.StatusOK, status)
	ops, _ := body["operations"].([]any)
	for _, o := range ops {
		if m, _ := o.(map[string]any); m["name"] == name {
			return m
		}
	}
	return nil
}

func TestScriptOperationsHotReload(t *testing.T) {
	dir := opscript.Dir(t.TempDir())
	require.NoError(t, os.MkdirAll(dir, 0o700))
	b := newBackend(t, BackendConfig{Nodes: 2, Seed: 21, NoDemo: true, Registry: cloneRegistry(t), ScriptsDir: dir})
	srv := newServer(t, b)
	path := filepath.Join(dir, "count_echoes.star")
	write := func(src string) {
		t.Helper()
		// Write then rename, as editors do, so the loader never reads a
		// half-written file.
		tmp := filepath.Join(dir, ".count_echoes.star.tmp")
		require.NoError(t, os.WriteFile(tmp, []byte(src), 0o600))
		require.NoError(t, os.Rename(tmp, path))
	}

	status, _ := srv.run(t, "count_echoes", nil)
	require.Equal(t, http.StatusNotFound, status)

	// A new file becomes callable over REST without a restart.
	start := time.Now()
	write(scriptV1)
	var res map[string]any
	require.Eventually(t, func() bool {
		status, res = srv.run(t, "count_echoes", nil)
		return status == http.StatusOK
	}, 5*time.Second, 5*time.Millisecond)
	t.Logf("script file written → callable over REST in %s (target: 1s)", time.Since(start))
	require.Equal(t, float64(0), res["count"])
	srv.mustRun(t, "spawn", map[string]any{"node": "node-1", "behavior": "echo"})
	require.Equal(t, float64(1), srv.mustRun(t, "count_echoes", map[string]any{"node": "node-1"})["count"])
	e := catalogEntry(t, srv, "count_echoes")
	require.Equal(t, path, e["source"])
	require.Equal(t, "scripts", e["category"])
	// The framework validates a script's params like a built-in's.
	status, errBody := srv.run(t, "count_echoes", map[string]any{"node": "nowhere"})
	require.Equal(t, http.StatusBadRequest, status, "%v", errBody)
	status, errBody = srv.run(t, "count_echoes", map[string]any{"bogus": 1})
	require.Equal(t, http.StatusBadRequest, status, "%v", errBody)
	// The OpenAPI document lists it.
	status, doc := srv.request(t, http.MethodGet, APIPrefix+"/openapi.json", nil)
	require.Equal(t, http.StatusOK, status)
	paths, _ := doc["paths"].(map[string]any)
	require.Contains(t, paths, APIPrefix+"/operations/count_echoes")

	// Modifying it changes its behaviour.
	start = time.Now()
	write(scriptV2)
	require.Eventually(t, func() bool {
		status, res = srv.run(t, "count_echoes", nil)
		return status == http.StatusOK && res["version"] == float64(2)
	}, 5*time.Second, 5*time.Millisecond)
	t.Logf("script file modified → new behaviour over REST in %s", time.Since(start))

	// Breaking it lists the load error; the server carries on.
	write("operation(name = \"count_echoes\"\n")
	require.Eventually(t, func() bool {
		e := catalogEntry(t, srv, "count_echoes")
		return e != nil && e["load_error"] != nil
	}, 5*time.Second, 5*time.Millisecond)
	e = catalogEntry(t, srv, "count_echoes")
	require.Contains(t, e["load_error"], "count_echoes.star:")
	status, errBody = srv.run(t, "count_echoes", nil)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Equal(t, operations.CodeLoadError, errBody["code"])
	require.Contains(t, errBody["remediation"], path)
	srv.mustRun(t, "list_nodes", nil)

	// Deleting it: 404, and gone from the catalog.
	require.NoError(t, os.Remove(path))
	require.Eventually(t, func() bool {
		status, _ := srv.run(t, "count_echoes", nil)
		return status == http.StatusNotFound
	}, 5*time.Second, 5*time.Millisecond)
	require.Nil(t, catalogEntry(t, srv, "count_echoes"))
}

func TestScenarioRunOverHTTP(t *testing.T) {
	srv := newServer(t, sharedBackend(t))
	yaml := strings.Join([]string{
		"name: tiny",
		"seed: 5",
		"nodes: 2",
		"steps:",
		"  - spawn: {node: node-1, behavior: echo, as: e}",
		"  - expect: {condition: {process_alive: $e}}",
		"",
	}, "\n")
	res := srv.mustRun(t, "scenario_run", map[string]any{"yaml": yaml, "seed": 6})
	require.Equal(t, true, res["passed"], "%v", res["output"])
	require.Equal(t, float64(6), res["seed"])
	steps, _ := res["steps"].([]any)
	require.Len(t, steps, 3, "setup and two steps")
	require.Contains(t, res["output"], "seed")

	failing := strings.Replace(yaml, "process_alive: $e", "process_count: {behavior: echo, equals: 5}", 1)
	res = srv.mustRun(t, "scenario_run", map[string]any{"yaml": failing})
	require.Equal(t, false, res["passed"])
	require.Contains(t, res["failure"], "expected")

	status, e := srv.run(t, "scenario_run", map[string]any{"yaml": "nodes: 1\nsteps:\n  - explode: node-1\n"})
	require.Equal(t, http.StatusBadRequest, status, "%v", e)
	status, e = srv.run(t, "scenario_run", map[string]any{"path": filepath.Join(t.TempDir(), "missing.yaml")})
	require.Equal(t, http.StatusNotFound, status, "%v", e)
}
