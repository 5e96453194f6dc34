package scenario

import (
	"context"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clusterlab/clusterlab/cluster"
)

// Process steps: spawn, kill, send. They map to Node.Spawn, Node.Kill and
// Node.Send.

func init() {
	defineStep("spawn", "spawn: {node: NODE, behavior: B, name: N, args: {...}, labels: {k: v}, as: VAR}", structStep[spawnStep]())
	defineStep("kill", "kill: $pid, or kill: {pid: $pid, reason: killed, via: NODE}", func(n *yaml.Node) (action, error) {
		s := &killStep{}
		if err := decodeScalarOr(n, s, "", func(v string) { s.PID = pidRef(v) }); err != nil {
			return nil, err
		}
		return s, nil
	})
	defineStep("send", "send: {from_node: NODE, to: $pid, kind: K, body: B, count: N}", structStep[sendStep]())
}

// spawnStep starts a process of a registered behaviour on a node.
type spawnStep struct {
	Node     string            `yaml:"node"`
	Behavior string            `yaml:"behavior"`
	Name     string            `yaml:"name"`
	Args     rawArgs           `yaml:"args"`
	Labels   map[string]string `yaml:"labels"`
	As       string            `yaml:"as"`
}

func (s *spawnStep) summary() string {
	sum := "spawn " + s.Behavior
	if s.Node != "" {
		sum += " on " + s.Node
	}
	if s.As != "" {
		sum += " as $" + strings.TrimPrefix(s.As, "$")
	}
	return sum
}

func (s *spawnStep) validate(v *validator) error {
	if s.Behavior == "" {
		return fmt.Errorf("behavior is required")
	}
	if err := v.node(s.Node, true); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	return v.define(s.As, varPID)
}

func (s *spawnStep) run(ctx context.Context, r *runner) (string, error) {
	n, err := r.via(s.Node)
	if err != nil {
		return "", err
	}
	pid, err := n.Spawn(ctx, "", s.Behavior, cluster.SpawnOptions{Name: s.Name, Args: s.Args, Labels: s.Labels})
	if err != nil {
		return "", fmt.Errorf("spawn %s on %s: %w", s.Behavior, n.Name(), err)
	}
	r.setVar(s.As, pid)
	return pid.String(), nil
}

// killStep ends a process with a reason and waits for its exit.
type killStep struct {
	PID    pidRef `yaml:"pid"`
	Reason string `yaml:"reason"`
	Via    string `yaml:"via"`
}

func (s *killStep) summary() string {
	sum := "kill " + string(s.PID)
	if s.Reason != "" {
		sum += " (" + s.Reason + ")"
	}
	return sum
}

func (s *killStep) validate(v *validator) error {
	if err := v.node(s.Via, true); err != nil {
		return fmt.Errorf("via: %w", err)
	}
	return v.pid(s.PID, "pid")
}

func (s *killStep) run(ctx context.Context, r *runner) (string, error) {
	pid, err := r.pid(s.PID)
	if err != nil {
		return "", err
	}
	n, err := r.via(s.Via, pid.Node)
	if err != nil {
		return "", err
	}
	if err := n.Kill(ctx, pid, cluster.Reason(s.Reason)); err != nil {
		return "", fmt.Errorf("kill %s via %s: %w", pid, n.Name(), err)
	}
	return pid.String(), nil
}

// sendStep sends count messages to a process from a node (From is zero:
// no process sends them).
type sendStep struct {
	FromNode string `yaml:"from_node"`
	To       pidRef `yaml:"to"`
	Kind     string `yaml:"kind"`
	Body     string `yaml:"body"`
	Count    int    `yaml:"count"`
}

func (s *sendStep) summary() string {
	sum := fmt.Sprintf("send %s to %s", s.Kind, s.To)
	if s.Count > 1 {
		sum += fmt.Sprintf(" x%d", s.Count)
	}
	if s.FromNode != "" {
		sum += " from " + s.FromNode
	}
	return sum
}

func (s *sendStep) validate(v *validator) error {
	if s.Kind == "" {
		return fmt.Errorf("kind is required (the message kind the behaviour handles)")
	}
	count, err := positive("count", s.Count, 1)
	if err != nil {
		return err
	}
	s.Count = count
	if err := v.node(s.FromNode, true); err != nil {
		return fmt.Errorf("from_node: %w", err)
	}
	return v.pid(s.To, "to")
}

func (s *sendStep) run(ctx context.Context, r *runner) (string, error) {
	to, err := r.pid(s.To)
	if err != nil {
		return "", err
	}
	n, err := r.via(s.FromNode)
	if err != nil {
		return "", err
	}
	body := []byte(s.Body)
	for i := range s.Count {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("sent %d of %d: %w", i, s.Count, err)
		}
		if err := n.Send(to, cluster.Message{Kind: s.Kind, Body: body}); err != nil {
			return "", fmt.Errorf("send %d of %d from %s to %s: %w", i+1, s.Count, n.Name(), to, err)
		}
	}
	return fmt.Sprintf("%d sent from %s", s.Count, n.Name()), nil
}
