package health

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOperatorHolds(t *testing.T) {
	tests := []struct {
		op   Operator
		v, t float64
		want bool
	}{
		{OpAbove, 91, 90, true},
		{OpAbove, 90, 90, false},
		{OpAtLeast, 90, 90, true},
		{OpBelow, 1, 2, true},
		{OpBelow, 2, 2, false},
		{OpAtMost, 2, 2, true},
		{OpEqual, 1, 1, true},
		{OpEqual, 1.1, 1, false},
		{OpNotEqual, 1.1, 1, true},
		{OpNotEqual, 1, 1, false},
		{Operator("~"), 1, 1, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.op.Holds(tt.v, tt.t), "Holds(%v %s %v)", tt.v, tt.op, tt.t)
	}
}

func TestRuleValidate(t *testing.T) {
	ok := Rule{Name: "cpu_high", Metric: MetricCPU, Op: OpAbove, Threshold: 90, For: 10 * time.Second, Severity: SeverityWarning, Remediation: "run x"}
	tests := []struct {
		name    string
		edit    func(*Rule)
		wantErr string
	}{
		{"valid", func(*Rule) {}, ""},
		{"bad name", func(r *Rule) { r.Name = "CPU High" }, "Name"},
		{"empty name", func(r *Rule) { r.Name = "" }, "Name"},
		{"no metric", func(r *Rule) { r.Metric = "" }, "Metric"},
		{"bad op", func(r *Rule) { r.Op = "=>" }, "Op"},
		{"nan threshold", func(r *Rule) { r.Threshold = math.NaN() }, "Threshold"},
		{"negative for", func(r *Rule) { r.For = -time.Second }, "For"},
		{"bad severity", func(r *Rule) { r.Severity = "page" }, "Severity"},
		{"baseline needs positive", func(r *Rule) { r.Baseline, r.Threshold = true, 0 }, "Threshold"},
		{"no remediation", func(r *Rule) { r.Remediation = "" }, "Remediation"},
	}
	for _, tt := range tests {
		r := ok
		tt.edit(&r)
		err := r.Validate()
		if tt.wantErr == "" {
			assert.NoError(t, err, tt.name)
			continue
		}
		require.Error(t, err, tt.name)
		assert.Contains(t, err.Error(), tt.wantErr, tt.name)
	}
}

func TestValidateRules(t *testing.T) {
	require.NoError(t, ValidateRules(DefaultRules()), "the default rules are valid")
	r := DefaultRules()[0]
	err := ValidateRules([]Rule{r, r})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "used twice")
}

func TestRuleSummaryAndRemediation(t *testing.T) {
	tests := []struct {
		rule        Rule
		node        string
		value       float64
		wantSummary string
	}{
		{Rule{Name: "x", Metric: MetricCPU, Op: OpAbove, Threshold: 90, For: 10 * time.Second}, "node-3", 95.25,
			"cpu 95.2 > 90 for 10s on node-3"},
		{Rule{Name: "x", Metric: MetricRTT, Op: OpAbove, Threshold: 3, Baseline: true}, "node-1", 12,
			"rtt_ms 12 > 3x baseline on node-1"},
		{Rule{Name: "x", Metric: MetricPartition, Op: OpAtLeast, Threshold: 2, Summary: "split into {value} groups"}, "", 2,
			"split into 2 groups"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.wantSummary, tt.rule.summary(tt.node, "", tt.value))
	}
	down := DefaultRules()[0]
	assert.Equal(t, "run `clusterlab op run node_info node=node-3`; in the simulator restart it with `clusterlab op run node_restart node=node-3 --yes`",
		render(down.Remediation, down, "node-3", "", 1))
}
