package cluster

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/memberlist"
)

// Profile names a set of membership timings. All profiles start from one
// base (memberlist's LAN defaults) and override a few fields.
type Profile string

// The profiles a node can run with.
const (
	// ProfileLAN is memberlist's LAN defaults: for real clusters on a LAN.
	ProfileLAN Profile = "lan"
	// ProfileLocal detects failures fast (suspect within about 1 s, dead
	// within about 3 s): for development clusters on one machine.
	ProfileLocal Profile = "local"
	// ProfileSim is tuned for many virtual nodes on the simulator's
	// in-memory network: fast gossip, no compression.
	ProfileSim Profile = "sim"
)

// Roles a node can have.
const (
	// RoleWorker hosts processes; the default.
	RoleWorker = "worker"
	// RoleObserver joins the cluster to inspect and operate it but hosts no
	// workloads (the clusterlab app's own node).
	RoleObserver = "observer"
)

// Config describes one node. The zero value of every optional field picks a
// sensible default; Validate names the first field that is wrong.
type Config struct {
	// Name is the node's unique name in the cluster (required).
	Name string
	// Role is RoleWorker (default) or RoleObserver.
	Role string
	// Tags are free-form labels gossiped with the node (placement uses them).
	Tags map[string]string
	// Version is the software version gossiped with the node.
	Version string
	// APIAddr is the node's HTTP API address, if it serves one.
	APIAddr string
	// Profile picks membership timings; default ProfileLAN.
	Profile Profile
	// Network is the wire; default NetNetwork (real UDP/TCP).
	Network Network
	// Bind is the gossip "host:port"; empty lets the Network choose
	// (NetNetwork: 127.0.0.1 on a free port).
	Bind string
	// Advertise, when set, is the gossip "host:port" other nodes use.
	Advertise string
	// Label, when set, is prepended to every gossip packet and stream so
	// that clusters sharing a network stay apart (memberlist labels).
	Label string
	// SecretKey, when set, encrypts gossip (AES-128/192/256: 16, 24 or 32 bytes).
	SecretKey []byte
	// RejoinInterval is how often a node retries peers it has seen but no
	// longer sees alive, so that a healed partition merges; default by profile.
	RejoinInterval time.Duration
	// Discovery, when set, is re-resolved every DiscoveryInterval and the
	// addresses it finds that are not members yet are joined.
	Discovery Discovery
	// DiscoveryInterval is how often Discovery is re-resolved; default
	// 30 s (lan) or 5 s (local, sim).
	DiscoveryInterval time.Duration
	// RPCTimeout bounds a node-to-node request whose context has no
	// deadline; default 5 s.
	RPCTimeout time.Duration
	// Clock is the time source for timers; default the system clock.
	Clock Clock
	// Logger receives the node's logs; default discards them.
	Logger *slog.Logger
	// Resources measures the node's machine for health monitoring
	// (GopsutilSource on real nodes, ModelSource on virtual ones); nil
	// means the node reports no resource data.
	Resources ResourceSource
}

// DefaultRPCTimeout bounds requests whose context has no deadline.
const DefaultRPCTimeout = 5 * time.Second

// Validate reports the first invalid field, by name.
func (c Config) Validate() error {
	if err := ValidateNodeName(c.Name); err != nil {
		return fmt.Errorf("cluster: config Name: %w", err)
	}
	switch c.Role {
	case "", RoleWorker, RoleObserver:
	default:
		return fmt.Errorf("cluster: config Role: %q is not %q or %q", c.Role, RoleWorker, RoleObserver)
	}
	switch c.Profile {
	case "", ProfileLAN, ProfileLocal, ProfileSim:
	default:
		return fmt.Errorf("cluster: config Profile: unknown profile %q (want lan, local or sim)", c.Profile)
	}
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("cluster: config SecretKey: %d bytes, want 16, 24 or 32", len(c.SecretKey))
	}
	if c.RejoinInterval < 0 || c.RPCTimeout < 0 || c.DiscoveryInterval < 0 {
		return fmt.Errorf("cluster: config RejoinInterval/RPCTimeout: must not be negative")
	}
	if _, err := encodeMeta(c.meta("", maxIncarnation)); err != nil {
		return fmt.Errorf("cluster: config Tags: %w", err)
	}
	return nil
}

// withDefaults fills the optional fields.
func (c Config) withDefaults() Config {
	if c.Role == "" {
		c.Role = RoleWorker
	}
	if c.Profile == "" {
		c.Profile = ProfileLAN
	}
	if c.Network == nil {
		c.Network = NetNetwork{}
	}
	if c.RejoinInterval == 0 {
		c.RejoinInterval = c.Profile.rejoinInterval()
	}
	if c.RPCTimeout == 0 {
		c.RPCTimeout = DefaultRPCTimeout
	}
	if c.DiscoveryInterval == 0 {
		c.DiscoveryInterval = 30 * time.Second
		if c.Profile != ProfileLAN {
			c.DiscoveryInterval = 5 * time.Second
		}
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	// Resources stays nil when unset: no resource data.
	return c
}

func (p Profile) rejoinInterval() time.Duration {
	switch p {
	case ProfileLocal, ProfileSim:
		return time.Second
	default:
		return 10 * time.Second
	}
}

// MemberlistConfig returns the memberlist configuration of a profile: LAN
// defaults with the profile's overrides. Name, transport and delegates are
// set by the node.
func (p Profile) MemberlistConfig() *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	switch p {
	case ProfileLocal:
		mc.TCPTimeout = time.Second
		mc.IndirectChecks = 2
		mc.RetransmitMult = 3
		mc.SuspicionMult = 3
		mc.SuspicionMaxTimeoutMult = 3
		mc.PushPullInterval = 5 * time.Second
		mc.ProbeInterval = 250 * time.Millisecond
		mc.ProbeTimeout = 150 * time.Millisecond
		mc.GossipInterval = 50 * time.Millisecond
		mc.GossipToTheDeadTime = 5 * time.Second
		mc.DeadNodeReclaimTime = time.Second
		mc.AwarenessMaxMultiplier = 3
	case ProfileSim:
		mc.TCPTimeout = time.Second
		mc.IndirectChecks = 2
		mc.RetransmitMult = 3
		mc.SuspicionMult = 3
		mc.SuspicionMaxTimeoutMult = 3
		mc.PushPullInterval = 3 * time.Second
		mc.ProbeInterval = 250 * time.Millisecond
		mc.ProbeTimeout = 150 * time.Millisecond
		mc.GossipInterval = 50 * time.Millisecond
		mc.GossipNodes = 4
		mc.GossipToTheDeadTime = 5 * time.Second
		mc.DeadNodeReclaimTime = time.Second
		mc.AwarenessMaxMultiplier = 3
		mc.EnableCompression = false
	}
	return mc
}
