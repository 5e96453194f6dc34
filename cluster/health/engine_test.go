package health

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// step is one Engine.Step in a table: at second At, these signals, and the
// transitions expected ("raise:rule/node", "resolve:rule/node").
type step struct {
	at      float64
	alive   []string
	known   []string
	signals []Signal
	want    []string
}

func runSteps(t *testing.T, e *Engine, steps []step) {
	t.Helper()
	alive := []string{"n1", "n2"}
	for i, s := range steps {
		if s.alive != nil {
			alive = s.alive
		}
		got := e.Step(StepInput{Now: t0.Add(time.Duration(s.at * float64(time.Second))), Alive: alive, Known: s.known, Signals: s.signals})
		var kinds []string
		for _, tr := range got {
			kinds = append(kinds, fmt.Sprintf("%s:%s/%s", tr.Kind, tr.Rule.Name, tr.Node))
		}
		assert.Equal(t, s.want, kinds, "step %d at %vs", i, s.at)
	}
}

func cpu(node string, v float64) Signal { return Signal{Metric: MetricCPU, Node: node, Value: v} }

func TestEngineThresholdForDuration(t *testing.T) {
	rule := Rule{Name: "cpu_high", Metric: MetricCPU, Op: OpAbove, Threshold: 90, For: 10 * time.Second, Severity: SeverityWarning, Remediation: "r"}
	tests := []struct {
		name  string
		steps []step
	}{
		{"raises after the duration", []step{
			{at: 0, signals: []Signal{cpu("n1", 95)}},
			{at: 5, signals: []Signal{cpu("n1", 96)}},
			{at: 10, signals: []Signal{cpu("n1", 97)}, want: []string{"raise:cpu_high/n1"}},
			{at: 11, signals: []Signal{cpu("n1", 97)}},
			{at: 12, signals: []Signal{cpu("n1", 50)}, want: []string{"resolve:cpu_high/n1"}},
		}},
		{"a dip restarts the clock", []step{
			{at: 0, signals: []Signal{cpu("n1", 95)}},
			{at: 8, signals: []Signal{cpu("n1", 80)}},
			{at: 9, signals: []Signal{cpu("n1", 95)}},
			{at: 18, signals: []Signal{cpu("n1", 95)}},
			{at: 19, signals: []Signal{cpu("n1", 95)}, want: []string{"raise:cpu_high/n1"}},
		}},
		{"nodes are independent", []step{
			{at: 0, signals: []Signal{cpu("n1", 95), cpu("n2", 10)}},
			{at: 10, signals: []Signal{cpu("n1", 95), cpu("n2", 95)}, want: []string{"raise:cpu_high/n1"}},
			{at: 20, signals: []Signal{cpu("n1", 95), cpu("n2", 95)}, want: []string{"raise:cpu_high/n2"}},
		}},
		{"a missing value keeps a firing alert while the node is known", []step{
			{at: 0, signals: []Signal{cpu("n1", 95)}},
			{at: 10, signals: []Signal{cpu("n1", 95)}, want: []string{"raise:cpu_high/n1"}},
			{at: 11, known: []string{"n1", "n2"}},
			{at: 12, known: []string{"n2"}, want: []string{"resolve:cpu_high/n1"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewEngine([]Rule{rule})
			require.NoError(t, err)
			runSteps(t, e, tt.steps)
		})
	}
}

func TestEngineClearFor(t *testing.T) {
	rule := Rule{Name: "cut", Metric: MetricAsymmetric, Op: OpAbove, Threshold: 0, ClearFor: 5 * time.Second, Severity: SeverityCritical, Remediation: "r"}
	cuts := func(v float64) []Signal { return []Signal{{Metric: MetricAsymmetric, Value: v}} }
	e, err := NewEngine([]Rule{rule})
	require.NoError(t, err)
	runSteps(t, e, []step{
		{at: 0, signals: cuts(1), want: []string{"raise:cut/"}},
		{at: 1, signals: cuts(0)},
		{at: 3, signals: cuts(2)}, // flapping: still the same alert
		{at: 4, signals: cuts(0)},
		{at: 8, signals: cuts(0)},
		{at: 9, signals: cuts(0), want: []string{"resolve:cut/"}},
		{at: 10, signals: cuts(1), want: []string{"raise:cut/"}},
	})
}

func TestEngineImmediateRuleAndEvidence(t *testing.T) {
	e, err := NewEngine([]Rule{{Name: "down", Metric: MetricDown, Op: OpEqual, Threshold: 1, Severity: SeverityCritical, Remediation: "r {node}"}})
	require.NoError(t, err)
	got := e.Step(StepInput{Now: t0, Signals: []Signal{{Metric: MetricDown, Node: "n3", Value: 1, Detail: "d"}}})
	require.Len(t, got, 1)
	assert.Equal(t, Raise, got[0].Kind)
	assert.Equal(t, []Sample{{t0, 1}}, got[0].Values)
	assert.Equal(t, "d", got[0].Detail)
	a := newAlert(got[0])
	assert.Equal(t, "r n3", a.Remediation)
	assert.Equal(t, AlertRaised, a.State)
	assert.Equal(t, "n3", a.Node)
	assert.True(t, e.Firing("down", "n3"))
}

func TestEngineBaselines(t *testing.T) {
	rule := Rule{Name: "rtt_high", Metric: MetricRTT, Op: OpAbove, Threshold: 3, Baseline: true, Floor: 5, Severity: SeverityWarning, Remediation: "r"}
	rtt := func(v float64) []Signal { return []Signal{{Metric: MetricRTT, Node: "n1", Value: v}} }
	var warm []step
	for i := range 10 {
		warm = append(warm, step{at: float64(i), signals: rtt(10)})
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"no alert before the baseline is warm", []step{
			{at: 0, signals: rtt(10)},
			{at: 1, signals: rtt(100)},
		}},
		{"a value over three times the baseline fires", append(warm[:10:10],
			step{at: 10, signals: rtt(40), want: []string{"raise:rtt_high/n1"}},
			step{at: 11, signals: rtt(45)},
			step{at: 12, signals: rtt(11), want: []string{"resolve:rtt_high/n1"}},
		)},
		{"values under the floor never fire", append(warm[:10:10],
			step{at: 10, signals: []Signal{{Metric: MetricRTT, Node: "n1", Value: 4}}},
		)},
		{"a membership change re-bases", append(warm[:10:10],
			step{at: 10, alive: []string{"n1", "n2", "n3"}, signals: rtt(40)},
			step{at: 11, alive: []string{"n1", "n2", "n3"}, signals: rtt(40)},
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewEngine([]Rule{rule})
			require.NoError(t, err)
			runSteps(t, e, tt.steps)
		})
	}
}

func TestEngineBaselineHeldWhileFiring(t *testing.T) {
	e, err := NewEngine([]Rule{{Name: "g", Metric: MetricGoroutines, Op: OpAbove, Threshold: 2, Baseline: true, Severity: SeverityWarning, Remediation: "r"}})
	require.NoError(t, err)
	sig := func(v float64) []Signal { return []Signal{{Metric: MetricGoroutines, Node: "n1", Value: v}} }
	for i := range 10 {
		e.Step(StepInput{Now: t0.Add(time.Duration(i) * time.Second), Alive: []string{"n1"}, Signals: sig(100)})
	}
	assert.InDelta(t, 100, e.Baselines()["n1"][MetricGoroutines].Mean, 1e-9)
	for i := range 30 {
		e.Step(StepInput{Now: t0.Add(time.Duration(10+i) * time.Second), Alive: []string{"n1"}, Signals: sig(500)})
	}
	assert.True(t, e.Firing("g", "n1"), "a leak stays an alert")
	assert.InDelta(t, 100, e.Baselines()["n1"][MetricGoroutines].Mean, 1e-9, "the anomaly does not become the baseline")
}

func TestEngineRestore(t *testing.T) {
	e, err := NewEngine([]Rule{{Name: "down", Metric: MetricDown, Op: OpEqual, Threshold: 1, Severity: SeverityCritical, Remediation: "r"}})
	require.NoError(t, err)
	e.Restore("down", "n2", t0)
	assert.Empty(t, e.Step(StepInput{Now: t0, Signals: []Signal{{Metric: MetricDown, Node: "n2", Value: 1}}}), "not raised twice")
	got := e.Step(StepInput{Now: t0.Add(time.Second), Signals: []Signal{{Metric: MetricDown, Node: "n2", Value: 0}}})
	require.Len(t, got, 1)
	assert.Equal(t, Resolve, got[0].Kind)
}
