package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Rendering of operation results as readable text for the CLI: objects as
// "key: value" lines, arrays of objects as tables. Key order is kept as
// the server sent it.

// field is one key of a JSON object, in order.
type field struct {
	key string
	val any
}

// object is a JSON object with its key order.
type object []field

// maxRenderDepth bounds the nesting decodeOrdered follows.
const maxRenderDepth = 64

// decodeOrdered decodes one JSON value keeping object key order: objects
// become object, arrays []any, numbers json.Number.
func decodeOrdered(dec *json.Decoder) (any, error) { return decodeOrderedDepth(dec, 0) }

func decodeOrderedDepth(dec *json.Decoder, depth int) (any, error) {
	if depth > maxRenderDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxRenderDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var o object
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeOrderedDepth(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o = append(o, field{k, v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			if o == nil {
				o = object{}
			}
			return o, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeOrderedDepth(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

// renderResult prints a result as text.
func renderResult(w io.Writer, raw json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeOrdered(dec)
	if err != nil {
		_, err = fmt.Fprintf(w, "%s\n", raw)
		return err
	}
	switch x := v.(type) {
	case object:
		var tables []field
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		for _, f := range x {
			if arr, ok := f.val.([]any); ok && len(arr) > 0 && allObjects(arr) {
				tables = append(tables, f)
				continue
			}
			fmt.Fprintf(tw, "%s:\t%s\n", f.key, cell(f.val, 200))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, t := range tables {
			fmt.Fprintf(w, "\n%s (%d)\n", strings.ToUpper(t.key), len(t.val.([]any)))
			if err := renderTable(w, t.val.([]any)); err != nil {
				return err
			}
		}
		return nil
	case []any:
		if len(x) == 0 {
			_, err := fmt.Fprintln(w, "(none)")
			return err
		}
		if allObjects(x) {
			return renderTable(w, x)
		}
	}
	_, err = fmt.Fprintln(w, cell(v, 10000))
	return err
}

func allObjects(arr []any) bool {
	for _, v := range arr {
		if _, ok := v.(object); !ok {
			return false
		}
	}
	return true
}

// maxColumns bounds a table's width; later keys are left out.
const maxColumns = 12

func renderTable(w io.Writer, rows []any) error {
	var cols []string
	seen := map[string]bool{}
	for _, r := range rows {
		for _, f := range r.(object) {
			if !seen[f.key] && len(cols) < maxColumns {
				seen[f.key] = true
				cols = append(cols, f.key)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	head := make([]string, len(cols))
	for i, c := range cols {
		head[i] = strings.ToUpper(c)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		vals := map[string]any{}
		for _, f := range r.(object) {
			vals[f.key] = f.val
		}
		line := make([]string, len(cols))
		for i, c := range cols {
			v, ok := vals[c]
			if !ok {
				line[i] = "-"
				continue
			}
			line[i] = cell(v, 40)
		}
		fmt.Fprintln(tw, strings.Join(line, "\t"))
	}
	return tw.Flush()
}

// cell formats one value for a table cell or a key line.
func cell(v any, width int) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if x == "" {
			return "-"
		}
		return oneLine(x, width)
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case []any:
		if len(x) == 0 {
			return "(none)"
		}
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = cell(e, width)
		}
		return oneLine(strings.Join(parts, ","), width)
	case object:
		if len(x) == 0 {
			return "-"
		}
		parts := make([]string, len(x))
		for i, f := range x {
			parts[i] = f.key + "=" + cell(f.val, width)
		}
		return oneLine(strings.Join(parts, " "), width)
	}
	return oneLine(fmt.Sprint(v), width)
}

// oneLine flattens s to one line of at most width runes.
func oneLine(s string, width int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > width {
		return string(r[:width-1]) + "…"
	}
	return s
}

// compactJSON renders any value as compact JSON cut to width.
func compactJSON(v any, width int) string {
	if s, ok := v.(string); ok {
		return oneLine(s, width)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return oneLine(fmt.Sprint(v), width)
	}
	return oneLine(string(b), width)
}
