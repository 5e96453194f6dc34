package operations

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

// everyType is a spec with one parameter of each type and constraints.
var everyType = Spec{
	Name: "every_type",
	Params: []Param{
		{Name: "s", Type: TypeString, MinLen: N(2), MaxLen: N(8), Pattern: `[a-z]+`},
		{Name: "i", Type: TypeInt, Min: F(1), Max: F(100), Default: int64(10)},
		{Name: "f", Type: TypeFloat, Min: F(0), Max: F(1)},
		{Name: "b", Type: TypeBool, Default: false},
		{Name: "d", Type: TypeDuration, Default: "2s", Max: F(60)},
		{Name: "p", Type: TypePID},
		{Name: "n", Type: TypeNode},
		{Name: "e", Type: TypeEnum, Enum: []string{"red", "green"}},
		{Name: "l", Type: TypeList, Items: TypeInt, MaxLen: N(3)},
		{Name: "ll", Type: TypeList, Items: "list:string"},
		{Name: "o", Type: TypeObject},
		{Name: "req", Type: TypeString},
	},
}

func TestValidateParamsCoercion(t *testing.T) {
	known := func() []string { return []string{"node-1", "node-2"} }
	c, err := newChecker(everyType)
	require.NoError(t, err)
	tests := []struct {
		name string
		raw  map[string]any
		key  string
		want any
	}{
		{"string", map[string]any{"s": "abc"}, "s", "abc"},
		{"int from string", map[string]any{"i": "5"}, "i", int64(5)},
		{"int from json number", map[string]any{"i": json.Number("7")}, "i", int64(7)},
		{"int from integral float", map[string]any{"i": json.Number("8.0")}, "i", int64(8)},
		{"int from float64", map[string]any{"i": 9.0}, "i", int64(9)},
		{"int default", map[string]any{}, "i", int64(10)},
		{"float from string", map[string]any{"f": "0.25"}, "f", 0.25},
		{"bool from string", map[string]any{"b": "true"}, "b", true},
		{"bool from 0", map[string]any{"b": "0"}, "b", false},
		{"bool default", map[string]any{}, "b", false},
		{"duration from string", map[string]any{"d": "250ms"}, "d", 250 * time.Millisecond},
		{"duration default", map[string]any{}, "d", 2 * time.Second},
		{"pid from string", map[string]any{"p": "node-1/4"}, "p", cluster.PID{Node: "node-1", ID: 4}},
		{"node", map[string]any{"n": "node-2"}, "n", "node-2"},
		{"enum", map[string]any{"e": "green"}, "e", "green"},
		{"list from commas", map[string]any{"l": "1, 2,3"}, "l", []any{int64(1), int64(2), int64(3)}},
		{"list from json", map[string]any{"l": "[4,5]"}, "l", []any{int64(4), int64(5)}},
		{"list from array", map[string]any{"l": []any{json.Number("6")}}, "l", []any{int64(6)}},
		{"list of lists from string", map[string]any{"ll": "a,b;c"}, "ll", []any{[]any{"a", "b"}, []any{"c"}}},
		{"list of lists from json", map[string]any{"ll": []any{[]any{"x"}}}, "ll", []any{[]any{"x"}}},
		{"object", map[string]any{"o": map[string]any{"k": "v"}}, "o", map[string]any{"k": "v"}},
		{"object from string", map[string]any{"o": `{"k":"v"}`}, "o", map[string]any{"k": "v"}},
		{"null is absent", map[string]any{"i": nil}, "i", int64(10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.validate(tt.raw, known)
			require.NoError(t, err, "validate(%v)", tt.raw)
			assert.Equal(t, tt.want, p[tt.key], "validate(%v)[%s]", tt.raw, tt.key)
		})
	}
}

func TestValidateParamsErrors(t *testing.T) {
	known := func() []string { return []string{"node-1", "node-2"} }
	spec := everyType
	spec.Params = append(append([]Param{}, spec.Params...), Param{Name: "must", Type: TypeInt, Required: true})
	c, err := newChecker(spec)
	require.NoError(t, err)
	base := map[string]any{"must": 1}
	tests := []struct {
		name    string
		raw     map[string]any
		param   string
		message string
	}{
		{"missing required", map[string]any{}, "must", "required int parameter is missing"},
		{"unknown param", map[string]any{"zzz": 1}, "zzz", "unknown parameter"},
		{"int not a number", map[string]any{"i": "five"}, "i", "want an integer"},
		{"int fractional", map[string]any{"i": json.Number("1.5")}, "i", "want an integer"},
		{"int bool", map[string]any{"i": true}, "i", "want an integer, got a boolean"},
		{"int below min", map[string]any{"i": 0}, "i", "below the minimum 1"},
		{"int above max", map[string]any{"i": "101"}, "i", "above the maximum 100"},
		{"float NaN", map[string]any{"f": "NaN"}, "f", "finite"},
		{"float above max", map[string]any{"f": 2.0}, "f", "above the maximum"},
		{"bool word", map[string]any{"b": "maybe"}, "b", "want true or false"},
		{"duration bare number", map[string]any{"d": json.Number("5")}, "d", "which unit"},
		{"duration garbage", map[string]any{"d": "soon"}, "d", "want a duration"},
		{"duration negative", map[string]any{"d": "-1s"}, "d", "negative"},
		{"duration above max", map[string]any{"d": "2m"}, "d", "above the maximum 1m0s"},
		{"pid garbage", map[string]any{"p": "abc"}, "p", "want a pid"},
		{"pid number", map[string]any{"p": 5}, "p", "want a pid"},
		{"pid zero id", map[string]any{"p": "node-1/0"}, "p", "want a pid"},
		{"node unknown", map[string]any{"n": "node-9"}, "n", "unknown node \"node-9\" (known: node-1, node-2)"},
		{"node bad name", map[string]any{"n": "a b"}, "n", "want a node name"},
		{"enum outside", map[string]any{"e": "blue"}, "e", "is not one of red, green"},
		{"string too short", map[string]any{"s": "a"}, "s", "fewer than 2"},
		{"string too long", map[string]any{"s": "abcdefghi"}, "s", "more than 8"},
		{"string pattern", map[string]any{"s": "AB"}, "s", "does not match"},
		{"string object", map[string]any{"s": map[string]any{}}, "s", "want a string, got an object"},
		{"list too long", map[string]any{"l": "1,2,3,4"}, "l", "more than 3"},
		{"list bad element", map[string]any{"l": "1,x"}, "l", "element 1: want an integer"},
		{"list bad json", map[string]any{"l": "[1,"}, "l", "want a JSON array"},
		{"list of lists scalar element", map[string]any{"ll": []any{json.Number("1")}}, "ll", "element 0: want a list, got a number"},
		{"object scalar", map[string]any{"o": 3}, "o", "want a JSON object"},
		{"object bad json", map[string]any{"o": "{x"}, "o", "want a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := map[string]any{}
			for k, v := range base {
				raw[k] = v
			}
			for k, v := range tt.raw {
				raw[k] = v
			}
			if tt.param == "must" {
				delete(raw, "must")
			}
			_, err := c.validate(raw, known)
			require.Error(t, err, "validate(%v)", raw)
			oe := AsError(err, nil)
			assert.Equal(t, CodeInvalidParams, oe.Code)
			assert.Equal(t, 400, oe.Status())
			list, ok := oe.Details["params"].([]ParamError)
			require.True(t, ok, "details.params = %#v", oe.Details["params"])
			require.NotEmpty(t, list)
			assert.Equal(t, tt.param, list[0].Param)
			assert.Contains(t, list[0].Message, tt.message)
			assert.Contains(t, oe.Remediation, "op describe every_type")
		})
	}
}

func TestValidateParamsReportsEveryFailure(t *testing.T) {
	_, err := ValidateParams(everyType, map[string]any{"i": "x", "b": "y", "nope": 1}, nil)
	oe := AsError(err, nil)
	require.NotNil(t, oe)
	assert.Len(t, oe.Details["params"], 3)
	assert.Contains(t, oe.Message, "(and 2 more)")
}

func TestNewCheckerRejectsBadSpecs(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"bad name", Spec{Name: "Bad-Name"}, "spec name"},
		{"unknown type", Spec{Name: "x", Params: []Param{{Name: "a", Type: "uuid"}}}, "unknown type"},
		{"duplicate", Spec{Name: "x", Params: []Param{{Name: "a", Type: TypeInt}, {Name: "a", Type: TypeInt}}}, "declared twice"},
		{"enum without values", Spec{Name: "x", Params: []Param{{Name: "a", Type: TypeEnum}}}, "enum without values"},
		{"bad pattern", Spec{Name: "x", Params: []Param{{Name: "a", Type: TypeString, Pattern: "("}}}, "pattern"},
		{"bad default", Spec{Name: "x", Params: []Param{{Name: "a", Type: TypeInt, Default: "x"}}}, "default"},
		{"required with default", Spec{Name: "x", Params: []Param{{Name: "a", Type: TypeInt, Required: true, Default: int64(1)}}}, "required with a default"},
		{"min above max", Spec{Name: "x", Params: []Param{{Name: "a", Type: TypeInt, Min: F(2), Max: F(1)}}}, "min 2 > max 1"},
		{"list without items", Spec{Name: "x", Params: []Param{{Name: "a", Type: TypeList}}}, "list items"},
		{"list of lists without inner", Spec{Name: "x", Params: []Param{{Name: "a", Type: TypeList, Items: "list"}}}, "inner type"},
		{"timeout too long", Spec{Name: "x", Timeout: time.Hour}, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newChecker(tt.spec)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]any
		errCode string
	}{
		{"", map[string]any{}, ""},
		{"null", map[string]any{}, ""},
		{`{"a": 1}`, map[string]any{"a": json.Number("1")}, ""},
		{`[1]`, nil, CodeBadRequest},
		{`"x"`, nil, CodeBadRequest},
		{`{"a":`, nil, CodeBadRequest},
		{`{} {}`, nil, CodeBadRequest},
		{`{"a":1}` + strings.Repeat(" ", MaxParamsBytes), nil, CodeBadRequest},
	}
	for _, tt := range tests {
		got, err := DecodeJSON([]byte(tt.in))
		if tt.errCode != "" {
			require.Error(t, err, "DecodeJSON(%.20q)", tt.in)
			assert.Equal(t, tt.errCode, AsError(err, nil).Code)
			continue
		}
		require.NoError(t, err, "DecodeJSON(%q)", tt.in)
		assert.Equal(t, tt.want, got, "DecodeJSON(%q)", tt.in)
	}
}

func TestParamSchema(t *testing.T) {
	s := everyType.ParamsSchema()
	props := s["properties"].(map[string]any)
	assert.Equal(t, "integer", props["i"].(map[string]any)["type"])
	assert.Equal(t, int64(10), props["i"].(map[string]any)["default"])
	assert.Equal(t, "2s", props["d"].(map[string]any)["default"])
	assert.Equal(t, "array", props["ll"].(map[string]any)["items"].(map[string]any)["type"])
	assert.Equal(t, false, s["additionalProperties"])
}

// FuzzParams feeds arbitrary JSON objects through decoding and validation:
// they must never panic, and anything accepted has canonical types.
func FuzzParams(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"s":"abc","i":"5","f":0.5,"b":"true","d":"1s","p":"n/1","n":"node-1","e":"red","l":"1,2","ll":"a;b,c","o":{"x":[1,{"y":null}]}}`,
		`{"i":1e400}`, `{"l":[[[[]]]]}`, `{"ll":"[[1],[2]]"}`, `{"o":"{\"a\":1}"}`, `{"d":-9223372036854775808}`,
		`{"i":-9223372036854775809}`, `{"p":{"node":"x","id":1}}`, `{"s":"\u0000"}`, `[]`, `{"zz":1,"i":null}`,
	} {
		f.Add([]byte(seed))
	}
	c, err := newChecker(everyType)
	if err != nil {
		f.Fatal(err)
	}
	known := func() []string { return []string{"node-1"} }
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, err := DecodeJSON(b)
		if err != nil {
			if AsError(err, nil).Code != CodeBadRequest {
				t.Fatalf("DecodeJSON error code %q", AsError(err, nil).Code)
			}
			return
		}
		p, err := c.validate(raw, known)
		if err != nil {
			if AsError(err, nil).Code != CodeInvalidParams {
				t.Fatalf("validate error code %q", AsError(err, nil).Code)
			}
			return
		}
		for k, v := range p {
			switch v.(type) {
			case string, int64, float64, bool, time.Duration, cluster.PID, []any, map[string]any:
			default:
				t.Fatalf("param %s has non-canonical type %T", k, v)
			}
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("validated params do not encode: %v", err)
		}
	})
}
