package app

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRenderResult(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"object with a table", `{"total":2,"items":[{"b":1,"a":"x"},{"a":"y","c":true}],"empty":[]}`,
			[]string{"total:  2", "empty:  (none)", "ITEMS (2)", "B  A  C", "1  x  -", "-  y  yes"}},
		{"array of objects", `[{"name":"n1","tags":{"zone":"a"}}]`, []string{"NAME  TAGS", "n1    zone=a"}},
		{"empty array", `[]`, []string{"(none)"}},
		{"scalar", `"hello"`, []string{"hello"}},
		{"null", `null`, []string{"-"}},
		{"long cell", `[{"v":"` + string(bytes.Repeat([]byte("x"), 100)) + `"}]`, []string{"…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, renderResult(&out, json.RawMessage(tt.in)))
			for _, w := range tt.want {
				assert.Contains(t, out.String(), w)
			}
		})
	}
}

// FuzzRenderResult feeds arbitrary bytes (an answer from a server) to the
// CLI's renderer: it must never panic.
func FuzzRenderResult(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[{"b":{"c":[1,2]}}]}`, `[1,{"a":1}]`, `{"a":`, `"x"`, `[[[[]]]]`, `{"a":1}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		_ = renderResult(&out, json.RawMessage(b))
	})
}
