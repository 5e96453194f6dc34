package scenario

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clusterlab/clusterlab/cluster"
)

// Distributed supervisor steps: start_supervisor, stop_supervisor,
// start_child, start_children, terminate_child. They map to
// Node.StartSupervisor, StopSupervisor, StartChild and TerminateChild; the
// children_exactly_once condition is in conditions.go.

func init() {
	defineStep("start_supervisor", "start_supervisor: NAME, or start_supervisor: {name: NAME, max_restarts: 3, period: 5s, via: NODE}", func(n *yaml.Node) (action, error) {
		s := &startSupervisorStep{}
		if err := decodeScalarOr(n, s, "", func(v string) { s.Name = v }); err != nil {
			return nil, err
		}
		return s, nil
	})
	defineStep("stop_supervisor", "stop_supervisor: NAME, or stop_supervisor: {name: NAME, via: NODE}", func(n *yaml.Node) (action, error) {
		s := &stopSupervisorStep{}
		if err := decodeScalarOr(n, s, "", func(v string) { s.Name = v }); err != nil {
			return nil, err
		}
		return s, nil
	})
	defineStep("start_child", "start_child: {supervisor: SUP, id: ID, behavior: B, args: {...}, restart: permanent|transient|temporary, placement: {strategy: rendezvous|least-loaded, node: NODE, tags: {k: v}}, via: NODE, as: VAR}", structStep[startChildStep]())
	defineStep("start_children", "start_children: {supervisor: SUP, count: N, behavior: B, prefix: child-, args: {...}, restart: R, placement: {...}, via: NODE}", structStep[startChildrenStep]())
	defineStep("terminate_child", "terminate_child: {supervisor: SUP, id: ID, via: NODE}", structStep[terminateChildStep]())
}

type startSupervisorStep struct {
	Name        string   `yaml:"name"`
	MaxRestarts int      `yaml:"max_restarts"`
	Period      duration `yaml:"period"`
	Via         string   `yaml:"via"`
}

func (s *startSupervisorStep) summary() string { return "start_supervisor " + s.Name }

func (s *startSupervisorStep) validate(v *validator) error {
	if s.Name == "" {
		return fmt.Errorf("name is required")
	}
	if s.MaxRestarts < 0 {
		return fmt.Errorf("max_restarts cannot be negative")
	}
	if err := v.node(s.Via, true); err != nil {
		return fmt.Errorf("via: %w", err)
	}
	v.sups[s.Name] = true
	return nil
}

func (s *startSupervisorStep) run(ctx context.Context, r *runner) (string, error) {
	n, err := r.via(s.Via)
	if err != nil {
		return "", err
	}
	spec := cluster.SupervisorSpec{Name: s.Name, MaxRestarts: s.MaxRestarts, Period: s.Period.D()}
	if err := n.StartSupervisor(ctx, spec); err != nil {
		return "", fmt.Errorf("start supervisor %s via %s: %w", s.Name, n.Name(), err)
	}
	return "", nil
}

type stopSupervisorStep struct {
	Name string `yaml:"name"`
	Via  string `yaml:"via"`
}

func (s *stopSupervisorStep) summary() string { return "stop_supervisor " + s.Name }

func (s *stopSupervisorStep) validate(v *validator) error {
	if err := v.supervisor(s.Name); err != nil {
		return err
	}
	if err := v.node(s.Via, true); err != nil {
		return fmt.Errorf("via: %w", err)
	}
	delete(v.sups, s.Name)
	return nil
}

func (s *stopSupervisorStep) run(ctx context.Context, r *runner) (string, error) {
	n, err := r.via(s.Via)
	if err != nil {
		return "", err
	}
	if err := n.StopSupervisor(ctx, s.Name); err != nil {
		return "", fmt.Errorf("stop supervisor %s via %s: %w", s.Name, n.Name(), err)
	}
	delete(r.children, s.Name)
	return "", nil
}

// supervisor checks that a supervisor was started by an earlier step.
func (v *validator) supervisor(name string) error {
	if name == "" {
		return fmt.Errorf("supervisor is required")
	}
	if !v.sups[name] {
		return fmt.Errorf("unknown supervisor %q: no step before this one starts it (add - start_supervisor: %s)", name, name)
	}
	return nil
}

// childTemplate is what start_child and start_children share.
type childTemplate struct {
	Behavior  string        `yaml:"behavior"`
	Args      rawArgs       `yaml:"args"`
	Restart   string        `yaml:"restart"`
	Placement placementYAML `yaml:"placement"`
}

type placementYAML struct {
	Strategy string            `yaml:"strategy"`
	Node     string            `yaml:"node"`
	Tags     map[string]string `yaml:"tags"`
}

func (c *childTemplate) validate(v *validator) error {
	if c.Behavior == "" {
		return fmt.Errorf("behavior is required")
	}
	switch c.Restart {
	case "", cluster.RestartPermanent, cluster.RestartTransient, cluster.RestartTemporary:
	default:
		return fmt.Errorf("restart: %q is not permanent, transient or temporary", c.Restart)
	}
	switch c.Placement.Strategy {
	case "", cluster.StrategyRendezvous, cluster.StrategyLeastLoaded:
	default:
		return fmt.Errorf("placement.strategy: %q is not %s or %s", c.Placement.Strategy, cluster.StrategyRendezvous, cluster.StrategyLeastLoaded)
	}
	if err := v.node(c.Placement.Node, true); err != nil {
		return fmt.Errorf("placement.node: %w", err)
	}
	return nil
}

func (c *childTemplate) spec(id string) cluster.ChildSpec {
	return cluster.ChildSpec{
		ID: id, Behavior: c.Behavior, Args: c.Args, Restart: c.Restart,
		Placement: cluster.Placement{Strategy: c.Placement.Strategy, Node: c.Placement.Node, Tags: c.Placement.Tags},
	}
}

// startChild starts one child and remembers its id for the conditions.
func (r *runner) startChild(ctx context.Context, n *cluster.Node, sup string, spec cluster.ChildSpec) (cluster.ChildPlacement, error) {
	cp, err := n.StartChild(ctx, sup, spec)
	if err != nil {
		return cp, fmt.Errorf("start child %s/%s via %s: %w", sup, spec.ID, n.Name(), err)
	}
	if !slices.Contains(r.children[sup], spec.ID) {
		r.children[sup] = append(r.children[sup], spec.ID)
	}
	return cp, nil
}

type startChildStep struct {
	Supervisor    string `yaml:"supervisor"`
	ID            string `yaml:"id"`
	childTemplate `yaml:",inline"`
	Via           string `yaml:"via"`
	As            string `yaml:"as"`
}

func (s *startChildStep) summary() string {
	sum := fmt.Sprintf("start_child %s/%s (%s)", s.Supervisor, s.ID, s.Behavior)
	if s.Placement.Node != "" {
		sum += " prefer " + s.Placement.Node
	}
	return sum
}

func (s *startChildStep) validate(v *validator) error {
	if err := v.supervisor(s.Supervisor); err != nil {
		return err
	}
	if s.ID == "" {
		return fmt.Errorf("id is required")
	}
	if err := s.childTemplate.validate(v); err != nil {
		return err
	}
	if err := v.node(s.Via, true); err != nil {
		return fmt.Errorf("via: %w", err)
	}
	return v.define(s.As, varPID)
}

func (s *startChildStep) run(ctx context.Context, r *runner) (string, error) {
	n, err := r.via(s.Via)
	if err != nil {
		return "", err
	}
	cp, err := r.startChild(ctx, n, s.Supervisor, s.spec(s.ID))
	if err != nil {
		return "", err
	}
	r.setVar(s.As, cp.PID)
	note := fmt.Sprintf("%s on %s", cp.PID, cp.Node)
	if !cp.Honoured && cp.Reason != "" {
		note += " (preference not honoured: " + cp.Reason + ")"
	}
	return note, nil
}

type startChildrenStep struct {
	Supervisor    string `yaml:"supervisor"`
	Count         int    `yaml:"count"`
	Prefix        string `yaml:"prefix"`
	childTemplate `yaml:",inline"`
	Via           string `yaml:"via"`
}

func (s *startChildrenStep) summary() string {
	return fmt.Sprintf("start_children %s x%d (%s, ids %s1..%s%d)", s.Supervisor, s.Count, s.Behavior, s.Prefix, s.Prefix, s.Count)
}

func (s *startChildrenStep) validate(v *validator) error {
	if err := v.supervisor(s.Supervisor); err != nil {
		return err
	}
	if s.Count <= 0 || s.Count > MaxCount {
		return fmt.Errorf("count: want 1..%d children", MaxCount)
	}
	if s.Prefix == "" {
		s.Prefix = "child-"
	}
	if err := s.childTemplate.validate(v); err != nil {
		return err
	}
	if err := v.node(s.Via, true); err != nil {
		return fmt.Errorf("via: %w", err)
	}
	return nil
}

func (s *startChildrenStep) run(ctx context.Context, r *runner) (string, error) {
	n, err := r.via(s.Via)
	if err != nil {
		return "", err
	}
	perNode := map[string]int{}
	for i := 1; i <= s.Count; i++ {
		cp, err := r.startChild(ctx, n, s.Supervisor, s.spec(s.Prefix+strconv.Itoa(i)))
		if err != nil {
			return "", fmt.Errorf("child %d of %d: %w", i, s.Count, err)
		}
		perNode[cp.Node]++
	}
	parts := make([]string, 0, len(perNode))
	for _, node := range sortedKeys(perNode) {
		parts = append(parts, fmt.Sprintf("%s: %d", node, perNode[node]))
	}
	return strings.Join(parts, ", "), nil
}

type terminateChildStep struct {
	Supervisor string `yaml:"supervisor"`
	ID         string `yaml:"id"`
	Via        string `yaml:"via"`
}

func (s *terminateChildStep) summary() string {
	return fmt.Sprintf("terminate_child %s/%s", s.Supervisor, s.ID)
}

func (s *terminateChildStep) validate(v *validator) error {
	if err := v.supervisor(s.Supervisor); err != nil {
		return err
	}
	if s.ID == "" {
		return fmt.Errorf("id is required")
	}
	if err := v.node(s.Via, true); err != nil {
		return fmt.Errorf("via: %w", err)
	}
	return nil
}

func (s *terminateChildStep) run(ctx context.Context, r *runner) (string, error) {
	n, err := r.via(s.Via)
	if err != nil {
		return "", err
	}
	if err := n.TerminateChild(ctx, s.Supervisor, s.ID); err != nil {
		return "", fmt.Errorf("terminate child %s/%s via %s: %w", s.Supervisor, s.ID, n.Name(), err)
	}
	r.children[s.Supervisor] = slices.DeleteFunc(r.children[s.Supervisor], func(id string) bool { return id == s.ID })
	return "", nil
}
