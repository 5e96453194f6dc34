package builtin

import (
	"context"
	"slices"
	"sync"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
)

// NodeSummary is one node as listings show it: the member as the observer
// sees it, its process count when asked for, and its simulator state.
type NodeSummary struct {
	cluster.Member
	// Processes counts the node's processes; absent when not asked for or
	// when the node did not answer.
	Processes *int `json:"processes,omitempty"`
	// SimState is the simulator's state of a virtual node: running,
	// crashed or stopped. Absent on a real cluster.
	SimState string `json:"sim_state,omitempty"`
}

// Link is the view one node has of another.
type Link struct {
	From string `json:"from"`
	To   string `json:"to"`
	// SeesAlive says whether From's membership has To alive (or suspect).
	SeesAlive bool `json:"sees_alive"`
	// Reachable is the simulated network's truth: whether a packet from
	// From would reach To now. Absent on a real cluster.
	Reachable *bool `json:"reachable,omitempty"`
}

// Topology is the cluster as a graph: nodes and who sees whom.
type Topology struct {
	Observer  string        `json:"observer"`
	Simulated bool          `json:"simulated"`
	Seed      int64         `json:"seed,omitempty"`
	Nodes     []NodeSummary `json:"nodes"`
	Links     []Link        `json:"links"`
	// LinksComplete is false when only unhealthy links are listed (large
	// clusters) or when links are known from the observer only (a real
	// cluster).
	LinksComplete bool `json:"links_complete"`
	// Missing names the nodes whose process count is unknown, and why.
	Missing []cluster.NodeError `json:"missing,omitempty"`
}

// maxFullLinks is the node count up to which every link is listed.
const maxFullLinks = 50

// nodeSummaries lists the members merged with the simulator's nodes.
func nodeSummaries(env *operations.Env) []NodeSummary {
	members := env.Node.Members()
	out := make([]NodeSummary, 0, len(members))
	index := map[string]int{}
	for _, m := range members {
		index[m.Name] = len(out)
		out = append(out, NodeSummary{Member: m})
	}
	if env.Sim != nil {
		for _, sn := range env.Sim.Nodes() {
			i, ok := index[sn.Name]
			if !ok {
				index[sn.Name] = len(out)
				out = append(out, NodeSummary{Member: cluster.Member{Name: sn.Name, Role: sn.Role, State: cluster.StateUnknown}})
				i = len(out) - 1
			}
			out[i].SimState = sn.State
		}
	}
	slices.SortFunc(out, func(a, b NodeSummary) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// processCounts asks every live node for its process count, concurrently.
func processCounts(ctx context.Context, env *operations.Env, nodes []NodeSummary) []cluster.NodeError {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		missing []cluster.NodeError
	)
	for i := range nodes {
		st := nodes[i].State
		if st != cluster.StateAlive && st != cluster.StateSuspect {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			page, err := env.View.Processes(ctx, cluster.ProcessQuery{Nodes: []string{nodes[i].Name}, Limit: 1})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				missing = append(missing, cluster.NodeError{Node: nodes[i].Name, Code: cluster.ErrorCode(err), Message: err.Error()})
			case len(page.Missing) > 0:
				missing = append(missing, page.Missing...)
			default:
				n := page.Total
				nodes[i].Processes = &n
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(missing, func(a, b cluster.NodeError) int {
		if a.Node < b.Node {
			return -1
		}
		if a.Node > b.Node {
			return 1
		}
		return 0
	})
	return missing
}

func topology(ctx context.Context, env *operations.Env, _ operations.Params) (any, error) {
	nodes := nodeSummaries(env)
	t := Topology{Observer: env.Node.Name(), Simulated: env.Sim != nil, Nodes: nodes, Links: []Link{}}
	t.Missing = processCounts(ctx, env, nodes)
	if env.Sim != nil {
		t.Seed = env.Sim.Seed()
		full := len(nodes) <= maxFullLinks
		t.LinksComplete = full
		for _, from := range nodes {
			alive, running := env.Sim.SeesAlive(from.Name)
			if !running {
				continue
			}
			for _, to := range nodes {
				if to.Name == from.Name {
					continue
				}
				reach := env.Sim.Reachable(from.Name, to.Name)
				l := Link{From: from.Name, To: to.Name, SeesAlive: slices.Contains(alive, to.Name), Reachable: &reach}
				if full || !l.SeesAlive || !reach {
					t.Links = append(t.Links, l)
				}
			}
		}
		return t, nil
	}
	// A real cluster: only the observer's own view is known here.
	alive := env.Node.AliveMembers()
	for _, to := range nodes {
		if to.Name == t.Observer {
			continue
		}
		t.Links = append(t.Links, Link{From: t.Observer, To: to.Name, SeesAlive: slices.Contains(alive, to.Name)})
	}
	return t, nil
}

func listNodes(_ context.Context, env *operations.Env, p operations.Params) (any, error) {
	nodes := nodeSummaries(env)
	role, state := p.String("role"), p.String("state")
	out := nodes[:0]
	for _, n := range nodes {
		if (role == "" || n.Role == role) && (state == "" || n.State == state) {
			out = append(out, n)
		}
	}
	return map[string]any{"nodes": out, "observer": env.Node.Name(), "simulated": env.Sim != nil}, nil
}

// NodeDetail is what node_info returns.
type NodeDetail struct {
	NodeSummary
	// Behaviors counts the node's processes by behaviour.
	Behaviors map[string]int `json:"behaviors"`
	// Registered lists the cluster-wide names held by the node's processes.
	Registered []cluster.RegistryEntry `json:"registered"`
}

func nodeInfo(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	name := p.String("node")
	var d NodeDetail
	for _, n := range nodeSummaries(env) {
		if n.Name == name {
			d.NodeSummary = n
		}
	}
	page, err := env.View.Processes(ctx, cluster.ProcessQuery{Nodes: []string{name}, Limit: cluster.MaxPageSize})
	if err != nil {
		return nil, err
	}
	if len(page.Missing) > 0 {
		return nil, nodeUnreachable(page.Missing[0])
	}
	total := page.Total
	d.Processes = &total
	d.Behaviors = map[string]int{}
	for _, pi := range page.Processes {
		d.Behaviors[pi.Behavior]++
	}
	d.Registered = []cluster.RegistryEntry{}
	for _, e := range env.Node.RegistryEntries() {
		if e.Node == name {
			d.Registered = append(d.Registered, e)
		}
	}
	return d, nil
}

func init() {
	operations.Register(operations.Define(operations.Spec{
		Name:     "cluster_topology",
		Category: CategoryCluster,
		Summary:  "Show the cluster as a graph: nodes with state, role, tags and process counts, and who sees whom",
		Description: "Lists every member as the observer sees it with its process count (asked of each live node), " +
			"and the links between nodes: on the simulator, each running node's own view of the others and whether the network delivers between them; " +
			"on a real cluster, the observer's view.",
		Params: []operations.Param{},
		Result: "{observer, simulated, seed, nodes: [{name, state, role, tags, processes, sim_state, ...}], links: [{from, to, sees_alive, reachable}], links_complete, missing}",
	}, topology))
	operations.Register(operations.Define(operations.Spec{
		Name:     "list_nodes",
		Category: CategoryCluster,
		Summary:  "List the members of the cluster with their state, role and tags",
		Params: []operations.Param{
			{Name: "role", Type: operations.TypeEnum, Enum: []string{cluster.RoleWorker, cluster.RoleObserver}, Description: "keep nodes with this role"},
			{Name: "state", Type: operations.TypeEnum, Enum: []string{cluster.StateAlive, cluster.StateSuspect, cluster.StateDead, cluster.StateLeft, cluster.StateUnknown}, Description: "keep nodes in this membership state"},
		},
		Result: "{observer, simulated, nodes: [{name, addr, role, tags, version, state, since, sim_state}]}",
	}, listNodes))
	operations.Register(operations.Define(operations.Spec{
		Name:     "node_info",
		Category: CategoryCluster,
		Summary:  "Show one node: membership, process count, processes by behaviour and registered names",
		Params: []operations.Param{
			{Name: "node", Type: operations.TypeNode, Required: true, Description: "the node"},
		},
		Result: "{name, state, role, tags, processes, behaviors: {behaviour: count}, registered: [{name, pid}]}",
	}, nodeInfo))
}
