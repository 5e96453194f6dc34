package cluster_test

import (
	"context"
	"errors"
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

// startSandboxSim starts a simulator whose nodes run the demo workloads.
func startSandboxSim(t *testing.T, nodes int, seed int64) *simulator.Simulator {
	t.Helper()
	s, err := simulator.New(simulator.Config{Nodes: nodes, Seed: seed, Setup: workload.Register})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	require.NoError(t, s.Start(ctx))
	require.NoError(t, s.WaitConverged(ctx))
	return s
}

// sandboxEverywhere waits until every running node's copy of the sandbox
// satisfies ok.
func sandboxEverywhere(t *testing.T, s *simulator.Simulator, name string, what string, ok func(cluster.SandboxInfo) bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range s.Running() {
			info, found := n.Sandbox(name)
			if !found || !ok(info) {
				return false
			}
		}
		return true
	}, 15*time.Second, 20*time.Millisecond, "every node should see sandbox %s %s", name, what)
}

// waitDead waits until every running node sees node as dead.
func waitDead(t *testing.T, s *simulator.Simulator, node string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range s.Running() {
			if n.MemberState(node) != cluster.StateDead {
				return false
			}
		}
		return true
	}, 15*time.Second, 20*time.Millisecond, "every node should see %s dead", node)
}

func countByNode(d cluster.SandboxDetail) map[string]int {
	out := map[string]int{}
	for _, pn := range d.PerNode {
		out[pn.Node] = len(pn.Processes)
	}
	return out
}

func echoChildren(k int) []cluster.SandboxChild {
	out := make([]cluster.SandboxChild, k)
	for i := range out {
		out[i] = cluster.SandboxChild{Behavior: workload.Echo}
	}
	return out
}

func TestSandboxLifecycle(t *testing.T) {
	s := startSandboxSim(t, 4, 31)
	n1, n4 := s.Node("node-1"), s.Node("node-4")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	spec := cluster.SandboxSpec{
		Name:  "lab",
		Nodes: []string{"node-1", "node-2", "node-3"},
		Children: append(echoChildren(5),
			cluster.SandboxChild{Behavior: workload.Counter, Args: []byte(`{"start":7}`), Name: "ctr", Node: "node-3"}),
	}
	info, err := n4.CreateSandbox(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, cluster.SandboxActive, info.State)
	assert.Equal(t, []string{"node-1", "node-2", "node-3"}, info.Nodes)
	require.Len(t, info.Processes, 6)
	assert.Equal(t, cluster.OnNodeLossKeep, info.Spec.OnNodeLoss, "keep is the default policy")

	sandboxEverywhere(t, s, "lab", "created", func(i cluster.SandboxInfo) bool { return len(i.Processes) == 6 })
	_, err = n1.CreateSandbox(ctx, cluster.SandboxSpec{Name: "lab", Spread: 1})
	assert.Equal(t, cluster.CodeConflict, cluster.ErrorCode(err), "a second sandbox with the name is a conflict: %v", err)

	// Inspect from a node that is not in the sandbox: processes per node.
	d, err := n4.SandboxInfo(ctx, "lab")
	require.NoError(t, err)
	assert.Empty(t, d.Missing)
	assert.Equal(t, map[string]int{"node-1": 2, "node-2": 2, "node-3": 2}, countByNode(d), "round-robin over the sandbox nodes, plus the pinned child")
	for _, pn := range d.PerNode {
		for _, p := range pn.Processes {
			assert.Equal(t, "lab", p.Labels[cluster.SandboxLabel])
			assert.Equal(t, pn.Node, p.Node)
		}
	}
	ctr := info.Processes[slices.IndexFunc(info.Processes, func(p cluster.SandboxProcess) bool { return p.Name == "ctr" })]
	assert.Equal(t, "node-3", ctr.Node)
	reply, err := n4.Call(ctx, ctr.PID, cluster.Message{Kind: workload.KindGet})
	require.NoError(t, err)
	assert.Equal(t, "7", string(reply.Body), "the child got its args")

	// A process started later joins the inventory everywhere.
	extra, err := n1.SandboxSpawn(ctx, "lab", cluster.SandboxChild{Behavior: workload.Echo, Node: "node-2"})
	require.NoError(t, err)
	_, err = n1.SandboxSpawn(ctx, "lab", cluster.SandboxChild{Behavior: workload.Echo, Node: "node-4"})
	assert.Equal(t, cluster.CodeBadRequest, cluster.ErrorCode(err), "node-4 is not a sandbox node: %v", err)
	_, err = n1.SandboxSpawn(ctx, "nope", cluster.SandboxChild{Behavior: workload.Echo})
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err))
	sandboxEverywhere(t, s, "lab", "with the extra process", func(i cluster.SandboxInfo) bool {
		return slices.ContainsFunc(i.Processes, func(p cluster.SandboxProcess) bool { return p.PID == extra })
	})

	// A process that exits is marked exited, not lost.
	require.NoError(t, n4.Kill(ctx, extra, cluster.ReasonKilled))
	sandboxEverywhere(t, s, "lab", "with the extra process exited", func(i cluster.SandboxInfo) bool {
		return slices.ContainsFunc(i.Processes, func(p cluster.SandboxProcess) bool {
			return p.PID == extra && p.Status == cluster.SandboxProcExited && p.Reason == string(cluster.ReasonKilled)
		})
	})

	// Crash a sandbox node: degraded, naming what was lost.
	var onNode3 []cluster.PID
	for _, p := range info.Processes {
		if p.Node == "node-3" {
			onNode3 = append(onNode3, p.PID)
		}
	}
	slices.SortFunc(onNode3, func(a, b cluster.PID) int { return strings.Compare(a.String(), b.String()) })
	require.NoError(t, s.Crash("node-3"))
	waitDead(t, s, "node-3")
	sandboxEverywhere(t, s, "lab", "degraded", func(i cluster.SandboxInfo) bool { return i.State == cluster.SandboxDegraded })
	got, _ := n4.Sandbox("lab")
	require.Len(t, got.Lost, 1)
	loss := got.Lost[0]
	assert.Equal(t, "node-3", loss.Node)
	assert.Equal(t, "node-1", loss.RecordedBy, "the lowest-named live sandbox node records the loss")
	pids := slices.Clone(loss.PIDs)
	slices.SortFunc(pids, func(a, b cluster.PID) int { return strings.Compare(a.String(), b.String()) })
	assert.Equal(t, onNode3, pids)
	assert.Empty(t, loss.Restarted, "policy keep restarts nothing")
	for _, p := range got.Processes {
		if p.Node == "node-3" {
			assert.Equal(t, cluster.SandboxProcLost, p.Status)
		}
	}
	assert.Len(t, n1.Sandboxes(), 1, "a degraded sandbox is still listed")

	d, err = n4.SandboxInfo(ctx, "lab")
	require.NoError(t, err)
	require.Len(t, d.Missing, 1, "the crashed node is named as missing")
	assert.Equal(t, "node-3", d.Missing[0].Node)
	assert.Equal(t, cluster.StateDead, d.Missing[0].State)
	assert.Equal(t, map[string]int{"node-1": 2, "node-2": 2}, countByNode(d))

	// Destroy from another node: every process stopped, verified.
	rep, err := n4.DestroySandbox(ctx, "lab")
	require.NoError(t, err)
	assert.True(t, rep.Verified, "destroy verifies: %+v", rep)
	assert.Empty(t, rep.Leftovers)
	assert.Equal(t, 4, rep.Stopped)
	stopped := map[string]int{}
	for _, ns := range rep.PerNode {
		stopped[ns.Node] = len(ns.Stopped)
		assert.Empty(t, ns.Errors)
	}
	assert.Equal(t, map[string]int{"node-1": 2, "node-2": 2, "node-4": 0}, stopped)
	require.Len(t, rep.Missing, 1)
	assert.Equal(t, "node-3", rep.Missing[0].Node)
	for _, n := range s.Running() {
		for _, p := range n.LocalProcesses() {
			assert.NotEqual(t, "lab", p.Labels[cluster.SandboxLabel], "%s still runs %s", n.Name(), p.PID)
		}
	}
	sandboxEverywhere(t, s, "lab", "destroyed", func(i cluster.SandboxInfo) bool { return i.State == cluster.SandboxDestroyed })
	assert.Empty(t, n1.Sandboxes())
	_, err = n1.SandboxSpawn(ctx, "lab", cluster.SandboxChild{Behavior: workload.Echo})
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err), "no spawns into a destroyed sandbox")

	// Destroying again retries the cleanup; the name can be used again.
	rep, err = n1.DestroySandbox(ctx, "lab")
	require.NoError(t, err)
	assert.True(t, rep.Verified)
	assert.Zero(t, rep.Stopped)
	again, err := n1.CreateSandbox(ctx, cluster.SandboxSpec{Name: "lab", Nodes: []string{"node-2"}, Children: echoChildren(1)})
	require.NoError(t, err)
	sandboxEverywhere(t, s, "lab", "created again", func(i cluster.SandboxInfo) bool {
		return i.State == cluster.SandboxActive && i.CreatedAt.Equal(again.CreatedAt)
	})
	_, err = n1.DestroySandbox(ctx, "unknown")
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err))
}

func TestSandboxRestartOnNodeLoss(t *testing.T) {
	s := startSandboxSim(t, 4, 32)
	n1 := s.Node("node-1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	info, err := n1.CreateSandbox(ctx, cluster.SandboxSpec{
		Name:       "fleet",
		Spread:     3,
		Children:   echoChildren(6),
		OnNodeLoss: cluster.OnNodeLossRestart,
	})
	require.NoError(t, err)
	workers := []string{"node-1", "node-2", "node-3", "node-4"}
	assert.Equal(t, cluster.SpreadNodes("fleet", workers, 3), info.Nodes, "spread picks nodes deterministically")
	victim := info.Nodes[2] // never node-1, the one the test works through
	var lost []cluster.PID
	for _, p := range info.Processes {
		if p.Node == victim {
			lost = append(lost, p.PID)
		}
	}
	require.Len(t, lost, 2)
	sandboxEverywhere(t, s, "fleet", "created", func(i cluster.SandboxInfo) bool { return len(i.Processes) == 6 })

	require.NoError(t, s.Crash(victim))
	waitDead(t, s, victim)
	sandboxEverywhere(t, s, "fleet", "with the lost processes restarted", func(i cluster.SandboxInfo) bool {
		return i.State == cluster.SandboxDegraded && len(i.Lost) == 1 && len(i.Lost[0].Restarted) == 2
	})
	got, _ := n1.Sandbox("fleet")
	loss := got.Lost[0]
	assert.Equal(t, victim, loss.Node)
	assert.ElementsMatch(t, lost, loss.PIDs)
	var remaining []string
	for _, node := range info.Nodes {
		if node != victim {
			remaining = append(remaining, node)
		}
	}
	for _, r := range loss.Restarted {
		assert.Empty(t, r.Error)
		assert.Contains(t, remaining, r.Node, "restarted on a remaining sandbox node")
		assert.Contains(t, lost, r.Lost)
		assert.Equal(t, r.Node, r.PID.Node)
	}
	running := 0
	for _, p := range got.Processes {
		if p.Status == cluster.SandboxProcRunning {
			running++
			assert.NotEqual(t, victim, p.Node)
		}
		if !p.Replaces.IsZero() {
			assert.Contains(t, lost, p.Replaces)
		}
	}
	assert.Equal(t, 6, running, "every process runs again")

	d, err := n1.SandboxInfo(ctx, "fleet")
	require.NoError(t, err)
	total := 0
	for _, pn := range d.PerNode {
		assert.Contains(t, remaining, pn.Node)
		total += len(pn.Processes)
	}
	assert.Equal(t, 6, total, "the fan-out finds all six on the remaining nodes")
	assert.Equal(t, map[string]int{remaining[0]: 3, remaining[1]: 3}, countByNode(d), "restarts go to the least loaded node")

	rep, err := n1.DestroySandbox(ctx, "fleet")
	require.NoError(t, err)
	assert.True(t, rep.Verified)
	assert.Equal(t, 6, rep.Stopped)
}

func TestSandboxCreateErrors(t *testing.T) {
	s := startSandboxSim(t, 3, 33)
	n1 := s.Node("node-1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	obs, err := s.AddNode(ctx, "observer", cluster.RoleObserver, nil)
	require.NoError(t, err)
	require.NoError(t, s.WaitConverged(ctx))

	tests := []struct {
		name string
		spec cluster.SandboxSpec
		code string
		msg  string
	}{
		{"invalid spec", cluster.SandboxSpec{Name: "Bad Name", Spread: 1}, cluster.CodeBadRequest, "name"},
		{"unknown node", cluster.SandboxSpec{Name: "a", Nodes: []string{"node-9"}}, cluster.CodeNodeUnreachable, "not a member"},
		{"observer node", cluster.SandboxSpec{Name: "a", Nodes: []string{"observer"}}, cluster.CodeBadRequest, "observer"},
		{"spread beyond the workers", cluster.SandboxSpec{Name: "a", Spread: 4}, cluster.CodeBadRequest, "only 3 live worker nodes"},
		{"unknown behaviour", cluster.SandboxSpec{Name: "a", Nodes: []string{"node-2"}, Children: []cluster.SandboxChild{{Behavior: "echo"}, {Behavior: "nope"}}}, cluster.CodeNotFound, "children[1]"},
		{"bad args", cluster.SandboxSpec{Name: "a", Spread: 2, Children: []cluster.SandboxChild{{Behavior: "counter", Args: []byte(`{"x":1}`)}}}, "", "children[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := obs.CreateSandbox(ctx, tt.spec)
			require.Error(t, err)
			if tt.code != "" {
				assert.Equal(t, tt.code, cluster.ErrorCode(err), "CreateSandbox(%s) = %v", tt.name, err)
			}
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
	// A failed create leaves no process behind.
	for _, n := range s.Running() {
		for _, p := range n.LocalProcesses() {
			assert.Empty(t, p.Labels[cluster.SandboxLabel], "%s on %s", p.PID, n.Name())
		}
	}
	info, ok := obs.Sandbox("a")
	require.True(t, ok)
	assert.Equal(t, cluster.SandboxDestroyed, info.State, "a failed create is rolled back to a tombstone")

	// The observer creates sandboxes on workers (spread ignores observers).
	info, err = obs.CreateSandbox(ctx, cluster.SandboxSpec{Name: "from-observer", Spread: 3, Children: echoChildren(3)})
	require.NoError(t, err)
	assert.Equal(t, []string{"node-1", "node-2", "node-3"}, info.Nodes)
	sandboxEverywhere(t, s, "from-observer", "created", func(i cluster.SandboxInfo) bool { return len(i.Processes) == 3 })
	require.Len(t, n1.Sandboxes(), 1)
	rep, err := n1.DestroySandbox(ctx, "from-observer")
	require.NoError(t, err)
	assert.True(t, rep.Verified)
	assert.Equal(t, 3, rep.Stopped)
}

func TestSandboxSpecValidate(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name string
		spec cluster.SandboxSpec
		want string // "" means valid
	}{
		{"nodes", cluster.SandboxSpec{Name: "ok", Nodes: []string{"n1", "n2"}}, ""},
		{"spread and policy", cluster.SandboxSpec{Name: "a.b_c-9", Spread: 2, OnNodeLoss: "restart"}, ""},
		{"63 characters", cluster.SandboxSpec{Name: long[:63], Spread: 1}, ""},
		{"children", cluster.SandboxSpec{Name: "ok", Nodes: []string{"n1"}, Children: []cluster.SandboxChild{{Behavior: "echo", Node: "n1", Name: "e"}}}, ""},
		{"empty name", cluster.SandboxSpec{Spread: 1}, "name"},
		{"64 characters", cluster.SandboxSpec{Name: long, Spread: 1}, "name"},
		{"upper case", cluster.SandboxSpec{Name: "Lab", Spread: 1}, "name"},
		{"leading dash", cluster.SandboxSpec{Name: "-lab", Spread: 1}, "name"},
		{"slash", cluster.SandboxSpec{Name: "a/b", Spread: 1}, "name"},
		{"neither nodes nor spread", cluster.SandboxSpec{Name: "a"}, "give target nodes or spread"},
		{"both nodes and spread", cluster.SandboxSpec{Name: "a", Nodes: []string{"n1"}, Spread: 1}, "not both"},
		{"negative spread", cluster.SandboxSpec{Name: "a", Spread: -1}, "spread -1"},
		{"huge spread", cluster.SandboxSpec{Name: "a", Spread: cluster.MaxSandboxNodes + 1}, "spread"},
		{"bad node name", cluster.SandboxSpec{Name: "a", Nodes: []string{"n 1"}}, "nodes[0]"},
		{"duplicate node", cluster.SandboxSpec{Name: "a", Nodes: []string{"n1", "n1"}}, "listed twice"},
		{"unknown policy", cluster.SandboxSpec{Name: "a", Spread: 1, OnNodeLoss: "retry"}, "on_node_loss"},
		{"child without behaviour", cluster.SandboxSpec{Name: "a", Spread: 1, Children: []cluster.SandboxChild{{}}}, "children[0]: behavior: empty"},
		{"child args too big", cluster.SandboxSpec{Name: "a", Spread: 1, Children: []cluster.SandboxChild{{Behavior: "echo", Args: make([]byte, cluster.MaxSandboxArgs+1)}}}, "args"},
		{"child name with space", cluster.SandboxSpec{Name: "a", Spread: 1, Children: []cluster.SandboxChild{{Behavior: "echo", Name: "a b"}}}, "children[0]: name"},
		{"child on another node", cluster.SandboxSpec{Name: "a", Nodes: []string{"n1"}, Children: []cluster.SandboxChild{{Behavior: "echo", Node: "n2"}}}, "not one of the sandbox's nodes"},
		{"too many children", cluster.SandboxSpec{Name: "a", Spread: 1, Children: make([]cluster.SandboxChild, cluster.MaxSandboxChildren+1)}, "children"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err, "Validate(%+v) = nil; want an error about %s", tt.spec, tt.want)
			assert.ErrorIs(t, err, cluster.ErrInvalidSandbox)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestSpreadNodes(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	a := cluster.SpreadNodes("lab", nodes, 3)
	require.Len(t, a, 3)
	assert.True(t, slices.IsSorted(a))
	shuffled := []string{"n4", "n2", "n5", "n1", "n3"}
	assert.Equal(t, a, cluster.SpreadNodes("lab", shuffled, 3), "the candidates' order does not matter")
	assert.Nil(t, cluster.SpreadNodes("lab", nodes, 6))
	assert.Nil(t, cluster.SpreadNodes("lab", nodes, 0))
	// Different names spread over different nodes.
	seen := map[string]bool{}
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		for _, n := range cluster.SpreadNodes(name, nodes, 1) {
			seen[n] = true
		}
	}
	assert.Greater(t, len(seen), 1)
}

// sampleSandbox is a record as one node could hold it.
func sampleSandbox(t0 time.Time) cluster.SandboxInfo {
	return cluster.SandboxInfo{
		Name:      "s",
		Spec:      cluster.SandboxSpec{Name: "s", Nodes: []string{"a", "b"}, Children: []cluster.SandboxChild{{Behavior: "echo"}}, OnNodeLoss: cluster.OnNodeLossKeep},
		Nodes:     []string{"a", "b"},
		CreatedBy: "a",
		CreatedAt: t0,
		Version:   1,
		Processes: []cluster.SandboxProcess{{PID: cluster.PID{Node: "a", ID: 1}, Node: "a", Behavior: "echo", StartedAt: t0, Status: cluster.SandboxProcRunning}},
	}
}

func TestMergeSandbox(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	base := sampleSandbox(t0)
	p2 := cluster.SandboxProcess{PID: cluster.PID{Node: "b", ID: 1}, Node: "b", Behavior: "echo", StartedAt: t0.Add(time.Second), Status: cluster.SandboxProcRunning}

	withP2 := base
	withP2.Version = 2
	withP2.Processes = append(slices.Clone(base.Processes), p2)

	exited := base
	exited.Version = 2
	exited.Processes = slices.Clone(base.Processes)
	exited.Processes[0].Status, exited.Processes[0].Reason = cluster.SandboxProcExited, "killed"

	lost := base
	lost.Version = 3
	lost.Processes = slices.Clone(base.Processes)
	lost.Processes[0].Status = cluster.SandboxProcLost
	lost.Lost = []cluster.SandboxLoss{{Node: "a", PIDs: []cluster.PID{{Node: "a", ID: 1}}, Time: t0.Add(time.Minute), RecordedBy: "b"}}

	restarted := lost
	restarted.Version = 4
	restarted.Lost = []cluster.SandboxLoss{{Node: "a", PIDs: []cluster.PID{{Node: "a", ID: 1}}, Time: t0.Add(time.Minute), RecordedBy: "b",
		Restarted: []cluster.SandboxRestart{{Lost: cluster.PID{Node: "a", ID: 1}, PID: cluster.PID{Node: "b", ID: 9}, Node: "b"}}}}

	destroyed := base
	destroyed.Version = 2
	destroyed.DestroyedAt = t0.Add(time.Hour)

	recreated := sampleSandbox(t0.Add(2 * time.Hour))
	recreated.Version = 5

	tests := []struct {
		name        string
		local, in   cluster.SandboxInfo
		changed     bool
		state       string
		procs       int
		firstStatus string
		version     uint64
	}{
		{"same record", base, base, false, cluster.SandboxActive, 1, cluster.SandboxProcRunning, 1},
		{"a new process", base, withP2, true, cluster.SandboxActive, 2, cluster.SandboxProcRunning, 2},
		{"concurrent spawn and exit", withP2, exited, true, cluster.SandboxActive, 2, cluster.SandboxProcExited, 2},
		{"status never goes back", exited, base, false, cluster.SandboxActive, 1, cluster.SandboxProcExited, 2},
		{"a loss degrades", base, lost, true, cluster.SandboxDegraded, 1, cluster.SandboxProcLost, 3},
		{"exited beats lost", lost, exited, true, cluster.SandboxDegraded, 1, cluster.SandboxProcExited, 3},
		{"restarts are merged", lost, restarted, true, cluster.SandboxDegraded, 1, cluster.SandboxProcLost, 4},
		{"destruction wins", withP2, destroyed, true, cluster.SandboxDestroyed, 2, cluster.SandboxProcRunning, 2},
		{"a later change does not undo destruction", destroyed, withP2, true, cluster.SandboxDestroyed, 2, cluster.SandboxProcRunning, 2},
		{"a newer incarnation wins whole", destroyed, recreated, true, cluster.SandboxActive, 1, cluster.SandboxProcRunning, 5},
		{"an older incarnation loses", recreated, destroyed, false, cluster.SandboxActive, 1, cluster.SandboxProcRunning, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := cluster.MergeSandbox(tt.local, tt.in)
			assert.Equal(t, tt.changed, changed, "MergeSandbox changed")
			assert.Equal(t, tt.state, got.State)
			require.Len(t, got.Processes, tt.procs)
			assert.Equal(t, tt.firstStatus, got.Processes[0].Status)
			assert.Equal(t, tt.version, got.Version)
			again, changed := cluster.MergeSandbox(got, tt.in)
			assert.False(t, changed, "merging the same copy twice changes nothing")
			assert.Equal(t, got, again)
		})
	}
	got, _ := cluster.MergeSandbox(lost, restarted)
	require.Len(t, got.Lost, 1)
	require.Len(t, got.Lost[0].Restarted, 1)
	assert.Equal(t, cluster.PID{Node: "b", ID: 9}, got.Lost[0].Restarted[0].PID)
}

func TestMergeSandboxIsOrderIndependent(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	base := sampleSandbox(t0)
	var copies []cluster.SandboxInfo
	for i := range 5 {
		c := base
		c.Version = uint64(2 + i)
		c.Processes = append(slices.Clone(base.Processes), cluster.SandboxProcess{
			PID: cluster.PID{Node: "b", ID: uint64(10 + i)}, Node: "b", Behavior: "echo", StartedAt: t0.Add(time.Duration(i) * time.Second), Status: cluster.SandboxProcRunning,
		})
		if i%2 == 0 {
			c.Processes[0].Status, c.Processes[0].Reason = cluster.SandboxProcExited, "r"+string(rune('a'+i))
		}
		copies = append(copies, c)
	}
	fold := func(order []int) cluster.SandboxInfo {
		acc := base
		for _, i := range order {
			acc, _ = cluster.MergeSandbox(acc, copies[i])
		}
		return acc
	}
	want := fold([]int{0, 1, 2, 3, 4})
	for _, order := range [][]int{{4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}, {1, 1, 3, 0, 4, 2, 2}} {
		assert.Equal(t, want, fold(order), "merge order %v", order)
	}
	assert.Len(t, want.Processes, 6)
	assert.Equal(t, "ra", want.Processes[0].Reason, "equal statuses settle on one reason")
}

func TestSandboxCodec(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	r := sampleSandbox(t0)
	r.Lost = []cluster.SandboxLoss{{Node: "b", PIDs: []cluster.PID{{Node: "b", ID: 3}}, Time: t0, RecordedBy: "a"}}
	r.Processes = append(r.Processes, cluster.SandboxProcess{PID: cluster.PID{Node: "b", ID: 3}, Node: "b", Behavior: "echo", Args: []byte{0, 1, 2}, StartedAt: t0, Status: cluster.SandboxProcLost})

	b, err := cluster.EncodeSandboxDelta(r)
	require.NoError(t, err)
	got, err := cluster.DecodeSandboxDelta(b)
	require.NoError(t, err)
	assert.Equal(t, cluster.SandboxDegraded, got.State)
	assert.Equal(t, r.Processes[1].Args, got.Processes[1].Args)
	assert.Equal(t, t0.UnixNano(), got.CreatedAt.UnixNano())

	snap, err := cluster.EncodeSandboxSnapshot([]cluster.SandboxInfo{r, sampleSandbox(t0)})
	require.NoError(t, err)
	rs, err := cluster.DecodeSandboxSnapshot(snap)
	require.NoError(t, err)
	require.Len(t, rs, 2)

	bad := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version", append([]byte{9}, b[1:]...)},
		{"not json", []byte{1, '{'}},
		{"name mismatch", mustEncode(t, func(r *cluster.SandboxInfo) { r.Name = "t" })},
		{"no nodes", mustEncode(t, func(r *cluster.SandboxInfo) { r.Nodes = nil })},
		{"zero pid", mustEncode(t, func(r *cluster.SandboxInfo) { r.Processes[0].PID = cluster.PID{} })},
		{"pid on another node", mustEncode(t, func(r *cluster.SandboxInfo) { r.Processes[0].Node = "b" })},
		{"bad status", mustEncode(t, func(r *cluster.SandboxInfo) { r.Processes[0].Status = "zombie" })},
		{"bad creator", mustEncode(t, func(r *cluster.SandboxInfo) { r.CreatedBy = "" })},
		{"bad loss", mustEncode(t, func(r *cluster.SandboxInfo) { r.Lost = []cluster.SandboxLoss{{Node: "a"}} })},
		{"bad spec", mustEncode(t, func(r *cluster.SandboxInfo) { r.Spec.OnNodeLoss = "x" })},
		{"bad pid text", []byte(`` + "\x01" + `{"name":"s","spec":{"name":"s","spread":1},"nodes":["a"],"created_by":"a","processes":[{"pid":"a/x"}]}`)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cluster.DecodeSandboxDelta(tt.b)
			require.Error(t, err)
			assert.True(t, errors.Is(err, cluster.ErrBadFrame), "DecodeSandboxDelta(%s) = %v; want ErrBadFrame", tt.name, err)
		})
	}
	_, err = cluster.DecodeSandboxSnapshot([]byte{1, '{', '}'})
	assert.ErrorIs(t, err, cluster.ErrBadFrame)
}

func mustEncode(t *testing.T, edit func(*cluster.SandboxInfo)) []byte {
	t.Helper()
	r := sampleSandbox(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	edit(&r)
	b, err := cluster.EncodeSandboxDelta(r)
	require.NoError(t, err)
	return b
}

func FuzzSandboxDelta(f *testing.F) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := sampleSandbox(t0)
	b, _ := cluster.EncodeSandboxDelta(r)
	f.Add(b)
	r.DestroyedAt = t0
	r.Lost = []cluster.SandboxLoss{{Node: "b", PIDs: []cluster.PID{{Node: "b", ID: 3}}, Time: t0, RecordedBy: "a", Restarted: []cluster.SandboxRestart{{Lost: cluster.PID{Node: "b", ID: 3}, Error: "x"}}}}
	b, _ = cluster.EncodeSandboxDelta(r)
	f.Add(b)
	f.Add([]byte{1})
	f.Add([]byte{1, 'n', 'u', 'l', 'l'})
	f.Add([]byte("\x01[]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := cluster.DecodeSandboxDelta(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same record, and merging it with
		// itself changes nothing.
		enc, err := cluster.EncodeSandboxDelta(r)
		require.NoError(t, err)
		again, err := cluster.DecodeSandboxDelta(enc)
		require.NoError(t, err)
		require.Equal(t, r.Version, again.Version)
		require.Equal(t, len(r.Processes), len(again.Processes))
		_, changed := cluster.MergeSandbox(r, again)
		require.False(t, changed)
	})
}

func FuzzSandboxSnapshot(f *testing.F) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, _ := cluster.EncodeSandboxSnapshot([]cluster.SandboxInfo{sampleSandbox(t0)})
	f.Add(b)
	b, _ = cluster.EncodeSandboxSnapshot(nil)
	f.Add(b)
	f.Add([]byte("\x01[{}]"))
	f.Add([]byte("\x01[null]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := cluster.DecodeSandboxSnapshot(b)
		if err != nil {
			return
		}
		enc, err := cluster.EncodeSandboxSnapshot(rs)
		require.NoError(t, err)
		again, err := cluster.DecodeSandboxSnapshot(enc)
		require.NoError(t, err)
		require.Len(t, again, len(rs))
	})
}

// BenchmarkSandboxCreateDestroy measures creating a sandbox over three
// nodes with six children (through a fourth node) and destroying it with
// verification.
func BenchmarkSandboxCreateDestroy(b *testing.B) {
	s, err := simulator.New(simulator.Config{Nodes: 4, Seed: 34, Setup: workload.Register})
	require.NoError(b, err)
	ctx := context.Background()
	b.Cleanup(func() { _ = s.Close(ctx) })
	require.NoError(b, s.Start(ctx))
	require.NoError(b, s.WaitConverged(ctx))
	n4 := s.Node("node-4")
	spec := cluster.SandboxSpec{Name: "bench", Nodes: []string{"node-1", "node-2", "node-3"}, Children: echoChildren(6)}
	b.ResetTimer()
	for b.Loop() {
		if _, err := n4.CreateSandbox(ctx, spec); err != nil {
			b.Fatal(err)
		}
		rep, err := n4.DestroySandbox(ctx, "bench")
		if err != nil || !rep.Verified || rep.Stopped != 6 {
			b.Fatalf("destroy: %+v, %v", rep, err)
		}
	}
}

// BenchmarkSandboxNodeLoss measures, on the sim profile, the time from a
// sandbox node's crash until every live node sees the sandbox degraded
// (failure detection included) and, with the restart policy, until the
// lost processes run again.
func BenchmarkSandboxNodeLoss(b *testing.B) {
	ctx := context.Background()
	var degraded, restarted time.Duration
	for i := 0; b.Loop(); i++ {
		s, err := simulator.New(simulator.Config{Nodes: 4, Seed: int64(35 + i), Setup: workload.Register})
		require.NoError(b, err)
		require.NoError(b, s.Start(ctx))
		require.NoError(b, s.WaitConverged(ctx))
		n1 := s.Node("node-1")
		_, err = n1.CreateSandbox(ctx, cluster.SandboxSpec{Name: "loss", Nodes: []string{"node-1", "node-2", "node-3"}, Children: echoChildren(6), OnNodeLoss: cluster.OnNodeLossRestart})
		require.NoError(b, err)
		require.Eventually(b, func() bool {
			for _, n := range s.Running() {
				if info, ok := n.Sandbox("loss"); !ok || len(info.Processes) != 6 {
					return false
				}
			}
			return true
		}, 10*time.Second, time.Millisecond)
		start := time.Now()
		require.NoError(b, s.Crash("node-3"))
		var seenDegraded bool
		require.Eventually(b, func() bool {
			all, allRestarted := true, true
			for _, n := range s.Running() {
				info, _ := n.Sandbox("loss")
				all = all && info.State == cluster.SandboxDegraded
				allRestarted = allRestarted && len(info.Lost) == 1 && len(info.Lost[0].Restarted) == 2
			}
			if all && !seenDegraded {
				seenDegraded = true
				degraded += time.Since(start)
			}
			return allRestarted
		}, 20*time.Second, time.Millisecond)
		restarted += time.Since(start)
		_ = s.Close(ctx)
	}
	b.ReportMetric(float64(degraded.Milliseconds())/float64(b.N), "ms-to-degraded")
	b.ReportMetric(float64(restarted.Milliseconds())/float64(b.N), "ms-to-restarted")
}
