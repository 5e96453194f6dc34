package simulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

// waitFor bounds every wait in these tests; they poll or block with it,
// never sleep.
const waitFor = 5 * time.Second

func bind(t *testing.T, n *Network, name string) cluster.Endpoint {
	t.Helper()
	e, err := n.Bind(cluster.BindConfig{Name: name})
	require.NoError(t, err, "Bind(%s)", name)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func gossipAddr(e cluster.Endpoint) string {
	ip, port := e.GossipAddr()
	return net.JoinHostPort(ip, strconv.Itoa(port))
}

func send(t *testing.T, from, to cluster.Endpoint, payload string) {
	t.Helper()
	_, err := from.Transport().WriteTo([]byte(payload), gossipAddr(to))
	require.NoError(t, err)
}

// recv waits for the next packet on e.
func recv(t *testing.T, e cluster.Endpoint) *memberlist.Packet {
	t.Helper()
	select {
	case p := <-e.Transport().PacketCh():
		return p
	case <-time.After(waitFor):
		require.FailNow(t, "no packet arrived", "at %s", gossipAddr(e))
		return nil
	}
}

// queued reports how many packets wait on e's channel. Packets on links
// without latency are queued or dropped before WriteTo returns.
func queued(e cluster.Endpoint) int { return len(e.Transport().PacketCh()) }

// dialRPC opens an RPC stream from -> to and returns both ends.
func dialRPC(t *testing.T, from, to cluster.Endpoint) (client, server net.Conn) {
	t.Helper()
	client, err := from.Dial(context.Background(), to.RPCAddr())
	require.NoError(t, err)
	server, err = to.Listener().Accept()
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

// readN reads exactly n bytes from c, failing after waitFor.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(waitFor)))
	buf := make([]byte, n)
	_, err := io.ReadFull(c, buf)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	return buf
}

// readErr blocks in Read on c until it fails and returns the error.
func readErr(t *testing.T, c net.Conn) error {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(waitFor)))
	buf := make([]byte, 64)
	for {
		if _, err := c.Read(buf); err != nil {
			require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "Read blocked until the deadline")
			return err
		}
	}
}

func TestBindAddresses(t *testing.T) {
	n := NewNetwork(1)
	tests := []struct {
		name, bind, advertise string
		wantGossip, wantRPC   string
	}{
		{"a", "", "", "127.200.0.1:7946", "127.200.0.1:7947"},
		{"b", "0.0.0.0:0", "", "127.200.0.2:7946", "127.200.0.2:7947"},
		{"c", ":7000", "", "127.200.0.3:7000", "127.200.0.3:7001"},
		{"d", "127.200.9.9:8000", "", "127.200.9.9:8000", "127.200.9.9:8001"},
		{"e", "127.200.9.9:0", "", "127.200.9.9:7946", "127.200.9.9:7947"},
		{"f", "127.200.9.9:0", "", "127.200.9.9:7948", "127.200.9.9:7949"},
		{"g", "0.0.0.0:0", "10.0.0.7:9000", "10.0.0.7:9000", "10.0.0.7:9001"},
	}
	for _, tt := range tests {
		e, err := n.Bind(cluster.BindConfig{Name: tt.name, Bind: tt.bind, Advertise: tt.advertise})
		require.NoError(t, err, "Bind(%s, %q)", tt.name, tt.bind)
		t.Cleanup(func() { _ = e.Close() })
		assert.Equal(t, tt.wantGossip, gossipAddr(e), "Bind(%s, %q) gossip", tt.name, tt.bind)
		assert.Equal(t, tt.wantRPC, e.RPCAddr(), "Bind(%s, %q) rpc", tt.name, tt.bind)
		ip, port, err := e.Transport().FinalAdvertiseAddr("", 0)
		require.NoError(t, err)
		assert.Equal(t, tt.wantGossip, net.JoinHostPort(ip.String(), strconv.Itoa(port)), "FinalAdvertiseAddr")
		assert.Equal(t, tt.wantRPC, e.Listener().Addr().String(), "Listener().Addr()")
	}
}

func TestBindErrors(t *testing.T) {
	n := NewNetwork(1)
	_, err := n.Bind(cluster.BindConfig{Name: "a", Bind: "127.200.9.9:8000"})
	require.NoError(t, err)
	tests := []struct {
		desc, name, bind string
		inUse            bool
	}{
		{"empty name", "", "", false},
		{"name held", "a", "", true},
		{"gossip address held", "b", "127.200.9.9:8000", true},
		{"rpc lands on held gossip", "b", "127.200.9.9:7999", true},
		{"gossip lands on held rpc", "b", "127.200.9.9:8001", true},
		{"no port", "b", "127.200.9.9", false},
		{"host not an ip", "b", "localhost:80", false},
		{"bad port", "b", "127.200.9.9:70000", false},
	}
	for _, tt := range tests {
		_, err := n.Bind(cluster.BindConfig{Name: tt.name, Bind: tt.bind})
		require.Error(t, err, "%s: Bind(%q, %q)", tt.desc, tt.name, tt.bind)
		assert.Equal(t, tt.inUse, errors.Is(err, ErrInUse), "%s: Bind(%q, %q) = %v", tt.desc, tt.name, tt.bind, err)
	}
}

func TestRebindAfterClose(t *testing.T) {
	n := NewNetwork(1)
	a := bind(t, n, "a")
	b := bind(t, n, "b")
	addr := gossipAddr(a)

	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "second Close")
	require.NoError(t, a.Transport().Shutdown(), "Shutdown after Close")
	_, err := a.Transport().WriteTo([]byte("x"), gossipAddr(b))
	require.ErrorIs(t, err, net.ErrClosed, "WriteTo on a closed endpoint")
	assert.False(t, n.Reachable("b", "a"), "Reachable(b, a) after a closed")
	send(t, b, a, "lost")
	assert.Equal(t, uint64(1), n.Stats().DroppedUnreachable)

	// A new node takes a fresh address; the restarted one gets its own back.
	c := bind(t, n, "c")
	assert.NotEqual(t, addr, gossipAddr(c))
	a2 := bind(t, n, "a")
	assert.Equal(t, addr, gossipAddr(a2), "rebound a keeps its address")
	send(t, b, a2, "hello")
	assert.Equal(t, "hello", string(recv(t, a2).Buf))
}

func TestPacketDelivery(t *testing.T) {
	n := NewNetwork(1)
	a, b := bind(t, n, "a"), bind(t, n, "b")

	payload := []byte("ping")
	before := time.Now()
	sent, err := a.Transport().WriteTo(payload, gossipAddr(b))
	require.NoError(t, err)
	payload[0] = 'X' // the network owns a copy
	p := recv(t, b)
	assert.Equal(t, "ping", string(p.Buf))
	assert.Equal(t, gossipAddr(a), p.From.String())
	assert.IsType(t, &net.UDPAddr{}, p.From)
	assert.False(t, p.Timestamp.Before(before), "Timestamp %v before send %v", p.Timestamp, before)
	assert.False(t, sent.Before(before))

	_, err = b.Transport().WriteToAddress([]byte("pong"), memberlist.Address{Addr: gossipAddr(a), Name: "a"})
	require.NoError(t, err)
	assert.Equal(t, "pong", string(recv(t, a).Buf))

	// An address nobody holds swallows the packet, as UDP would.
	_, err = a.Transport().WriteTo([]byte("void"), "127.200.77.77:7946")
	require.NoError(t, err)
	_, err = a.Transport().WriteTo([]byte("bad"), "not an address")
	require.Error(t, err)

	s := n.Stats()
	assert.Equal(t, uint64(3), s.PacketsSent)
	assert.Equal(t, uint64(2), s.PacketsDelivered)
	assert.Equal(t, uint64(8), s.PacketBytes)
	assert.Equal(t, uint64(1), s.DroppedUnreachable)
	assert.Equal(t, uint64(1), s.PacketsDropped())
}

func TestFullPacketQueueDropsWithoutBlocking(t *testing.T) {
	n := NewNetwork(1)
	a, b := bind(t, n, "a"), bind(t, n, "b")
	const extra = 100

	done := make(chan error, 1)
	go func() {
		for range packetQueue + extra {
			if _, err := a.Transport().WriteTo([]byte("x"), gossipAddr(b)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitFor):
		require.FailNow(t, "WriteTo blocked on a full packet queue")
	}
	s := n.Stats()
	assert.Equal(t, uint64(packetQueue), s.PacketsDelivered)
	assert.Equal(t, uint64(extra), s.DroppedFull)
	assert.Equal(t, packetQueue, queued(b))
}

func TestPartition(t *testing.T) {
	n := NewNetwork(1)
	eps := map[string]cluster.Endpoint{}
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		eps[name] = bind(t, n, name)
	}
	// c and d are named nowhere: they form a group of their own.
	n.Partition([]string{"a"}, []string{"b", "e"})

	tests := []struct {
		from, to string
		want     bool
	}{
		{"a", "b", false},
		{"b", "a", false},
		{"b", "e", true},
		{"e", "b", true},
		{"c", "d", true},
		{"a", "c", false},
		{"c", "b", false},
		{"a", "a", true},
		{"a", "nobody", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, n.Reachable(tt.from, tt.to), "Reachable(%s, %s)", tt.from, tt.to)
		to, ok := eps[tt.to]
		if !ok {
			continue
		}
		before := queued(to)
		send(t, eps[tt.from], to, "p")
		if tt.want {
			assert.Equal(t, before+1, queued(to), "packet %s -> %s delivered", tt.from, tt.to)
			recv(t, to)
		} else {
			assert.Equal(t, before, queued(to), "packet %s -> %s dropped", tt.from, tt.to)
		}
	}
	assert.Equal(t, uint64(4), n.Stats().DroppedPartition)

	_, err := eps["a"].Dial(context.Background(), eps["b"].RPCAddr())
	require.ErrorIs(t, err, ErrUnreachable, "Dial across the partition")
	_, err = eps["c"].Transport().DialTimeout(gossipAddr(eps["a"]), time.Second)
	require.ErrorIs(t, err, ErrUnreachable, "DialTimeout across the partition")

	n.Heal()
	for _, tt := range tests {
		want := tt.to != "nobody"
		assert.Equal(t, want, n.Reachable(tt.from, tt.to), "after Heal: Reachable(%s, %s)", tt.from, tt.to)
	}
	send(t, eps["a"], eps["b"], "healed")
	assert.Equal(t, "healed", string(recv(t, eps["b"]).Buf))
}

func TestCut(t *testing.T) {
	n := NewNetwork(1)
	a, b := bind(t, n, "a"), bind(t, n, "b")
	client, _ := dialRPC(t, a, b)

	n.Cut("a", "b")
	assert.False(t, n.Reachable("a", "b"), "Reachable(a, b) after Cut(a, b)")
	assert.True(t, n.Reachable("b", "a"), "Reachable(b, a) after Cut(a, b)")
	send(t, a, b, "dropped")
	assert.Equal(t, 0, queued(b))
	send(t, b, a, "flows")
	assert.Equal(t, "flows", string(recv(t, a).Buf))
	assert.Equal(t, uint64(1), n.Stats().DroppedPartition)

	// A stream needs both directions.
	require.ErrorIs(t, readErr(t, client), ErrConnReset, "open stream across a new cut")
	_, err := a.Dial(context.Background(), b.RPCAddr())
	require.ErrorIs(t, err, ErrUnreachable, "Dial a -> b")
	_, err = b.Dial(context.Background(), a.RPCAddr())
	require.ErrorIs(t, err, ErrUnreachable, "Dial b -> a")

	n.Uncut("a", "b")
	assert.True(t, n.Reachable("a", "b"), "Reachable(a, b) after Uncut")
	dialRPC(t, a, b)

	n.Cut("b", "a")
	assert.False(t, n.Reachable("b", "a"))
	n.Heal()
	assert.True(t, n.Reachable("b", "a"), "Heal removes cuts")
}

func TestCrashRestore(t *testing.T) {
	n := NewNetwork(1)
	a, b := bind(t, n, "a"), bind(t, n, "b")
	client, server := dialRPC(t, a, b)
	gossipClient, err := a.Transport().DialTimeout(gossipAddr(b), time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = gossipClient.Close() })

	n.Crash("b")
	assert.False(t, n.Reachable("a", "b"))
	assert.False(t, n.Reachable("b", "a"))
	send(t, a, b, "to crashed")
	send(t, b, a, "from crashed")
	assert.Equal(t, 0, queued(a)+queued(b))
	assert.Equal(t, uint64(2), n.Stats().DroppedUnreachable)

	require.ErrorIs(t, readErr(t, client), ErrConnReset, "client read after crash")
	require.ErrorIs(t, readErr(t, server), ErrConnReset, "server read after crash")
	_, err = client.Write([]byte("x"))
	require.ErrorIs(t, err, ErrConnReset, "client write after crash")
	require.ErrorIs(t, readErr(t, gossipClient), ErrConnReset, "gossip stream after crash")
	assert.Equal(t, uint64(2), n.Stats().StreamsReset)

	_, err = a.Dial(context.Background(), b.RPCAddr())
	require.ErrorIs(t, err, ErrUnreachable, "dial to a crashed node")
	_, err = b.Dial(context.Background(), a.RPCAddr())
	require.ErrorIs(t, err, ErrUnreachable, "dial from a crashed node")

	// The crash holds across a restart until Restore.
	require.NoError(t, b.Close())
	b = bind(t, n, "b")
	assert.False(t, n.Reachable("a", "b"), "crash survives rebind")
	n.Restore("b")
	assert.True(t, n.Reachable("a", "b"))
	send(t, a, b, "back")
	assert.Equal(t, "back", string(recv(t, b).Buf))
	dialRPC(t, a, b)
}

func TestLoss(t *testing.T) {
	n := NewNetwork(7)
	a, b := bind(t, n, "a"), bind(t, n, "b")
	drain := func() {
		for queued(b) > 0 {
			<-b.Transport().PacketCh()
		}
	}

	n.SetLoss("b", "a", 1) // links are symmetric
	for range 10 {
		send(t, a, b, "x")
	}
	assert.Equal(t, 0, queued(b))
	assert.Equal(t, uint64(10), n.Stats().DroppedLoss)
	assert.True(t, n.Reachable("a", "b"), "Reachable ignores loss")

	n.SetDefaultLoss(0.5)
	n.ClearLink("a", "b")
	const sent = 1000
	for range sent {
		send(t, a, b, "x")
	}
	got := queued(b)
	assert.InDelta(t, sent/2, got, sent/5, "delivered %d of %d at 50%% loss", got, sent)
	drain()

	n.SetLoss("a", "b", 0) // a per-link setting overrides the default
	for range 10 {
		send(t, a, b, "x")
	}
	assert.Equal(t, 10, queued(b))

	// Streams are not lossy.
	n.SetLoss("a", "b", 1)
	client, server := dialRPC(t, a, b)
	_, err := client.Write([]byte("reliable"))
	require.NoError(t, err)
	assert.Equal(t, "reliable", string(readN(t, server, 8)))
}

func TestLossIsSeeded(t *testing.T) {
	run := func(seed int64) []bool {
		n := NewNetwork(seed)
		a, b := bind(t, n, "a"), bind(t, n, "b")
		n.SetLoss("a", "b", 0.5)
		got := make([]bool, 64)
		for i := range got {
			before := queued(b)
			send(t, a, b, "x")
			got[i] = queued(b) > before
		}
		return got
	}
	assert.Equal(t, run(3), run(3), "same seed, same losses")
	assert.NotEqual(t, run(3), run(4), "different seeds, different losses")
}

func TestPacketLatency(t *testing.T) {
	n := NewNetwork(1)
	a, b, c := bind(t, n, "a"), bind(t, n, "b"), bind(t, n, "c")
	const lat = 40 * time.Millisecond
	n.SetLatency("a", "b", lat, 10*time.Millisecond)

	start := time.Now()
	send(t, a, b, "slow")
	p := recv(t, b)
	assert.GreaterOrEqual(t, time.Since(start), lat)
	assert.GreaterOrEqual(t, p.Timestamp.Sub(start), lat, "Timestamp is the arrival time")

	// Other links keep the default (none), until it is set.
	send(t, a, c, "fast")
	assert.Equal(t, 1, queued(c))
	recv(t, c)
	n.SetDefaultLatency(lat, 0)
	start = time.Now()
	send(t, a, c, "slow too")
	recv(t, c)
	assert.GreaterOrEqual(t, time.Since(start), lat)

	// A partition that starts while a packet flies drops it on arrival.
	send(t, a, b, "in flight")
	n.Partition([]string{"a"}, []string{"b"})
	require.Eventually(t, func() bool { return n.Stats().DroppedPartition == 1 }, waitFor, time.Millisecond)
	assert.Equal(t, 0, queued(b))
}

func TestStreamBothWays(t *testing.T) {
	tests := []struct {
		desc            string
		latency, jitter time.Duration
	}{
		{"no latency", 0, 0},
		{"latency", 30 * time.Millisecond, 0},
		{"latency and jitter", 20 * time.Millisecond, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			n := NewNetwork(1)
			a, b := bind(t, n, "a"), bind(t, n, "b")
			n.SetLatency("a", "b", tt.latency, tt.jitter)
			client, server := dialRPC(t, a, b)

			assert.Equal(t, b.RPCAddr(), client.RemoteAddr().String())
			assert.Equal(t, client.LocalAddr().String(), server.RemoteAddr().String())
			assert.Equal(t, server.LocalAddr().String(), client.RemoteAddr().String())
			ip, _ := a.GossipAddr()
			assert.Equal(t, ip, client.LocalAddr().(*net.TCPAddr).IP.String())

			start := time.Now()
			_, err := client.Write([]byte("request"))
			require.NoError(t, err)
			assert.Equal(t, "request", string(readN(t, server, 7)))
			assert.GreaterOrEqual(t, time.Since(start), tt.latency, "request arrived before the latency")

			start = time.Now()
			_, err = server.Write([]byte("response"))
			require.NoError(t, err)
			assert.Equal(t, "response", string(readN(t, client, 8)))
			assert.GreaterOrEqual(t, time.Since(start), tt.latency, "response arrived before the latency")

			// Many writes under jitter still arrive in order.
			var want bytes.Buffer
			for i := range 200 {
				chunk := fmt.Appendf(nil, "%d,", i)
				want.Write(chunk)
				_, err := client.Write(chunk)
				require.NoError(t, err)
			}
			assert.Equal(t, want.String(), string(readN(t, server, want.Len())))
		})
	}
}

func TestStreamDeadlines(t *testing.T) {
	n := NewNetwork(1)
	a, b := bind(t, n, "a"), bind(t, n, "b")
	client, server := dialRPC(t, a, b)
	buf := make([]byte, 8)

	require.NoError(t, server.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	start := time.Now()
	_, err := server.Read(buf)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "Timeout() of %v", err)
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)

	// Moving the deadline wakes a blocked reader.
	require.NoError(t, server.SetReadDeadline(time.Time{}))
	errc := make(chan error, 1)
	go func() {
		_, err := server.Read(buf)
		errc <- err
	}()
	require.NoError(t, server.SetDeadline(time.Now()))
	select {
	case err := <-errc:
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	case <-time.After(waitFor):
		require.FailNow(t, "blocked Read ignored a new deadline")
	}

	// Clearing it makes the conn usable again.
	require.NoError(t, server.SetDeadline(time.Time{}))
	_, err = client.Write([]byte("ok"))
	require.NoError(t, err)
	assert.Equal(t, "ok", string(readN(t, server, 2)))

	// Data that arrives after the deadline does not count.
	n.SetLatency("a", "b", 200*time.Millisecond, 0)
	_, err = client.Write([]byte("late"))
	require.NoError(t, err)
	require.NoError(t, server.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err = server.Read(buf)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "data in flight past the deadline")

	require.NoError(t, client.SetWriteDeadline(time.Now().Add(-time.Second)))
	_, err = client.Write([]byte("x"))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
}

func TestStreamClose(t *testing.T) {
	n := NewNetwork(1)
	a, b := bind(t, n, "a"), bind(t, n, "b")
	n.SetLatency("a", "b", 10*time.Millisecond, 0)
	client, server := dialRPC(t, a, b)

	_, err := client.Write([]byte("last words"))
	require.NoError(t, err)
	require.NoError(t, client.Close())
	require.NoError(t, client.Close(), "second Close")

	require.NoError(t, server.SetReadDeadline(time.Now().Add(waitFor)))
	got, err := io.ReadAll(server)
	require.NoError(t, err, "ReadAll ends at io.EOF")
	assert.Equal(t, "last words", string(got))
	_, err = server.Read(make([]byte, 1))
	assert.Equal(t, io.EOF, err)

	_, err = server.Write([]byte("anyone?"))
	require.ErrorIs(t, err, ErrConnReset, "write after the peer closed")
	_, err = client.Read(make([]byte, 1))
	require.ErrorIs(t, err, net.ErrClosed, "read on a closed conn")
	_, err = client.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed, "write on a closed conn")
	require.ErrorIs(t, client.SetDeadline(time.Now()), net.ErrClosed)

	// Close wakes a reader blocked on the same side.
	client2, _ := dialRPC(t, a, b)
	errc := make(chan error, 1)
	go func() {
		_, err := client2.Read(make([]byte, 1))
		errc <- err
	}()
	require.NoError(t, client2.Close())
	select {
	case err := <-errc:
		require.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(waitFor):
		require.FailNow(t, "Close did not wake a blocked Read")
	}
}

func TestStreamBufferLimit(t *testing.T) {
	n := NewNetwork(1)
	a, b := bind(t, n, "a"), bind(t, n, "b")
	client, server := dialRPC(t, a, b)

	_, err := client.Write(make([]byte, maxStreamBuffer))
	require.NoError(t, err)
	_, err = client.Write([]byte{1})
	require.ErrorIs(t, err, ErrBufferFull)
	readN(t, server, 1<<20)
	_, err = client.Write(make([]byte, 1<<20))
	require.NoError(t, err, "room again after the reader drained some")
}

func TestFaultsResetOpenStreams(t *testing.T) {
	tests := []struct {
		desc  string
		fault func(n *Network)
	}{
		{"partition", func(n *Network) { n.Partition([]string{"a"}, []string{"b", "c"}) }},
		{"partition leaving b and c unlisted", func(n *Network) { n.Partition([]string{"a"}) }},
		{"cut a to b", func(n *Network) { n.Cut("a", "b") }},
		{"cut b to a", func(n *Network) { n.Cut("b", "a") }},
		{"crash a", func(n *Network) { n.Crash("a") }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			n := NewNetwork(1)
			a, b, c := bind(t, n, "a"), bind(t, n, "b"), bind(t, n, "c")
			client, server := dialRPC(t, a, b)
			bystander, _ := dialRPC(t, b, c)

			errc := make(chan error, 1)
			go func() {
				_, err := server.Read(make([]byte, 1)) // blocks: nothing was sent
				errc <- err
			}()
			tt.fault(n)
			select {
			case err := <-errc:
				require.ErrorIs(t, err, ErrConnReset)
			case <-time.After(waitFor):
				require.FailNow(t, "reader still blocked after the fault")
			}
			_, err := client.Write([]byte("x"))
			require.ErrorIs(t, err, ErrConnReset)
			assert.Equal(t, uint64(1), n.Stats().StreamsReset)

			_, err = bystander.Write([]byte("unaffected"))
			require.NoError(t, err, "stream not crossing the fault")
		})
	}
}

func TestListener(t *testing.T) {
	n := NewNetwork(1)
	a, b := bind(t, n, "a"), bind(t, n, "b")
	client, server := dialRPC(t, a, b)
	_, err := server.Write([]byte("hi"))
	require.NoError(t, err)
	assert.Equal(t, "hi", string(readN(t, client, 2)))

	// Gossip streams go to the transport, not the listener.
	gc, err := a.Transport().DialAddressTimeout(memberlist.Address{Addr: gossipAddr(b), Name: "b"}, time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = gc.Close() })
	select {
	case gs := <-b.Transport().StreamCh():
		_, err = gc.Write([]byte("push"))
		require.NoError(t, err)
		assert.Equal(t, "push", string(readN(t, gs, 4)))
	case <-time.After(waitFor):
		require.FailNow(t, "no gossip stream on StreamCh")
	}

	errc := make(chan error, 1)
	go func() {
		_, err := b.Listener().Accept()
		errc <- err
	}()
	require.NoError(t, b.Listener().Close())
	require.NoError(t, b.Listener().Close(), "second Close")
	select {
	case err := <-errc:
		require.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(waitFor):
		require.FailNow(t, "Accept still blocked after Close")
	}
	_, err = b.Listener().Accept()
	require.ErrorIs(t, err, net.ErrClosed)

	_, err = a.Dial(context.Background(), b.RPCAddr())
	require.ErrorIs(t, err, ErrUnreachable, "dial a closed listener")
	_, err = a.Dial(context.Background(), "127.200.77.77:7947")
	require.ErrorIs(t, err, ErrUnreachable, "dial nobody")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.Dial(ctx, a.RPCAddr())
	require.ErrorIs(t, err, context.Canceled)

	s := n.Stats()
	assert.Equal(t, uint64(2), s.StreamsOpened)
	assert.Equal(t, uint64(2), s.StreamsRefused)
}

func TestListenerCloseClosesQueuedStreams(t *testing.T) {
	n := NewNetwork(1)
	a, b := bind(t, n, "a"), bind(t, n, "b")
	queuedConn, err := a.Dial(context.Background(), b.RPCAddr())
	require.NoError(t, err)
	require.NoError(t, b.Listener().Close())
	require.ErrorIs(t, readErr(t, queuedConn), io.EOF)
}

func TestEndpointCloseClosesStreams(t *testing.T) {
	n := NewNetwork(1)
	a, b := bind(t, n, "a"), bind(t, n, "b")
	client, server := dialRPC(t, a, b)
	_, err := server.Write([]byte("bye"))
	require.NoError(t, err)

	require.NoError(t, b.Transport().Shutdown())
	assert.Equal(t, "bye", string(readN(t, client, 3)))
	require.ErrorIs(t, readErr(t, client), io.EOF)
	_, err = server.Read(make([]byte, 1))
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = b.Listener().Accept()
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = a.Transport().DialTimeout(gossipAddr(b), time.Second)
	require.ErrorIs(t, err, ErrUnreachable)
	_, err = b.Dial(context.Background(), a.RPCAddr())
	require.ErrorIs(t, err, net.ErrClosed, "dial from a closed endpoint")
}

func TestConcurrentTrafficAndFaults(t *testing.T) {
	n := NewNetwork(1)
	names := []string{"a", "b", "c"}
	eps := make([]cluster.Endpoint, len(names))
	for i, name := range names {
		eps[i] = bind(t, n, name)
	}
	n.SetDefaultLatency(time.Millisecond, time.Millisecond)
	n.SetDefaultLoss(0.1)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	for i, e := range eps {
		peer := eps[(i+1)%len(eps)]
		wg.Go(func() { // packets and their reader
			for {
				select {
				case <-stop:
					return
				case <-e.Transport().PacketCh():
				default:
					_, _ = e.Transport().WriteTo([]byte("x"), gossipAddr(peer))
				}
			}
		})
		wg.Go(func() { // streams
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := e.Dial(context.Background(), peer.RPCAddr())
				if err != nil {
					continue
				}
				s, err := peer.Listener().Accept()
				if err == nil {
					_, _ = c.Write([]byte("y"))
					_ = s.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
					_, _ = s.Read(make([]byte, 1))
					_ = s.Close()
				}
				_ = c.Close()
			}
		})
	}
	// Keep changing faults until enough traffic has run through them.
	deadline := time.Now().Add(waitFor)
	for i := 0; ; i++ {
		if s := n.Stats(); i >= 200 && s.PacketsSent >= 2000 && s.StreamsOpened >= 20 {
			break
		}
		require.True(t, time.Now().Before(deadline), "traffic too slow: %+v", n.Stats())
		switch i % 5 {
		case 0:
			n.Partition([]string{"a"}, []string{"b", "c"})
		case 1:
			n.Cut("b", "c")
		case 2:
			n.Crash("c")
		case 3:
			n.Restore("c")
			n.SetLatency("a", "b", time.Duration(i)*time.Microsecond, 0)
		case 4:
			n.Heal()
		}
	}
}

// TestMemberlist runs three real memberlist nodes on the network: they
// join, detect a partitioned node, and shut down without blocking each
// other.
func TestMemberlist(t *testing.T) {
	n := NewNetwork(1)
	names := []string{"a", "b", "c"}
	lists := map[string]*memberlist.Memberlist{}
	for _, name := range names {
		e := bind(t, n, name)
		cfg := memberlist.DefaultLocalConfig()
		cfg.Name = name
		cfg.Transport = e.Transport()
		cfg.ProbeInterval = 100 * time.Millisecond
		cfg.ProbeTimeout = 50 * time.Millisecond
		cfg.GossipInterval = 50 * time.Millisecond
		cfg.TCPTimeout = 500 * time.Millisecond
		cfg.Logger = log.New(io.Discard, "", 0)
		m, err := memberlist.Create(cfg)
		require.NoError(t, err, "memberlist.Create(%s)", name)
		t.Cleanup(func() { _ = m.Shutdown() })
		lists[name] = m
	}
	seed := lists["a"].LocalNode().Address()
	for _, name := range []string{"b", "c"} {
		_, err := lists[name].Join([]string{seed})
		require.NoError(t, err, "%s joins %s", name, seed)
	}

	alive := func(m *memberlist.Memberlist) map[string]bool {
		got := map[string]bool{}
		for _, node := range m.Members() {
			if node.State == memberlist.StateAlive {
				got[node.Name] = true
			}
		}
		return got
	}
	require.Eventually(t, func() bool {
		for _, m := range lists {
			if len(alive(m)) != 3 {
				return false
			}
		}
		return true
	}, waitFor, 10*time.Millisecond, "all nodes see 3 alive members")

	n.Partition([]string{"a"}, []string{"b", "c"})
	require.Eventually(t, func() bool {
		return !alive(lists["b"])["a"] && !alive(lists["c"])["a"] &&
			alive(lists["b"])["c"] && alive(lists["c"])["b"]
	}, waitFor, 10*time.Millisecond, "b and c see a as not alive")
	assert.Positive(t, n.Stats().DroppedPartition)

	shutdown := func(name string) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- lists[name].Shutdown() }()
		select {
		case err := <-done:
			require.NoError(t, err, "Shutdown(%s)", name)
		case <-time.After(waitFor):
			require.FailNow(t, "memberlist Shutdown blocked", "node %s", name)
		}
	}
	shutdown("b")
	require.Eventually(t, func() bool { return !alive(lists["c"])["b"] }, waitFor, 10*time.Millisecond,
		"c sees the stopped b as not alive")
	assert.NotEmpty(t, lists["a"].Members(), "a still answers")
	shutdown("c")
	shutdown("a")
}
