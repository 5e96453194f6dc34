package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

// fabric is a network the node suite runs on. The suite runs once per
// fabric to prove that virtual and real nodes run the same code.
type fabric struct {
	name    string
	network func(tb testing.TB) cluster.Network
	bind    func(i int) string
	// crash makes a node fall silent as a crash would.
	crash func(t *testing.T, net cluster.Network, n *cluster.Node)
}

func realFabric() fabric {
	return fabric{
		name:    "udp-tcp",
		network: func(testing.TB) cluster.Network { return cluster.NetNetwork{} },
		bind:    func(int) string { return "127.0.0.1:0" },
		crash:   func(_ *testing.T, _ cluster.Network, n *cluster.Node) { n.Halt() },
	}
}

// testCluster is a set of started, joined nodes torn down by t.Cleanup.
type testCluster struct {
	t     *testing.T
	net   cluster.Network
	nodes []*cluster.Node
}

func startCluster(t *testing.T, f fabric, size int, opts ...func(*cluster.Config)) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, net: f.network(t)}
	for i := range size {
		cfg := cluster.Config{
			Name:    "n" + strconv.Itoa(i+1),
			Profile: cluster.ProfileLocal,
			Network: tc.net,
			Bind:    f.bind(i),
		}
		for _, o := range opts {
			o(&cfg)
		}
		n, err := cluster.NewNode(cfg)
		require.NoError(t, err)
		registerTestBehaviors(t, n)
		require.NoError(t, n.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = n.Stop(ctx)
		})
		if i > 0 {
			_, err := n.Join(context.Background(), []string{tc.nodes[0].Addr()})
			require.NoError(t, err)
		}
		tc.nodes = append(tc.nodes, n)
	}
	tc.waitAlive(size)
	return tc
}

// waitAlive waits until every running node sees want alive members.
func (tc *testCluster) waitAlive(want int, except ...*cluster.Node) {
	tc.t.Helper()
	require.Eventually(tc.t, func() bool {
		for _, n := range tc.nodes {
			if contains(except, n) {
				continue
			}
			if len(n.AliveMembers()) != want {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "every node should see %d alive members", want)
}

func contains(ns []*cluster.Node, n *cluster.Node) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

// echo replies to calls with the request body and bounces sends back.
type echo struct{}

func (echo) Init(*cluster.Process, []byte) error { return nil }
func (echo) Handle(p *cluster.Process, m cluster.Message) error {
	switch {
	case m.Kind == "fail":
		return errors.New("asked to fail")
	case m.Ref != 0:
		return p.Reply(m, cluster.Message{Kind: "echo", Body: m.Body})
	case !m.From.IsZero() && m.Kind != "echo":
		return p.Send(m.From, cluster.Message{Kind: "echo", Body: m.Body})
	}
	return nil
}
func (echo) Terminate(*cluster.Process, cluster.Reason) {}

// inbox forwards every message it receives to a Go channel.
type inbox struct{ ch chan cluster.Message }

func newInbox() *inbox { return &inbox{ch: make(chan cluster.Message, 1024)} }

func (b *inbox) Init(*cluster.Process, []byte) error { return nil }
func (b *inbox) Handle(_ *cluster.Process, m cluster.Message) error {
	b.ch <- m
	return nil
}
func (b *inbox) Terminate(*cluster.Process, cluster.Reason) {}

func (b *inbox) next(t *testing.T, timeout time.Duration) cluster.Message {
	t.Helper()
	select {
	case m := <-b.ch:
		return m
	case <-time.After(timeout):
		t.Fatalf("no message within %v", timeout)
		return cluster.Message{}
	}
}

func registerTestBehaviors(t *testing.T, n *cluster.Node) {
	require.NoError(t, n.RegisterBehavior("echo", func() cluster.Behavior { return echo{} }))
}

func TestNodeSuite(t *testing.T) {
	for _, f := range fabrics() {
		t.Run(f.name, func(t *testing.T) {
			t.Run("membership converges with metadata", func(t *testing.T) { suiteMembership(t, f) })
			t.Run("send and call, local and remote", func(t *testing.T) { suiteSendCall(t, f) })
			t.Run("remote spawn, info and kill", func(t *testing.T) { suiteRemoteKill(t, f) })
			t.Run("links propagate exits across nodes", func(t *testing.T) { suiteLinks(t, f) })
			t.Run("remote monitor fires noconnection on node crash", func(t *testing.T) { suiteMonitorCrash(t, f) })
			t.Run("view lists processes across nodes", func(t *testing.T) { suiteView(t, f) })
			t.Run("graceful stop is seen as left", func(t *testing.T) { suiteLeave(t, f) })
		})
	}
}

func suiteMembership(t *testing.T, f fabric) {
	tc := startCluster(t, f, 3, func(c *cluster.Config) { c.Tags = map[string]string{"zone": "a"}; c.Version = "test" })
	for _, n := range tc.nodes {
		ms := n.Members()
		require.Len(t, ms, 3)
		for _, m := range ms {
			assert.Equal(t, cluster.StateAlive, m.State, "%s sees %s", n.Name(), m.Name)
			assert.Equal(t, "a", m.Tags["zone"])
			assert.Equal(t, cluster.RoleWorker, m.Role)
			assert.NotEmpty(t, m.RPCAddr)
			assert.Equal(t, m.Name == n.Name(), m.Local)
		}
	}
	require.NoError(t, tc.nodes[1].SetTags(map[string]string{"zone": "b"}))
	require.Eventually(t, func() bool {
		for _, m := range tc.nodes[0].Members() {
			if m.Name == "n2" {
				return m.Tags["zone"] == "b"
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
}

func suiteSendCall(t *testing.T, f fabric) {
	tc := startCluster(t, f, 2)
	a, b := tc.nodes[0], tc.nodes[1]
	echoB, err := b.SpawnBehavior(echo{}, cluster.SpawnOptions{})
	require.NoError(t, err)
	echoA, err := a.SpawnBehavior(echo{}, cluster.SpawnOptions{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	for _, target := range []cluster.PID{echoA, echoB} {
		reply, err := a.Call(ctx, target, cluster.Message{Kind: "ping", Body: []byte("hi " + target.String())})
		require.NoError(t, err, "call %s", target)
		assert.Equal(t, "hi "+target.String(), string(reply.Body))
		assert.Equal(t, target, reply.From)
	}

	// A process on a sends to the remote echo; the bounce comes back in order.
	box := newInbox()
	me, err := a.SpawnBehavior(box, cluster.SpawnOptions{})
	require.NoError(t, err)
	for i := range 50 {
		require.NoError(t, a.Send(echoB, cluster.Message{From: me, Kind: "n", Body: []byte(strconv.Itoa(i))}))
	}
	for i := range 50 {
		m := box.next(t, 3*time.Second)
		assert.Equal(t, strconv.Itoa(i), string(m.Body), "messages between a pair keep their order")
		assert.Equal(t, echoB, m.From)
	}

	// Calls to a missing process fail with not_found, wherever it would be.
	_, err = a.Call(ctx, cluster.PID{Node: b.Name(), ID: 999999}, cluster.Message{Kind: "x"})
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err))
	err = a.Send(cluster.PID{Node: a.Name(), ID: 999999}, cluster.Message{})
	assert.ErrorIs(t, err, cluster.ErrNoProcess)

	// A call the callee never answers times out within the deadline.
	silent, err := b.SpawnBehavior(newInbox(), cluster.SpawnOptions{})
	require.NoError(t, err)
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	start := time.Now()
	_, err = a.Call(short, silent, cluster.Message{Kind: "hello?"})
	assert.Equal(t, cluster.CodeTimeout, cluster.ErrorCode(err), "err = %v", err)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func suiteRemoteKill(t *testing.T, f fabric) {
	tc := startCluster(t, f, 3)
	a, c := tc.nodes[0], tc.nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	pid, err := a.Spawn(ctx, c.Name(), "echo", cluster.SpawnOptions{Name: "svc", Labels: map[string]string{"team": "x"}})
	require.NoError(t, err)
	assert.Equal(t, c.Name(), pid.Node)

	info, err := a.ProcessInfo(ctx, pid)
	require.NoError(t, err)
	assert.Equal(t, "echo", info.Behavior)
	assert.Equal(t, "svc", info.Name)
	assert.Equal(t, "x", info.Labels["team"])
	assert.Equal(t, cluster.StatusWaiting, info.Status)

	_, err = a.Spawn(ctx, c.Name(), "no-such-behaviour", cluster.SpawnOptions{})
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err))

	require.NoError(t, a.Kill(ctx, pid, cluster.ReasonKilled))
	assert.Nil(t, c.Process(pid), "the process is gone on its node once Kill returns")
	_, err = a.ProcessInfo(ctx, pid)
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err))
	err = a.Kill(ctx, pid, cluster.ReasonKilled)
	assert.Equal(t, cluster.CodeNotFound, cluster.ErrorCode(err), "killing twice says not found")

	err = a.Kill(ctx, cluster.PID{Node: "ghost", ID: 1}, "")
	var re *cluster.RPCError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, cluster.CodeNodeUnreachable, re.Code)
	assert.Equal(t, cluster.StateUnknown, re.State)
}

func suiteLinks(t *testing.T, f fabric) {
	tc := startCluster(t, f, 2)
	a, b := tc.nodes[0], tc.nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	left, err := a.SpawnBehavior(echo{}, cluster.SpawnOptions{})
	require.NoError(t, err)
	right, err := b.Spawn(ctx, b.Name(), "echo", cluster.SpawnOptions{})
	require.NoError(t, err)
	require.NoError(t, a.Link(ctx, left, right))
	info, err := a.ProcessInfo(ctx, right)
	require.NoError(t, err)
	assert.Equal(t, []cluster.PID{left}, info.Links)

	// A trapping watcher linked to left sees its EXIT as a message.
	box := newInbox()
	watcher, err := a.SpawnBehavior(box, cluster.SpawnOptions{TrapExits: true})
	require.NoError(t, err)
	require.NoError(t, a.Link(ctx, watcher, left))

	// right fails; left (on the other node) dies with the same reason.
	require.NoError(t, a.Send(right, cluster.Message{Kind: "fail"}))
	m := box.next(t, 5*time.Second)
	assert.Equal(t, cluster.KindExit, m.Kind)
	assert.Equal(t, left, m.From)
	assert.Equal(t, "asked to fail", string(m.Body))
	assert.Nil(t, a.Process(left))
}

func suiteMonitorCrash(t *testing.T, f fabric) {
	tc := startCluster(t, f, 3)
	a, c := tc.nodes[0], tc.nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	target, err := a.Spawn(ctx, c.Name(), "echo", cluster.SpawnOptions{})
	require.NoError(t, err)
	box := newInbox()
	watcher, err := a.SpawnBehavior(box, cluster.SpawnOptions{})
	require.NoError(t, err)
	ref, err := a.Monitor(ctx, watcher, target)
	require.NoError(t, err)
	info, err := a.ProcessInfo(ctx, target)
	require.NoError(t, err)
	assert.Equal(t, []cluster.PID{watcher}, info.Monitors)

	// A monitor on a missing process fires at once with noproc.
	ref2, err := a.Monitor(ctx, watcher, cluster.PID{Node: c.Name(), ID: 424242})
	require.NoError(t, err)
	m := box.next(t, 3*time.Second)
	assert.Equal(t, cluster.KindDown, m.Kind)
	assert.Equal(t, ref2, m.Ref)
	assert.Equal(t, string(cluster.ReasonNoProc), string(m.Body))

	start := time.Now()
	f.crash(t, tc.net, c)
	m = box.next(t, 10*time.Second)
	assert.Equal(t, cluster.KindDown, m.Kind)
	assert.Equal(t, target, m.From)
	assert.Equal(t, ref, m.Ref)
	assert.Equal(t, string(cluster.ReasonNoConnection), string(m.Body))
	t.Logf("%s: DOWN noconnection %v after the crash", f.name, time.Since(start))
	tc.waitAlive(2, c)
}

func suiteView(t *testing.T, f fabric) {
	tc := startCluster(t, f, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for i, n := range tc.nodes {
		for j := range 5 {
			_, err := n.SpawnBehavior(echo{}, cluster.SpawnOptions{Name: fmt.Sprintf("w-%d-%d", i, j)})
			require.NoError(t, err)
		}
		_, err := n.SpawnBehavior(newInbox(), cluster.SpawnOptions{})
		require.NoError(t, err)
	}
	v := cluster.NewView(tc.nodes[0])
	page, err := v.Processes(ctx, cluster.ProcessQuery{})
	require.NoError(t, err)
	assert.Equal(t, 18, page.Total)
	assert.Len(t, page.Processes, 18)
	assert.Empty(t, page.Missing)

	page, err = v.Processes(ctx, cluster.ProcessQuery{Behavior: "inbox"})
	require.NoError(t, err)
	assert.Equal(t, 3, page.Total)

	page, err = v.Processes(ctx, cluster.ProcessQuery{Nodes: []string{"n2"}, Name: "w-1"})
	require.NoError(t, err)
	assert.Equal(t, 5, page.Total)
	for _, p := range page.Processes {
		assert.Equal(t, "n2", p.Node)
	}

	// Paging with a cursor visits every echo once, in name order.
	var names []string
	q := cluster.ProcessQuery{Behavior: "echo", Sort: "name", Desc: true, Limit: 4}
	for {
		page, err := v.Processes(ctx, q)
		require.NoError(t, err)
		for _, p := range page.Processes {
			names = append(names, p.Name)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	require.Len(t, names, 15)
	assert.Equal(t, "w-2-4", names[0])
	assert.Equal(t, "w-0-0", names[14])

	_, err = v.Processes(ctx, cluster.ProcessQuery{Sort: "colour"})
	assert.Error(t, err)
	_, err = v.Processes(ctx, cluster.ProcessQuery{Cursor: "!!"})
	assert.Error(t, err)

	// A requested node that is not a member is reported, not fatal.
	page, err = v.Processes(ctx, cluster.ProcessQuery{Nodes: []string{"n1", "ghost"}})
	require.NoError(t, err)
	assert.Equal(t, 6, page.Total)
	require.Len(t, page.Missing, 1)
	assert.Equal(t, "ghost", page.Missing[0].Node)
	assert.Equal(t, cluster.CodeNodeUnreachable, page.Missing[0].Code)
}

func suiteLeave(t *testing.T, f fabric) {
	tc := startCluster(t, f, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, tc.nodes[2].Stop(ctx))
	require.Eventually(t, func() bool {
		return tc.nodes[0].MemberState("n3") == cluster.StateLeft && tc.nodes[1].MemberState("n3") == cluster.StateLeft
	}, 5*time.Second, 10*time.Millisecond)
	err := tc.nodes[0].Send(cluster.PID{Node: "n3", ID: 1}, cluster.Message{})
	var re *cluster.RPCError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, cluster.CodeNodeUnreachable, re.Code)
	assert.Equal(t, cluster.StateLeft, re.State)
}

var _ = net.ParseIP
