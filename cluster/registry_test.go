package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator"
)

func startRegistrySim(t *testing.T, nodes int) *simulator.Simulator {
	t.Helper()
	s, err := simulator.New(simulator.Config{Nodes: nodes, Seed: 21, Setup: registerTestBehaviors2})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	require.NoError(t, s.WaitConverged(ctx))
	return s
}

func registerTestBehaviors2(n *cluster.Node) error {
	return n.RegisterBehavior("echo", func() cluster.Behavior { return echo{} })
}

// everyoneSees waits until every running node resolves name to want (or
// to nothing when want is zero).
func everyoneSees(t *testing.T, s *simulator.Simulator, name string, want cluster.PID) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range s.Running() {
			got, ok := n.Whereis(name)
			if want.IsZero() && ok || !want.IsZero() && got != want {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "every node should resolve %q to %v", name, want)
}

func TestRegistryReplicatesAndCleansUp(t *testing.T) {
	s := startRegistrySim(t, 3)
	a, b := s.Node("node-1"), s.Node("node-2")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pid, err := b.Spawn(ctx, "node-2", "echo", cluster.SpawnOptions{})
	require.NoError(t, err)
	require.NoError(t, a.Register(ctx, "svc", pid), "registering a remote process goes through its node")
	everyoneSees(t, s, "svc", pid)

	info, err := a.ProcessInfo(ctx, pid)
	require.NoError(t, err)
	assert.Equal(t, []string{"svc"}, info.Registered)
	page, err := cluster.NewView(a).Processes(ctx, cluster.ProcessQuery{Name: "svc"})
	require.NoError(t, err)
	require.Len(t, page.Processes, 1)

	other, err := a.SpawnBehavior(echo{}, cluster.SpawnOptions{})
	require.NoError(t, err)
	err = a.Register(ctx, "svc", other)
	assert.Equal(t, cluster.CodeConflict, cluster.ErrorCode(err), "a taken name is a conflict: %v", err)
	assert.Equal(t, cluster.CodeBadRequest, cluster.ErrorCode(a.Register(ctx, "", other)))
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(a.Register(ctx, "x", cluster.PID{Node: "node-1", ID: 99999})))

	// Unregister from any node, register again, then let the process exit.
	require.NoError(t, s.Node("node-3").Unregister(ctx, "svc"))
	everyoneSees(t, s, "svc", cluster.PID{})
	require.NoError(t, a.Register(ctx, "svc", other))
	everyoneSees(t, s, "svc", other)
	require.NoError(t, a.Kill(ctx, other, cluster.ReasonKilled))
	everyoneSees(t, s, "svc", cluster.PID{})

	// A node's names go when the node is declared dead.
	onC, err := a.Spawn(ctx, "node-3", "echo", cluster.SpawnOptions{})
	require.NoError(t, err)
	require.NoError(t, a.Register(ctx, "on-c", onC))
	everyoneSees(t, s, "on-c", onC)
	require.NoError(t, s.Crash("node-3"))
	everyoneSees(t, s, "on-c", cluster.PID{})
	assert.Len(t, a.RegistryEntries(), 0)
}

func TestRegistryNetsplitResolvesToOneWinner(t *testing.T) {
	s := startRegistrySim(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Network().Partition([]string{"node-1", "node-2"}, []string{"node-3", "node-4", "node-5"})
	require.Eventually(t, func() bool {
		return len(s.Node("node-1").AliveMembers()) == 2 && len(s.Node("node-3").AliveMembers()) == 3
	}, 10*time.Second, 10*time.Millisecond)

	left, err := s.Node("node-1").SpawnBehavior(echo{}, cluster.SpawnOptions{})
	require.NoError(t, err)
	right, err := s.Node("node-4").SpawnBehavior(echo{}, cluster.SpawnOptions{})
	require.NoError(t, err)
	require.NoError(t, s.Node("node-1").Register(ctx, "leader", left))
	require.NoError(t, s.Node("node-4").Register(ctx, "leader", right), "each side can take the name during the split")

	healed := time.Now()
	s.Network().Heal()
	require.NoError(t, s.WaitConverged(ctx))
	// The earlier registration (left) wins everywhere; right exits.
	everyoneSees(t, s, "leader", left)
	t.Logf("one winner everywhere %v after the heal", time.Since(healed))
	require.Eventually(t, func() bool { return s.Node("node-4").Process(right) == nil }, 5*time.Second, 10*time.Millisecond)

	conflicts, missing := cluster.NewView(s.Node("node-2")).RegistryConflicts(ctx)
	assert.Empty(t, missing)
	require.Len(t, conflicts, 1)
	c := conflicts[0]
	assert.Equal(t, "leader", c.Name)
	assert.Equal(t, left, c.Winner)
	assert.Equal(t, right, c.Loser)
	assert.Equal(t, cluster.RuleEarliest, c.Rule)
	assert.NotEmpty(t, c.ObservedBy)
}

func BenchmarkWhereis(b *testing.B) {
	n := benchNode(b, realFabric())
	pid, err := n.SpawnBehavior(echo{}, cluster.SpawnOptions{})
	require.NoError(b, err)
	require.NoError(b, n.Register(context.Background(), "svc", pid))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, ok := n.Whereis("svc"); !ok {
			b.Fatal("not found")
		}
	}
}
