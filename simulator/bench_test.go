package simulator_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator"
)

// BenchmarkConverge50 starts 50 virtual nodes and reports how long after the
// last node started every node saw 50 alive (target: under 5 s).
func BenchmarkConverge50(b *testing.B) {
	for range b.N {
		s, err := simulator.New(simulator.Config{Nodes: 50, Seed: 50})
		require.NoError(b, err)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		require.NoError(b, s.Start(ctx))
		lastStart := time.Now()
		require.NoError(b, s.WaitConverged(ctx))
		b.ReportMetric(time.Since(lastStart).Seconds(), "s-converge-after-last-start")
		cancel()
		b.StopTimer()
		closeCtx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.Close(closeCtx)
		cancel2()
		b.StartTimer()
	}
}

// BenchmarkCrashDetection crashes one of 5 nodes running the local profile
// and reports when the first survivor suspected it (target: under 2 s) and
// when every survivor had declared it dead (target: under 5 s).
func BenchmarkCrashDetection(b *testing.B) {
	for range b.N {
		b.StopTimer()
		s, err := simulator.New(simulator.Config{Nodes: 5, Seed: 5, Profile: cluster.ProfileLocal})
		require.NoError(b, err)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		require.NoError(b, s.Start(ctx))
		require.NoError(b, s.WaitConverged(ctx))
		b.StartTimer()
		crashed := time.Now()
		require.NoError(b, s.Crash("node-5"))
		var suspected, dead time.Duration
		for dead == 0 {
			select {
			case <-ctx.Done():
				b.Fatal("crash not detected")
			case <-time.After(5 * time.Millisecond):
			}
			all := true
			for _, n := range s.Running() {
				st := n.MemberState("node-5")
				if suspected == 0 && st != cluster.StateAlive {
					suspected = time.Since(crashed)
				}
				if st != cluster.StateDead {
					all = false
				}
			}
			if all {
				dead = time.Since(crashed)
			}
		}
		b.ReportMetric(suspected.Seconds(), "s-suspected")
		b.ReportMetric(dead.Seconds(), "s-dead-everywhere")
		b.StopTimer()
		cancel()
		closeCtx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.Close(closeCtx)
		cancel2()
		b.StartTimer()
	}
}

type counter struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (c *counter) Init(*cluster.Process, []byte) error { return nil }
func (c *counter) Handle(*cluster.Process, cluster.Message) error {
	if c.n.Add(1) == c.want {
		close(c.done)
	}
	return nil
}
func (c *counter) Terminate(*cluster.Process, cluster.Reason) {}

// BenchmarkRemoteSend sends from one virtual node to a process on another,
// over the in-memory network and the RPC stream, delivery included.
func BenchmarkRemoteSend(b *testing.B) {
	s := startSim(b, simulator.Config{Nodes: 2, Seed: 2})
	a, c := s.Node("node-1"), s.Node("node-2")
	sink := &counter{want: int64(b.N), done: make(chan struct{})}
	pid, err := c.SpawnBehavior(sink, cluster.SpawnOptions{})
	require.NoError(b, err)
	msg := cluster.Message{Kind: "m", Body: []byte("0123456789abcdef")}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := a.Send(pid, msg); err != nil {
			b.Fatal(err)
		}
	}
	<-sink.done
}

// BenchmarkRemoteCall is a request/reply round trip between two virtual
// nodes.
func BenchmarkRemoteCall(b *testing.B) {
	s := startSim(b, simulator.Config{Nodes: 2, Seed: 2})
	a, c := s.Node("node-1"), s.Node("node-2")
	require.NoError(b, c.RegisterBehavior("echo", func() cluster.Behavior { return echoBehavior{} }))
	pid, err := c.Spawn(context.Background(), "", "echo", cluster.SpawnOptions{})
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := a.Call(ctx, pid, cluster.Message{Kind: "ping"}); err != nil {
			b.Fatal(err)
		}
	}
}

type echoBehavior struct{}

func (echoBehavior) Init(*cluster.Process, []byte) error { return nil }
func (echoBehavior) Handle(p *cluster.Process, m cluster.Message) error {
	return p.Reply(m, cluster.Message{Kind: "echo", Body: m.Body})
}
func (echoBehavior) Terminate(*cluster.Process, cluster.Reason) {}
