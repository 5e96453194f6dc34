package cluster

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Child placement, as pure code over plain data: given a child spec and the
// members a node can see, which node owns the child. Every node runs the
// same function on the same gossiped data, so once membership views agree,
// every node names the same owner without asking anyone.

// Placement strategies.
const (
	// StrategyRendezvous places a child on the eligible node with the
	// highest rendezvous hash of supervisor, child id and node name: every
	// node computes the same owner, and a join or a loss moves only about
	// 1/n of the children. The default.
	StrategyRendezvous = "rendezvous"
	// StrategyLeastLoaded places a child, once, on the eligible node with
	// the fewest processes when it is started; the choice is then pinned
	// into the spec (Placement.Node) so that every node computes the same
	// owner later. When the pinned node is gone, rendezvous decides.
	StrategyLeastLoaded = "least-loaded"
)

// ErrNoEligibleNode reports that no live node may host a child: none is a
// worker, or none has the required tags.
var ErrNoEligibleNode = errors.New("cluster: no eligible node")

// Candidate is one member as placement sees it.
type Candidate struct {
	// Name is the node's name.
	Name string `json:"name"`
	// Role is RoleWorker or RoleObserver; only workers host children ("" counts
	// as a worker, the default role).
	Role string `json:"role"`
	// Tags are the node's tags, matched against Placement.Tags.
	Tags map[string]string `json:"tags,omitempty"`
	// Load is the node's process count, used by StrategyLeastLoaded.
	Load int `json:"load"`
	// State is the node's membership state; "" counts as alive. Only alive
	// and suspect nodes are eligible; the others are listed so that a
	// reason can say why a preferred node was passed over.
	State string `json:"state,omitempty"`
}

func (c Candidate) live() bool {
	return c.State == "" || c.State == StateAlive || c.State == StateSuspect
}

func (c Candidate) worker() bool { return c.Role == "" || c.Role == RoleWorker }

// hasTags reports whether every required key=value is among tags.
func hasTags(tags, required map[string]string) bool {
	for k, v := range required {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// formatTags prints tags as sorted "k=v,k2=v2".
func formatTags(tags map[string]string) string {
	keys := slices.Sorted(maps.Keys(tags))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + tags[k]
	}
	return strings.Join(parts, ",")
}

// PlaceChild computes the owner of child spec of supervisor sup among the
// candidates. Only live worker nodes with every required tag are eligible.
// A preferred node (Placement.Node) wins when it is eligible; otherwise the
// child goes to the eligible node with the highest rendezvous hash, and
// honoured is false with a reason that says why the preference was passed
// over. With StrategyLeastLoaded and no pinned node, the eligible node with
// the lowest Load wins (ties by name). err wraps ErrNoEligibleNode and
// names the tags when no candidate qualifies.
func PlaceChild(sup string, spec ChildSpec, cands []Candidate) (owner string, honoured bool, reason string, err error) {
	req := spec.Placement.Tags
	eligible := make([]Candidate, 0, len(cands))
	workers := 0
	for _, c := range cands {
		if !c.live() || !c.worker() {
			continue
		}
		workers++
		if hasTags(c.Tags, req) {
			eligible = append(eligible, c)
		}
	}
	if len(eligible) == 0 {
		if len(req) > 0 {
			return "", false, "", fmt.Errorf("%w for child %s/%s: none of the %d live worker nodes has tags %s", ErrNoEligibleNode, sup, spec.ID, workers, formatTags(req))
		}
		return "", false, "", fmt.Errorf("%w for child %s/%s: no live worker node", ErrNoEligibleNode, sup, spec.ID)
	}
	if pref := spec.Placement.Node; pref != "" {
		if slices.ContainsFunc(eligible, func(c Candidate) bool { return c.Name == pref }) {
			return pref, true, "", nil
		}
		what := "preferred node " + pref
		if spec.Placement.Strategy == StrategyLeastLoaded {
			what = "least-loaded node " + pref + " (chosen at start)"
		}
		among := fmt.Sprintf("among %d nodes", len(eligible))
		if len(req) > 0 {
			among += " with tags " + formatTags(req)
		}
		return rendezvousOwner(sup, spec.ID, eligible), false,
			what + " " + passedOver(pref, cands, req) + "; placed by rendezvous hash " + among, nil
	}
	if spec.Placement.Strategy == StrategyLeastLoaded {
		best := eligible[0]
		for _, c := range eligible[1:] {
			if c.Load < best.Load || (c.Load == best.Load && c.Name < best.Name) {
				best = c
			}
		}
		return best.Name, true, "", nil
	}
	return rendezvousOwner(sup, spec.ID, eligible), true, "", nil
}

// passedOver says why a preferred node is not eligible.
func passedOver(name string, cands []Candidate, req map[string]string) string {
	i := slices.IndexFunc(cands, func(c Candidate) bool { return c.Name == name })
	if i < 0 {
		return "is not a member"
	}
	c := cands[i]
	switch {
	case c.State == StateDead:
		return "is dead"
	case c.State == StateLeft:
		return "has left"
	case !c.live():
		return "is " + c.State
	case !c.worker():
		return "is an " + c.Role + " and hosts no workloads"
	case !hasTags(c.Tags, req):
		missing := map[string]string{}
		for k, v := range req {
			if c.Tags[k] != v {
				missing[k] = v
			}
		}
		return "lacks tags " + formatTags(missing)
	}
	return "is not eligible"
}

// rendezvousOwner returns the candidate with the highest score; ties (a
// 64-bit collision) go to the lower name.
func rendezvousOwner(sup, id string, eligible []Candidate) string {
	best, bestScore := "", uint64(0)
	for _, c := range eligible {
		s := rendezvousScore(sup, id, c.Name)
		if best == "" || s > bestScore || (s == bestScore && c.Name < best) {
			best, bestScore = c.Name, s
		}
	}
	return best
}

// rendezvousScore is FNV-1a 64 of sup+"/"+id+"/"+node, finished with the
// splitmix64 mixer so that names differing only in their last byte still
// spread evenly. It is part of the wire contract: every node of a cluster
// must compute the same value.
func rendezvousScore(sup, id, node string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, s := range [...]string{sup, "/", id, "/", node} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime
		}
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
