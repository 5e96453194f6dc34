package scenario

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clusterlab/clusterlab/cluster"
)

// Trace steps: trace_start, trace_stop. They map to Node.StartTrace and
// Node.StopTrace; the trace_events_in_order condition is in conditions.go.

func init() {
	defineStep("trace_start", "trace_start: {pid: $pid, as: VAR, from_node: NODE, kinds: [send, receive, spawn, exit], duration: 30s, max_events: N}", structStep[traceStartStep]())
	defineStep("trace_stop", "trace_stop: $trace", func(n *yaml.Node) (action, error) {
		s, err := scalarString(n, "trace_stop")
		if err != nil {
			return nil, err
		}
		return &traceStopStep{Trace: s}, nil
	})
}

var traceKinds = []string{cluster.TraceSend, cluster.TraceReceive, cluster.TraceSpawn, cluster.TraceExit}

// traceStartStep starts a trace on a process from a node (by default one
// other than the process's own, so that the events travel back).
type traceStartStep struct {
	PID       pidRef   `yaml:"pid"`
	As        string   `yaml:"as"`
	FromNode  string   `yaml:"from_node"`
	Kinds     []string `yaml:"kinds"`
	Duration  duration `yaml:"duration"`
	MaxEvents int      `yaml:"max_events"`
}

func (s *traceStartStep) summary() string {
	sum := "trace_start " + string(s.PID)
	if s.FromNode != "" {
		sum += " from " + s.FromNode
	}
	if s.As != "" {
		sum += " as $" + strings.TrimPrefix(s.As, "$")
	}
	return sum
}

func (s *traceStartStep) validate(v *validator) error {
	if err := v.pid(s.PID, "pid"); err != nil {
		return err
	}
	if err := v.node(s.FromNode, true); err != nil {
		return fmt.Errorf("from_node: %w", err)
	}
	for _, k := range s.Kinds {
		if !slices.Contains(traceKinds, k) {
			return fmt.Errorf("kinds: %q is not one of %s", k, strings.Join(traceKinds, ", "))
		}
	}
	if d := s.Duration.D(); d != 0 && (d < cluster.MinTraceDuration || d > cluster.MaxTraceDuration) {
		return fmt.Errorf("duration: %s is outside %s..%s", d, cluster.MinTraceDuration, cluster.MaxTraceDuration)
	}
	if s.MaxEvents < 0 || s.MaxEvents > cluster.MaxTraceMaxEvents {
		return fmt.Errorf("max_events: %d is outside 1..%d", s.MaxEvents, cluster.MaxTraceMaxEvents)
	}
	if s.As == "" {
		return fmt.Errorf("as is required: name the trace to check its events later")
	}
	return v.define(s.As, varTrace)
}

func (s *traceStartStep) run(ctx context.Context, r *runner) (string, error) {
	pid, err := r.pid(s.PID)
	if err != nil {
		return "", err
	}
	var from *cluster.Node
	if s.FromNode != "" {
		from, err = r.running(s.FromNode)
	} else {
		// Any running node but the process's own: the trace is remote.
		for _, n := range r.sim.Running() {
			if n.Name() != pid.Node {
				from = n
				break
			}
		}
		if from == nil {
			from, err = r.via("", pid.Node)
		}
	}
	if err != nil {
		return "", err
	}
	info, err := from.StartTrace(ctx, pid, cluster.TraceOptions{Kinds: s.Kinds, Duration: s.Duration.D(), MaxEvents: s.MaxEvents})
	if err != nil {
		return "", fmt.Errorf("trace %s from %s: %w", pid, from.Name(), err)
	}
	r.traces[strings.TrimPrefix(s.As, "$")] = traceVar{id: info.ID, node: from.Name()}
	return fmt.Sprintf("trace %s of %s, collected on %s", info.ID, pid, from.Name()), nil
}

type traceStopStep struct{ Trace string }

func (s *traceStopStep) summary() string { return "trace_stop " + s.Trace }

func (s *traceStopStep) validate(v *validator) error { return v.use(s.Trace, varTrace) }

func (s *traceStopStep) run(ctx context.Context, r *runner) (string, error) {
	tv, n, err := r.trace(s.Trace)
	if err != nil {
		return "", err
	}
	if err := n.StopTrace(ctx, tv.id); err != nil {
		return "", fmt.Errorf("stop trace %s on %s: %w", tv.id, n.Name(), err)
	}
	return "", nil
}

// trace resolves a "$t" reference to the trace and the running node that
// collects it.
func (r *runner) trace(ref string) (traceVar, *cluster.Node, error) {
	name := strings.TrimPrefix(ref, "$")
	tv, ok := r.traces[name]
	if !ok {
		return traceVar{}, nil, fmt.Errorf("trace $%s is not set (the step that starts it did not run)", name)
	}
	n, err := r.running(tv.node)
	if err != nil {
		return tv, nil, fmt.Errorf("trace $%s is collected on %s: %w", name, tv.node, err)
	}
	return tv, n, nil
}
