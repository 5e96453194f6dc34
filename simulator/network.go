// Package simulator runs virtual clusterlab nodes in one process, over an
// in-memory network whose faults a test or scenario controls.
//
// Network implements cluster.Network. Each Bind attaches one node: it gets a
// memberlist transport (packets and streams) and an RPC listener on an
// address in 127.200.0.0/16. Faults are set by node name while the nodes run,
// and survive a node's restart:
//
//	n := simulator.NewNetwork(42)
//	a, _ := n.Bind(cluster.BindConfig{Name: "a"}) // 127.200.0.1:7946
//	b, _ := n.Bind(cluster.BindConfig{Name: "b"}) // 127.200.0.2:7946
//	n.SetLatency("a", "b", 20*time.Millisecond, 5*time.Millisecond)
//	n.Partition([]string{"a"}, []string{"b"}) // a and b stop hearing each other
//	n.Heal()
//	n.Crash("b") // b goes silent; its streams are reset
//	n.Restore("b")
package simulator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/clusterlab/clusterlab/cluster"
)

// Sentinel errors returned (wrapped) by the simulated network. Test with
// errors.Is.
var (
	// ErrUnreachable reports a dial to an address with no live node behind
	// it, or to a node that a partition, cut or crash separates from the
	// dialer.
	ErrUnreachable = errors.New("simulator: node unreachable")
	// ErrConnReset reports a stream broken by a fault (partition, cut,
	// crash) or written after the peer closed it.
	ErrConnReset = errors.New("simulator: connection reset")
	// ErrInUse reports a Bind whose name or address a live endpoint holds.
	ErrInUse = errors.New("simulator: already bound")
	// ErrBufferFull reports a stream write that would queue more than the
	// per-direction limit of unread bytes.
	ErrBufferFull = errors.New("simulator: stream buffer full")
)

const (
	// DefaultGossipPort is the gossip port given to a node bound without
	// one; its RPC port is the gossip port + 1.
	DefaultGossipPort = 7946

	// packetQueue is the depth of an endpoint's packet channel; a packet
	// arriving at a full channel is dropped, as a kernel drops UDP.
	packetQueue = 4096
	// streamQueue is the depth of an endpoint's gossip and RPC accept
	// queues; a dial to a full queue fails.
	streamQueue = 1024
	// maxStreamBuffer caps the unread bytes queued in one stream direction.
	maxStreamBuffer = 16 << 20
)

// simPrefix is the block auto-assigned addresses come from: 127.200.0.0/16.
var simPrefix = netip.MustParsePrefix("127.200.0.0/16")

// Network is an in-memory cluster.Network for virtual nodes running real
// memberlist in one process, with fault injection: partitions, one-way cuts,
// per-link latency and packet loss, and crashes.
//
// Packets (memberlist's UDP) are delivered by a non-blocking send: nothing a
// node does, including stopping, can block another node's sender. Streams
// (memberlist's TCP and node-to-node RPC) are in-memory net.Conns with
// buffered writes.
//
// Faults are keyed by node name, not by endpoint, so they hold across a
// node's Close and re-Bind. All methods are safe for concurrent use and may
// be called while nodes run. Randomness (jitter and loss) comes from one
// source seeded by NewNetwork's seed.
type Network struct {
	mu  sync.Mutex
	rng *rand.Rand

	byName   map[string]*endpoint
	byGossip map[netip.AddrPort]*endpoint
	byRPC    map[netip.AddrPort]*endpoint
	nameIP   map[string]netip.Addr // auto-assigned IPs, kept for restarts
	ipName   map[netip.Addr]string
	nextIP   uint32 // offset in simPrefix of the last auto-assigned IP
	nextEph  int    // last ephemeral port handed to a dialer

	group   map[string]int // partition group per name (0 = unlisted); nil = none
	cuts    map[link]bool  // one-way cuts, from -> to
	crashed map[string]bool
	latency map[link]delay // per-link overrides, key from linkKey
	loss    map[link]float64
	defLat  delay
	defLoss float64

	pipes map[*pipe]struct{} // open streams, for resets on faults

	stats counters
}

// link names a pair of nodes. As a key of cuts it is directed (from, to);
// as a key of latency and loss it is normalised by linkKey.
type link struct{ from, to string }

func linkKey(a, b string) link {
	if a > b {
		a, b = b, a
	}
	return link{a, b}
}

// delay is a link's one-way latency: latency plus a uniform [0, jitter).
type delay struct{ latency, jitter time.Duration }

// NewNetwork returns an empty network whose jitter and loss draw from a
// random source seeded by seed.
func NewNetwork(seed int64) *Network {
	return &Network{
		rng:      rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		byName:   make(map[string]*endpoint),
		byGossip: make(map[netip.AddrPort]*endpoint),
		byRPC:    make(map[netip.AddrPort]*endpoint),
		nameIP:   make(map[string]netip.Addr),
		ipName:   make(map[netip.Addr]string),
		cuts:     make(map[link]bool),
		crashed:  make(map[string]bool),
		latency:  make(map[link]delay),
		loss:     make(map[link]float64),
		pipes:    make(map[*pipe]struct{}),
	}
}

var _ cluster.Network = (*Network)(nil)

// Bind implements cluster.Network. cfg.Name must be unique among live
// endpoints. The node's gossip address is cfg.Advertise when set, else
// cfg.Bind (the simulated network has no NAT, so a node has exactly one
// address). An empty or unspecified host gets an IP of its own from
// 127.200.0.0/16, the same one each time the name binds; port 0 becomes
// DefaultGossipPort, or the next free even port on that IP. The RPC address
// is the gossip IP with the gossip port + 1.
//
// Bind fails with ErrInUse while another live endpoint holds the name or
// either address; after that endpoint's Close the name may bind again.
func (n *Network) Bind(cfg cluster.BindConfig) (cluster.Endpoint, error) {
	if cfg.Name == "" {
		return nil, errors.New("simulator: bind: node name is empty")
	}
	spec := cfg.Bind
	if cfg.Advertise != "" {
		spec = cfg.Advertise
	}
	ip, port, err := parseBind(spec)
	if err != nil {
		return nil, fmt.Errorf("simulator: bind node %s: %w", cfg.Name, err)
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.byName[cfg.Name]; ok {
		return nil, fmt.Errorf("%w: node %s is live at %s; close its endpoint first", ErrInUse, cfg.Name, old.gossip)
	}
	if !ip.IsValid() {
		if ip, err = n.allocIPLocked(cfg.Name); err != nil {
			return nil, err
		}
	}
	if port == 0 {
		port = n.freePortLocked(ip)
		if port == 0 {
			return nil, fmt.Errorf("simulator: bind node %s: no free port on %s", cfg.Name, ip)
		}
	}
	if port >= 65535 {
		return nil, fmt.Errorf("simulator: bind node %s: gossip port %d leaves no room for the rpc port", cfg.Name, port)
	}
	gossip := netip.AddrPortFrom(ip, uint16(port))
	rpc := netip.AddrPortFrom(ip, uint16(port+1))
	for _, ap := range []netip.AddrPort{gossip, rpc} {
		if !n.freeLocked(ap) {
			return nil, fmt.Errorf("%w: bind node %s: address %s is held by a live node", ErrInUse, cfg.Name, ap)
		}
	}

	e := newEndpoint(n, cfg.Name, gossip, rpc)
	n.byName[e.name] = e
	n.byGossip[gossip] = e
	n.byRPC[rpc] = e
	return e, nil
}

// parseBind splits a "host:port" into an IP (invalid when the host is empty
// or unspecified) and a port (0 when empty or "0").
func parseBind(spec string) (netip.Addr, int, error) {
	if spec == "" {
		return netip.Addr{}, 0, nil
	}
	host, ps, err := net.SplitHostPort(spec)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("address %q: %w", spec, err)
	}
	var ip netip.Addr
	if host != "" {
		if ip, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}, 0, fmt.Errorf("address %q: host must be an IP: %w", spec, err)
		}
		ip = ip.Unmap()
		if ip.IsUnspecified() {
			ip = netip.Addr{}
		}
	}
	port := 0
	if ps != "" {
		if port, err = strconv.Atoi(ps); err != nil || port < 0 || port > 65535 {
			return netip.Addr{}, 0, fmt.Errorf("address %q: bad port", spec)
		}
	}
	return ip, port, nil
}

// allocIPLocked returns name's IP from an earlier Bind, or the next IP in
// simPrefix that no name owns and no live endpoint uses.
func (n *Network) allocIPLocked(name string) (netip.Addr, error) {
	if ip, ok := n.nameIP[name]; ok {
		return ip, nil
	}
	base := simPrefix.Addr().As4()
	size := uint32(1) << (32 - simPrefix.Bits())
	for range size {
		n.nextIP = n.nextIP%(size-2) + 1 // skip the network and broadcast addresses
		ip := netip.AddrFrom4([4]byte{base[0], base[1], byte(n.nextIP >> 8), byte(n.nextIP)})
		if _, owned := n.ipName[ip]; owned || n.ipUsedLocked(ip) {
			continue
		}
		n.nameIP[name] = ip
		n.ipName[ip] = name
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("simulator: bind node %s: no free address in %s", name, simPrefix)
}

func (n *Network) ipUsedLocked(ip netip.Addr) bool {
	for ap := range n.byGossip {
		if ap.Addr() == ip {
			return true
		}
	}
	for ap := range n.byRPC {
		if ap.Addr() == ip {
			return true
		}
	}
	return false
}

// freePortLocked returns the first port p >= DefaultGossipPort, stepping by
// two, with p and p+1 free on ip; 0 if there is none.
func (n *Network) freePortLocked(ip netip.Addr) int {
	for p := DefaultGossipPort; p < 65535; p += 2 {
		if n.freeLocked(netip.AddrPortFrom(ip, uint16(p))) && n.freeLocked(netip.AddrPortFrom(ip, uint16(p+1))) {
			return p
		}
	}
	return 0
}

func (n *Network) freeLocked(ap netip.AddrPort) bool {
	return n.byGossip[ap] == nil && n.byRPC[ap] == nil
}

// detach removes a closing endpoint from the address tables and returns the
// open streams it is one end of.
func (n *Network) detach(e *endpoint) []*pipe {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.byName[e.name] == e {
		delete(n.byName, e.name)
	}
	if n.byGossip[e.gossip] == e {
		delete(n.byGossip, e.gossip)
	}
	if n.byRPC[e.rpc] == e {
		delete(n.byRPC, e.rpc)
	}
	var ps []*pipe
	for p := range n.pipes {
		if p.eps[0] == e || p.eps[1] == e {
			ps = append(ps, p)
		}
	}
	return ps
}

// Partition splits the network: nodes in different groups can exchange
// neither packets nor streams. Nodes named in no group form one more group
// together. A name listed in several groups belongs to the last. Partition
// replaces any earlier partition; with no groups it removes it. Streams
// crossing the new partition are reset.
func (n *Network) Partition(groups ...[]string) {
	n.mu.Lock()
	n.group = nil
	if len(groups) > 0 {
		n.group = make(map[string]int)
		for i, g := range groups {
			for _, name := range g {
				n.group[name] = i + 1
			}
		}
	}
	broken := n.brokenPipesLocked()
	n.mu.Unlock()
	n.resetAll(broken)
}

// Heal removes the partition and all one-way cuts. Latency, loss and
// crashes stay as they are.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.group = nil
	clear(n.cuts)
}

// Cut drops packets from one node to another, one way: packets to -> from
// still flow. Streams between the two break in both directions (a stream
// needs both ways), so open ones are reset and dials fail. Undo with Uncut
// or Heal.
func (n *Network) Cut(from, to string) {
	n.mu.Lock()
	n.cuts[link{from, to}] = true
	broken := n.brokenPipesLocked()
	n.mu.Unlock()
	n.resetAll(broken)
}

// Uncut removes the one-way cut from -> to, if any.
func (n *Network) Uncut(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.cuts, link{from, to})
}

// Crash makes a node go silent, as if its host lost power: packets to and
// from it are dropped, dials to and from it fail, and its open streams are
// reset on both ends. The node's own code keeps running. The crash holds by
// name, across Close and Bind, until Restore.
func (n *Network) Crash(name string) {
	n.mu.Lock()
	n.crashed[name] = true
	broken := n.brokenPipesLocked()
	n.mu.Unlock()
	n.resetAll(broken)
}

// Restore undoes Crash: the node is reachable again (faults set by other
// calls still apply).
func (n *Network) Restore(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.crashed, name)
}

// SetLatency sets the one-way delay of the link between a and b, both
// directions: each packet and each stream write is delivered after latency
// plus a uniform random [0, jitter). Stream writes keep their order.
// Negative durations count as zero. It overrides SetDefaultLatency for this
// link until ClearLink.
func (n *Network) SetLatency(a, b string, latency, jitter time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.latency[linkKey(a, b)] = delay{max(latency, 0), max(jitter, 0)}
}

// SetLoss sets the probability, clamped to 0..1, that a packet on the link
// between a and b, either direction, is dropped. Streams are not lossy. It
// overrides SetDefaultLoss for this link until ClearLink.
func (n *Network) SetLoss(a, b string, p float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.loss[linkKey(a, b)] = clampProb(p)
}

// ClearLink removes the latency and loss set for the link between a and b,
// so the defaults apply to it again.
func (n *Network) ClearLink(a, b string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.latency, linkKey(a, b))
	delete(n.loss, linkKey(a, b))
}

// SetDefaultLatency sets the delay of every link without its own
// SetLatency.
func (n *Network) SetDefaultLatency(latency, jitter time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.defLat = delay{max(latency, 0), max(jitter, 0)}
}

// SetDefaultLoss sets the packet loss probability of every link without its
// own SetLoss.
func (n *Network) SetDefaultLoss(p float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.defLoss = clampProb(p)
}

func clampProb(p float64) float64 {
	switch {
	case p > 0 && p <= 1:
		return p
	case p > 1:
		return 1
	default: // negative or NaN
		return 0
	}
}

// Reachable reports whether a packet sent now from node from to node to
// would be delivered, loss aside: both are bound, neither is crashed, and no
// partition or cut separates them in that direction.
func (n *Network) Reachable(from, to string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.byName[from] != nil && n.byName[to] != nil && n.linkUpLocked(from, to)
}

// linkUpLocked reports whether faults let packets flow from -> to.
func (n *Network) linkUpLocked(from, to string) bool {
	return !n.crashed[from] && !n.crashed[to] && n.group[from] == n.group[to] && !n.cuts[link{from, to}]
}

// streamUpLocked reports whether faults let a stream join a and b.
func (n *Network) streamUpLocked(a, b string) bool {
	return n.linkUpLocked(a, b) && n.linkUpLocked(b, a)
}

// brokenPipesLocked unregisters and returns the open streams the current
// faults break.
func (n *Network) brokenPipesLocked() []*pipe {
	var broken []*pipe
	for p := range n.pipes {
		if !n.streamUpLocked(p.names[0], p.names[1]) {
			delete(n.pipes, p)
			broken = append(broken, p)
		}
	}
	return broken
}

func (n *Network) resetAll(ps []*pipe) {
	for _, p := range ps {
		if p.reset(ErrConnReset) {
			n.stats.streamsReset.Add(1)
		}
	}
}

// forget unregisters a stream both ends have closed.
func (n *Network) forget(p *pipe) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.pipes, p)
}

// drawDelayLocked draws the one-way delay of the link between a and b.
func (n *Network) drawDelayLocked(a, b string) time.Duration {
	d, ok := n.latency[linkKey(a, b)]
	if !ok {
		d = n.defLat
	}
	if d.jitter > 0 {
		return d.latency + time.Duration(n.rng.Int64N(int64(d.jitter)))
	}
	return d.latency
}

// drawLossLocked reports whether a packet on the link between a and b is
// lost.
func (n *Network) drawLossLocked(a, b string) bool {
	p, ok := n.loss[linkKey(a, b)]
	if !ok {
		p = n.defLoss
	}
	switch {
	case p <= 0:
		return false
	case p >= 1:
		return true
	default:
		return n.rng.Float64() < p
	}
}

// linkDelay draws the delay of one stream write from -> to.
func (n *Network) linkDelay(from, to string) time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.drawDelayLocked(from, to)
}

// dropReason says why a packet was not delivered.
type dropReason int

const (
	delivered dropReason = iota
	dropPartition
	dropLoss
	dropUnreachable
	dropFull
)

// routeLocked finds the endpoint at dst and says whether faults let a packet
// from the node named from reach it.
func (n *Network) routeLocked(from string, dst netip.AddrPort) (*endpoint, dropReason) {
	e := n.byGossip[dst]
	switch {
	case e == nil || n.crashed[from] || n.crashed[e.name]:
		return nil, dropUnreachable
	case !n.linkUpLocked(from, e.name):
		return nil, dropPartition
	}
	return e, delivered
}

// sendPacket carries one packet from src to the gossip address addr. It
// never blocks; a packet that cannot be delivered is dropped and counted.
func (n *Network) sendPacket(src *endpoint, b []byte, addr string) (time.Time, error) {
	now := time.Now()
	from := net.UDPAddrFromAddrPort(src.gossip)
	dst, err := parseAddrPort(addr)
	if err != nil {
		return now, &net.OpError{Op: "write", Net: "udp", Source: from, Err: err}
	}
	if src.isClosed() {
		return now, &net.OpError{Op: "write", Net: "udp", Source: from, Addr: net.UDPAddrFromAddrPort(dst), Err: net.ErrClosed}
	}
	n.stats.packetsSent.Add(1)
	buf := append([]byte(nil), b...)

	n.mu.Lock()
	e, reason := n.routeLocked(src.name, dst)
	var d time.Duration
	if reason == delivered {
		if n.drawLossLocked(src.name, e.name) {
			reason = dropLoss
		} else {
			d = n.drawDelayLocked(src.name, e.name)
		}
	}
	n.mu.Unlock()

	switch {
	case reason != delivered:
		n.stats.drop(reason)
	case d <= 0:
		n.push(e, buf, from)
	default:
		// Route again on arrival: the destination may have crashed,
		// restarted or been partitioned away while the packet flew.
		name := src.name
		time.AfterFunc(d, func() {
			n.mu.Lock()
			e, reason := n.routeLocked(name, dst)
			n.mu.Unlock()
			if reason != delivered {
				n.stats.drop(reason)
				return
			}
			n.push(e, buf, from)
		})
	}
	return now, nil
}

// push hands a packet to e without blocking; a full queue drops it. The
// packet channel is never closed, so a push racing e's Close is harmless.
func (n *Network) push(e *endpoint, buf []byte, from net.Addr) {
	select {
	case e.packetCh <- &memberlist.Packet{Buf: buf, From: from, Timestamp: time.Now()}:
		n.stats.packetsDelivered.Add(1)
		n.stats.packetBytes.Add(uint64(len(buf)))
	default:
		n.stats.drop(dropFull)
	}
}

// dial opens a stream from src to the gossip (rpc false) or RPC address
// addr and queues the far end on the destination's accept queue.
func (n *Network) dial(src *endpoint, addr string, rpc bool) (net.Conn, error) {
	dst, err := parseAddrPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	remote := net.TCPAddrFromAddrPort(dst)
	fail := func(err error) (net.Conn, error) {
		n.stats.streamsRefused.Add(1)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: remote, Err: err}
	}
	if src.isClosed() {
		return fail(net.ErrClosed)
	}

	n.mu.Lock()
	table := n.byGossip
	if rpc {
		table = n.byRPC
	}
	e := table[dst]
	switch {
	case e == nil:
		n.mu.Unlock()
		return fail(fmt.Errorf("%w: no node listens at %s", ErrUnreachable, dst))
	case n.crashed[src.name] || n.crashed[e.name]:
		n.mu.Unlock()
		return fail(fmt.Errorf("%w: node %s from %s: crashed", ErrUnreachable, e.name, src.name))
	case !n.streamUpLocked(src.name, e.name):
		n.mu.Unlock()
		return fail(fmt.Errorf("%w: node %s from %s: partitioned", ErrUnreachable, e.name, src.name))
	}
	n.nextEph = 32768 + (n.nextEph-32768+1)%28232 // Linux's ephemeral range
	local := netip.AddrPortFrom(src.gossip.Addr(), uint16(n.nextEph))
	p := newPipe(n, [2]*endpoint{src, e}, net.TCPAddrFromAddrPort(local), remote)
	n.pipes[p] = struct{}{}
	n.mu.Unlock()

	if err := e.offer(&p.sides[1], rpc); err != nil {
		p.reset(err)
		n.forget(p)
		return fail(err)
	}
	n.stats.streamsOpened.Add(1)
	return &p.sides[0], nil
}

// parseAddrPort parses a numeric "ip:port".
func parseAddrPort(addr string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("simulator: address %q: %w", addr, err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// NetworkStats counts what a Network has carried since NewNetwork.
type NetworkStats struct {
	// PacketsSent counts packets live endpoints handed to WriteTo.
	PacketsSent uint64
	// PacketsDelivered counts packets queued on a destination's channel.
	PacketsDelivered uint64
	// DroppedPartition counts packets dropped by a partition or cut.
	DroppedPartition uint64
	// DroppedLoss counts packets dropped by link loss.
	DroppedLoss uint64
	// DroppedUnreachable counts packets to an address with no live node,
	// or to or from a crashed node.
	DroppedUnreachable uint64
	// DroppedFull counts packets dropped because the destination's channel
	// was full.
	DroppedFull uint64
	// PacketBytes counts the payload bytes of delivered packets.
	PacketBytes uint64
	// StreamsOpened counts successful dials, gossip and RPC.
	StreamsOpened uint64
	// StreamsRefused counts failed dials.
	StreamsRefused uint64
	// StreamsReset counts open streams broken by a fault.
	StreamsReset uint64
	// StreamBytes counts bytes accepted by stream writes.
	StreamBytes uint64
}

// PacketsDropped is the number of packets dropped for any reason.
func (s NetworkStats) PacketsDropped() uint64 {
	return s.DroppedPartition + s.DroppedLoss + s.DroppedUnreachable + s.DroppedFull
}

type counters struct {
	packetsSent, packetsDelivered, packetBytes               atomic.Uint64
	dropPartition, dropLoss, dropUnreachable, dropFull       atomic.Uint64
	streamsOpened, streamsRefused, streamsReset, streamBytes atomic.Uint64
}

func (c *counters) drop(r dropReason) {
	switch r {
	case dropPartition:
		c.dropPartition.Add(1)
	case dropLoss:
		c.dropLoss.Add(1)
	case dropUnreachable:
		c.dropUnreachable.Add(1)
	case dropFull:
		c.dropFull.Add(1)
	}
}

// Stats returns a snapshot of the network's counters. Counters are read one
// by one, so a snapshot taken under traffic may be off by in-flight packets.
func (n *Network) Stats() NetworkStats {
	c := &n.stats
	return NetworkStats{
		PacketsSent:        c.packetsSent.Load(),
		PacketsDelivered:   c.packetsDelivered.Load(),
		DroppedPartition:   c.dropPartition.Load(),
		DroppedLoss:        c.dropLoss.Load(),
		DroppedUnreachable: c.dropUnreachable.Load(),
		DroppedFull:        c.dropFull.Load(),
		PacketBytes:        c.packetBytes.Load(),
		StreamsOpened:      c.streamsOpened.Load(),
		StreamsRefused:     c.streamsRefused.Load(),
		StreamsReset:       c.streamsReset.Load(),
		StreamBytes:        c.streamBytes.Load(),
	}
}

// endpoint is one node's attachment: it implements cluster.Endpoint, and
// its transport implements memberlist.NodeAwareTransport.
type endpoint struct {
	net    *Network
	name   string
	gossip netip.AddrPort
	rpc    netip.AddrPort

	packetCh chan *memberlist.Packet // never closed
	streamCh chan net.Conn           // never closed
	acceptCh chan net.Conn           // never closed
	tr       transport
	ln       listener

	mu       sync.Mutex
	closed   bool
	lnClosed bool
	lnDone   chan struct{} // closed with lnClosed
}

func newEndpoint(n *Network, name string, gossip, rpc netip.AddrPort) *endpoint {
	e := &endpoint{
		net:      n,
		name:     name,
		gossip:   gossip,
		rpc:      rpc,
		packetCh: make(chan *memberlist.Packet, packetQueue),
		streamCh: make(chan net.Conn, streamQueue),
		acceptCh: make(chan net.Conn, streamQueue),
		lnDone:   make(chan struct{}),
	}
	e.tr.e = e
	e.ln.e = e
	return e
}

var _ cluster.Endpoint = (*endpoint)(nil)

func (e *endpoint) Transport() memberlist.NodeAwareTransport { return &e.tr }
func (e *endpoint) GossipAddr() (string, int)                { return e.gossip.Addr().String(), int(e.gossip.Port()) }
func (e *endpoint) Listener() net.Listener                   { return &e.ln }
func (e *endpoint) RPCAddr() string                          { return e.rpc.String() }

func (e *endpoint) Dial(ctx context.Context, addr string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	return e.net.dial(e, addr, true)
}

// Close detaches the endpoint: its addresses and name are free to bind
// again, its listener stops, and its ends of open streams close, so peers
// read EOF.
func (e *endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.closeListenerLocked()
	e.mu.Unlock()

	for _, p := range e.net.detach(e) {
		for i := range p.sides {
			if p.eps[i] == e {
				_ = p.sides[i].Close()
			}
		}
	}
	return nil
}

func (e *endpoint) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

func (e *endpoint) closeListenerLocked() {
	if !e.lnClosed {
		e.lnClosed = true
		close(e.lnDone)
	}
}

// offer queues the server end of a new stream on the gossip or RPC accept
// queue without blocking.
func (e *endpoint) offer(c net.Conn, rpc bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := e.streamCh
	switch {
	case e.closed:
		return fmt.Errorf("%w: node %s is closed", ErrUnreachable, e.name)
	case rpc && e.lnClosed:
		return fmt.Errorf("%w: node %s does not listen for rpc", ErrUnreachable, e.name)
	case rpc:
		ch = e.acceptCh
	}
	select {
	case ch <- c:
		return nil
	default:
		return fmt.Errorf("%w: node %s: accept queue full", ErrUnreachable, e.name)
	}
}

// transport is an endpoint's memberlist.NodeAwareTransport.
type transport struct{ e *endpoint }

var _ memberlist.NodeAwareTransport = (*transport)(nil)

// FinalAdvertiseAddr returns the endpoint's gossip address; the arguments
// are ignored since the simulated network has no other.
func (t *transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return net.IP(t.e.gossip.Addr().AsSlice()), int(t.e.gossip.Port()), nil
}

func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.e.net.sendPacket(t.e, b, addr)
}

func (t *transport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	return t.e.net.sendPacket(t.e, b, addr.Addr)
}

func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.e.packetCh }

// DialTimeout connects at once or fails at once, so timeout is unused.
func (t *transport) DialTimeout(addr string, _ time.Duration) (net.Conn, error) {
	return t.e.net.dial(t.e, addr, false)
}

func (t *transport) DialAddressTimeout(addr memberlist.Address, _ time.Duration) (net.Conn, error) {
	return t.e.net.dial(t.e, addr.Addr, false)
}

func (t *transport) StreamCh() <-chan net.Conn { return t.e.streamCh }

// Shutdown closes the whole endpoint, as memberlist's NetTransport closes
// its sockets.
func (t *transport) Shutdown() error { return t.e.Close() }

// listener is an endpoint's RPC net.Listener.
type listener struct{ e *endpoint }

func (l *listener) Accept() (net.Conn, error) {
	select {
	case <-l.e.lnDone:
		return nil, l.closedErr()
	default:
	}
	select {
	case c := <-l.e.acceptCh:
		return c, nil
	case <-l.e.lnDone:
		return nil, l.closedErr()
	}
}

func (l *listener) closedErr() error {
	return &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
}

// Close stops accepting; streams queued but not accepted are closed.
func (l *listener) Close() error {
	l.e.mu.Lock()
	l.e.closeListenerLocked()
	l.e.mu.Unlock()
	for {
		select {
		case c := <-l.e.acceptCh:
			_ = c.Close()
		default:
			return nil
		}
	}
}

func (l *listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.e.rpc) }
