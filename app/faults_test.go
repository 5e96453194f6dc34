package app

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
	"github.com/clusterlab/clusterlab/simulator"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	ID    uint64
	Event string
	Data  string
}

// openEvents connects to the event stream (resuming after lastID when it
// is not empty) and parses events into a channel until the test ends.
func openEvents(t *testing.T, s *testServer, lastID string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+APIPrefix+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	ch := make(chan sseEvent, 1024)
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Event != "" || ev.Data != "" {
					select {
					case ch <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.ID, _ = strconv.ParseUint(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	return ch
}

// waitEvent reads events until match accepts one, or fails after d.
func waitEvent(t *testing.T, ch <-chan sseEvent, d time.Duration, what string, match func(sseEvent) bool) sseEvent {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-ch:
			require.True(t, ok, "the event stream ended while waiting for %s", what)
			if match(ev) {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no %s within %s", what, d)
		}
	}
}

func memberDied(node string) func(sseEvent) bool {
	return func(ev sseEvent) bool {
		if ev.Event != TopicMembership {
			return false
		}
		var snap MembershipSnapshot
		if json.Unmarshal([]byte(ev.Data), &snap) != nil {
			return false
		}
		for _, c := range snap.Changes {
			if c.Member.Name == node && c.Type == cluster.MemberDied {
				return true
			}
		}
		return false
	}
}

func linkOf(res map[string]any, from, to string) map[string]any {
	for _, l := range res["links"].([]any) {
		link := l.(map[string]any)
		if link["from"] == from && link["to"] == to {
			return link
		}
	}
	return nil
}

// TestSimulatorOperations crashes a node and checks what every surface
// says about it (events, 502 with the node's state), then runs the other
// fault-injection operations.
func TestSimulatorOperations(t *testing.T) {
	b := newBackend(t, BackendConfig{Nodes: 3, Seed: 11})
	s := newServer(t, b)
	events := openEvents(t, s, "")
	hello := waitEvent(t, events, 5*time.Second, "hello", func(ev sseEvent) bool { return ev.Event == "hello" })
	assert.Contains(t, hello.Data, `"simulated":true`)

	// Crash node-3: confirmation first.
	status, e := s.run(t, "node_crash", map[string]any{"node": "node-3"})
	require.Equal(t, http.StatusPreconditionRequired, status, "%v", e)
	res := s.mustRun(t, "node_crash", map[string]any{"node": "node-3"}, confirm...)
	assert.Equal(t, "crashed", res["sim_state"])
	status, e = s.run(t, "node_crash", map[string]any{"node": "node-3"}, confirm...)
	assert.Equal(t, http.StatusConflict, status, "crashing a crashed node: %v", e)
	assert.Contains(t, e["remediation"], "node_restart node=node-3")
	status, e = s.run(t, "node_crash", map[string]any{"node": "observer"}, confirm...)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "%v", e)

	// The event stream reports the death.
	died := waitEvent(t, events, 20*time.Second, "a membership event with node-3 dead", memberDied("node-3"))
	require.Eventually(t, func() bool { return b.Observer.MemberState("node-3") == cluster.StateDead }, 20*time.Second, 20*time.Millisecond)

	t.Run("unreachable node answers 502 with its state", func(t *testing.T) {
		for _, call := range []struct {
			op     string
			params map[string]any
		}{
			{"node_info", map[string]any{"node": "node-3"}},
			{"process_info", map[string]any{"pid": "node-3/1"}},
			{"call", map[string]any{"pid": "node-3/1", "kind": "get"}},
		} {
			status, e := s.run(t, call.op, call.params)
			require.Equal(t, http.StatusBadGateway, status, "%s: %v", call.op, e)
			assert.Equal(t, operations.CodeNodeUnreachable, e["code"])
			details := e["details"].(map[string]any)
			assert.Equal(t, "node-3", details["node"])
			assert.Equal(t, cluster.StateDead, details["state"])
			assert.Equal(t, "observer", details["observer"])
			rem := e["remediation"].(string)
			assert.Contains(t, rem, "node-3 is dead as seen by observer")
			assert.Contains(t, rem, "clusterlab op run node_restart node=node-3 --yes")
		}
		status, body := s.request(t, http.MethodGet, APIPrefix+"/processes/node-3%2F1", nil)
		assert.Equal(t, http.StatusBadGateway, status, "%v", body)

		// A cluster-wide list is partial, naming the missing node.
		res := s.mustRun(t, "list_processes", map[string]any{"node": "node-1,node-3"})
		missing := res["missing"].([]any)
		require.Len(t, missing, 1)
		assert.Equal(t, "node-3", missing[0].(map[string]any)["node"])
		assert.Equal(t, cluster.StateDead, missing[0].(map[string]any)["state"])

		// The observer has declared node-3 dead; the network drops
		// everything to it at once.
		res = s.mustRun(t, "cluster_topology", nil)
		link := linkOf(res, "observer", "node-3")
		require.NotNil(t, link)
		assert.Equal(t, false, link["sees_alive"])
		assert.Equal(t, false, linkOf(res, "node-1", "node-3")["reachable"])
	})

	t.Run("resume with Last-Event-ID", func(t *testing.T) {
		b.Publish("test", map[string]int{"n": 1})
		resumed := openEvents(t, s, strconv.FormatUint(died.ID, 10))
		first := waitEvent(t, resumed, 5*time.Second, "an event after hello", func(ev sseEvent) bool { return ev.Event != "hello" })
		assert.Greater(t, first.ID, died.ID, "only newer events")
		if first.Event != "test" {
			waitEvent(t, resumed, 5*time.Second, "the test event", func(ev sseEvent) bool {
				require.Greater(t, ev.ID, died.ID)
				return ev.Event == "test"
			})
		}
		b.Publish("test", map[string]int{"n": 2})
		live := waitEvent(t, resumed, 5*time.Second, "a live event", func(ev sseEvent) bool { return ev.Event == "test" })
		assert.JSONEq(t, `{"n":2}`, live.Data)
	})

	t.Run("restart", func(t *testing.T) {
		res := s.mustRun(t, "node_restart", map[string]any{"node": "node-3"}, confirm...)
		assert.Equal(t, "running", res["sim_state"])
		require.Eventually(t, func() bool { return b.Observer.MemberState("node-3") == cluster.StateAlive }, 20*time.Second, 20*time.Millisecond)
		res = s.mustRun(t, "node_info", map[string]any{"node": "node-3"})
		assert.Equal(t, float64(0), res["processes"], "a restarted node starts empty")
	})

	t.Run("partition and heal", func(t *testing.T) {
		res := s.mustRun(t, "partition", map[string]any{"groups": "node-1;node-2,node-3,observer"})
		assert.Len(t, res["groups"], 2)
		top := s.mustRun(t, "cluster_topology", nil)
		assert.Equal(t, false, linkOf(top, "node-2", "node-1")["reachable"])
		assert.Equal(t, true, linkOf(top, "node-2", "node-3")["reachable"])
		s.mustRun(t, "heal", nil)
		top = s.mustRun(t, "cluster_topology", nil)
		assert.Equal(t, true, linkOf(top, "node-2", "node-1")["reachable"])

		status, e := s.run(t, "partition", map[string]any{"groups": []any{[]any{"node-1"}, []any{"node-8"}}})
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, e["message"], "node-8")
	})

	t.Run("cut and uncut", func(t *testing.T) {
		s.mustRun(t, "cut", map[string]any{"from": "node-1", "to": "node-2"})
		top := s.mustRun(t, "cluster_topology", nil)
		assert.Equal(t, false, linkOf(top, "node-1", "node-2")["reachable"])
		assert.Equal(t, true, linkOf(top, "node-2", "node-1")["reachable"])
		s.mustRun(t, "uncut", map[string]any{"from": "node-1", "to": "node-2"})
		top = s.mustRun(t, "cluster_topology", nil)
		assert.Equal(t, true, linkOf(top, "node-1", "node-2")["reachable"])
	})

	t.Run("latency and loss", func(t *testing.T) {
		res := s.mustRun(t, "link_latency", map[string]any{"a": "node-1", "b": "node-2", "latency": "2ms", "jitter": "1ms"})
		assert.Equal(t, "2ms", res["latency"])
		s.mustRun(t, "link_latency", map[string]any{"a": "node-1", "b": "node-2", "latency": "0s"})
		res = s.mustRun(t, "link_loss", map[string]any{"a": "node-1", "b": "node-2", "p": "0.1"})
		assert.Equal(t, 0.1, res["p"])
		s.mustRun(t, "link_loss", map[string]any{"a": "node-1", "b": "node-2", "p": 0})
		status, _ := s.run(t, "link_loss", map[string]any{"a": "node-1", "b": "node-2", "p": 2})
		assert.Equal(t, http.StatusBadRequest, status)
		status, _ = s.run(t, "link_latency", map[string]any{"a": "node-1", "b": "node-2", "latency": "-1s"})
		assert.Equal(t, http.StatusBadRequest, status)
	})

	t.Run("start and stop a node", func(t *testing.T) {
		res := s.mustRun(t, "node_start", map[string]any{"name": "node-9", "tags": map[string]any{"zone": "b"}})
		assert.Equal(t, "node-9", res["node"])
		require.Eventually(t, func() bool { return b.Observer.MemberState("node-9") == cluster.StateAlive }, 20*time.Second, 20*time.Millisecond)
		status, e := s.run(t, "node_start", map[string]any{"name": "node-9"})
		assert.Equal(t, http.StatusConflict, status, "%v", e)
		status, _ = s.run(t, "node_start", map[string]any{"name": "bad name"})
		assert.Equal(t, http.StatusBadRequest, status)
		res = s.mustRun(t, "node_stop", map[string]any{"node": "node-9"}, confirm...)
		assert.Equal(t, "stopped", res["sim_state"])
		status, _ = s.run(t, "node_stop", map[string]any{"node": "node-9"}, confirm...)
		assert.Equal(t, http.StatusConflict, status)
	})
}

// TestRealClusterRefusesSimulatorOps connects a backend to a running
// cluster (no simulator in the backend) and checks that simulator-only
// operations answer 422 while the others work.
func TestRealClusterRefusesSimulatorOps(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Nodes: 2, Seed: 3, Setup: workload.Register})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, sim.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sim.Close(ctx)
	})
	require.NoError(t, sim.WaitConverged(ctx))
	var seeds []string
	for _, n := range sim.Running() {
		seeds = append(seeds, n.Addr())
	}
	b := newBackend(t, BackendConfig{Join: seeds, Network: sim.Network(), Profile: cluster.ProfileSim})
	require.False(t, b.Simulated())
	require.Eventually(t, func() bool { return len(b.Observer.AliveMembers()) == 3 }, 20*time.Second, 20*time.Millisecond)
	s := newServer(t, b)

	for _, call := range []struct {
		op     string
		params map[string]any
	}{
		{"node_crash", map[string]any{"node": "node-1"}},
		{"heal", nil},
		{"partition", map[string]any{"groups": "node-1;node-2"}},
		{"node_start", nil},
	} {
		status, e := s.run(t, call.op, call.params, confirm...)
		require.Equal(t, http.StatusUnprocessableEntity, status, "%s: %v", call.op, e)
		assert.Equal(t, operations.CodeSimulatorOnly, e["code"])
		assert.NotEmpty(t, e["remediation"])
	}
	res := s.mustRun(t, "list_nodes", nil)
	assert.Equal(t, false, res["simulated"])
	top := s.mustRun(t, "cluster_topology", nil)
	assert.Equal(t, false, top["links_complete"])
	assert.NotNil(t, linkOf(top, "observer", "node-1"))
	s.mustRun(t, "spawn", map[string]any{"node": "node-2", "behavior": "echo"})
	res = s.mustRun(t, "list_processes", nil)
	assert.Equal(t, float64(1), res["total"])
	status, e := s.run(t, "node_info", map[string]any{"node": "node-2"})
	require.Equal(t, http.StatusOK, status, "%v", e)
}

// TestBackendJoinsOverUDPAndTCP connects a backend to a cluster of real
// nodes on the loopback interface, as `clusterlab serve --join` does.
func TestBackendJoinsOverUDPAndTCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := cluster.NewNode(cluster.Config{Name: "real-1", Profile: cluster.ProfileLocal})
	require.NoError(t, err)
	require.NoError(t, workload.Register(n))
	require.NoError(t, n.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	})
	b := newBackend(t, BackendConfig{Join: []string{n.Addr()}, Profile: cluster.ProfileLocal})
	require.Eventually(t, func() bool { return len(b.Observer.AliveMembers()) == 2 }, 20*time.Second, 20*time.Millisecond)
	s := newServer(t, b)
	res := s.mustRun(t, "spawn", map[string]any{"node": "real-1", "behavior": "counter"})
	pid := res["pid"].(string)
	res = s.mustRun(t, "call", map[string]any{"pid": pid, "kind": "inc"})
	assert.Equal(t, "1", res["body"])
	status, e := s.run(t, "node_crash", map[string]any{"node": "real-1"}, confirm...)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "%v", e)
}
