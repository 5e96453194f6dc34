package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

// RunOptions tunes Run. The zero value is ready to use.
type RunOptions struct {
	// Out receives the progress: a header with the seed, one line per step
	// with its timing and result, what was expected and seen on a failure,
	// and the seed with the replay command at the end. Nil discards it.
	Out io.Writer
	// Setup runs on every node before it starts (each restart too), to
	// register behaviours; default workload.Register.
	Setup func(*cluster.Node) error
	// Seed, when not 0, replaces the scenario's seed (to try the scenario
	// under other interleavings); the replay line then names it.
	Seed int64
	// Logger receives the nodes' logs; default discards them.
	Logger *slog.Logger
	// StartTimeout bounds starting the initial nodes until they all see
	// each other; default 30 s.
	StartTimeout time.Duration
}

const (
	// defaultStartTimeout bounds the setup.
	defaultStartTimeout = 30 * time.Second
	// stepTimeout bounds a step that does not wait on purpose (spawn,
	// kill, start_child ...), on top of its own waiting time.
	stepTimeout = 30 * time.Second
	// closeTimeout bounds shutting the simulator down after the run.
	closeTimeout = 15 * time.Second
)

// waiter is an action that waits on purpose (sleep, wait_until): the
// runner gives it that long on top of stepTimeout.
type waiter interface{ waits() time.Duration }

// failure is a condition that did not hold: the report shows both sides.
type failure struct {
	expected string
	seen     string
}

func (f *failure) Error() string { return "expected " + f.expected + "; seen " + f.seen }

// runner is the state of one run: the simulator and the variables the
// steps set. Steps run one at a time on the caller's goroutine.
type runner struct {
	sc     *Scenario
	sim    *simulator.Simulator
	pids   map[string]cluster.PID
	traces map[string]traceVar
	// children remembers the child ids started per supervisor, so that a
	// condition can say which are missing.
	children map[string][]string
}

// traceVar is a trace started by trace_start: its id and the node that
// asked for it (where the events are collected).
type traceVar struct {
	id   string
	node string
}

// Run runs sc on a fresh simulated cluster and reports each step. It
// returns an error only when the run could not be carried out (a nil or
// unparsed scenario, the context ending); a step that fails makes
// Report.Passed false, and the report says which step, what was expected
// and what was seen. The simulator is shut down before Run returns.
func Run(ctx context.Context, sc *Scenario, opts RunOptions) (*Report, error) {
	if sc == nil {
		return nil, errors.New("scenario: run: nil scenario")
	}
	for i, st := range sc.Steps {
		if st.act == nil {
			return nil, fmt.Errorf("scenario: run: step %d (%s) was not parsed: build scenarios with Parse or Load", i+1, st.Kind)
		}
	}
	seed := sc.Seed
	if opts.Seed != 0 {
		seed = opts.Seed
	}
	setup := opts.Setup
	if setup == nil {
		setup = workload.Register
	}
	startTimeout := opts.StartTimeout
	if startTimeout <= 0 {
		startTimeout = defaultStartTimeout
	}
	rep := &Report{Name: sc.Name, Path: sc.Path, Seed: seed, seedFlag: opts.Seed != 0 && opts.Seed != sc.Seed}
	p := newPrinter(opts.Out, len(sc.Steps))
	p.header(sc, seed)
	began := time.Now()

	sim, err := simulator.New(simulator.Config{Nodes: sc.Nodes, Seed: seed, Profile: sc.Profile, Setup: setup, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("scenario: run %s: %w", sc.Name, err)
	}
	r := &runner{sc: sc, sim: sim, pids: map[string]cluster.PID{}, traces: map[string]traceVar{}, children: map[string][]string{}}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = sim.Close(cctx)
	}()

	setupRes := r.step(ctx, p, 0, "setup", fmt.Sprintf("start %d nodes", sc.Nodes), 0, startTimeout, func(ctx context.Context) (string, error) {
		return r.startNodes(ctx, sc.Nodes, nil, true)
	})
	rep.Steps = append(rep.Steps, setupRes)
	if setupRes.OK {
		for i, st := range sc.Steps {
			limit := stepTimeout
			if w, ok := st.act.(waiter); ok {
				limit += w.waits()
			}
			res := r.step(ctx, p, i+1, st.Kind, st.String(), st.Line, limit, func(ctx context.Context) (string, error) {
				return st.act.run(ctx, r)
			})
			rep.Steps = append(rep.Steps, res)
			if !res.OK {
				break
			}
		}
	}
	rep.Passed = rep.Failed() == nil
	rep.Duration = time.Since(began)
	p.footer(rep)
	if err := ctx.Err(); err != nil && !rep.Passed {
		return rep, fmt.Errorf("scenario: run %s: %w", sc.Name, err)
	}
	return rep, nil
}

// step runs one step under a deadline, turning panics into failures.
func (r *runner) step(ctx context.Context, p *printer, index int, kind, summary string, line int, limit time.Duration, fn func(context.Context) (string, error)) (res StepResult) {
	res = StepResult{Index: index, Kind: kind, Summary: summary, Line: line}
	p.start(index, summary)
	began := time.Now()
	defer func() {
		if v := recover(); v != nil {
			res.OK = false
			res.Error = fmt.Sprintf("panic: %v\n%s", v, debug.Stack())
		}
		res.Duration = time.Since(began)
		p.result(res)
	}()
	if err := ctx.Err(); err != nil {
		res.Error = fmt.Sprintf("not run: %v", err)
		return res
	}
	sctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	note, err := fn(sctx)
	if err == nil {
		res.OK, res.Note = true, note
		return res
	}
	var f *failure
	if errors.As(err, &f) {
		res.Expected, res.Seen = f.expected, f.seen
	} else {
		res.Error = err.Error()
	}
	return res
}

// startNodes adds count worker nodes (named by the simulator: node-N in
// order) and, when wait is set, waits until every running node sees every
// other.
func (r *runner) startNodes(ctx context.Context, count int, tags map[string]string, wait bool) (string, error) {
	var names []string
	for range count {
		n, err := r.sim.AddNode(ctx, "", cluster.RoleWorker, tags)
		if err != nil {
			return "", fmt.Errorf("start node: %w", err)
		}
		names = append(names, n.Name())
	}
	if wait && len(names) > 0 {
		if err := r.sim.WaitConverged(ctx); err != nil {
			return "", &failure{expected: "the nodes to see each other", seen: convergedSeen(r)}
		}
	}
	return strings.Join(names, ", "), nil
}

// running returns the running node name, or says what state it is in.
func (r *runner) running(name string) (*cluster.Node, error) {
	if n := r.sim.Node(name); n != nil {
		return n, nil
	}
	for _, st := range r.sim.Nodes() {
		if st.Name == name {
			return nil, fmt.Errorf("node %s is %s", name, st.State)
		}
	}
	return nil, fmt.Errorf("node %s does not exist", name)
}

// observers returns the nodes whose view a condition checks: the named
// one, or every running node when name is empty.
func (r *runner) observers(name string) ([]*cluster.Node, error) {
	if name != "" {
		n, err := r.running(name)
		if err != nil {
			return nil, err
		}
		return []*cluster.Node{n}, nil
	}
	nodes := r.sim.Running()
	if len(nodes) == 0 {
		return nil, errors.New("no node is running")
	}
	return nodes, nil
}

// via picks the node a step works through: the named one, else the first
// running node among prefer, else the first running node.
func (r *runner) via(name string, prefer ...string) (*cluster.Node, error) {
	if name != "" {
		return r.running(name)
	}
	for _, p := range prefer {
		if n := r.sim.Node(p); n != nil {
			return n, nil
		}
	}
	running := r.sim.Running()
	if len(running) == 0 {
		return nil, errors.New("no node is running")
	}
	return running[0], nil
}

// pid resolves a PID reference.
func (r *runner) pid(ref pidRef) (cluster.PID, error) {
	s := string(ref)
	if name, ok := strings.CutPrefix(s, "$"); ok {
		pid, ok := r.pids[name]
		if !ok {
			return cluster.PID{}, fmt.Errorf("variable $%s is not set (the step that sets it did not run)", name)
		}
		return pid, nil
	}
	return cluster.ParsePID(s)
}

// setVar records the PID a step produced under its "as" name.
func (r *runner) setVar(as string, pid cluster.PID) {
	if as != "" {
		r.pids[strings.TrimPrefix(as, "$")] = pid
	}
}

// refName prints a reference with what it resolves to, for messages.
func (r *runner) refName(ref pidRef) string {
	if pid, err := r.pid(ref); err == nil && strings.HasPrefix(string(ref), "$") {
		return fmt.Sprintf("%s (%s)", ref, pid)
	}
	return string(ref)
}
