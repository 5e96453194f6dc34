package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testToken = "test-token"

// shared is one 3-node backend that the read-mostly tests share; tests
// that inject faults start their own.
var shared struct {
	once sync.Once
	b    *Backend
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.b != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = shared.b.Close(ctx)
		cancel()
	}
	os.Exit(code)
}

func sharedBackend(tb testing.TB) *Backend {
	tb.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		shared.b, shared.err = NewBackend(ctx, BackendConfig{Nodes: 3, Seed: 7})
	})
	require.NoError(tb, shared.err)
	return shared.b
}

// newBackend starts a backend of its own for a test that changes the
// cluster.
func newBackend(tb testing.TB, cfg BackendConfig) *Backend {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := NewBackend(ctx, cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Close(ctx)
	})
	return b
}

// testServer is the API of a backend on an httptest server.
type testServer struct {
	*httptest.Server
	b *Backend
}

func newServer(tb testing.TB, b *Backend) *testServer {
	tb.Helper()
	srv := httptest.NewServer(NewAPI(b, APIConfig{Token: testToken, Version: "test"}))
	tb.Cleanup(srv.Close)
	return &testServer{Server: srv, b: b}
}

// request sends a request with the test token (unless a header list
// overrides Authorization) and returns the status and the decoded body.
func (s *testServer) request(tb testing.TB, method, path string, body any, headers ...string) (int, map[string]any) {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		require.NoError(tb, err)
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	require.NoError(tb, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Client().Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 && raw[0] == '{' {
		require.NoError(tb, json.Unmarshal(raw, &out), "body %s", raw)
	}
	return resp.StatusCode, out
}

// run POSTs an operation and returns the status and the result (or the
// error envelope's error object).
func (s *testServer) run(tb testing.TB, op string, params map[string]any, headers ...string) (int, map[string]any) {
	tb.Helper()
	if params == nil {
		params = map[string]any{}
	}
	status, body := s.request(tb, http.MethodPost, APIPrefix+"/operations/"+op, params, headers...)
	if status == http.StatusOK {
		res, _ := body["result"].(map[string]any)
		return status, res
	}
	e, _ := body["error"].(map[string]any)
	return status, e
}

// mustRun runs an operation that must succeed.
func (s *testServer) mustRun(tb testing.TB, op string, params map[string]any, headers ...string) map[string]any {
	tb.Helper()
	status, res := s.run(tb, op, params, headers...)
	require.Equal(tb, http.StatusOK, status, "%s(%v): %v", op, params, res)
	return res
}

var confirm = []string{ConfirmHeader, "true"}
