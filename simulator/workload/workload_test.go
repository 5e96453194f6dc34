package workload_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

const waitFor = 5 * time.Second

// startNode starts a node on real UDP/TCP with the workloads registered; it
// is stopped by t.Cleanup. clock may be nil for the system clock.
func startNode(t *testing.T, name string, clock cluster.Clock) *cluster.Node {
	t.Helper()
	n, err := cluster.NewNode(cluster.Config{
		Name:    name,
		Profile: cluster.ProfileLocal,
		Network: cluster.NetNetwork{},
		Bind:    "127.0.0.1:0",
		Clock:   clock,
	})
	require.NoError(t, err)
	require.NoError(t, workload.Register(n))
	require.NoError(t, n.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	})
	return n
}

// startPair starts two joined nodes and waits until each sees both alive.
func startPair(t *testing.T) (a, b *cluster.Node) {
	t.Helper()
	a = startNode(t, "w1", nil)
	b = startNode(t, "w2", nil)
	_, err := b.Join(context.Background(), []string{a.Addr()})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return len(a.AliveMembers()) == 2 && len(b.AliveMembers()) == 2
	}, 10*time.Second, 10*time.Millisecond, "both nodes should see 2 alive members")
	return a, b
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

func spawn(t *testing.T, from *cluster.Node, on *cluster.Node, name, args string) cluster.PID {
	t.Helper()
	pid, err := from.Spawn(ctxFor(t), on.Name(), name, cluster.SpawnOptions{Args: []byte(args)})
	require.NoError(t, err, "spawn %s on %s with %s", name, on.Name(), args)
	return pid
}

func call(t *testing.T, n *cluster.Node, to cluster.PID, kind, body string) cluster.Message {
	t.Helper()
	reply, err := n.Call(ctxFor(t), to, cluster.Message{Kind: kind, Body: []byte(body)})
	require.NoError(t, err, "call %s %q", to, kind)
	return reply
}

// callValue calls and decodes a KindValue decimal answer.
func callValue(t *testing.T, n *cluster.Node, to cluster.PID, kind, body string) int64 {
	t.Helper()
	reply := call(t, n, to, kind, body)
	require.Equal(t, workload.KindValue, reply.Kind, "reply body %q", reply.Body)
	v, err := strconv.ParseInt(string(reply.Body), 10, 64)
	require.NoError(t, err)
	return v
}

func pingerStats(t *testing.T, n *cluster.Node, pid cluster.PID) workload.PingerStats {
	t.Helper()
	reply := call(t, n, pid, workload.KindStats, "")
	require.Equal(t, workload.KindValue, reply.Kind)
	var s workload.PingerStats
	require.NoError(t, json.Unmarshal(reply.Body, &s))
	return s
}

// probe is a test process that forwards what it receives to a channel.
type probe struct{ ch chan cluster.Message }

func (probe) Init(*cluster.Process, []byte) error { return nil }
func (b probe) Handle(_ *cluster.Process, m cluster.Message) error {
	b.ch <- m
	return nil
}
func (probe) Terminate(*cluster.Process, cluster.Reason) {}

func spawnProbe(t *testing.T, n *cluster.Node) (*cluster.Process, <-chan cluster.Message) {
	t.Helper()
	ch := make(chan cluster.Message, 64)
	pid, err := n.SpawnBehavior(probe{ch: ch}, cluster.SpawnOptions{})
	require.NoError(t, err)
	p := n.Process(pid)
	require.NotNil(t, p)
	return p, ch
}

func next(t *testing.T, ch <-chan cluster.Message) cluster.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitFor):
		t.Fatalf("no message within %v", waitFor)
		return cluster.Message{}
	}
}

// requireGone waits until pid no longer exists.
func requireGone(t *testing.T, n *cluster.Node, pid cluster.PID) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := n.ProcessInfo(ctxFor(t), pid)
		return cluster.ErrorCode(err) == cluster.CodeNotFound
	}, waitFor, 5*time.Millisecond, "%s should have exited", pid)
}

// fakeClock runs timers only when the test fires them.
type fakeClock struct {
	mu     sync.Mutex
	nextID int
	timers map[int]func()
}

func newFakeClock() *fakeClock { return &fakeClock{timers: make(map[int]func())} }

func (c *fakeClock) Now() time.Time { return time.Now() }

func (c *fakeClock) AfterFunc(_ time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	c.timers[id] = f
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[id]
		delete(c.timers, id)
		return ok
	}
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// fire runs every pending timer now.
func (c *fakeClock) fire() {
	c.mu.Lock()
	fs := c.timers
	c.timers = make(map[int]func())
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

func TestRegister(t *testing.T) {
	want := []string{workload.Counter, workload.CPUBurner, workload.Crasher, workload.Echo, workload.Pinger, workload.Ticker}
	assert.Equal(t, want, workload.Names())

	fs := workload.Factories()
	require.Len(t, fs, len(want))
	for _, name := range want {
		f := fs[name]
		require.NotNil(t, f, "Factories()[%q]", name)
		require.NotNil(t, f())
	}
	assert.NotSame(t, fs[workload.Counter](), fs[workload.Counter](), "each factory call should return a fresh behaviour")
	delete(fs, workload.Echo)
	assert.Contains(t, workload.Factories(), workload.Echo, "Factories should return a copy")

	n := startNode(t, "reg", nil)
	assert.Subset(t, n.Behaviors(), want)
}

func TestEcho(t *testing.T) {
	a, b := startPair(t)
	for _, tc := range []struct {
		name string
		on   *cluster.Node
	}{{"local", a}, {"remote", b}} {
		t.Run(tc.name, func(t *testing.T) {
			echo := spawn(t, a, tc.on, workload.Echo, "")

			reply := call(t, a, echo, "anything", "hello")
			assert.Equal(t, workload.KindEcho, reply.Kind)
			assert.Equal(t, "hello", string(reply.Body))
			assert.Equal(t, echo, reply.From)

			p, inbox := spawnProbe(t, a)
			require.NoError(t, p.Send(echo, cluster.Message{Kind: workload.KindEcho, Body: []byte("ignored")}))
			require.NoError(t, p.Send(echo, cluster.Message{Kind: "ping", Body: []byte("bounced")}))
			m := next(t, inbox)
			assert.Equal(t, workload.KindEcho, m.Kind)
			assert.Equal(t, "bounced", string(m.Body), "an echo-kind send should be ignored, so the first bounce is the ping's")
			assert.Equal(t, echo, m.From)
		})
	}
}

func TestCounter(t *testing.T) {
	a, b := startPair(t)
	for _, tc := range []struct {
		name string
		on   *cluster.Node
	}{{"local", a}, {"remote", b}} {
		t.Run(tc.name, func(t *testing.T) {
			c := spawn(t, a, tc.on, workload.Counter, "")
			assert.EqualValues(t, 0, callValue(t, a, c, workload.KindGet, ""))
			assert.EqualValues(t, 1, callValue(t, a, c, workload.KindInc, ""))
			assert.EqualValues(t, 42, callValue(t, a, c, workload.KindInc, " 41 "))
			require.NoError(t, a.Send(c, cluster.Message{Kind: workload.KindInc, Body: []byte("8")}))
			require.Eventually(t, func() bool { return callValue(t, a, c, workload.KindGet, "") == 50 },
				waitFor, 5*time.Millisecond, "a plain inc send should add 8")
			assert.EqualValues(t, 0, callValue(t, a, c, workload.KindReset, ""))
			assert.EqualValues(t, -3, callValue(t, a, c, workload.KindInc, "-3"))

			reply := call(t, a, c, workload.KindInc, "lots")
			assert.Equal(t, workload.KindError, reply.Kind)
			assert.Contains(t, string(reply.Body), "not a decimal integer")
			reply = call(t, a, c, "bogus", "")
			assert.Equal(t, workload.KindError, reply.Kind)
			assert.Contains(t, string(reply.Body), `unknown request "bogus"`)
			assert.EqualValues(t, -3, callValue(t, a, c, workload.KindGet, ""), "rejected requests should not change the value")

			started := spawn(t, a, tc.on, workload.Counter, `{"start": 7}`)
			assert.EqualValues(t, 7, callValue(t, a, started, workload.KindGet, ""))
		})
	}
}

func TestTicker(t *testing.T) {
	n := startNode(t, "tick", nil)
	tk := spawn(t, n, n, workload.Ticker, `{"interval":"20ms"}`)
	require.Eventually(t, func() bool { return callValue(t, n, tk, workload.KindGet, "") >= 3 },
		waitFor, 10*time.Millisecond, "ticker should count 3 ticks")
	reply := call(t, n, tk, "bogus", "")
	assert.Equal(t, workload.KindError, reply.Kind)
}

// TestPeriodicStopsOnTerminate checks, on a clock the test drives, that each
// periodic workload reschedules exactly one tick and cancels it at exit.
func TestPeriodicStopsOnTerminate(t *testing.T) {
	clock := newFakeClock()
	n := startNode(t, "fake", clock)
	for _, tc := range []struct{ name, args string }{
		{workload.Ticker, `{"interval":"1s"}`},
		{workload.Pinger, `{"interval":"1s"}`},
		{workload.CPUBurner, `{"interval":"1s","burn":"1ms"}`},
		{workload.Crasher, `{"every":"1h"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid := spawn(t, n, n, tc.name, tc.args)
			require.Equal(t, 1, clock.pending(), "Init should schedule one tick")
			if tc.name != workload.Crasher {
				clock.fire()
				require.Eventually(t, func() bool { return clock.pending() == 1 }, waitFor, time.Millisecond,
					"the tick should schedule the next one")
				// A duplicate of the consumed tick must not reschedule.
				require.NoError(t, n.Send(pid, cluster.Message{Kind: workload.KindTick, Body: []byte("1")}))
			}
			require.NoError(t, n.Kill(ctxFor(t), pid, cluster.ReasonShutdown))
			assert.Equal(t, 0, clock.pending(), "Terminate should cancel the pending tick")
		})
	}

	t.Run("ticker counts driven ticks", func(t *testing.T) {
		tk := spawn(t, n, n, workload.Ticker, "")
		for i := int64(1); i <= 3; i++ {
			clock.fire()
			require.Eventually(t, func() bool { return callValue(t, n, tk, workload.KindGet, "") == i },
				waitFor, time.Millisecond)
		}
		// Stray ticks (a replay of a consumed one, or the next one from
		// outside) are not counted. Local sends and calls arrive in order.
		require.NoError(t, n.Send(tk, cluster.Message{Kind: workload.KindTick, Body: []byte("3")}))
		require.NoError(t, n.Send(tk, cluster.Message{Kind: workload.KindTick, Body: []byte("4")}))
		assert.EqualValues(t, 3, callValue(t, n, tk, workload.KindGet, ""))
		assert.Equal(t, 1, clock.pending())
		require.NoError(t, n.Kill(ctxFor(t), tk, ""))
	})

	t.Run("crasher exits when its time is up", func(t *testing.T) {
		cr := spawn(t, n, n, workload.Crasher, `{"every":"5s","reason":"late"}`)
		p, inbox := spawnProbe(t, n)
		_, err := p.Monitor(ctxFor(t), cr)
		require.NoError(t, err)
		clock.fire()
		m := next(t, inbox)
		assert.Equal(t, cluster.KindDown, m.Kind)
		assert.Equal(t, "late", string(m.Body))
	})

	t.Run("kill interrupts a burn", func(t *testing.T) {
		bn := spawn(t, n, n, workload.CPUBurner, `{"interval":"1m","burn":"1m"}`)
		clock.fire()
		// The burner has taken the tick off its mailbox and is burning.
		require.Eventually(t, func() bool {
			info, err := n.ProcessInfo(ctxFor(t), bn)
			return err == nil && info.Mailbox == 0 && info.MessagesIn == 1 && info.Status == cluster.StatusRunnable
		}, waitFor, time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		require.NoError(t, n.Kill(ctx, bn, ""), "a one-minute burn should stop when killed")
		requireGone(t, n, bn)
	})
}

func TestPinger(t *testing.T) {
	a, b := startPair(t)
	echo := spawn(t, a, b, workload.Echo, "")
	pg := spawn(t, a, a, workload.Pinger, `{"target":"`+echo.String()+`","interval":"20ms","timeout":"200ms"}`)

	require.Eventually(t, func() bool { return pingerStats(t, a, pg).OK > 0 },
		waitFor, 10*time.Millisecond, "pinger should get answers from the remote echo")
	s := pingerStats(t, a, pg)
	assert.Equal(t, echo, s.Target)
	assert.Zero(t, s.Failed, "last error: %s", s.LastError)

	require.NoError(t, a.Kill(ctxFor(t), echo, ""))
	require.Eventually(t, func() bool { return pingerStats(t, a, pg).Failed > 0 },
		waitFor, 10*time.Millisecond, "pings to a killed echo should fail")
	assert.NotEmpty(t, pingerStats(t, a, pg).LastError)

	// Retarget to a local echo: pings succeed again.
	echo2 := spawn(t, a, a, workload.Echo, "")
	reply := call(t, a, pg, workload.KindTarget, echo2.String())
	require.Equal(t, workload.KindValue, reply.Kind, "body %q", reply.Body)
	assert.Equal(t, echo2.String(), string(reply.Body))
	okBefore := pingerStats(t, a, pg).OK
	require.Eventually(t, func() bool { return pingerStats(t, a, pg).OK > okBefore },
		waitFor, 10*time.Millisecond, "pinger should ping its new target")

	for _, bad := range []string{"nope", "w1/0", pg.String()} {
		reply := call(t, a, pg, workload.KindTarget, bad)
		assert.Equal(t, workload.KindError, reply.Kind, "target %q", bad)
	}
	reply = call(t, a, pg, workload.KindTarget, "")
	assert.Equal(t, workload.KindValue, reply.Kind)
	assert.True(t, pingerStats(t, a, pg).Target.IsZero())
}

func TestCrasher(t *testing.T) {
	a, b := startPair(t)
	for _, tc := range []struct {
		name       string
		on         func() *cluster.Node
		args       string
		sends      []string
		wantReason string
	}{
		{"after N messages", func() *cluster.Node { return a }, `{"after":3,"reason":"bang"}`, []string{"x", "y", "z"}, "bang"},
		{"after N messages, remote", func() *cluster.Node { return b }, `{"after":2}`, []string{"x", "y"}, "boom"},
		{"crash kind", func() *cluster.Node { return a }, "", []string{workload.KindCrash}, "panic: boom"},
		{"crash kind, remote", func() *cluster.Node { return b }, `{"reason":"oops"}`, []string{workload.KindCrash}, "panic: oops"},
		{"every duration", func() *cluster.Node { return a }, `{"every":"30ms"}`, nil, "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr := spawn(t, a, tc.on(), workload.Crasher, tc.args)
			p, inbox := spawnProbe(t, a)
			_, err := p.Monitor(ctxFor(t), cr)
			require.NoError(t, err)
			if len(tc.sends) > 1 {
				assert.EqualValues(t, 1, callValue(t, a, cr, workload.KindGet, ""), "a get counts as a message")
				tc.sends = tc.sends[1:]
			}
			for _, kind := range tc.sends {
				require.NoError(t, p.Send(cr, cluster.Message{Kind: kind}))
			}
			m := next(t, inbox)
			assert.Equal(t, cluster.KindDown, m.Kind)
			assert.Equal(t, cr, m.From)
			assert.Equal(t, tc.wantReason, string(m.Body))
			requireGone(t, a, cr)
		})
	}
}

func TestCPUBurner(t *testing.T) {
	n := startNode(t, "burn", nil)
	bn := spawn(t, n, n, workload.CPUBurner, `{"interval":"20ms","burn":"5ms"}`)
	require.Eventually(t, func() bool { return callValue(t, n, bn, workload.KindGet, "") > 0 },
		waitFor, 10*time.Millisecond, "cpu-burner should report burned milliseconds")
}

func TestArgs(t *testing.T) {
	a, b := startPair(t)

	t.Run("valid", func(t *testing.T) {
		defaults := map[string]any{
			workload.Counter:   workload.CounterArgs{Start: 3},
			workload.Ticker:    workload.DefaultTickerArgs(),
			workload.Pinger:    workload.DefaultPingerArgs(),
			workload.Crasher:   workload.DefaultCrasherArgs(),
			workload.CPUBurner: workload.DefaultCPUBurnerArgs(),
		}
		for _, name := range workload.Names() {
			args := []string{"", "  ", "{}", "null"}
			if d, ok := defaults[name]; ok {
				raw, err := json.Marshal(d)
				require.NoError(t, err)
				args = append(args, string(raw))
			}
			for _, arg := range args {
				pid, err := a.Spawn(ctxFor(t), "", name, cluster.SpawnOptions{Args: []byte(arg)})
				require.NoError(t, err, "spawn %s with args %q", name, arg)
				require.NoError(t, a.Kill(ctxFor(t), pid, ""))
			}
		}
	})

	for _, tc := range []struct {
		behavior, args, wantField string
	}{
		{workload.Echo, `{"x":1}`, `field "x"`},
		{workload.Counter, `{"start":"x"}`, `field "start"`},
		{workload.Counter, `[1]`, "want a JSON object"},
		{workload.Ticker, `{`, "want a JSON object"},
		{workload.Ticker, `{"interval":"5ms"}`, `field "interval"`},
		{workload.Ticker, `{"interval":"soon"}`, `field "interval"`},
		{workload.Ticker, `{"interval":5}`, `field "interval"`},
		{workload.Ticker, `{"intervall":"1s"}`, `field "intervall"`},
		{workload.Pinger, `{"target":"nope"}`, `field "target"`},
		{workload.Pinger, `{"interval":"1ms"}`, `field "interval"`},
		{workload.Pinger, `{"timeout":"0s"}`, `field "timeout"`},
		{workload.Crasher, `{"after":-1}`, `field "after"`},
		{workload.Crasher, `{"after":1.5}`, `field "after"`},
		{workload.Crasher, `{"every":"1ms"}`, `field "every"`},
		{workload.Crasher, `{"every":"-1s"}`, `field "every"`},
		{workload.Crasher, `{"reason":""}`, `field "reason"`},
		{workload.CPUBurner, `{"interval":"0s"}`, `field "interval"`},
		{workload.CPUBurner, `{"burn":"200ms"}`, `field "burn"`},
		{workload.CPUBurner, `{"burn":"0s"}`, `field "burn"`},
	} {
		t.Run(tc.behavior+" "+tc.args, func(t *testing.T) {
			_, err := a.Spawn(ctxFor(t), "", tc.behavior, cluster.SpawnOptions{Args: []byte(tc.args)})
			require.Error(t, err)
			assert.ErrorIs(t, err, workload.ErrBadArgs)
			assert.Contains(t, err.Error(), tc.wantField)
			assert.Contains(t, err.Error(), tc.behavior)

			// Spawned from another node, the error still names the field.
			_, err = b.Spawn(ctxFor(t), a.Name(), tc.behavior, cluster.SpawnOptions{Args: []byte(tc.args)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantField)
		})
	}

	assert.Empty(t, a.LocalProcesses(), "failed spawns should leave no process")
}
