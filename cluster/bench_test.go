package cluster_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

// sink counts messages and signals when it has seen want of them.
type sink struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (s *sink) Init(*cluster.Process, []byte) error { return nil }
func (s *sink) Handle(*cluster.Process, cluster.Message) error {
	if s.n.Add(1) == s.want {
		close(s.done)
	}
	return nil
}
func (s *sink) Terminate(*cluster.Process, cluster.Reason) {}

type idle struct{}

func (idle) Init(*cluster.Process, []byte) error            { return nil }
func (idle) Handle(*cluster.Process, cluster.Message) error { return nil }
func (idle) Terminate(*cluster.Process, cluster.Reason)     {}

func benchNode(b *testing.B, f fabric) *cluster.Node {
	b.Helper()
	n, err := cluster.NewNode(cluster.Config{Name: "bench", Profile: cluster.ProfileLocal, Network: f.network(b), Bind: f.bind(0)})
	require.NoError(b, err)
	require.NoError(b, n.Start(context.Background()))
	b.Cleanup(func() { _ = n.Stop(context.Background()) })
	return n
}

// BenchmarkLocalSend measures the cost of one send to a local process,
// including delivery (the receiver drains concurrently).
func BenchmarkLocalSend(b *testing.B) {
	n := benchNode(b, realFabric())
	s := &sink{want: int64(b.N), done: make(chan struct{})}
	pid, err := n.SpawnBehavior(s, cluster.SpawnOptions{})
	require.NoError(b, err)
	msg := cluster.Message{Kind: "m"}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := n.Send(pid, msg); err != nil {
			b.Fatal(err)
		}
	}
	<-s.done
}

// BenchmarkLocalSendParallel sends from every P to one process.
func BenchmarkLocalSendParallel(b *testing.B) {
	n := benchNode(b, realFabric())
	s := &sink{want: -1, done: make(chan struct{})}
	pid, err := n.SpawnBehavior(s, cluster.SpawnOptions{})
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		msg := cluster.Message{Kind: "m"}
		for pb.Next() {
			_ = n.Send(pid, msg)
		}
	})
}

// BenchmarkLocalCall measures a request/reply round trip on one node.
func BenchmarkLocalCall(b *testing.B) {
	n := benchNode(b, realFabric())
	pid, err := n.SpawnBehavior(echo{}, cluster.SpawnOptions{})
	require.NoError(b, err)
	ctx := context.Background()
	msg := cluster.Message{Kind: "ping"}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := n.Call(ctx, pid, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpawn measures spawning (and exiting, to keep memory flat) an
// idle process.
func BenchmarkSpawn(b *testing.B) {
	n := benchNode(b, realFabric())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := n.SpawnBehavior(idle{}, cluster.SpawnOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleProcessMemory reports the heap bytes one idle process costs
// (bytes/proc), measured over 100 000 processes.
func BenchmarkIdleProcessMemory(b *testing.B) {
	n := benchNode(b, realFabric())
	const count = 100_000
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		for range count {
			if _, err := n.SpawnBehavior(idle{}, cluster.SpawnOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/count, "bytes/proc")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/count, "goroutines/proc")
		b.StopTimer()
		for _, p := range n.LocalProcesses() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = n.Kill(ctx, p.PID, cluster.ReasonShutdown)
			cancel()
		}
		b.StartTimer()
	}
}

// BenchmarkViewProcessesLocal measures a process query answered by the
// node itself (filter, order, page of 100), by how many processes it
// holds: the per-node part of a cluster-wide listing.
func BenchmarkViewProcessesLocal(b *testing.B) {
	for _, count := range []int{50, 20_000} {
		for _, q := range []cluster.ProcessQuery{
			{Limit: 100},
			{Behavior: "idle", Sort: "mailbox", Desc: true, Limit: 100},
			{Name: "w-1", Sort: "started_at", Limit: 100},
		} {
			b.Run(fmt.Sprintf("procs=%d/sort=%s/filter=%t", count, q.Sort, q.Behavior != "" || q.Name != ""), func(b *testing.B) {
				n := benchNode(b, realFabric())
				for i := range count {
					if _, err := n.SpawnBehavior(idle{}, cluster.SpawnOptions{Name: fmt.Sprintf("w-%d", i)}); err != nil {
						b.Fatal(err)
					}
				}
				v := cluster.NewView(n)
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				cpu := processCPU(b)
				for range b.N {
					page, err := v.Processes(ctx, q)
					if err != nil || page.Total == 0 {
						b.Fatal(page.Total, err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
