package builtin

import (
	"context"
	"fmt"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
)

// Simulator-only operations: fault injection and virtual node lifecycle.
// The framework refuses them (422) when env.Sim is nil.

func nodeParam(desc string) operations.Param {
	return operations.Param{Name: "node", Type: operations.TypeNode, Required: true, Description: desc}
}

// refuseSelf keeps the app from crashing or stopping its own node.
func refuseSelf(env *operations.Env, node, what string) error {
	if node != env.Node.Name() {
		return nil
	}
	return (&operations.Error{Code: operations.CodeUnprocessable, Message: fmt.Sprintf("%s is the app's own observer node; it cannot %s itself", node, what)}).
		With("node", node).
		Fix("pick a worker node; list them with `clusterlab op run list_nodes role=worker`")
}

// simState returns a virtual node's simulator state, or "".
func simState(env *operations.Env, node string) string {
	for _, n := range env.Sim.Nodes() {
		if n.Name == node {
			return n.State
		}
	}
	return ""
}

func nodeStart(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	name, err := env.Sim.AddNode(ctx, p.String("name"), p.String("role"), stringMap(p.Object("tags")))
	if err != nil {
		return nil, err
	}
	return map[string]any{"node": name, "sim_state": simState(env, name)}, nil
}

func stringMap(m map[string]any) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func nodeLifecycle(what string, do func(ctx context.Context, env *operations.Env, node string) error) operations.ExecuteFunc {
	return func(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
		node := p.String("node")
		if err := refuseSelf(env, node, what); err != nil {
			return nil, err
		}
		if err := do(ctx, env, node); err != nil {
			return nil, err
		}
		return map[string]any{"node": node, "sim_state": simState(env, node)}, nil
	}
}

func partition(_ context.Context, env *operations.Env, p operations.Params) (any, error) {
	var groups [][]string
	for _, g := range p.List("groups") {
		var names []string
		for _, n := range g.([]any) {
			names = append(names, n.(string))
		}
		groups = append(groups, names)
	}
	if err := env.Sim.Partition(groups); err != nil {
		return nil, err
	}
	return map[string]any{"groups": groups}, nil
}

func heal(_ context.Context, env *operations.Env, _ operations.Params) (any, error) {
	if err := env.Sim.Heal(); err != nil {
		return nil, err
	}
	return map[string]any{"healed": true}, nil
}

func linkOp(do func(env *operations.Env, p operations.Params) error, result func(p operations.Params) map[string]any) operations.ExecuteFunc {
	return func(_ context.Context, env *operations.Env, p operations.Params) (any, error) {
		if err := do(env, p); err != nil {
			return nil, err
		}
		return result(p), nil
	}
}

func init() {
	operations.Register(operations.Define(operations.Spec{
		Name:          "node_start",
		Category:      CategorySimulator,
		Summary:       "Start a new virtual node and join it to the cluster",
		SimulatorOnly: true,
		Params: []operations.Param{
			{Name: "name", Type: operations.TypeString, Pattern: `[A-Za-z0-9][A-Za-z0-9_.-]{0,62}`, Description: "node name; default node-N"},
			{Name: "role", Type: operations.TypeEnum, Enum: []string{cluster.RoleWorker, cluster.RoleObserver}, Default: cluster.RoleWorker, Description: "node role"},
			{Name: "tags", Type: operations.TypeObject, Description: "node tags, a JSON object of strings"},
		},
		Result:  "{node, sim_state}",
		Timeout: 30 * time.Second,
	}, nodeStart))
	operations.Register(operations.Define(operations.Spec{
		Name:          "node_stop",
		Category:      CategorySimulator,
		Summary:       "Stop a virtual node gracefully: its processes exit with reason shutdown and it leaves",
		SimulatorOnly: true,
		Destructive:   true,
		Params:        []operations.Param{nodeParam("the running virtual node to stop")},
		Result:        "{node, sim_state}",
		Timeout:       30 * time.Second,
	}, nodeLifecycle("stop", func(ctx context.Context, env *operations.Env, node string) error { return env.Sim.Stop(ctx, node) })))
	operations.Register(operations.Define(operations.Spec{
		Name:          "node_crash",
		Category:      CategorySimulator,
		Summary:       "Crash a virtual node: it falls silent at once and its processes vanish",
		Description:   "The others find out through failed probes: suspect within about a second, dead soon after.",
		SimulatorOnly: true,
		Destructive:   true,
		Params:        []operations.Param{nodeParam("the running virtual node to crash")},
		Result:        "{node, sim_state}",
	}, nodeLifecycle("crash", func(_ context.Context, env *operations.Env, node string) error { return env.Sim.Crash(node) })))
	operations.Register(operations.Define(operations.Spec{
		Name:          "node_restart",
		Category:      CategorySimulator,
		Summary:       "Restart a virtual node with a fresh runtime (no processes) under the same name",
		SimulatorOnly: true,
		Destructive:   true,
		Params:        []operations.Param{nodeParam("the virtual node to restart (running, crashed or stopped)")},
		Result:        "{node, sim_state}",
		Timeout:       30 * time.Second,
	}, nodeLifecycle("restart", func(ctx context.Context, env *operations.Env, node string) error { return env.Sim.Restart(ctx, node) })))
	operations.Register(operations.Define(operations.Spec{
		Name:          "partition",
		Category:      CategorySimulator,
		Summary:       "Split the network into groups that cannot reach each other",
		Description:   "Nodes named in no group form one more group. Replaces any earlier partition. On the CLI: groups=node-1,node-2;node-3,node-4",
		SimulatorOnly: true,
		Params: []operations.Param{
			{Name: "groups", Type: operations.TypeList, Items: "list:node", Required: true, MinLen: operations.N(1), MaxLen: operations.N(64), Description: "the groups: a list of lists of node names"},
		},
		Result: "{groups}",
	}, partition))
	operations.Register(operations.Define(operations.Spec{
		Name:          "heal",
		Category:      CategorySimulator,
		Summary:       "Remove the partition and every one-way cut (latency and loss stay)",
		SimulatorOnly: true,
		Params:        []operations.Param{},
		Result:        "{healed}",
	}, heal))
	fromTo := []operations.Param{
		{Name: "from", Type: operations.TypeNode, Required: true, Description: "the sending side"},
		{Name: "to", Type: operations.TypeNode, Required: true, Description: "the receiving side"},
	}
	operations.Register(operations.Define(operations.Spec{
		Name:          "cut",
		Category:      CategorySimulator,
		Summary:       "Drop packets from one node to another, one way",
		Description:   "Packets to -> from still flow; streams between the two break both ways.",
		SimulatorOnly: true,
		Params:        fromTo,
		Result:        "{from, to, cut}",
	}, linkOp(func(env *operations.Env, p operations.Params) error {
		return env.Sim.Cut(p.String("from"), p.String("to"))
	},
		func(p operations.Params) map[string]any {
			return map[string]any{"from": p.String("from"), "to": p.String("to"), "cut": true}
		})))
	operations.Register(operations.Define(operations.Spec{
		Name:          "uncut",
		Category:      CategorySimulator,
		Summary:       "Remove a one-way cut",
		SimulatorOnly: true,
		Params:        fromTo,
		Result:        "{from, to, cut}",
	}, linkOp(func(env *operations.Env, p operations.Params) error {
		return env.Sim.Uncut(p.String("from"), p.String("to"))
	},
		func(p operations.Params) map[string]any {
			return map[string]any{"from": p.String("from"), "to": p.String("to"), "cut": false}
		})))
	ab := []operations.Param{
		{Name: "a", Type: operations.TypeNode, Required: true, Description: "one end of the link"},
		{Name: "b", Type: operations.TypeNode, Required: true, Description: "the other end"},
	}
	operations.Register(operations.Define(operations.Spec{
		Name:          "link_latency",
		Category:      CategorySimulator,
		Summary:       "Set the one-way delay and jitter of the link between two nodes (both directions)",
		SimulatorOnly: true,
		Params: append(append([]operations.Param{}, ab...),
			operations.Param{Name: "latency", Type: operations.TypeDuration, Required: true, Min: operations.F(0), Max: operations.F(60), Description: "one-way delay"},
			operations.Param{Name: "jitter", Type: operations.TypeDuration, Default: "0s", Min: operations.F(0), Max: operations.F(60), Description: "uniform random extra delay in [0, jitter)"}),
		Result: "{a, b, latency, jitter}",
	}, linkOp(func(env *operations.Env, p operations.Params) error {
		return env.Sim.SetLatency(p.String("a"), p.String("b"), p.Duration("latency"), p.Duration("jitter"))
	}, func(p operations.Params) map[string]any {
		return map[string]any{"a": p.String("a"), "b": p.String("b"), "latency": p.Duration("latency").String(), "jitter": p.Duration("jitter").String()}
	})))
	operations.Register(operations.Define(operations.Spec{
		Name:          "link_loss",
		Category:      CategorySimulator,
		Summary:       "Set the packet loss probability of the link between two nodes (both directions)",
		SimulatorOnly: true,
		Params: append(append([]operations.Param{}, ab...),
			operations.Param{Name: "p", Type: operations.TypeFloat, Required: true, Min: operations.F(0), Max: operations.F(1), Description: "loss probability, 0..1"}),
		Result: "{a, b, p}",
	}, linkOp(func(env *operations.Env, p operations.Params) error {
		return env.Sim.SetLoss(p.String("a"), p.String("b"), p.Float("p"))
	}, func(p operations.Params) map[string]any {
		return map[string]any{"a": p.String("a"), "b": p.String("b"), "p": p.Float("p")}
	})))
}
