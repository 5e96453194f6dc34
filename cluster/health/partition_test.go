package health

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

// views builds NodeViews from a compact description: for each answering
// node, a string of the states it sees for the nodes in order ("a" alive,
// "s" suspect, "d" dead, "l" left, "-" unknown); "X" marks a node that did
// not answer.
func views(names []string, rows map[string]string, age time.Duration) []NodeView {
	states := map[byte]string{'a': cluster.StateAlive, 's': cluster.StateSuspect, 'd': cluster.StateDead, 'l': cluster.StateLeft}
	obs := rows[names[0]]
	var out []NodeView
	for i, n := range names {
		v := NodeView{Node: n, ObserverState: states[obs[i]], LostSince: t0, Time: t0}
		row := rows[n]
		if row == "X" || row == "" {
			v.Failures = 2
		} else {
			v.Answered = true
			v.Peers = map[string]PeerState{}
			for j, c := range []byte(row) {
				if c != '-' {
					v.Peers[names[j]] = PeerState{State: states[c], Since: t0.Add(-age)}
				}
			}
		}
		out = append(out, v)
	}
	return out
}

func groupsOf(r PartitionReport) string {
	var gs []string
	for _, g := range r.Groups {
		s := strings.Join(g.Nodes, ",")
		if !g.Observed {
			s += "?"
		}
		gs = append(gs, s)
	}
	return strings.Join(gs, " | ")
}

func TestDetectPartition(t *testing.T) {
	names := []string{"obs", "n1", "n2", "n3", "n4"}
	tests := []struct {
		name          string
		rows          map[string]string
		age           time.Duration
		wantSplit     bool
		wantConfirmed bool
		wantGroups    string
		wantCuts      string
		wantLinks     string
		wantLost      []string
	}{
		{name: "whole", rows: map[string]string{"obs": "aaaaa", "n1": "aaaaa", "n2": "aaaaa", "n3": "aaaaa", "n4": "aaaaa"},
			wantGroups: "n1,n2,n3,n4,obs"},
		{name: "fresh suspicions are nothing", rows: map[string]string{"obs": "aasaa", "n1": "aaaas", "n2": "asaaa", "n3": "aaaaa", "n4": "aaaaa"},
			age: 1500 * time.Millisecond, wantGroups: "n1,n2,n3,n4,obs"},
		{name: "a suspicion held over probe rounds is a one-way cut", rows: map[string]string{"obs": "aaaaa", "n1": "aaaaa", "n2": "asaaa", "n3": "aaaaa", "n4": "aaaaa"},
			wantGroups: "n1,n2,n3,n4,obs", wantCuts: "n1→n2"},
		{name: "suspicions held both ways are a broken link", rows: map[string]string{"obs": "aaaaa", "n1": "aaaas", "n2": "aaaaa", "n3": "aaaaa", "n4": "asaaa"},
			wantGroups: "n1,n2,n3,n4,obs", wantLinks: "n1↔n4"},
		{name: "the observer bridges two sides: links down, not a split",
			rows: map[string]string{"obs": "aaaaa", "n1": "aaadd", "n2": "aaadd", "n3": "addaa", "n4": "addaa"},
			// obs sees everyone alive, and everyone sees obs alive: obs
			// bridges, so one group; the links across are down.
			wantGroups: "n1,n2,n3,n4,obs", wantLinks: "n1↔n3,n1↔n4,n2↔n3,n2↔n4"},
		{name: "one-sided split: two nodes lost together",
			rows:      map[string]string{"obs": "addaa", "n1": "X", "n2": "X", "n3": "addaa", "n4": "addaa"},
			wantSplit: true, wantGroups: "n3,n4,obs | n1,n2?", wantLost: []string{"n1", "n2"}},
		{name: "a single lost node is a node down, not a split",
			rows:       map[string]string{"obs": "adaaa", "n1": "X", "n2": "adaaa", "n3": "adaaa", "n4": "adaaa"},
			wantGroups: "n2,n3,n4,obs", wantLost: []string{"n1"}},
		{name: "left members are ignored",
			rows:       map[string]string{"obs": "allaa", "n1": "X", "n2": "X", "n3": "allaa", "n4": "allaa"},
			wantGroups: "n3,n4,obs"},
		{name: "the observer alone",
			rows:      map[string]string{"obs": "adddd", "n1": "X", "n2": "X", "n3": "X", "n4": "X"},
			wantSplit: true, wantGroups: "n1,n2,n3,n4? | obs", wantLost: []string{"n1", "n2", "n3", "n4"}},
		{name: "asymmetric cut held long enough",
			rows:       map[string]string{"obs": "aaaaa", "n1": "aaaaa", "n2": "adaaa", "n3": "aaaaa", "n4": "aaaaa"},
			age:        time.Second,
			wantGroups: "n1,n2,n3,n4,obs", wantCuts: "n1→n2"},
		{name: "a young disagreement is gossip still spreading",
			rows:       map[string]string{"obs": "aaaaa", "n1": "aaaaa", "n2": "adaaa", "n3": "aaaaa", "n4": "aaaaa"},
			age:        100 * time.Millisecond,
			wantGroups: "n1,n2,n3,n4,obs"},
		{name: "a suspect view counts as alive for a cut",
			rows:       map[string]string{"obs": "aaaaa", "n1": "aaaas", "n2": "aaaaa", "n3": "aaaaa", "n4": "adaaa"},
			age:        time.Second,
			wantGroups: "n1,n2,n3,n4,obs", wantCuts: "n1→n4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			age := tt.age
			if age == 0 {
				age = time.Minute
			}
			got := DetectPartition(views(names, tt.rows, age), PartitionOptions{})
			assert.Equal(t, tt.wantSplit, got.Split, "split")
			assert.Equal(t, tt.wantConfirmed, got.Confirmed, "confirmed")
			assert.Equal(t, tt.wantGroups, groupsOf(got), "groups")
			var cuts []string
			for _, c := range got.Asymmetric {
				cuts = append(cuts, c.String())
			}
			assert.Equal(t, tt.wantCuts, strings.Join(cuts, ","), "cuts")
			var links []string
			for _, c := range got.BrokenLinks {
				links = append(links, c.From+"↔"+c.To)
			}
			assert.Equal(t, tt.wantLinks, strings.Join(links, ","), "broken links")
			assert.Equal(t, tt.wantLost, got.Lost, "lost")
		})
	}
}

func TestDetectPartitionConfirmedSplit(t *testing.T) {
	// Two groups that each answered and see each other dead: the
	// observer (obs) sits in the first and still reaches n3, n4 over a
	// path memberlist does not use (a real cluster's observer with two
	// network interfaces).
	vs := views([]string{"obs", "n1", "n2", "n3", "n4"}, map[string]string{
		"obs": "aaadd", "n1": "aaadd", "n2": "aaadd", "n3": "dddaa", "n4": "dddaa",
	}, time.Minute)
	vs[3].ObserverState, vs[4].ObserverState = cluster.StateAlive, cluster.StateAlive
	got := DetectPartition(vs, PartitionOptions{})
	assert.True(t, got.Split)
	assert.True(t, got.Confirmed)
	assert.Equal(t, "n1,n2,obs | n3,n4", groupsOf(got))
	assert.Contains(t, got.Summary(), "split: [n1 n2 obs] | [n3 n4]")
}

func TestDetectPartitionLostApart(t *testing.T) {
	vs := views([]string{"obs", "n1", "n2", "n3"}, map[string]string{"obs": "adda", "n1": "X", "n2": "X", "n3": "adda"}, time.Minute)
	vs[1].LostSince = t0
	vs[2].LostSince = t0.Add(time.Hour)
	got := DetectPartition(vs, PartitionOptions{})
	assert.False(t, got.Split, "two nodes that died an hour apart are two failures")
	vs[2].LostSince = t0.Add(3 * time.Second)
	assert.True(t, DetectPartition(vs, PartitionOptions{}).Split, "lost within seconds of each other")
}

func TestDetectPartitionNeedsRepeatedFailures(t *testing.T) {
	vs := views([]string{"obs", "n1", "n2", "n3"}, map[string]string{"obs": "aaaa", "n1": "X", "n2": "X", "n3": "aaaa"}, time.Minute)
	vs[1].Failures, vs[2].Failures = 1, 1
	assert.False(t, DetectPartition(vs, PartitionOptions{}).Split, "one missed answer from nodes the observer sees alive is not yet a split")
	vs[1].Failures, vs[2].Failures = 2, 2
	assert.True(t, DetectPartition(vs, PartitionOptions{}).Split)
}

// TestNoFalsePartitionOnIdleCluster replays ten minutes of one-second
// collections of an idle, healthy 20-node cluster as pure data — with the
// noise a busy machine gives: a probe that fails now and then (a suspect
// view that clears), an answer that arrives late (one missed round), a
// state that just changed — through DetectPartition and the default
// rules, and expects no partition or asymmetric-cut alert.
func TestNoFalsePartitionOnIdleCluster(t *testing.T) {
	const nodes, ticks = 20, 600
	rng := rand.New(rand.NewPCG(7, 7))
	names := make([]string, nodes)
	for i := range names {
		names[i] = fmt.Sprintf("node-%d", i+1)
	}
	names[0] = "observer"
	e, err := NewEngine(DefaultRules())
	require.NoError(t, err)
	failures := make([]int, nodes)
	for tick := range ticks {
		now := t0.Add(time.Duration(tick) * time.Second)
		var vs []NodeView
		for i, n := range names {
			v := NodeView{Node: n, ObserverState: cluster.StateAlive, Time: now}
			// 2% of answers are late; never twice in a row on an idle cluster.
			if i > 0 && failures[i] == 0 && rng.Float64() < 0.02 {
				failures[i]++
				v.Failures, v.LostSince = 1, now
				vs = append(vs, v)
				continue
			}
			failures[i] = 0
			v.Answered = true
			v.Peers = make(map[string]PeerState, nodes)
			for _, p := range names {
				st := PeerState{State: cluster.StateAlive, Since: now.Add(-time.Hour)}
				switch r := rng.Float64(); {
				case r < 0.01:
					st = PeerState{State: cluster.StateSuspect, Since: now.Add(-time.Duration(rng.IntN(1500)) * time.Millisecond)}
				case r < 0.02:
					st.Since = now.Add(-time.Duration(rng.IntN(500)) * time.Millisecond)
				}
				v.Peers[p] = st
			}
			vs = append(vs, v)
		}
		rep := DetectPartition(vs, PartitionOptions{})
		require.False(t, rep.Split, "tick %d: false split %s", tick, rep.Summary())
		require.Empty(t, rep.Asymmetric, "tick %d", tick)
		groups := 0.0
		if rep.Split {
			groups = float64(len(rep.Groups))
		}
		trs := e.Step(StepInput{Now: now, Alive: names, Known: names, Signals: []Signal{
			{Metric: MetricPartition, Value: groups},
			{Metric: MetricAsymmetric, Value: float64(len(rep.Asymmetric))},
		}})
		require.Empty(t, trs, "tick %d", tick)
	}
}

func TestDetectPartitionDirectLinks(t *testing.T) {
	names := []string{"obs", "n1", "n2", "n3"}
	whole := map[string]string{"obs": "aaaa", "n1": "aaaa", "n2": "aaaa", "n3": "aaaa"}
	tests := []struct {
		name  string
		links map[string][]cluster.LinkHealth
		// rows overrides whole when set.
		rows map[string]string
		want []Cut
	}{
		{"no failures", nil, nil, nil},
		{"one failed check is not yet a cut",
			map[string][]cluster.LinkHealth{"n1": {{Peer: "n3", Failures: 1}}}, nil, nil},
		{"two failed checks at one end",
			map[string][]cluster.LinkHealth{"n3": {{Peer: "n1", Failures: 2}}}, nil, []Cut{{From: "n1", To: "n3", Direct: true}}},
		{"both ends report one pair",
			map[string][]cluster.LinkHealth{"n1": {{Peer: "n3", Failures: 3}}, "n3": {{Peer: "n1", Failures: 2}}}, nil,
			[]Cut{{From: "n1", To: "n3", Direct: true}}},
		{"peer the observer sees dead is no link cut",
			map[string][]cluster.LinkHealth{"n1": {{Peer: "n3", Failures: 2}}},
			map[string]string{"obs": "aaad", "n1": "aaaa", "n2": "aaaa", "n3": "daaa"}, nil},
		{"peer that did not answer the observer is no link cut (a crash)",
			map[string][]cluster.LinkHealth{"n1": {{Peer: "n3", Failures: 2}}},
			map[string]string{"obs": "aaaa", "n1": "aaaa", "n2": "aaaa", "n3": "X"}, nil},
		{"views and checks agree: one link, direct",
			map[string][]cluster.LinkHealth{"n1": {{Peer: "n2", Failures: 2}}},
			map[string]string{"obs": "aaaa", "n1": "aada", "n2": "adaa", "n3": "aaaa"},
			[]Cut{{From: "n1", To: "n2", Direct: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := tt.rows
			if rows == nil {
				rows = whole
			}
			vs := views(names, rows, 10*time.Second)
			for i := range vs {
				vs[i].Links = tt.links[vs[i].Node]
			}
			got := DetectPartition(vs, PartitionOptions{})
			assert.Equal(t, tt.want, got.BrokenLinks)
			assert.False(t, got.Split)
			assert.Empty(t, got.Asymmetric)
			if len(tt.want) > 0 {
				assert.Contains(t, got.Summary(), "links down: n")
			}
		})
	}
}

// TestConfirmCuts: an asymmetric cut is reported from its second
// consecutive collection on; one that shows once is not.
func TestConfirmCuts(t *testing.T) {
	m := &Monitor{}
	cut := Cut{From: "n1", To: "n2"}
	direct := Cut{From: "n1", To: "n3", Direct: true}
	now := t0
	step := func(asym ...Cut) PartitionReport {
		now = now.Add(250 * time.Millisecond)
		p := PartitionReport{Asymmetric: asym, BrokenLinks: []Cut{direct}}
		m.confirmLocked(&p, PartitionOptions{}, now)
		return p
	}
	p := step(cut)
	assert.Empty(t, p.Asymmetric, "first sight")
	assert.Equal(t, []Cut{direct}, p.BrokenLinks, "direct links are confirmed by the nodes")
	assert.Equal(t, []Cut{cut}, step(cut).Asymmetric, "second collection in a row")
	assert.Empty(t, step().Asymmetric)
	assert.Empty(t, step(cut).Asymmetric, "gone in between: counts again")

	m = &Monitor{}
	now = t0
	m.confirmLocked(&PartitionReport{Asymmetric: []Cut{cut}}, PartitionOptions{ConfirmAge: time.Second}, now)
	p = PartitionReport{Asymmetric: []Cut{cut}}
	m.confirmLocked(&p, PartitionOptions{ConfirmAge: time.Second}, now.Add(250*time.Millisecond))
	assert.Empty(t, p.Asymmetric, "younger than ConfirmAge")
	p = PartitionReport{Asymmetric: []Cut{cut}}
	m.confirmLocked(&p, PartitionOptions{ConfirmAge: time.Second}, now.Add(time.Second))
	assert.Equal(t, []Cut{cut}, p.Asymmetric)
}
