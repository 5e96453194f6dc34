package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// NodeMeta is what a node gossips about itself in memberlist's node
// metadata. memberlist panics past MetaMaxSize (512 bytes), so encodeMeta
// refuses anything larger.
type NodeMeta struct {
	Role    string            `json:"r,omitempty"`
	Tags    map[string]string `json:"t,omitempty"`
	Version string            `json:"v,omitempty"`
	API     string            `json:"a,omitempty"`
	RPC     string            `json:"p,omitempty"`
	// Leaving is set just before a graceful leave, so that others record
	// "left" rather than "dead".
	Leaving bool `json:"l,omitempty"`
	// Incarnation tells the runs of one node name apart: the time the
	// node started, in Unix milliseconds, so a restarted node has a
	// larger one. Membership events and the health timeline carry it.
	Incarnation uint64 `json:"i,omitempty"`
}

// maxIncarnation is the widest incarnation, for the size check of a
// configuration before the node starts.
const maxIncarnation = ^uint64(0)

func (c Config) meta(rpcAddr string, incarnation uint64) NodeMeta {
	return NodeMeta{Role: c.Role, Tags: c.Tags, Version: c.Version, API: c.APIAddr, RPC: rpcAddr, Incarnation: incarnation}
}

// encodeMeta encodes m, failing with ErrMetaTooLarge past memberlist's limit.
// The RPC address is at most 64 bytes, so the check reserves room for it.
func encodeMeta(m NodeMeta) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode node meta: %w", err)
	}
	reserve := 0
	if m.RPC == "" {
		reserve = 64 + len(`,"p":""`)
	}
	if len(b)+reserve > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d (shorten tags)", ErrMetaTooLarge, len(b)+reserve, memberlist.MetaMaxSize)
	}
	return b, nil
}

// decodeMeta decodes metadata received from the network; it never panics.
func decodeMeta(b []byte) (NodeMeta, error) {
	var m NodeMeta
	if len(b) == 0 {
		return m, nil
	}
	if len(b) > memberlist.MetaMaxSize {
		return m, fmt.Errorf("%w: meta of %d bytes", ErrBadFrame, len(b))
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return NodeMeta{}, fmt.Errorf("%w: meta: %v", ErrBadFrame, err)
	}
	return m, nil
}
