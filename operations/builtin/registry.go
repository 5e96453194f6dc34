package builtin

import (
	"context"
	"fmt"
	"strings"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
)

// The cluster-wide name registry, read from the observer's replica (no
// network for reads) and changed through the owning node.

var registryName = operations.Param{Name: "name", Type: operations.TypeString, Required: true, MinLen: operations.N(1), MaxLen: operations.N(256), Description: "the registered name"}

func registryList(_ context.Context, env *operations.Env, p operations.Params) (any, error) {
	prefix, node := p.String("prefix"), p.String("node")
	entries := env.Node.RegistryEntries()
	out := make([]cluster.RegistryEntry, 0, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name, prefix) && (node == "" || e.Node == node) {
			out = append(out, e)
		}
	}
	total := len(out)
	if limit := int(p.Int("limit")); len(out) > limit {
		out = out[:limit]
	}
	return map[string]any{"entries": out, "total": total}, nil
}

func registryLookup(_ context.Context, env *operations.Env, p operations.Params) (any, error) {
	name := p.String("name")
	for _, e := range env.Node.RegistryEntries() {
		if e.Name == name {
			return e, nil
		}
	}
	return nil, (&operations.Error{Code: operations.CodeNotFound, Message: fmt.Sprintf("name %q is not registered", name)}).
		With("name", name).
		Fix("list the registered names with `clusterlab op run registry_list`")
}

func registryRegister(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	name, pid := p.String("name"), p.PID("pid")
	if err := env.Node.Register(ctx, name, pid); err != nil {
		return nil, err
	}
	return map[string]any{"name": name, "pid": pid, "registered": true}, nil
}

func registryUnregister(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	name := p.String("name")
	if err := env.Node.Unregister(ctx, name); err != nil {
		return nil, err
	}
	return map[string]any{"name": name, "unregistered": true}, nil
}

func registryConflicts(ctx context.Context, env *operations.Env, _ operations.Params) (any, error) {
	cs, missing := env.View.RegistryConflicts(ctx)
	if cs == nil {
		cs = []cluster.RegistryConflict{}
	}
	if missing == nil {
		missing = []cluster.NodeError{}
	}
	return map[string]any{"conflicts": cs, "missing": missing}, nil
}

func init() {
	operations.Register(operations.Define(operations.Spec{
		Name:     "registry_list",
		Category: CategoryRegistry,
		Summary:  "List the cluster-wide registered names and the processes they point to",
		Params: []operations.Param{
			{Name: "prefix", Type: operations.TypeString, MaxLen: operations.N(256), Description: "keep names starting with this"},
			{Name: "node", Type: operations.TypeNode, Description: "keep names held by processes on this node"},
			{Name: "limit", Type: operations.TypeInt, Default: int64(1000), Min: operations.F(1), Max: operations.F(100000), Description: "at most this many entries"},
		},
		Result: "{entries: [{name, pid, node, registered_at}], total}",
	}, registryList))
	operations.Register(operations.Define(operations.Spec{
		Name:     "registry_lookup",
		Category: CategoryRegistry,
		Summary:  "Find the process a name is registered to",
		Params:   []operations.Param{registryName},
		Result:   "{name, pid, node, registered_at}",
	}, registryLookup))
	operations.Register(operations.Define(operations.Spec{
		Name:     "registry_register",
		Category: CategoryRegistry,
		Summary:  "Register a cluster-wide name for a process",
		Params:   []operations.Param{registryName, pidParam},
		Result:   "{name, pid, registered}",
	}, registryRegister))
	operations.Register(operations.Define(operations.Spec{
		Name:     "registry_unregister",
		Category: CategoryRegistry,
		Summary:  "Remove a cluster-wide name (the process keeps running)",
		Params:   []operations.Param{registryName},
		Result:   "{name, unregistered}",
	}, registryUnregister))
	operations.Register(operations.Define(operations.Spec{
		Name:     "registry_conflicts",
		Category: CategoryRegistry,
		Summary:  "List the name conflicts seen after partitions healed, and how each was settled",
		Params:   []operations.Param{},
		Result:   "{conflicts: [{name, winner, loser, rule, time, observed_by}], missing}",
	}, registryConflicts))
}
