package health

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// PeerState is a member as one node sees it, for partition detection.
type PeerState struct {
	State string `json:"state"`
	// Since is when the member entered State, on the viewing node's
	// clock.
	Since time.Time `json:"since"`
}

// NodeView is what the observer knows of one node for partition
// detection: whether the node answered this round and, if so, its view of
// the members.
type NodeView struct {
	Node string `json:"node"`
	// Answered is set when the node's sample arrived this round.
	Answered bool `json:"answered"`
	// Time is when the node took its sample, on its own clock (ages of
	// its Peers' states are measured from it).
	Time time.Time `json:"time,omitzero"`
	// Failures counts consecutive rounds without an answer.
	Failures int `json:"failures,omitempty"`
	// LostSince is when the current run of failures began.
	LostSince time.Time `json:"lost_since,omitzero"`
	// ObserverState is the node's membership state as the observer sees it.
	ObserverState string `json:"observer_state"`
	// Peers is the node's view of the members (answered nodes only).
	Peers map[string]PeerState `json:"peers,omitempty"`
	// Links are the peers the node could not reach directly in its
	// latest checks (answered nodes only; see cluster.HealthSample.Links).
	Links []cluster.LinkHealth `json:"links,omitempty"`
}

// Group is one side of a split.
type Group struct {
	Nodes []string `json:"nodes"`
	// Observed is set when the group's nodes answered the observer;
	// an unobserved group holds the nodes the observer's side lost: the
	// far side of a split, or nodes that failed together.
	Observed bool `json:"observed"`
}

// Cut is an asymmetric view: From sees To alive while To sees From down
// (dead, or suspected over several probe rounds),
// so To hears nothing from From (a one-way cut From → To, or every path of
// To's probes to From fails).
//
// In BrokenLinks, a Cut is a direct link down between From and To (From <
// To by name), in one direction or both: a round trip needs both.
type Cut struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Direct is set on a broken link found by the nodes' direct checks
	// (a node's direct pings of the other got no answer), not only by
	// their membership views. memberlist routes its probes around such a
	// link, so membership may show nothing, yet RPC and process messages
	// between the two fail.
	Direct bool `json:"direct,omitempty"`
}

// String prints the cut for evidence.
func (c Cut) String() string { return c.From + "→" + c.To }

// PartitionReport says whether the cluster is split and where views
// disagree.
type PartitionReport struct {
	// Split is set when the members fall into two or more groups.
	Split bool `json:"split"`
	// Confirmed is set when at least two groups answered the observer
	// (each side's own view is known); an unconfirmed split is two or
	// more nodes lost at once, whose own view cannot be asked.
	Confirmed bool `json:"confirmed,omitempty"`
	// Groups are the groups, largest first; one group when whole.
	Groups []Group `json:"groups"`
	// Lost are the nodes the observer's side lost (sorted).
	Lost []string `json:"lost,omitempty"`
	// Asymmetric are the asymmetric cuts.
	Asymmetric []Cut `json:"asymmetric,omitempty"`
	// BrokenLinks are pairs of nodes (From < To by name) that answered
	// the observer and that it sees alive, whose direct path is cut, one
	// way or both: each sees the other down, or one's direct checks of
	// the other failed LinkFailures times in a row (Cut.Direct). memberlist routes
	// around the link through other nodes, so the cluster holds together,
	// but the two cannot talk directly.
	BrokenLinks []Cut `json:"broken_links,omitempty"`
	// Since is when the monitor first saw the current split, cut or
	// broken link (zero when whole; DetectPartition leaves it zero).
	Since time.Time `json:"since,omitzero"`
}

// Summary is the report in one line: groups and cuts.
func (p PartitionReport) Summary() string {
	var parts []string
	if p.Split {
		gs := make([]string, len(p.Groups))
		for i, g := range p.Groups {
			gs[i] = "[" + strings.Join(g.Nodes, " ") + "]"
			if !g.Observed {
				gs[i] += " (unreachable from the observer)"
			}
		}
		kind := "split"
		if !p.Confirmed {
			kind = "split (the far side could not be asked: a partition or nodes failing together)"
		}
		parts = append(parts, kind+": "+strings.Join(gs, " | "))
	}
	if len(p.Asymmetric) > 0 {
		cs := make([]string, len(p.Asymmetric))
		for i, c := range p.Asymmetric {
			cs[i] = fmt.Sprintf("%s sees %s alive but %s sees %s down", c.From, c.To, c.To, c.From)
		}
		parts = append(parts, "asymmetric: "+strings.Join(cs, "; "))
	}
	if len(p.BrokenLinks) > 0 {
		ls := make([]string, len(p.BrokenLinks))
		for i, c := range p.BrokenLinks {
			ls[i] = c.From + "↔" + c.To
		}
		parts = append(parts, "links down: "+strings.Join(ls, ", "))
	}
	if len(parts) == 0 {
		return "whole"
	}
	return strings.Join(parts, "; ")
}

// PartitionOptions tune DetectPartition.
type PartitionOptions struct {
	// LostAfter is how many consecutive failed rounds make a node the
	// observer still sees alive count as lost; default 2.
	LostAfter int
	// Together is how close in time nodes must be lost to count as one
	// split rather than separate failures; default 10 s.
	Together time.Duration
	// MinAge is how long an alive or dead view must have held to count
	// for a cut (transient disagreement while gossip spreads is not a
	// cut); default 1 s.
	MinAge time.Duration
	// SuspectHold is how long a node's suspicion of a peer must have held
	// to count as the peer being down to it: a suspicion clears at the
	// node's next successful direct probe of the peer, so a few probe
	// rounds (members x probe interval each) tell a broken path from a
	// lost packet. Default 3 s; the Monitor uses 2 rounds of its profile.
	SuspectHold time.Duration
	// ConfirmRounds is how many consecutive collections must show an
	// asymmetric cut, or a broken link found from membership views alone,
	// before the Monitor reports it (views that disagree for one sample
	// on a loaded host are not a cut); default 2. DetectPartition itself
	// reports every round.
	ConfirmRounds int
	// ConfirmAge is how long such a cut must have been seen before the
	// Monitor reports it, on top of ConfirmRounds; default 0.
	ConfirmAge time.Duration
	// LinkFailures is how many direct checks in a row must fail, as one
	// end reports them, for a broken link; default 2 (one lost ping on a
	// loaded host is not a cut).
	LinkFailures int
}

func (o PartitionOptions) withDefaults() PartitionOptions {
	if o.LostAfter <= 0 {
		o.LostAfter = 2
	}
	if o.Together <= 0 {
		o.Together = 10 * time.Second
	}
	if o.MinAge <= 0 {
		o.MinAge = time.Second
	}
	if o.SuspectHold <= 0 {
		o.SuspectHold = 3 * time.Second
	}
	o.SuspectHold = max(o.SuspectHold, o.MinAge)
	if o.ConfirmRounds <= 0 {
		o.ConfirmRounds = 2
	}
	o.ConfirmAge = max(o.ConfirmAge, 0)
	if o.LinkFailures <= 0 {
		o.LinkFailures = 2
	}
	return o
}

func seesAlive(st string) bool { return st == cluster.StateAlive || st == cluster.StateSuspect }

// DetectPartition decides from the nodes' views whether the cluster is
// split and which views are asymmetric. It is pure.
//
// Nodes that answered are grouped by mutual reachability (a sees b alive
// and b sees a alive): two or more such groups is a confirmed split. Nodes
// the observer's side lost (no answer, and the observer sees them
// suspect or dead, or LostAfter rounds failed) cannot say what they see;
// two or more of them lost within Together of each other form one more,
// unobserved, group: a split as far as the observer can tell. A single
// lost node is a node down, not a split. Members that left are ignored.
func DetectPartition(views []NodeView, opts PartitionOptions) PartitionReport {
	opts = opts.withDefaults()
	var answered []NodeView
	var lost []NodeView
	for _, v := range views {
		switch {
		case v.ObserverState == cluster.StateLeft:
		case v.Answered:
			answered = append(answered, v)
		case !seesAlive(v.ObserverState) || v.Failures >= opts.LostAfter:
			lost = append(lost, v)
		}
	}
	slices.SortFunc(answered, func(a, b NodeView) int { return strings.Compare(a.Node, b.Node) })

	// Union-find over mutual reachability among the nodes that answered.
	parent := make([]int, len(answered))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	var cuts, brokenLinks []Cut
	for i := range answered {
		for j := i + 1; j < len(answered); j++ {
			a, b := answered[i], answered[j]
			ab, aok := a.Peers[b.Node]
			ba, bok := b.Peers[a.Node]
			if aok && bok && seesAlive(ab.State) && seesAlive(ba.State) {
				parent[find(i)] = find(j)
			}
			if c, asym, broken := links(a, ab, aok, b, ba, bok, opts); asym {
				cuts = append(cuts, c)
			} else if broken && seesAlive(a.ObserverState) && seesAlive(b.ObserverState) {
				brokenLinks = append(brokenLinks, c)
			}
		}
	}
	comps := map[int][]string{}
	for i, v := range answered {
		r := find(i)
		comps[r] = append(comps[r], v.Node)
	}
	var rep PartitionReport
	for _, nodes := range comps {
		slices.Sort(nodes)
		rep.Groups = append(rep.Groups, Group{Nodes: nodes, Observed: true})
	}
	observedGroups := len(rep.Groups)

	// Lost nodes: the largest set lost within Together of each other.
	slices.SortFunc(lost, func(a, b NodeView) int {
		if c := a.LostSince.Compare(b.LostSince); c != 0 {
			return c
		}
		return strings.Compare(a.Node, b.Node)
	})
	for _, v := range lost {
		rep.Lost = append(rep.Lost, v.Node)
	}
	slices.Sort(rep.Lost)
	together := lostTogether(lost, opts.Together)
	if len(together) >= 2 {
		rep.Groups = append(rep.Groups, Group{Nodes: together})
	}
	rep.Split = len(rep.Groups) >= 2
	rep.Confirmed = observedGroups >= 2
	slices.SortFunc(rep.Groups, func(a, b Group) int {
		if len(a.Nodes) != len(b.Nodes) {
			return len(b.Nodes) - len(a.Nodes)
		}
		return strings.Compare(a.Nodes[0], b.Nodes[0])
	})
	slices.SortFunc(cuts, func(a, b Cut) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.To, b.To)
	})
	rep.Asymmetric = cuts
	rep.BrokenLinks = directLinks(views, cuts, brokenLinks, opts)
	return rep
}

// directLinks adds to the broken links found from membership views the
// links that the nodes' direct checks found down: reported by an answering
// node about a peer, LinkFailures checks in a row, while the observer
// sees both alive and both answered it (a crashed node fails everyone's
// checks and answers nobody: a node down, not a link cut; a link to the
// observer itself shows as the node not answering). A pair already an
// asymmetric cut is left there.
func directLinks(views []NodeView, cuts, broken []Cut, o PartitionOptions) []Cut {
	reached := make(map[string]bool, len(views))
	for _, v := range views {
		reached[v.Node] = v.Answered && seesAlive(v.ObserverState)
	}
	pair := func(a, b string) Cut {
		if b < a {
			a, b = b, a
		}
		return Cut{From: a, To: b}
	}
	index := make(map[Cut]int, len(broken))
	for i, c := range broken {
		index[pair(c.From, c.To)] = i
	}
	asym := make(map[Cut]bool, len(cuts))
	for _, c := range cuts {
		asym[pair(c.From, c.To)] = true
	}
	for _, v := range views {
		if !reached[v.Node] {
			continue
		}
		for _, l := range v.Links {
			if l.Failures < o.LinkFailures || l.Peer == v.Node || !reached[l.Peer] {
				continue
			}
			k := pair(v.Node, l.Peer)
			if asym[k] {
				continue
			}
			if i, ok := index[k]; ok {
				broken[i].Direct = true
				continue
			}
			index[k] = len(broken)
			k.Direct = true
			broken = append(broken, k)
		}
	}
	slices.SortFunc(broken, func(a, b Cut) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.To, b.To)
	})
	return broken
}

// linkView classifies one node's view of a peer for link detection.
type linkView int

const (
	linkUnknown linkView = iota // no view, or too young to judge
	linkUp                      // alive (long enough), or suspected only just
	linkDown                    // dead long enough, or suspected for SuspectHold
)

func classify(v NodeView, p PeerState, ok bool, o PartitionOptions) linkView {
	if !ok {
		return linkUnknown
	}
	age := v.Time.Sub(p.Since)
	switch p.State {
	case cluster.StateDead:
		if age >= o.MinAge {
			return linkDown
		}
	case cluster.StateSuspect:
		// A node's suspicion of a peer lasts until its own next direct
		// probe of the peer succeeds: held over several probe rounds, the
		// direct path is broken even if memberlist routes around it.
		if age >= o.SuspectHold {
			return linkDown
		}
		return linkUp
	case cluster.StateAlive:
		if age >= o.MinAge {
			return linkUp
		}
	}
	return linkUnknown
}

// links compares two answered nodes' views of each other: an asymmetric
// cut when one is up and the other down, a broken link when both are down.
func links(a NodeView, ab PeerState, aok bool, b NodeView, ba PeerState, bok bool, o PartitionOptions) (cut Cut, asym, broken bool) {
	x, y := classify(a, ab, aok, o), classify(b, ba, bok, o)
	switch {
	case x == linkUp && y == linkDown:
		return Cut{From: a.Node, To: b.Node}, true, false
	case y == linkUp && x == linkDown:
		return Cut{From: b.Node, To: a.Node}, true, false
	case x == linkDown && y == linkDown:
		return Cut{From: a.Node, To: b.Node}, false, true
	}
	return Cut{}, false, false
}

// lostTogether returns the largest run of nodes (sorted by LostSince)
// lost within window of the run's first, by name.
func lostTogether(lost []NodeView, window time.Duration) []string {
	var best []string
	for i := range lost {
		var run []string
		for j := i; j < len(lost) && lost[j].LostSince.Sub(lost[i].LostSince) <= window; j++ {
			run = append(run, lost[j].Node)
		}
		if len(run) > len(best) {
			best = run
		}
	}
	slices.Sort(best)
	return best
}
