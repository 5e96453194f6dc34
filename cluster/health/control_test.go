package health_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/cluster/health"
)

func TestMonitorSetRulesAndHistory(t *testing.T) {
	tc := startCluster(t, 3)
	m, rec := runMonitor(t, tc, health.Config{Interval: 100 * time.Millisecond, HistorySize: 5})
	require.NoError(t, tc.sim.Crash("node-3"))
	a, _ := rec.waitFor(t, health.EventAlertRaised, "node_down", "node-3", 15*time.Second)

	// The history is bounded, oldest first, and filtered by time.
	require.Eventually(t, func() bool {
		h, ok := m.ResourceHistory("node-1", time.Time{})
		return ok && len(h) == 5
	}, 10*time.Second, 20*time.Millisecond)
	h, _ := m.ResourceHistory("node-1", time.Time{})
	assert.True(t, slices.IsSortedFunc(h, func(a, b cluster.Resources) int { return a.Time.Compare(b.Time) }))
	recent, _ := m.ResourceHistory("node-1", h[3].Time)
	assert.Len(t, recent, 2)
	_, ok := m.ResourceHistory("nobody", time.Time{})
	assert.False(t, ok)

	// An invalid rule set changes nothing.
	require.Error(t, m.SetRules(context.Background(), []health.Rule{{Name: "Bad"}}))
	assert.Len(t, m.Rules(), len(health.DefaultRules()))

	// Keeping node_down keeps its alert; removing it resolves the alert.
	keep := slices.DeleteFunc(health.DefaultRules(), func(r health.Rule) bool { return r.Name == "cpu_high" })
	require.NoError(t, m.SetRules(context.Background(), keep))
	require.Len(t, m.Alerts(), 1)
	assert.Equal(t, a.ID, m.Alerts()[0].ID)
	without := slices.DeleteFunc(health.DefaultRules(), func(r health.Rule) bool { return r.Name == "node_down" })
	require.NoError(t, m.SetRules(context.Background(), without))
	r, _ := rec.waitFor(t, health.EventAlertResolved, "node_down", "node-3", 5*time.Second)
	assert.Equal(t, a.ID, r.ID)
	assert.Equal(t, "the rule was removed", r.Resolution)
	assert.Empty(t, m.Alerts())
	assert.False(t, slices.ContainsFunc(m.Rules(), func(r health.Rule) bool { return r.Name == "node_down" }))
	kept, err := m.History(context.Background())
	require.NoError(t, err)
	assert.True(t, slices.ContainsFunc(kept, func(x health.Alert) bool { return x.ID == a.ID && x.State == health.AlertResolved }))

	// Back to the defaults: node-3 is still down, so it is raised anew.
	require.NoError(t, m.SetRules(context.Background(), nil))
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(m.Alerts(), func(x health.Alert) bool { return x.Rule == "node_down" && x.ID != a.ID })
	}, 10*time.Second, 20*time.Millisecond)
}

func TestRuleJSON(t *testing.T) {
	for _, r := range health.DefaultRules() {
		raw, err := json.Marshal(r)
		require.NoError(t, err)
		var back health.Rule
		require.NoError(t, json.Unmarshal(raw, &back), "%s", raw)
		assert.Equal(t, r, back, "%s", raw)
	}
	raw, err := json.Marshal(health.Rule{Name: "x", For: 90 * time.Second})
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"for":"1m30s"`)
	assert.NotContains(t, string(raw), "clear_for")

	tests := []struct {
		in       string
		for_     time.Duration
		clearFor time.Duration
		wantErr  bool
	}{
		{`{"name":"a","for":"10s","clear_for":"1m"}`, 10 * time.Second, time.Minute, false},
		{`{"name":"a","for":2000000000}`, 2 * time.Second, 0, false},
		{`{"name":"a","for":null,"clear_for":""}`, 0, 0, false},
		{`{"name":"a"}`, 0, 0, false},
		{`{"name":"a","for":"soon"}`, 0, 0, true},
		{`{"name":"a","for":true}`, 0, 0, true},
		{`{"name":"a","for":1e300}`, 0, 0, true},
		{`[1]`, 0, 0, true},
	}
	for _, tt := range tests {
		var r health.Rule
		err := json.Unmarshal([]byte(tt.in), &r)
		if tt.wantErr {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.for_, r.For, tt.in)
		assert.Equal(t, tt.clearFor, r.ClearFor, tt.in)
	}
}

// FuzzRuleJSON: rules come from the API and the project file; decoding
// never panics, and a rule that decodes and validates survives a round
// trip.
func FuzzRuleJSON(f *testing.F) {
	for _, r := range health.DefaultRules() {
		raw, _ := json.Marshal(r)
		f.Add(raw)
	}
	f.Add([]byte(`{"name":"a","for":-5,"clear_for":"-1h"}`))
	f.Add([]byte(`{"for":"9999999999h"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var r health.Rule
		if json.Unmarshal(raw, &r) != nil || r.Validate() != nil {
			return
		}
		out, err := json.Marshal(r)
		require.NoError(t, err)
		var back health.Rule
		require.NoError(t, json.Unmarshal(out, &back), "%s", out)
		require.NoError(t, back.Validate())
	})
}
