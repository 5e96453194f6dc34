package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
)

// TestSubsystemOperations runs the supervisor, trace and sandbox
// operations through the HTTP API on a backend of its own.
func TestSubsystemOperations(t *testing.T) {
	b := newBackend(t, BackendConfig{Nodes: 3, Seed: 13, NoDemo: true})
	s := newServer(t, b)

	t.Run("supervisors", func(t *testing.T) {
		res := s.mustRun(t, "supervisor_start", map[string]any{"name": "sup1", "max_restarts": 5, "period": "10s"})
		assert.Equal(t, "sup1", res["spec"].(map[string]any)["name"])
		s.mustRun(t, "supervisor_start", map[string]any{"name": "sup1", "max_restarts": 5, "period": "10s"})
		status, e := s.run(t, "supervisor_start", map[string]any{"name": "sup1", "max_restarts": 1})
		assert.Equal(t, http.StatusConflict, status, "%v", e)
		status, _ = s.run(t, "supervisor_start", map[string]any{"name": "bad name"})
		assert.Equal(t, http.StatusBadRequest, status)

		res = s.mustRun(t, "supervisor_start_child", map[string]any{"supervisor": "sup1", "id": "c1", "behavior": "echo", "node": "node-2"})
		assert.Equal(t, "node-2", res["node"])
		assert.Equal(t, true, res["honoured"])
		firstPID := res["pid"]
		status, e = s.run(t, "supervisor_start_child", map[string]any{"supervisor": "sup1", "id": "c1", "behavior": "echo"})
		assert.Equal(t, http.StatusConflict, status, "%v", e)
		status, e = s.run(t, "supervisor_start_child", map[string]any{"supervisor": "nope", "id": "c2", "behavior": "echo"})
		assert.Equal(t, http.StatusNotFound, status, "%v", e)
		status, e = s.run(t, "supervisor_start_child", map[string]any{"supervisor": "sup1", "id": "c3", "behavior": "echo", "strategy": "random"})
		assert.Equal(t, http.StatusBadRequest, status, "%v", e)
		res = s.mustRun(t, "supervisor_start_child", map[string]any{"supervisor": "sup1", "id": "c4", "behavior": "counter", "strategy": "least-loaded", "args": map[string]any{"start": 1}})
		assert.NotEmpty(t, res["node"])

		require.Eventually(t, func() bool {
			res := s.mustRun(t, "supervisor_children", map[string]any{"supervisor": "sup1"})
			return len(res["children"].([]any)) == 2
		}, 10*time.Second, 20*time.Millisecond)
		status, body := s.request(t, http.MethodGet, APIPrefix+"/supervisors/sup1/children", nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		assert.Len(t, body["children"], 2)
		require.Eventually(t, func() bool {
			res := s.mustRun(t, "supervisor_list", nil)
			sups := res["supervisors"].([]any)
			return len(sups) == 1 && sups[0].(map[string]any)["children"] == float64(2)
		}, 10*time.Second, 20*time.Millisecond)
		status, body = s.request(t, http.MethodGet, APIPrefix+"/supervisors", nil)
		require.Equal(t, http.StatusOK, status, "%v", body)

		res = s.mustRun(t, "supervisor_restart_child", map[string]any{"supervisor": "sup1", "id": "c1"})
		assert.NotEqual(t, firstPID, res["pid"])
		require.Eventually(t, func() bool {
			return s.mustRun(t, "supervisor_anomalies", nil)["ok"] == true
		}, 10*time.Second, 20*time.Millisecond)

		// A crash moves c1 away from node-2, recorded as a migration.
		s.mustRun(t, "node_crash", map[string]any{"node": "node-2"}, confirm...)
		require.Eventually(t, func() bool {
			res := s.mustRun(t, "supervisor_children", map[string]any{"supervisor": "sup1"})
			for _, c := range res["children"].([]any) {
				if c.(map[string]any)["id"] == "c1" && c.(map[string]any)["node"] != "node-2" {
					return true
				}
			}
			return false
		}, 20*time.Second, 50*time.Millisecond)
		require.Eventually(t, func() bool {
			res := s.mustRun(t, "supervisor_migrations", map[string]any{"supervisor": "sup1"})
			return len(res["migrations"].([]any)) > 0
		}, 10*time.Second, 50*time.Millisecond)
		status, body = s.request(t, http.MethodGet, APIPrefix+"/migrations?limit=1", nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		m := body["migrations"].([]any)[0].(map[string]any)
		assert.Equal(t, "node-2", m["from"])
		assert.NotEmpty(t, m["reason"])
		s.mustRun(t, "node_restart", map[string]any{"node": "node-2"}, confirm...)

		status, body = s.request(t, http.MethodDelete, APIPrefix+"/supervisors/sup1/children/c4", nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		status, _ = s.request(t, http.MethodDelete, APIPrefix+"/supervisors/sup1/children/c4", nil)
		assert.Equal(t, http.StatusNotFound, status)
		status, e = s.run(t, "supervisor_stop", map[string]any{"name": "sup1"})
		assert.Equal(t, http.StatusPreconditionRequired, status, "%v", e)
		s.mustRun(t, "supervisor_stop", map[string]any{"name": "sup1"}, confirm...)
		require.Eventually(t, func() bool {
			res := s.mustRun(t, "supervisor_children", nil)
			return len(res["children"].([]any)) == 0
		}, 10*time.Second, 20*time.Millisecond)
	})

	t.Run("traces", func(t *testing.T) {
		live := b.Hub.Subscribe(0, false, TopicTraces, TopicTraceEnd)
		defer live.Cancel()
		res := s.mustRun(t, "spawn", map[string]any{"node": "node-3", "behavior": "echo"})
		pid := res["pid"].(string)
		res = s.mustRun(t, "trace_start", map[string]any{"pid": pid, "kinds": "receive", "max_events": 100})
		id := res["id"].(string)
		assert.Equal(t, "node-3", res["node"])
		for i := range 3 {
			s.mustRun(t, "send", map[string]any{"pid": pid, "kind": "ping", "body": "hello " + string(rune('a'+i))})
		}
		var events []any
		require.Eventually(t, func() bool {
			res := s.mustRun(t, "trace_get", map[string]any{"id": id})
			events = res["events"].([]any)
			return len(events) >= 3
		}, 10*time.Second, 20*time.Millisecond)
		var last float64
		for _, e := range events {
			ev := e.(map[string]any)
			assert.Equal(t, "receive", ev["kind"])
			assert.Equal(t, "node-3", ev["node"])
			assert.Greater(t, ev["seq"].(float64), last, "in order")
			last = ev["seq"].(float64)
		}
		assert.Equal(t, "hello a", events[0].(map[string]any)["summary"])

		res = s.mustRun(t, "trace_get", map[string]any{"id": id, "after": 1, "limit": 1})
		assert.Len(t, res["events"], 1)
		assert.Equal(t, true, res["more"])
		assert.Equal(t, float64(2), res["next_after"])

		status, body := s.request(t, http.MethodGet, APIPrefix+"/traces/"+id, nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		status, body = s.request(t, http.MethodGet, APIPrefix+"/traces?running=true", nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		assert.Len(t, body["traces"], 1)

		// The live events reach the hub.
		deadline := time.After(10 * time.Second)
		for found := false; !found; {
			select {
			case ev := <-live.C:
				found = ev.Topic == TopicTraces && strings.Contains(string(ev.Data), id)
			case <-deadline:
				t.Fatal("no traces event on the hub")
			}
		}

		status, body = s.request(t, http.MethodDelete, APIPrefix+"/traces/"+url.PathEscape(id), nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		assert.Equal(t, cluster.TraceEndStopped, body["end_reason"])

		status, e := s.run(t, "trace_start", map[string]any{"pid": "node-3/99999"})
		assert.Equal(t, http.StatusNotFound, status, "%v", e)
		status, _ = s.run(t, "trace_start", map[string]any{"pid": pid, "kinds": "send,teleport"})
		assert.Equal(t, http.StatusBadRequest, status)
		status, _ = s.run(t, "trace_start", map[string]any{"pid": pid, "duration": "1h"})
		assert.Equal(t, http.StatusBadRequest, status)
		status, _ = s.run(t, "trace_get", map[string]any{"id": "node-3/424242"})
		assert.Equal(t, http.StatusNotFound, status)
	})

	t.Run("sandboxes", func(t *testing.T) {
		res := s.mustRun(t, "sandbox_create", map[string]any{"name": "sb1", "nodes": "node-1,node-3", "behavior": "echo", "count": 4})
		assert.Equal(t, cluster.SandboxActive, res["state"])
		assert.Len(t, res["processes"], 4)
		status, e := s.run(t, "sandbox_create", map[string]any{"name": "sb1", "spread": 1})
		assert.Equal(t, http.StatusConflict, status, "%v", e)
		status, e = s.run(t, "sandbox_create", map[string]any{"name": "sb2", "children": `[{"behavior":"echo","colour":"red"}]`})
		assert.Equal(t, http.StatusBadRequest, status, "%v", e)
		assert.Contains(t, e["message"], "colour")
		status, _ = s.run(t, "sandbox_create", map[string]any{"name": "Bad!"})
		assert.Equal(t, http.StatusBadRequest, status)

		res = s.mustRun(t, "sandbox_info", map[string]any{"name": "sb1"})
		perNode := res["per_node"].([]any)
		require.Len(t, perNode, 2)
		for _, n := range perNode {
			assert.Len(t, n.(map[string]any)["processes"], 2, "%v", n)
		}
		status, body := s.request(t, http.MethodGet, APIPrefix+"/sandboxes/sb1", nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Eventually(t, func() bool {
			return len(s.mustRun(t, "sandbox_list", map[string]any{"state": "active"})["sandboxes"].([]any)) == 1
		}, 10*time.Second, 20*time.Millisecond)

		res = s.mustRun(t, "sandbox_spawn", map[string]any{"name": "sb1", "behavior": "counter", "node": "node-3"})
		assert.Equal(t, "node-3", res["node"])

		res = s.mustRun(t, "sandbox_exec", map[string]any{"name": "sb1", "script": "pid = cluster.spawn('echo')\nprint('spawned', pid)\nresult = {'members': len(cluster.members()), 'pid': pid}"})
		assert.Contains(t, res["output"], "spawned")
		value := res["value"].(map[string]any)
		assert.Equal(t, float64(4), value["members"])
		info := s.mustRun(t, "process_info", map[string]any{"pid": value["pid"]})
		assert.Equal(t, "sb1", info["labels"].(map[string]any)["sandbox"])

		status, e = s.run(t, "sandbox_exec", map[string]any{"name": "sb1", "script": "x = 1\ny = x.nope"})
		assert.Equal(t, http.StatusUnprocessableEntity, status, "%v", e)
		assert.Contains(t, e["details"].(map[string]any)["pos"], ":2:")
		status, e = s.run(t, "sandbox_exec", map[string]any{"name": "nope", "script": "x = 1"})
		assert.Equal(t, http.StatusNotFound, status, "%v", e)

		status, e = s.run(t, "sandbox_destroy", map[string]any{"name": "sb1"})
		assert.Equal(t, http.StatusPreconditionRequired, status, "%v", e)
		status, body = s.request(t, http.MethodDelete, APIPrefix+"/sandboxes/sb1", nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		assert.Equal(t, true, body["verified"])
		assert.Equal(t, float64(6), body["stopped"])
		res = s.mustRun(t, "sandbox_info", map[string]any{"name": "sb1"})
		assert.Equal(t, cluster.SandboxDestroyed, res["state"])
		page := s.mustRun(t, "list_processes", map[string]any{"label": "sandbox=sb1"})
		assert.Empty(t, page["processes"])
	})

	t.Run("every resource route's operation is registered", func(t *testing.T) {
		for _, r := range resources {
			_, ok := b.Registry.Get(r.op)
			assert.True(t, ok, "resource %s %s runs %s", r.method, r.pattern, r.op)
		}
	})

	t.Run("catalog lists the subsystem operations", func(t *testing.T) {
		var cat Catalog
		_, body := s.request(t, http.MethodGet, APIPrefix+"/operations", nil)
		raw, _ := json.Marshal(body)
		require.NoError(t, json.Unmarshal(raw, &cat))
		cats := map[string]int{}
		for _, e := range cat.Operations {
			cats[e.Category]++
			assert.Equal(t, operations.SourceBuiltin, e.Source)
		}
		for _, c := range []string{"cluster", "processes", "registry", "simulator", "supervisors", "traces", "sandboxes"} {
			assert.Positive(t, cats[c], c)
		}
	})
}
