package builtin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/cluster/health"
	"github.com/clusterlab/clusterlab/operations"
)

// CategoryHealth groups the health operations.
const CategoryHealth = "health"

// Node health statuses (NodeStatus.Status).
const (
	StatusOK          = "ok"
	StatusWarning     = "warning"
	StatusCritical    = "critical"
	StatusUnreachable = "unreachable"
)

// HealthStatus is the result of health_status and the payload of the
// app's "health" event: health.Report shaped for the UI.
type HealthStatus struct {
	Time         time.Time              `json:"time"`
	Observer     string                 `json:"observer"`
	Ticks        uint64                 `json:"ticks"`
	IntervalMS   float64                `json:"interval_ms"`
	Nodes        []NodeStatus           `json:"nodes"`
	Partition    PartitionStatus        `json:"partition"`
	Distribution health.Distribution    `json:"distribution"`
	Monitor      MonitorStatus          `json:"monitor"`
	Services     []health.ServiceStatus `json:"services"`
	Missing      []cluster.NodeError    `json:"missing,omitempty"`
	AlertsActive int                    `json:"alerts_active"`
	Alerts       []health.Alert         `json:"alerts"`
}

// NodeStatus is one member in a HealthStatus.
type NodeStatus struct {
	Node string `json:"node"`
	Role string `json:"role,omitempty"`
	// State is the membership state as the observer sees it.
	State string `json:"state"`
	// Status sums the node up: ok, warning, critical (its most severe
	// active alert) or unreachable (dead, left, or not answering).
	Status         string             `json:"status"`
	HealthScore    int                `json:"health_score"`
	RTTMS          float64            `json:"rtt_ms"`
	Answered       bool               `json:"answered"`
	Error          string             `json:"error,omitempty"`
	Failures       int                `json:"failures,omitempty"`
	SampledAt      time.Time          `json:"sampled_at,omitzero"`
	Resources      *cluster.Resources `json:"resources,omitempty"`
	ResourcesError string             `json:"resources_error,omitempty"`
	Processes      int                `json:"processes"`
	Supervised     *int               `json:"supervised,omitempty"`
	// Alerts counts the active alerts about the node.
	Alerts    int                `json:"alerts"`
	Baselines map[string]float64 `json:"baselines,omitempty"`
}

// PartitionStatus is health.PartitionReport shaped for the UI.
type PartitionStatus struct {
	Split     bool `json:"split"`
	Confirmed bool `json:"confirmed,omitempty"`
	// Groups are the node names of each group, largest first; one group
	// when the cluster is whole.
	Groups [][]string `json:"groups"`
	// Unobserved are the indexes in Groups of the groups that did not
	// answer the observer.
	Unobserved  []int        `json:"unobserved,omitempty"`
	Lost        []string     `json:"lost,omitempty"`
	Asymmetric  []health.Cut `json:"asymmetric"`
	BrokenLinks []health.Cut `json:"broken_links"`
	Since       time.Time    `json:"since,omitzero"`
	Summary     string       `json:"summary"`
}

// MonitorStatus is the monitor's own cost and pacing.
type MonitorStatus struct {
	IntervalMS       float64  `json:"interval_ms"`
	BaseIntervalMS   float64  `json:"base_interval_ms"`
	CPUPercentOfCore float64  `json:"cpu_percent_of_core"`
	TickCPUMS        float64  `json:"tick_cpu_ms"`
	BudgetPercent    float64  `json:"budget_percent"`
	HostCPUPercent   float64  `json:"host_cpu_percent"`
	BackedOff        bool     `json:"backed_off"`
	Paused           []string `json:"paused"`
	StoreError       string   `json:"store_error,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// HealthStatusOf shapes a monitor report for health_status and the
// "health" event. It is pure.
func HealthStatusOf(r health.Report) HealthStatus {
	alerts := r.Alerts
	if alerts == nil {
		alerts = []health.Alert{}
	}
	worst := map[string]health.Severity{}
	count := map[string]int{}
	rank := map[health.Severity]int{health.SeverityInfo: 1, health.SeverityWarning: 2, health.SeverityCritical: 3}
	for _, a := range alerts {
		if a.Node == "" {
			continue
		}
		count[a.Node]++
		if rank[a.Severity] > rank[worst[a.Node]] {
			worst[a.Node] = a.Severity
		}
	}
	out := HealthStatus{
		Time: r.Time, Observer: r.Observer, Ticks: r.Ticks, IntervalMS: ms(r.Interval),
		Nodes:        make([]NodeStatus, 0, len(r.Nodes)),
		Distribution: r.Distribution,
		Services:     r.Services,
		Missing:      r.Missing,
		AlertsActive: len(alerts),
		Alerts:       alerts,
		Monitor: MonitorStatus{
			IntervalMS: ms(r.Interval), BaseIntervalMS: ms(r.BaseInterval),
			CPUPercentOfCore: r.Overhead * 100, TickCPUMS: ms(r.TickCPU),
			BudgetPercent: r.Budget * 100, HostCPUPercent: r.HostCPU,
			BackedOff: r.Interval > r.BaseInterval, Paused: r.Paused, StoreError: r.StoreError,
		},
	}
	if out.Services == nil {
		out.Services = []health.ServiceStatus{}
	}
	if out.Monitor.Paused == nil {
		out.Monitor.Paused = []string{}
	}
	if out.Distribution.Processes == nil {
		out.Distribution.Processes = map[string]int{}
	}
	for _, n := range r.Nodes {
		ns := NodeStatus{
			Node: n.Name, Role: n.Role, State: n.State, HealthScore: n.HealthScore, RTTMS: ms(n.RTT),
			Answered: n.Answered, Error: n.Error, Failures: n.Failures, SampledAt: n.SampledAt,
			Resources: n.Resources, ResourcesError: n.ResourcesError, Processes: n.Processes,
			Supervised: n.Supervised, Alerts: count[n.Name], Baselines: n.Baselines,
		}
		ns.Status = nodeStatus(n, worst[n.Name])
		out.Nodes = append(out.Nodes, ns)
	}
	slices.SortFunc(out.Nodes, func(a, b NodeStatus) int { return strings.Compare(a.Node, b.Node) })
	p := r.Partition
	out.Partition = PartitionStatus{
		Split: p.Split, Confirmed: p.Confirmed, Lost: p.Lost, Since: p.Since, Summary: p.Summary(),
		Groups: make([][]string, 0, len(p.Groups)), Asymmetric: p.Asymmetric, BrokenLinks: p.BrokenLinks,
	}
	for i, g := range p.Groups {
		out.Partition.Groups = append(out.Partition.Groups, g.Nodes)
		if !g.Observed {
			out.Partition.Unobserved = append(out.Partition.Unobserved, i)
		}
	}
	if out.Partition.Asymmetric == nil {
		out.Partition.Asymmetric = []health.Cut{}
	}
	if out.Partition.BrokenLinks == nil {
		out.Partition.BrokenLinks = []health.Cut{}
	}
	return out
}

func nodeStatus(n health.NodeHealth, worst health.Severity) string {
	switch {
	case n.State != cluster.StateAlive && n.State != cluster.StateSuspect:
		return StatusUnreachable
	case !n.Answered && n.Failures > 0:
		return StatusUnreachable
	case worst == health.SeverityCritical:
		return StatusCritical
	case worst == health.SeverityWarning, n.State == cluster.StateSuspect:
		return StatusWarning
	}
	return StatusOK
}

// healthOf returns the env's health control, or the error that says
// there is none.
func healthOf(env *operations.Env) (operations.HealthControl, error) {
	if env != nil && env.Health != nil {
		return env.Health, nil
	}
	return nil, (&operations.Error{Code: operations.CodeUnprocessable, Message: "the health monitor is not running in this clusterlab"}).
		Fix("health monitoring starts with the app (desktop, serve, agent); restart it, and look at its log if it keeps failing")
}

func healthStatus(ctx context.Context, env *operations.Env, _ operations.Params) (any, error) {
	h, err := healthOf(env)
	if err != nil {
		return nil, err
	}
	r, err := h.Status(ctx)
	if err != nil {
		return nil, err
	}
	return HealthStatusOf(r), nil
}

func nodeResources(_ context.Context, env *operations.Env, p operations.Params) (any, error) {
	h, err := healthOf(env)
	if err != nil {
		return nil, err
	}
	node, window := p.String("node"), p.Duration("window")
	samples, ok := h.NodeResources(node, time.Now().Add(-window))
	if !ok {
		return nil, (&operations.Error{Code: operations.CodeNotFound, Message: fmt.Sprintf("the health monitor has no samples of %s yet", node)}).
			With("node", node).Fix("wait a second for the next collection, or check the node with `clusterlab op run health_status`")
	}
	if samples == nil {
		samples = []cluster.Resources{}
	}
	return map[string]any{"node": node, "window_ms": ms(window), "samples": samples}, nil
}

// Alert list filters.
const (
	alertsActive = "active"
	alertsAll    = "all"
)

func alertsList(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	h, err := healthOf(env)
	if err != nil {
		return nil, err
	}
	state, limit := p.String("state"), int(p.Int("limit"))
	alerts, err := FilterAlerts(ctx, h, state)
	if err != nil {
		return nil, err
	}
	total := len(alerts)
	if len(alerts) > limit {
		alerts = alerts[:limit]
	}
	return map[string]any{"alerts": alerts, "total": total}, nil
}

// FilterAlerts returns the alerts in a state: "active" (raised and
// acknowledged, most severe first), "raised" or "acknowledged" (from the
// monitor, oldest first), "resolved" or "all" (the history merged with
// the monitor's active alerts, newest raise first).
func FilterAlerts(ctx context.Context, h operations.HealthControl, state string) ([]health.Alert, error) {
	active := h.ActiveAlerts()
	switch state {
	case alertsActive, "":
		return nonNil(active), nil
	case string(health.AlertRaised), string(health.AlertAcknowledged):
		out := slices.DeleteFunc(active, func(a health.Alert) bool { return string(a.State) != state })
		slices.SortStableFunc(out, func(a, b health.Alert) int { return a.RaisedAt.Compare(b.RaisedAt) })
		return nonNil(out), nil
	}
	hist, err := h.AlertHistory(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]int, len(hist))
	for i, a := range hist {
		byID[a.ID] = i
	}
	// The monitor is the truth for active alerts (the store may lag).
	for _, a := range active {
		if i, ok := byID[a.ID]; ok {
			hist[i] = a
		} else {
			hist = append(hist, a)
		}
	}
	activeIDs := make(map[string]bool, len(active))
	for _, a := range active {
		activeIDs[a.ID] = true
	}
	out := hist[:0]
	for _, a := range hist {
		// A kept alert that is active in the store but not in the monitor
		// resolved while the store could not be written: show it as the
		// store has it.
		if state == string(health.AlertResolved) && (a.State != health.AlertResolved || activeIDs[a.ID]) {
			continue
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b health.Alert) int {
		return cmp.Or(b.RaisedAt.Compare(a.RaisedAt), strings.Compare(a.ID, b.ID))
	})
	return nonNil(out), nil
}

func nonNil(a []health.Alert) []health.Alert {
	if a == nil {
		return []health.Alert{}
	}
	return a
}

func alertAck(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	h, err := healthOf(env)
	if err != nil {
		return nil, err
	}
	id := p.String("id")
	a, err := h.Ack(ctx, id)
	if errors.Is(err, health.ErrUnknownAlert) {
		return nil, (&operations.Error{Code: operations.CodeNotFound, Message: fmt.Sprintf("no active alert %q", id), Err: err}).
			With("id", id).Fix("list the active alerts with `clusterlab op run alerts_list`; a resolved alert needs no acknowledgement")
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// TimelineItem is one membership_timeline entry.
type TimelineItem struct {
	Time     time.Time `json:"time"`
	Observer string    `json:"observer"`
	Subject  string    `json:"subject,omitempty"`
	// Kind is join, rejoin, suspect, recovered, dead, left, update or
	// events_lost.
	Kind  string `json:"kind"`
	State string `json:"state,omitempty"`
	Seq   uint64 `json:"seq,omitempty"`
	// Incarnation is the subject's incarnation as the observer knew it
	// (its start time in Unix milliseconds): a restart shows a larger one.
	Incarnation uint64 `json:"incarnation,omitempty"`
}

func membershipTimeline(_ context.Context, env *operations.Env, p operations.Params) (any, error) {
	h, err := healthOf(env)
	if err != nil {
		return nil, err
	}
	node, limit := p.String("node"), int(p.Int("limit"))
	entries := h.Timeline()
	out := make([]TimelineItem, 0, min(len(entries), limit))
	// Newest first while collecting, so that the limit keeps the newest.
	for i := len(entries) - 1; i >= 0 && len(out) < limit; i-- {
		e := entries[i]
		if node != "" && e.Observer != node && e.Member != node {
			continue
		}
		kind := e.Type
		if e.Rejoin {
			kind = "rejoin"
		}
		out = append(out, TimelineItem{Time: e.Time, Observer: e.Observer, Subject: e.Member, Kind: kind, State: e.State, Seq: e.Seq, Incarnation: e.Incarnation})
	}
	slices.Reverse(out)
	return map[string]any{"entries": out}, nil
}

func healthRules(_ context.Context, env *operations.Env, _ operations.Params) (any, error) {
	h, err := healthOf(env)
	if err != nil {
		return nil, err
	}
	rules, defaults := h.Rules()
	return map[string]any{"rules": rules, "defaults": defaults}, nil
}

// ParseRules decodes rules given as JSON objects (durations as "10s" or
// nanoseconds) and validates them; the error is an *operations.Error
// naming the rule and field.
func ParseRules(items []any) ([]health.Rule, error) {
	rules := make([]health.Rule, 0, len(items))
	for i, it := range items {
		raw, err := json.Marshal(it)
		if err != nil {
			return nil, operations.Errorf(operations.CodeInvalidParams, "rule %d: %v", i, err)
		}
		var r health.Rule
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: fmt.Sprintf("rule %d: %s", i, strings.TrimPrefix(err.Error(), "health: ")), Err: err}).
				Fix("each rule is an object {name, metric, op, threshold, for, severity, remediation}; see `clusterlab op run health_rules`")
		}
		rules = append(rules, r)
	}
	if err := health.ValidateRules(rules); err != nil {
		return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: strings.ReplaceAll(err.Error(), "health: ", ""), Err: err}).
			Fix("fix the rule; `clusterlab op run health_rules` shows valid ones")
	}
	return rules, nil
}

func healthRulesSet(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	h, err := healthOf(env)
	if err != nil {
		return nil, err
	}
	var rules []health.Rule
	switch {
	case p.Bool("reset"):
		rules = nil
	case !p.Has("rules"):
		return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: "give the rules, or reset=true for the defaults"}).
			With("param", "rules").Fix("get the current rules with `clusterlab op run health_rules`, edit them and send them back")
	default:
		if rules, err = ParseRules(p.List("rules")); err != nil {
			return nil, err
		}
	}
	persisted, err := h.SetRules(ctx, rules)
	if err != nil {
		return nil, err
	}
	now, defaults := h.Rules()
	return map[string]any{"rules": now, "defaults": defaults, "persisted": persisted}, nil
}

func nodePressure(reset bool) operations.ExecuteFunc {
	return func(_ context.Context, env *operations.Env, p operations.Params) (any, error) {
		h, err := healthOf(env)
		if err != nil {
			return nil, err
		}
		node := p.String("node")
		cur := operations.NoPressure
		if !reset {
			if cur, err = h.Pressure(node); err != nil {
				return nil, err
			}
			if p.Has("cpu") {
				cur.CPU = p.Float("cpu")
			}
			if p.Has("memory") {
				cur.Memory = p.Float("memory")
			}
			if p.Has("load") {
				cur.Load = p.Float("load")
			}
		}
		got, err := h.SetPressure(node, cur)
		if err != nil {
			return nil, err
		}
		return map[string]any{"node": node, "pressure": got}, nil
	}
}

func init() {
	operations.Register(operations.Define(operations.Spec{
		Name:     "health_status",
		Category: CategoryHealth,
		Summary:  "The cluster's health: every node's status and resources, partitions, distribution, the monitor's cost and the active alerts",
		Result: "{time, observer, ticks, interval_ms, nodes: [{node, role, state, status (ok|warning|critical|unreachable), health_score, rtt_ms, " +
			"answered, error?, failures?, sampled_at?, resources? (cluster.Resources), resources_error?, processes, supervised?, alerts, baselines?}], " +
			"partition: {split, confirmed?, groups: [[node]], unobserved?: [group index], lost?, asymmetric: [{from, to}], broken_links: [{from, to, direct?}] (direct: found by the nodes' direct checks, one-way cuts included), since?, summary}, " +
			"distribution (health.Distribution), monitor: {interval_ms, base_interval_ms, cpu_percent_of_core, tick_cpu_ms, budget_percent, host_cpu_percent, backed_off, paused, store_error?}, " +
			"services: [{name, state, restarts, last_error?, last_restart?}], missing?, alerts_active, alerts: [alert]}",
	}, healthStatus))
	operations.Register(operations.Define(operations.Spec{
		Name:     "node_resources",
		Category: CategoryHealth,
		Summary:  "A node's recent resource samples (CPU, memory, load, RSS, goroutines), oldest first",
		Params: []operations.Param{
			{Name: "node", Type: operations.TypeNode, Required: true, Description: "the node"},
			{Name: "window", Type: operations.TypeDuration, Default: "5m", Min: operations.F(1), Max: operations.F(3600), Description: "how far back"},
		},
		Result: "{node, window_ms, samples: [cluster.Resources]} (the monitor keeps 600 samples per node)",
	}, nodeResources))
	operations.Register(operations.Define(operations.Spec{
		Name:     "alerts_list",
		Category: CategoryHealth,
		Summary:  "The health alerts: active ones, or the history kept in the project",
		Params: []operations.Param{
			{Name: "state", Type: operations.TypeEnum, Enum: []string{alertsActive, alertsAll, string(health.AlertRaised), string(health.AlertAcknowledged), string(health.AlertResolved)},
				Default: alertsActive, Description: "which alerts: active (raised or acknowledged) by default"},
			{Name: "limit", Type: operations.TypeInt, Default: 100, Min: operations.F(1), Max: operations.F(1000), Description: "at most this many"},
		},
		Result: "{alerts: [{id, rule, metric, severity, node?, process?, summary, evidence: {values: [{time, value}], threshold, baseline?, detail?}, " +
			"remediation, state, raised_at, acked_at?, resolved_at?, resolution?}], total}; active: most severe first; others: newest first",
	}, alertsList))
	operations.Register(operations.Define(operations.Spec{
		Name:     "alert_ack",
		Category: CategoryHealth,
		Summary:  "Acknowledge an active alert: someone is on it",
		Params: []operations.Param{
			{Name: "id", Type: operations.TypeString, Required: true, MaxLen: operations.N(512), Description: "the alert's id (alerts_list)"},
		},
		Result: "the alert, state acknowledged",
	}, alertAck))
	operations.Register(operations.Define(operations.Spec{
		Name:        "membership_timeline",
		Category:    CategoryHealth,
		Summary:     "Who thought whom was dead, and when: every join, suspicion, death, leave and rejoin as each node saw it",
		Description: "Entries are collected from every node's health sample; a node that cannot be reached adds its entries once it answers again.",
		Params: []operations.Param{
			{Name: "node", Type: operations.TypeString, MaxLen: operations.N(256), Description: "only entries seen by or about this node"},
			{Name: "limit", Type: operations.TypeInt, Default: 500, Min: operations.F(1), Max: operations.F(5000), Description: "the newest this many"},
		},
		Result: "{entries: [{time, observer, subject, kind (join|rejoin|suspect|recovered|dead|left|update|events_lost), state, seq}]} oldest first",
	}, membershipTimeline))
	operations.Register(operations.Define(operations.Spec{
		Name:     "health_rules",
		Category: CategoryHealth,
		Summary:  "The alert rules in force",
		Result:   "{rules: [{name, metric, op, threshold, for, clear_for?, severity, baseline?, floor?, summary?, remediation}], defaults}",
	}, healthRules))
	operations.Register(operations.Define(operations.Spec{
		Name:     "health_rules_set",
		Category: CategoryHealth,
		Summary:  "Replace the alert rules (kept in the project)",
		Description: "Rules are objects {name, metric, op (> >= < <= == !=), threshold, for (\"10s\"), clear_for, severity (info|warning|critical), " +
			"baseline (threshold is a multiple of the node's usual value), floor, summary, remediation}. Alerts of removed rules resolve.",
		Params: []operations.Param{
			{Name: "rules", Type: operations.TypeList, Items: operations.TypeObject, MaxLen: operations.N(200), Description: "the complete rule list"},
			{Name: "reset", Type: operations.TypeBool, Default: false, Description: "go back to the default rules"},
		},
		Result: "{rules, defaults, persisted}",
	}, healthRulesSet))
	pressureParams := []operations.Param{
		{Name: "cpu", Type: operations.TypeFloat, Min: operations.F(0), Max: operations.F(100), Description: "host CPU percent"},
		{Name: "memory", Type: operations.TypeFloat, Min: operations.F(0), Max: operations.F(100), Description: "host memory used, percent"},
		{Name: "load", Type: operations.TypeFloat, Min: operations.F(0), Max: operations.F(1e6), Description: "load average"},
	}
	operations.Register(operations.Define(operations.Spec{
		Name:          "node_pressure",
		Category:      CategoryHealth,
		Summary:       "Inject resource pressure (CPU, memory, load) into a virtual node's resource model",
		Description:   "Parameters left out keep their current value. The health monitor sees the pressure from its next collection.",
		SimulatorOnly: true,
		Params:        append([]operations.Param{nodeParam("the virtual node")}, pressureParams...),
		Result:        "{node, pressure: {cpu, memory, load}} (-1: not injected, the model's baseline)",
	}, nodePressure(false)))
	operations.Register(operations.Define(operations.Spec{
		Name:          "node_pressure_reset",
		Category:      CategoryHealth,
		Summary:       "Remove the injected resource pressure from a virtual node",
		SimulatorOnly: true,
		Params:        []operations.Param{nodeParam("the virtual node")},
		Result:        "{node, pressure: {cpu: -1, memory: -1, load: -1}}",
	}, nodePressure(true)))
}
