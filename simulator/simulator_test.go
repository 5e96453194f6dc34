package simulator_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator"
)

func startSim(t testing.TB, cfg simulator.Config) *simulator.Simulator {
	t.Helper()
	s, err := simulator.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	require.NoError(t, s.WaitConverged(ctx), "seed %d", s.Seed())
	return s
}

// aliveSet returns the names n sees alive or suspect.
func aliveSet(n *cluster.Node) []string { return n.AliveMembers() }

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg     simulator.Config
		wantErr string
	}{
		{simulator.Config{Nodes: 3}, ""},
		{simulator.Config{Nodes: -1}, "Nodes"},
		{simulator.Config{Nodes: simulator.MaxNodes + 1}, "Nodes"},
		{simulator.Config{Profile: "wan"}, "Profile"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.wantErr == "" {
			assert.NoError(t, err)
			continue
		}
		assert.ErrorContains(t, err, tt.wantErr, "Validate(%+v)", tt.cfg)
	}
}

func TestPartitionThenHealConverges(t *testing.T) {
	s := startSim(t, simulator.Config{Nodes: 5, Seed: 7})
	left := []string{"node-1", "node-2"}
	right := []string{"node-3", "node-4", "node-5"}
	s.Network().Partition(left, right)
	require.Eventually(t, func() bool {
		for _, name := range left {
			if !assert.ObjectsAreEqual(left, aliveSet(s.Node(name))) {
				return false
			}
		}
		for _, name := range right {
			if !assert.ObjectsAreEqual(right, aliveSet(s.Node(name))) {
				return false
			}
		}
		return true
	}, 15*time.Second, 20*time.Millisecond, "each side should see only itself (seed %d)", s.Seed())

	healed := time.Now()
	s.Network().Heal()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, s.WaitConverged(ctx), "seed %d", s.Seed())
	t.Logf("healed partition merged in %v", time.Since(healed))
}

func TestRPCToCutOffNodeIsUnreachableWithinDeadline(t *testing.T) {
	s := startSim(t, simulator.Config{Nodes: 3, Seed: 3})
	a, c := s.Node("node-1"), s.Node("node-3")
	pid, err := c.SpawnBehavior(silent{}, cluster.SpawnOptions{})
	require.NoError(t, err)

	s.Network().Cut("node-1", "node-3")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = a.ProcessInfo(ctx, pid)
	elapsed := time.Since(start)
	var re *cluster.RPCError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, cluster.CodeNodeUnreachable, re.Code)
	assert.Equal(t, "node-3", re.Node)
	assert.NotEmpty(t, re.State)
	assert.LessOrEqual(t, elapsed, 600*time.Millisecond, "the error comes within the deadline")
}

func TestCrashAndRestartRejoins(t *testing.T) {
	s := startSim(t, simulator.Config{Nodes: 4, Seed: 11, Profile: cluster.ProfileLocal})
	incarnation := func() uint64 {
		for _, m := range s.Node("node-1").Members() {
			if m.Name == "node-2" {
				return m.Incarnation
			}
		}
		return 0
	}
	before := incarnation()
	require.NotZero(t, before, "members carry the incarnation gossiped in the node meta")
	require.NoError(t, s.Crash("node-2"))
	require.Error(t, s.Crash("node-2"), "crashing twice is an error")
	require.Eventually(t, func() bool {
		for _, n := range s.Running() {
			if n.MemberState("node-2") != cluster.StateDead {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, simulator.NodeCrashed, s.Nodes()[1].State)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, s.Restart(ctx, "node-2"))
	require.NoError(t, s.WaitConverged(ctx))
	assert.Len(t, s.Running(), 4)
	require.Eventually(t, func() bool { return incarnation() > before }, 10*time.Second, 10*time.Millisecond,
		"the restarted node rejoins with a larger incarnation")

	require.NoError(t, s.Stop(ctx, "node-4"))
	require.Eventually(t, func() bool { return s.Node("node-1").MemberState("node-4") == cluster.StateLeft }, 10*time.Second, 10*time.Millisecond)
	assert.ErrorIs(t, s.Crash("nope"), simulator.ErrUnknownNode)
}

// TestManyNodesConverge starts 20 virtual nodes (the 50-node figure is
// BenchmarkConverge50's: under the race detector on two cores, 50 nodes
// measure the machine more than the code).
func TestManyNodesConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("20 nodes: skipped in -short")
	}
	start := time.Now()
	s := startSim(t, simulator.Config{Nodes: 20, Seed: 50})
	t.Logf("20 nodes started and converged in %v", time.Since(start))
	assert.Len(t, s.Running(), 20)
}

type silent struct{}

func (silent) Init(*cluster.Process, []byte) error            { return nil }
func (silent) Handle(*cluster.Process, cluster.Message) error { return nil }
func (silent) Terminate(*cluster.Process, cluster.Reason)     {}
