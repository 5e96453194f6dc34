package scenario

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clusterlab/clusterlab/cluster"
)

// action is what a step does. Each concern's file (steps_*.go) defines its
// step kinds with defineStep; nothing else needs to change to add one.
type action interface {
	// summary describes the step in one line ("crash node-3").
	summary() string
	// validate checks node names, variables and values against what the
	// steps before it have set up, before anything runs.
	validate(v *validator) error
	// run performs the step. note, when not empty, is printed after "ok"
	// (what was spawned, where a child went). A failed expectation is
	// returned as a *failure so that the report shows what was expected
	// and what was seen.
	run(ctx context.Context, r *runner) (note string, err error)
}

// stepKind is one kind of step: how to read it from YAML.
type stepKind struct {
	// usage shows the step's forms in error messages.
	usage string
	parse func(n *yaml.Node) (action, error)
}

var stepKinds = map[string]stepKind{}

// defineStep registers a step kind. It is called from init functions.
func defineStep(name, usage string, parse func(n *yaml.Node) (action, error)) {
	if _, dup := stepKinds[name]; dup {
		panic("scenario: step " + name + " defined twice")
	}
	stepKinds[name] = stepKind{usage: usage, parse: parse}
}

// structStep parses a step whose value is a mapping decoded into T.
func structStep[T any, P interface {
	*T
	action
}]() func(*yaml.Node) (action, error) {
	return func(n *yaml.Node) (action, error) {
		// The step's kind already prefixes the message: no label.
		var s T
		if err := decodeStrict(n, &s, ""); err != nil {
			return nil, err
		}
		return P(&s), nil
	}
}

func stepNames() []string { return sortedKeys(stepKinds) }

// StepKinds returns the kinds of step a scenario may use, each with a
// one-line usage: for help texts.
func StepKinds() map[string]string {
	out := make(map[string]string, len(stepKinds))
	for k, v := range stepKinds {
		out[k] = v.usage
	}
	return out
}

// Variable kinds.
const (
	varPID   = "pid"
	varTrace = "trace"
)

// validator follows what the steps set up, in order, so that a step that
// names an unknown node, variable, supervisor or sandbox is refused before
// anything runs.
type validator struct {
	prefix string
	nodes  []string
	known  map[string]bool
	seq    int
	vars   map[string]varDef
	sups   map[string]bool
	boxes  map[string]bool
	step   int
}

type varDef struct {
	kind string
	step int
}

func newValidator(nodes int) *validator {
	v := &validator{prefix: "node-", known: map[string]bool{}, vars: map[string]varDef{}, sups: map[string]bool{}, boxes: map[string]bool{}}
	v.addNodes(nodes)
	return v
}

// addNodes follows the simulator's naming: node-1, node-2, ... in start
// order.
func (v *validator) addNodes(count int) {
	for range count {
		v.seq++
		name := v.prefix + strconv.Itoa(v.seq)
		v.nodes = append(v.nodes, name)
		v.known[name] = true
	}
}

// node checks that name is a node the scenario has started by now. An
// empty name is allowed when optional.
func (v *validator) node(name string, optional bool) error {
	if name == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("a node name is required")
	}
	if v.known[name] {
		return nil
	}
	if len(v.nodes) == 0 {
		return fmt.Errorf("unknown node %q: no node is started yet (add nodes: N or a start_nodes step first)", name)
	}
	return fmt.Errorf("unknown node %q (the scenario has %s)", name, v.nodeRange())
}

func (v *validator) nodeRange() string {
	switch len(v.nodes) {
	case 0:
		return "no nodes"
	case 1, 2, 3:
		return strings.Join(v.nodes, ", ")
	}
	return v.nodes[0] + " .. " + v.nodes[len(v.nodes)-1]
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

// define records a variable set by the current step.
func (v *validator) define(name, kind string) error {
	if name == "" {
		return nil
	}
	name = strings.TrimPrefix(name, "$")
	if !varName.MatchString(name) {
		return fmt.Errorf("as: %q is not a variable name (letters, digits, _ and -, starting with a letter)", name)
	}
	if d, ok := v.vars[name]; ok {
		return fmt.Errorf("as: variable $%s is already set by step %d", name, d.step)
	}
	v.vars[name] = varDef{kind: kind, step: v.step}
	return nil
}

// use checks a "$name" reference to a variable of kind.
func (v *validator) use(ref, kind string) error {
	name, ok := strings.CutPrefix(ref, "$")
	if !ok {
		return fmt.Errorf("%q is not a variable (want $name)", ref)
	}
	d, ok := v.vars[name]
	if !ok {
		return fmt.Errorf("unknown variable $%s: no step before this one sets it (use as: %s on a step that makes one)", name, name)
	}
	if d.kind != kind {
		return fmt.Errorf("variable $%s (set by step %d) is a %s, not a %s", name, d.step, d.kind, kind)
	}
	return nil
}

// pidRef is a PID written in a step: a variable ("$e1") or a literal PID
// ("node-1/3").
type pidRef string

func (v *validator) pid(ref pidRef, what string) error {
	s := string(ref)
	if s == "" {
		return fmt.Errorf("%s: a PID is required ($variable or node/id)", what)
	}
	if strings.HasPrefix(s, "$") {
		if err := v.use(s, varPID); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	pid, err := cluster.ParsePID(s)
	if err != nil {
		return fmt.Errorf("%s: %q is neither a $variable nor a PID node/id", what, s)
	}
	if err := v.node(pid.Node, false); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// positive checks a count field: 0 means def, else 1..MaxCount.
func positive(what string, n, def int) (int, error) {
	if n == 0 {
		return def, nil
	}
	if n < 0 || n > MaxCount {
		return 0, fmt.Errorf("%s: %d is outside 1..%d", what, n, MaxCount)
	}
	return n, nil
}

// validate follows every step in order.
func validate(sc *Scenario) error {
	v := newValidator(sc.Nodes)
	var errs []*ParseError
	for i, st := range sc.Steps {
		v.step = i + 1
		if err := st.act.validate(v); err != nil {
			errs = append(errs, &ParseError{Line: st.Line, Step: i + 1, Kind: st.Kind, Msg: err.Error()})
			if len(errs) >= maxReported {
				break
			}
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}
