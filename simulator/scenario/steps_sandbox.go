package scenario

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clusterlab/clusterlab/cluster"
)

// Sandbox steps: sandbox_create, sandbox_spawn, sandbox_destroy. They map
// to Node.CreateSandbox, SandboxSpawn and DestroySandbox; the sandbox and
// sandbox_empty conditions are in conditions.go.

func init() {
	defineStep("sandbox_create", "sandbox_create: {name: S, nodes: [NODE, ...] | spread: N, children: [{behavior: B, args: {...}, name: N, node: NODE, count: N}], on_node_loss: keep|restart, via: NODE}", structStep[sandboxCreateStep]())
	defineStep("sandbox_spawn", "sandbox_spawn: {sandbox: S, behavior: B, args: {...}, name: N, node: NODE, via: NODE, as: VAR}", structStep[sandboxSpawnStep]())
	defineStep("sandbox_destroy", "sandbox_destroy: S, or sandbox_destroy: {name: S, via: NODE}", func(n *yaml.Node) (action, error) {
		s := &sandboxDestroyStep{}
		if err := decodeScalarOr(n, s, "", func(v string) { s.Name = v }); err != nil {
			return nil, err
		}
		return s, nil
	})
}

type sandboxChildYAML struct {
	Behavior string  `yaml:"behavior"`
	Args     rawArgs `yaml:"args"`
	Name     string  `yaml:"name"`
	Node     string  `yaml:"node"`
	// Count repeats the child; names get -1, -2, ... when count > 1.
	Count int `yaml:"count"`
}

type sandboxCreateStep struct {
	Name       string             `yaml:"name"`
	Nodes      []string           `yaml:"nodes"`
	Spread     int                `yaml:"spread"`
	Children   []sandboxChildYAML `yaml:"children"`
	OnNodeLoss string             `yaml:"on_node_loss"`
	Via        string             `yaml:"via"`
}

func (s *sandboxCreateStep) summary() string {
	where := fmt.Sprintf("spread over %d", s.Spread)
	if len(s.Nodes) > 0 {
		where = "on " + strings.Join(s.Nodes, ", ")
	}
	total := 0
	for _, c := range s.Children {
		total += max(c.Count, 1)
	}
	return fmt.Sprintf("sandbox_create %s %s with %d processes", s.Name, where, total)
}

func (s *sandboxCreateStep) validate(v *validator) error {
	if s.Name == "" {
		return fmt.Errorf("name is required")
	}
	if (len(s.Nodes) == 0) == (s.Spread == 0) {
		return fmt.Errorf("give nodes or spread (not both)")
	}
	if s.Spread < 0 || s.Spread > cluster.MaxSandboxNodes {
		return fmt.Errorf("spread: %d is outside 1..%d", s.Spread, cluster.MaxSandboxNodes)
	}
	for _, name := range s.Nodes {
		if err := v.node(name, false); err != nil {
			return fmt.Errorf("nodes: %w", err)
		}
	}
	total := 0
	for i, c := range s.Children {
		if c.Behavior == "" {
			return fmt.Errorf("children[%d]: behavior is required", i)
		}
		if err := v.node(c.Node, true); err != nil {
			return fmt.Errorf("children[%d].node: %w", i, err)
		}
		if c.Count < 0 || c.Count > cluster.MaxSandboxChildren {
			return fmt.Errorf("children[%d].count: %d is outside 1..%d", i, c.Count, cluster.MaxSandboxChildren)
		}
		total += max(c.Count, 1)
	}
	if total > cluster.MaxSandboxChildren {
		return fmt.Errorf("children: %d processes is more than %d", total, cluster.MaxSandboxChildren)
	}
	switch s.OnNodeLoss {
	case "", cluster.OnNodeLossKeep, cluster.OnNodeLossRestart:
	default:
		return fmt.Errorf("on_node_loss: %q is not %s or %s", s.OnNodeLoss, cluster.OnNodeLossKeep, cluster.OnNodeLossRestart)
	}
	if err := v.node(s.Via, true); err != nil {
		return fmt.Errorf("via: %w", err)
	}
	v.boxes[s.Name] = true
	return nil
}

func (s *sandboxCreateStep) run(ctx context.Context, r *runner) (string, error) {
	n, err := r.via(s.Via)
	if err != nil {
		return "", err
	}
	spec := cluster.SandboxSpec{Name: s.Name, Nodes: s.Nodes, Spread: s.Spread, OnNodeLoss: s.OnNodeLoss}
	for _, c := range s.Children {
		count := max(c.Count, 1)
		for i := 1; i <= count; i++ {
			name := c.Name
			if name != "" && count > 1 {
				name += "-" + strconv.Itoa(i)
			}
			spec.Children = append(spec.Children, cluster.SandboxChild{Behavior: c.Behavior, Args: c.Args, Name: name, Node: c.Node})
		}
	}
	info, err := n.CreateSandbox(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("create sandbox %s via %s: %w", s.Name, n.Name(), err)
	}
	return fmt.Sprintf("%d processes on %s", len(info.Processes), strings.Join(info.Nodes, ", ")), nil
}

type sandboxSpawnStep struct {
	Sandbox  string  `yaml:"sandbox"`
	Behavior string  `yaml:"behavior"`
	Args     rawArgs `yaml:"args"`
	Name     string  `yaml:"name"`
	Node     string  `yaml:"node"`
	Via      string  `yaml:"via"`
	As       string  `yaml:"as"`
}

func (s *sandboxSpawnStep) summary() string {
	sum := fmt.Sprintf("sandbox_spawn %s in %s", s.Behavior, s.Sandbox)
	if s.Node != "" {
		sum += " on " + s.Node
	}
	return sum
}

func (s *sandboxSpawnStep) validate(v *validator) error {
	if err := v.sandbox(s.Sandbox); err != nil {
		return err
	}
	if s.Behavior == "" {
		return fmt.Errorf("behavior is required")
	}
	if err := v.node(s.Node, true); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if err := v.node(s.Via, true); err != nil {
		return fmt.Errorf("via: %w", err)
	}
	return v.define(s.As, varPID)
}

func (s *sandboxSpawnStep) run(ctx context.Context, r *runner) (string, error) {
	n, err := r.via(s.Via)
	if err != nil {
		return "", err
	}
	pid, err := n.SandboxSpawn(ctx, s.Sandbox, cluster.SandboxChild{Behavior: s.Behavior, Args: s.Args, Name: s.Name, Node: s.Node})
	if err != nil {
		return "", fmt.Errorf("spawn %s in sandbox %s via %s: %w", s.Behavior, s.Sandbox, n.Name(), err)
	}
	r.setVar(s.As, pid)
	return pid.String(), nil
}

type sandboxDestroyStep struct {
	Name string `yaml:"name"`
	Via  string `yaml:"via"`
}

func (s *sandboxDestroyStep) summary() string { return "sandbox_destroy " + s.Name }

func (s *sandboxDestroyStep) validate(v *validator) error {
	if err := v.sandbox(s.Name); err != nil {
		return err
	}
	return v.node(s.Via, true)
}

// run destroys the sandbox and fails unless the destroy verified that no
// process of it is left.
func (s *sandboxDestroyStep) run(ctx context.Context, r *runner) (string, error) {
	n, err := r.via(s.Via)
	if err != nil {
		return "", err
	}
	rep, err := n.DestroySandbox(ctx, s.Name)
	if err != nil {
		return "", fmt.Errorf("destroy sandbox %s via %s: %w", s.Name, n.Name(), err)
	}
	var per []string
	for _, ns := range rep.PerNode {
		per = append(per, fmt.Sprintf("%s: %d", ns.Node, len(ns.Stopped)))
	}
	note := fmt.Sprintf("stopped %d (%s)", rep.Stopped, strings.Join(per, ", "))
	if !rep.Verified {
		var left []string
		for _, p := range rep.Leftovers {
			left = append(left, p.PID.String())
		}
		for _, m := range rep.Missing {
			left = append(left, m.Node+" did not answer: "+m.Message)
		}
		return "", &failure{expected: "destroy to verify that no process of sandbox " + s.Name + " is left", seen: note + "; not verified: " + listOf(left)}
	}
	return note + ", verified", nil
}

// sandbox checks that a sandbox was created by an earlier step.
func (v *validator) sandbox(name string) error {
	if name == "" {
		return fmt.Errorf("a sandbox name is required")
	}
	if !v.boxes[name] {
		return fmt.Errorf("unknown sandbox %q: no step before this one creates it (add - sandbox_create: {name: %s, ...})", name, name)
	}
	return nil
}
