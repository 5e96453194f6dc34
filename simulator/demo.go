package simulator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

// StartDemo spawns the demo workloads on every running worker node: two
// echoes, a counter, a ticker, a light cpu-burner and a pinger that pings
// an echo on the next node, so that every view has something live to show.
func (s *Simulator) StartDemo(ctx context.Context) error {
	nodes := s.Running()
	var workers []*cluster.Node
	for _, n := range nodes {
		if n.Role() == cluster.RoleWorker {
			workers = append(workers, n)
		}
	}
	echoes := make([]cluster.PID, len(workers))
	for i, n := range workers {
		for j, spec := range []struct {
			behavior string
			name     string
			args     any
		}{
			{workload.Echo, fmt.Sprintf("echo-%d", i+1), nil},
			{workload.Echo, "", nil},
			{workload.Counter, fmt.Sprintf("counter-%d", i+1), nil},
			{workload.Ticker, "", map[string]string{"interval": "1s"}},
			{workload.CPUBurner, "", map[string]string{"interval": "200ms", "burn": "2ms"}},
		} {
			var args []byte
			if spec.args != nil {
				args, _ = json.Marshal(spec.args)
			}
			pid, err := n.Spawn(ctx, n.Name(), spec.behavior, cluster.SpawnOptions{Name: spec.name, Args: args, Labels: map[string]string{"demo": "true"}})
			if err != nil {
				return fmt.Errorf("simulator: demo on %s: %w", n.Name(), err)
			}
			if j == 0 {
				echoes[i] = pid
			}
		}
	}
	for i, n := range workers {
		target := echoes[(i+1)%len(workers)]
		args, _ := json.Marshal(map[string]string{"target": target.String(), "interval": "1s", "timeout": "300ms"})
		if _, err := n.Spawn(ctx, n.Name(), workload.Pinger, cluster.SpawnOptions{Name: fmt.Sprintf("pinger-%d", i+1), Args: args, Labels: map[string]string{"demo": "true"}}); err != nil {
			return fmt.Errorf("simulator: demo pinger on %s: %w", n.Name(), err)
		}
	}
	return nil
}

// WriteSummary writes a table of the virtual nodes: state, how many members
// each sees alive, and its processes by behaviour.
func (s *Simulator) WriteSummary(w io.Writer, started time.Time) error {
	statuses := s.Nodes()
	fmt.Fprintf(w, "clusterlab simulator [SIMULATED] seed %d, %d nodes, up %s\n",
		s.Seed(), len(statuses), time.Since(started).Round(time.Second))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tSTATE\tSEES ALIVE\tPROCESSES\tBEHAVIOURS")
	total := 0
	for _, st := range statuses {
		n := s.Node(st.Name)
		if n == nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\n", st.Name, st.Role, st.State)
			continue
		}
		procs := n.LocalProcesses()
		total += len(procs)
		byBehavior := map[string]int{}
		for _, p := range procs {
			byBehavior[p.Behavior]++
		}
		names := make([]string, 0, len(byBehavior))
		for b, c := range byBehavior {
			names = append(names, fmt.Sprintf("%s:%d", b, c))
		}
		sort.Strings(names)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%s\n", st.Name, st.Role, st.State,
			len(n.AliveMembers()), len(n.Members()), len(procs), strings.Join(names, " "))
	}
	fmt.Fprintf(tw, "TOTAL\t\t\t\t%d\t\n", total)
	return tw.Flush()
}
