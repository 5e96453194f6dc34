package health

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// Metrics the monitor produces. Node metrics carry the node's name;
// cluster metrics have an empty node.
const (
	// MetricDown is 1 while the observer sees the node dead (a graceful
	// leave is not down).
	MetricDown = "down"
	// MetricUnreachable is 1 while the observer sees the node alive but
	// cannot get its health sample.
	MetricUnreachable = "unreachable"
	// MetricCPU is the host CPU use in percent.
	MetricCPU = "cpu"
	// MetricMem is the host memory use in percent.
	MetricMem = "mem"
	// MetricLoad1 is the host's 1-minute load average.
	MetricLoad1 = "load1"
	// MetricProcCPU is the node process's CPU in percent of one core.
	MetricProcCPU = "proc_cpu"
	// MetricRSS is the node process's resident memory in MiB.
	MetricRSS = "rss_mb"
	// MetricGoroutines is the node process's goroutine count.
	MetricGoroutines = "goroutines"
	// MetricProcesses is the node's process count.
	MetricProcesses = "processes"
	// MetricRTT is the observer's probe round-trip time to the node, in ms.
	MetricRTT = "rtt_ms"
	// MetricHealthScore is the node's Lifeguard awareness score (0 healthy).
	MetricHealthScore = "health_score"
	// MetricSupervised is the node's supervised children count.
	MetricSupervised = "supervised"

	// MetricImbalance is max/mean of processes per worker node.
	MetricImbalance = "process_imbalance"
	// MetricSupervisorImbalance is max/mean of supervised children per
	// worker node.
	MetricSupervisorImbalance = "supervisor_imbalance"
	// MetricPartition is the number of groups while the cluster is split
	// (0 when whole).
	MetricPartition = "partition"
	// MetricAsymmetric is the number of asymmetric cuts.
	MetricAsymmetric = "asymmetric_cuts"
	// MetricBrokenLinks is the number of direct links down between nodes
	// that both answer.
	MetricBrokenLinks = "broken_links"
	// MetricChildrenMissing counts child specs with no running instance.
	MetricChildrenMissing = "children_missing"
	// MetricChildrenDuplicated counts children running on several nodes.
	MetricChildrenDuplicated = "children_duplicated"
	// MetricRegistryConflicts counts registry name conflicts settled in
	// the last RegistryConflictWindow.
	MetricRegistryConflicts = "registry_conflicts"
)

// Operator compares a metric's value to a rule's threshold.
type Operator string

// Operators.
const (
	OpAbove      Operator = ">"
	OpAtLeast    Operator = ">="
	OpBelow      Operator = "<"
	OpAtMost     Operator = "<="
	OpEqual      Operator = "=="
	OpNotEqual   Operator = "!="
	equalEpsilon          = 1e-9
)

// Holds reports whether "v op threshold" is true.
func (op Operator) Holds(v, threshold float64) bool {
	switch op {
	case OpAbove:
		return v > threshold
	case OpAtLeast:
		return v >= threshold
	case OpBelow:
		return v < threshold
	case OpAtMost:
		return v <= threshold
	case OpEqual:
		return math.Abs(v-threshold) < equalEpsilon
	case OpNotEqual:
		return math.Abs(v-threshold) >= equalEpsilon
	}
	return false
}

// Severity ranks alerts.
type Severity string

// Severities, least to most urgent.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Rule raises an alert when a metric crosses a threshold for a duration:
// "cpu above 90 for 10s". Rules are plain data so that a project can
// configure its own.
type Rule struct {
	// Name identifies the rule (and its alerts): lower case, digits, _ and -.
	Name string `json:"name"`
	// Metric is one of the Metric* names.
	Metric string `json:"metric"`
	// Op compares the value to the threshold.
	Op Operator `json:"op"`
	// Threshold is the value compared to; with Baseline it is a multiple
	// of the node's baseline (3 means "three times the usual").
	Threshold float64 `json:"threshold"`
	// For is how long the condition must hold before the alert is
	// raised; 0 raises at once.
	For time.Duration `json:"for"`
	// ClearFor is how long the condition must stay false before the
	// alert resolves; 0 resolves at once. It keeps a flapping condition
	// one alert.
	ClearFor time.Duration `json:"clear_for,omitempty"`
	// Severity of the alerts raised.
	Severity Severity `json:"severity"`
	// Baseline compares against Threshold times the node's EWMA of the
	// metric, once the baseline is warm; the baselines re-base when the
	// alive membership changes.
	Baseline bool `json:"baseline,omitempty"`
	// Floor ignores values below it for baseline rules (an RTT of 0.3 ms
	// being "3x usual" is not worth an alert).
	Floor float64 `json:"floor,omitempty"`
	// Summary describes the alert; empty generates one. Placeholders:
	// {node}, {metric}, {value}, {threshold}, {for}.
	Summary string `json:"summary,omitempty"`
	// Remediation names the operation to run; placeholders {node} and
	// {process}.
	Remediation string `json:"remediation"`
}

var ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Validate names the first invalid field.
func (r Rule) Validate() error {
	if !ruleName.MatchString(r.Name) {
		return fmt.Errorf("health: rule Name: %q must be 1-64 of a-z, 0-9, _ and -", r.Name)
	}
	if r.Metric == "" || len(r.Metric) > 64 {
		return fmt.Errorf("health: rule %s Metric: must be a metric name", r.Name)
	}
	switch r.Op {
	case OpAbove, OpAtLeast, OpBelow, OpAtMost, OpEqual, OpNotEqual:
	default:
		return fmt.Errorf("health: rule %s Op: unknown operator %q (want >, >=, <, <=, == or !=)", r.Name, r.Op)
	}
	if math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0) {
		return fmt.Errorf("health: rule %s Threshold: must be finite", r.Name)
	}
	if r.For < 0 || r.For > 24*time.Hour {
		return fmt.Errorf("health: rule %s For: %v outside 0..24h", r.Name, r.For)
	}
	if r.ClearFor < 0 || r.ClearFor > 24*time.Hour {
		return fmt.Errorf("health: rule %s ClearFor: %v outside 0..24h", r.Name, r.ClearFor)
	}
	switch r.Severity {
	case SeverityInfo, SeverityWarning, SeverityCritical:
	default:
		return fmt.Errorf("health: rule %s Severity: %q is not info, warning or critical", r.Name, r.Severity)
	}
	if r.Baseline && r.Threshold <= 0 {
		return fmt.Errorf("health: rule %s Threshold: a baseline rule needs a positive multiple", r.Name)
	}
	if r.Remediation == "" {
		return fmt.Errorf("health: rule %s Remediation: say which operation to run", r.Name)
	}
	return nil
}

// ValidateRules checks every rule and that names are unique.
func ValidateRules(rules []Rule) error {
	seen := make(map[string]bool, len(rules))
	var errs []error
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("health: rule Name: %q used twice", r.Name))
		}
		seen[r.Name] = true
	}
	return errors.Join(errs...)
}

// Remediations name the clusterlab operation to run.
const (
	remedyNodeInfo  = "run `clusterlab op run node_info node={node}` to see its processes and resources"
	remedyTopology  = "run `clusterlab op run cluster_topology` to see who reaches whom"
	remedyProcesses = "run `clusterlab op run list_processes node={node} sort=mailbox desc=true` to find the busiest processes"
)

// DefaultRules are the rules a project starts with.
func DefaultRules() []Rule {
	return []Rule{
		{Name: "node_down", Metric: MetricDown, Op: OpEqual, Threshold: 1, Severity: SeverityCritical,
			Summary:     "{node} is down (dead as seen by the observer)",
			Remediation: "run `clusterlab op run node_info node={node}`; in the simulator restart it with `clusterlab op run node_restart node={node} --yes`"},
		{Name: "node_unreachable", Metric: MetricUnreachable, Op: OpEqual, Threshold: 1, For: 3 * time.Second, Severity: SeverityWarning,
			Summary:     "{node} is alive in the membership but does not answer the observer",
			Remediation: remedyTopology + ", then `clusterlab op run node_info node={node}`"},
		{Name: "partition", Metric: MetricPartition, Op: OpAtLeast, Threshold: 2, Severity: SeverityCritical,
			Summary:     "the cluster is split into {value} groups",
			Remediation: remedyTopology + "; in the simulator heal it with `clusterlab op run heal --yes`"},
		{Name: "asymmetric_cut", Metric: MetricAsymmetric, Op: OpAbove, Threshold: 0, ClearFor: 5 * time.Second, Severity: SeverityCritical,
			Summary:     "{value} asymmetric cut(s): some nodes see peers alive that see them dead",
			Remediation: remedyTopology + "; in the simulator remove one-way cuts with `clusterlab op run heal --yes`"},
		// Confirmed already: by two direct checks in a row, or by two
		// collections for links seen from membership views.
		{Name: "link_down", Metric: MetricBrokenLinks, Op: OpAbove, Threshold: 0, ClearFor: 3 * time.Second, Severity: SeverityWarning,
			Summary: "{value} direct link(s) down between live nodes (memberlist routes around them; RPC and messages between the two fail)",
			Remediation: remedyTopology + " (partition.broken_links names the pairs), then `clusterlab op run node_info node=<one end>`; " +
				"in the simulator remove the cut with `clusterlab op run uncut from=<a> to=<b> --yes` for each direction, or `clusterlab op run heal --yes`"},
		{Name: "cpu_high", Metric: MetricCPU, Op: OpAbove, Threshold: 90, For: 10 * time.Second, Severity: SeverityWarning,
			Summary:     "host CPU of {node} at {value}% above {threshold}% for {for}",
			Remediation: remedyProcesses},
		{Name: "mem_high", Metric: MetricMem, Op: OpAbove, Threshold: 90, For: 30 * time.Second, Severity: SeverityWarning,
			Summary:     "host memory of {node} at {value}% above {threshold}% for {for}",
			Remediation: remedyNodeInfo},
		{Name: "health_score", Metric: MetricHealthScore, Op: OpAtLeast, Threshold: 2, For: 10 * time.Second, Severity: SeverityWarning,
			Summary:     "{node} is slow to answer probes (Lifeguard score {value})",
			Remediation: remedyNodeInfo},
		{Name: "rtt_high", Metric: MetricRTT, Op: OpAbove, Threshold: 3, Baseline: true, Floor: 5, For: 10 * time.Second, Severity: SeverityWarning,
			Summary:     "round trip to {node} at {value} ms, over 3x its usual",
			Remediation: remedyTopology},
		{Name: "goroutines_growth", Metric: MetricGoroutines, Op: OpAbove, Threshold: 3, Baseline: true, Floor: 1000, For: 30 * time.Second, Severity: SeverityWarning,
			Summary:     "{node} runs {value} goroutines, over 3x its usual",
			Remediation: remedyProcesses},
		{Name: "process_imbalance", Metric: MetricImbalance, Op: OpAbove, Threshold: 3, For: 30 * time.Second, Severity: SeverityWarning,
			Summary:     "processes are unbalanced: the busiest worker runs {value}x the mean",
			Remediation: "run `clusterlab op run list_nodes` to see processes per node"},
		{Name: "supervisor_imbalance", Metric: MetricSupervisorImbalance, Op: OpAbove, Threshold: 2, For: 30 * time.Second, Severity: SeverityWarning,
			Summary:     "supervised children are unbalanced: the busiest worker runs {value}x the mean",
			Remediation: "run `clusterlab op run supervisor_list` to see children per node"},
		{Name: "children_missing", Metric: MetricChildrenMissing, Op: OpAbove, Threshold: 0, For: 10 * time.Second, Severity: SeverityWarning,
			Summary:     "{value} supervised children run nowhere",
			Remediation: "run `clusterlab op run supervisor_anomalies` to see which, then `clusterlab op run supervisor_restart_child` for each"},
		{Name: "children_duplicated", Metric: MetricChildrenDuplicated, Op: OpAbove, Threshold: 0, For: 10 * time.Second, Severity: SeverityCritical,
			Summary:     "{value} supervised children run on more than one node",
			Remediation: "run `clusterlab op run supervisor_anomalies` to see where they run"},
		{Name: "registry_conflicts", Metric: MetricRegistryConflicts, Op: OpAbove, Threshold: 0, Severity: SeverityInfo,
			Summary:     "{value} registry name conflict(s) were settled after a partition healed",
			Remediation: "run `clusterlab op run registry_conflicts` to see winners and losers"},
	}
}

// render fills a rule's template.
func render(tmpl string, r Rule, node, process string, value float64) string {
	val := formatValue(value)
	return strings.NewReplacer(
		"{node}", orDash(node),
		"{process}", orDash(process),
		"{metric}", r.Metric,
		"{value}", val,
		"{threshold}", formatValue(r.Threshold),
		"{for}", r.For.String(),
	).Replace(tmpl)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// summary is the alert text of a rule for a node and value.
func (r Rule) summary(node, process string, value float64) string {
	tmpl := r.Summary
	if tmpl == "" {
		tmpl = "{metric} {value} " + string(r.Op) + " {threshold}"
		if r.Baseline {
			tmpl += "x baseline"
		}
		if r.For > 0 {
			tmpl += " for {for}"
		}
		if node != "" {
			tmpl += " on {node}"
		}
	}
	return render(tmpl, r, node, process, value)
}
