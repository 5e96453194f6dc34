package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/simulator"
)

// Limits on what a scenario may ask for. A scenario file is untrusted
// input: anything beyond these is a validation error, not an allocation.
const (
	// MaxFileSize bounds a scenario file.
	MaxFileSize = 1 << 20
	// MaxSteps bounds the number of steps.
	MaxSteps = 1000
	// MaxCount bounds the repeat counts of steps (send, start_children,
	// sandbox children).
	MaxCount = 100000
	// MaxWait bounds every duration a step waits for (wait_until, sleep).
	MaxWait = 10 * time.Minute
	// DefaultNodes is how many nodes a scenario starts when it does not say.
	DefaultNodes = 5
	// DefaultSeed is the seed of a scenario that does not name one.
	DefaultSeed = 1
)

// ErrInvalid is wrapped by every error about the content of a scenario
// file (syntax, unknown fields or steps, bad values, unknown nodes or
// variables). Test with errors.Is.
var ErrInvalid = errors.New("scenario: invalid scenario")

// ParseError says what is wrong in a scenario and where. It wraps
// ErrInvalid.
type ParseError struct {
	// Path is the file, empty when the scenario was parsed from bytes.
	Path string
	// Line is the 1-based line of the problem, 0 when unknown.
	Line int
	// Step is the 1-based index of the step concerned, 0 outside steps.
	Step int
	// Kind is the kind of that step when known ("spawn").
	Kind string
	// Msg says what is wrong and, where it can, what is expected.
	Msg string
}

// Error implements error: "scenario: FILE: line 12: step 3 (spawn): MSG".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("scenario: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Step > 0 {
		fmt.Fprintf(&b, "step %d", e.Step)
		if e.Kind != "" {
			fmt.Fprintf(&b, " (%s)", e.Kind)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns ErrInvalid.
func (e *ParseError) Unwrap() error { return ErrInvalid }

// Scenario is a parsed and validated scenario, ready to Run. Build one
// with Parse or Load.
type Scenario struct {
	// Name names the scenario (default: the file name without extension).
	Name string `json:"name"`
	// Description says what the scenario shows.
	Description string `json:"description,omitempty"`
	// Seed seeds the simulated network (loss, jitter); default 1.
	Seed int64 `json:"seed"`
	// Nodes is how many worker nodes start before the first step
	// (node-1 .. node-N); default 5, 0 allowed.
	Nodes int `json:"nodes"`
	// Profile is the nodes' membership profile: sim (default), local, lan.
	Profile cluster.Profile `json:"profile"`
	// Steps run in order.
	Steps []Step `json:"steps"`
	// Path is the file the scenario was loaded from; empty for Parse.
	Path string `json:"path,omitempty"`
}

// Step is one parsed step of a scenario.
type Step struct {
	// Kind is the step's key in the file: "crash", "wait_until", ...
	Kind string `json:"kind"`
	// Line is the step's line in the file.
	Line int `json:"line"`
	act  action
}

// String describes the step in one line, as the runner prints it:
// "crash node-3", "wait_until converged within 5s".
func (s Step) String() string {
	if s.act == nil {
		return s.Kind
	}
	return s.act.summary()
}

// fileFormat is the top level of a scenario file.
type fileFormat struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Seed        *int64      `yaml:"seed"`
	Nodes       *int        `yaml:"nodes"`
	Profile     string      `yaml:"profile"`
	Steps       []yaml.Node `yaml:"steps"`
}

// Load reads and validates the scenario file at path. The scenario's Path
// is set, and its Name defaults to the file name without extension.
func Load(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: load: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("scenario: load %s: %w", path, err)
	}
	sc, err := parse(b, path)
	if err != nil {
		return nil, err
	}
	sc.Path = path
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return sc, nil
}

// Parse reads and validates a scenario from YAML. Everything is checked
// before anything runs: unknown fields and steps, value types, durations,
// node names and variables. Errors are *ParseError values (joined when
// there are several), each with its line.
func Parse(b []byte) (*Scenario, error) { return parse(b, "") }

func parse(b []byte, path string) (sc *Scenario, err error) {
	defer func() {
		// The YAML decoder is third-party code fed untrusted bytes: a
		// panic there is a malformed file, not a crash of the caller.
		if r := recover(); r != nil {
			sc, err = nil, &ParseError{Path: path, Msg: fmt.Sprintf("malformed YAML: %v", r)}
		}
	}()
	sc, err = parseDoc(b)
	if err != nil {
		var pe *ParseError
		var joined interface{ Unwrap() []error }
		switch {
		case errors.As(err, &joined):
			for _, e := range joined.Unwrap() {
				if errors.As(e, &pe) {
					pe.Path = path
				}
			}
		case errors.As(err, &pe):
			pe.Path = path
		}
		return nil, err
	}
	return sc, nil
}

func parseDoc(b []byte) (*Scenario, error) {
	if len(b) > MaxFileSize {
		return nil, &ParseError{Msg: fmt.Sprintf("the file is larger than %d bytes", MaxFileSize)}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, &ParseError{Msg: "the scenario is empty (want name, seed, nodes, profile and steps)"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &ParseError{Line: extra.Line, Msg: "more than one YAML document; a file holds one scenario"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(err)
	}
	if _, err := expandedSize(&doc, map[*yaml.Node]int{}, 0); err != nil {
		return nil, err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	var ff fileFormat
	if err := decodeStrict(root, &ff, ""); err != nil {
		return nil, toParseError(err)
	}
	sc := &Scenario{Name: ff.Name, Description: ff.Description, Seed: DefaultSeed, Nodes: DefaultNodes, Profile: cluster.ProfileSim}
	if ff.Seed != nil {
		sc.Seed = *ff.Seed
	}
	if ff.Nodes != nil {
		sc.Nodes = *ff.Nodes
	}
	if sc.Nodes < 0 || sc.Nodes > simulator.MaxNodes {
		return nil, &ParseError{Line: fieldLine(root, "nodes"), Msg: fmt.Sprintf("nodes: %d is outside 0..%d", sc.Nodes, simulator.MaxNodes)}
	}
	switch cluster.Profile(ff.Profile) {
	case "":
	case cluster.ProfileSim, cluster.ProfileLocal, cluster.ProfileLAN:
		sc.Profile = cluster.Profile(ff.Profile)
	default:
		return nil, &ParseError{Line: fieldLine(root, "profile"), Msg: fmt.Sprintf("profile: unknown profile %q (want sim, local or lan)", ff.Profile)}
	}
	if len(ff.Steps) == 0 {
		return nil, &ParseError{Line: root.Line, Msg: "no steps: add a list under steps:"}
	}
	if len(ff.Steps) > MaxSteps {
		return nil, &ParseError{Line: ff.Steps[MaxSteps].Line, Msg: fmt.Sprintf("more than %d steps", MaxSteps)}
	}
	var errs []error
	for i := range ff.Steps {
		st, err := parseStep(&ff.Steps[i])
		if err != nil {
			pe := toParseError(err)
			pe.Step = i + 1
			if pe.Kind == "" {
				pe.Kind = st.Kind
			}
			errs = append(errs, pe)
			if len(errs) >= maxReported {
				break
			}
			continue
		}
		sc.Steps = append(sc.Steps, st)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := validate(sc); err != nil {
		return nil, err
	}
	return sc, nil
}

// Bounds on the shape of a document. The parser reads anchors and aliases
// without expanding them; the steps and conditions are read by walking the
// node tree, where each alias counts as a copy of what it names. Without a
// bound, a few lines of nested aliases ("billion laughs") or an alias to
// itself would make that walk endless.
const (
	maxExpandedNodes = 100000
	maxNesting       = 1000
)

// expandedSize counts the nodes of n with every alias expanded, and fails
// on a recursive alias or when the count passes maxExpandedNodes.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int, depth int) (int, error) {
	if n == nil {
		return 0, nil
	}
	if size, ok := memo[n]; ok {
		if size < 0 {
			return 0, &ParseError{Line: n.Line, Msg: "an alias refers to the node that contains it"}
		}
		return size, nil
	}
	if depth > maxNesting {
		return 0, &ParseError{Line: n.Line, Msg: fmt.Sprintf("nested more than %d levels deep", maxNesting)}
	}
	memo[n] = -1
	size := 1
	children := n.Content
	if n.Kind == yaml.AliasNode {
		children = []*yaml.Node{n.Alias}
	}
	for _, c := range children {
		s, err := expandedSize(c, memo, depth+1)
		if err != nil {
			return 0, err
		}
		size += s
		if size > maxExpandedNodes {
			return 0, &ParseError{Line: n.Line, Msg: fmt.Sprintf("the document expands to more than %d values (aliases count as copies)", maxExpandedNodes)}
		}
	}
	memo[n] = size
	return size, nil
}

// maxReported bounds how many problems one Parse reports.
const maxReported = 20

// parseStep reads one "- kind: value" entry of the step list.
func parseStep(n *yaml.Node) (Step, error) {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return Step{Line: n.Line}, errAt(n, "a step is a map with one key, like `- crash: node-3`; got %s", describeNode(n))
	}
	if len(n.Content) != 2 {
		keys := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			keys = append(keys, n.Content[i].Value)
		}
		return Step{Line: n.Line}, errAt(n, "a step is a map with exactly one key, like `- crash: node-3`; got %d keys (%s): indent the step's fields under its kind", len(keys), strings.Join(keys, ", "))
	}
	key, val := n.Content[0], n.Content[1]
	st := Step{Kind: key.Value, Line: key.Line}
	kind, ok := stepKinds[key.Value]
	if !ok {
		return st, errAt(key, "unknown step %q (known: %s)", key.Value, strings.Join(stepNames(), ", "))
	}
	act, err := kind.parse(resolveAlias(val))
	if err != nil {
		if kind.usage != "" && !strings.Contains(err.Error(), "(usage: ") {
			return st, fmt.Errorf("%w (usage: %s)", err, kind.usage)
		}
		return st, err
	}
	st.act = act
	return st, nil
}

// lineError is an error about one place in the file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d: %s", e.line, e.msg)
	}
	return e.msg
}

// errAt returns an error located at n.
func errAt(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &lineError{line: line, msg: fmt.Sprintf(format, args...)}
}

// toParseError turns any error from decoding into a *ParseError, keeping
// the innermost line found.
func toParseError(err error) *ParseError {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe
	}
	var le *lineError
	if errors.As(err, &le) {
		// Keep the wrapping text (usage hints) around the located message.
		msg := strings.Replace(err.Error(), le.Error(), le.msg, 1)
		return &ParseError{Line: le.line, Msg: msg}
	}
	return yamlError(err)
}

// yamlError turns an error of the YAML library into a *ParseError with
// the line it names, if any.
func yamlError(err error) *ParseError {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if _, err := fmt.Sscanf(num, "%d", &line); err == nil {
				msg = strings.TrimSpace(tail)
			}
		}
	}
	return &ParseError{Line: line, Msg: msg}
}

// fieldLine returns the line of key in mapping n, or n's own line.
func fieldLine(n *yaml.Node, key string) int {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i].Line
			}
		}
	}
	return n.Line
}
