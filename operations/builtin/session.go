package builtin

import (
	"context"
	"time"

	"github.com/clusterlab/clusterlab/operations"
)

// Session operations: the project's session (mode, connection profiles,
// UI state), operation history, recording as a scenario, saved traces.
// They work through operations.Env.Session, which the app's workbench
// provides; without it they answer unprocessable (422).

// CategorySession groups the session operations.
const CategorySession = "session"

// sessionInfoResult describes the SessionInfo the switching operations
// return.
const sessionInfoResult = `SessionInfo: {project, data_dir, mode ("simulator" or the connection profile's name), simulated, observer, seed, ` +
	`connection ({name, seeds, label, profile, saved, key_saved} on a real cluster, else null), fallback (why the saved connection was not used, omitted when empty), ` +
	`session (session.Session: mode, simulator {nodes, seed, fault_preset}, connection_profiles [{name, seeds, label, profile, key_saved, key (only when key_saved)}], ` +
	`ui {view, selection, filters, sort, desc, pins {processes, names, by_name, stale, origins}, panel_sizes, open_traces}, recent_clusters [{profile, seeds, last_used}]), ` +
	`recording, recording_since (while recording)}`

// Bounds of the session operations' parameters.
const (
	maxHistoryLimit   = 1000
	maxProjectNameLen = 200
	maxSeedsParam     = 64
	maxProfileNameLen = 200
	connectTimeout    = 60 * time.Second
	maxJoinTimeout    = 50 * time.Second
)

// session returns env.Session or the error saying it is missing.
func session(env *operations.Env) (operations.SessionControl, error) {
	if env == nil || env.Session == nil {
		return nil, (&operations.Error{Code: operations.CodeUnprocessable,
			Message: "this clusterlab runs without a session store, so it has no project session, history or recording"}).
			Fix("run the desktop app or `clusterlab serve` (they open the session store in --data-dir); agents have none")
	}
	return env.Session, nil
}

func withSession(fn func(ctx context.Context, sc operations.SessionControl, p operations.Params) (any, error)) operations.ExecuteFunc {
	return func(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
		sc, err := session(env)
		if err != nil {
			return nil, err
		}
		return fn(ctx, sc, p)
	}
}

func init() {
	operations.Register(operations.Define(operations.Spec{
		Name:     "session_get",
		Category: CategorySession,
		Summary:  "Show the project's session: mode, simulator settings, connection profiles, UI state, recording",
		Params:   []operations.Param{},
		Result:   sessionInfoResult,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, _ operations.Params) (any, error) {
		return sc.Info(ctx)
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:     "session_save_ui",
		Category: CategorySession,
		Summary:  "Save the UI state (view, selection, filters, sort, pins, panel sizes, open traces) in the project's session",
		Description: "The UI calls it (debounced) whenever its state changes; the state is restored on the next launch " +
			"and kept across mode switches.",
		Params: []operations.Param{
			{Name: "ui", Type: operations.TypeObject, Required: true, Description: "the UI state: {view, selection, filters, sort, desc, pins {processes, names}, panel_sizes, open_traces}"},
		},
		Result: `{ok: true}`,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, p operations.Params) (any, error) {
		if err := sc.SaveUI(ctx, p.Object("ui")); err != nil {
			return nil, err
		}
		return map[string]any{"ok": true}, nil
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:     "projects_list",
		Category: CategorySession,
		Summary:  "List the projects in the session store, most recently opened first",
		Params:   []operations.Param{},
		Result:   `{current, projects: [{name, workdir, created, last_opened}]}`,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, _ operations.Params) (any, error) {
		return sc.Projects(ctx)
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:     "project_switch",
		Category: CategorySession,
		Summary:  "Switch to another project: its session (mode, UI state, history) is restored",
		Description: "A name that is not in the store yet starts a new project with the default session. " +
			"The project's saved mode is restored: the simulator with its settings, or its saved connection.",
		Params: []operations.Param{
			{Name: "name", Type: operations.TypeString, Required: true, MinLen: operations.N(1), MaxLen: operations.N(maxProjectNameLen), Description: "the project's name (see projects_list)"},
		},
		Result:  sessionInfoResult,
		Timeout: connectTimeout,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, p operations.Params) (any, error) {
		return sc.SwitchProject(ctx, p.String("name"))
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:     "history_list",
		Category: CategorySession,
		Summary:  "List the operations run in this project, newest first (re-run one from the palette)",
		Params: []operations.Param{
			{Name: "limit", Type: operations.TypeInt, Default: int64(100), Min: operations.F(1), Max: operations.F(maxHistoryLimit), Description: "how many records"},
		},
		Result: `{records: [{id, time, operation, params (secrets "[redacted]"), ok, error, code, source (palette|cli|api), duration_ms}]}`,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, p operations.Params) (any, error) {
		return sc.History(ctx, int(p.Int("limit")))
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:     "cluster_connect",
		Category: CategorySession,
		Summary:  "Connect the app to a real cluster through seed addresses (the debugging session is kept)",
		Description: "The app's observer node joins the cluster through the seeds with the given label and gossip key; every view " +
			"and operation then works on that cluster. Filters, pins, open traces and history are kept; pins by name follow the " +
			"name. A wrong key or label, unreachable seeds or a name clash fail within the join timeout with an error that says " +
			"which (details.reason), and the app stays on what it had. save keeps the connection profile in the project; the key " +
			"is kept only with save_key.",
		Params: []operations.Param{
			{Name: "seeds", Type: operations.TypeList, Items: operations.TypeString, Required: true, MinLen: operations.N(1), MaxLen: operations.N(maxSeedsParam), Description: "gossip addresses host:port of cluster members"},
			{Name: "label", Type: operations.TypeString, MaxLen: operations.N(256), Description: "the cluster's gossip label, if it uses one"},
			{Name: "key", Type: operations.TypeString, MaxLen: operations.N(256), Secret: true, Description: "the gossip encryption key, base64 of 16, 24 or 32 bytes (secret: never echoed or logged)"},
			{Name: "profile", Type: operations.TypeEnum, Enum: []string{"lan", "local"}, Default: "lan", Description: "membership timings: lan, or local for nodes on one machine"},
			{Name: "name", Type: operations.TypeString, MaxLen: operations.N(maxProfileNameLen), Description: "the connection profile's name (default from the seeds)"},
			{Name: "save", Type: operations.TypeBool, Default: false, Description: "save the connection profile in the project"},
			{Name: "save_key", Type: operations.TypeBool, Default: false, Description: "save the key with the profile too"},
			{Name: "timeout", Type: operations.TypeDuration, Default: "10s", Min: operations.F(1), Max: operations.F(maxJoinTimeout.Seconds()), Description: "the join timeout"},
		},
		Result:  sessionInfoResult,
		Timeout: connectTimeout,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, p operations.Params) (any, error) {
		return sc.Connect(ctx, operations.ConnectRequest{
			Seeds: p.Strings("seeds"), Label: p.String("label"), Key: p.String("key"), Profile: p.String("profile"),
			Name: p.String("name"), Save: p.Bool("save"), SaveKey: p.Bool("save_key"), Timeout: p.Duration("timeout"),
		})
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:     "cluster_disconnect",
		Category: CategorySession,
		Summary:  "Leave the real cluster and go back to the embedded simulator (the debugging session is kept)",
		Params:   []operations.Param{},
		Result:   sessionInfoResult,
		Timeout:  connectTimeout,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, _ operations.Params) (any, error) {
		return sc.Disconnect(ctx)
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:     "mode_switch",
		Category: CategorySession,
		Summary:  "Switch between the simulator and a saved connection profile, keeping the debugging session",
		Params: []operations.Param{
			{Name: "mode", Type: operations.TypeString, Required: true, MinLen: operations.N(1), MaxLen: operations.N(maxProfileNameLen), Description: `"simulator" or the name of a saved connection profile`},
			{Name: "key", Type: operations.TypeString, MaxLen: operations.N(256), Secret: true, Description: "the gossip key (base64) when the profile did not save it (secret)"},
		},
		Result:  sessionInfoResult,
		Timeout: connectTimeout,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, p operations.Params) (any, error) {
		return sc.SwitchMode(ctx, p.String("mode"), p.String("key"))
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:     "record_start",
		Category: CategorySession,
		Summary:  "Start recording what you do (operations, faults, timing, the seed) as a replayable scenario",
		Description: "Works on the simulator. Stop with record_stop, which writes a scenario YAML that `clusterlab scenario run` " +
			"and scenario_run replay, with expect steps for the final state.",
		Params: []operations.Param{},
		Result: `{recording: true, seed, nodes, since}`,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, _ operations.Params) (any, error) {
		return sc.RecordStart(ctx)
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:     "record_stop",
		Category: CategorySession,
		Summary:  "Stop recording and write the scenario YAML (with expect steps for the final state)",
		Params: []operations.Param{
			{Name: "path", Type: operations.TypeString, MaxLen: operations.N(4096), Description: "where to write the YAML on the app's machine (default <data-dir>/scenarios/<project>-<time>.yaml)"},
		},
		Result:  `{path, yaml, warnings: [what was left out, and why]}`,
		Timeout: 30 * time.Second,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, p operations.Params) (any, error) {
		return sc.RecordStop(ctx, p.String("path"))
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:     "trace_save",
		Category: CategorySession,
		Summary:  "Save a trace's events in the project under a name (kept across runs and mode switches)",
		Params: []operations.Param{
			traceID,
			{Name: "name", Type: operations.TypeString, Required: true, MinLen: operations.N(1), MaxLen: operations.N(200), Description: "the name to save it under (saving again replaces)"},
		},
		Result: `{name, saved_at, bytes}`,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, p operations.Params) (any, error) {
		return sc.SaveTrace(ctx, p.String("id"), p.String("name"))
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:     "saved_traces",
		Category: CategorySession,
		Summary:  "List the traces saved in the project; with a name, that trace with its events",
		Params: []operations.Param{
			{Name: "name", Type: operations.TypeString, MaxLen: operations.N(200), Description: "one saved trace to return with its data"},
		},
		Result: `{traces: [{name, saved_at, bytes, data (only with name: what trace_get returned)}]}`,
	}, withSession(func(ctx context.Context, sc operations.SessionControl, p operations.Params) (any, error) {
		return sc.SavedTraces(ctx, p.String("name"))
	})))
}
