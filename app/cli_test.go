package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCLI runs `clusterlab op ARGS` in-process and returns stdout, stderr
// and the error.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "clusterlab", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(NewOpCommand(CLIConfig{Version: "test"}))
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return stdout.String(), stderr.String(), err
}

func TestOpCLI(t *testing.T) {
	s := newServer(t, sharedBackend(t))
	server := []string{"--addr", s.URL, "--token", testToken}

	t.Run("list", func(t *testing.T) {
		out, _, err := runCLI(t, append([]string{"op", "list"}, server...)...)
		require.NoError(t, err)
		assert.Contains(t, out, "NAME")
		assert.Contains(t, out, "list_processes")
		assert.Contains(t, out, "destructive,sim-only")
	})

	t.Run("run list_processes limit=2 --json", func(t *testing.T) {
		out, _, err := runCLI(t, append([]string{"op", "run", "list_processes", "limit=2", "--json"}, server...)...)
		require.NoError(t, err)
		var page struct {
			Processes []map[string]any `json:"processes"`
			Total     int              `json:"total"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &page), out)
		assert.Len(t, page.Processes, 2)
		assert.GreaterOrEqual(t, page.Total, 18)
	})

	t.Run("run renders a table", func(t *testing.T) {
		out, _, err := runCLI(t, append([]string{"op", "run", "list_processes", "behavior=counter"}, server...)...)
		require.NoError(t, err)
		assert.Contains(t, out, "PROCESSES (3)")
		assert.Contains(t, out, "BEHAVIOR")
		assert.Contains(t, out, "counter-1")
	})

	t.Run("describe", func(t *testing.T) {
		out, _, err := runCLI(t, append([]string{"op", "describe", "spawn"}, server...)...)
		require.NoError(t, err)
		assert.Contains(t, out, "Parameters:")
		assert.Contains(t, out, "behavior")
		assert.Contains(t, out, "clusterlab op run spawn node=… behavior=…")
	})

	t.Run("destructive needs --yes", func(t *testing.T) {
		_, stderr, err := runCLI(t, append([]string{"op", "run", "kill_process", "pid=node-1/1"}, server...)...)
		var ee *ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, ExitUsage, ee.Code)
		assert.Contains(t, stderr, "--yes")
		_, e := s.run(t, "process_info", map[string]any{"pid": "node-1/1"})
		assert.Equal(t, "node-1/1", e["pid"], "the process was not killed")
	})

	t.Run("errors print the remediation", func(t *testing.T) {
		_, stderr, err := runCLI(t, append([]string{"op", "run", "list_processes", "limit=abc"}, server...)...)
		var ee *ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, ExitUsage, ee.Code)
		assert.True(t, ee.Reported)
		assert.Contains(t, stderr, "param limit: want an integer")
		assert.Contains(t, stderr, "what to do:")

		_, stderr, err = runCLI(t, append([]string{"op", "run", "process_info", "pid=node-1/99999"}, server...)...)
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, ExitFailed, ee.Code)
		assert.Contains(t, stderr, "not_found (HTTP 404)")

		_, _, err = runCLI(t, append([]string{"op", "run", "list_processes", "novalue"}, server...)...)
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, ExitUsage, ee.Code)

		_, stderr, err = runCLI(t, "op", "list", "--addr", s.URL, "--token", "wrong")
		require.ErrorAs(t, err, &ee)
		assert.Contains(t, stderr, "unauthorized")
	})

	t.Run("the lock file and the environment", func(t *testing.T) {
		dir := t.TempDir()
		_, _, err := runCLI(t, "op", "list", "--data-dir", dir)
		require.ErrorIs(t, err, ErrNoServer)

		_, err = WriteLock(dir, LockInfo{Addr: strings.TrimPrefix(s.URL, "http://"), Token: testToken, PID: os.Getpid()})
		require.NoError(t, err)
		out, _, err := runCLI(t, "op", "list", "--data-dir", dir)
		require.NoError(t, err)
		assert.Contains(t, out, "list_nodes")

		t.Setenv(EnvAddr, s.URL)
		t.Setenv(EnvToken, testToken)
		out, _, err = runCLI(t, "op", "run", "list_nodes", "role=worker", "--data-dir", t.TempDir())
		require.NoError(t, err)
		assert.Contains(t, out, "NODES (3)")
	})

	t.Run("completion of operation and parameter names", func(t *testing.T) {
		out, _, err := runCLI(t, append(append([]string{"__complete", "op", "run"}, server...), "list_p")...)
		require.NoError(t, err)
		assert.Contains(t, out, "list_processes")
		assert.NotContains(t, out, "list_nodes")
		out, _, err = runCLI(t, append(append([]string{"__complete", "op", "run"}, server...), "list_processes", "so")...)
		require.NoError(t, err)
		assert.Contains(t, out, "sort=")
		out, _, err = runCLI(t, append(append([]string{"__complete", "op", "run"}, server...), "list_processes", "status=")...)
		require.NoError(t, err)
		assert.Contains(t, out, "status=waiting")
	})
}

func TestParseKeyValues(t *testing.T) {
	got, err := parseKeyValues([]string{"a=1", "b=x=y", "a=2", "a=3", "c="})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": []any{"1", "2", "3"}, "b": "x=y", "c": ""}, got)
	_, err = parseKeyValues([]string{"=1"})
	assert.Error(t, err)
}

func TestLockFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path, err := WriteLock(dir, LockInfo{Addr: "127.0.0.1:1", Token: "t", PID: 42})
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	info, err := ReadLock(dir)
	require.NoError(t, err)
	assert.Equal(t, LockInfo{Addr: "127.0.0.1:1", Token: "t", PID: 42}, info)

	require.NoError(t, RemoveLock(dir, 7), "another pid's lock is left alone")
	_, err = ReadLock(dir)
	require.NoError(t, err)
	require.NoError(t, RemoveLock(dir, 42))
	_, err = ReadLock(dir)
	require.ErrorIs(t, err, ErrNoServer)

	for _, bad := range []string{"{", `{"addr":"x"}`, strings.Repeat(" ", maxLockBytes+1)} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, LockFileName), []byte(bad), 0o600))
		_, err := ReadLock(dir)
		assert.Error(t, err, "ReadLock(%.20q)", bad)
		assert.False(t, errors.Is(err, ErrNoServer))
	}
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	front := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(front, "index.html"), []byte("<h1>frontend</h1>"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(front, "app.js"), []byte("console.log(1)"), 0o644))

	// A lock held by another live process refuses a second server.
	_, err := WriteLock(dir, LockInfo{Addr: "127.0.0.1:1", Token: "x", PID: 1})
	require.NoError(t, err)
	err = Serve(context.Background(), ServeConfig{DataDir: dir, Out: &bytes.Buffer{}})
	require.ErrorContains(t, err, "another clusterlab serve (pid 1)")
	require.NoError(t, os.Remove(filepath.Join(dir, LockFileName)))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan LockInfo, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- Serve(ctx, ServeConfig{
			Backend: BackendConfig{Nodes: 2, NoDemo: true}, DataDir: dir, FrontendDir: front,
			Out: &out, Ready: func(li LockInfo) { ready <- li },
		})
	}()
	var info LockInfo
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("Serve ended early: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("Serve did not get ready")
	}
	onDisk, err := ReadLock(dir)
	require.NoError(t, err)
	assert.Equal(t, info, onDisk)
	assert.Equal(t, os.Getpid(), info.PID)
	assert.Len(t, info.Token, 64)

	c, err := ResolveServer("", "", dir)
	require.NoError(t, err)
	cat, err := c.Catalog(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, cat.Operations)
	_, err = (&Client{BaseURL: c.BaseURL, Token: "wrong"}).Catalog(ctx)
	assert.True(t, IsAPIError(err, "unauthorized"), "%v", err)

	for path, want := range map[string]string{"/": "<h1>frontend</h1>", "/app.js": "console.log(1)", "/processes": "<h1>frontend</h1>"} {
		resp, err := http.Get(c.BaseURL + path)
		require.NoError(t, err)
		body := new(bytes.Buffer)
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, want, body.String(), path)
	}

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not stop")
	}
	_, err = ReadLock(dir)
	assert.ErrorIs(t, err, ErrNoServer, "the lock file is removed on exit")
	assert.Contains(t, out.String(), "http://"+info.Addr+"/?token="+info.Token)
	assert.Contains(t, out.String(), "[SIMULATED] 2 virtual nodes")
}
