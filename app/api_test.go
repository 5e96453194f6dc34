package app

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/operations"
)

func TestCatalogAndDescribe(t *testing.T) {
	s := newServer(t, sharedBackend(t))
	status, body := s.request(t, http.MethodGet, APIPrefix+"/operations", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, body["simulated"])
	var names []string
	for _, e := range body["operations"].([]any) {
		entry := e.(map[string]any)
		names = append(names, entry["name"].(string))
		assert.NotNil(t, entry["schema"], "operation %s has a schema", entry["name"])
		assert.Equal(t, operations.SourceBuiltin, entry["source"])
	}
	// Every built-in operation is exercised through the API by the tests of
	// this package; a new one should be added here and tested.
	tested := []string{"cluster_topology", "list_nodes", "node_info", "list_processes", "process_info", "spawn", "send", "call", "kill_process",
		"node_start", "node_stop", "node_crash", "node_restart", "partition", "heal", "cut", "uncut", "link_latency", "link_loss",
		"registry_list", "registry_lookup", "registry_register", "registry_unregister", "registry_conflicts",
		"supervisor_list", "supervisor_start", "supervisor_stop", "supervisor_children", "supervisor_start_child",
		"supervisor_terminate_child", "supervisor_restart_child", "supervisor_migrations", "supervisor_anomalies",
		"trace_start", "trace_get", "trace_stop", "trace_list",
		"sandbox_create", "sandbox_list", "sandbox_info", "sandbox_spawn", "sandbox_exec", "sandbox_destroy"}
	assert.Subset(t, names, tested)
	for _, n := range names {
		if !slices.Contains(tested, n) {
			t.Logf("operation %s is not exercised by the app tests yet", n)
		}
	}

	status, body = s.request(t, http.MethodGet, APIPrefix+"/operations/kill_process", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, body["destructive"])
	assert.Equal(t, "pid", body["params"].([]any)[0].(map[string]any)["name"])

	status, body = s.request(t, http.MethodGet, APIPrefix+"/operations/no_such_op", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, operations.CodeUnknownOperation, body["error"].(map[string]any)["code"])

	status, body = s.request(t, http.MethodGet, APIPrefix+"/info", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "observer", body["observer"])
	assert.Equal(t, float64(7), body["seed"])
}

func TestAuthAndMethods(t *testing.T) {
	s := newServer(t, sharedBackend(t))
	tests := []struct {
		name       string
		method     string
		path       string
		headers    []string
		wantStatus int
		wantCode   string
	}{
		{"no token", http.MethodGet, APIPrefix + "/operations", []string{"Authorization", ""}, 401, operations.CodeUnauthorized},
		{"wrong token", http.MethodGet, APIPrefix + "/operations", []string{"Authorization", "Bearer nope"}, 401, operations.CodeUnauthorized},
		{"wrong scheme", http.MethodGet, APIPrefix + "/operations", []string{"Authorization", "Basic " + testToken}, 401, operations.CodeUnauthorized},
		{"no token on a run", http.MethodPost, APIPrefix + "/operations/list_nodes", []string{"Authorization", ""}, 401, operations.CodeUnauthorized},
		{"no token on events", http.MethodGet, APIPrefix + "/events", []string{"Authorization", ""}, 401, operations.CodeUnauthorized},
		{"no token on an unknown route", http.MethodGet, APIPrefix + "/nope", []string{"Authorization", ""}, 401, operations.CodeUnauthorized},
		{"unknown route", http.MethodGet, APIPrefix + "/nope", nil, 404, operations.CodeNotFound},
		{"method first", http.MethodPut, APIPrefix + "/operations", []string{"Authorization", ""}, 405, operations.CodeMethodNotAllowed},
		{"post to a read route", http.MethodPost, APIPrefix + "/nodes", nil, 405, operations.CodeMethodNotAllowed},
		{"delete an operation", http.MethodDelete, APIPrefix + "/operations/list_nodes", nil, 405, operations.CodeMethodNotAllowed},
		{"token as query", http.MethodGet, APIPrefix + "/operations?token=" + testToken, []string{"Authorization", ""}, 200, ""},
		{"token as cookie", http.MethodGet, APIPrefix + "/operations", []string{"Authorization", "", "Cookie", TokenCookie + "=" + testToken}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := s.request(t, tt.method, tt.path, nil, tt.headers...)
			require.Equal(t, tt.wantStatus, status, "%s %s: %v", tt.method, tt.path, body)
			if tt.wantCode != "" {
				e := body["error"].(map[string]any)
				assert.Equal(t, tt.wantCode, e["code"])
				assert.NotEmpty(t, e["message"])
			}
		})
	}
	// The 405 names the allowed methods.
	req, _ := http.NewRequest(http.MethodPatch, s.URL+APIPrefix+"/processes/node-1%2F1", nil)
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "DELETE, GET", resp.Header.Get("Allow"))
	// The 401 says how to authenticate.
	req, _ = http.NewRequest(http.MethodGet, s.URL+APIPrefix+"/operations", nil)
	resp, err = s.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, `Bearer realm="clusterlab"`, resp.Header.Get("WWW-Authenticate"))
}

func TestFrontendPage(t *testing.T) {
	s := newServer(t, sharedBackend(t))
	resp, err := s.Client().Get(s.URL + "/?token=" + testToken)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == TokenCookie {
			cookie = c
		}
	}
	require.NotNil(t, cookie, "a valid ?token= sets the cookie")
	assert.True(t, cookie.HttpOnly)
}

func TestClusterOperations(t *testing.T) {
	s := newServer(t, sharedBackend(t))

	res := s.mustRun(t, "list_nodes", nil)
	assert.Len(t, res["nodes"], 4, "3 workers and the observer")
	res = s.mustRun(t, "list_nodes", map[string]any{"role": "worker"})
	assert.Len(t, res["nodes"], 3)
	status, body := s.request(t, http.MethodGet, APIPrefix+"/nodes?role=observer", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, body["nodes"], 1)

	res = s.mustRun(t, "node_info", map[string]any{"node": "node-1"})
	assert.Equal(t, "node-1", res["name"])
	assert.Equal(t, "alive", res["state"])
	assert.GreaterOrEqual(t, res["processes"], float64(6), "the demo workloads")
	assert.Equal(t, float64(2), res["behaviors"].(map[string]any)["echo"])
	status, body = s.request(t, http.MethodGet, APIPrefix+"/nodes/node-2", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "node-2", body["name"])

	status, e := s.run(t, "node_info", map[string]any{"node": "node-9"})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, e["message"], `unknown node "node-9"`)

	res = s.mustRun(t, "cluster_topology", nil)
	assert.Equal(t, true, res["simulated"])
	assert.Equal(t, true, res["links_complete"])
	assert.Len(t, res["nodes"], 4)
	assert.Len(t, res["links"], 12, "4 nodes see 3 others each")
	for _, l := range res["links"].([]any) {
		link := l.(map[string]any)
		assert.Equal(t, true, link["sees_alive"], "%v", link)
		assert.Equal(t, true, link["reachable"], "%v", link)
	}
	for _, n := range res["nodes"].([]any) {
		node := n.(map[string]any)
		assert.NotNil(t, node["processes"], "%v", node)
	}
	status, body = s.request(t, http.MethodGet, APIPrefix+"/topology", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "observer", body["observer"])
}

func TestListProcesses(t *testing.T) {
	s := newServer(t, sharedBackend(t))
	res := s.mustRun(t, "list_processes", map[string]any{"limit": 2})
	require.Len(t, res["processes"], 2)
	total := res["total"].(float64)
	assert.GreaterOrEqual(t, total, float64(18), "6 demo processes on each of 3 nodes")
	cursor := res["next_cursor"].(string)
	require.NotEmpty(t, cursor)
	first := res["processes"].([]any)[1].(map[string]any)["pid"]

	// The next page continues after the cursor.
	res = s.mustRun(t, "list_processes", map[string]any{"limit": "2", "cursor": cursor})
	require.Len(t, res["processes"], 2)
	assert.NotEqual(t, first, res["processes"].([]any)[0].(map[string]any)["pid"])

	res = s.mustRun(t, "list_processes", map[string]any{"behavior": "counter"})
	assert.Len(t, res["processes"], 3)
	res = s.mustRun(t, "list_processes", map[string]any{"node": "node-2", "sort": "name", "desc": "true"})
	for _, p := range res["processes"].([]any) {
		assert.Equal(t, "node-2", p.(map[string]any)["node"])
	}
	res = s.mustRun(t, "list_processes", map[string]any{"node": []any{"node-1", "node-3"}, "label": "demo=true"})
	assert.NotEmpty(t, res["processes"])
	assert.Empty(t, res["missing"])

	status, body := s.request(t, http.MethodGet, APIPrefix+"/processes?behavior=pinger&limit=10", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, body["processes"], 3)

	tests := []struct {
		name   string
		params map[string]any
		param  string
	}{
		{"limit not a number", map[string]any{"limit": "many"}, "limit"},
		{"limit zero", map[string]any{"limit": 0}, "limit"},
		{"limit too big", map[string]any{"limit": 100001}, "limit"},
		{"desc not a bool", map[string]any{"desc": "maybe"}, "desc"},
		{"sort unknown", map[string]any{"sort": "colour"}, "sort"},
		{"status unknown", map[string]any{"status": "sleeping"}, "status"},
		{"label without =", map[string]any{"label": "demo"}, "label"},
		{"node unknown", map[string]any{"node": "node-1,node-7"}, "node"},
		{"unknown param", map[string]any{"colour": "red"}, "colour"},
		{"behavior as object", map[string]any{"behavior": map[string]any{}}, "behavior"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, e := s.run(t, "list_processes", tt.params)
			require.Equal(t, http.StatusBadRequest, status, "%v", e)
			assert.Equal(t, operations.CodeInvalidParams, e["code"])
			params := e["details"].(map[string]any)["params"].([]any)
			assert.Equal(t, tt.param, params[0].(map[string]any)["param"])
		})
	}
}

func TestRequestBodies(t *testing.T) {
	s := newServer(t, sharedBackend(t))
	path := APIPrefix + "/operations/list_processes"
	tests := []struct {
		name       string
		path       string
		body       any
		headers    []string
		wantStatus int
		wantCode   string
	}{
		{"empty body", path, nil, nil, 200, ""},
		{"null body", path, "null", nil, 200, ""},
		{"query params", path + "?limit=1", nil, nil, 200, ""},
		{"form body", path, "limit=1&behavior=echo", []string{"Content-Type", "application/x-www-form-urlencoded"}, 200, ""},
		{"array body", path, "[1,2]", nil, 400, operations.CodeBadRequest},
		{"broken json", path, `{"limit":`, nil, 400, operations.CodeBadRequest},
		{"trailing data", path, `{} {}`, nil, 400, operations.CodeBadRequest},
		{"same param twice", path + "?limit=1", map[string]any{"limit": 2}, nil, 400, operations.CodeInvalidParams},
		{"too large", path, `{"name":"` + strings.Repeat("x", operations.MaxParamsBytes) + `"}`, nil, 413, operations.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := s.request(t, http.MethodPost, tt.path, tt.body, tt.headers...)
			require.Equal(t, tt.wantStatus, status, "%v", body)
			if tt.wantCode != "" {
				assert.Equal(t, tt.wantCode, body["error"].(map[string]any)["code"])
			} else {
				assert.Equal(t, "list_processes", body["operation"])
			}
		})
	}
}

func TestProcessOperations(t *testing.T) {
	s := newServer(t, sharedBackend(t))

	// spawn
	res := s.mustRun(t, "spawn", map[string]any{"node": "node-2", "behavior": "counter", "name": "api-counter",
		"args": map[string]any{"start": 5}, "labels": map[string]any{"test": "api"}})
	pid := res["pid"].(string)
	assert.True(t, strings.HasPrefix(pid, "node-2/"), pid)

	status, e := s.run(t, "spawn", map[string]any{"node": "observer", "behavior": "echo"})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, operations.CodeUnprocessable, e["code"])
	status, e = s.run(t, "spawn", map[string]any{"node": "node-2", "behavior": "teleporter"})
	assert.Equal(t, http.StatusNotFound, status, "%v", e)
	assert.Contains(t, e["message"], "teleporter")
	status, e = s.run(t, "spawn", map[string]any{"node": "node-2", "behavior": "echo", "labels": map[string]any{"n": 1}})
	assert.Equal(t, http.StatusBadRequest, status, "%v", e)
	status, _ = s.run(t, "spawn", map[string]any{"node": "node-2"})
	assert.Equal(t, http.StatusBadRequest, status, "behavior is required")

	// process_info, through the op and the resource route (escaped and not)
	res = s.mustRun(t, "process_info", map[string]any{"pid": pid})
	assert.Equal(t, "counter", res["behavior"])
	assert.Equal(t, "api", res["labels"].(map[string]any)["test"])
	status, body := s.request(t, http.MethodGet, APIPrefix+"/processes/"+url.PathEscape(pid), nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	assert.Equal(t, pid, body["pid"])
	status, body = s.request(t, http.MethodGet, APIPrefix+"/processes/"+pid, nil)
	require.Equal(t, http.StatusOK, status, "%v", body)

	// unknown and malformed PIDs
	status, e = s.run(t, "process_info", map[string]any{"pid": "node-1/999999"})
	assert.Equal(t, http.StatusNotFound, status, "%v", e)
	assert.Equal(t, operations.CodeNotFound, e["code"])
	assert.NotEmpty(t, e["remediation"])
	status, body = s.request(t, http.MethodGet, APIPrefix+"/processes/node-3%2F999999", nil)
	assert.Equal(t, http.StatusNotFound, status, "%v", body)
	status, e = s.run(t, "process_info", map[string]any{"pid": "not-a-pid"})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, operations.CodeInvalidParams, e["code"])
	status, _ = s.run(t, "process_info", map[string]any{"pid": 42})
	assert.Equal(t, http.StatusBadRequest, status)

	// call and send
	res = s.mustRun(t, "call", map[string]any{"pid": pid, "kind": "inc", "body": "2"})
	assert.Equal(t, "value", res["kind"])
	assert.Equal(t, "7", res["body"])
	res = s.mustRun(t, "send", map[string]any{"pid": pid, "kind": "inc"})
	assert.Equal(t, true, res["sent"])
	require.Eventually(t, func() bool {
		_, r := s.run(t, "call", map[string]any{"pid": pid, "kind": "get"})
		return r["body"] == "8"
	}, 5*time.Second, 20*time.Millisecond, "the sent inc arrives")
	status, e = s.run(t, "send", map[string]any{"pid": "node-1/999999", "kind": "inc"})
	assert.Equal(t, http.StatusNotFound, status, "%v", e)
	status, e = s.run(t, "call", map[string]any{"pid": pid, "kind": "get", "timeout": "5"})
	assert.Equal(t, http.StatusBadRequest, status, "a bare number is no duration: %v", e)
	status, _ = s.run(t, "call", map[string]any{"pid": pid, "kind": "get", "timeout": "1m"})
	assert.Equal(t, http.StatusBadRequest, status, "above the maximum")

	// kill: confirmation, then the op, then the DELETE route
	status, e = s.run(t, "kill_process", map[string]any{"pid": pid})
	assert.Equal(t, http.StatusPreconditionRequired, status)
	assert.Equal(t, operations.CodeConfirmationRequired, e["code"])
	assert.Contains(t, e["remediation"], "--yes")
	res = s.mustRun(t, "kill_process", map[string]any{"pid": pid, "reason": "test"}, confirm...)
	assert.Equal(t, true, res["killed"])
	status, _ = s.run(t, "process_info", map[string]any{"pid": pid})
	assert.Equal(t, http.StatusNotFound, status)
	status, _ = s.run(t, "kill_process", map[string]any{"pid": pid}, confirm...)
	assert.Equal(t, http.StatusNotFound, status)

	res = s.mustRun(t, "spawn", map[string]any{"node": "node-3", "behavior": "echo"})
	pid = res["pid"].(string)
	status, body = s.request(t, http.MethodDelete, APIPrefix+"/processes/"+url.PathEscape(pid)+"?reason=cleanup", nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	assert.Equal(t, "cleanup", body["reason"])
	status, _ = s.request(t, http.MethodDelete, APIPrefix+"/processes/"+url.PathEscape(pid), nil)
	assert.Equal(t, http.StatusNotFound, status)
}

func TestRegistryOperations(t *testing.T) {
	b := sharedBackend(t)
	s := newServer(t, b)
	res := s.mustRun(t, "spawn", map[string]any{"node": "node-1", "behavior": "echo"})
	pid := res["pid"].(string)
	t.Cleanup(func() { s.run(t, "kill_process", map[string]any{"pid": pid}, confirm...) })

	s.mustRun(t, "registry_register", map[string]any{"name": "svc/api", "pid": pid})
	status, e := s.run(t, "registry_register", map[string]any{"name": "svc/api", "pid": "node-1/1"})
	assert.Equal(t, http.StatusConflict, status, "%v", e)
	status, _ = s.run(t, "registry_register", map[string]any{"name": "svc/x", "pid": "node-1/999999"})
	assert.Equal(t, http.StatusNotFound, status)

	// The observer learns the name by gossip.
	require.Eventually(t, func() bool {
		status, _ := s.run(t, "registry_lookup", map[string]any{"name": "svc/api"})
		return status == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
	res = s.mustRun(t, "registry_lookup", map[string]any{"name": "svc/api"})
	assert.Equal(t, pid, res["pid"])
	res = s.mustRun(t, "registry_list", map[string]any{"prefix": "svc/"})
	assert.Equal(t, float64(1), res["total"])
	status, body := s.request(t, http.MethodGet, APIPrefix+"/registry/svc/api", nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	assert.Equal(t, pid, body["pid"])

	res = s.mustRun(t, "registry_conflicts", nil)
	assert.Empty(t, res["conflicts"])

	status, body = s.request(t, http.MethodDelete, APIPrefix+"/registry/"+url.PathEscape("svc/api"), nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Eventually(t, func() bool {
		status, _ := s.run(t, "registry_lookup", map[string]any{"name": "svc/api"})
		return status == http.StatusNotFound
	}, 5*time.Second, 20*time.Millisecond)
	status, _ = s.run(t, "registry_unregister", map[string]any{"name": "svc/api"})
	assert.Equal(t, http.StatusNotFound, status)
}

func TestOpenAPIDocumentValidates(t *testing.T) {
	s := newServer(t, sharedBackend(t))
	resp, err := s.Client().Do(mustRequest(t, http.MethodGet, s.URL+APIPrefix+"/openapi.json"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	loader := openapi3.NewLoader()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	doc, err := loader.LoadFromData(raw)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))

	// Every registered operation has its path, and resource routes appear.
	for _, e := range sharedBackend(t).Registry.List() {
		item := doc.Paths.Find(APIPrefix + "/operations/" + e.Spec.Name)
		require.NotNil(t, item, e.Spec.Name)
		require.NotNil(t, item.Post, e.Spec.Name)
		if e.Spec.Destructive {
			assert.NotNil(t, item.Post.Parameters.GetByInAndName("header", ConfirmHeader), e.Spec.Name)
		}
	}
	require.NotNil(t, doc.Paths.Find(APIPrefix+"/processes/{pid}"))
	assert.NotNil(t, doc.Paths.Find(APIPrefix+"/processes/{pid}").Delete)
	var paths []string
	for p := range doc.Paths.Map() {
		paths = append(paths, p)
	}
	assert.True(t, slices.Contains(paths, APIPrefix+"/events"))
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	return req
}

func TestProcessExitEvents(t *testing.T) {
	b := sharedBackend(t)
	s := newServer(t, b)
	sub := b.Hub.Subscribe(0, false, TopicProcessExits)
	defer sub.Cancel()
	pid := s.mustRun(t, "spawn", map[string]any{"node": "node-3", "behavior": "echo"})["pid"].(string)
	s.mustRun(t, "kill_process", map[string]any{"pid": pid, "reason": "exit-event-test"}, confirm...)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if strings.Contains(string(ev.Data), `"pid":"`+pid+`"`) {
				assert.Contains(t, string(ev.Data), `"reason":"exit-event-test"`)
				return
			}
		case <-deadline:
			t.Fatal("no process.exits event for the killed process")
		}
	}
}
