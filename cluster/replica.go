package cluster

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/hashicorp/memberlist"
)

// Replica is a piece of cluster-wide state that every node keeps a copy of
// (the registry, supervisor specs, sandboxes). The node carries it over
// memberlist: deltas as gossip broadcasts (re-broadcast by each node they
// change, since memberlist does not relay user broadcasts) and whole
// snapshots in push/pull anti-entropy, so that a node that missed a delta,
// or a partition that heals, converges.
//
// Its methods are called concurrently from memberlist's goroutines and must
// not block. Every input comes from the network: decode defensively and
// return an error, never panic.
type Replica interface {
	// Snapshot encodes the whole state for push/pull.
	Snapshot() []byte
	// MergeSnapshot merges another node's snapshot.
	MergeSnapshot(b []byte) error
	// MergeDelta merges one broadcast delta and reports whether it changed
	// local state (a changed delta is passed on).
	MergeDelta(b []byte) (changed bool, err error)
}

// Replica kinds carried in gossip.
const (
	ReplicaRegistry   byte = 1
	ReplicaSupervisor byte = 2
	ReplicaSandbox    byte = 3
)

const (
	gossipMagic     byte = 0xC1
	snapshotVersion byte = 1
	// maxSnapshot bounds one replica's snapshot (memberlist's own push/pull
	// limit is larger; ours keeps a bad peer from making us allocate much).
	maxSnapshot = 16 << 20
	// maxDelta keeps a delta inside one gossip packet.
	maxDelta = 1000
)

type replicaSet struct {
	mu sync.RWMutex
	m  map[byte]Replica
}

// AddReplica attaches a replica of the given kind to the node. Call it
// before Start.
func (n *Node) AddReplica(kind byte, r Replica) {
	n.replicas.mu.Lock()
	defer n.replicas.mu.Unlock()
	if n.replicas.m == nil {
		n.replicas.m = make(map[byte]Replica)
	}
	n.replicas.m[kind] = r
}

func (n *Node) replica(kind byte) Replica {
	n.replicas.mu.RLock()
	defer n.replicas.mu.RUnlock()
	return n.replicas.m[kind]
}

// Broadcast gossips a delta of a replica to the cluster. key names what the
// delta is about: a newer delta with the same key replaces a queued older
// one. Deltas too large for a gossip packet go to every live member over
// RPC instead.
func (n *Node) Broadcast(kind byte, key string, delta []byte) {
	if !n.running() {
		return
	}
	msg := make([]byte, 0, 2+len(delta))
	msg = append(msg, gossipMagic, kind)
	msg = append(msg, delta...)
	if len(msg) > maxDelta {
		for _, name := range n.AliveMembers() {
			if name != n.name {
				_ = n.Notify(n.ctx, name, methodDelta, msg)
			}
		}
		return
	}
	n.bcast.QueueBroadcast(&broadcast{key: fmt.Sprintf("%d/%s", kind, key), msg: msg})
}

// broadcast is one queued delta.
type broadcast struct {
	key string
	msg []byte
}

func (b *broadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*broadcast)
	return ok && o.key == b.key
}
func (b *broadcast) Name() string    { return b.key }
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished()       {}

const methodDelta = "replica.delta"

// receiveDelta applies a gossip message and passes it on when it changed
// something.
func (n *Node) receiveDelta(msg []byte) {
	if len(msg) < 2 || msg[0] != gossipMagic {
		n.stats.badFrames.Add(1)
		return
	}
	r := n.replica(msg[1])
	if r == nil {
		return
	}
	changed, err := r.MergeDelta(msg[2:])
	if err != nil {
		n.stats.badFrames.Add(1)
		n.log.Debug("dropped malformed delta", "kind", msg[1], "err", err)
		return
	}
	if changed && len(msg) <= maxDelta && n.running() {
		cp := append([]byte(nil), msg...)
		n.bcast.QueueBroadcast(&broadcast{key: fmt.Sprintf("%d/relay/%x", msg[1], cp), msg: cp})
	}
}

// snapshot encodes every replica: magic, version, then kind | u32 len | bytes.
func (n *Node) snapshot() []byte {
	n.replicas.mu.RLock()
	defer n.replicas.mu.RUnlock()
	if len(n.replicas.m) == 0 {
		return nil
	}
	out := []byte{gossipMagic, snapshotVersion}
	for kind, r := range n.replicas.m {
		b := r.Snapshot()
		out = append(out, kind)
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

// mergeSnapshot decodes a snapshot from another node and merges each part.
func (n *Node) mergeSnapshot(buf []byte) {
	if err := n.mergeSnapshotErr(buf); err != nil {
		n.stats.badFrames.Add(1)
		n.log.Debug("dropped malformed snapshot", "err", err)
	}
}

func (n *Node) mergeSnapshotErr(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if len(buf) < 2 || buf[0] != gossipMagic {
		return fmt.Errorf("%w: snapshot header", ErrBadFrame)
	}
	if buf[1] != snapshotVersion {
		return fmt.Errorf("%w: snapshot version %d", ErrBadFrame, buf[1])
	}
	b := buf[2:]
	for len(b) > 0 {
		if len(b) < 5 {
			return fmt.Errorf("%w: truncated snapshot part", ErrBadFrame)
		}
		kind, size := b[0], binary.BigEndian.Uint32(b[1:5])
		b = b[5:]
		if size > maxSnapshot || int(size) > len(b) {
			return fmt.Errorf("%w: snapshot part of %d bytes", ErrBadFrame, size)
		}
		part := b[:size]
		b = b[size:]
		if r := n.replica(kind); r != nil {
			if err := r.MergeSnapshot(part); err != nil {
				return err
			}
		}
	}
	return nil
}
