package operations

import (
	"context"
	"time"
)

// SessionControl is what session operations (project, mode switching,
// connection, history, recording) need from the app; nil when the app
// runs without a session store (an agent, a bare backend).
//
// The app's workbench implements it. Results are JSON-encodable values in
// the shapes the session operations document (see operations/builtin/
// session.go); errors should be *Error values where the cause is known.
// Implementations must be safe for concurrent use. A method that switches
// the cluster (Connect, Disconnect, SwitchMode, SwitchProject) runs while
// the operation that called it still runs on the previous cluster: it must
// not wait for that operation to end.
type SessionControl interface {
	// Info returns the session as the UI shows it (session_get).
	Info(ctx context.Context) (any, error)
	// SaveUI stores the UI state (a session.UIState as JSON object).
	SaveUI(ctx context.Context, ui map[string]any) error
	// Projects lists the projects of the store and names the current one.
	Projects(ctx context.Context) (any, error)
	// SwitchProject makes name the current project and restores its
	// session (mode included); it returns Info's result.
	SwitchProject(ctx context.Context, name string) (any, error)
	// History returns up to limit operation records, newest first.
	History(ctx context.Context, limit int) (any, error)
	// Connect joins a real cluster; on failure the app keeps what it had.
	Connect(ctx context.Context, req ConnectRequest) (any, error)
	// Disconnect returns to the simulator with the saved settings.
	Disconnect(ctx context.Context) (any, error)
	// SwitchMode switches to "simulator" or a saved connection profile;
	// key is the gossip key when the profile did not save it.
	SwitchMode(ctx context.Context, mode, key string) (any, error)
	// RecordStart starts recording the session as a scenario.
	RecordStart(ctx context.Context) (any, error)
	// RecordStop stops the recording and writes the scenario YAML to path
	// (a default under the data dir when empty).
	RecordStop(ctx context.Context, path string) (any, error)
	// SaveTrace saves the events of trace id under name.
	SaveTrace(ctx context.Context, id, name string) (any, error)
	// SavedTraces lists the saved traces; with a name, that one with its
	// data.
	SavedTraces(ctx context.Context, name string) (any, error)
}

// ConnectRequest is a cluster_connect: how to join a real cluster.
type ConnectRequest struct {
	// Seeds are gossip addresses (host:port) of members.
	Seeds []string
	// Label is the cluster's memberlist label, if any.
	Label string
	// Key is the gossip encryption key in base64 (a secret: never log it).
	Key string
	// Profile is the membership profile: lan or local.
	Profile string
	// Name names the connection profile; default derived from Seeds.
	Name string
	// Save keeps the connection profile in the project.
	Save bool
	// SaveKey keeps the key with the profile too (only with Save).
	SaveKey bool
	// Timeout bounds the join.
	Timeout time.Duration
}
