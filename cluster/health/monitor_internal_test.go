package health

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator"
)

// simCluster starts workers plus an observer on the simulator, each with
// a ModelSource, and returns the observer.
func simCluster(tb testing.TB, workers int, profile cluster.Profile) (*simulator.Simulator, *cluster.Node) {
	tb.Helper()
	sim, err := simulator.New(simulator.Config{
		Nodes:   workers,
		Profile: profile,
		Setup: func(n *cluster.Node) error {
			cluster.SetResourceSource(n, cluster.NewModelSource(int64(len(n.Name())), nil))
			return nil
		},
	})
	require.NoError(tb, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tb.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sim.Close(cctx)
	})
	require.NoError(tb, sim.Start(ctx))
	obs, err := sim.AddNode(ctx, "observer", cluster.RoleObserver, nil)
	require.NoError(tb, err)
	require.NoError(tb, sim.WaitConverged(ctx))
	return sim, obs
}

// TestCollectorPanicRecoversWithState panics both collectors once while
// an alert is up and baselines are warm, and checks that Supervise
// restarts them and that the alert (same ID, not raised again), the
// baselines and the timeline are still there.
func TestCollectorPanicRecoversWithState(t *testing.T) {
	sim, obs := simCluster(t, 3, cluster.ProfileLocal)
	m, err := New(Config{Node: obs, Interval: 100 * time.Millisecond, DistributionEvery: 100 * time.Millisecond})
	require.NoError(t, err)
	var armed atomic.Bool
	var panicked atomic.Int32
	m.SetCollectorHook(func(collector string) {
		if armed.Load() && panicked.Load() < 2 {
			if collector == "sampler" && panicked.CompareAndSwap(0, 1) {
				panic("collector bug: sampler")
			}
			if collector == CollectorDistribution && panicked.CompareAndSwap(1, 2) {
				panic("collector bug: distribution")
			}
		}
	})
	raises := atomic.Int32{}
	defer m.Subscribe(func(ev Event) {
		if ev.Type == EventAlertRaised && ev.Alert.Rule == "node_down" {
			raises.Add(1)
		}
	})()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("monitor did not stop")
		}
	}()

	require.NoError(t, sim.Crash("node-2"))
	var alert Alert
	require.Eventually(t, func() bool {
		for _, a := range m.Alerts() {
			if a.Rule == "node_down" && a.Node == "node-2" {
				alert = a
				return true
			}
		}
		return false
	}, 15*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return m.Baselines()["node-1"][MetricCPU].N >= 5 }, 10*time.Second, 20*time.Millisecond)
	before := m.Baselines()["node-1"][MetricCPU].N
	timeline := len(m.Timeline())
	require.NotZero(t, timeline)

	armed.Store(true)
	require.Eventually(t, func() bool {
		restarted := 0
		for _, s := range m.Snapshot().Services {
			if s.Restarts >= 1 {
				restarted++
			}
		}
		return restarted == 2
	}, 15*time.Second, 20*time.Millisecond, "both collectors restarted")
	for _, s := range m.Snapshot().Services {
		assert.Contains(t, s.LastError, "collector bug", s.Name)
	}
	ticks := m.Snapshot().Ticks
	require.Eventually(t, func() bool { return m.Snapshot().Ticks > ticks+3 }, 10*time.Second, 20*time.Millisecond, "collections resumed")

	alerts := m.Alerts()
	require.Len(t, alerts, 1)
	assert.Equal(t, alert.ID, alerts[0].ID, "the alert survived the restart")
	assert.Equal(t, int32(1), raises.Load(), "and was not raised again")
	assert.Greater(t, m.Baselines()["node-1"][MetricCPU].N, before, "the baseline kept growing from where it was")
	assert.GreaterOrEqual(t, len(m.Timeline()), timeline, "the timeline was kept")
}

// BenchmarkMonitorTick50 measures one collection over 50 virtual nodes
// (plus the observer): the whole process's CPU per tick minus the idle
// cluster's own background CPU (cpu-ns/tick), the observer-side CPU the
// monitor measures itself (observer-cpu-ns/tick), and what that costs at
// a 1 s interval in percent of one core.
func BenchmarkMonitorTick50(b *testing.B) {
	_, obs := simCluster(b, 50, cluster.ProfileSim)
	m, err := New(Config{Node: obs, PerNodeTimeout: 5 * time.Second, DirectChecks: benchDirectChecks})
	require.NoError(b, err)
	ctx := context.Background()
	for range 3 {
		_ = m.Tick(ctx)
	}
	// Background: what the idle 51-node cluster burns without the monitor.
	idleStart, idleWall := processCPU(), time.Now()
	time.Sleep(2 * time.Second)
	idleRate := float64(processCPU()-idleStart) / float64(time.Since(idleWall))

	var observer time.Duration
	b.ResetTimer()
	start, wall := processCPU(), time.Now()
	for range b.N {
		if err := m.Tick(ctx); err != nil {
			b.Fatal(err)
		}
		observer += m.Snapshot().TickCPU
	}
	elapsed := time.Since(wall)
	total := float64(processCPU() - start)
	b.StopTimer()
	perTick := (total - idleRate*float64(elapsed)) / float64(b.N)
	perTick = max(perTick, 0)
	b.ReportMetric(perTick, "cpu-ns/tick")
	b.ReportMetric(float64(observer)/float64(b.N), "observer-cpu-ns/tick")
	b.ReportMetric(perTick/float64(time.Second)*100, "%core@1s")
	if n := len(m.Snapshot().Nodes); n != 51 {
		b.Fatal(fmt.Sprintf("monitored %d nodes, want 51", n))
	}
}

// benchDirectChecks is the Config.DirectChecks of BenchmarkMonitorTick50:
// 0 (the default budget); -1 measures the monitor without direct checks.
var benchDirectChecks = 0
