package scenario

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Strict decoding: yaml.Node.Decode has no KnownFields switch, so
// decodeStrict first walks the node against the target type and rejects
// unknown keys and values of the wrong shape, with their line, then lets
// the library fill the value.

var (
	yamlNodeType    = reflect.TypeFor[yaml.Node]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// decodeStrict decodes n into out (a pointer) after checking that every
// mapping key names a field and every value has the field's shape. what
// names the value in messages ("spawn", "placement").
func decodeStrict(n *yaml.Node, out any, what string) error {
	n = resolveAlias(n)
	if err := checkShape(n, reflect.TypeOf(out).Elem(), what, 0); err != nil {
		return err
	}
	if err := n.Decode(out); err != nil {
		if le, ok := err.(*lineError); ok {
			return le
		}
		pe := yamlError(err)
		return &lineError{line: pe.Line, msg: pe.Msg}
	}
	return nil
}

// maxDepth bounds how deep checkShape follows nested values.
const maxDepth = 32

func checkShape(n *yaml.Node, t reflect.Type, what string, depth int) error {
	n = resolveAlias(n)
	if depth > maxDepth {
		return errAt(n, "%s: nested too deeply", what)
	}
	if isNull(n) || t == yamlNodeType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	label := what
	if label != "" {
		label += ": "
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkShape(n, t.Elem(), what, depth+1)
	case reflect.Struct:
		fields := yamlFields(t)
		if n.Kind != yaml.MappingNode {
			return errAt(n, "%swant a mapping with fields %s, got %s", label, strings.Join(sortedKeys(fields), ", "), describeNode(n))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				return errAt(k, "%sunknown field %q (known: %s)", label, k.Value, strings.Join(sortedKeys(fields), ", "))
			}
			if err := checkShape(v, f.Type, join(what, k.Value), depth+1); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return errAt(n, "%swant a list, got %s", label, describeNode(n))
		}
		for i, item := range n.Content {
			if err := checkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", what, i), depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return errAt(n, "%swant a mapping, got %s", label, describeNode(n))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkShape(n.Content[i+1], t.Elem(), join(what, n.Content[i].Value), depth+1); err != nil {
				return err
			}
		}
	case reflect.Interface:
		return nil
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return errAt(n, "%swant a string, got %s", label, describeNode(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			return errAt(n, "%swant true or false, got %s", label, describeNode(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			return errAt(n, "%swant an integer, got %s", label, describeNode(n))
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") {
			return errAt(n, "%swant a number, got %s", label, describeNode(n))
		}
	}
	return nil
}

func join(what, field string) string {
	if what == "" {
		return field
	}
	return what + "." + field
}

// yamlFields maps the YAML keys of struct type t to its fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			for k, sub := range yamlFields(f.Type) {
				out[k] = sub
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// resolveAlias follows a YAML alias to its anchored node.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports an absent value: "key:" with nothing, "~" or "null".
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describeNode names what a node holds, for error messages.
func describeNode(n *yaml.Node) string {
	n = resolveAlias(n)
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "the number " + v
		case "!!bool":
			return v
		}
		return strconv.Quote(v)
	}
	return "an unexpected value"
}

// scalarString returns the text of a scalar node, or an error naming what.
func scalarString(n *yaml.Node, what string) (string, error) {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		return "", errAt(n, "%s: want a string, got %s", what, describeNode(n))
	}
	return n.Value, nil
}

// duration is a time.Duration written as a Go duration string ("500ms").
type duration time.Duration

// UnmarshalYAML reads "500ms", "2s", "1m30s".
func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind != yaml.ScalarNode {
		return errAt(n, "want a duration like 500ms or 2s, got %s", describeNode(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		if n.ShortTag() == "!!int" || n.ShortTag() == "!!float" {
			return errAt(n, "%s is not a duration: add a unit, like %sms or %ss", n.Value, n.Value, n.Value)
		}
		return errAt(n, "%q is not a duration like 500ms or 2s", n.Value)
	}
	if v < 0 {
		return errAt(n, "duration %s is negative", n.Value)
	}
	if v > MaxWait {
		return errAt(n, "duration %s is longer than the limit %s", n.Value, MaxWait)
	}
	*d = duration(v)
	return nil
}

// D returns the time.Duration.
func (d duration) D() time.Duration { return time.Duration(d) }

// String prints the Go duration.
func (d duration) String() string { return time.Duration(d).String() }

// rawArgs is a process's spawn arguments: written as a YAML mapping (sent
// as JSON, which the workloads read) or as a JSON string.
type rawArgs []byte

// UnmarshalYAML reads a mapping or list (converted to JSON) or a string of
// JSON.
func (a *rawArgs) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	switch {
	case isNull(n):
		*a = nil
		return nil
	case n.Kind == yaml.ScalarNode:
		if !json.Valid([]byte(n.Value)) {
			return errAt(n, "args: want a mapping, or a string of JSON; %s is not JSON", describeNode(n))
		}
		*a = rawArgs(n.Value)
		return nil
	case n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return errAt(n, "args: %v", err)
		}
		b, err := json.Marshal(jsonable(v, 0))
		if err != nil {
			return errAt(n, "args: cannot be written as JSON: %v", err)
		}
		*a = b
		return nil
	}
	return errAt(n, "args: want a mapping, got %s", describeNode(n))
}

// jsonable converts YAML-decoded values to values encoding/json accepts.
func jsonable(v any, depth int) any {
	if depth > maxDepth {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e, depth+1)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonable(e, depth+1)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e, depth+1)
		}
		return out
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return v
}

// decodeScalarOr decodes n as a struct (strictly) or, when n is a plain
// scalar, hands its text to setScalar: the shorthand forms like
// `kill: $e1` next to `kill: {pid: $e1, reason: x}`.
func decodeScalarOr(n *yaml.Node, out any, what string, setScalar func(string)) error {
	n = resolveAlias(n)
	if n != nil && n.Kind == yaml.ScalarNode && !isNull(n) {
		setScalar(n.Value)
		return nil
	}
	return decodeStrict(n, out, what)
}
