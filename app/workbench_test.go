package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/app/session"
	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
	"github.com/clusterlab/clusterlab/simulator/scenario"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

// openWorkbench opens a workbench on dir for a test and closes it at the
// end (unless the test closed it).
func openWorkbench(tb testing.TB, dir string, cfg WorkbenchConfig) *Workbench {
	tb.Helper()
	cfg.DataDir = dir
	if cfg.Workdir == "" {
		cfg.Workdir = dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	wb, err := OpenWorkbench(ctx, cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = wb.Close(ctx)
	})
	return wb
}

// workbenchServer is the workbench's API on an httptest server.
func workbenchServer(tb testing.TB, wb *Workbench) *testServer {
	tb.Helper()
	srv := httptest.NewServer(wb.API(APIConfig{Token: testToken, Version: "test"}))
	tb.Cleanup(srv.Close)
	return &testServer{Server: srv}
}

// decodeInto re-decodes a generic result into a typed value.
func decodeInto(tb testing.TB, v any, out any) {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	require.NoError(tb, json.Unmarshal(b, out))
}

func sessionInfo(tb testing.TB, s *testServer) SessionInfo {
	tb.Helper()
	var in SessionInfo
	decodeInto(tb, s.mustRun(tb, "session_get", nil), &in)
	return in
}

func TestWorkbenchRestoresSessionAndLocks(t *testing.T) {
	dir := t.TempDir()
	wb := openWorkbench(t, dir, WorkbenchConfig{Project: "shop", Backend: BackendConfig{NoDemo: true},
		Overrides: StartOverrides{Nodes: 2, Seed: 9, SeedSet: true}})
	s := workbenchServer(t, wb)

	in := sessionInfo(t, s)
	assert.Equal(t, "shop", in.Project)
	assert.Equal(t, dir, in.DataDir)
	assert.Equal(t, session.ModeSimulator, in.Mode)
	assert.True(t, in.Simulated)
	assert.Equal(t, int64(9), in.Seed)
	assert.Equal(t, session.SimulatorSettings{Nodes: 2, Seed: 9}, in.Session.Simulator, "explicit flags are saved")

	ui := map[string]any{"view": "processes", "selection": "node-1/1", "filters": map[string]any{"behavior": "echo"},
		"sort": "mailbox", "desc": true, "pins": map[string]any{"processes": []any{"node-1/1"}, "names": []any{"svc"}},
		"panel_sizes": map[string]any{"sidebar": 0.25}, "open_traces": []any{"boot"}}
	assert.Equal(t, map[string]any{"ok": true}, s.mustRun(t, "session_save_ui", map[string]any{"ui": ui}))

	// A second instance on the same data dir fails fast and says why.
	start := time.Now()
	_, err := OpenWorkbench(context.Background(), WorkbenchConfig{DataDir: dir, Workdir: dir, Backend: BackendConfig{NoDemo: true}})
	took := time.Since(start)
	require.ErrorIs(t, err, session.ErrLocked)
	assert.Contains(t, err.Error(), "in use by another clusterlab")
	assert.Less(t, took, 5*time.Second, "a second instance fails within about a second, not a hang")
	t.Logf("second instance refused after %v: %v", took.Round(time.Millisecond), err)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, wb.Close(ctx))

	// The next run restores the project's session.
	wb2 := openWorkbench(t, dir, WorkbenchConfig{Project: "shop", Backend: BackendConfig{NoDemo: true}})
	s2 := workbenchServer(t, wb2)
	in = sessionInfo(t, s2)
	assert.Equal(t, int64(9), in.Seed)
	assert.Len(t, wb2.Backend().Sim.Nodes(), 3, "2 saved worker nodes and the observer")
	got := in.Session.UI
	assert.Equal(t, "processes", got.View)
	assert.Equal(t, "node-1/1", got.Selection)
	assert.Equal(t, map[string]string{"behavior": "echo"}, got.Filters)
	assert.Equal(t, "mailbox", got.Sort)
	assert.True(t, got.Desc)
	assert.Equal(t, []string{"node-1/1"}, got.Pins.Processes)
	assert.Equal(t, []string{"svc"}, got.Pins.Names)
	assert.Equal(t, map[string]float64{"sidebar": 0.25}, got.PanelSizes)
	assert.Equal(t, []string{"boot"}, got.OpenTraces)

	// Projects: switching to a new one starts its own session. A request
	// still running on the old backend finishes there before it closes.
	old, release := wb2.acquire()
	events := wb2.Hub().Subscribe(0, false, TopicSession)
	defer events.Cancel()
	res := s2.mustRun(t, "project_switch", map[string]any{"name": "other"})
	assert.NotEmpty(t, old.Sim.Running(), "the old backend waits for its requests")
	select {
	case ev := <-events.C:
		var pushed SessionInfo
		require.NoError(t, json.Unmarshal(ev.Data, &pushed))
		assert.Equal(t, "other", pushed.Project)
	case <-time.After(10 * time.Second):
		t.Fatal("no session event after the project switch")
	}
	release()
	require.Eventually(t, func() bool { return len(old.Sim.Running()) == 0 }, 20*time.Second, 20*time.Millisecond,
		"the old backend closes once its requests are done")
	var other SessionInfo
	decodeInto(t, res, &other)
	assert.Equal(t, "other", other.Project)
	assert.Empty(t, other.Session.UI.Filters)
	var projects ProjectsResult
	decodeInto(t, s2.mustRun(t, "projects_list", nil), &projects)
	assert.Equal(t, "other", projects.Current)
	var names []string
	for _, p := range projects.Projects {
		names = append(names, p.Name)
	}
	assert.ElementsMatch(t, []string{"shop", "other"}, names)
	// The views keep working on the new project's backend.
	s2.mustRun(t, "list_nodes", nil)
}

// realCluster starts two real nodes on loopback with a gossip key and a
// label, an echo registered as svc on the first.
func realCluster(t *testing.T, key []byte, label string) (seed *cluster.Node, echo cluster.PID) {
	t.Helper()
	var nodes []*cluster.Node
	for _, name := range []string{"real-a", "real-b"} {
		n, err := cluster.NewNode(cluster.Config{Name: name, Network: cluster.NetNetwork{}, Bind: "127.0.0.1:0",
			Profile: cluster.ProfileLocal, SecretKey: key, Label: label})
		require.NoError(t, err)
		require.NoError(t, workload.Register(n))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, n.Start(ctx))
		cancel()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = n.Stop(ctx)
		})
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := nodes[1].Join(ctx, []string{nodes[0].Addr()})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(nodes[0].AliveMembers()) == 2 }, 10*time.Second, 20*time.Millisecond)
	echo, err = nodes[0].Spawn(ctx, "real-a", workload.Echo, cluster.SpawnOptions{})
	require.NoError(t, err)
	require.NoError(t, nodes[0].Register(ctx, "svc", echo))
	return nodes[0], echo
}

func TestWorkbenchModeSwitchKeepsSession(t *testing.T) {
	key := []byte("0123456789abcdef")
	seed, realEcho := realCluster(t, key, "lab")

	wb := openWorkbench(t, t.TempDir(), WorkbenchConfig{Project: "switch", Backend: BackendConfig{NoDemo: true},
		Overrides: StartOverrides{Nodes: 2}})
	s := workbenchServer(t, wb)

	spawned := func(node, behavior string) string {
		res := s.mustRun(t, "spawn", map[string]any{"node": node, "behavior": behavior})
		pid, _ := res["pid"].(string)
		require.NotEmpty(t, pid, "%v", res)
		return pid
	}
	simEcho, simCounter := spawned("node-1", "echo"), spawned("node-2", "counter")
	s.mustRun(t, "registry_register", map[string]any{"name": "svc", "pid": simEcho})

	ui := map[string]any{"view": "processes", "filters": map[string]any{"behavior": "echo"},
		"pins": map[string]any{"names": []any{"svc"}, "processes": []any{simEcho, simCounter},
			"by_name": map[string]any{"svc": simEcho}},
		"open_traces": []any{"boot"}}
	s.mustRun(t, "session_save_ui", map[string]any{"ui": ui})

	// A wrong key fails clearly, within the join timeout, and the app
	// stays on the simulator.
	wrong := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210"))
	start := time.Now()
	status, e := s.run(t, "cluster_connect", map[string]any{"seeds": []any{seed.Addr()}, "key": wrong, "label": "lab", "profile": "local", "timeout": "5s"})
	require.Equal(t, http.StatusUnprocessableEntity, status, "%v", e)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, "unprocessable", e["code"])
	details, _ := e["details"].(map[string]any)
	assert.Equal(t, "key_mismatch", details["reason"], "%v", e)
	assert.Contains(t, e["message"], "gossip key")
	assert.NotContains(t, e["message"], wrong, "the key is never echoed")
	assert.True(t, sessionInfo(t, s).Simulated, "the app keeps the simulator")

	// The right key connects; the debugging session survives.
	good := base64.StdEncoding.EncodeToString(key)
	var in SessionInfo
	decodeInto(t, s.mustRun(t, "cluster_connect", map[string]any{"seeds": []any{seed.Addr()}, "key": good, "label": "lab",
		"profile": "local", "name": "lab", "save": true}), &in)
	assert.False(t, in.Simulated)
	assert.Equal(t, "lab", in.Mode)
	require.NotNil(t, in.Connection)
	assert.Equal(t, ConnectionInfo{Name: "lab", Seeds: []string{seed.Addr()}, Label: "lab", Profile: "local", Saved: true}, *in.Connection)
	assert.Equal(t, map[string]string{"behavior": "echo"}, in.Session.UI.Filters)
	assert.Equal(t, []string{"boot"}, in.Session.UI.OpenTraces)
	pins := in.Session.UI.Pins
	assert.Equal(t, []string{"svc"}, pins.Names)
	assert.Equal(t, realEcho.String(), pins.ByName["svc"], "the name pin follows the name into the real cluster")
	assert.Contains(t, pins.Processes, realEcho.String())
	assert.NotContains(t, pins.Processes, simEcho, "the pid the name had in the simulator is not pinned by itself")
	assert.Contains(t, pins.Stale, simCounter, "a pid of the simulator is stale on the real cluster")
	require.Len(t, in.Session.ConnectionProfiles, 1)
	assert.Empty(t, in.Session.ConnectionProfiles[0].Key, "the key is saved only with save_key")
	assert.Equal(t, "lab", in.Session.Mode)

	// Every view works on the real cluster through the same API.
	procs := s.mustRun(t, "list_processes", map[string]any{"node": "real-a"})
	assert.Contains(t, jsonText(t, procs), realEcho.String())

	// The history has both connects, the key redacted.
	var hist HistoryResult
	decodeInto(t, s.mustRun(t, "history_list", nil), &hist)
	var connects []session.OperationRecord
	for _, r := range hist.Records {
		if r.Operation == "cluster_connect" {
			connects = append(connects, r)
		}
	}
	require.Len(t, connects, 2)
	assert.True(t, connects[0].OK)
	assert.False(t, connects[1].OK)
	assert.Equal(t, "unprocessable", connects[1].Code)
	for _, r := range connects {
		assert.Equal(t, redacted, r.Params["key"])
	}
	assert.NotContains(t, jsonText(t, hist), good)

	// Back to a fresh simulator: the name stays pinned (unresolved: the
	// new simulator has no svc), the simulator's pid pin is not stale.
	in = SessionInfo{}
	decodeInto(t, s.mustRun(t, "cluster_disconnect", nil), &in)
	assert.True(t, in.Simulated)
	assert.Equal(t, session.ModeSimulator, in.Mode)
	assert.Nil(t, in.Connection)
	pins = in.Session.UI.Pins
	assert.Equal(t, map[string]string{"behavior": "echo"}, in.Session.UI.Filters)
	assert.Equal(t, []string{"svc"}, pins.Names)
	assert.Empty(t, pins.ByName)
	assert.NotContains(t, pins.Processes, realEcho.String())
	assert.Contains(t, pins.Processes, simCounter)
	assert.NotContains(t, pins.Stale, simCounter)
	s.mustRun(t, "list_nodes", nil)

	// The saved profile switches back by name; an unknown one is 404.
	in = SessionInfo{}
	decodeInto(t, s.mustRun(t, "mode_switch", map[string]any{"mode": "lab", "key": good}), &in)
	assert.False(t, in.Simulated)
	assert.Equal(t, realEcho.String(), in.Session.UI.Pins.ByName["svc"])
	status, e = s.run(t, "mode_switch", map[string]any{"mode": "nope"})
	assert.Equal(t, http.StatusNotFound, status, "%v", e)
}

func jsonText(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return string(b)
}

func TestWorkbenchRecordReplayAndHistory(t *testing.T) {
	dir := t.TempDir()
	wb := openWorkbench(t, dir, WorkbenchConfig{Project: "rec", Backend: BackendConfig{NoDemo: true},
		Overrides: StartOverrides{Nodes: 3, Seed: 4, SeedSet: true}})
	s := workbenchServer(t, wb)

	start := s.mustRun(t, "record_start", nil)
	assert.Equal(t, true, start["recording"])
	assert.EqualValues(t, 4, start["seed"])
	assert.EqualValues(t, 3, start["nodes"])
	assert.True(t, sessionInfo(t, s).Recording)

	echo := s.mustRun(t, "spawn", map[string]any{"node": "node-1", "behavior": "echo", "name": "rec-echo"})
	counter := s.mustRun(t, "spawn", map[string]any{"node": "node-2", "behavior": "counter"})
	s.mustRun(t, "list_processes", nil) // a read: neither recorded nor in the history
	s.mustRun(t, "registry_list", nil, SourceHeader, "palette")
	s.mustRun(t, "kill_process", map[string]any{"pid": counter["pid"]}, confirm...)
	s.mustRun(t, "node_crash", map[string]any{"node": "node-3"}, confirm...)
	require.Eventually(t, func() bool { return wb.Backend().Sim.Converged() }, 20*time.Second, 20*time.Millisecond)

	path := filepath.Join(t.TempDir(), "rec.yaml")
	stop := s.mustRun(t, "record_stop", map[string]any{"path": path})
	assert.Equal(t, path, stop["path"])
	yml, _ := stop["yaml"].(string)
	onDisk, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, yml, string(onDisk))
	t.Logf("recorded scenario:\n%s", yml)
	assert.Contains(t, yml, "seed: 4")
	assert.Contains(t, yml, "crash: node-3")
	assert.Contains(t, yml, "kill:")
	assert.False(t, sessionInfo(t, s).Recording)
	status, e := s.run(t, "record_stop", nil)
	assert.Equal(t, http.StatusConflict, status, "%v", e)

	// The history: every changing run and the palette's read, newest
	// first; the polling read is not there.
	var hist HistoryResult
	decodeInto(t, s.mustRun(t, "history_list", map[string]any{"limit": 50}), &hist)
	var ops []string
	for _, r := range hist.Records {
		ops = append(ops, r.Operation+"/"+r.Source)
	}
	assert.Equal(t, []string{"record_stop/api", "record_stop/api", "node_crash/api", "kill_process/api", "registry_list/palette",
		"spawn/api", "spawn/api", "record_start/api"}, ops)
	assert.Equal(t, "rec-echo", hist.Records[len(hist.Records)-2].Params["name"])
	_ = echo

	// The recording replays on a fresh simulator.
	sc, err := scenario.Parse([]byte(yml))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out bytes.Buffer
	rep, err := scenario.Run(ctx, sc, scenario.RunOptions{Out: &out})
	require.NoError(t, err)
	require.True(t, rep.Passed, "replay failed: %s\n%s", rep.Failure(), out.String())

	// A replay that diverges says at which step.
	i := strings.LastIndex(yml, "behavior: echo, equals: 1")
	require.Positive(t, i, "the scenario expects the echo")
	diverging := yml[:i] + "behavior: echo, equals: 2" + yml[i+len("behavior: echo, equals: 1"):]
	sc, err = scenario.Parse([]byte(diverging))
	require.NoError(t, err)
	rep, err = scenario.Run(ctx, sc, scenario.RunOptions{})
	require.NoError(t, err)
	require.False(t, rep.Passed)
	assert.Contains(t, rep.Failure(), "step ")
	assert.Contains(t, rep.Failure(), "process_count")
	t.Logf("diverging replay: %s", rep.Failure())
}

func TestSessionOperationsWithoutWorkbench(t *testing.T) {
	s := newServer(t, sharedBackend(t))
	for _, op := range []string{"session_get", "history_list", "record_start", "projects_list"} {
		status, e := s.run(t, op, nil)
		assert.Equal(t, http.StatusUnprocessableEntity, status, op)
		assert.Equal(t, operations.CodeUnprocessable, e["code"], op)
		assert.NotEmpty(t, e["remediation"], op)
	}
}

func TestReadOnlyOperationAndRedact(t *testing.T) {
	for name, want := range map[string]bool{
		"list_processes": true, "registry_list": true, "node_info": true, "trace_get": true, "session_get": true,
		"supervisor_children": true, "health_status": true, "session_save_ui": true,
		"spawn": false, "kill_process": false, "cluster_connect": false, "record_start": false, "health_rules_set": false,
	} {
		assert.Equal(t, want, readOnlyOperation(operations.Spec{Name: name}), "readOnlyOperation(%s)", name)
	}
	assert.False(t, readOnlyOperation(operations.Spec{Name: "weird_list", Destructive: true}))
	got := redact(map[string]any{"key": "c2VjcmV0", "seeds": []any{"a:1"}, "nested": map[string]any{"Token": "t", "x": 1}}, 0)
	assert.Equal(t, map[string]any{"key": redacted, "seeds": []any{"a:1"}, "nested": map[string]any{"Token": redacted, "x": 1}}, got)
}

func TestWorkbenchFallsBackWhenSavedConnectionFails(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := ln.Addr().String()
	require.NoError(t, ln.Close())

	st, err := session.Open(context.Background(), session.OpenOptions{DataDir: dir})
	require.NoError(t, err)
	s := session.DefaultSession()
	s.Simulator.Nodes = 1
	s.ConnectionProfiles = []session.Profile{{Name: "gone", Seeds: []string{refused}, Profile: "local"}}
	s.Mode = "gone"
	s.UI.Filters = map[string]string{"node": "node-1"}
	require.NoError(t, st.Project("fb").SaveSession(s))
	require.NoError(t, st.Close())

	wb := openWorkbench(t, dir, WorkbenchConfig{Project: "fb", Backend: BackendConfig{NoDemo: true}, JoinTimeout: 3 * time.Second})
	in := wb.info()
	assert.True(t, in.Simulated)
	assert.Equal(t, session.ModeSimulator, in.Mode)
	assert.Contains(t, in.Fallback, "Could not connect to gone")
	assert.Equal(t, map[string]string{"node": "node-1"}, in.Session.UI.Filters, "the UI state is kept")
	require.Len(t, in.Session.ConnectionProfiles, 1, "the profile stays saved for a retry")
	t.Logf("fallback: %s", in.Fallback)
}
