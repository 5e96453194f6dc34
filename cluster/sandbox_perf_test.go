package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

// perfSandboxes builds sandboxes × perSandbox running processes spread
// over nodes, like the UI's perf test (frontend/e2e/perf.mjs).
func perfSandboxes(sandboxes, perSandbox int, nodes []string) []cluster.SandboxInfo {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out := make([]cluster.SandboxInfo, 0, sandboxes)
	id := uint64(0)
	for i := range sandboxes {
		name := fmt.Sprintf("perf-%03d", i)
		r := cluster.SandboxInfo{
			Name:      name,
			Spec:      cluster.SandboxSpec{Name: name, Nodes: nodes, OnNodeLoss: cluster.OnNodeLossKeep},
			Nodes:     nodes,
			CreatedBy: nodes[0],
			CreatedAt: t0,
			Version:   uint64(i + 1),
			Processes: make([]cluster.SandboxProcess, 0, perSandbox),
		}
		for j := range perSandbox {
			id++
			node := nodes[j%len(nodes)]
			r.Processes = append(r.Processes, cluster.SandboxProcess{
				PID: cluster.PID{Node: node, ID: id}, Node: node, Behavior: "echo",
				StartedAt: t0.Add(time.Duration(j) * time.Microsecond), Status: cluster.SandboxProcRunning,
			})
		}
		out = append(out, r)
	}
	return out
}

// BenchmarkSandboxIdleCPU measures the CPU an idle simulated cluster of
// five nodes spends while it holds 100 sandboxes × 1000 processes (the
// state only: the processes are not started). It reports the process's CPU
// time per wall second ("cores") over a 10 s window after convergence.
//
//	go test -run '^$' -bench SandboxIdleCPU -benchtime 1x ./cluster/
func BenchmarkSandboxIdleCPU(b *testing.B) {
	ctx := context.Background()
	sim, err := simulator.New(simulator.Config{Nodes: 5, Seed: 7, Setup: workload.Register})
	require.NoError(b, err)
	require.NoError(b, sim.Start(ctx))
	b.Cleanup(func() { _ = sim.Close(context.Background()) })
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(b, sim.WaitConverged(wctx))
	var names []string
	for _, n := range sim.Running() {
		names = append(names, n.Name())
	}
	state := perfSandboxes(100, 1000, names)
	for _, n := range sim.Running() {
		cluster.SetSandboxesForTest(n, state)
	}
	window := 10 * time.Second
	for b.Loop() {
		cpu0, ok := threadsCPU()
		if !ok {
			b.Skip("no CPU time on this platform")
		}
		start := time.Now()
		<-time.After(window)
		cpu1, _ := threadsCPU()
		b.ReportMetric(float64(cpu1-cpu0)/float64(time.Since(start)), "cores")
	}
	for _, n := range sim.Running() {
		require.Len(b, n.Sandboxes(), 100, "node %s", n.Name())
	}
}
