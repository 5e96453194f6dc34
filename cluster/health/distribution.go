package health

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// Imbalance is max/mean of per-node counts: 1 is perfectly even, 3 means
// the busiest node carries three times the average. It is 0 for fewer
// than two nodes or when the mean is under minMean (a handful of
// processes is not a distribution worth judging). It is pure.
func Imbalance(counts map[string]int, minMean float64) float64 {
	if len(counts) < 2 {
		return 0
	}
	sum, top := 0, 0
	for _, c := range counts {
		sum += c
		top = max(top, c)
	}
	mean := float64(sum) / float64(len(counts))
	if mean <= 0 || mean < minMean {
		return 0
	}
	return float64(top) / mean
}

// ChildAnomalies are supervised children that run nowhere or in several
// places.
type ChildAnomalies struct {
	// Missing names child specs ("supervisor/child") with no running
	// instance.
	Missing []string `json:"missing,omitempty"`
	// Duplicated names children running on more than one node.
	Duplicated []string `json:"duplicated,omitempty"`
}

// ChildAnomalyFunc finds child anomalies across the cluster through a
// View; missing lists the nodes that did not answer. ViewChildAnomalies,
// over the supervisor's View.ChildAnomalies, is the default.
type ChildAnomalyFunc func(ctx context.Context, v *cluster.View) (ChildAnomalies, []cluster.NodeError, error)

// ViewChildAnomalies is the default ChildAnomalyFunc: the supervisor's
// View.ChildAnomalies, named "supervisor/child" (duplicates with the
// nodes they run on).
func ViewChildAnomalies(ctx context.Context, v *cluster.View) (ChildAnomalies, []cluster.NodeError, error) {
	missing, dups, nodes := v.ChildAnomalies(ctx)
	var out ChildAnomalies
	for _, ref := range missing {
		out.Missing = append(out.Missing, ref.Supervisor+"/"+ref.ID)
	}
	where := map[string][]string{}
	var order []string
	for _, c := range dups {
		k := c.Supervisor + "/" + c.ID
		if where[k] == nil {
			order = append(order, k)
		}
		where[k] = append(where[k], c.Node)
	}
	slices.Sort(order)
	for _, k := range order {
		nodes := where[k]
		slices.Sort(nodes)
		out.Duplicated = append(out.Duplicated, fmt.Sprintf("%s (%s)", k, strings.Join(slices.Compact(nodes), ", ")))
	}
	slices.Sort(out.Missing)
	return out, nodes, nil
}

// Distribution is where work runs across the cluster.
type Distribution struct {
	// Processes and Supervised count per node (workers and observers).
	Processes  map[string]int `json:"processes"`
	Supervised map[string]int `json:"supervised,omitempty"`
	// ProcessImbalance and SupervisorImbalance are Imbalance over the
	// worker nodes.
	ProcessImbalance    float64 `json:"process_imbalance"`
	SupervisorImbalance float64 `json:"supervisor_imbalance"`
	// Children are the supervisor anomalies (nil when not collected).
	Children *ChildAnomalies `json:"children,omitempty"`
	// RegistryConflicts are the registry conflicts settled within
	// RegistryConflictWindow.
	RegistryConflicts []cluster.RegistryConflict `json:"registry_conflicts,omitempty"`
	// Collected is when the cluster-wide part (children, registry) was
	// last collected; Missing names the nodes that did not answer it.
	Collected time.Time           `json:"collected,omitzero"`
	Missing   []cluster.NodeError `json:"missing,omitempty"`
	Error     string              `json:"error,omitempty"`
}

// RegistryConflictWindow is how long a settled registry conflict keeps
// its alert up.
const RegistryConflictWindow = 5 * time.Minute

// minMeanForImbalance keeps tiny clusters quiet.
const minMeanForImbalance = 2
