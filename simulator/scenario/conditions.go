package scenario

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clusterlab/clusterlab/cluster"
)

// Conditions are what wait_until and expect evaluate. Each is small, reads
// the nodes directly (the runner sees every virtual node, so a check needs
// no network round trip and cannot be fooled by a partition), and says what
// it saw so that a failure can be read without a debugger. all, any and
// not compose them.

// condition is one check over the running cluster.
type condition interface {
	// String is the short form printed in the step line.
	String() string
	// expected says in words what must hold.
	expected() string
	// validate checks names and variables before anything runs.
	validate(v *validator) error
	// check evaluates the condition once; seen describes what the cluster
	// looked like, whether or not it held.
	check(ctx context.Context, r *runner) (ok bool, seen string)
}

type condKind struct {
	usage string
	parse func(n *yaml.Node, depth int) (condition, error)
}

var condKinds = map[string]condKind{}

// maxCondDepth bounds nesting of all/any/not.
const maxCondDepth = 16

func defineCondition(name, usage string, parse func(n *yaml.Node, depth int) (condition, error)) {
	if _, dup := condKinds[name]; dup {
		panic("scenario: condition " + name + " defined twice")
	}
	condKinds[name] = condKind{usage: usage, parse: parse}
}

// ConditionKinds returns the conditions wait_until and expect understand,
// with a one-line usage each: for help texts.
func ConditionKinds() map[string]string {
	out := make(map[string]string, len(condKinds))
	for k, v := range condKinds {
		out[k] = v.usage
	}
	return out
}

// parseCondition reads a condition: a bare name (`converged`) or a map
// with one key (`{process_alive: $e1}`).
func parseCondition(n *yaml.Node, depth int) (condition, error) {
	n = resolveAlias(n)
	if depth > maxCondDepth {
		return nil, errAt(n, "conditions nested more than %d deep", maxCondDepth)
	}
	var name string
	var val *yaml.Node
	switch {
	case isNull(n):
		return nil, errAt(n, "a condition is required (known: %s)", strings.Join(sortedKeys(condKinds), ", "))
	case n.Kind == yaml.ScalarNode:
		name = n.Value
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		name, val = n.Content[0].Value, resolveAlias(n.Content[1])
	default:
		return nil, errAt(n, "a condition is a name like `converged` or a map with one key like `{process_alive: $e1}`; got %s", describeNode(n))
	}
	kind, ok := condKinds[name]
	if !ok {
		return nil, errAt(n, "unknown condition %q (known: %s)", name, strings.Join(sortedKeys(condKinds), ", "))
	}
	if val == nil {
		val = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
	}
	c, err := kind.parse(val, depth)
	if err != nil {
		return nil, fmt.Errorf("%w (usage: %s)", err, kind.usage)
	}
	return c, nil
}

// condStruct parses a condition whose value is a mapping decoded into T.
func condStruct[T any, P interface {
	*T
	condition
}](what string) func(*yaml.Node, int) (condition, error) {
	return func(n *yaml.Node, _ int) (condition, error) {
		if isNull(n) {
			return nil, errAt(n, "%s: its fields are required", what)
		}
		var c T
		if err := decodeStrict(n, &c, what); err != nil {
			return nil, err
		}
		return P(&c), nil
	}
}

// condRef parses a condition whose value is one PID reference.
func condRef(what string, mk func(pidRef) condition) func(*yaml.Node, int) (condition, error) {
	return func(n *yaml.Node, _ int) (condition, error) {
		s, err := scalarString(n, what)
		if err != nil {
			return nil, err
		}
		return mk(pidRef(s)), nil
	}
}

func init() {
	defineCondition("converged", "converged", func(n *yaml.Node, _ int) (condition, error) {
		if !isNull(n) && !(n.Kind == yaml.MappingNode && len(n.Content) == 0) {
			return nil, errAt(n, "converged takes no arguments")
		}
		return convergedCond{}, nil
	})
	defineCondition("alive", "alive: {node: NODE, sees: N}", condStruct[aliveCond]("alive"))
	defineCondition("member_state", "member_state: {observer: NODE, node: NODE, state: alive|suspect|dead|left}", condStruct[memberStateCond]("member_state"))
	defineCondition("process_count", "process_count: {behavior: B, node: NODE, label: k=v, equals: N | at_least: N | at_most: N}", condStruct[processCountCond]("process_count"))
	defineCondition("process_alive", "process_alive: $pid", condRef("process_alive", func(p pidRef) condition { return processAliveCond{ref: p, alive: true} }))
	defineCondition("process_gone", "process_gone: $pid", condRef("process_gone", func(p pidRef) condition { return processAliveCond{ref: p} }))
	defineCondition("registry", "registry: {name: NAME, resolves_everywhere: true, pid: $pid}", condStruct[registryCond]("registry"))
	defineCondition("registry_conflicts", "registry_conflicts: {name: NAME, at_least: N}", condStruct[registryConflictsCond]("registry_conflicts"))
	defineCondition("children_exactly_once", "children_exactly_once: {supervisor: SUP, count: N}", condStruct[childrenOnceCond]("children_exactly_once"))
	defineCondition("supervisor", "supervisor: {name: SUP, children: N, failed: false, observer: NODE}", condStruct[supervisorCond]("supervisor"))
	defineCondition("sandbox", "sandbox: {name: S, state: active|degraded|destroyed, lost_node: NODE, observer: NODE}", condStruct[sandboxCond]("sandbox"))
	defineCondition("sandbox_empty", "sandbox_empty: S", func(n *yaml.Node, _ int) (condition, error) {
		s, err := scalarString(n, "sandbox_empty")
		if err != nil {
			return nil, err
		}
		return sandboxEmptyCond{name: s}, nil
	})
	defineCondition("trace_events_in_order", "trace_events_in_order: {trace: $trace, at_least: N, kind: send|receive|spawn|exit}", condStruct[traceOrderCond]("trace_events_in_order"))
	defineCondition("all", "all: [CONDITION, ...]", parseList(func(cs []condition) condition { return allCond(cs) }))
	defineCondition("any", "any: [CONDITION, ...]", parseList(func(cs []condition) condition { return anyCond(cs) }))
	defineCondition("not", "not: CONDITION", func(n *yaml.Node, depth int) (condition, error) {
		c, err := parseCondition(n, depth+1)
		if err != nil {
			return nil, err
		}
		return notCond{c}, nil
	})
}

// ---- composition

func parseList(mk func([]condition) condition) func(*yaml.Node, int) (condition, error) {
	return func(n *yaml.Node, depth int) (condition, error) {
		if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
			return nil, errAt(n, "want a non-empty list of conditions, got %s", describeNode(n))
		}
		cs := make([]condition, 0, len(n.Content))
		for _, item := range n.Content {
			c, err := parseCondition(item, depth+1)
			if err != nil {
				return nil, err
			}
			cs = append(cs, c)
		}
		return mk(cs), nil
	}
}

type allCond []condition

func (c allCond) String() string   { return "all(" + joinConds(c, ", ") + ")" }
func (c allCond) expected() string { return "all of: " + joinExpected(c) }
func (c allCond) validate(v *validator) error {
	for _, x := range c {
		if err := x.validate(v); err != nil {
			return err
		}
	}
	return nil
}

func (c allCond) check(ctx context.Context, r *runner) (bool, string) {
	var seen []string
	for _, x := range c {
		ok, s := x.check(ctx, r)
		if !ok {
			return false, x.String() + " does not hold: " + s
		}
		seen = append(seen, s)
	}
	return true, strings.Join(seen, "; ")
}

type anyCond []condition

func (c anyCond) String() string   { return "any(" + joinConds(c, ", ") + ")" }
func (c anyCond) expected() string { return "one of: " + joinExpected(c) }
func (c anyCond) validate(v *validator) error {
	return allCond(c).validate(v)
}

func (c anyCond) check(ctx context.Context, r *runner) (bool, string) {
	var seen []string
	for _, x := range c {
		ok, s := x.check(ctx, r)
		if ok {
			return true, x.String() + " holds: " + s
		}
		seen = append(seen, x.String()+": "+s)
	}
	return false, "none holds: " + strings.Join(seen, "; ")
}

type notCond struct{ c condition }

func (c notCond) String() string              { return "not(" + c.c.String() + ")" }
func (c notCond) expected() string            { return "not (" + c.c.expected() + ")" }
func (c notCond) validate(v *validator) error { return c.c.validate(v) }
func (c notCond) check(ctx context.Context, r *runner) (bool, string) {
	ok, s := c.c.check(ctx, r)
	return !ok, s
}

func joinConds(cs []condition, sep string) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, sep)
}

func joinExpected(cs []condition) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = "(" + c.expected() + ")"
	}
	return strings.Join(parts, ", ")
}

// ---- membership

type convergedCond struct{}

func (convergedCond) String() string { return "converged" }
func (convergedCond) expected() string {
	return "every running node to see exactly the running nodes alive"
}
func (convergedCond) validate(*validator) error { return nil }
func (convergedCond) check(_ context.Context, r *runner) (bool, string) {
	ok := isConverged(r)
	return ok, convergedSeen(r)
}

func runningNames(r *runner) []string {
	var names []string
	for _, n := range r.sim.Running() {
		names = append(names, n.Name())
	}
	sort.Strings(names)
	return names
}

func isConverged(r *runner) bool {
	want := runningNames(r)
	for _, n := range r.sim.Running() {
		if !slices.Equal(n.AliveMembers(), want) {
			return false
		}
	}
	return true
}

// convergedSeen describes who sees whom, naming only the nodes that
// disagree with the set of running nodes.
func convergedSeen(r *runner) string {
	want := runningNames(r)
	var off []string
	for _, n := range r.sim.Running() {
		got := n.AliveMembers()
		if slices.Equal(got, want) {
			continue
		}
		var missing, extra []string
		for _, w := range want {
			if !slices.Contains(got, w) {
				missing = append(missing, w)
			}
		}
		for _, g := range got {
			if !slices.Contains(want, g) {
				extra = append(extra, g)
			}
		}
		d := fmt.Sprintf("%s sees %d alive", n.Name(), len(got))
		if len(missing) > 0 {
			d += ", not " + listOf(missing)
		}
		if len(extra) > 0 {
			d += ", and " + listOf(extra) + " (not running)"
		}
		off = append(off, d)
	}
	if len(off) == 0 {
		return fmt.Sprintf("all %d running nodes see each other", len(want))
	}
	return fmt.Sprintf("%d running nodes; ", len(want)) + strings.Join(off, "; ")
}

type aliveCond struct {
	Node string `yaml:"node"`
	Sees *int   `yaml:"sees"`
}

func (c *aliveCond) String() string { return fmt.Sprintf("alive(%s sees %d)", c.Node, deref(c.Sees)) }
func (c *aliveCond) expected() string {
	return fmt.Sprintf("%s to see %d members alive (itself included)", c.Node, deref(c.Sees))
}

func (c *aliveCond) validate(v *validator) error {
	if err := v.node(c.Node, false); err != nil {
		return fmt.Errorf("alive: node: %w", err)
	}
	if c.Sees == nil || *c.Sees < 0 {
		return fmt.Errorf("alive: sees: want how many members %s sees alive (0 or more)", c.Node)
	}
	return nil
}

func (c *aliveCond) check(_ context.Context, r *runner) (bool, string) {
	n, err := r.running(c.Node)
	if err != nil {
		return false, err.Error()
	}
	alive := n.AliveMembers()
	return len(alive) == *c.Sees, fmt.Sprintf("%s sees %d alive: %s", c.Node, len(alive), listOf(alive))
}

type memberStateCond struct {
	Observer string `yaml:"observer"`
	Node     string `yaml:"node"`
	State    string `yaml:"state"`
}

var memberStates = []string{cluster.StateAlive, cluster.StateSuspect, cluster.StateDead, cluster.StateLeft, cluster.StateUnknown}

func (c *memberStateCond) String() string {
	return fmt.Sprintf("member_state(%s sees %s %s)", c.Observer, c.Node, c.State)
}
func (c *memberStateCond) expected() string {
	return fmt.Sprintf("%s to see %s as %s", c.Observer, c.Node, c.State)
}

func (c *memberStateCond) validate(v *validator) error {
	if err := v.node(c.Observer, false); err != nil {
		return fmt.Errorf("member_state: observer: %w", err)
	}
	if err := v.node(c.Node, false); err != nil {
		return fmt.Errorf("member_state: node: %w", err)
	}
	if !slices.Contains(memberStates, c.State) {
		return fmt.Errorf("member_state: state: %q is not one of %s", c.State, strings.Join(memberStates, ", "))
	}
	return nil
}

func (c *memberStateCond) check(_ context.Context, r *runner) (bool, string) {
	obs, err := r.running(c.Observer)
	if err != nil {
		return false, err.Error()
	}
	st := obs.MemberState(c.Node)
	return st == c.State, fmt.Sprintf("%s sees %s as %s", c.Observer, c.Node, st)
}

// ---- processes

type processCountCond struct {
	Behavior string `yaml:"behavior"`
	Node     string `yaml:"node"`
	Label    string `yaml:"label"`
	Equals   *int   `yaml:"equals"`
	AtLeast  *int   `yaml:"at_least"`
	AtMost   *int   `yaml:"at_most"`
}

func (c *processCountCond) filter() string {
	var f []string
	if c.Behavior != "" {
		f = append(f, "behavior="+c.Behavior)
	}
	if c.Node != "" {
		f = append(f, "node="+c.Node)
	}
	if c.Label != "" {
		f = append(f, "label "+c.Label)
	}
	return strings.Join(f, ", ")
}

func (c *processCountCond) bounds() string {
	switch {
	case c.Equals != nil:
		return fmt.Sprintf("== %d", *c.Equals)
	case c.AtLeast != nil && c.AtMost != nil:
		return fmt.Sprintf("in %d..%d", *c.AtLeast, *c.AtMost)
	case c.AtLeast != nil:
		return fmt.Sprintf(">= %d", *c.AtLeast)
	default:
		return fmt.Sprintf("<= %d", deref(c.AtMost))
	}
}

func (c *processCountCond) String() string {
	return fmt.Sprintf("process_count(%s) %s", c.filter(), c.bounds())
}

func (c *processCountCond) expected() string {
	what := "processes"
	if f := c.filter(); f != "" {
		what += " with " + f
	}
	return fmt.Sprintf("the number of running %s %s", what, c.bounds())
}

func (c *processCountCond) validate(v *validator) error {
	if err := v.node(c.Node, true); err != nil {
		return fmt.Errorf("process_count: node: %w", err)
	}
	if c.Label != "" && !strings.Contains(c.Label, "=") {
		return fmt.Errorf("process_count: label: %q: want key=value", c.Label)
	}
	if c.Equals == nil && c.AtLeast == nil && c.AtMost == nil {
		return fmt.Errorf("process_count: say how many: equals, at_least or at_most")
	}
	if c.Equals != nil && (c.AtLeast != nil || c.AtMost != nil) {
		return fmt.Errorf("process_count: equals cannot be combined with at_least or at_most")
	}
	for _, p := range []*int{c.Equals, c.AtLeast, c.AtMost} {
		if p != nil && *p < 0 {
			return fmt.Errorf("process_count: counts cannot be negative")
		}
	}
	return nil
}

func (c *processCountCond) check(_ context.Context, r *runner) (bool, string) {
	key, val, _ := strings.Cut(c.Label, "=")
	total := 0
	var per []string
	for _, n := range r.sim.Running() {
		if c.Node != "" && n.Name() != c.Node {
			continue
		}
		count := 0
		for _, p := range n.LocalProcesses() {
			if p.Status == cluster.StatusExited || (c.Behavior != "" && p.Behavior != c.Behavior) ||
				(c.Label != "" && p.Labels[key] != val) {
				continue
			}
			count++
		}
		if count > 0 {
			per = append(per, fmt.Sprintf("%s: %d", n.Name(), count))
		}
		total += count
	}
	ok := true
	switch {
	case c.Equals != nil:
		ok = total == *c.Equals
	default:
		if c.AtLeast != nil && total < *c.AtLeast {
			ok = false
		}
		if c.AtMost != nil && total > *c.AtMost {
			ok = false
		}
	}
	seen := fmt.Sprintf("%d", total)
	if len(per) > 0 {
		seen += " (" + strings.Join(per, ", ") + ")"
	}
	return ok, seen
}

type processAliveCond struct {
	ref   pidRef
	alive bool
}

func (c processAliveCond) String() string {
	if c.alive {
		return "process_alive(" + string(c.ref) + ")"
	}
	return "process_gone(" + string(c.ref) + ")"
}

func (c processAliveCond) expected() string {
	if c.alive {
		return string(c.ref) + " to be running"
	}
	return string(c.ref) + " to have exited (or its node to be down)"
}

func (c processAliveCond) validate(v *validator) error { return v.pid(c.ref, c.String()) }

func (c processAliveCond) check(_ context.Context, r *runner) (bool, string) {
	pid, err := r.pid(c.ref)
	if err != nil {
		return false, err.Error()
	}
	alive, seen := processState(r, pid)
	return alive == c.alive, seen
}

// processState reports whether pid runs on a running node, and says so.
func processState(r *runner, pid cluster.PID) (bool, string) {
	n, err := r.running(pid.Node)
	if err != nil {
		return false, fmt.Sprintf("%s is gone: %v", pid, err)
	}
	p := n.Process(pid)
	if p == nil {
		return false, fmt.Sprintf("%s does not exist on %s", pid, pid.Node)
	}
	info := p.Info()
	if info.Status == cluster.StatusExited {
		return false, fmt.Sprintf("%s has exited", pid)
	}
	return true, fmt.Sprintf("%s is %s", pid, info.Status)
}

// ---- registry

type registryCond struct {
	Name               string `yaml:"name"`
	ResolvesEverywhere bool   `yaml:"resolves_everywhere"`
	PID                pidRef `yaml:"pid"`
}

func (c *registryCond) String() string {
	s := "registry(" + c.Name
	if c.ResolvesEverywhere {
		s += ", everywhere"
	}
	if c.PID != "" {
		s += " -> " + string(c.PID)
	}
	return s + ")"
}

func (c *registryCond) expected() string {
	what := fmt.Sprintf("name %q to resolve to a live process", c.Name)
	if c.PID != "" {
		what = fmt.Sprintf("name %q to resolve to %s", c.Name, c.PID)
	}
	if c.ResolvesEverywhere {
		what += ", the same on every running node"
	}
	return what
}

func (c *registryCond) validate(v *validator) error {
	if c.Name == "" {
		return fmt.Errorf("registry: name is required")
	}
	if c.PID != "" {
		return v.pid(c.PID, "registry: pid")
	}
	return nil
}

func (c *registryCond) check(_ context.Context, r *runner) (bool, string) {
	running := r.sim.Running()
	if len(running) == 0 {
		return false, "no node is running"
	}
	if !c.ResolvesEverywhere {
		running = running[:1]
	}
	seen := map[cluster.PID][]string{}
	var missing []string
	for _, n := range running {
		pid, ok := n.Whereis(c.Name)
		if !ok {
			missing = append(missing, n.Name())
			continue
		}
		seen[pid] = append(seen[pid], n.Name())
	}
	var parts []string
	var pids []cluster.PID
	for pid, nodes := range seen {
		pids = append(pids, pid)
		parts = append(parts, fmt.Sprintf("%s on %s", pid, listOf(nodes)))
	}
	sort.Strings(parts)
	if len(missing) > 0 {
		parts = append(parts, "unregistered on "+listOf(missing))
	}
	desc := strings.Join(parts, "; ")
	if len(missing) > 0 || len(pids) != 1 {
		return false, desc
	}
	alive, state := processState(r, pids[0])
	if !alive {
		return false, desc + "; but " + state
	}
	if c.PID != "" {
		want, err := r.pid(c.PID)
		if err != nil {
			return false, err.Error()
		}
		if want != pids[0] {
			return false, desc + fmt.Sprintf("; not %s", r.refName(c.PID))
		}
	}
	return true, desc
}

type registryConflictsCond struct {
	Name    string `yaml:"name"`
	AtLeast *int   `yaml:"at_least"`
}

func (c *registryConflictsCond) atLeast() int {
	if c.AtLeast == nil {
		return 1
	}
	return *c.AtLeast
}

func (c *registryConflictsCond) String() string {
	return fmt.Sprintf("registry_conflicts(%s) >= %d", c.Name, c.atLeast())
}

func (c *registryConflictsCond) expected() string {
	return fmt.Sprintf("at least %d conflict(s) over name %q in the nodes' conflict history", c.atLeast(), c.Name)
}

func (c *registryConflictsCond) validate(*validator) error {
	if c.Name == "" {
		return fmt.Errorf("registry_conflicts: name is required")
	}
	if c.atLeast() < 0 {
		return fmt.Errorf("registry_conflicts: at_least cannot be negative")
	}
	return nil
}

func (c *registryConflictsCond) check(_ context.Context, r *runner) (bool, string) {
	type pair struct{ winner, loser cluster.PID }
	found := map[pair]string{}
	for _, n := range r.sim.Running() {
		for _, cf := range n.RegistryConflicts() {
			if cf.Name == c.Name {
				found[pair{cf.Winner, cf.Loser}] = cf.Rule
			}
		}
	}
	var parts []string
	for p, rule := range found {
		parts = append(parts, fmt.Sprintf("%s won over %s (%s)", p.winner, p.loser, rule))
	}
	sort.Strings(parts)
	seen := fmt.Sprintf("%d conflict(s)", len(found))
	if len(parts) > 0 {
		seen += ": " + strings.Join(parts, "; ")
	}
	return len(found) >= c.atLeast(), seen
}

// ---- supervisors

// childrenOnceCond holds when every child of a supervisor runs on exactly
// one running node and none is missing. The children expected are count
// (default: the number of child specs the first running node knows), and
// the ids the scenario started itself are named when missing.
type childrenOnceCond struct {
	Supervisor string `yaml:"supervisor"`
	Count      *int   `yaml:"count"`
}

func (c *childrenOnceCond) String() string {
	if c.Count != nil {
		return fmt.Sprintf("children_exactly_once(%s, %d)", c.Supervisor, *c.Count)
	}
	return fmt.Sprintf("children_exactly_once(%s)", c.Supervisor)
}

func (c *childrenOnceCond) expected() string {
	n := "every child"
	if c.Count != nil {
		n = fmt.Sprintf("%d children", *c.Count)
	}
	return fmt.Sprintf("%s of supervisor %s each running on exactly one node, none missing", n, c.Supervisor)
}

func (c *childrenOnceCond) validate(v *validator) error {
	if err := v.supervisor(c.Supervisor); err != nil {
		return fmt.Errorf("children_exactly_once: %w", err)
	}
	if c.Count != nil && *c.Count < 0 {
		return fmt.Errorf("children_exactly_once: count cannot be negative")
	}
	return nil
}

func (c *childrenOnceCond) check(_ context.Context, r *runner) (bool, string) {
	running := r.sim.Running()
	if len(running) == 0 {
		return false, "no node is running"
	}
	where := map[string][]string{} // child id -> nodes running it
	for _, n := range running {
		for _, ch := range n.LocalChildren() {
			if ch.Supervisor != c.Supervisor || ch.Status == cluster.StatusExited || n.Process(ch.PID) == nil {
				continue
			}
			where[ch.ID] = append(where[ch.ID], n.Name())
		}
	}
	specs := -1 // child specs the first running node knows
	for _, s := range running[0].Supervisors() {
		if s.Spec.Name == c.Supervisor {
			specs = s.Children
		}
	}
	want := specs
	if c.Count != nil {
		want = *c.Count
	}
	var twice, missing []string
	for _, id := range sortedKeys(where) {
		if nodes := where[id]; len(nodes) > 1 {
			twice = append(twice, fmt.Sprintf("%s on %s", id, strings.Join(nodes, "+")))
		}
	}
	for _, id := range r.children[c.Supervisor] {
		if len(where[id]) == 0 {
			missing = append(missing, id)
		}
	}
	seen := fmt.Sprintf("%d distinct children running", len(where))
	if want >= 0 {
		seen += fmt.Sprintf(" of %d", want)
	}
	if len(missing) > 0 {
		seen += "; missing " + listOf(missing)
	}
	if len(twice) > 0 {
		seen += "; more than once: " + listOf(twice)
	}
	per := map[string]int{}
	for _, nodes := range where {
		for _, n := range nodes {
			per[n]++
		}
	}
	var spread []string
	for _, n := range sortedKeys(per) {
		spread = append(spread, fmt.Sprintf("%s: %d", n, per[n]))
	}
	if len(spread) > 0 {
		seen += " (" + strings.Join(spread, ", ") + ")"
	}
	if specs < 0 {
		seen += fmt.Sprintf("; %s does not know supervisor %s", running[0].Name(), c.Supervisor)
	} else if specs != want {
		seen += fmt.Sprintf("; %s knows %d child specs", running[0].Name(), specs)
	}
	ok := len(twice) == 0 && len(missing) == 0 && (want < 0 || len(where) == want)
	return ok, seen
}

// supervisorCond holds when every running node (or observer) knows the
// supervisor, with children child specs and in the failed state given:
// it shows that the replicated specs have reached everyone.
type supervisorCond struct {
	Name     string `yaml:"name"`
	Children *int   `yaml:"children"`
	Failed   *bool  `yaml:"failed"`
	Observer string `yaml:"observer"`
}

func (c *supervisorCond) String() string {
	s := "supervisor(" + c.Name
	if c.Children != nil {
		s += fmt.Sprintf(", %d specs", *c.Children)
	}
	if c.Failed != nil {
		s += fmt.Sprintf(", failed=%t", *c.Failed)
	}
	return s + ")"
}

func (c *supervisorCond) expected() string {
	who := "every running node"
	if c.Observer != "" {
		who = c.Observer
	}
	e := fmt.Sprintf("%s to know supervisor %s", who, c.Name)
	if c.Children != nil {
		e += fmt.Sprintf(" with %d child specs", *c.Children)
	}
	if c.Failed != nil {
		if *c.Failed {
			e += ", failed"
		} else {
			e += ", not failed"
		}
	}
	return e
}

func (c *supervisorCond) validate(v *validator) error {
	if err := v.supervisor(c.Name); err != nil {
		return fmt.Errorf("supervisor: %w", err)
	}
	if c.Children != nil && *c.Children < 0 {
		return fmt.Errorf("supervisor: children cannot be negative")
	}
	if err := v.node(c.Observer, true); err != nil {
		return fmt.Errorf("supervisor: observer: %w", err)
	}
	return nil
}

func (c *supervisorCond) check(_ context.Context, r *runner) (bool, string) {
	nodes, err := r.observers(c.Observer)
	if err != nil {
		return false, err.Error()
	}
	ok := true
	byView := map[string][]string{}
	for _, n := range nodes {
		view := "unknown"
		found := false
		for _, info := range n.Supervisors() {
			if info.Spec.Name != c.Name {
				continue
			}
			found = true
			view = fmt.Sprintf("%d specs", info.Children)
			if info.Failed {
				view += ", failed: " + info.FailReason
			}
			if (c.Children != nil && info.Children != *c.Children) || (c.Failed != nil && info.Failed != *c.Failed) {
				ok = false
			}
		}
		if !found {
			ok = false
		}
		byView[view] = append(byView[view], n.Name())
	}
	var parts []string
	for _, view := range sortedKeys(byView) {
		parts = append(parts, fmt.Sprintf("%s on %s", view, listOf(byView[view])))
	}
	return ok, strings.Join(parts, "; ")
}

// ---- sandboxes

// sandboxCond holds when the sandbox's record is in state on every running
// node (or on observer), and, with lost_node, records a loss on that node.
type sandboxCond struct {
	Name     string `yaml:"name"`
	State    string `yaml:"state"`
	LostNode string `yaml:"lost_node"`
	Observer string `yaml:"observer"`
}

func (c *sandboxCond) String() string {
	s := fmt.Sprintf("sandbox(%s %s", c.Name, c.State)
	if c.LostNode != "" {
		s += ", lost " + c.LostNode
	}
	return s + ")"
}

func (c *sandboxCond) expected() string {
	who := "every running node"
	if c.Observer != "" {
		who = c.Observer
	}
	e := fmt.Sprintf("sandbox %s to be %s on %s", c.Name, c.State, who)
	if c.LostNode != "" {
		e += fmt.Sprintf(", naming what was lost on %s", c.LostNode)
	}
	return e
}

func (c *sandboxCond) validate(v *validator) error {
	if err := v.sandbox(c.Name); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	switch c.State {
	case cluster.SandboxActive, cluster.SandboxDegraded, cluster.SandboxDestroyed:
	case "":
		if c.LostNode == "" {
			return fmt.Errorf("sandbox: give state (active, degraded or destroyed) or lost_node")
		}
	default:
		return fmt.Errorf("sandbox: state: %q is not active, degraded or destroyed", c.State)
	}
	if err := v.node(c.LostNode, true); err != nil {
		return fmt.Errorf("sandbox: lost_node: %w", err)
	}
	if err := v.node(c.Observer, true); err != nil {
		return fmt.Errorf("sandbox: observer: %w", err)
	}
	return nil
}

func (c *sandboxCond) check(_ context.Context, r *runner) (bool, string) {
	nodes, err := r.observers(c.Observer)
	if err != nil {
		return false, err.Error()
	}
	ok := true
	byView := map[string][]string{}
	for _, n := range nodes {
		rec, found := n.Sandbox(c.Name)
		view := "unknown"
		if found {
			view = rec.State
			if c.LostNode != "" {
				lost := 0
				for _, l := range rec.Lost {
					if l.Node == c.LostNode {
						lost += len(l.PIDs)
					}
				}
				view += fmt.Sprintf(", %d lost on %s", lost, c.LostNode)
				if lost == 0 {
					ok = false
				}
			}
		}
		if !found || (c.State != "" && rec.State != c.State) {
			ok = false
		}
		byView[view] = append(byView[view], n.Name())
	}
	var parts []string
	for _, view := range sortedKeys(byView) {
		parts = append(parts, fmt.Sprintf("%s on %s", view, listOf(byView[view])))
	}
	return ok, strings.Join(parts, "; ")
}

// sandboxEmptyCond holds when no running node has a process labelled with
// the sandbox.
type sandboxEmptyCond struct{ name string }

func (c sandboxEmptyCond) String() string { return "sandbox_empty(" + c.name + ")" }
func (c sandboxEmptyCond) expected() string {
	return fmt.Sprintf("no process labelled %s=%s on any running node", cluster.SandboxLabel, c.name)
}

func (c sandboxEmptyCond) validate(v *validator) error {
	if err := v.sandbox(c.name); err != nil {
		return fmt.Errorf("sandbox_empty: %w", err)
	}
	return nil
}

func (c sandboxEmptyCond) check(_ context.Context, r *runner) (bool, string) {
	var left []string
	for _, n := range r.sim.Running() {
		for _, p := range n.LocalProcesses() {
			if p.Labels[cluster.SandboxLabel] == c.name && p.Status != cluster.StatusExited {
				left = append(left, p.PID.String())
			}
		}
	}
	if len(left) == 0 {
		return true, "no process left"
	}
	return false, fmt.Sprintf("%d left: %s", len(left), listOf(left))
}

// ---- tracing

// traceOrderCond holds when a trace has brought back at least at_least
// events (of kind, if given) to the node that asked for it, in order:
// sequence numbers strictly increasing and times never going back.
type traceOrderCond struct {
	Trace   string `yaml:"trace"`
	AtLeast int    `yaml:"at_least"`
	Kind    string `yaml:"kind"`
}

func (c *traceOrderCond) String() string {
	k := ""
	if c.Kind != "" {
		k = " " + c.Kind
	}
	return fmt.Sprintf("trace_events_in_order(%s, >= %d%s)", c.Trace, c.AtLeast, k)
}

func (c *traceOrderCond) expected() string {
	what := "events"
	if c.Kind != "" {
		what = c.Kind + " events"
	}
	return fmt.Sprintf("trace %s to have brought back at least %d %s, in order", c.Trace, c.AtLeast, what)
}

func (c *traceOrderCond) validate(v *validator) error {
	if err := v.use(c.Trace, varTrace); err != nil {
		return fmt.Errorf("trace_events_in_order: trace: %w", err)
	}
	if c.AtLeast < 0 {
		return fmt.Errorf("trace_events_in_order: at_least cannot be negative")
	}
	if c.Kind != "" && !slices.Contains(traceKinds, c.Kind) {
		return fmt.Errorf("trace_events_in_order: kind: %q is not one of %s", c.Kind, strings.Join(traceKinds, ", "))
	}
	return nil
}

func (c *traceOrderCond) check(_ context.Context, r *runner) (bool, string) {
	tv, n, err := r.trace(c.Trace)
	if err != nil {
		return false, err.Error()
	}
	snap, err := n.Trace(tv.id, 0)
	if err != nil {
		return false, fmt.Sprintf("trace %s on %s: %v", tv.id, n.Name(), err)
	}
	count := 0
	for i, ev := range snap.Events {
		if i > 0 {
			prev := snap.Events[i-1]
			if ev.Seq <= prev.Seq {
				return false, fmt.Sprintf("event %d has seq %d after seq %d", i, ev.Seq, prev.Seq)
			}
			if ev.Time.Before(prev.Time) {
				return false, fmt.Sprintf("event seq %d at %s is earlier than seq %d at %s", ev.Seq, ev.Time.Format("15:04:05.000000"), prev.Seq, prev.Time.Format("15:04:05.000000"))
			}
		}
		if c.Kind == "" || ev.Kind == c.Kind {
			count++
		}
	}
	seen := fmt.Sprintf("%d matching of %d events in order on %s (trace %s", count, len(snap.Events), n.Name(), tv.id)
	if snap.Info.Dropped > 0 {
		seen += fmt.Sprintf(", %d dropped", snap.Info.Dropped)
	}
	if snap.Info.EndReason != "" {
		seen += ", ended: " + snap.Info.EndReason
	}
	seen += ")"
	return count >= c.AtLeast, seen
}

// ---- helpers

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// listOf prints names, cut after a dozen.
func listOf(names []string) string {
	const most = 12
	if len(names) == 0 {
		return "none"
	}
	if len(names) > most {
		return strings.Join(names[:most], ", ") + fmt.Sprintf(" and %d more", len(names)-most)
	}
	return strings.Join(names, ", ")
}
