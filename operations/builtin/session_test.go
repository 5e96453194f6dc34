package builtin

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/operations"
)

// fakeSession records what the session operations asked for.
type fakeSession struct {
	mu    sync.Mutex
	calls []string
	conn  operations.ConnectRequest
	ui    map[string]any
}

func (f *fakeSession) note(format string, args ...any) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return map[string]any{"fake": true}, nil
}

func (f *fakeSession) Info(context.Context) (any, error) { return f.note("info") }
func (f *fakeSession) SaveUI(_ context.Context, ui map[string]any) error {
	f.mu.Lock()
	f.ui = ui
	f.mu.Unlock()
	_, err := f.note("save_ui")
	return err
}
func (f *fakeSession) Projects(context.Context) (any, error) { return f.note("projects") }
func (f *fakeSession) SwitchProject(_ context.Context, name string) (any, error) {
	return f.note("project %s", name)
}
func (f *fakeSession) History(_ context.Context, limit int) (any, error) {
	return f.note("history %d", limit)
}
func (f *fakeSession) Connect(_ context.Context, req operations.ConnectRequest) (any, error) {
	f.mu.Lock()
	f.conn = req
	f.mu.Unlock()
	return f.note("connect")
}
func (f *fakeSession) Disconnect(context.Context) (any, error) { return f.note("disconnect") }
func (f *fakeSession) SwitchMode(_ context.Context, mode, key string) (any, error) {
	return f.note("mode %s key=%v", mode, key != "")
}
func (f *fakeSession) RecordStart(context.Context) (any, error) { return f.note("record_start") }
func (f *fakeSession) RecordStop(_ context.Context, path string) (any, error) {
	return f.note("record_stop %q", path)
}
func (f *fakeSession) SaveTrace(_ context.Context, id, name string) (any, error) {
	return f.note("trace_save %s %s", id, name)
}
func (f *fakeSession) SavedTraces(_ context.Context, name string) (any, error) {
	return f.note("saved_traces %q", name)
}

func TestSessionOperations(t *testing.T) {
	fs := &fakeSession{}
	env := &operations.Env{Session: fs}
	tests := []struct {
		op       string
		raw      map[string]any
		wantCode string
		wantCall string
	}{
		{"session_get", nil, "", "info"},
		{"session_save_ui", map[string]any{"ui": `{"view":"processes"}`}, "", "save_ui"},
		{"session_save_ui", map[string]any{}, operations.CodeInvalidParams, ""},
		{"projects_list", nil, "", "projects"},
		{"project_switch", map[string]any{"name": "shop"}, "", "project shop"},
		{"project_switch", map[string]any{"name": ""}, operations.CodeInvalidParams, ""},
		{"history_list", nil, "", "history 100"},
		{"history_list", map[string]any{"limit": "5"}, "", "history 5"},
		{"history_list", map[string]any{"limit": "5000"}, operations.CodeInvalidParams, ""},
		{"cluster_connect", map[string]any{"seeds": "10.0.0.1:7946,10.0.0.2:7946", "key": "k", "save": "true"}, "", "connect"},
		{"cluster_connect", map[string]any{}, operations.CodeInvalidParams, ""},
		{"cluster_connect", map[string]any{"seeds": "a:1", "profile": "wan"}, operations.CodeInvalidParams, ""},
		{"cluster_connect", map[string]any{"seeds": "a:1", "timeout": "5m"}, operations.CodeInvalidParams, ""},
		{"cluster_disconnect", nil, "", "disconnect"},
		{"mode_switch", map[string]any{"mode": "simulator"}, "", "mode simulator key=false"},
		{"mode_switch", map[string]any{"mode": "lab", "key": "x"}, "", "mode lab key=true"},
		{"mode_switch", map[string]any{}, operations.CodeInvalidParams, ""},
		{"record_start", nil, "", "record_start"},
		{"record_stop", nil, "", `record_stop ""`},
		{"record_stop", map[string]any{"path": "/tmp/x.yaml"}, "", `record_stop "/tmp/x.yaml"`},
		{"trace_save", map[string]any{"id": "node-1/3", "name": "boot"}, "", "trace_save node-1/3 boot"},
		{"trace_save", map[string]any{"id": "nope", "name": "boot"}, operations.CodeInvalidParams, ""},
		{"saved_traces", nil, "", `saved_traces ""`},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			fs.mu.Lock()
			fs.calls = nil
			fs.mu.Unlock()
			res, err := operations.Default().Run(context.Background(), env, tt.op, tt.raw)
			if tt.wantCode != "" {
				require.Error(t, err)
				assert.Equal(t, tt.wantCode, operations.AsError(err, env).Code, "%s(%v): %v", tt.op, tt.raw, err)
				assert.Empty(t, fs.calls, "%s(%v) must not reach the session", tt.op, tt.raw)
				return
			}
			require.NoError(t, err, "%s(%v)", tt.op, tt.raw)
			assert.NotNil(t, res)
			assert.Equal(t, []string{tt.wantCall}, fs.calls, "%s(%v)", tt.op, tt.raw)
		})
	}
	assert.Equal(t, operations.ConnectRequest{Seeds: []string{"10.0.0.1:7946", "10.0.0.2:7946"}, Key: "k", Profile: "lan",
		Save: true, Timeout: 10 * time.Second}, fs.conn, "defaults filled in")
	assert.Equal(t, map[string]any{"view": "processes"}, fs.ui)
}

func TestSessionOperationsWithoutSession(t *testing.T) {
	env := &operations.Env{}
	for _, e := range operations.Default().List() {
		if e.Spec.Category != CategorySession {
			continue
		}
		raw := map[string]any{}
		for _, p := range e.Spec.Params {
			if !p.Required {
				continue
			}
			switch p.Name {
			case "seeds":
				raw[p.Name] = "a:1"
			case "id":
				raw[p.Name] = "node-1/1"
			case "ui":
				raw[p.Name] = map[string]any{}
			default:
				raw[p.Name] = "x"
			}
		}
		_, err := operations.Default().Run(context.Background(), env, e.Spec.Name, raw)
		require.Error(t, err, e.Spec.Name)
		oe := operations.AsError(err, env)
		assert.Equal(t, operations.CodeUnprocessable, oe.Code, "%s: %v", e.Spec.Name, err)
		assert.NotEmpty(t, oe.Remediation, e.Spec.Name)
	}
}
