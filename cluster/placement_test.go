package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Pure tests of the supervisor's decisions: placement, merge of replicated
// records, restart policy and intensity, migration reasons and the wire
// decoders. The node-level tests are in supervisor_test.go.

func placeWorkers(names ...string) []Candidate {
	out := make([]Candidate, len(names))
	for i, n := range names {
		out[i] = Candidate{Name: n, Role: RoleWorker}
	}
	return out
}

func TestPlacementPlaceChild(t *testing.T) {
	zoneA := map[string]string{"zone": "a"}
	cands := []Candidate{
		{Name: "n1", Role: RoleWorker, Tags: zoneA, Load: 7},
		{Name: "n2", Role: RoleWorker, Tags: map[string]string{"zone": "b"}, Load: 2},
		{Name: "n3", Role: RoleWorker, Tags: zoneA, Load: 2},
		{Name: "n4", Role: RoleWorker, Tags: zoneA, State: StateDead},
		{Name: "n5", Role: RoleWorker, Tags: zoneA, State: StateSuspect, Load: 9},
		{Name: "n6", Role: RoleWorker, State: StateLeft},
		{Name: "obs", Role: RoleObserver, Tags: zoneA},
	}
	rendezvousAmong := func(names ...string) string {
		return rendezvousOwner("web", "c1", placeWorkers(names...))
	}
	tests := []struct {
		name       string
		spec       ChildSpec
		cands      []Candidate
		owner      string
		honoured   bool
		reason     string
		errContain string
	}{
		{name: "rendezvous among live workers", spec: ChildSpec{ID: "c1"}, cands: cands,
			owner: rendezvousAmong("n1", "n2", "n3", "n5"), honoured: true},
		{name: "preferred node honoured", spec: ChildSpec{ID: "c1", Placement: Placement{Node: "n2"}}, cands: cands,
			owner: "n2", honoured: true},
		{name: "suspect preferred node still honoured", spec: ChildSpec{ID: "c1", Placement: Placement{Node: "n5"}}, cands: cands,
			owner: "n5", honoured: true},
		{name: "preferred node dead", spec: ChildSpec{ID: "c1", Placement: Placement{Node: "n4", Tags: zoneA}}, cands: cands,
			owner: rendezvousAmong("n1", "n3", "n5"), reason: "preferred node n4 is dead; placed by rendezvous hash among 3 nodes with tags zone=a"},
		{name: "preferred node left", spec: ChildSpec{ID: "c1", Placement: Placement{Node: "n6"}}, cands: cands,
			owner: rendezvousAmong("n1", "n2", "n3", "n5"), reason: "preferred node n6 has left; placed by rendezvous hash among 4 nodes"},
		{name: "preferred node unknown", spec: ChildSpec{ID: "c1", Placement: Placement{Node: "n9"}}, cands: cands,
			owner: rendezvousAmong("n1", "n2", "n3", "n5"), reason: "preferred node n9 is not a member; placed by rendezvous hash among 4 nodes"},
		{name: "preferred node is an observer", spec: ChildSpec{ID: "c1", Placement: Placement{Node: "obs"}}, cands: cands,
			owner: rendezvousAmong("n1", "n2", "n3", "n5"), reason: "preferred node obs is an observer and hosts no workloads; placed by rendezvous hash among 4 nodes"},
		{name: "preferred node lacks tags", spec: ChildSpec{ID: "c1", Placement: Placement{Node: "n2", Tags: zoneA}}, cands: cands,
			owner: rendezvousAmong("n1", "n3", "n5"), reason: "preferred node n2 lacks tags zone=a; placed by rendezvous hash among 3 nodes with tags zone=a"},
		{name: "tags filter", spec: ChildSpec{ID: "c1", Placement: Placement{Tags: map[string]string{"zone": "b"}}}, cands: cands,
			owner: "n2", honoured: true},
		{name: "no node has the tags", spec: ChildSpec{ID: "c1", Placement: Placement{Tags: map[string]string{"zone": "z", "gpu": "1"}}}, cands: cands,
			errContain: "none of the 4 live worker nodes has tags gpu=1,zone=z"},
		{name: "observers only", spec: ChildSpec{ID: "c1"}, cands: []Candidate{{Name: "obs", Role: RoleObserver}},
			errContain: "no live worker node"},
		{name: "no members", spec: ChildSpec{ID: "c1"}, errContain: "no live worker node"},
		{name: "least loaded, ties by name", spec: ChildSpec{ID: "c1", Placement: Placement{Strategy: StrategyLeastLoaded}}, cands: cands,
			owner: "n2", honoured: true},
		{name: "least loaded with tags", spec: ChildSpec{ID: "c1", Placement: Placement{Strategy: StrategyLeastLoaded, Tags: zoneA}}, cands: cands,
			owner: "n3", honoured: true},
		{name: "least loaded pinned", spec: ChildSpec{ID: "c1", Placement: Placement{Strategy: StrategyLeastLoaded, Node: "n1"}}, cands: cands,
			owner: "n1", honoured: true},
		{name: "least loaded pinned node gone", spec: ChildSpec{ID: "c1", Placement: Placement{Strategy: StrategyLeastLoaded, Node: "n4"}}, cands: cands,
			owner: rendezvousAmong("n1", "n2", "n3", "n5"), reason: "least-loaded node n4 (chosen at start) is dead; placed by rendezvous hash among 4 nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner, honoured, reason, err := PlaceChild("web", tt.spec, tt.cands)
			if tt.errContain != "" {
				require.Error(t, err)
				assert.True(t, errors.Is(err, ErrNoEligibleNode), "PlaceChild err = %v; want ErrNoEligibleNode", err)
				assert.Contains(t, err.Error(), tt.errContain)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.owner, owner, "PlaceChild owner")
			assert.Equal(t, tt.honoured, honoured, "PlaceChild honoured")
			assert.Equal(t, tt.reason, reason, "PlaceChild reason")
		})
	}
}

func TestPlacementRendezvousIsDeterministicAndOrderFree(t *testing.T) {
	a := placeWorkers("n1", "n2", "n3", "n4", "n5")
	b := []Candidate{a[3], a[0], a[4], a[2], a[1]}
	for i := range 200 {
		spec := ChildSpec{ID: fmt.Sprintf("c%d", i)}
		o1, _, _, err := PlaceChild("sup", spec, a)
		require.NoError(t, err)
		o2, _, _, err := PlaceChild("sup", spec, b)
		require.NoError(t, err)
		assert.Equal(t, o1, o2, "PlaceChild(%s) depends on candidate order", spec.ID)
	}
	// The hash is part of the wire contract: pin one value.
	assert.Equal(t, rendezvousScore("sup", "c1", "n1"), rendezvousScore("sup", "c1", "n1"))
	assert.NotEqual(t, rendezvousScore("sup", "c1", "n1"), rendezvousScore("sup", "c1", "n2"))
}

func TestPlacementRendezvousMovesAboutOneNth(t *testing.T) {
	const children = 2000
	before := placeWorkers("n1", "n2", "n3", "n4", "n5")
	after := append(placeWorkers("n6"), before...)
	perNode := map[string]int{}
	moved := 0
	for i := range children {
		spec := ChildSpec{ID: fmt.Sprintf("child-%d", i)}
		o1, _, _, err := PlaceChild("sup", spec, before)
		require.NoError(t, err)
		o2, _, _, err := PlaceChild("sup", spec, after)
		require.NoError(t, err)
		perNode[o1]++
		if o1 != o2 {
			moved++
			assert.Equal(t, "n6", o2, "child %s moved between two old nodes", spec.ID)
		}
	}
	frac := float64(moved) / children
	t.Logf("a 6th node joined: %d of %d children moved (%.3f; ideal 1/6 = %.3f)", moved, children, frac, 1.0/6)
	assert.InDelta(t, 1.0/6, frac, 0.05, "fraction of children that moved when a node joined")
	for name, k := range perNode {
		assert.InDelta(t, children/5, k, children/5*0.25, "children on %s with 5 nodes", name)
	}
	// An unrelated observer joining moves nothing.
	withObs := append(before, Candidate{Name: "obs", Role: RoleObserver})
	for i := range 200 {
		spec := ChildSpec{ID: fmt.Sprintf("child-%d", i)}
		o1, _, _, _ := PlaceChild("sup", spec, before)
		o2, _, _, _ := PlaceChild("sup", spec, withObs)
		assert.Equal(t, o1, o2)
	}
}

func BenchmarkPlaceChild(b *testing.B) {
	cands := placeWorkers("n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10")
	spec := ChildSpec{ID: "child-1"}
	for b.Loop() {
		_, _, _, _ = PlaceChild("sup", spec, cands)
	}
}

func TestSupervisorMergeRecords(t *testing.T) {
	spec := SupervisorSpec{Name: "web", MaxRestarts: 3, Period: 5 * time.Second}
	rec := func(ver uint64, org string, deleted bool) supRecord {
		r := supRecord{Name: "web", Ver: ver, Org: org, Deleted: deleted}
		if !deleted {
			r.Spec = spec
		}
		return r
	}
	tests := []struct {
		name    string
		cur     supRecord
		has     bool
		in      supRecord
		want    supRecord
		changed bool
	}{
		{"new", supRecord{}, false, rec(1, "a", false), rec(1, "a", false), true},
		{"newer version wins", rec(1, "a", false), true, rec(2, "b", false), rec(2, "b", false), true},
		{"older version loses", rec(3, "a", false), true, rec(2, "b", true), rec(3, "a", false), false},
		{"same version: higher origin wins", rec(2, "a", false), true, rec(2, "b", true), rec(2, "b", true), true},
		{"same version and origin: tombstone wins", rec(2, "a", false), true, rec(2, "a", true), rec(2, "a", true), true},
		{"newer live beats tombstone", rec(2, "a", true), true, rec(3, "a", false), rec(3, "a", false), true},
		{"duplicate is no change", rec(2, "a", false), true, rec(2, "a", false), rec(2, "a", false), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := mergeSup(tt.cur, tt.has, tt.in)
			assert.Equal(t, tt.want, got, "mergeSup")
			assert.Equal(t, tt.changed, changed, "mergeSup changed")
			// Merge is commutative: the other order keeps the same record.
			if tt.has {
				back, _ := mergeSup(tt.in, true, tt.cur)
				assert.Equal(t, got, back, "mergeSup is not commutative")
			}
		})
	}
}

func TestSupervisorMergeChildRecords(t *testing.T) {
	spec := ChildSpec{ID: "c1", Behavior: "echo", Restart: RestartPermanent, Placement: Placement{Strategy: StrategyRendezvous}}
	spec2 := spec
	spec2.Behavior = "counter"
	at := time.Unix(100, 0)
	loc := func(node string, id, ver uint64) childLoc {
		return childLoc{Node: node, PID: PID{Node: node, ID: id}, At: at, Ver: ver}
	}
	rec := func(s ChildSpec, ver uint64, org string, deleted bool, l childLoc) childRecord {
		r := childRecord{Sup: "web", ID: "c1", Spec: s, Ver: ver, Org: org, Deleted: deleted, Loc: l}
		if deleted {
			r.Spec = ChildSpec{}
		}
		return r
	}
	tests := []struct {
		name    string
		cur, in childRecord
		want    childRecord
		changed bool
	}{
		{"newer spec, older location: both parts merge",
			rec(spec, 1, "a", false, loc("n2", 5, 9)), rec(spec2, 4, "b", false, loc("n1", 1, 3)),
			rec(spec2, 4, "b", false, loc("n2", 5, 9)), true},
		{"tombstone keeps the newer location",
			rec(spec, 1, "a", false, loc("n1", 1, 2)), rec(spec, 5, "c", true, loc("n3", 2, 6)),
			rec(spec, 5, "c", true, loc("n3", 2, 6)), true},
		{"older tombstone loses",
			rec(spec, 7, "a", false, loc("n1", 1, 8)), rec(spec, 5, "c", true, loc("n1", 1, 8)),
			rec(spec, 7, "a", false, loc("n1", 1, 8)), false},
		{"location tie broken by node",
			rec(spec, 1, "a", false, loc("n1", 1, 8)), rec(spec, 1, "a", false, loc("n2", 1, 8)),
			rec(spec, 1, "a", false, loc("n2", 1, 8)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := mergeChild(tt.cur, true, tt.in)
			assert.Equal(t, tt.want, got, "mergeChild")
			assert.Equal(t, tt.changed, changed, "mergeChild changed")
			back, _ := mergeChild(tt.in, true, tt.cur)
			assert.Equal(t, got, back, "mergeChild is not commutative")
		})
	}
}

func TestSupervisorMergeConvergesInAnyOrder(t *testing.T) {
	spec := ChildSpec{ID: "c1", Behavior: "echo", Restart: RestartPermanent, Placement: Placement{Strategy: StrategyRendezvous}}
	var ins []childRecord
	for i := range 12 {
		r := childRecord{Sup: "web", ID: "c1", Ver: uint64(1 + i%4), Org: []string{"a", "b", "c"}[i%3], Deleted: i%5 == 0}
		if !r.Deleted {
			r.Spec = spec
			r.Spec.Args = []byte{byte(i)}
		}
		r.Loc = childLoc{Node: "n" + fmt.Sprint(i%3), PID: PID{Node: "n" + fmt.Sprint(i%3), ID: uint64(i + 1)}, Ver: uint64(i % 6), At: time.Unix(int64(i), 0)}
		if r.Loc.Ver == 0 {
			r.Loc = childLoc{}
		}
		ins = append(ins, r)
	}
	fold := func(order []childRecord) childRecord {
		var cur childRecord
		has := false
		for _, in := range order {
			cur, _ = mergeChild(cur, has, in)
			has = true
		}
		return cur
	}
	want := fold(ins)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		perm := append([]childRecord(nil), ins...)
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		assert.Equal(t, want, fold(perm), "merge result depends on arrival order")
	}
}

func TestSupervisorChildLiveness(t *testing.T) {
	sup := supRecord{Name: "web", Ver: 10, Org: "a", Cleared: 6}
	tests := []struct {
		name   string
		child  childRecord
		sup    supRecord
		hasSup bool
		want   bool
	}{
		{"live child of live supervisor", childRecord{Ver: 7}, sup, true, true},
		{"child of an earlier incarnation", childRecord{Ver: 6}, sup, true, false},
		{"deleted child", childRecord{Ver: 8, Deleted: true}, sup, true, false},
		{"supervisor deleted", childRecord{Ver: 8}, supRecord{Name: "web", Ver: 11, Deleted: true}, true, false},
		{"supervisor unknown yet", childRecord{Ver: 8}, supRecord{}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, childLive(tt.child, tt.sup, tt.hasSup))
		})
	}
}

func TestSupervisorRestartPolicy(t *testing.T) {
	tests := []struct {
		restart string
		reason  Reason
		want    exitAction
	}{
		{RestartPermanent, ReasonNormal, exitRestart},
		{RestartPermanent, ReasonShutdown, exitRestart},
		{RestartPermanent, "boom", exitRestart},
		{RestartTransient, ReasonNormal, exitRemove},
		{RestartTransient, ReasonShutdown, exitRemove},
		{RestartTransient, ReasonKilled, exitRestart},
		{RestartTransient, "panic: boom", exitRestart},
		{RestartTemporary, "boom", exitRemove},
		{RestartTemporary, ReasonNormal, exitRemove},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, childExitAction(tt.restart, tt.reason), "childExitAction(%s, %s)", tt.restart, tt.reason)
	}
}

func TestSupervisorRestartIntensityWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(secs ...float64) []time.Time {
		var out []time.Time
		for _, s := range secs {
			out = append(out, t0.Add(time.Duration(s*float64(time.Second))))
		}
		return out
	}
	tests := []struct {
		name     string
		window   []time.Time
		now      time.Time
		max      int
		period   time.Duration
		keep     int
		exceeded bool
	}{
		{"first restart", nil, t0, 3, 5 * time.Second, 1, false},
		{"third of three", at(0, 1), t0.Add(2 * time.Second), 3, 5 * time.Second, 3, false},
		{"fourth of three", at(0, 1, 2), t0.Add(3 * time.Second), 3, 5 * time.Second, 4, true},
		{"old restarts age out", at(0, 1, 2), t0.Add(6500 * time.Millisecond), 3, 5 * time.Second, 2, false},
		{"zero max never allows", nil, t0, 0, time.Second, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Time(nil), tt.window...)
			got, exceeded := restartIntensity(tt.window, tt.now, tt.max, tt.period)
			assert.Len(t, got, tt.keep)
			assert.Equal(t, tt.exceeded, exceeded)
			assert.Equal(t, in, tt.window, "restartIntensity modified its input")
		})
	}
}

func TestMigrationReason(t *testing.T) {
	cands := placeWorkers("n1", "n2", "n3", "n4")
	spec := ChildSpec{ID: "c1"}
	// Find a child that n4's arrival takes from another node.
	var joined ChildSpec
	for i := range 100 {
		s := ChildSpec{ID: fmt.Sprintf("c%d", i)}
		if o, _, _, _ := PlaceChild("web", s, cands); o == "n4" {
			joined = s
			break
		}
	}
	require.NotEmpty(t, joined.ID)
	prevOwner, _, _, _ := PlaceChild("web", joined, cands[:3])
	tests := []struct {
		name      string
		spec      ChildSpec
		from, to  string
		fromState string
		want      string
	}{
		{"from died", spec, "n2", "n1", StateDead, "n2 died"},
		{"from left", spec, "n2", "n1", StateLeft, "n2 left"},
		{"from unknown", spec, "n2", "n1", StateUnknown, "n2 is gone"},
		{"preferred node back", ChildSpec{ID: "c1", Placement: Placement{Node: "n3"}}, "n1", "n3", StateAlive, "preferred node n3 back"},
		{"pinned node back", ChildSpec{ID: "c1", Placement: Placement{Node: "n3", Strategy: StrategyLeastLoaded}}, "n1", "n3", StateAlive, "pinned node n3 back"},
		{"to joined", joined, prevOwner, "n4", StateAlive, "n4 joined"},
		{"other change", joined, "n9", "n4", StateSuspect, "owner changed from n9 to n4 (membership or tags changed)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, migrationReason("web", tt.spec, tt.from, tt.to, tt.fromState, cands))
		})
	}
}

func TestSupervisorSpecValidation(t *testing.T) {
	got, err := normalizeSupervisorSpec(SupervisorSpec{Name: "web"})
	require.NoError(t, err)
	assert.Equal(t, SupervisorSpec{Name: "web", MaxRestarts: DefaultMaxRestarts, Period: DefaultRestartPeriod}, got)
	for _, bad := range []SupervisorSpec{
		{}, {Name: "a b"}, {Name: "a/b"}, {Name: "web", MaxRestarts: -1}, {Name: "web", Period: -time.Second},
		{Name: "web", Period: 48 * time.Hour},
	} {
		_, err := normalizeSupervisorSpec(bad)
		assert.Error(t, err, "normalizeSupervisorSpec(%+v)", bad)
	}
	c, err := normalizeChildSpec(ChildSpec{ID: "c1", Behavior: "echo", Placement: Placement{Tags: map[string]string{}}})
	require.NoError(t, err)
	assert.Equal(t, RestartPermanent, c.Restart)
	assert.Equal(t, StrategyRendezvous, c.Placement.Strategy)
	assert.Nil(t, c.Placement.Tags)
	for _, bad := range []ChildSpec{
		{Behavior: "echo"}, {ID: "c1"}, {ID: "c1", Behavior: "echo", Restart: "always"},
		{ID: "c1", Behavior: "echo", Placement: Placement{Strategy: "random"}},
		{ID: "c1", Behavior: "echo", Placement: Placement{Node: "bad node"}},
		{ID: "c1", Behavior: "echo", Placement: Placement{Tags: map[string]string{"": "x"}}},
		{ID: "c1", Behavior: "echo", Args: make([]byte, MaxChildArgs+1)},
	} {
		_, err := normalizeChildSpec(bad)
		assert.Error(t, err, "normalizeChildSpec(%+v)", bad)
	}
}

func TestSupervisorSpecJSON(t *testing.T) {
	b, err := json.Marshal(SupervisorSpec{Name: "web", MaxRestarts: 2, Period: 1500 * time.Millisecond})
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"web","max_restarts":2,"period":"1.5s"}`, string(b))
	var s SupervisorSpec
	require.NoError(t, json.Unmarshal([]byte(`{"name":"web","period":2000000000}`), &s))
	assert.Equal(t, SupervisorSpec{Name: "web", Period: 2 * time.Second}, s)
	assert.Error(t, json.Unmarshal([]byte(`{"name":"web","period":"soon"}`), &s))
	assert.Error(t, json.Unmarshal([]byte(`{"name":"web","period":true}`), &s))
}

func supTestDelta() supDelta {
	spec := ChildSpec{ID: "c1", Behavior: "echo", Args: []byte(`{}`), Restart: RestartTransient,
		Placement: Placement{Strategy: StrategyRendezvous, Node: "n2", Tags: map[string]string{"zone": "a"}}}
	return supDelta{
		Sups: []supRecord{
			{Name: "web", Spec: SupervisorSpec{Name: "web", MaxRestarts: 3, Period: 5 * time.Second}, Ver: 4, Org: "n1", Cleared: 2},
			{Name: "old", Ver: 9, Org: "n3", Deleted: true},
		},
		Children: []childRecord{
			{Sup: "web", ID: "c1", Spec: spec, Ver: 5, Org: "n1", Loc: childLoc{Node: "n2", PID: PID{Node: "n2", ID: 7}, At: time.Unix(5, 0).UTC(), Ver: 6}},
			{Sup: "web", ID: "c2", Ver: 8, Org: "n2", Deleted: true},
		},
	}
}

func TestSupervisorCodecs(t *testing.T) {
	d := supTestDelta()
	got, err := decodeSupDelta(encodeSupDelta(d), maxSupDelta)
	require.NoError(t, err)
	assert.Equal(t, d, got)

	good := encodeSupDelta(d)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad version", append([]byte{9}, good[1:]...)},
		{"not json", []byte{supWireVersion, '{', 'x'}},
		{"too large", append(good, make([]byte, 64)...)},
		{"zero version", encodeSupDelta(supDelta{Sups: []supRecord{{Name: "web", Ver: 0, Org: "n1", Deleted: true}}})},
		{"bad origin", encodeSupDelta(supDelta{Sups: []supRecord{{Name: "web", Ver: 1, Org: "a b", Deleted: true}}})},
		{"cleared not below version", encodeSupDelta(supDelta{Sups: []supRecord{{Name: "web", Ver: 3, Cleared: 3, Org: "n1", Deleted: true}}})},
		{"spec not normalized", encodeSupDelta(supDelta{Sups: []supRecord{{Name: "web", Spec: SupervisorSpec{Name: "web"}, Ver: 1, Org: "n1"}}})},
		{"spec misnamed", encodeSupDelta(supDelta{Sups: []supRecord{{Name: "web", Spec: SupervisorSpec{Name: "api", MaxRestarts: 3, Period: time.Second}, Ver: 1, Org: "n1"}}})},
		{"child id mismatch", func() []byte {
			d := supTestDelta()
			d.Children[0].Spec.ID = "other"
			return encodeSupDelta(d)
		}()},
		{"child restart missing", func() []byte {
			d := supTestDelta()
			d.Children[0].Spec.Restart = ""
			return encodeSupDelta(d)
		}()},
		{"location pid on another node", func() []byte {
			d := supTestDelta()
			d.Children[0].Loc.PID.Node = "n9"
			return encodeSupDelta(d)
		}()},
		{"location without version", func() []byte {
			d := supTestDelta()
			d.Children[0].Loc.Ver = 0
			return encodeSupDelta(d)
		}()},
		{"bad tags", func() []byte {
			d := supTestDelta()
			d.Children[0].Spec.Placement.Tags = map[string]string{"a=b": "c"}
			return encodeSupDelta(d)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := maxSupDelta
			if tt.name == "too large" {
				limit = len(good)
			}
			_, err := decodeSupDelta(tt.b, limit)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrBadFrame), "decodeSupDelta err = %v; want ErrBadFrame", err)
		})
	}
}

// supFuzzReplica returns a replica on an unstarted node: merging must not
// need the network.
func supFuzzReplica(tb testing.TB) *supervisors {
	tb.Helper()
	n, err := NewNode(Config{Name: "fuzz"})
	require.NoError(tb, err)
	return n.supervisors
}

func FuzzSupervisorDelta(f *testing.F) {
	f.Add(encodeSupDelta(supTestDelta()))
	f.Add(encodeSupDelta(supDelta{}))
	f.Add([]byte{supWireVersion, '{', '"', 's', '"', ':', '[', '{', '}', ']', '}'})
	f.Add([]byte{supWireVersion, 'n', 'u', 'l', 'l'})
	s := supFuzzReplica(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeSupDelta(b, maxSupDelta)
		if err != nil {
			return
		}
		// Whatever decodes must merge without panicking, and re-encode to
		// something that decodes again.
		if _, err := s.MergeDelta(b); err != nil {
			t.Fatalf("MergeDelta of a valid delta: %v", err)
		}
		if _, err := decodeSupDelta(encodeSupDelta(d), maxSupDelta); err != nil {
			t.Fatalf("re-encoded delta does not decode: %v", err)
		}
	})
}

func FuzzSupervisorSnapshot(f *testing.F) {
	f.Add(encodeSupDelta(supTestDelta()))
	f.Add([]byte{})
	f.Add([]byte{supWireVersion})
	f.Add([]byte{supWireVersion, '{', '"', 'c', '"', ':', '[', '{', '"', 'l', '"', ':', '{', '}', '}', ']', '}'})
	s := supFuzzReplica(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = s.MergeSnapshot(b)
		snap := s.Snapshot()
		if _, err := decodeSupDelta(snap, maxSnapshot); err != nil {
			t.Fatalf("own snapshot does not decode: %v", err)
		}
	})
}

func TestSupervisorReplicaMergesAndCollectsTombstones(t *testing.T) {
	s := supFuzzReplica(t)
	d := supTestDelta()
	changed, err := s.MergeDelta(encodeSupDelta(d))
	require.NoError(t, err)
	assert.True(t, changed)
	changed, err = s.MergeDelta(encodeSupDelta(d))
	require.NoError(t, err)
	assert.False(t, changed, "a duplicate delta changes nothing")

	infos := s.n.Supervisors()
	require.Len(t, infos, 1)
	assert.Equal(t, "web", infos[0].Spec.Name)
	assert.Equal(t, 1, infos[0].Children)
	assert.Greater(t, s.clock, uint64(8), "the Lamport clock follows merged versions")

	// A snapshot carries everything, tombstones included.
	other := supFuzzReplica(t)
	require.NoError(t, other.MergeSnapshot(s.Snapshot()))
	assert.Len(t, other.sups, 2)
	assert.Len(t, other.children, 2)

	// Tombstones are forgotten after the TTL, live records are kept.
	s.mu.Lock()
	s.gcLocked(time.Now().Add(supTombstoneTTL + time.Minute))
	assert.Len(t, s.sups, 1)
	assert.Len(t, s.children, 1)
	s.mu.Unlock()

	// A deletion of the supervisor ends its children.
	_, err = s.MergeDelta(encodeSupDelta(supDelta{Sups: []supRecord{{Name: "web", Ver: 20, Org: "n1", Deleted: true}}}))
	require.NoError(t, err)
	assert.Empty(t, s.n.Supervisors())
	assert.Empty(t, s.liveChildSpecs())
}
