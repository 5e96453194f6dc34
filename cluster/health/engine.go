package health

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Signal is one observed value of a metric: for a node, or for the whole
// cluster when Node is empty.
type Signal struct {
	Metric string  `json:"metric"`
	Node   string  `json:"node,omitempty"`
	Value  float64 `json:"value"`
	// Process names the process concerned, if any (a PID string).
	Process string `json:"process,omitempty"`
	// Detail is evidence beyond the value (a partition's groups).
	Detail string `json:"detail,omitempty"`
}

// Sample is one value seen at a time: the evidence of an alert.
type Sample struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// Baseline is the EWMA of one metric on one node.
type Baseline struct {
	Mean float64 `json:"mean"`
	// N counts the values folded in since the last re-base.
	N int `json:"n"`
}

// TransitionKind says whether a rule started or stopped firing.
type TransitionKind string

// Transition kinds.
const (
	Raise   TransitionKind = "raise"
	Resolve TransitionKind = "resolve"
)

// Transition is an alert to raise or resolve, decided by Engine.Step.
type Transition struct {
	Kind    TransitionKind `json:"kind"`
	Rule    Rule           `json:"rule"`
	Node    string         `json:"node,omitempty"`
	Process string         `json:"process,omitempty"`
	Time    time.Time      `json:"time"`
	// Values are the recent values that made the rule fire (Raise), or
	// the value that cleared it (Resolve).
	Values []Sample `json:"values"`
	// Baseline is the node's baseline the values were compared to
	// (baseline rules).
	Baseline float64 `json:"baseline,omitempty"`
	Detail   string  `json:"detail,omitempty"`
	// Reason says why an alert resolved ("back under threshold", "node
	// left the cluster").
	Reason string `json:"reason,omitempty"`
}

// StepInput is what Engine.Step evaluates.
type StepInput struct {
	Now time.Time
	// Alive lists the alive members; when the set changes the baselines
	// re-base.
	Alive []string
	// Known lists the nodes still part of the cluster (alive or dead, not
	// left); alerts of other nodes resolve. Empty keeps every alert.
	Known []string
	// Signals are this step's values.
	Signals []Signal
}

// Engine evaluates rules over signals: threshold-for-duration and
// per-node EWMA baselines. It is a pure state machine — no clock, no
// goroutine; the Monitor steps it once per collection. Not safe for
// concurrent use.
type Engine struct {
	rules []Rule
	// Alpha is the EWMA weight of a new value; default 0.2.
	Alpha float64
	// Warmup is how many values a baseline needs before baseline rules
	// use it; default 10.
	Warmup int

	states    map[stateKey]*ruleState
	baselines map[baseKey]*Baseline
	alive     string
}

type stateKey struct{ rule, node string }
type baseKey struct{ node, metric string }

type ruleState struct {
	since    time.Time
	cleared  time.Time // when a firing rule's condition last turned false
	firing   bool
	values   []Sample
	process  string
	detail   string
	baseline float64
}

// maxEvidence bounds the values kept as an alert's evidence.
const maxEvidence = 10

// NewEngine validates rules and returns an engine with no history.
func NewEngine(rules []Rule) (*Engine, error) {
	if err := ValidateRules(rules); err != nil {
		return nil, err
	}
	return &Engine{
		rules:     slices.Clone(rules),
		Alpha:     0.2,
		Warmup:    10,
		states:    make(map[stateKey]*ruleState),
		baselines: make(map[baseKey]*Baseline),
	}, nil
}

// Rules returns the engine's rules.
func (e *Engine) Rules() []Rule { return slices.Clone(e.rules) }

// Restore marks a rule as already firing for a node (an alert loaded from
// the store), so that it is not raised twice and resolves when its
// condition clears.
func (e *Engine) Restore(rule, node string, since time.Time) {
	e.states[stateKey{rule, node}] = &ruleState{since: since, firing: true}
}

// Firing reports whether a rule fires for a node.
func (e *Engine) Firing(rule, node string) bool {
	s := e.states[stateKey{rule, node}]
	return s != nil && s.firing
}

// Baselines returns a copy of the baselines: node -> metric -> baseline.
func (e *Engine) Baselines() map[string]map[string]Baseline {
	out := make(map[string]map[string]Baseline)
	for k, b := range e.baselines {
		if out[k.node] == nil {
			out[k.node] = make(map[string]Baseline)
		}
		out[k.node][k.metric] = *b
	}
	return out
}

// Step folds one collection into the engine and returns the alerts to
// raise and resolve, in rule order then node order.
func (e *Engine) Step(in StepInput) []Transition {
	alive := slices.Clone(in.Alive)
	slices.Sort(alive)
	fingerprint := strings.Join(alive, "\x00")
	if fingerprint != e.alive {
		// R6.5: load shifts when members come and go; old baselines
		// would flag the new normal.
		if e.alive != "" {
			clear(e.baselines)
		}
		e.alive = fingerprint
	}
	byMetric := make(map[string][]Signal)
	for _, s := range in.Signals {
		byMetric[s.Metric] = append(byMetric[s.Metric], s)
	}
	// Which (node, metric) baselines are held because a baseline rule on
	// them is pending or firing: an anomaly must not become the norm.
	held := make(map[baseKey]bool)
	var out []Transition
	seen := make(map[stateKey]bool)
	for _, r := range e.rules {
		sigs := byMetric[r.Metric]
		slices.SortFunc(sigs, func(a, b Signal) int { return strings.Compare(a.Node, b.Node) })
		for _, s := range sigs {
			k := stateKey{r.Name, s.Node}
			seen[k] = true
			threshold, ok := r.Threshold, true
			base := e.baselines[baseKey{s.Node, s.Metric}]
			if r.Baseline {
				if base == nil || base.N < e.Warmup || s.Value < r.Floor {
					ok = false
				} else {
					threshold = r.Threshold * base.Mean
				}
			}
			st := e.states[k]
			if ok && r.Op.Holds(s.Value, threshold) {
				if st == nil {
					st = &ruleState{}
					e.states[k] = st
				}
				if st.since.IsZero() {
					st.since = in.Now
				}
				st.cleared = time.Time{}
				st.values = append(st.values, Sample{in.Now, s.Value})
				if len(st.values) > maxEvidence {
					st.values = st.values[len(st.values)-maxEvidence:]
				}
				st.process, st.detail = s.Process, s.Detail
				if r.Baseline {
					st.baseline = base.Mean
					held[baseKey{s.Node, s.Metric}] = true
				}
				if !st.firing && in.Now.Sub(st.since) >= r.For {
					st.firing = true
					out = append(out, Transition{Kind: Raise, Rule: r, Node: s.Node, Process: st.process, Time: in.Now,
						Values: slices.Clone(st.values), Baseline: st.baseline, Detail: st.detail})
				}
				continue
			}
			if st != nil {
				if st.firing && r.ClearFor > 0 {
					if st.cleared.IsZero() {
						st.cleared = in.Now
					}
					if in.Now.Sub(st.cleared) < r.ClearFor {
						continue // hold a flapping alert up
					}
				}
				if st.firing {
					out = append(out, Transition{Kind: Resolve, Rule: r, Node: s.Node, Process: st.process, Time: in.Now,
						Values: []Sample{{in.Now, s.Value}}, Detail: s.Detail, Reason: "back within the threshold"})
				}
				delete(e.states, k)
			}
		}
	}
	// States without a signal this step: keep them while their node is
	// known (a down node's CPU is unknown, not fine), resolve otherwise.
	if len(in.Known) > 0 {
		known := make(map[string]bool, len(in.Known))
		for _, n := range in.Known {
			known[n] = true
		}
		var gone []stateKey
		for k := range e.states {
			if !seen[k] && k.node != "" && !known[k.node] {
				gone = append(gone, k)
			}
		}
		slices.SortFunc(gone, func(a, b stateKey) int {
			if c := strings.Compare(a.rule, b.rule); c != 0 {
				return c
			}
			return strings.Compare(a.node, b.node)
		})
		for _, k := range gone {
			st := e.states[k]
			if st.firing {
				r, _ := e.rule(k.rule)
				out = append(out, Transition{Kind: Resolve, Rule: r, Node: k.node, Process: st.process, Time: in.Now,
					Reason: fmt.Sprintf("%s is no longer a member", k.node)})
			}
			delete(e.states, k)
		}
		for k := range e.baselines {
			if !known[k.node] {
				delete(e.baselines, k)
			}
		}
	}
	for _, s := range in.Signals {
		k := baseKey{s.Node, s.Metric}
		if held[k] {
			continue
		}
		b := e.baselines[k]
		if b == nil {
			e.baselines[k] = &Baseline{Mean: s.Value, N: 1}
			continue
		}
		b.Mean = e.Alpha*s.Value + (1-e.Alpha)*b.Mean
		b.N++
	}
	return out
}

func (e *Engine) rule(name string) (Rule, bool) {
	for _, r := range e.rules {
		if r.Name == name {
			return r, true
		}
	}
	return Rule{Name: name}, false
}
