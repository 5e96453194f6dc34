package cluster

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMergeEntry(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := PID{Node: "a", ID: 1}
	b := PID{Node: "b", ID: 1}
	live := func(p PID, at time.Time, v uint64) regEntry {
		return regEntry{Name: "svc", PID: p, RegisteredAt: at, Version: v}
	}
	dead := func(p PID, at time.Time, v uint64) regEntry {
		e := live(p, at, v)
		e.Deleted = true
		return e
	}
	tests := []struct {
		name         string
		local        regEntry
		hasLocal     bool
		in           regEntry
		wantKeep     PID
		wantDeleted  bool
		wantChanged  bool
		wantConflict bool
		wantRule     string
	}{
		{"new name", regEntry{}, false, live(a, t0, 1), a, false, true, false, ""},
		{"same binding, newer version", live(a, t0, 1), true, live(a, t0, 2), a, false, true, false, ""},
		{"same binding, older version", live(a, t0, 3), true, live(a, t0, 2), a, false, false, false, ""},
		{"deletion of the same binding", live(a, t0, 1), true, dead(a, t0, 2), a, true, true, false, ""},
		{"deletion wins a version tie", live(a, t0, 2), true, dead(a, t0, 2), a, true, true, false, ""},
		{"stale live after deletion", dead(a, t0, 2), true, live(a, t0, 1), a, true, false, false, ""},
		{"conflict: earlier local wins", live(a, t0, 5), true, live(b, t0.Add(time.Second), 1), a, false, false, true, RuleEarliest},
		{"conflict: earlier incoming wins", live(a, t0.Add(time.Second), 1), true, live(b, t0, 9), b, false, true, true, RuleEarliest},
		{"conflict: same time, lower pid", live(b, t0, 1), true, live(a, t0, 1), a, false, true, true, RuleLowerPID},
		{"live beats another's deletion", dead(a, t0, 9), true, live(b, t0, 1), b, false, true, false, ""},
		{"another's deletion loses to live", live(b, t0, 1), true, dead(a, t0, 9), b, false, false, false, ""},
		{"two deletions: higher version", dead(a, t0, 1), true, dead(b, t0, 2), b, true, true, false, ""},
	}
	for _, tt := range tests {
		got := mergeEntry(tt.local, tt.hasLocal, tt.in)
		assert.Equal(t, tt.wantKeep, got.keep.PID, "%s: kept pid", tt.name)
		assert.Equal(t, tt.wantDeleted, got.keep.Deleted, "%s: deleted", tt.name)
		assert.Equal(t, tt.wantChanged, got.changed, "%s: changed", tt.name)
		assert.Equal(t, tt.wantConflict, got.conflict, "%s: conflict", tt.name)
		assert.Equal(t, tt.wantRule, got.rule, "%s: rule", tt.name)
	}
}

// TestMergeIsOrderIndependent checks that two nodes receiving the two sides
// of a conflict in opposite orders keep the same winner.
func TestMergeIsOrderIndependent(t *testing.T) {
	t0 := time.Unix(1000, 0)
	x := regEntry{Name: "n", PID: PID{Node: "a", ID: 7}, RegisteredAt: t0, Version: 3}
	y := regEntry{Name: "n", PID: PID{Node: "b", ID: 2}, RegisteredAt: t0, Version: 1}
	one := mergeEntry(x, true, y)
	two := mergeEntry(y, true, x)
	assert.Equal(t, one.keep.PID, two.keep.PID)
	assert.Equal(t, one.loser.PID, two.loser.PID)
}

func TestRegistryCodecs(t *testing.T) {
	e := regEntry{Name: "svc", PID: PID{Node: "a", ID: 1}, RegisteredAt: time.Unix(5, 0).UTC(), Version: 2}
	got, err := decodeRegistryDelta(encodeRegistryDelta(e))
	assert.NoError(t, err)
	assert.Equal(t, e, got)
	es, err := decodeRegistrySnapshot(encodeRegistrySnapshot([]regEntry{e}))
	assert.NoError(t, err)
	assert.Equal(t, []regEntry{e}, es)

	bad := map[string]string{
		"not json":     `{`,
		"old version":  `{"v":0,"e":{"n":"x","p":"a/1"}}`,
		"empty name":   `{"v":1,"e":{"n":"","p":"a/1"}}`,
		"bad pid":      `{"v":1,"e":{"n":"x","p":"a/0"}}`,
		"control char": `{"v":1,"e":{"n":"x\u0001","p":"a/1"}}`,
	}
	for name, b := range bad {
		_, err := decodeRegistryDelta([]byte(b))
		assert.ErrorIs(t, err, ErrBadFrame, name)
	}
	_, err = decodeRegistrySnapshot([]byte(`{"v":1,"e":[{"n":"x","p":"zz"}]}`))
	assert.ErrorIs(t, err, ErrBadFrame)
}

func FuzzRegistryDelta(f *testing.F) {
	f.Add(encodeRegistryDelta(regEntry{Name: "svc", PID: PID{Node: "a", ID: 1}, Version: 1}))
	f.Add([]byte(`{"v":1,"e":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeRegistryDelta(b)
		if err == nil {
			assert.NoError(t, e.validate())
		}
	})
}

func FuzzRegistrySnapshot(f *testing.F) {
	f.Add(encodeRegistrySnapshot([]regEntry{{Name: "svc", PID: PID{Node: "a", ID: 1}, Version: 1}}))
	f.Add([]byte(`{"v":1,"e":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeRegistrySnapshot(b)
	})
}
