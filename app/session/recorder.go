package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator/scenario"
)

// Recorder turns what a developer does in a session (the operations run,
// the faults injected, with their timing) into a scenario file in the
// format of simulator/scenario, which `clusterlab scenario run` and
// `go test` replay. It is pure data: the app calls Record for every
// operation that succeeded and Stop with the final state it observes.
//
// The scenario starts a fresh simulator with the recorded seed and node
// count; each operation becomes a step (node_crash → crash, partition →
// partition, spawn → spawn with `as: VAR` so that later steps name the
// process, ...), the time between two operations becomes a `sleep` step
// (gaps below MinGap are dropped, longer ones are cut to MaxGap), and the
// final state becomes a `wait_until` (the cluster settles) followed by one
// `expect` per fact. What cannot be replayed (reads, operations on the
// observer, a pid the recording did not create) is left out and listed in
// the file's header comment and in Warnings.
//
// A Recorder is safe for concurrent use.
type Recorder struct {
	opts RecorderOptions

	mu        sync.Mutex
	recording bool
	started   bool
	seed      int64
	nodes     int
	nodeSeq   int
	known     map[string]bool
	steps     []recStep
	ops       int
	last      time.Time
	first     time.Time
	vars      map[string]string // recorded pid → variable name
	varNames  map[string]bool
	traceVars int
	traces    map[string]string // recorded trace id → variable name
	behaviors map[string]bool   // behaviours the recording started
	names     map[string]bool   // registry names the recording registered
	warnings  []string
	overflow  bool // MaxOperations was reached
}

// recStep is one step of the recording: the operation it came from ("" for
// a sleep) and the step as it is written.
type recStep struct {
	op string
	v  map[string]any
}

// RecorderOptions configures a Recorder. Zero fields take the default.
type RecorderOptions struct {
	// Name is the scenario's name (default "recorded-session").
	Name string
	// Description says what the session was about.
	Description string
	// Profile is the membership profile of the replay: sim (default),
	// local or lan, as in the session that was recorded.
	Profile string
	// MinGap: pauses between operations shorter than this are not
	// replayed (default 100ms).
	MinGap time.Duration
	// MaxGap caps each replayed pause (default 5s).
	MaxGap time.Duration
	// Settle bounds the final wait_until for the final state (default 15s).
	Settle time.Duration
	// MaxOperations bounds the operations recorded; later ones are
	// dropped with a warning (default 400, keeping the scenario under the
	// format's step limit).
	MaxOperations int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// FinalState is what the session looked like when the recording stopped;
// it becomes the scenario's expect steps.
type FinalState struct {
	// Converged says every running node saw exactly the running nodes
	// alive: the replay waits for the same.
	Converged bool
	// ProcessCounts are the running processes per behaviour. Only the
	// behaviours the recording started (spawn, start_child,
	// start_children, sandbox_create) are expected (a missing one: 0), as
	// the replay starts from a cluster without workloads: count only
	// processes the replay can reproduce (leave out demo workloads).
	ProcessCounts map[string]int
	// Registry are the registered names at the end. Those the recording
	// registered are expected to resolve to one live process everywhere.
	Registry []string
}

// Limits and defaults of the Recorder.
const (
	defaultMinGap        = 100 * time.Millisecond
	defaultMaxGap        = 5 * time.Second
	defaultSettle        = 15 * time.Second
	defaultMaxOperations = 400
	maxWarnings          = 100
	maxParamDepth        = 16
)

// ErrNotRecording is returned by Stop when Start was not called.
var ErrNotRecording = errors.New("session: the recorder is not recording")

// NewRecorder returns an idle Recorder.
func NewRecorder(opts RecorderOptions) *Recorder {
	if opts.Name == "" {
		opts.Name = "recorded-session"
	}
	if opts.Profile == "" {
		opts.Profile = "sim"
	}
	if opts.MinGap <= 0 {
		opts.MinGap = defaultMinGap
	}
	if opts.MaxGap <= 0 {
		opts.MaxGap = defaultMaxGap
	}
	if opts.MaxGap < opts.MinGap {
		opts.MaxGap = opts.MinGap
	}
	if opts.Settle <= 0 {
		opts.Settle = defaultSettle
	}
	if opts.MaxOperations <= 0 {
		opts.MaxOperations = defaultMaxOperations
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Recorder{opts: opts}
}

// Start begins a recording of a simulator session started with seed and
// nodes virtual nodes (node-1 .. node-N), discarding any earlier one.
func (r *Recorder) Start(seed int64, nodes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if nodes < 0 {
		nodes = 0
	}
	r.recording, r.started = true, true
	r.seed, r.nodes, r.nodeSeq = seed, nodes, 0
	r.known = map[string]bool{}
	r.steps, r.ops, r.last, r.first = nil, 0, time.Time{}, r.opts.Now()
	r.vars, r.varNames, r.traceVars = map[string]string{}, map[string]bool{}, 0
	r.traces = map[string]string{}
	r.behaviors, r.names, r.warnings, r.overflow = map[string]bool{}, map[string]bool{}, nil, false
	for range nodes {
		r.addNode()
	}
}

// Recording reports whether Start was called and Stop was not.
func (r *Recorder) Recording() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recording
}

// Warnings lists what the recording left out, and why.
func (r *Recorder) Warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.warnings)
}

// LeaveOut notes, while recording, that what (an operation, the final
// state) is not in the scenario and why; the note goes to Warnings and
// the file's header.
func (r *Recorder) LeaveOut(what, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recording {
		r.warn("%s not replayed: %s", what, why)
	}
}

// Record notes that operation op succeeded with params at time at. It is a
// no-op when the recorder is not recording. Operations that only read are
// ignored; params are read, never kept.
func (r *Recorder) Record(op string, params map[string]any, at time.Time) {
	r.RecordResult(op, params, nil, at)
}

// RecordResult is Record with the operation's result, which a spawn needs
// so that later steps can name the process it started: result is the pid
// (a string or cluster.PID) or an object with a "pid" field.
func (r *Recorder) RecordResult(op string, params map[string]any, result any, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.recording {
		return
	}
	if alias, ok := opAliases[op]; ok {
		op = alias
	}
	if readOnlyOps[op] {
		return
	}
	if r.ops >= r.opts.MaxOperations {
		if !r.overflow {
			r.overflow = true
			r.warn("%s and what followed: more than %d operations recorded; the rest are left out", op, r.opts.MaxOperations)
		}
		return
	}
	step, err := r.translate(op, normalize(params, 0), result)
	if err != nil {
		r.warn("%s not replayed: %v", op, err)
		return
	}
	if step == nil {
		return
	}
	r.ops++
	if !r.last.IsZero() && at.After(r.last) {
		gap := at.Sub(r.last)
		if gap >= r.opts.MinGap {
			gap = min(gap, r.opts.MaxGap).Round(time.Millisecond)
			r.steps = append(r.steps, recStep{v: map[string]any{"sleep": gap.String()}})
		}
	}
	if at.After(r.last) {
		r.last = at
	}
	r.steps = append(r.steps, recStep{op: op, v: step})
}

// Stop ends the recording and returns the scenario: the recorded steps,
// then a wait_until for the final state within Settle and an expect per
// fact of it. The header comment lists what was left out.
func (r *Recorder) Stop(final FinalState) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return nil, ErrNotRecording
	}
	r.recording = false

	conds := r.finalConditions(final)
	var tail []map[string]any
	switch len(conds) {
	case 0:
	case 1:
		tail = append(tail, map[string]any{"wait_until": map[string]any{"condition": conds[0], "within": r.opts.Settle.String()}})
	default:
		tail = append(tail, map[string]any{"wait_until": map[string]any{"condition": map[string]any{"all": conds}, "within": r.opts.Settle.String()}})
	}
	for _, c := range conds {
		tail = append(tail, map[string]any{"expect": map[string]any{"condition": c}})
	}
	// Check the scenario as the runner will; a recorded step it refuses
	// (a value the scenario format does not take, a variable set by a step
	// already left out) is left out too, with the reason, and the rest
	// checked again.
	for {
		if len(r.steps)+len(tail) == 0 {
			return nil, fmt.Errorf("%w: the recording has no operation to replay and no final state to expect", ErrInvalid)
		}
		steps := make([]map[string]any, 0, len(r.steps)+len(tail))
		for _, st := range r.steps {
			steps = append(steps, st.v)
		}
		steps = append(steps, tail...)
		out, err := r.render(steps)
		if err != nil {
			return nil, err
		}
		_, perr := scenario.Parse(out)
		if perr == nil {
			return out, nil
		}
		bad := badSteps(perr)
		drop := map[int]bool{}
		for i, msg := range bad {
			if i < 0 || i >= len(r.steps) {
				return nil, fmt.Errorf("session: the recorded scenario does not parse: %w", perr)
			}
			drop[i] = true
			r.warn("%s not replayed: %s", r.steps[i].op, msg)
		}
		if len(drop) == 0 {
			return nil, fmt.Errorf("session: the recorded scenario does not parse: %w", perr)
		}
		kept := r.steps[:0]
		for i, st := range r.steps {
			if drop[i] {
				if st.op != "" {
					r.ops--
				}
				continue
			}
			kept = append(kept, st)
		}
		r.steps = kept
	}
}

// badSteps maps the 0-based index of each step a parse error names to its
// message.
func badSteps(err error) map[int]string {
	out := map[int]string{}
	var walk func(error)
	walk = func(err error) {
		var pe *scenario.ParseError
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
			return
		}
		if errors.As(err, &pe) && pe.Step > 0 {
			out[pe.Step-1] = pe.Msg
		} else {
			out[-1] = err.Error()
		}
	}
	walk(err)
	return out
}

// finalConditions turns the final state into scenario conditions.
func (r *Recorder) finalConditions(final FinalState) []any {
	var conds []any
	if final.Converged {
		conds = append(conds, "converged")
	}
	behaviors := make([]string, 0, len(r.behaviors))
	for b := range r.behaviors {
		behaviors = append(behaviors, b)
	}
	sort.Strings(behaviors)
	for _, b := range behaviors {
		n := final.ProcessCounts[b]
		if n < 0 {
			n = 0
		}
		conds = append(conds, map[string]any{"process_count": yamlMap{{"behavior", b}, {"equals", n}}})
	}
	names := slices.Clone(final.Registry)
	sort.Strings(names)
	for _, name := range slices.Compact(names) {
		if r.names[name] {
			conds = append(conds, map[string]any{"registry": yamlMap{{"name", name}, {"resolves_everywhere", true}}})
		}
	}
	return conds
}

// render writes the scenario YAML with its header comment.
func (r *Recorder) render(steps []map[string]any) ([]byte, error) {
	doc := yamlMap{
		{"name", r.opts.Name},
	}
	if r.opts.Description != "" {
		doc = append(doc, yamlKV{"description", r.opts.Description})
	}
	doc = append(doc, yamlKV{"seed", r.seed}, yamlKV{"nodes", r.nodes}, yamlKV{"profile", r.opts.Profile})
	var node yaml.Node
	if err := node.Encode(doc); err != nil {
		return nil, fmt.Errorf("session: render scenario: %w", err)
	}
	stepsNode := &yaml.Node{Kind: yaml.SequenceNode}
	for _, st := range steps {
		var sn yaml.Node
		if err := sn.Encode(st); err != nil {
			return nil, fmt.Errorf("session: render scenario step: %w", err)
		}
		for _, v := range sn.Content[1:] {
			flowSmall(v)
		}
		stepsNode.Content = append(stepsNode.Content, &sn)
	}
	node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "steps"}, stepsNode)

	var b bytes.Buffer
	fmt.Fprintf(&b, "# Recorded by clusterlab on %s: %d operations.\n", r.first.UTC().Format(time.RFC3339), r.ops)
	b.WriteString("# Replay with: clusterlab scenario run FILE\n")
	for _, w := range r.warnings {
		b.WriteString("# left out: " + commentSafe(w) + "\n")
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return nil, fmt.Errorf("session: render scenario: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("session: render scenario: %w", err)
	}
	return b.Bytes(), nil
}

// flowSmall writes small collections of scalars in flow style
// ({node: node-1, behavior: echo}, [node-1, node-2]), as people write
// scenarios.
func flowSmall(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.ScalarNode:
		return len(n.Value) <= 60 && !strings.Contains(n.Value, "\n")
	case yaml.SequenceNode, yaml.MappingNode:
		all := true
		for _, c := range n.Content {
			if !flowSmall(c) {
				all = false
			}
		}
		if all && len(n.Content) <= 12 {
			n.Style = yaml.FlowStyle
			return true
		}
	}
	return false
}

// yamlMap is an ordered mapping for the encoder.
type yamlMap []yamlKV

type yamlKV struct {
	k string
	v any
}

// MarshalYAML implements yaml.Marshaler, keeping the order.
func (m yamlMap) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, kv := range m {
		var v yaml.Node
		if err := v.Encode(kv.v); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: kv.k}, &v)
	}
	return n, nil
}

// warn notes something left out (bounded).
func (r *Recorder) warn(format string, args ...any) {
	if len(r.warnings) < maxWarnings {
		r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
	}
}

// addNode records the next node the simulator will name.
func (r *Recorder) addNode() string {
	r.nodeSeq++
	name := "node-" + strconv.Itoa(r.nodeSeq)
	r.known[name] = true
	return name
}

// opAliases maps the names of the built-in operations to the names the
// translation below knows them by.
var opAliases = map[string]string{
	"registry_register":          "register",
	"registry_unregister":        "unregister",
	"supervisor_start":           "start_supervisor",
	"supervisor_stop":            "stop_supervisor",
	"supervisor_start_child":     "start_child",
	"supervisor_terminate_child": "terminate_child",
}

// readOnlyOps change nothing and are not replayed.
var readOnlyOps = map[string]bool{
	"registry_list": true, "registry_lookup": true, "supervisor_list": true, "supervisor_children": true,
	"supervisor_migrations": true, "supervisor_anomalies": true, "sandbox_list": true, "trace_list": true,
	"health_status": true, "alerts_list": true, "membership_timeline": true, "node_resources": true,
	"cluster_topology": true, "list_nodes": true, "node_info": true,
	"list_processes": true, "process_info": true,
	"whereis": true, "list_registry": true, "registry_conflicts": true, "registry": true,
	"list_supervisors": true, "list_children": true, "supervisor_info": true, "migrations": true, "child_anomalies": true,
	"list_sandboxes": true, "sandbox_info": true,
	"trace_get": true, "list_traces": true, "trace_events": true,
	"health": true, "health_report": true, "list_alerts": true, "timeline": true,
	"list_operations": true, "describe_operation": true,
}

// translate maps one operation to a scenario step; nil, nil for an
// operation that changes nothing the replay needs.
func (r *Recorder) translate(op string, p map[string]any, result any) (map[string]any, error) {
	switch op {
	case "node_crash", "node_restart", "node_stop":
		node, err := r.node(p, "node")
		if err != nil {
			return nil, err
		}
		return map[string]any{strings.TrimPrefix(op, "node_"): node}, nil

	case "node_start":
		if role := str(p, "role"); role != "" && role != cluster.RoleWorker {
			return nil, fmt.Errorf("a %s node hosts no workload; the replay has none", role)
		}
		name := r.addNode()
		if want := str(p, "name"); want != "" && want != name {
			r.warn("node_start named its node %q; the replay names it %s", want, name)
		}
		v := yamlMap{{"count", 1}}
		if tags := stringMap(p["tags"]); len(tags) > 0 {
			v = append(v, yamlKV{"tags", tags})
		}
		return map[string]any{"start_nodes": v}, nil

	case "partition":
		groups, err := r.groups(p["groups"])
		if err != nil {
			return nil, err
		}
		return map[string]any{"partition": groups}, nil

	case "heal":
		return map[string]any{"heal": map[string]any{}}, nil

	case "cut", "uncut":
		from, err := r.node(p, "from")
		if err != nil {
			return nil, err
		}
		to, err := r.node(p, "to")
		if err != nil {
			return nil, err
		}
		return map[string]any{op: yamlMap{{"from", from}, {"to", to}}}, nil

	case "link_latency":
		a, b, err := r.link(p)
		if err != nil {
			return nil, err
		}
		lat, err := durationParam(p, "latency", true)
		if err != nil {
			return nil, err
		}
		v := yamlMap{{"a", a}, {"b", b}, {"latency", lat}}
		if jit, err := durationParam(p, "jitter", false); err != nil {
			return nil, err
		} else if jit != "" {
			v = append(v, yamlKV{"jitter", jit})
		}
		return map[string]any{"latency": v}, nil

	case "link_loss":
		a, b, err := r.link(p)
		if err != nil {
			return nil, err
		}
		prob, ok := number(p["p"])
		if !ok || prob < 0 || prob > 1 {
			return nil, fmt.Errorf("p %v is not a probability", p["p"])
		}
		return map[string]any{"loss": yamlMap{{"a", a}, {"b", b}, {"p", prob}}}, nil

	case "spawn":
		return r.spawn(p, result)

	case "kill_process":
		pid, err := r.pidVar(p, "pid")
		if err != nil {
			return nil, err
		}
		v := yamlMap{{"pid", pid}}
		if reason := str(p, "reason"); reason != "" {
			v = append(v, yamlKV{"reason", reason})
		}
		return map[string]any{"kill": v}, nil

	case "send", "call":
		pid, err := r.pidVar(p, "pid")
		if err != nil {
			return nil, err
		}
		kind := str(p, "kind")
		if kind == "" {
			return nil, errors.New("no message kind")
		}
		v := yamlMap{{"to", pid}, {"kind", kind}}
		if body := str(p, "body"); body != "" {
			v = append(v, yamlKV{"body", body})
		}
		return map[string]any{"send": v}, nil

	case "register", "register_name":
		name := str(p, "name")
		if name == "" {
			return nil, errors.New("no name")
		}
		pid, err := r.pidVar(p, "pid")
		if err != nil {
			return nil, err
		}
		r.names[name] = true
		return map[string]any{"register": yamlMap{{"name", name}, {"pid", pid}}}, nil

	case "unregister", "unregister_name":
		name := str(p, "name")
		if name == "" {
			return nil, errors.New("no name")
		}
		delete(r.names, name)
		return map[string]any{"unregister": name}, nil

	case "start_supervisor":
		name := str(p, "name")
		if name == "" {
			return nil, errors.New("no supervisor name")
		}
		v := yamlMap{{"name", name}}
		v = appendIf(v, p, "max_restarts")
		if period, err := durationParam(p, "period", false); err != nil {
			return nil, err
		} else if period != "" {
			v = append(v, yamlKV{"period", period})
		}
		return map[string]any{"start_supervisor": v}, nil

	case "stop_supervisor":
		name := str(p, "name")
		if name == "" {
			return nil, errors.New("no supervisor name")
		}
		return map[string]any{"stop_supervisor": name}, nil

	case "start_child", "start_children":
		sup, beh := str(p, "supervisor"), str(p, "behavior")
		if sup == "" || beh == "" {
			return nil, errors.New("supervisor and behavior are required")
		}
		v := yamlMap{{"supervisor", sup}}
		if op == "start_child" {
			v = appendIf(v, p, "id")
		} else {
			v = appendIf(v, p, "count")
		}
		v = append(v, yamlKV{"behavior", beh})
		if op == "start_children" {
			v = appendIf(v, p, "prefix")
		}
		v = appendIf(v, p, "args", "restart")
		pl, err := r.placement(p)
		if err != nil {
			return nil, err
		}
		if len(pl) > 0 {
			v = append(v, yamlKV{"placement", pl})
		}
		if pid := resultPID(result); pid != "" && op == "start_child" {
			name := r.newVar(str(p, "id"))
			r.vars[pid] = name
			v = append(v, yamlKV{"as", name})
		}
		r.behaviors[beh] = true
		return map[string]any{op: v}, nil

	case "terminate_child":
		sup, id := str(p, "supervisor"), str(p, "id")
		if sup == "" || id == "" {
			return nil, errors.New("supervisor and id are required")
		}
		return map[string]any{"terminate_child": yamlMap{{"supervisor", sup}, {"id", id}}}, nil

	case "sandbox_create":
		name := str(p, "name")
		if name == "" {
			return nil, errors.New("no sandbox name")
		}
		v := yamlMap{{"name", name}}
		if nodes, ok := p["nodes"]; ok && nodes != nil {
			list, err := r.nodeList(nodes)
			if err != nil {
				return nil, fmt.Errorf("nodes: %w", err)
			}
			if len(list) > 0 {
				v = append(v, yamlKV{"nodes", list})
			}
		}
		v = appendIf(v, p, "spread")
		if raw, ok := p["children"].([]any); ok && len(raw) > 0 {
			var children []yamlMap
			for i, c := range raw {
				m, ok := c.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("children[%d] is not an object", i)
				}
				b := str(m, "behavior")
				if b == "" {
					return nil, fmt.Errorf("children[%d] has no behavior", i)
				}
				if node := str(m, "node"); node != "" && !r.known[node] {
					return nil, fmt.Errorf("children[%d] on %q: not a node of the replay", i, node)
				}
				r.behaviors[b] = true
				children = append(children, appendIf(yamlMap{{"behavior", b}}, m, "args", "name", "node", "count"))
			}
			v = append(v, yamlKV{"children", children})
		}
		v = appendIf(v, p, "on_node_loss")
		return map[string]any{"sandbox_create": v}, nil

	case "sandbox_spawn":
		box, beh := str(p, "sandbox"), str(p, "behavior")
		if box == "" || beh == "" {
			return nil, errors.New("sandbox and behavior are required")
		}
		v := yamlMap{{"sandbox", box}, {"behavior", beh}}
		v = appendIf(v, p, "args", "name")
		if _, given := p["node"]; given {
			node, err := r.node(p, "node")
			if err != nil {
				return nil, err
			}
			v = append(v, yamlKV{"node", node})
		}
		if pid := resultPID(result); pid != "" {
			name := r.newVar(str(p, "name"))
			r.vars[pid] = name
			v = append(v, yamlKV{"as", name})
		}
		r.behaviors[beh] = true
		return map[string]any{"sandbox_spawn": v}, nil

	case "sandbox_destroy":
		name := str(p, "name")
		if name == "" {
			return nil, errors.New("no sandbox name")
		}
		return map[string]any{"sandbox_destroy": name}, nil

	case "trace_start":
		pid, err := r.pidVar(p, "pid")
		if err != nil {
			return nil, err
		}
		v := yamlMap{{"pid", pid}}
		v = appendIf(v, p, "kinds")
		if d, err := durationParam(p, "duration", false); err != nil {
			return nil, err
		} else if d != "" {
			v = append(v, yamlKV{"duration", d})
		}
		v = appendIf(v, p, "max_events")
		if id := resultField(result, "id", "trace_id"); id != "" {
			r.traceVars++
			name := r.newVar("t" + strconv.Itoa(r.traceVars))
			r.traces[id] = name
			v = append(v, yamlKV{"as", name})
		}
		return map[string]any{"trace_start": v}, nil

	case "trace_stop":
		id := str(p, "id")
		if id == "" {
			id = str(p, "trace")
		}
		name, ok := r.traces[id]
		if !ok {
			return nil, fmt.Errorf("trace %q was not started during the recording", id)
		}
		return map[string]any{"trace_stop": "$" + name}, nil
	}
	return nil, errors.New("no scenario step does this")
}

// spawn maps the spawn operation; the variable that names the process in
// later steps comes from the result's pid.
func (r *Recorder) spawn(p map[string]any, result any) (map[string]any, error) {
	beh := str(p, "behavior")
	if beh == "" {
		return nil, errors.New("no behavior")
	}
	v := yamlMap{}
	if _, given := p["node"]; given {
		node, err := r.node(p, "node")
		if err != nil {
			return nil, err
		}
		v = append(v, yamlKV{"node", node})
	}
	v = append(v, yamlKV{"behavior", beh})
	name := str(p, "name")
	if name != "" {
		v = append(v, yamlKV{"name", name})
	}
	if args, ok := p["args"]; ok && args != nil {
		v = append(v, yamlKV{"args", args})
	}
	if labels := stringMap(p["labels"]); len(labels) > 0 {
		v = append(v, yamlKV{"labels", labels})
	}
	if b, _ := p["trap_exits"].(bool); b {
		r.warn("spawn %s: trap_exits is not part of the scenario format; the replayed process does not trap exits", beh)
	}
	if pid := resultPID(result); pid != "" {
		name := r.newVar(name)
		r.vars[pid] = name
		v = append(v, yamlKV{"as", name})
	}
	r.behaviors[beh] = true
	return map[string]any{"spawn": v}, nil
}

var varNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,30}$`)

// newVar picks a variable name: the process's name when it makes one, or
// p1, p2, ...
func (r *Recorder) newVar(hint string) string {
	if varNameRe.MatchString(hint) && !r.varNames[hint] {
		r.varNames[hint] = true
		return hint
	}
	for i := len(r.varNames) + 1; ; i++ {
		name := "p" + strconv.Itoa(i)
		if !r.varNames[name] {
			r.varNames[name] = true
			return name
		}
	}
}

// pidVar returns "$var" for the pid in p[key], which the recording must
// have spawned.
func (r *Recorder) pidVar(p map[string]any, key string) (string, error) {
	pid := pidString(p[key])
	if pid == "" {
		return "", fmt.Errorf("no %s", key)
	}
	v, ok := r.vars[pid]
	if !ok {
		return "", fmt.Errorf("%s was not started during the recording, so the replay cannot name it", pid)
	}
	return "$" + v, nil
}

// node returns p[key], which must be a node of the replay.
func (r *Recorder) node(p map[string]any, key string) (string, error) {
	name := str(p, key)
	if name == "" {
		return "", fmt.Errorf("no %s", key)
	}
	if !r.known[name] {
		return "", fmt.Errorf("%s %q is not a node of the replay (node-1 .. node-%d)", key, name, r.nodeSeq)
	}
	return name, nil
}

func (r *Recorder) link(p map[string]any) (string, string, error) {
	a, err := r.node(p, "a")
	if err != nil {
		return "", "", err
	}
	b, err := r.node(p, "b")
	if err != nil {
		return "", "", err
	}
	return a, b, nil
}

// nodeList reads a list of node names (a list or a comma-separated string).
func (r *Recorder) nodeList(v any) ([]string, error) {
	var names []string
	switch x := v.(type) {
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				names = append(names, s)
			}
		}
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%v is not a node name", e)
			}
			names = append(names, s)
		}
	default:
		return nil, fmt.Errorf("want a list of node names, got %T", v)
	}
	for _, n := range names {
		if !r.known[n] {
			return nil, fmt.Errorf("%q is not a node of the replay", n)
		}
	}
	return names, nil
}

// groups reads partition groups: a list of lists, or the CLI's
// "a,b;c,d" string.
func (r *Recorder) groups(v any) ([][]string, error) {
	var out [][]string
	switch x := v.(type) {
	case string:
		for _, g := range strings.Split(x, ";") {
			list, err := r.nodeList(g)
			if err != nil {
				return nil, err
			}
			if len(list) > 0 {
				out = append(out, list)
			}
		}
	case []any:
		for _, g := range x {
			list, err := r.nodeList(g)
			if err != nil {
				return nil, err
			}
			if len(list) > 0 {
				out = append(out, list)
			}
		}
	default:
		return nil, fmt.Errorf("groups: want a list of lists of node names, got %T", v)
	}
	if len(out) == 0 {
		return nil, errors.New("groups: none given")
	}
	return out, nil
}

// placement reads start_child's placement, nested or flattened.
func (r *Recorder) placement(p map[string]any) (yamlMap, error) {
	src := p
	if m, ok := p["placement"].(map[string]any); ok {
		src = m
	}
	var out yamlMap
	if s := str(src, "strategy"); s != "" {
		out = append(out, yamlKV{"strategy", s})
	}
	if n := str(src, "node"); n != "" {
		if !r.known[n] {
			return nil, fmt.Errorf("placement node %q is not a node of the replay", n)
		}
		out = append(out, yamlKV{"node", n})
	}
	if tags := stringMap(src["tags"]); len(tags) > 0 {
		out = append(out, yamlKV{"tags", tags})
	}
	return out, nil
}

// appendIf appends the keys of p that are set, in order.
func appendIf(v yamlMap, p map[string]any, keys ...string) yamlMap {
	for _, k := range keys {
		if x, ok := p[k]; ok && x != nil && x != "" {
			v = append(v, yamlKV{k, x})
		}
	}
	return v
}

// normalize copies recorded params into plain YAML-friendly values:
// json.Number becomes int64 or float64, durations and PIDs (any
// fmt.Stringer) their text, typed slices and maps []any and
// map[string]any; depth is bounded.
func normalize(p map[string]any, depth int) map[string]any {
	out := make(map[string]any, len(p))
	for k, v := range p {
		out[k] = normalizeValue(v, depth+1)
	}
	return out
}

func normalizeValue(v any, depth int) any {
	if depth > maxParamDepth {
		return nil
	}
	switch x := v.(type) {
	case nil, bool, string, int, int64, int32, uint32, uint64, float32:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil && !math.IsInf(f, 0) {
			return f
		}
		return x.String()
	case time.Duration:
		return x.String()
	case fmt.Stringer:
		return x.String()
	case map[string]any:
		return normalize(x, depth)
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeValue(e, depth+1)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case [][]string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeValue(e, depth+1)
		}
		return out
	case json.RawMessage:
		var d any
		dec := json.NewDecoder(bytes.NewReader(x))
		dec.UseNumber()
		if dec.Decode(&d) != nil {
			return nil
		}
		return normalizeValue(d, depth+1)
	}
	// Anything else: through JSON, so that the YAML holds plain data.
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return normalizeValue(json.RawMessage(b), depth+1)
}

func str(p map[string]any, key string) string {
	s, _ := p[key].(string)
	return strings.TrimSpace(s)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// durationParam reads a duration param (a string like 50ms after
// normalize); "" when absent and not required.
func durationParam(p map[string]any, key string, required bool) (string, error) {
	s := str(p, key)
	if s == "" {
		if required {
			return "", fmt.Errorf("no %s", key)
		}
		return "", nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return "", fmt.Errorf("%s %q is not a duration", key, s)
	}
	return d.String(), nil
}

func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		if s, ok := e.(string); ok {
			out[k] = s
		}
	}
	return out
}

// pidString returns v as a valid pid text, "" if it is not one.
func pidString(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case fmt.Stringer:
		s = x.String()
	default:
		return ""
	}
	pid, err := cluster.ParsePID(s)
	if err != nil {
		return ""
	}
	return pid.String()
}

// resultPID finds the pid in an operation's result.
func resultPID(result any) string {
	switch x := result.(type) {
	case nil:
		return ""
	case string, fmt.Stringer:
		if pid := pidString(x); pid != "" {
			return pid
		}
	case map[string]any:
		return pidString(normalizeValue(x["pid"], 0))
	}
	var m map[string]any
	b, err := json.Marshal(result)
	if err != nil || json.Unmarshal(b, &m) != nil {
		return ""
	}
	return pidString(m["pid"])
}

// resultField returns the first of keys that is a non-empty string field
// of an operation's result object.
func resultField(result any, keys ...string) string {
	var m map[string]any
	switch x := result.(type) {
	case nil:
		return ""
	case map[string]any:
		m = x
	default:
		b, err := json.Marshal(result)
		if err != nil || json.Unmarshal(b, &m) != nil {
			return ""
		}
	}
	for _, k := range keys {
		switch v := normalizeValue(m[k], 0).(type) {
		case string:
			if v != "" {
				return v
			}
		case int64, float64:
			return fmt.Sprint(v)
		}
	}
	return ""
}

// commentSafe makes text fit on one YAML comment line: valid UTF-8, no
// control or unprintable characters.
func commentSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}
