package operations

import (
	"time"
)

// PIDPattern is the JSON-schema pattern of a pid string (node/id).
const PIDPattern = `^[!-.0-~]+/[1-9][0-9]*$`

// DurationPattern is the JSON-schema pattern of a duration string.
const DurationPattern = `^-?([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$|^0$`

// Schema returns the JSON schema (the OpenAPI 3.0 subset) of one
// parameter in its canonical form. Strings are accepted for every type too
// (see the Type constants), which the schema does not spell out.
func (p Param) Schema() map[string]any {
	s := typeSchema(p.Type, p.Items, p.Enum)
	if p.Description != "" {
		s["description"] = p.Description
	}
	if p.Default != nil {
		s["default"] = canonicalJSON(p.Default)
	}
	switch p.Type {
	case TypeInt, TypeFloat:
		if p.Min != nil {
			s["minimum"] = *p.Min
		}
		if p.Max != nil {
			s["maximum"] = *p.Max
		}
	case TypeString:
		if p.Secret {
			s["format"] = "password"
			s["writeOnly"] = true
		}
		if p.MinLen != nil {
			s["minLength"] = *p.MinLen
		}
		if p.MaxLen != nil {
			s["maxLength"] = *p.MaxLen
		}
		if p.Pattern != "" {
			s["pattern"] = "^(?:" + p.Pattern + ")$"
		}
	case TypeList:
		if p.MinLen != nil {
			s["minItems"] = *p.MinLen
		}
		if p.MaxLen != nil {
			s["maxItems"] = *p.MaxLen
		}
	}
	return s
}

func typeSchema(typ, items string, enum []string) map[string]any {
	switch typ {
	case TypeInt:
		return map[string]any{"type": "integer", "format": "int64"}
	case TypeFloat:
		return map[string]any{"type": "number", "format": "double"}
	case TypeBool:
		return map[string]any{"type": "boolean"}
	case TypeDuration:
		return map[string]any{"type": "string", "format": "duration", "pattern": DurationPattern, "example": "2s"}
	case TypePID:
		return map[string]any{"type": "string", "format": "pid", "pattern": PIDPattern, "example": "node-1/4"}
	case TypeNode:
		return map[string]any{"type": "string", "format": "node", "minLength": 1, "maxLength": 128}
	case TypeEnum:
		vals := make([]any, len(enum))
		for i, v := range enum {
			vals[i] = v
		}
		return map[string]any{"type": "string", "enum": vals}
	case TypeList:
		outer, inner := splitItems(items)
		return map[string]any{"type": "array", "items": typeSchema(outer, inner, enum)}
	case TypeObject:
		return map[string]any{"type": "object", "additionalProperties": true}
	}
	return map[string]any{"type": "string"}
}

// canonicalJSON turns a default value into what its JSON form should be:
// durations as strings.
func canonicalJSON(v any) any {
	if d, ok := v.(time.Duration); ok {
		return d.String()
	}
	return v
}

// ParamsSchema returns the JSON schema of an operation's parameters as one
// object: properties, required names, no additional properties.
func (s Spec) ParamsSchema() map[string]any {
	props := map[string]any{}
	var required []any
	for _, p := range s.Params {
		props[p.Name] = p.Schema()
		if p.Required {
			required = append(required, p.Name)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// CatalogEntry is one operation as the catalog lists it: its spec, the
// JSON schema of its parameters, where it comes from, and for an operation
// that failed to load, its load error (and only Name and Source then).
type CatalogEntry struct {
	Spec
	// TimeoutMS is the run's time bound in milliseconds.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
	// Schema is the JSON schema of the parameters object.
	Schema map[string]any `json:"schema,omitempty"`
	// Source is SourceBuiltin or a script's path.
	Source string `json:"source"`
	// LoadError is set for an operation that failed to load.
	LoadError string `json:"load_error,omitempty"`
}

// Catalog lists every operation, then every load failure, for the
// surfaces.
func (r *Registry) Catalog() []CatalogEntry {
	entries := r.List()
	failures := r.Failures()
	out := make([]CatalogEntry, 0, len(entries)+len(failures))
	for _, e := range entries {
		out = append(out, e.CatalogEntry())
	}
	for _, f := range failures {
		out = append(out, CatalogEntry{Spec: Spec{Name: f.Name, Category: "broken", Summary: "failed to load", Params: []Param{}}, Source: f.Source, LoadError: f.Error})
	}
	return out
}

// CatalogEntry returns the entry as the catalog lists it.
func (e Entry) CatalogEntry() CatalogEntry {
	spec := e.Spec
	if spec.Params == nil {
		spec.Params = []Param{}
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	params := make([]Param, len(spec.Params))
	for i, p := range spec.Params {
		p.Default = canonicalJSON(p.Default)
		params[i] = p
	}
	spec.Params = params
	return CatalogEntry{Spec: spec, TimeoutMS: timeout.Milliseconds(), Schema: spec.ParamsSchema(), Source: e.Source}
}
