// Package builtin holds the operations compiled into clusterlab, one file
// per concern (cluster, processes, registry, simulator, ...). Importing it
// registers them in operations.Default():
//
//	import _ "github.com/clusterlab/clusterlab/operations/builtin"
//
// Every operation works through the observer node's cluster.View, so it
// behaves the same on the embedded simulator and on a real cluster; the
// simulator-only ones use operations.Env.Sim and are refused on a real
// cluster by the framework.
package builtin

import (
	"fmt"
	"sort"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
)

// Categories of the built-in operations.
const (
	CategoryCluster    = "cluster"
	CategoryProcesses  = "processes"
	CategoryRegistry   = "registry"
	CategorySimulator  = "simulator"
	CategorySupervisor = "supervisors"
	CategorySandbox    = "sandboxes"
	CategoryTrace      = "traces"
)

// Parameter declarations shared by several operations.
var (
	pidParam = operations.Param{Name: "pid", Type: operations.TypePID, Required: true, Description: "the process, as node/id (node-1/4)"}
)

// nodeUnreachable turns a missing node of a fan-out into the error the
// framework maps to 502 with a remediation naming the node.
func nodeUnreachable(ne cluster.NodeError) error {
	code := ne.Code
	if code == "" {
		code = cluster.CodeNodeUnreachable
	}
	return &cluster.RPCError{Code: code, Node: ne.Node, State: ne.State, Message: ne.Message}
}

// refuseObserver answers 422 for work aimed at an observer node, which
// hosts no workloads.
func refuseObserver(env *operations.Env, node, what string) error {
	for _, m := range env.Node.Members() {
		if m.Name == node && m.Role == cluster.RoleObserver {
			return (&operations.Error{Code: operations.CodeUnprocessable,
				Message: fmt.Sprintf("%s is an observer node: it hosts no workloads, so it cannot %s", node, what)}).
				With("node", node).With("role", m.Role).
				Fix("pick a worker node; list them with `clusterlab op run list_nodes role=worker`")
		}
	}
	return nil
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
