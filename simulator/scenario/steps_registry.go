package scenario

import (
	"context"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Registry steps: register, unregister. They map to Node.Register and
// Node.Unregister; the registry conditions are in conditions.go.

func init() {
	defineStep("register", "register: {name: NAME, pid: $pid, via: NODE}", structStep[registerStep]())
	defineStep("unregister", "unregister: NAME, or unregister: {name: NAME, via: NODE}", func(n *yaml.Node) (action, error) {
		s := &unregisterStep{}
		if err := decodeScalarOr(n, s, "", func(v string) { s.Name = v }); err != nil {
			return nil, err
		}
		return s, nil
	})
}

// registerStep binds a cluster-wide name to a process. The request goes
// through via (default: the process's own node, which makes the
// registration), so on each side of a partition the name is registered
// where the process runs.
type registerStep struct {
	Name string `yaml:"name"`
	PID  pidRef `yaml:"pid"`
	Via  string `yaml:"via"`
}

func (s *registerStep) summary() string { return fmt.Sprintf("register %s -> %s", s.Name, s.PID) }

func (s *registerStep) validate(v *validator) error {
	if s.Name == "" {
		return fmt.Errorf("name is required")
	}
	if err := v.node(s.Via, true); err != nil {
		return fmt.Errorf("via: %w", err)
	}
	return v.pid(s.PID, "pid")
}

func (s *registerStep) run(ctx context.Context, r *runner) (string, error) {
	pid, err := r.pid(s.PID)
	if err != nil {
		return "", err
	}
	n, err := r.via(s.Via, pid.Node)
	if err != nil {
		return "", err
	}
	if err := n.Register(ctx, s.Name, pid); err != nil {
		return "", fmt.Errorf("register %s -> %s via %s: %w", s.Name, pid, n.Name(), err)
	}
	return fmt.Sprintf("%s -> %s", s.Name, pid), nil
}

// unregisterStep removes a name.
type unregisterStep struct {
	Name string `yaml:"name"`
	Via  string `yaml:"via"`
}

func (s *unregisterStep) summary() string { return "unregister " + s.Name }

func (s *unregisterStep) validate(v *validator) error {
	if s.Name == "" {
		return fmt.Errorf("name is required")
	}
	if err := v.node(s.Via, true); err != nil {
		return fmt.Errorf("via: %w", err)
	}
	return nil
}

func (s *unregisterStep) run(ctx context.Context, r *runner) (string, error) {
	n, err := r.via(s.Via)
	if err != nil {
		return "", err
	}
	if err := n.Unregister(ctx, s.Name); err != nil {
		return "", fmt.Errorf("unregister %s via %s: %w", s.Name, n.Name(), err)
	}
	return "", nil
}
