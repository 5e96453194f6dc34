package operations

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// Bounds on parameter input, so that untrusted bytes cannot make the
// framework allocate without limit.
const (
	// MaxParamsBytes bounds the JSON body of one run.
	MaxParamsBytes = 1 << 20
	// MaxStringLen bounds a string parameter without its own MaxLen.
	MaxStringLen = 64 << 10
	// MaxListLen bounds a list parameter without its own MaxLen.
	MaxListLen = 10000
)

// Params are the validated parameters of one run, keyed by name. Values
// have their canonical Go type: string (string, node, enum), int64, float64,
// bool, time.Duration, cluster.PID, []any (elements canonical too) and
// map[string]any. Every declared parameter with a default is present.
type Params map[string]any

// Has reports whether the parameter was given or has a default.
func (p Params) Has(name string) bool {
	_, ok := p[name]
	return ok
}

// String returns a string, node or enum parameter, or "".
func (p Params) String(name string) string {
	s, _ := p[name].(string)
	return s
}

// Int returns an int parameter, or 0.
func (p Params) Int(name string) int64 {
	i, _ := p[name].(int64)
	return i
}

// Float returns a float parameter, or 0.
func (p Params) Float(name string) float64 {
	f, _ := p[name].(float64)
	return f
}

// Bool returns a bool parameter, or false.
func (p Params) Bool(name string) bool {
	b, _ := p[name].(bool)
	return b
}

// Duration returns a duration parameter, or 0.
func (p Params) Duration(name string) time.Duration {
	d, _ := p[name].(time.Duration)
	return d
}

// PID returns a pid parameter, or the zero PID.
func (p Params) PID(name string) cluster.PID {
	pid, _ := p[name].(cluster.PID)
	return pid
}

// List returns a list parameter, or nil.
func (p Params) List(name string) []any {
	l, _ := p[name].([]any)
	return l
}

// Strings returns a list of strings (or of nodes, enums) as []string.
func (p Params) Strings(name string) []string {
	l := p.List(name)
	out := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Object returns an object parameter, or nil.
func (p Params) Object(name string) map[string]any {
	m, _ := p[name].(map[string]any)
	return m
}

// ParamError says why one parameter is invalid.
type ParamError struct {
	Param   string `json:"param"`
	Message string `json:"message"`
}

// DecodeJSON decodes a JSON object of raw parameters, as a POST body
// carries them. Empty input and null are an empty object. Numbers are kept
// as json.Number so that integers do not lose precision. Errors are *Error
// with CodeBadRequest.
func DecodeJSON(b []byte) (map[string]any, error) {
	if len(b) > MaxParamsBytes {
		return nil, Errorf(CodeBadRequest, "the parameters are %d bytes, more than %d", len(b), MaxParamsBytes)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return map[string]any{}, nil
	}
	if b[0] != '{' {
		return nil, Errorf(CodeBadRequest, "the parameters must be a JSON object").
			Fix(`send an object such as {"limit": 10}`)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, (&Error{Code: CodeBadRequest, Message: "the parameters are not valid JSON: " + err.Error(), Err: err}).
			Fix(`send an object such as {"limit": 10}`)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errorf(CodeBadRequest, "the parameters have trailing data after the JSON object")
	}
	if raw == nil {
		raw = map[string]any{}
	}
	return raw, nil
}

// checker validates raw parameters against one spec; it is built once per
// registered operation (patterns compiled, defaults coerced).
type checker struct {
	spec     Spec
	byName   map[string]int
	patterns []*regexp.Regexp
	defaults []any
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// newChecker checks that a spec is well formed and prepares its validation.
func newChecker(spec Spec) (*checker, error) {
	if !nameRE.MatchString(spec.Name) {
		return nil, fmt.Errorf("operations: spec name %q: want lower case letters, digits and underscores, starting with a letter, at most 64", spec.Name)
	}
	if spec.Timeout < 0 || spec.Timeout > MaxTimeout {
		return nil, fmt.Errorf("operations: spec %s: timeout %s is outside 0..%s", spec.Name, spec.Timeout, MaxTimeout)
	}
	c := &checker{spec: spec, byName: map[string]int{}, patterns: make([]*regexp.Regexp, len(spec.Params)), defaults: make([]any, len(spec.Params))}
	for i, p := range spec.Params {
		if !nameRE.MatchString(p.Name) {
			return nil, fmt.Errorf("operations: spec %s: param name %q: want lower case letters, digits and underscores", spec.Name, p.Name)
		}
		if _, dup := c.byName[p.Name]; dup {
			return nil, fmt.Errorf("operations: spec %s: param %s declared twice", spec.Name, p.Name)
		}
		c.byName[p.Name] = i
		if !slices.Contains(Types, p.Type) {
			return nil, fmt.Errorf("operations: spec %s: param %s: unknown type %q (want one of %s)", spec.Name, p.Name, p.Type, strings.Join(Types, ", "))
		}
		if p.Type == TypeEnum && len(p.Enum) == 0 {
			return nil, fmt.Errorf("operations: spec %s: param %s: enum without values", spec.Name, p.Name)
		}
		if p.Type == TypeList {
			outer, inner := splitItems(p.Items)
			if !slices.Contains(Types, outer) || outer == TypeEnum && len(p.Enum) == 0 {
				return nil, fmt.Errorf("operations: spec %s: param %s: list items %q: want a type name (and enum values for enum items)", spec.Name, p.Name, p.Items)
			}
			if outer == TypeList && (!slices.Contains(Types, inner) || inner == TypeList) {
				return nil, fmt.Errorf("operations: spec %s: param %s: list items %q: a list of lists names its inner type, like list:node", spec.Name, p.Name, p.Items)
			}
		}
		if p.Pattern != "" {
			re, err := regexp.Compile(`^(?:` + p.Pattern + `)$`)
			if err != nil {
				return nil, fmt.Errorf("operations: spec %s: param %s: pattern: %w", spec.Name, p.Name, err)
			}
			c.patterns[i] = re
		}
		if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
			return nil, fmt.Errorf("operations: spec %s: param %s: min %v > max %v", spec.Name, p.Name, *p.Min, *p.Max)
		}
		if p.Default != nil {
			if p.Required {
				return nil, fmt.Errorf("operations: spec %s: param %s: required with a default", spec.Name, p.Name)
			}
			v, msg := c.coerce(i, p.Default, nil)
			if msg != "" {
				return nil, fmt.Errorf("operations: spec %s: param %s: default %v: %s", spec.Name, p.Name, p.Default, msg)
			}
			c.defaults[i] = v
		}
	}
	return c, nil
}

func splitItems(items string) (outer, inner string) {
	outer, inner, _ = strings.Cut(items, ":")
	return outer, inner
}

// ValidateParams checks raw parameters against spec the way Registry.Run
// does: types (with coercion from strings), required, defaults, bounds,
// patterns, enums, unknown names. Node parameters are checked against the
// members env's node knows and the simulator's nodes (no check without a
// node). The error is an *Error with CodeInvalidParams whose details list
// every failing parameter.
func ValidateParams(spec Spec, raw map[string]any, env *Env) (Params, error) {
	c, err := newChecker(spec)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: err.Error(), Err: err}
	}
	return c.validate(raw, knownNodes(env))
}

// knownNodes returns a membership check for node parameters, or nil when
// env has no node to ask.
func knownNodes(env *Env) func() []string {
	if env == nil || env.Node == nil {
		return nil
	}
	return func() []string {
		seen := map[string]bool{}
		var names []string
		for _, m := range env.Node.Members() {
			if !seen[m.Name] {
				seen[m.Name] = true
				names = append(names, m.Name)
			}
		}
		if env.Sim != nil {
			for _, n := range env.Sim.Nodes() {
				if !seen[n.Name] {
					seen[n.Name] = true
					names = append(names, n.Name)
				}
			}
		}
		sort.Strings(names)
		return names
	}
}

// validate checks raw against the spec. known lists the node names node
// parameters may take; nil skips that check.
func (c *checker) validate(raw map[string]any, known func() []string) (Params, error) {
	out := make(Params, len(c.spec.Params))
	var errs []ParamError
	var nodes []string
	nodesLoaded := false
	knownFn := func() []string {
		if !nodesLoaded {
			nodesLoaded = true
			if known != nil {
				nodes = known()
			}
		}
		return nodes
	}
	for i, p := range c.spec.Params {
		v, given := raw[p.Name]
		if !given || v == nil {
			switch {
			case p.Required:
				errs = append(errs, ParamError{p.Name, fmt.Sprintf("required %s parameter is missing", p.Type)})
			case c.defaults[i] != nil:
				out[p.Name] = c.defaults[i]
			}
			continue
		}
		var check func() []string
		if known != nil {
			check = knownFn
		}
		cv, msg := c.coerce(i, v, check)
		if msg != "" {
			errs = append(errs, ParamError{p.Name, msg})
			continue
		}
		out[p.Name] = cv
	}
	var unknown []string
	for name := range raw {
		if _, ok := c.byName[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		errs = append(errs, ParamError{clip(name, 64), "unknown parameter" + c.knownParamsHint()})
	}
	if len(errs) > 0 {
		msg := fmt.Sprintf("invalid parameters for %s: %s: %s", c.spec.Name, errs[0].Param, errs[0].Message)
		if len(errs) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(errs)-1)
		}
		return nil, (&Error{Code: CodeInvalidParams, Message: msg}).
			With("operation", c.spec.Name).
			With("params", errs).
			Fix(fmt.Sprintf("see the parameters with `clusterlab op describe %s`", c.spec.Name))
	}
	return out, nil
}

func (c *checker) knownParamsHint() string {
	if len(c.spec.Params) == 0 {
		return "; this operation takes none"
	}
	names := make([]string, len(c.spec.Params))
	for i, p := range c.spec.Params {
		names[i] = p.Name
	}
	return " (known: " + strings.Join(names, ", ") + ")"
}

// coerce converts one raw value of parameter i to its canonical type and
// checks its constraints; a non-empty message says why it is invalid.
func (c *checker) coerce(i int, v any, known func() []string) (any, string) {
	p := &c.spec.Params[i]
	return coerceValue(p, p.Type, p.Items, c.patterns[i], v, known)
}

func coerceValue(p *Param, typ, items string, re *regexp.Regexp, v any, known func() []string) (any, string) {
	switch typ {
	case TypeString:
		s, msg := asString(v, true)
		if msg != "" {
			return nil, msg
		}
		return checkString(p, re, s)
	case TypeInt:
		n, msg := asInt(v)
		if msg != "" {
			return nil, msg
		}
		if m := checkRange(p, float64(n), strconv.FormatInt(n, 10)); m != "" {
			return nil, m
		}
		return n, ""
	case TypeFloat:
		f, msg := asFloat(v)
		if msg != "" {
			return nil, msg
		}
		if m := checkRange(p, f, strconv.FormatFloat(f, 'g', -1, 64)); m != "" {
			return nil, m
		}
		return f, ""
	case TypeBool:
		return asBool(v)
	case TypeDuration:
		d, msg := asDuration(v)
		if msg != "" {
			return nil, msg
		}
		if d < 0 && (p.Min == nil || *p.Min >= 0) {
			return nil, fmt.Sprintf("duration %s is negative", d)
		}
		if m := checkRange(p, d.Seconds(), d.String()); m != "" {
			return nil, m
		}
		return d, ""
	case TypePID:
		switch x := v.(type) {
		case cluster.PID:
			if x.IsZero() {
				return nil, "want a pid node/id, got an empty pid"
			}
			return x, ""
		case string:
			pid, err := cluster.ParsePID(strings.TrimSpace(x))
			if err != nil {
				return nil, fmt.Sprintf("want a pid like node-1/4, got %s", quote(x))
			}
			return pid, ""
		}
		return nil, "want a pid string like node-1/4, got " + describe(v)
	case TypeNode:
		s, msg := asString(v, false)
		if msg != "" {
			return nil, msg
		}
		s = strings.TrimSpace(s)
		if err := cluster.ValidateNodeName(s); err != nil {
			return nil, "want a node name: " + err.Error()
		}
		if known != nil {
			names := known()
			if !slices.Contains(names, s) {
				return nil, fmt.Sprintf("unknown node %s (known: %s)", quote(s), clip(strings.Join(names, ", "), 512))
			}
		}
		return s, ""
	case TypeEnum:
		s, msg := asString(v, false)
		if msg != "" {
			return nil, msg
		}
		if !slices.Contains(p.Enum, s) {
			return nil, fmt.Sprintf("%s is not one of %s", quote(s), strings.Join(p.Enum, ", "))
		}
		return s, ""
	case TypeList:
		return coerceList(p, items, re, v, known)
	case TypeObject:
		switch x := v.(type) {
		case map[string]any:
			return x, ""
		case string:
			t := strings.TrimSpace(x)
			if strings.HasPrefix(t, "{") {
				m, err := DecodeJSON([]byte(t))
				if err != nil {
					return nil, "want a JSON object: " + AsError(err, nil).Message
				}
				return m, ""
			}
		}
		return nil, "want a JSON object, got " + describe(v)
	}
	return nil, "unsupported parameter type " + quote(typ)
}

func coerceList(p *Param, items string, re *regexp.Regexp, v any, known func() []string) (any, string) {
	outer, inner := splitItems(items)
	var elems []any
	switch x := v.(type) {
	case []any:
		elems = x
	case []string:
		elems = make([]any, len(x))
		for i, s := range x {
			elems[i] = s
		}
	case string:
		t := strings.TrimSpace(x)
		switch {
		case strings.HasPrefix(t, "["):
			dec := json.NewDecoder(strings.NewReader(t))
			dec.UseNumber()
			if err := dec.Decode(&elems); err != nil {
				return nil, "want a JSON array: " + err.Error()
			}
		case t == "":
			elems = []any{}
		default:
			sep := ","
			if outer == TypeList {
				sep = ";"
			}
			for _, part := range strings.Split(t, sep) {
				elems = append(elems, strings.TrimSpace(part))
			}
		}
	default:
		return nil, "want a list, got " + describe(v)
	}
	maxLen := MaxListLen
	if p.MaxLen != nil {
		maxLen = *p.MaxLen
	}
	if len(elems) > maxLen {
		return nil, fmt.Sprintf("list has %d elements, more than %d", len(elems), maxLen)
	}
	if p.MinLen != nil && len(elems) < *p.MinLen {
		return nil, fmt.Sprintf("list has %d elements, fewer than %d", len(elems), *p.MinLen)
	}
	out := make([]any, len(elems))
	for i, e := range elems {
		// MinLen and MaxLen bound the list itself; elements are checked
		// against their type, the enum and the pattern.
		elemParam := &Param{Name: p.Name, Type: outer, Enum: p.Enum, Pattern: p.Pattern}
		cv, msg := coerceValue(elemParam, outer, inner, re, e, known)
		if msg != "" {
			return nil, fmt.Sprintf("element %d: %s", i, msg)
		}
		out[i] = cv
	}
	return out, ""
}

func checkString(p *Param, re *regexp.Regexp, s string) (any, string) {
	maxLen := MaxStringLen
	if p.MaxLen != nil {
		maxLen = *p.MaxLen
	}
	if len(s) > maxLen {
		return nil, fmt.Sprintf("string is %d bytes, more than %d", len(s), maxLen)
	}
	if p.MinLen != nil && len(s) < *p.MinLen {
		return nil, fmt.Sprintf("string is %d bytes, fewer than %d", len(s), *p.MinLen)
	}
	if re != nil && !re.MatchString(s) {
		return nil, fmt.Sprintf("%s does not match the pattern %s", quote(s), p.Pattern)
	}
	return s, ""
}

func checkRange(p *Param, f float64, shown string) string {
	if p.Min != nil && f < *p.Min {
		return fmt.Sprintf("%s is below the minimum %s", shown, fmtBound(p, *p.Min))
	}
	if p.Max != nil && f > *p.Max {
		return fmt.Sprintf("%s is above the maximum %s", shown, fmtBound(p, *p.Max))
	}
	return ""
}

func fmtBound(p *Param, b float64) string {
	if p.Type == TypeDuration {
		return time.Duration(b * float64(time.Second)).String()
	}
	return strconv.FormatFloat(b, 'g', -1, 64)
}

func asString(v any, numbersToo bool) (string, string) {
	switch x := v.(type) {
	case string:
		return x, ""
	case json.Number:
		if numbersToo {
			return x.String(), ""
		}
	}
	return "", "want a string, got " + describe(v)
}

func asInt(v any) (int64, string) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, ""
		}
		f, err := x.Float64()
		if err != nil {
			return 0, "want an integer, got " + quote(x.String())
		}
		return floatToInt(f)
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, "want an integer, got " + quote(x)
		}
		return n, ""
	case float64:
		return floatToInt(x)
	case float32:
		return floatToInt(float64(x))
	case int:
		return int64(x), ""
	case int64:
		return x, ""
	case int32:
		return int64(x), ""
	case uint32:
		return int64(x), ""
	case uint64:
		if x > math.MaxInt64 {
			return 0, "integer out of range"
		}
		return int64(x), ""
	}
	return 0, "want an integer, got " + describe(v)
}

func floatToInt(f float64) (int64, string) {
	if f != math.Trunc(f) || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, "want an integer, got " + strconv.FormatFloat(f, 'g', -1, 64)
	}
	if f < -9.2e18 || f > 9.2e18 {
		return 0, "integer out of range"
	}
	return int64(f), ""
}

func asFloat(v any) (float64, string) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, "want a number, got " + quote(x.String())
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, "want a number, got " + quote(x)
		}
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	default:
		return 0, "want a number, got " + describe(v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, "want a finite number"
	}
	return f, ""
}

func asBool(v any) (any, string) {
	switch x := v.(type) {
	case bool:
		return x, ""
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1":
			return true, ""
		case "false", "0":
			return false, ""
		}
		return nil, "want true or false, got " + quote(x)
	}
	return nil, "want true or false, got " + describe(v)
}

func asDuration(v any) (time.Duration, string) {
	switch x := v.(type) {
	case time.Duration:
		return x, ""
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			return 0, "want a duration like 250ms or 2s, got " + quote(x)
		}
		return d, ""
	case json.Number:
		if x.String() == "0" {
			return 0, ""
		}
		return 0, "want a duration string like 250ms or 2s, got the bare number " + clip(x.String(), 32) + " (which unit?)"
	}
	return 0, "want a duration like 250ms or 2s, got " + describe(v)
}

// describe names a value's JSON kind for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64, float32, int, int64, int32, uint32, uint64:
		return "a number"
	case string:
		return "the string " + quote(x)
	case []any, []string:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

func quote(s string) string { return strconv.Quote(clip(s, 64)) }

// clip cuts s to at most n bytes (on a rune boundary) for messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
