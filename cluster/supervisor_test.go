package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

// Node-level supervisor tests on the simulator: real cluster.Nodes over
// the in-memory network. The pure decisions are tested in placement_test.go.

// supWithin is the deadline for "every live child runs exactly once" after
// a fault; the target is 5 s, the deadline leaves room for a busy machine
// under the race detector. Measured figures are logged.
const supWithin = 20 * time.Second

func startSupSim(t *testing.T, nodes int, seed int64) *simulator.Simulator {
	t.Helper()
	cfg := simulator.Config{Nodes: nodes, Seed: seed, Setup: workload.Register}
	// SUP_DEBUG=1 shows the nodes' logs (migrations, stops, restarts).
	if os.Getenv("SUP_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := simulator.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	require.NoError(t, s.Start(ctx))
	require.NoError(t, s.WaitConverged(ctx))
	return s
}

func supCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// supRunning counts, from the processes themselves, where each child of sup
// runs: child id -> nodes.
func supRunning(s *simulator.Simulator, sup string) map[string][]string {
	out := map[string][]string{}
	for _, n := range s.Running() {
		for _, p := range n.LocalProcesses() {
			if p.Labels[cluster.LabelSupervisor] == sup && p.Status != cluster.StatusExited && p.Status != cluster.StatusExiting {
				out[p.Labels[cluster.LabelChild]] = append(out[p.Labels[cluster.LabelChild]], n.Name())
			}
		}
	}
	return out
}

// supExactlyOnce says what is wrong, or nil when every id runs exactly once
// and nothing else of sup runs.
func supExactlyOnce(s *simulator.Simulator, sup string, ids []string) error {
	running := supRunning(s, sup)
	var problems []string
	for _, id := range ids {
		if k := len(running[id]); k != 1 {
			problems = append(problems, fmt.Sprintf("%s runs %d times %v", id, k, running[id]))
		}
	}
	for id := range running {
		if !slices.Contains(ids, id) {
			problems = append(problems, fmt.Sprintf("unexpected child %s on %v", id, running[id]))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// supWaitExactlyOnce waits until every id runs exactly once and returns
// how long that took.
func supWaitExactlyOnce(t *testing.T, s *simulator.Simulator, sup string, ids []string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(within)
	for {
		err := supExactlyOnce(s, sup, ids)
		if err == nil {
			return time.Since(start)
		}
		select {
		case <-timeout:
			t.Fatalf("children of %s not running exactly once after %s: %v", sup, within, err)
		case <-tick.C:
		}
	}
}

func supIDs(k int) []string {
	ids := make([]string, k)
	for i := range ids {
		ids[i] = fmt.Sprintf("child-%02d", i)
	}
	return ids
}

func supStartChildren(t *testing.T, s *simulator.Simulator, sup string, ids []string, behavior string) map[string]cluster.ChildPlacement {
	t.Helper()
	ctx := supCtx(t)
	nodes := s.Running()
	out := map[string]cluster.ChildPlacement{}
	for i, id := range ids {
		from := nodes[i%len(nodes)] // every node can start children
		cp, err := from.StartChild(ctx, sup, cluster.ChildSpec{ID: id, Behavior: behavior})
		require.NoError(t, err, "StartChild(%s) from %s", id, from.Name())
		assert.True(t, cp.Honoured)
		assert.Equal(t, cp.Node, cp.PID.Node)
		out[id] = cp
	}
	return out
}

func supNode(t *testing.T, s *simulator.Simulator, name string) *cluster.Node {
	t.Helper()
	n := s.Node(name)
	require.NotNil(t, n, "node %s is not running", name)
	return n
}

func TestSupervisorChildrenRunOnceAndFailOver(t *testing.T) {
	s := startSupSim(t, 5, 31)
	ctx := supCtx(t)
	obs, err := s.AddNode(ctx, "observer", cluster.RoleObserver, nil)
	require.NoError(t, err)
	require.NoError(t, s.WaitConverged(ctx))

	require.NoError(t, obs.StartSupervisor(ctx, cluster.SupervisorSpec{Name: "web"}))
	require.NoError(t, obs.StartSupervisor(ctx, cluster.SupervisorSpec{Name: "web"}), "StartSupervisor is idempotent")
	err = obs.StartSupervisor(ctx, cluster.SupervisorSpec{Name: "web", MaxRestarts: 9})
	assert.Equal(t, cluster.CodeConflict, cluster.ErrorCode(err), "StartSupervisor with another spec: %v", err)

	ids := supIDs(20)
	placed := supStartChildren(t, s, "web", ids, workload.Echo)
	took := supWaitExactlyOnce(t, s, "web", ids, supWithin)
	t.Logf("20 children started, each running exactly once %s after the last StartChild", took)

	running := supRunning(s, "web")
	for _, id := range ids {
		assert.Equal(t, []string{placed[id].Node}, running[id], "child %s runs where StartChild said", id)
	}
	assert.NotContains(t, slices.Concat(slices.Collect(mapValues(running))...), "observer", "observers host no children")

	// Every node agrees on the specs; the view lists every child once.
	for _, n := range s.Running() {
		require.Eventually(t, func() bool {
			infos := n.Supervisors()
			return len(infos) == 1 && infos[0].Children == 20 && !infos[0].Failed
		}, supWithin, 20*time.Millisecond, "supervisor state on %s", n.Name())
	}
	view := cluster.NewView(obs)
	children, missingNodes := view.Children(ctx, "web")
	assert.Empty(t, missingNodes)
	assert.Len(t, children, 20)
	missing, dups, _ := view.ChildAnomalies(ctx)
	assert.Empty(t, missing)
	assert.Empty(t, dups)

	// Crash the node with the most children: they run again elsewhere,
	// each exactly once, and the moves are recorded with the reason.
	victim := ""
	for _, n := range s.Running() {
		if k := len(n.LocalChildren()); n.Name() != "observer" && (victim == "" || k > len(supNode(t, s, victim).LocalChildren())) {
			victim = n.Name()
		}
	}
	var victimChildren []string
	for _, c := range supNode(t, s, victim).LocalChildren() {
		victimChildren = append(victimChildren, c.ID)
	}
	moved := len(victimChildren)
	require.Positive(t, moved)
	crashed := time.Now()
	require.NoError(t, s.Crash(victim))
	took = supWaitExactlyOnce(t, s, "web", ids, supWithin)
	t.Logf("crash of %s (%d children): every child running exactly once again after %s (includes failure detection)", victim, moved, took)
	assert.NotContains(t, slices.Concat(slices.Collect(mapValues(supRunning(s, "web")))...), victim)

	require.Eventually(t, func() bool {
		ms, _ := view.Migrations(ctx)
		seen := map[string]bool{}
		for _, m := range ms {
			if m.From == victim && m.Reason == victim+" died" && !m.Time.Before(crashed) {
				seen[m.Child] = true
			}
		}
		for _, id := range victimChildren {
			if !seen[id] {
				return false
			}
		}
		return len(seen) == moved
	}, supWithin, 50*time.Millisecond, "every moved child is recorded as a migration from %s", victim)

	// The node comes back: the children it owns move back to it, nothing
	// runs twice.
	require.NoError(t, s.Restart(ctx, victim))
	restarted := time.Now()
	require.Eventually(t, func() bool {
		n := s.Node(victim)
		return n != nil && len(n.LocalChildren()) == moved && supExactlyOnce(s, "web", ids) == nil
	}, supWithin, 10*time.Millisecond)
	t.Logf("restart of %s: its %d children back on it and every child running exactly once after %s", victim, moved, time.Since(restarted))
	for _, m := range supNode(t, s, victim).Migrations() {
		assert.Equal(t, victim+" joined", m.Reason, "migration %+v", m)
	}

	// Stopping the supervisor stops every child everywhere (on every node
	// the caller sees alive; the others learn it through gossip).
	require.NoError(t, s.WaitConverged(ctx))
	require.NoError(t, obs.StopSupervisor(ctx, "web"))
	assert.Empty(t, supRunning(s, "web"), "StopSupervisor returns once the children are stopped")
	for _, n := range s.Running() {
		require.Eventually(t, func() bool { return len(n.Supervisors()) == 0 }, supWithin, 20*time.Millisecond)
	}
	err = obs.StopSupervisor(ctx, "web")
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err))
}

func mapValues[K comparable, V any](m map[K]V) func(func(V) bool) {
	return func(yield func(V) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func TestSupervisorPartitionHealRunsChildrenOnce(t *testing.T) {
	s := startSupSim(t, 5, 32)
	ctx := supCtx(t)
	n1 := supNode(t, s, "node-1")
	require.NoError(t, n1.StartSupervisor(ctx, cluster.SupervisorSpec{Name: "jobs"}))
	ids := supIDs(20)
	supStartChildren(t, s, "jobs", ids, workload.Echo)
	supWaitExactlyOnce(t, s, "jobs", ids, supWithin)

	sideA := []string{"node-1", "node-2"}
	sideB := []string{"node-3", "node-4", "node-5"}
	s.Network().Partition(sideA, sideB)
	// Each side declares the other dead and runs every child itself.
	require.Eventually(t, func() bool {
		running := supRunning(s, "jobs")
		for _, id := range ids {
			var a, b int
			for _, node := range running[id] {
				if slices.Contains(sideA, node) {
					a++
				} else {
					b++
				}
			}
			if a != 1 || b != 1 {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "both sides of the partition run every child once")

	s.Network().Heal()
	took := supWaitExactlyOnce(t, s, "jobs", ids, supWithin)
	t.Logf("partition {1,2}|{3,4,5} healed: every child running exactly once after %s (target 5s)", took)
	require.NoError(t, s.WaitConverged(ctx))
	require.NoError(t, supExactlyOnce(s, "jobs", ids))

	missing, dups, missingNodes := cluster.NewView(n1).ChildAnomalies(ctx)
	assert.Empty(t, missingNodes)
	assert.Empty(t, dups)
	assert.Empty(t, missing)
}

func TestSupervisorRestartIntensity(t *testing.T) {
	s := startSupSim(t, 3, 33)
	ctx := supCtx(t)
	n1 := supNode(t, s, "node-1")
	require.NoError(t, n1.StartSupervisor(ctx, cluster.SupervisorSpec{Name: "fragile", MaxRestarts: 2, Period: time.Minute}))
	cp, err := n1.StartChild(ctx, "fragile", cluster.ChildSpec{ID: "crasher", Behavior: workload.Crasher, Args: []byte(`{"after":1}`)})
	require.NoError(t, err)
	owner := supNode(t, s, cp.Node)

	failed := func() (bool, string) {
		for _, info := range owner.Supervisors() {
			if info.Spec.Name == "fragile" {
				return info.Failed, info.FailReason
			}
		}
		return false, ""
	}
	// Poke the current instance until the supervisor gives up: two
	// restarts are allowed, the third crash fails it.
	pid, pokes := cp.PID, 0
	for {
		isFailed, _ := failed()
		if isFailed {
			break
		}
		require.Less(t, pokes, 10, "the supervisor never failed")
		require.NoError(t, owner.Send(pid, cluster.Message{Kind: "poke"}))
		pokes++
		require.Eventually(t, func() bool {
			if f, _ := failed(); f {
				return true
			}
			cs := owner.LocalChildren()
			return len(cs) == 1 && cs[0].PID != pid && cs[0].Restarts == pokes
		}, supWithin, 5*time.Millisecond, "crasher restarted after poke %d", pokes)
		if cs := owner.LocalChildren(); len(cs) == 1 {
			pid = cs[0].PID
		}
	}
	assert.Equal(t, 3, pokes, "crashes until failure with max_restarts 2")
	_, reason := failed()
	assert.Contains(t, reason, "more than 2 restarts within 1m0s")
	assert.Empty(t, owner.LocalChildren(), "a failed supervisor restarts nothing")
	missing, _, _ := cluster.NewView(n1).ChildAnomalies(ctx)
	require.Len(t, missing, 1)
	assert.Equal(t, cp.Node, missing[0].Owner)
	// The failure is on the owner only; the view shows it from anywhere.
	infos, missingNodes := cluster.NewView(n1).Supervisors(ctx)
	assert.Empty(t, missingNodes)
	require.Len(t, infos, 1)
	assert.True(t, infos[0].Failed)
	assert.True(t, strings.HasPrefix(infos[0].FailReason, cp.Node+": child crasher exited (boom)"), "FailReason %q", infos[0].FailReason)

	// RestartChild clears the failure and starts the child again.
	cp2, err := n1.RestartChild(ctx, "fragile", "crasher")
	require.NoError(t, err)
	assert.Equal(t, cp.Node, cp2.Node)
	isFailed, _ := failed()
	assert.False(t, isFailed)
	assert.Len(t, owner.LocalChildren(), 1)

	// Fail it again, then starting the supervisor again (same spec)
	// clears the failure on every node and the child runs again.
	pid = cp2.PID
	for pokes = 0; ; pokes++ {
		if f, _ := failed(); f {
			break
		}
		require.Less(t, pokes, 10, "the supervisor never failed again")
		require.NoError(t, owner.Send(pid, cluster.Message{Kind: "poke"}))
		require.Eventually(t, func() bool {
			if f, _ := failed(); f {
				return true
			}
			cs := owner.LocalChildren()
			return len(cs) == 1 && cs[0].PID != pid
		}, supWithin, 5*time.Millisecond)
		if cs := owner.LocalChildren(); len(cs) == 1 {
			pid = cs[0].PID
		}
	}
	require.NoError(t, n1.StartSupervisor(ctx, cluster.SupervisorSpec{Name: "fragile", MaxRestarts: 2, Period: time.Minute}))
	require.Eventually(t, func() bool {
		f, _ := failed()
		return !f && len(owner.LocalChildren()) == 1
	}, supWithin, 5*time.Millisecond, "StartSupervisor clears the failure")
}

func TestSupervisorRestartPolicies(t *testing.T) {
	s := startSupSim(t, 3, 34)
	ctx := supCtx(t)
	n1 := supNode(t, s, "node-1")
	require.NoError(t, n1.StartSupervisor(ctx, cluster.SupervisorSpec{Name: "pol"}))
	crash := []byte(`{"after":1}`)
	tests := []struct {
		id, restart string
		reason      cluster.Reason // how the child ends: "" pokes the crasher
		restarted   bool
	}{
		{"perm-crash", cluster.RestartPermanent, "", true},
		{"perm-normal", cluster.RestartPermanent, cluster.ReasonNormal, true},
		{"trans-crash", cluster.RestartTransient, "", true},
		{"trans-normal", cluster.RestartTransient, cluster.ReasonNormal, false},
		{"trans-shutdown", cluster.RestartTransient, cluster.ReasonShutdown, false},
		{"temp-crash", cluster.RestartTemporary, "", false},
	}
	kept := 0 // live child specs so far
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			cp, err := n1.StartChild(ctx, "pol", cluster.ChildSpec{ID: tt.id, Behavior: workload.Crasher, Args: crash, Restart: tt.restart})
			require.NoError(t, err)
			owner := supNode(t, s, cp.Node)
			if tt.reason == "" {
				require.NoError(t, owner.Send(cp.PID, cluster.Message{Kind: "poke"}))
			} else {
				require.NoError(t, owner.Kill(ctx, cp.PID, tt.reason))
			}
			if tt.restarted {
				kept++
				require.Eventually(t, func() bool {
					r := supRunning(s, "pol")[tt.id]
					return len(r) == 1 && !slices.ContainsFunc(owner.LocalChildren(), func(c cluster.ChildInfo) bool { return c.PID == cp.PID })
				}, supWithin, 5*time.Millisecond, "%s restarted", tt.id)
				return
			}
			// Not restarted: its spec is removed on every node.
			for _, n := range s.Running() {
				require.Eventually(t, func() bool {
					infos := n.Supervisors()
					return len(infos) == 1 && infos[0].Children == kept
				}, supWithin, 20*time.Millisecond, "spec of %s removed on %s", tt.id, n.Name())
			}
			assert.Empty(t, supRunning(s, "pol")[tt.id])
		})
	}
}

func TestSupervisorStartChildPlacementAndErrors(t *testing.T) {
	s := startSupSim(t, 5, 35)
	ctx := supCtx(t)
	n1 := supNode(t, s, "node-1")
	require.NoError(t, n1.StartSupervisor(ctx, cluster.SupervisorSpec{Name: "svc"}))

	cp, err := n1.StartChild(ctx, "svc", cluster.ChildSpec{ID: "pinned", Behavior: workload.Echo, Placement: cluster.Placement{Node: "node-4"}})
	require.NoError(t, err)
	assert.Equal(t, "node-4", cp.Node)
	assert.True(t, cp.Honoured)
	assert.Empty(t, cp.Reason)

	// Errors come back typed.
	_, err = n1.StartChild(ctx, "nope", cluster.ChildSpec{ID: "x", Behavior: workload.Echo})
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err), "unknown supervisor: %v", err)
	_, err = n1.StartChild(ctx, "svc", cluster.ChildSpec{ID: "pinned", Behavior: workload.Echo})
	assert.Equal(t, cluster.CodeConflict, cluster.ErrorCode(err), "duplicate id: %v", err)
	_, err = n1.StartChild(ctx, "svc", cluster.ChildSpec{ID: "ghost", Behavior: "no-such-behaviour"})
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err), "unknown behaviour: %v", err)
	assert.Contains(t, err.Error(), "no-such-behaviour")
	_, err = n1.StartChild(ctx, "svc", cluster.ChildSpec{ID: "badargs", Behavior: workload.Crasher, Args: []byte(`{"after":-1}`)})
	assert.Equal(t, cluster.CodeBadRequest, cluster.ErrorCode(err), "failing init: %v", err)
	_, err = n1.StartChild(ctx, "svc", cluster.ChildSpec{ID: "tagged", Behavior: workload.Echo, Placement: cluster.Placement{Tags: map[string]string{"gpu": "yes"}}})
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err), "no node with the tags: %v", err)
	assert.Contains(t, err.Error(), "gpu=yes")
	_, err = n1.StartChild(ctx, "svc", cluster.ChildSpec{ID: "bad id", Behavior: workload.Echo})
	assert.Equal(t, cluster.CodeBadRequest, cluster.ErrorCode(err))
	for _, id := range []string{"ghost", "badargs", "tagged"} {
		assert.Empty(t, supRunning(s, "svc")[id], "a failed StartChild leaves nothing behind")
	}

	// Least-loaded: the node with the fewest processes, pinned.
	for range 3 {
		for _, name := range []string{"node-1", "node-2", "node-3", "node-5"} {
			_, err := n1.Spawn(ctx, name, workload.Echo, cluster.SpawnOptions{})
			require.NoError(t, err)
		}
	}
	cp, err = n1.StartChild(ctx, "svc", cluster.ChildSpec{ID: "light", Behavior: workload.Echo, Placement: cluster.Placement{Strategy: cluster.StrategyLeastLoaded}})
	require.NoError(t, err)
	assert.Equal(t, "node-4", cp.Node, "least-loaded placement")

	// A dead preferred node: placed elsewhere, with the reason; back on it
	// once it returns.
	require.NoError(t, s.Crash("node-4"))
	require.Eventually(t, func() bool { return n1.MemberState("node-4") == cluster.StateDead }, supWithin, 20*time.Millisecond)
	supWaitExactlyOnce(t, s, "svc", []string{"pinned", "light"}, supWithin)
	cp, err = n1.StartChild(ctx, "svc", cluster.ChildSpec{ID: "wants-4", Behavior: workload.Echo, Placement: cluster.Placement{Node: "node-4"}})
	require.NoError(t, err)
	assert.False(t, cp.Honoured)
	assert.NotEqual(t, "node-4", cp.Node)
	assert.Equal(t, "preferred node node-4 is dead; placed by rendezvous hash among 4 nodes", cp.Reason)

	require.NoError(t, s.Restart(ctx, "node-4"))
	require.Eventually(t, func() bool {
		r := supRunning(s, "svc")
		return slices.Equal(r["wants-4"], []string{"node-4"}) && slices.Equal(r["pinned"], []string{"node-4"}) && slices.Equal(r["light"], []string{"node-4"})
	}, supWithin, 20*time.Millisecond, "children back on their preferred node")
	var reasons []string
	for _, m := range supNode(t, s, "node-4").Migrations() {
		reasons = append(reasons, m.Child+": "+m.Reason)
	}
	slices.Sort(reasons)
	assert.Equal(t, []string{"light: pinned node node-4 back", "pinned: preferred node node-4 back", "wants-4: preferred node node-4 back"}, reasons)

	// TerminateChild stops it on every node the caller sees alive before
	// it returns, and forgets it.
	require.NoError(t, s.WaitConverged(ctx))
	require.NoError(t, n1.TerminateChild(ctx, "svc", "wants-4"))
	assert.Empty(t, supRunning(s, "svc")["wants-4"])
	err = n1.TerminateChild(ctx, "svc", "wants-4")
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err))
	// The id can be used again.
	_, err = n1.StartChild(ctx, "svc", cluster.ChildSpec{ID: "wants-4", Behavior: workload.Echo})
	require.NoError(t, err)
	supWaitExactlyOnce(t, s, "svc", []string{"pinned", "light", "wants-4"}, supWithin)
}

func TestSupervisorGracefulStopAndRollingRestart(t *testing.T) {
	s := startSupSim(t, 4, 36)
	ctx := supCtx(t)
	n1 := supNode(t, s, "node-1")
	require.NoError(t, n1.StartSupervisor(ctx, cluster.SupervisorSpec{Name: "roll"}))
	ids := supIDs(12)
	for _, id := range ids {
		_, err := n1.StartChild(ctx, "roll", cluster.ChildSpec{ID: id, Behavior: workload.Echo, Restart: cluster.RestartTransient})
		require.NoError(t, err)
	}
	supWaitExactlyOnce(t, s, "roll", ids, supWithin)

	// A graceful stop: the node's children exit with reason shutdown, which
	// must move them (not remove these transient specs).
	var leaving []string
	for _, c := range supNode(t, s, "node-2").LocalChildren() {
		leaving = append(leaving, c.ID)
	}
	require.NotEmpty(t, leaving)
	stopped := supNode(t, s, "node-2")
	require.NoError(t, s.Stop(ctx, "node-2"))
	took := supWaitExactlyOnce(t, s, "roll", ids, supWithin)
	t.Logf("graceful stop of node-2 (%d children): every child running exactly once after %s", len(leaving), took)
	assert.Empty(t, stopped.LocalProcesses(), "a stopped node keeps no process")
	for _, n := range s.Running() {
		infos := n.Supervisors()
		require.Len(t, infos, 1)
		assert.Equal(t, len(ids), infos[0].Children, "transient specs survive a graceful stop (on %s)", n.Name())
	}
	require.Eventually(t, func() bool {
		ms, _ := cluster.NewView(n1).Migrations(ctx)
		seen := map[string]bool{}
		for _, m := range ms {
			if m.From == "node-2" && m.Reason == "node-2 left" {
				seen[m.Child] = true
			}
		}
		return len(seen) == len(leaving)
	}, supWithin, 20*time.Millisecond, "moves off node-2 recorded as left")

	// Rolling restart: every node in turn; after each, once settled, no
	// child is lost and none runs twice.
	require.NoError(t, s.Restart(ctx, "node-2"))
	for _, name := range []string{"node-1", "node-2", "node-3", "node-4"} {
		start := time.Now()
		require.NoError(t, s.Restart(ctx, name))
		require.NoError(t, s.WaitConverged(ctx))
		supWaitExactlyOnce(t, s, "roll", ids, supWithin)
		t.Logf("rolling restart of %s: every child running exactly once %s after the restart began", name, time.Since(start))
	}
	missing, dups, missingNodes := cluster.NewView(supNode(t, s, "node-3")).ChildAnomalies(ctx)
	assert.Empty(t, missingNodes)
	assert.Empty(t, dups)
	assert.Empty(t, missing)
}
