package script_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/cluster/script"
)

func TestToGo(t *testing.T) {
	big := starlark.MakeInt64(math.MaxInt64).Add(starlark.MakeInt(1))
	dict := starlark.NewDict(2)
	require.NoError(t, dict.SetKey(starlark.String("a"), starlark.NewList([]starlark.Value{starlark.MakeInt(1), starlark.Float(1.5)})))
	require.NoError(t, dict.SetKey(starlark.String("b"), starlark.Tuple{starlark.None, starlark.True}))
	badKey := starlark.NewDict(1)
	require.NoError(t, badKey.SetKey(starlark.MakeInt(1), starlark.None))
	set := starlark.NewSet(1)
	require.NoError(t, set.Insert(starlark.String("x")))
	cyclic := starlark.NewList(nil)
	require.NoError(t, cyclic.Append(cyclic))

	tests := []struct {
		name string
		in   starlark.Value
		want any
		err  string
	}{
		{"none", starlark.None, nil, ""},
		{"bool", starlark.True, true, ""},
		{"int", starlark.MakeInt(-3), int64(-3), ""},
		{"float", starlark.Float(2.5), 2.5, ""},
		{"string", starlark.String("hé"), "hé", ""},
		{"bytes", starlark.Bytes("\x00\x01"), []byte{0, 1}, ""},
		{"dict", dict, map[string]any{"a": []any{int64(1), 1.5}, "b": []any{nil, true}}, ""},
		{"set", set, []any{"x"}, ""},
		{"struct", starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"k": starlark.String("v")}), map[string]any{"k": "v"}, ""},
		{"big int", big, nil, "does not fit in 64 bits"},
		{"nan", starlark.Float(math.NaN()), nil, "no JSON form"},
		{"int dict key", badKey, nil, "only string keys"},
		{"function", starlark.NewBuiltin("f", nil), nil, "cannot convert a builtin_function_or_method"},
		{"cyclic list", cyclic, nil, "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := script.ToGo(tt.in)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFromGo(t *testing.T) {
	type sample struct {
		A int    `json:"a"`
		B string `json:"b,omitempty"`
	}
	var nilPtr *sample
	tests := []struct {
		name string
		in   any
		want string // the Starlark repr
		err  string
	}{
		{"nil", nil, "None", ""},
		{"bool", true, "True", ""},
		{"int", 7, "7", ""},
		{"uint64", uint64(math.MaxUint64), "18446744073709551615", ""},
		{"float", 0.5, "0.5", ""},
		{"string", "x", `"x"`, ""},
		{"bytes", []byte("ab"), `b"ab"`, ""},
		{"json number", json.Number("12"), "12", ""},
		{"json float", json.Number("1.25"), "1.25", ""},
		{"slice", []string{"a", "b"}, `["a", "b"]`, ""},
		{"nil slice", []int(nil), "[]", ""},
		{"map sorted", map[string]int{"b": 2, "a": 1}, `{"a": 1, "b": 2}`, ""},
		{"pid", cluster.PID{Node: "n1", ID: 4}, `"n1/4"`, ""},
		{"time", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), `"2026-01-02T03:04:05Z"`, ""},
		{"struct", sample{A: 1}, `{"a": 1}`, ""},
		{"pointer", &sample{A: 2, B: "x"}, `{"a": 2, "b": "x"}`, ""},
		{"nil pointer", nilPtr, "None", ""},
		{"starlark value", starlark.MakeInt(3), "3", ""},
		{"int map key", map[int]string{1: "a"}, "", "only string keys"},
		{"channel", make(chan int), "", "cannot convert a Go chan int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := script.FromGo(tt.in)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.String())
		})
	}
}

func TestConvertRoundTrip(t *testing.T) {
	in := map[string]any{"a": []any{int64(1), "x", nil, true, 2.5}, "b": map[string]any{"c": []byte("d")}}
	v, err := script.FromGo(in)
	require.NoError(t, err)
	out, err := script.ToGo(v)
	require.NoError(t, err)
	assert.Equal(t, in, out)
}
