package builtin

import (
	"context"
	"encoding/json"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
)

// Distributed supervisors: specs replicated cluster-wide, children placed
// on the live worker nodes and moved when members change.

// supNamePattern is what cluster accepts for supervisor names and child
// ids: printable ASCII without spaces or slashes.
const supNamePattern = `[!-.0-~]{1,128}`

var (
	supParam   = operations.Param{Name: "supervisor", Type: operations.TypeString, Required: true, Pattern: supNamePattern, Description: "the supervisor's name"}
	childParam = operations.Param{Name: "id", Type: operations.TypeString, Required: true, Pattern: supNamePattern, Description: "the child's id within its supervisor"}
)

func supervisorList(_ context.Context, env *operations.Env, _ operations.Params) (any, error) {
	return map[string]any{"supervisors": env.Node.Supervisors()}, nil
}

func supervisorStart(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	spec := cluster.SupervisorSpec{Name: p.String("name"), MaxRestarts: int(p.Int("max_restarts")), Period: p.Duration("period")}
	if err := env.Node.StartSupervisor(ctx, spec); err != nil {
		return nil, err
	}
	for _, s := range env.Node.Supervisors() {
		if s.Spec.Name == spec.Name {
			return s, nil
		}
	}
	return map[string]any{"spec": spec}, nil
}

func supervisorStop(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	name := p.String("name")
	if err := env.Node.StopSupervisor(ctx, name); err != nil {
		return nil, err
	}
	return map[string]any{"name": name, "stopped": true}, nil
}

func supervisorChildren(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	children, missing := env.View.Children(ctx, p.String("supervisor"))
	if missing == nil {
		missing = []cluster.NodeError{}
	}
	return map[string]any{"children": children, "missing": missing}, nil
}

func supervisorStartChild(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	spec := cluster.ChildSpec{
		ID:       p.String("id"),
		Behavior: p.String("behavior"),
		Restart:  p.String("restart"),
		Placement: cluster.Placement{
			Strategy: p.String("strategy"),
			Node:     p.String("node"),
			Tags:     stringMap(p.Object("tags")),
		},
	}
	if args := p.Object("args"); args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, operations.Errorf(operations.CodeInvalidParams, "args: %v", err)
		}
		spec.Args = b
	}
	return env.Node.StartChild(ctx, p.String("supervisor"), spec)
}

func supervisorTerminateChild(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	sup, id := p.String("supervisor"), p.String("id")
	if err := env.Node.TerminateChild(ctx, sup, id); err != nil {
		return nil, err
	}
	return map[string]any{"supervisor": sup, "id": id, "terminated": true}, nil
}

func supervisorRestartChild(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	return env.Node.RestartChild(ctx, p.String("supervisor"), p.String("id"))
}

func supervisorMigrations(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	all, missing := env.View.Migrations(ctx)
	sup := p.String("supervisor")
	out := make([]cluster.Migration, 0, len(all))
	for _, m := range all {
		if sup == "" || m.Supervisor == sup {
			out = append(out, m)
		}
	}
	if limit := int(p.Int("limit")); len(out) > limit {
		out = out[len(out)-limit:] // the newest
	}
	if missing == nil {
		missing = []cluster.NodeError{}
	}
	return map[string]any{"migrations": out, "missing": missing}, nil
}

func supervisorAnomalies(ctx context.Context, env *operations.Env, _ operations.Params) (any, error) {
	missing, dups, nodes := env.View.ChildAnomalies(ctx)
	if missing == nil {
		missing = []cluster.ChildSpecRef{}
	}
	if dups == nil {
		dups = []cluster.ChildInfo{}
	}
	if nodes == nil {
		nodes = []cluster.NodeError{}
	}
	return map[string]any{"missing_children": missing, "duplicates": dups, "missing_nodes": nodes,
		"ok": len(missing) == 0 && len(dups) == 0}, nil
}

func init() {
	operations.Register(operations.Define(operations.Spec{
		Name:     "supervisor_list",
		Category: CategorySupervisor,
		Summary:  "List the supervisors with their restart limits and child counts",
		Params:   []operations.Param{},
		Result:   "{supervisors: [{spec: {name, max_restarts, period}, children, failed, fail_reason}]}",
	}, supervisorList))
	operations.Register(operations.Define(operations.Spec{
		Name:     "supervisor_start",
		Category: CategorySupervisor,
		Summary:  "Start a supervisor cluster-wide (again with the same spec: clears a failed state)",
		Params: []operations.Param{
			{Name: "name", Type: operations.TypeString, Required: true, Pattern: supNamePattern, Description: "the supervisor's name"},
			{Name: "max_restarts", Type: operations.TypeInt, Default: int64(cluster.DefaultMaxRestarts), Min: operations.F(0), Max: operations.F(1000), Description: "restarts allowed per node within period before the supervisor fails there"},
			{Name: "period", Type: operations.TypeDuration, Default: cluster.DefaultRestartPeriod.String(), Min: operations.F(0.001), Max: operations.F(cluster.MaxRestartPeriod.Seconds()), Description: "the restart intensity window"},
		},
		Result: "{spec, children, failed}",
	}, supervisorStart))
	operations.Register(operations.Define(operations.Spec{
		Name:        "supervisor_stop",
		Category:    CategorySupervisor,
		Summary:     "Stop a supervisor and every one of its children on every node",
		Destructive: true,
		Params:      []operations.Param{{Name: "name", Type: operations.TypeString, Required: true, Pattern: supNamePattern, Description: "the supervisor's name"}},
		Result:      "{name, stopped}",
		Timeout:     30 * time.Second,
	}, supervisorStop))
	operations.Register(operations.Define(operations.Spec{
		Name:     "supervisor_children",
		Category: CategorySupervisor,
		Summary:  "List the running children of a supervisor (or of all) with the node each runs on",
		Params: []operations.Param{
			{Name: "supervisor", Type: operations.TypeString, Pattern: supNamePattern, Description: "the supervisor; all when empty"},
		},
		Result: "{children: [{supervisor, id, behavior, node, pid, status, restarts, started_at}], missing}",
	}, supervisorChildren))
	operations.Register(operations.Define(operations.Spec{
		Name:     "supervisor_start_child",
		Category: CategorySupervisor,
		Summary:  "Start a supervised child with a placement, and see where it started and why",
		Description: "The owner is computed from the live worker nodes: a preferred node wins when it is alive and has the tags; " +
			"otherwise rendezvous hashing (or least-loaded, decided once) picks one. The result says whether the preference was honoured, and why not.",
		Params: []operations.Param{
			supParam, childParam,
			{Name: "behavior", Type: operations.TypeString, Required: true, Pattern: `[A-Za-z0-9_.:-]{1,64}`, Description: "a registered behaviour"},
			{Name: "args", Type: operations.TypeObject, Description: "arguments for the behaviour's Init, as a JSON object"},
			{Name: "restart", Type: operations.TypeEnum, Enum: []string{cluster.RestartPermanent, cluster.RestartTransient, cluster.RestartTemporary}, Default: cluster.RestartPermanent, Description: "restart policy"},
			{Name: "strategy", Type: operations.TypeEnum, Enum: []string{cluster.StrategyRendezvous, cluster.StrategyLeastLoaded}, Default: cluster.StrategyRendezvous, Description: "placement strategy"},
			{Name: "node", Type: operations.TypeNode, Description: "preferred node"},
			{Name: "tags", Type: operations.TypeObject, Description: "required node tags, a JSON object of strings"},
		},
		Result:  "{supervisor, id, node, pid, honoured, reason}",
		Timeout: 30 * time.Second,
	}, supervisorStartChild))
	operations.Register(operations.Define(operations.Spec{
		Name:        "supervisor_terminate_child",
		Category:    CategorySupervisor,
		Summary:     "Stop a supervised child and delete its spec cluster-wide",
		Destructive: true,
		Params:      []operations.Param{supParam, childParam},
		Result:      "{supervisor, id, terminated}",
		Timeout:     30 * time.Second,
	}, supervisorTerminateChild))
	operations.Register(operations.Define(operations.Spec{
		Name:     "supervisor_restart_child",
		Category: CategorySupervisor,
		Summary:  "Restart a supervised child on its owner (clears the supervisor's failed state there)",
		Params:   []operations.Param{supParam, childParam},
		Result:   "{supervisor, id, node, pid, honoured, reason}",
		Timeout:  30 * time.Second,
	}, supervisorRestartChild))
	operations.Register(operations.Define(operations.Spec{
		Name:     "supervisor_migrations",
		Category: CategorySupervisor,
		Summary:  "Show where children moved between nodes, and why, oldest first",
		Params: []operations.Param{
			{Name: "supervisor", Type: operations.TypeString, Pattern: supNamePattern, Description: "only this supervisor's children"},
			{Name: "limit", Type: operations.TypeInt, Default: int64(1000), Min: operations.F(1), Max: operations.F(100000), Description: "at most this many (the newest)"},
		},
		Result: "{migrations: [{supervisor, child, from, to, reason, time}], missing}",
	}, supervisorMigrations))
	operations.Register(operations.Define(operations.Spec{
		Name:     "supervisor_anomalies",
		Category: CategorySupervisor,
		Summary:  "Find supervised children that run nowhere, or on more than one node",
		Params:   []operations.Param{},
		Result:   "{ok, missing_children: [{supervisor, id, behavior, owner}], duplicates: [child], missing_nodes}",
	}, supervisorAnomalies))
}
