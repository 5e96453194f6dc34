package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/cluster/health"
	"github.com/clusterlab/clusterlab/operations"
)

// fakeHealth is a HealthControl over plain data.
type fakeHealth struct {
	report   health.Report
	history  []health.Alert
	active   []health.Alert
	timeline []health.TimelineEntry
	rules    []health.Rule
	pressure map[string]operations.Pressure
	samples  map[string][]cluster.Resources
}

func (f *fakeHealth) Status(context.Context) (health.Report, error) { return f.report, nil }
func (f *fakeHealth) NodeResources(node string, since time.Time) ([]cluster.Resources, bool) {
	s, ok := f.samples[node]
	var out []cluster.Resources
	for _, r := range s {
		if !r.Time.Before(since) {
			out = append(out, r)
		}
	}
	return out, ok
}
func (f *fakeHealth) ActiveAlerts() []health.Alert { return append([]health.Alert(nil), f.active...) }
func (f *fakeHealth) AlertHistory(context.Context) ([]health.Alert, error) {
	return append([]health.Alert(nil), f.history...), nil
}
func (f *fakeHealth) Ack(_ context.Context, id string) (health.Alert, error) {
	for i, a := range f.active {
		if a.ID == id {
			f.active[i].State = health.AlertAcknowledged
			return f.active[i], nil
		}
	}
	return health.Alert{}, fmt.Errorf("%w: %q", health.ErrUnknownAlert, id)
}
func (f *fakeHealth) Timeline() []health.TimelineEntry { return f.timeline }
func (f *fakeHealth) Rules() ([]health.Rule, bool) {
	if f.rules == nil {
		return health.DefaultRules(), true
	}
	return f.rules, false
}
func (f *fakeHealth) SetRules(_ context.Context, rules []health.Rule) (bool, error) {
	f.rules = rules
	return true, nil
}
func (f *fakeHealth) Pressure(node string) (operations.Pressure, error) {
	p, ok := f.pressure[node]
	if !ok {
		return p, operations.Errorf(operations.CodeNotFound, "no node %s", node)
	}
	return p, nil
}
func (f *fakeHealth) SetPressure(node string, p operations.Pressure) (operations.Pressure, error) {
	if _, err := f.Pressure(node); err != nil {
		return p, err
	}
	f.pressure[node] = p
	return p, nil
}

// simEnv is an env whose simulator is the fake (only Sim != nil matters
// to the framework for simulator-only operations).
type fakeSim struct{ operations.SimControl }

func (fakeSim) Nodes() []operations.SimNode {
	return []operations.SimNode{{Name: "node-1", State: "running"}, {Name: "node-2", State: "running"}}
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func alert(id, rule, node string, sev health.Severity, st health.AlertState, raised time.Duration) health.Alert {
	return health.Alert{ID: id, Rule: rule, Node: node, Severity: sev, State: st, RaisedAt: t0.Add(raised)}
}

func run(t *testing.T, env *operations.Env, op string, params map[string]any) (map[string]any, error) {
	t.Helper()
	res, err := operations.Default().Run(context.Background(), env, op, params)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(res)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out, nil
}

func TestHealthStatusOf(t *testing.T) {
	one := 1
	r := health.Report{
		Time: t0, Observer: "observer", Ticks: 7, Interval: 2 * time.Second, BaseInterval: time.Second,
		Overhead: 0.004, TickCPU: 3 * time.Millisecond, Budget: 0.01, HostCPU: 12, Paused: []string{"distribution"},
		Nodes: []health.NodeHealth{
			{Name: "node-3", State: cluster.StateDead},
			{Name: "node-2", State: cluster.StateAlive, Answered: true, RTT: 1500 * time.Microsecond},
			{Name: "observer", State: cluster.StateAlive, Answered: true, Role: cluster.RoleObserver},
			{Name: "node-1", State: cluster.StateAlive, Answered: true, Supervised: &one},
			{Name: "node-4", State: cluster.StateAlive, Failures: 2, Error: "timeout"},
			{Name: "node-5", State: cluster.StateSuspect, Answered: true},
		},
		Partition: health.PartitionReport{Split: true, Groups: []health.Group{{Nodes: []string{"node-1", "observer"}, Observed: true}, {Nodes: []string{"node-3"}}},
			Lost: []string{"node-3"}, Since: t0},
		Alerts: []health.Alert{
			alert("a", "cpu_high", "node-1", health.SeverityWarning, health.AlertRaised, 0),
			alert("b", "mem_high", "node-1", health.SeverityCritical, health.AlertRaised, time.Second),
			alert("c", "partition", "", health.SeverityCritical, health.AlertRaised, 0),
		},
	}
	st := HealthStatusOf(r)
	assert.Equal(t, 2000.0, st.IntervalMS)
	assert.Equal(t, MonitorStatus{IntervalMS: 2000, BaseIntervalMS: 1000, CPUPercentOfCore: 0.4, TickCPUMS: 3, BudgetPercent: 1, HostCPUPercent: 12,
		BackedOff: true, Paused: []string{"distribution"}}, st.Monitor)
	status := map[string]string{}
	var names []string
	for _, n := range st.Nodes {
		status[n.Node] = n.Status
		names = append(names, n.Node)
	}
	assert.Equal(t, []string{"node-1", "node-2", "node-3", "node-4", "node-5", "observer"}, names, "sorted by name")
	assert.Equal(t, map[string]string{
		"node-1": StatusCritical, "node-2": StatusOK, "node-3": StatusUnreachable,
		"node-4": StatusUnreachable, "node-5": StatusWarning, "observer": StatusOK,
	}, status)
	assert.Equal(t, 2, st.Nodes[0].Alerts)
	assert.Equal(t, 1.5, st.Nodes[1].RTTMS)
	assert.Equal(t, 3, st.AlertsActive)
	assert.Equal(t, [][]string{{"node-1", "observer"}, {"node-3"}}, st.Partition.Groups)
	assert.Equal(t, []int{1}, st.Partition.Unobserved)
	assert.Equal(t, t0, st.Partition.Since)
	assert.NotEmpty(t, st.Partition.Summary)

	raw, err := json.Marshal(HealthStatusOf(health.Report{}))
	require.NoError(t, err)
	for _, field := range []string{`"nodes":[]`, `"alerts":[]`, `"services":[]`, `"paused":[]`, `"asymmetric":[]`, `"broken_links":[]`, `"groups":[]`, `"processes":{}`} {
		assert.Contains(t, string(raw), field, "empty lists are lists for the UI")
	}
}

func TestHealthOperationsWithoutMonitor(t *testing.T) {
	env := &operations.Env{}
	for _, op := range []string{"health_status", "alerts_list", "membership_timeline", "health_rules"} {
		_, err := run(t, env, op, nil)
		require.Error(t, err, op)
		e := operations.AsError(err, env)
		assert.Equal(t, operations.CodeUnprocessable, e.Code, op)
		assert.NotEmpty(t, e.Remediation, op)
	}
	_, err := run(t, env, "node_pressure", map[string]any{"node": "node-1", "cpu": 90})
	assert.Equal(t, operations.CodeSimulatorOnly, operations.AsError(err, env).Code)
	for _, name := range []string{"health_status", "node_resources", "alerts_list", "alert_ack", "membership_timeline", "health_rules", "health_rules_set", "node_pressure", "node_pressure_reset"} {
		e, ok := operations.Default().Get(name)
		require.True(t, ok, name)
		assert.Equal(t, CategoryHealth, e.Spec.Category, name)
	}
}

func TestAlertsListAndAck(t *testing.T) {
	f := &fakeHealth{
		active: []health.Alert{
			alert("crit", "node_down", "node-2", health.SeverityCritical, health.AlertRaised, 2*time.Second),
			alert("warn", "cpu_high", "node-1", health.SeverityWarning, health.AlertAcknowledged, time.Second),
		},
		history: []health.Alert{
			alert("old", "cpu_high", "node-1", health.SeverityWarning, health.AlertResolved, 0),
			alert("warn", "cpu_high", "node-1", health.SeverityWarning, health.AlertRaised, time.Second), // the store lags
			alert("crit", "node_down", "node-2", health.SeverityCritical, health.AlertRaised, 2*time.Second),
		},
	}
	env := &operations.Env{Health: f}
	ids := func(res map[string]any) []string {
		var out []string
		for _, a := range res["alerts"].([]any) {
			out = append(out, a.(map[string]any)["id"].(string))
		}
		return out
	}
	tests := []struct {
		params map[string]any
		want   []string
		total  float64
	}{
		{nil, []string{"crit", "warn"}, 2},
		{map[string]any{"state": "acknowledged"}, []string{"warn"}, 1},
		{map[string]any{"state": "raised"}, []string{"crit"}, 1},
		{map[string]any{"state": "resolved"}, []string{"old"}, 1},
		{map[string]any{"state": "all"}, []string{"crit", "warn", "old"}, 3},
		{map[string]any{"state": "all", "limit": 1}, []string{"crit"}, 3},
	}
	for _, tt := range tests {
		res, err := run(t, env, "alerts_list", tt.params)
		require.NoError(t, err)
		assert.Equal(t, tt.want, ids(res), "alerts_list(%v)", tt.params)
		assert.Equal(t, tt.total, res["total"], "alerts_list(%v)", tt.params)
	}
	res, err := run(t, env, "alerts_list", map[string]any{"state": "all"})
	require.NoError(t, err)
	assert.Equal(t, "acknowledged", res["alerts"].([]any)[1].(map[string]any)["state"], "the monitor's state wins over the store's")

	res, err = run(t, env, "alert_ack", map[string]any{"id": "crit"})
	require.NoError(t, err)
	assert.Equal(t, "acknowledged", res["state"])
	_, err = run(t, env, "alert_ack", map[string]any{"id": "gone"})
	e := operations.AsError(err, env)
	assert.Equal(t, operations.CodeNotFound, e.Code)
	assert.Contains(t, e.Remediation, "alerts_list")
}

func TestMembershipTimeline(t *testing.T) {
	f := &fakeHealth{timeline: []health.TimelineEntry{
		{Time: t0, Observer: "node-1", Member: "node-2", Type: "join"},
		{Time: t0.Add(time.Second), Observer: "node-1", Member: "node-2", Type: "dead", State: "dead", Seq: 2},
		{Time: t0.Add(2 * time.Second), Observer: "node-3", Member: "node-1", Type: "suspect"},
		{Time: t0.Add(3 * time.Second), Observer: "node-1", Member: "node-2", Type: "join", Rejoin: true, Seq: 3},
	}}
	env := &operations.Env{Health: f}
	kinds := func(res map[string]any) []string {
		var out []string
		for _, e := range res["entries"].([]any) {
			m := e.(map[string]any)
			out = append(out, m["observer"].(string)+">"+m["subject"].(string)+":"+m["kind"].(string))
		}
		return out
	}
	res, err := run(t, env, "membership_timeline", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"node-1>node-2:join", "node-1>node-2:dead", "node-3>node-1:suspect", "node-1>node-2:rejoin"}, kinds(res))
	res, err = run(t, env, "membership_timeline", map[string]any{"node": "node-2", "limit": 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"node-1>node-2:dead", "node-1>node-2:rejoin"}, kinds(res), "the newest, oldest first")
}

func TestHealthRulesOperations(t *testing.T) {
	f := &fakeHealth{}
	env := &operations.Env{Health: f}
	res, err := run(t, env, "health_rules", nil)
	require.NoError(t, err)
	assert.Equal(t, true, res["defaults"])

	tests := []struct {
		name   string
		params map[string]any
		code   string
	}{
		{"ok", map[string]any{"rules": `[{"name":"hot","metric":"cpu","op":">","threshold":80,"for":"3s","clear_for":2000000000,"severity":"warning","remediation":"r"}]`}, ""},
		{"no rules", map[string]any{}, operations.CodeInvalidParams},
		{"bad op", map[string]any{"rules": `[{"name":"hot","metric":"cpu","op":"~","severity":"warning","remediation":"r"}]`}, operations.CodeInvalidParams},
		{"bad duration", map[string]any{"rules": `[{"name":"hot","metric":"cpu","op":">","for":"later","severity":"warning","remediation":"r"}]`}, operations.CodeInvalidParams},
		{"twice", map[string]any{"rules": `[{"name":"a","metric":"cpu","op":">","severity":"info","remediation":"r"},{"name":"a","metric":"mem","op":">","severity":"info","remediation":"r"}]`}, operations.CodeInvalidParams},
		{"reset", map[string]any{"reset": true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, env, "health_rules_set", tt.params)
			if tt.code != "" {
				require.Error(t, err)
				assert.Equal(t, tt.code, operations.AsError(err, env).Code, "%v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, true, res["persisted"])
		})
	}
	rules, err := ParseRules([]any{map[string]any{"name": "hot", "metric": "cpu", "op": ">", "threshold": 80, "for": "3s", "clear_for": 2e9, "severity": "warning", "remediation": "r"}})
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, rules[0].For)
	assert.Equal(t, 2*time.Second, rules[0].ClearFor)
}

func TestNodePressureAndResources(t *testing.T) {
	f := &fakeHealth{
		pressure: map[string]operations.Pressure{"node-1": operations.NoPressure},
		samples: map[string][]cluster.Resources{"node-1": {
			{Time: time.Now().Add(-time.Hour), CPUPercent: 1},
			{Time: time.Now().Add(-time.Second), CPUPercent: 2},
		}},
	}
	env := &operations.Env{Health: f, Sim: fakeSim{}}
	res, err := run(t, env, "node_pressure", map[string]any{"node": "node-1", "cpu": 95})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"cpu": 95.0, "memory": -1.0, "load": -1.0}, res["pressure"])
	res, err = run(t, env, "node_pressure", map[string]any{"node": "node-1", "load": 7})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"cpu": 95.0, "memory": -1.0, "load": 7.0}, res["pressure"], "unset values are kept")
	_, err = run(t, env, "node_pressure", map[string]any{"node": "node-1", "cpu": 101})
	assert.Equal(t, operations.CodeInvalidParams, operations.AsError(err, env).Code)
	res, err = run(t, env, "node_pressure_reset", map[string]any{"node": "node-1"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"cpu": -1.0, "memory": -1.0, "load": -1.0}, res["pressure"])

	res, err = run(t, env, "node_resources", map[string]any{"node": "node-1"})
	require.NoError(t, err)
	assert.Len(t, res["samples"], 1, "the default 5m window")
	assert.Equal(t, 300000.0, res["window_ms"])
	_, err = run(t, env, "node_resources", map[string]any{"node": "node-9"})
	var oe *operations.Error
	require.True(t, errors.As(err, &oe))
	assert.Equal(t, operations.CodeNotFound, oe.Code)
}

// TestDefaultRulesNameRealOperations: every operation a default rule's
// remediation tells the user to run exists, so the UI's remediation
// buttons and the CLI command work.
func TestDefaultRulesNameRealOperations(t *testing.T) {
	re := regexp.MustCompile("clusterlab op run ([a-z0-9_]+)")
	for _, r := range health.DefaultRules() {
		ms := re.FindAllStringSubmatch(r.Remediation, -1)
		assert.NotEmpty(t, ms, "rule %s: the remediation names an operation to run", r.Name)
		for _, m := range ms {
			_, ok := operations.Default().Get(m[1])
			assert.True(t, ok, "rule %s names %q, which is not an operation", r.Name, m[1])
		}
	}
}
