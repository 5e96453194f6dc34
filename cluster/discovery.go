package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// Discovery finds seed addresses, like libcluster's strategies. A node with
// a Discovery re-resolves it periodically and joins addresses it does not
// know yet, so a DNS name in front of changing nodes (a headless Kubernetes
// service) keeps working as a seed. Seeds may be called concurrently.
type Discovery interface {
	// Seeds returns gossip addresses ("host:port") to join.
	Seeds(ctx context.Context) ([]string, error)
	// String describes the discovery for logs and errors.
	String() string
}

// StaticSeeds is a fixed list of gossip addresses.
type StaticSeeds []string

// Seeds implements Discovery.
func (s StaticSeeds) Seeds(context.Context) ([]string, error) { return slices.Clone(s), nil }

// String implements Discovery.
func (s StaticSeeds) String() string { return "static " + strings.Join(s, ",") }

// DNSSeeds resolves a DNS name to seeds: SRV records first (target and port
// from each record), then A/AAAA records with Port.
type DNSSeeds struct {
	// Name is the DNS name, e.g. "clusterlab.default.svc.cluster.local" or
	// an SRV name such as "_gossip._udp.clusterlab.local".
	Name string
	// Port is the gossip port used with A/AAAA records; default 7946.
	Port int
	// Resolver resolves names; default net.DefaultResolver.
	Resolver *net.Resolver
}

// Seeds implements Discovery.
func (d DNSSeeds) Seeds(ctx context.Context) ([]string, error) {
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	port := d.Port
	if port == 0 {
		port = 7946
	}
	var seeds []string
	if _, srvs, err := r.LookupSRV(ctx, "", "", d.Name); err == nil {
		for _, s := range srvs {
			host := strings.TrimSuffix(s.Target, ".")
			addrs, err := r.LookupHost(ctx, host)
			if err != nil {
				continue
			}
			for _, a := range addrs {
				seeds = append(seeds, net.JoinHostPort(a, strconv.Itoa(int(s.Port))))
			}
		}
	}
	if len(seeds) == 0 {
		addrs, err := r.LookupHost(ctx, d.Name)
		if err != nil {
			return nil, fmt.Errorf("cluster: discover %s: %w", d, err)
		}
		for _, a := range addrs {
			seeds = append(seeds, net.JoinHostPort(a, strconv.Itoa(port)))
		}
	}
	slices.Sort(seeds)
	return slices.Compact(seeds), nil
}

// String implements Discovery.
func (d DNSSeeds) String() string { return "dns " + d.Name }

// Join failures, each wrapped with the seed and what to do.
var (
	// ErrNoSeed reports that no seed answered.
	ErrNoSeed = errors.New("cluster: no seed answered")
	// ErrKeyMismatch reports gossip encryption that does not match the seed's.
	ErrKeyMismatch = errors.New("cluster: gossip key mismatch")
	// ErrLabelMismatch reports a seed that hung up, as it does when the
	// cluster labels differ.
	ErrLabelMismatch = errors.New("cluster: cluster label mismatch")
	// ErrNameClash reports a node name already used by another node.
	ErrNameClash = errors.New("cluster: node name clash")
)

// explainJoinError turns memberlist's join errors into one that says which
// failure it is and what to do.
func (n *Node) explainJoinError(seeds []string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no installed keys could decrypt"):
		return fmt.Errorf("%w: seeds %v use a different gossip key than node %s: use the cluster's key (base64, 16/24/32 bytes)", ErrKeyMismatch, seeds, n.name)
	case strings.Contains(msg, "remote state is encrypted and encryption is not configured"):
		return fmt.Errorf("%w: seeds %v encrypt gossip but node %s has no key: pass the cluster's gossip key", ErrKeyMismatch, seeds, n.name)
	case strings.Contains(msg, "Encryption is configured but remote state is not encrypted"), strings.Contains(msg, "encryption is configured but remote state is not encrypted"):
		return fmt.Errorf("%w: node %s encrypts gossip but seeds %v do not: join without a key or give the cluster one", ErrKeyMismatch, n.name, seeds)
	case strings.Contains(msg, "EOF"), strings.Contains(msg, "connection reset"):
		return fmt.Errorf("%w: seeds %v closed the connection: check that both sides use the same label (this node: %q) and gossip key", ErrLabelMismatch, seeds, n.cfg.Label)
	default:
		return fmt.Errorf("%w: node %s tried %v: %v", ErrNoSeed, n.name, seeds, oneLine(msg))
	}
}

// oneLine folds memberlist's multi-line error lists.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n\t* ", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.Join(strings.Fields(s), " ")
}

// conflictDelegate notices another node using this node's name.
type conflictDelegate struct{ n *Node }

func (c *conflictDelegate) NotifyConflict(existing, other *memberlist.Node) {
	if existing.Name != c.n.name {
		return
	}
	addr := other.Address()
	c.n.clash.Store(&addr)
	c.n.log.Error("another node uses this node's name", "name", c.n.name, "other", addr)
}

// JoinDiscovered resolves the configured Discovery and joins what it finds.
func (n *Node) JoinDiscovered(ctx context.Context) (int, error) {
	if n.cfg.Discovery == nil {
		return 0, fmt.Errorf("cluster: node %s has no discovery configured", n.name)
	}
	seeds, err := n.cfg.Discovery.Seeds(ctx)
	if err != nil {
		return 0, err
	}
	if len(seeds) == 0 {
		return 0, fmt.Errorf("%w: %s found no seeds", ErrNoSeed, n.cfg.Discovery)
	}
	return n.Join(ctx, seeds)
}

// discover re-resolves the Discovery and joins addresses not yet members.
func (n *Node) discover() {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	seeds, err := n.cfg.Discovery.Seeds(ctx)
	if err != nil {
		n.log.Debug("discovery failed", "discovery", n.cfg.Discovery.String(), "err", err)
		return
	}
	known := map[string]bool{n.Addr(): true}
	for _, m := range n.Members() {
		if m.State == StateAlive || m.State == StateSuspect {
			known[m.Addr] = true
		}
	}
	var fresh []string
	for _, s := range seeds {
		if !known[s] {
			fresh = append(fresh, s)
		}
	}
	if len(fresh) > 0 {
		_, _ = n.ml.Join(fresh)
	}
}
