package cluster

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMergeBinding(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := PID{Node: "a", ID: 1}
	live := func(v uint64) regEntry { return regEntry{Name: "svc", PID: a, RegisteredAt: t0, Version: v} }
	dead := func(v uint64) regEntry {
		e := live(v)
		e.Deleted = true
		return e
	}
	tests := []struct {
		name        string
		local       regEntry
		hasLocal    bool
		in          regEntry
		wantVersion uint64
		wantDeleted bool
		wantChanged bool
	}{
		{"new binding", regEntry{}, false, live(1), 1, false, true},
		{"newer version", live(1), true, live(2), 2, false, true},
		{"older version ignored", live(3), true, live(2), 3, false, false},
		{"deletion", live(1), true, dead(2), 2, true, true},
		{"deletion wins a version tie", live(2), true, dead(2), 2, true, true},
		{"late copy after deletion ignored", dead(2), true, live(1), 2, true, false},
		{"same again", live(2), true, live(2), 2, false, false},
	}
	for _, tt := range tests {
		keep, changed := mergeBinding(tt.local, tt.hasLocal, tt.in)
		assert.Equal(t, tt.wantVersion, keep.Version, "%s: version", tt.name)
		assert.Equal(t, tt.wantDeleted, keep.Deleted, "%s: deleted", tt.name)
		assert.Equal(t, tt.wantChanged, changed, "%s: changed", tt.name)
	}
}

func TestHolder(t *testing.T) {
	t0 := time.Unix(1000, 0)
	e := func(node string, id uint64, at time.Time) regEntry {
		return regEntry{Name: "svc", PID: PID{Node: node, ID: id}, RegisteredAt: at}
	}
	tests := []struct {
		name       string
		live       []regEntry
		wantWinner PID
		wantLosers int
		wantRule   string
	}{
		{"nobody", nil, PID{}, 0, ""},
		{"one", []regEntry{e("a", 1, t0)}, PID{Node: "a", ID: 1}, 0, ""},
		{"earliest wins", []regEntry{e("b", 1, t0.Add(time.Second)), e("a", 9, t0)}, PID{Node: "a", ID: 9}, 1, RuleEarliest},
		{"same time: lower pid", []regEntry{e("b", 1, t0), e("a", 2, t0)}, PID{Node: "a", ID: 2}, 1, RuleLowerPID},
		{"three sides", []regEntry{e("c", 1, t0.Add(2*time.Second)), e("b", 1, t0.Add(time.Second)), e("a", 1, t0.Add(3*time.Second))}, PID{Node: "b", ID: 1}, 2, RuleEarliest},
	}
	for _, tt := range tests {
		w, losers, rule := holder(tt.live)
		assert.Equal(t, tt.wantWinner, w.PID, "%s: winner", tt.name)
		assert.Len(t, losers, tt.wantLosers, "%s: losers", tt.name)
		assert.Equal(t, tt.wantRule, rule, "%s: rule", tt.name)
	}
}

// TestHolderIsOrderIndependent checks that nodes seeing the bindings of a
// conflict in different orders pick the same holder.
func TestHolderIsOrderIndependent(t *testing.T) {
	t0 := time.Unix(1000, 0)
	x := regEntry{Name: "n", PID: PID{Node: "a", ID: 7}, RegisteredAt: t0, Version: 3}
	y := regEntry{Name: "n", PID: PID{Node: "b", ID: 2}, RegisteredAt: t0, Version: 1}
	z := regEntry{Name: "n", PID: PID{Node: "c", ID: 1}, RegisteredAt: t0.Add(-time.Second), Version: 1}
	w1, _, _ := holder([]regEntry{x, y, z})
	w2, _, _ := holder([]regEntry{z, y, x})
	w3, _, _ := holder([]regEntry{y, z, x})
	assert.Equal(t, w1.PID, w2.PID)
	assert.Equal(t, w1.PID, w3.PID)
	assert.Equal(t, z.PID, w1.PID)
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
