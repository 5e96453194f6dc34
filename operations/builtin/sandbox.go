package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/cluster/script"
	"github.com/clusterlab/clusterlab/operations"
)

// Sandboxes: named sets of processes spanning chosen nodes, created,
// inspected, scripted and destroyed as one.

const sandboxNamePattern = `[a-z0-9][a-z0-9_.-]{0,62}`

var sandboxName = operations.Param{Name: "name", Type: operations.TypeString, Required: true, Pattern: sandboxNamePattern, Description: "the sandbox's name"}

// sandboxChild converts one element of the children parameter.
func sandboxChild(i int, v any) (cluster.SandboxChild, error) {
	bad := func(msg string) error {
		return (&operations.Error{Code: operations.CodeInvalidParams, Message: fmt.Sprintf("invalid parameters for sandbox_create: children: element %d: %s", i, msg)}).
			With("params", []operations.ParamError{{Param: "children", Message: fmt.Sprintf("element %d: %s", i, msg)}}).
			Fix(`each child is an object {"behavior": "echo", "args": {...}, "name": "...", "node": "node-1"}`)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return cluster.SandboxChild{}, bad("want an object")
	}
	var c cluster.SandboxChild
	for k, val := range m {
		switch k {
		case "behavior", "name", "node":
			s, ok := val.(string)
			if !ok {
				return c, bad(k + " must be a string")
			}
			switch k {
			case "behavior":
				c.Behavior = s
			case "name":
				c.Name = s
			case "node":
				c.Node = s
			}
		case "args":
			obj, ok := val.(map[string]any)
			if !ok {
				return c, bad("args must be an object")
			}
			b, err := json.Marshal(obj)
			if err != nil {
				return c, bad("args: " + err.Error())
			}
			c.Args = b
		default:
			return c, bad(fmt.Sprintf("unknown field %q (known: behavior, args, name, node)", k))
		}
	}
	if c.Behavior == "" {
		return c, bad("behavior is missing")
	}
	return c, nil
}

func sandboxCreate(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	spec := cluster.SandboxSpec{
		Name:       p.String("name"),
		Nodes:      p.Strings("nodes"),
		Spread:     int(p.Int("spread")),
		OnNodeLoss: p.String("on_node_loss"),
	}
	for i, v := range p.List("children") {
		c, err := sandboxChild(i, v)
		if err != nil {
			return nil, err
		}
		spec.Children = append(spec.Children, c)
	}
	if b := p.String("behavior"); b != "" {
		for range p.Int("count") {
			spec.Children = append(spec.Children, cluster.SandboxChild{Behavior: b})
		}
	}
	if len(spec.Nodes) > 0 && spec.Spread > 0 {
		return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: "invalid parameters for sandbox_create: give nodes or spread, not both"}).
			With("params", []operations.ParamError{{Param: "spread", Message: "given with nodes"}})
	}
	return env.Node.CreateSandbox(ctx, spec)
}

func sandboxList(_ context.Context, env *operations.Env, p operations.Params) (any, error) {
	all := env.Node.Sandboxes()
	state := p.String("state")
	out := make([]cluster.SandboxInfo, 0, len(all))
	for _, s := range all {
		if state == "" || s.State == state {
			out = append(out, s)
		}
	}
	return map[string]any{"sandboxes": out}, nil
}

func sandboxInfo(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	return env.Node.SandboxInfo(ctx, p.String("name"))
}

func sandboxSpawn(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	c := cluster.SandboxChild{Behavior: p.String("behavior"), Name: p.String("process_name"), Node: p.String("node")}
	if args := p.Object("args"); args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, operations.Errorf(operations.CodeInvalidParams, "args: %v", err)
		}
		c.Args = b
	}
	pid, err := env.Node.SandboxSpawn(ctx, p.String("name"), c)
	if err != nil {
		return nil, err
	}
	return map[string]any{"sandbox": p.String("name"), "pid": pid, "node": pid.Node}, nil
}

func sandboxExec(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	limits := script.Limits{Timeout: p.Duration("timeout"), MaxSteps: uint64(p.Int("max_steps"))}
	res, err := script.ExecInSandbox(ctx, env.Node, p.String("name"), p.String("script"), limits)
	if err != nil {
		var se *script.Error
		if errors.As(err, &se) {
			return nil, (&operations.Error{Code: operations.CodeUnprocessable, Message: "the script failed: " + se.Error(), Err: err}).
				With("pos", se.Pos).With("backtrace", se.Backtrace).
				Fix("fix the script at " + se.Pos + "; the cluster module offers members, spawn, send, call, kill, lookup, processes, sleep and self_node")
		}
		if errors.Is(err, script.ErrBadLimits) {
			return nil, &operations.Error{Code: operations.CodeInvalidParams, Message: err.Error(), Err: err}
		}
		return nil, err
	}
	return res, nil
}

func sandboxDestroy(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	return env.Node.DestroySandbox(ctx, p.String("name"))
}

func init() {
	operations.Register(operations.Define(operations.Spec{
		Name:     "sandbox_create",
		Category: CategorySandbox,
		Summary:  "Create a sandbox over chosen nodes (or spread over N) and start its processes",
		Description: "Processes are labelled sandbox=<name>. Give children as a JSON list of {behavior, args, name, node}, " +
			"or behavior and count for that many plain processes spread round-robin.",
		Params: []operations.Param{
			sandboxName,
			{Name: "nodes", Type: operations.TypeList, Items: operations.TypeNode, MaxLen: operations.N(cluster.MaxSandboxNodes), Description: "the sandbox's nodes (comma-separated)"},
			{Name: "spread", Type: operations.TypeInt, Min: operations.F(0), Max: operations.F(cluster.MaxSandboxNodes), Description: "instead of nodes: this many live worker nodes, chosen deterministically"},
			{Name: "children", Type: operations.TypeList, Items: operations.TypeObject, MaxLen: operations.N(cluster.MaxSandboxChildren), Description: `initial processes: [{"behavior":"echo","node":"node-1"}]`},
			{Name: "behavior", Type: operations.TypeString, Pattern: `[A-Za-z0-9_.:-]{1,64}`, Description: "with count: start count processes of this behaviour"},
			{Name: "count", Type: operations.TypeInt, Default: int64(1), Min: operations.F(1), Max: operations.F(cluster.MaxSandboxChildren), Description: "how many processes of behavior"},
			{Name: "on_node_loss", Type: operations.TypeEnum, Enum: []string{cluster.OnNodeLossKeep, cluster.OnNodeLossRestart}, Default: cluster.OnNodeLossKeep, Description: "keep: mark degraded; restart: start lost processes on the remaining nodes"},
		},
		Result:  "{name, state, spec, nodes, created_by, created_at, processes: [{pid, node, behavior, status}], lost}",
		Timeout: 60 * time.Second,
	}, sandboxCreate))
	operations.Register(operations.Define(operations.Spec{
		Name:     "sandbox_list",
		Category: CategorySandbox,
		Summary:  "List the sandboxes with their state and inventory",
		Params: []operations.Param{
			{Name: "state", Type: operations.TypeEnum, Enum: []string{cluster.SandboxActive, cluster.SandboxDegraded, cluster.SandboxDestroyed}, Description: "only sandboxes in this state"},
		},
		Result: "{sandboxes: [{name, state, nodes, processes, lost, ...}]}",
	}, sandboxList))
	operations.Register(operations.Define(operations.Spec{
		Name:     "sandbox_info",
		Category: CategorySandbox,
		Summary:  "Inspect a sandbox: its record and the processes found on each node",
		Params:   []operations.Param{sandboxName},
		Result:   "{name, state, nodes, processes, lost, per_node: [{node, processes}], missing}",
	}, sandboxInfo))
	operations.Register(operations.Define(operations.Spec{
		Name:     "sandbox_spawn",
		Category: CategorySandbox,
		Summary:  "Start one more process in a sandbox",
		Params: []operations.Param{
			sandboxName,
			{Name: "behavior", Type: operations.TypeString, Required: true, Pattern: `[A-Za-z0-9_.:-]{1,64}`, Description: "a registered behaviour"},
			{Name: "args", Type: operations.TypeObject, Description: "arguments for the behaviour's Init"},
			{Name: "process_name", Type: operations.TypeString, MaxLen: operations.N(128), Description: "node-local process name"},
			{Name: "node", Type: operations.TypeNode, Description: "one of the sandbox's nodes; round-robin when empty"},
		},
		Result: "{sandbox, pid, node}",
	}, sandboxSpawn))
	operations.Register(operations.Define(operations.Spec{
		Name:     "sandbox_exec",
		Category: CategorySandbox,
		Summary:  "Run a Starlark script inside a sandbox (its spawns join the sandbox)",
		Description: "The script sees a `cluster` module: members(), spawn(behavior, node=None, args=None, name=None), send(pid, kind, body), " +
			"call(pid, kind, body, timeout), kill(pid, reason), lookup(name), processes(node=None, behavior=None), sleep(seconds), self_node(). " +
			"print() output is returned, and so is the value of a top-level `result` variable.",
		Params: []operations.Param{
			sandboxName,
			{Name: "script", Type: operations.TypeString, Required: true, MinLen: operations.N(1), MaxLen: operations.N(script.MaxSource), Description: "the Starlark source"},
			{Name: "timeout", Type: operations.TypeDuration, Default: script.DefaultTimeout.String(), Min: operations.F(0.001), Max: operations.F(60), Description: "wall-time bound of the run"},
			{Name: "max_steps", Type: operations.TypeInt, Default: int64(script.DefaultMaxSteps), Min: operations.F(1), Max: operations.F(1e9), Description: "Starlark step bound"},
		},
		Result:  "{output, output_truncated, value, steps, duration}",
		Timeout: 65 * time.Second,
	}, sandboxExec))
	operations.Register(operations.Define(operations.Spec{
		Name:        "sandbox_destroy",
		Category:    CategorySandbox,
		Summary:     "Destroy a sandbox: stop every process in it on every node and verify none is left",
		Destructive: true,
		Params:      []operations.Param{sandboxName},
		Result:      "{sandbox, per_node: [{node, stopped, errors}], stopped, verified, leftovers, missing}",
		Timeout:     60 * time.Second,
	}, sandboxDestroy))
}
