package app

import (
	"context"
	"fmt"
	"time"

	"github.com/clusterlab/clusterlab/operations"
	"github.com/clusterlab/clusterlab/simulator"
)

// simControl adapts *simulator.Simulator to operations.SimControl. It
// checks a node's state first so that operations get typed errors:
// CodeNotFound for a node the simulator does not know, CodeConflict for a
// node in the wrong state.
type simControl struct{ sim *simulator.Simulator }

var _ operations.SimControl = simControl{}

func (s simControl) Nodes() []operations.SimNode {
	st := s.sim.Nodes()
	out := make([]operations.SimNode, len(st))
	for i, n := range st {
		out[i] = operations.SimNode{Name: n.Name, Role: n.Role, State: n.State, Addr: n.Addr}
	}
	return out
}

func (s simControl) state(name string) (string, error) {
	for _, n := range s.sim.Nodes() {
		if n.Name == name {
			return n.State, nil
		}
	}
	return "", (&operations.Error{Code: operations.CodeNotFound, Message: fmt.Sprintf("the simulator has no node %q", name)}).
		With("node", name).
		Fix("list the virtual nodes with `clusterlab op run list_nodes`; add one with `clusterlab op run node_start`")
}

func (s simControl) wantRunning(name, what string) error {
	st, err := s.state(name)
	if err != nil {
		return err
	}
	if st != simulator.NodeRunning {
		return (&operations.Error{Code: operations.CodeConflict, Message: fmt.Sprintf("cannot %s %s: the node is %s", what, name, st)}).
			With("node", name).With("sim_state", st).
			Fix(fmt.Sprintf("bring it back first with `clusterlab op run node_restart node=%s --yes`", name))
	}
	return nil
}

func (s simControl) AddNode(ctx context.Context, name, role string, tags map[string]string) (string, error) {
	if name != "" {
		if _, err := s.state(name); err == nil {
			return "", (&operations.Error{Code: operations.CodeConflict, Message: fmt.Sprintf("a virtual node named %q exists already", name)}).
				With("node", name).
				Fix(fmt.Sprintf("pick another name, or restart it with `clusterlab op run node_restart node=%s --yes`", name))
		}
	}
	n, err := s.sim.AddNode(ctx, name, role, tags)
	if err != nil {
		return "", err
	}
	return n.Name(), nil
}

func (s simControl) Crash(name string) error {
	if err := s.wantRunning(name, "crash"); err != nil {
		return err
	}
	return s.sim.Crash(name)
}

func (s simControl) Restart(ctx context.Context, name string) error {
	if _, err := s.state(name); err != nil {
		return err
	}
	return s.sim.Restart(ctx, name)
}

func (s simControl) Stop(ctx context.Context, name string) error {
	if err := s.wantRunning(name, "stop"); err != nil {
		return err
	}
	return s.sim.Stop(ctx, name)
}

func (s simControl) Partition(groups [][]string) error {
	s.sim.Network().Partition(groups...)
	return nil
}

func (s simControl) Heal() error {
	s.sim.Network().Heal()
	return nil
}

func (s simControl) Cut(from, to string) error {
	s.sim.Network().Cut(from, to)
	return nil
}

func (s simControl) Uncut(from, to string) error {
	s.sim.Network().Uncut(from, to)
	return nil
}

func (s simControl) SetLatency(a, b string, latency, jitter time.Duration) error {
	s.sim.Network().SetLatency(a, b, latency, jitter)
	return nil
}

func (s simControl) SetLoss(a, b string, p float64) error {
	s.sim.Network().SetLoss(a, b, p)
	return nil
}

func (s simControl) Reachable(from, to string) bool { return s.sim.Network().Reachable(from, to) }

func (s simControl) SeesAlive(name string) ([]string, bool) {
	n := s.sim.Node(name)
	if n == nil {
		return nil, false
	}
	return n.AliveMembers(), true
}

func (s simControl) Seed() int64 { return s.sim.Seed() }
