package scenario

import (
	"context"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clusterlab/clusterlab/simulator"
)

// Node lifecycle steps: start_nodes, crash, restart, stop. They map to the
// simulator's AddNode, Crash, Restart and Stop.

func init() {
	defineStep("start_nodes", "start_nodes: {count: N, tags: {k: v}, wait: true}", structStep[startNodesStep]())
	defineStep("crash", "crash: NODE (or a list of nodes)", parseNodeOp("crash"))
	defineStep("restart", "restart: NODE (or a list of nodes)", parseNodeOp("restart"))
	defineStep("stop", "stop: NODE (or a list of nodes)", parseNodeOp("stop"))
}

// startNodesStep adds worker nodes, named node-N after the last one, and
// joins them to the running nodes.
type startNodesStep struct {
	Count int               `yaml:"count"`
	Tags  map[string]string `yaml:"tags"`
	// Wait, when true, waits until every running node sees every other.
	Wait bool `yaml:"wait"`
}

func (s *startNodesStep) summary() string {
	sum := fmt.Sprintf("start_nodes %d", max(s.Count, 1))
	if s.Wait {
		sum += " and wait until converged"
	}
	return sum
}

func (s *startNodesStep) validate(v *validator) error {
	count, err := positive("count", s.Count, 1)
	if err != nil {
		return err
	}
	if len(v.nodes)+count > simulator.MaxNodes {
		return fmt.Errorf("count: %d more nodes would exceed the simulator's %d", count, simulator.MaxNodes)
	}
	s.Count = count
	v.addNodes(count)
	return nil
}

func (s *startNodesStep) run(ctx context.Context, r *runner) (string, error) {
	return r.startNodes(ctx, s.Count, s.Tags, s.Wait)
}

// nodeOp crashes, restarts or stops one or more nodes, in order.
type nodeOp struct {
	op    string
	nodes []string
}

func parseNodeOp(op string) func(*yaml.Node) (action, error) {
	return func(n *yaml.Node) (action, error) {
		s := &nodeOp{op: op}
		switch {
		case n.Kind == yaml.ScalarNode && !isNull(n):
			s.nodes = []string{n.Value}
		case n.Kind == yaml.SequenceNode:
			if err := decodeStrict(n, &s.nodes, op); err != nil {
				return nil, err
			}
		default:
			return nil, errAt(n, "%s: want a node name or a list of node names, got %s", op, describeNode(n))
		}
		if len(s.nodes) == 0 {
			return nil, errAt(n, "%s: no node named", op)
		}
		return s, nil
	}
}

func (s *nodeOp) summary() string { return s.op + " " + strings.Join(s.nodes, ", ") }

func (s *nodeOp) validate(v *validator) error {
	for _, name := range s.nodes {
		if err := v.node(name, false); err != nil {
			return err
		}
	}
	return nil
}

func (s *nodeOp) run(ctx context.Context, r *runner) (string, error) {
	for _, name := range s.nodes {
		var err error
		switch s.op {
		case "crash":
			err = r.sim.Crash(name)
		case "restart":
			err = r.sim.Restart(ctx, name)
		case "stop":
			err = r.sim.Stop(ctx, name)
		}
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", s.op, name, err)
		}
	}
	return "", nil
}
