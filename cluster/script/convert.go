package script

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// MaxDepth bounds the nesting ToGo and FromGo follow (Starlark lists can
// contain themselves).
const MaxDepth = 64

// ToGo converts a Starlark value to JSON-able Go values: None → nil, bool,
// int → int64, float → float64, string → string, bytes → []byte, list,
// tuple and set → []any, dict (string keys) and struct → map[string]any.
// Functions, modules, integers beyond int64 and non-finite floats are
// errors.
func ToGo(v starlark.Value) (any, error) { return toGo(v, 0) }

func toGo(v starlark.Value, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("value nested more than %d deep", MaxDepth)
	}
	switch x := v.(type) {
	case nil, starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(x), nil
	case starlark.Int:
		i, ok := x.Int64()
		if !ok {
			return nil, fmt.Errorf("integer %s does not fit in 64 bits", x)
		}
		return i, nil
	case starlark.Float:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("float %v has no JSON form", f)
		}
		return f, nil
	case starlark.String:
		return string(x), nil
	case starlark.Bytes:
		return []byte(x), nil
	case *starlark.List:
		return iterToGo(x, x.Len(), depth)
	case starlark.Tuple:
		return iterToGo(x, x.Len(), depth)
	case *starlark.Set:
		return iterToGo(x, x.Len(), depth)
	case *starlark.Dict:
		out := make(map[string]any, x.Len())
		for _, kv := range x.Items() {
			k, ok := kv[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("dict key %s is a %s: only string keys convert", kv[0], kv[0].Type())
			}
			gv, err := toGo(kv[1], depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%q]: %w", string(k), err)
			}
			out[string(k)] = gv
		}
		return out, nil
	case *starlarkstruct.Struct:
		out := map[string]any{}
		for _, name := range x.AttrNames() {
			av, err := x.Attr(name)
			if err != nil {
				return nil, err
			}
			gv, err := toGo(av, depth+1)
			if err != nil {
				return nil, fmt.Errorf(".%s: %w", name, err)
			}
			out[name] = gv
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot convert a %s to a Go value", v.Type())
}

func iterToGo(it starlark.Iterable, n int, depth int) ([]any, error) {
	out := make([]any, 0, n)
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for i := 0; iter.Next(&x); i++ {
		gv, err := toGo(x, depth+1)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, gv)
	}
	return out, nil
}

// FromGo converts a Go value to Starlark: nil → None, bools, integers,
// floats, strings, []byte → bytes, json.Number, slices and arrays → list,
// maps with string keys → dict (sorted keys), encoding.TextMarshaler
// (cluster.PID, time.Time) → string, pointers followed, and any other
// struct through its JSON form. A starlark.Value is returned as is.
func FromGo(x any) (starlark.Value, error) { return fromGo(x, 0) }

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

func fromGo(x any, depth int) (starlark.Value, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("value nested more than %d deep", MaxDepth)
	}
	switch v := x.(type) {
	case nil:
		return starlark.None, nil
	case starlark.Value:
		return v, nil
	case bool:
		return starlark.Bool(v), nil
	case string:
		return starlark.String(v), nil
	case []byte:
		return starlark.Bytes(v), nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return starlark.MakeInt64(i), nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("json number %q: %v", v, err)
		}
		return starlark.Float(f), nil
	case encoding.TextMarshaler:
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return starlark.None, nil
		}
		b, err := v.MarshalText()
		if err != nil {
			return nil, err
		}
		return starlark.String(b), nil
	}
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Bool:
		return starlark.Bool(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return starlark.MakeInt64(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return starlark.MakeUint64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return starlark.Float(rv.Float()), nil
	case reflect.String:
		return starlark.String(rv.String()), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return starlark.None, nil
		}
		return fromGo(rv.Elem().Interface(), depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return starlark.NewList(nil), nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 && !rv.Type().Elem().Implements(textMarshaler) {
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return starlark.Bytes(b), nil
		}
		elems := make([]starlark.Value, 0, rv.Len())
		for i := range rv.Len() {
			e, err := fromGo(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			elems = append(elems, e)
		}
		return starlark.NewList(elems), nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map with %s keys: only string keys convert", rv.Type().Key())
		}
		keys := make([]string, 0, rv.Len())
		vals := make(map[string]reflect.Value, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			k := iter.Key().String()
			keys = append(keys, k)
			vals[k] = iter.Value()
		}
		sort.Strings(keys)
		d := starlark.NewDict(len(keys))
		for _, k := range keys {
			e, err := fromGo(vals[k].Interface(), depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%q]: %w", k, err)
			}
			if err := d.SetKey(starlark.String(k), e); err != nil {
				return nil, err
			}
		}
		return d, nil
	case reflect.Struct:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", rv.Type(), err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var g any
		if err := dec.Decode(&g); err != nil {
			return nil, fmt.Errorf("%s: %v", rv.Type(), err)
		}
		return fromGo(g, depth+1)
	}
	return nil, fmt.Errorf("cannot convert a Go %T to Starlark", x)
}
