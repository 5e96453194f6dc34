package builtin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
)

func listProcesses(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	q := cluster.ProcessQuery{
		Nodes:    p.Strings("node"),
		Behavior: p.String("behavior"),
		Name:     p.String("name"),
		Status:   p.String("status"),
		Label:    p.String("label"),
		Sort:     p.String("sort"),
		Desc:     p.Bool("desc"),
		Limit:    int(p.Int("limit")),
		Cursor:   p.String("cursor"),
	}
	page, err := env.View.Processes(ctx, q)
	if err != nil {
		return nil, err
	}
	return newProcessList(page)
}

// ProcessList is what list_processes returns: a page of processes and the
// nodes that did not answer (always present, empty when all answered).
//
// It writes its own JSON (AppendJSON, MarshalJSON): the same bytes that
// encoding/json writes for the page's cluster.ProcessInfo values, without
// reflection and without a copy of the rows.
type ProcessList struct {
	// Processes are the page's processes, in order.
	Processes []cluster.ProcessInfo
	// Total counts every matching process on the nodes that answered.
	Total int
	// NextCursor continues the query; empty on the last page.
	NextCursor string
	// Missing lists the nodes that did not answer.
	Missing []cluster.NodeError
}

// newProcessList wraps a page, checking that its start times have a JSON
// form (RFC 3339: years 0–9999, zone offsets under 24 h).
func newProcessList(page cluster.ProcessPage) (ProcessList, error) {
	for i := range page.Processes {
		if err := checkJSONTime(page.Processes[i].StartedAt); err != nil {
			return ProcessList{}, fmt.Errorf("builtin: process %s: started_at: %w", page.Processes[i].PID, err)
		}
	}
	return ProcessList{Processes: page.Processes, Total: page.Total, NextCursor: page.NextCursor, Missing: page.Missing}, nil
}

// checkJSONTime reports whether time.Time.MarshalJSON would fail on t.
func checkJSONTime(t time.Time) error {
	if y := t.Year(); y < 0 || y > 9999 {
		return errors.New("year outside of range [0,9999]")
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return errors.New("timezone hour outside of range [0,23]")
	}
	return nil
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (l ProcessList) MarshalJSON() ([]byte, error) {
	return l.AppendJSON(make([]byte, 0, 256+len(l.Processes)*256))
}

// AppendJSON appends the list's JSON to b: what encoding/json with
// SetEscapeHTML(false) writes for
//
//	{"processes": [ProcessInfo...], "total", "next_cursor" (omitempty), "missing": [NodeError...]}
//
// (json.Marshal, which escapes HTML, gets it through MarshalJSON).
func (l ProcessList) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"processes":[`...)
	var err error
	for i := range l.Processes {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendInfoJSON(b, &l.Processes[i]); err != nil {
			return b, fmt.Errorf("builtin: process %s: started_at: %w", l.Processes[i].PID, err)
		}
	}
	b = append(b, `],"total":`...)
	b = strconv.AppendInt(b, int64(l.Total), 10)
	if l.NextCursor != "" {
		b = append(b, `,"next_cursor":`...)
		b = appendJSONString(b, l.NextCursor)
	}
	b = append(b, `,"missing":[`...)
	for i := range l.Missing {
		m := &l.Missing[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"node":`...)
		b = appendJSONString(b, m.Node)
		b = append(b, `,"code":`...)
		b = appendJSONString(b, m.Code)
		if m.State != "" {
			b = append(b, `,"state":`...)
			b = appendJSONString(b, m.State)
		}
		b = append(b, `,"message":`...)
		b = appendJSONString(b, m.Message)
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

// appendInfoJSON appends p as encoding/json encodes a cluster.ProcessInfo
// (field order and omitempty of its tags).
func appendInfoJSON(b []byte, p *cluster.ProcessInfo) ([]byte, error) {
	b = append(b, `{"pid":`...)
	b = appendPIDJSON(b, p.PID)
	b = append(b, `,"node":`...)
	b = appendJSONString(b, p.Node)
	if p.Name != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, p.Name)
	}
	if len(p.Registered) > 0 {
		b = append(b, `,"registered":[`...)
		for i, s := range p.Registered {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	b = append(b, `,"behavior":`...)
	b = appendJSONString(b, p.Behavior)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, p.Status)
	b = append(b, `,"mailbox":`...)
	b = strconv.AppendInt(b, int64(p.Mailbox), 10)
	b = append(b, `,"mailbox_high_water":`...)
	b = strconv.AppendInt(b, int64(p.MailboxHighWater), 10)
	b = append(b, `,"messages_in":`...)
	b = strconv.AppendUint(b, p.MessagesIn, 10)
	b = append(b, `,"messages_out":`...)
	b = strconv.AppendUint(b, p.MessagesOut, 10)
	b = append(b, `,"started_at":"`...)
	n0 := len(b)
	b = p.StartedAt.AppendFormat(b, time.RFC3339Nano)
	if err := checkRFC3339(b[n0:]); err != nil {
		return b, err
	}
	b = append(b, '"')
	b = appendPIDsJSON(b, `,"links":[`, p.Links)
	b = appendPIDsJSON(b, `,"monitors":[`, p.Monitors)
	b = appendPIDsJSON(b, `,"monitoring":[`, p.Monitoring)
	if p.TrapExits {
		b = append(b, `,"trap_exits":true`...)
	}
	if len(p.Labels) > 0 {
		b = append(b, `,"labels":{`...)
		// encoding/json sorts a map's keys.
		var stack [16]string
		keys := stack[:0]
		for k := range p.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, p.Labels[k])
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// checkRFC3339 makes the checks of time.Time.MarshalJSON on its text.
func checkRFC3339(s []byte) error {
	switch {
	case len(s) < 5 || s[4] != '-':
		return errors.New("year outside of range [0,9999]")
	case s[len(s)-1] != 'Z':
		if len(s) < 6 {
			return errors.New("timezone hour outside of range [0,23]")
		}
		c, h := s[len(s)-6], s[len(s)-5:]
		if ('0' <= c && c <= '9') || 10*(h[0]-'0')+(h[1]-'0') >= 24 {
			return errors.New("timezone hour outside of range [0,23]")
		}
	}
	return nil
}

// appendPIDJSON appends a PID's JSON (its text; "" for the zero PID).
func appendPIDJSON(b []byte, p cluster.PID) []byte {
	if p.IsZero() {
		return append(b, `""`...)
	}
	b = appendJSONString(b, p.Node)
	b[len(b)-1] = '/' // the closing quote: "/" and digits need no escape
	b = strconv.AppendUint(b, p.ID, 10)
	return append(b, '"')
}

// appendPIDsJSON appends a PID list field (omitted when empty).
func appendPIDsJSON(b []byte, field string, ps []cluster.PID) []byte {
	if len(ps) == 0 {
		return b
	}
	b = append(b, field...)
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPIDJSON(b, p)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string exactly as encoding/json
// does with SetEscapeHTML(false): quotes, backslashes and control
// characters escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func processInfo(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	return env.View.ProcessInfo(ctx, p.PID("pid"))
}

// SpawnResult is what spawn returns.
type SpawnResult struct {
	PID      cluster.PID `json:"pid"`
	Node     string      `json:"node"`
	Behavior string      `json:"behavior"`
	Name     string      `json:"name,omitempty"`
}

func spawn(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	node, behavior := p.String("node"), p.String("behavior")
	if err := refuseObserver(env, node, "spawn processes"); err != nil {
		return nil, err
	}
	opts := cluster.SpawnOptions{Name: p.String("name"), TrapExits: p.Bool("trap_exits")}
	if args := p.Object("args"); args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, operations.Errorf(operations.CodeInvalidParams, "args: %v", err)
		}
		opts.Args = b
	}
	if labels := p.Object("labels"); labels != nil {
		opts.Labels = make(map[string]string, len(labels))
		for k, v := range labels {
			s, ok := v.(string)
			if !ok {
				return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: fmt.Sprintf("invalid parameters for spawn: labels: the value of %q is not a string", k)}).
					With("params", []operations.ParamError{{Param: "labels", Message: "values must be strings"}})
			}
			opts.Labels[k] = s
		}
	}
	pid, err := env.Node.Spawn(ctx, node, behavior, opts)
	if err != nil {
		return nil, err
	}
	return SpawnResult{PID: pid, Node: pid.Node, Behavior: behavior, Name: opts.Name}, nil
}

func send(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	pid := p.PID("pid")
	// Send to a remote process that does not exist is dropped there
	// silently; ask first so the user hears about a wrong PID.
	if _, err := env.View.ProcessInfo(ctx, pid); err != nil {
		return nil, err
	}
	if err := env.Node.Send(pid, cluster.Message{Kind: p.String("kind"), Body: []byte(p.String("body"))}); err != nil {
		return nil, err
	}
	return map[string]any{"sent": true, "pid": pid, "kind": p.String("kind")}, nil
}

// CallResult is the reply of a call.
type CallResult struct {
	Kind string      `json:"kind"`
	From cluster.PID `json:"from,omitzero"`
	// Body is the reply's body when it is UTF-8 text.
	Body string `json:"body"`
	// BodyBase64 is the body, base64-encoded, when it is not text.
	BodyBase64 string `json:"body_base64,omitempty"`
	// ElapsedMS is the round trip in milliseconds.
	ElapsedMS float64 `json:"elapsed_ms"`
}

func call(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, p.Duration("timeout"))
	defer cancel()
	start := time.Now()
	reply, err := env.Node.Call(ctx, p.PID("pid"), cluster.Message{Kind: p.String("kind"), Body: []byte(p.String("body"))})
	if err != nil {
		return nil, err
	}
	r := CallResult{Kind: reply.Kind, From: reply.From, ElapsedMS: float64(time.Since(start).Microseconds()) / 1000}
	if utf8.Valid(reply.Body) {
		r.Body = string(reply.Body)
	} else {
		r.BodyBase64 = base64.StdEncoding.EncodeToString(reply.Body)
	}
	return r, nil
}

func killProcess(ctx context.Context, env *operations.Env, p operations.Params) (any, error) {
	pid, reason := p.PID("pid"), cluster.Reason(p.String("reason"))
	if err := env.View.Kill(ctx, pid, reason); err != nil {
		return nil, err
	}
	return map[string]any{"killed": true, "pid": pid, "reason": reason}, nil
}

func init() {
	operations.Register(operations.Define(operations.Spec{
		Name:     "list_processes",
		Category: CategoryProcesses,
		Summary:  "List processes across the cluster with filters, sorting and paging",
		Description: "Asks every live node (or the given ones) for its matching processes and merges them. " +
			"Nodes that did not answer are listed in missing instead of failing the whole call. Continue with the returned next_cursor.",
		Params: []operations.Param{
			{Name: "node", Type: operations.TypeList, Items: operations.TypeNode, Description: "only these nodes (comma-separated)"},
			{Name: "behavior", Type: operations.TypeString, MaxLen: operations.N(128), Description: "behaviour name equals"},
			{Name: "name", Type: operations.TypeString, MaxLen: operations.N(256), Description: "local or registered name contains"},
			{Name: "status", Type: operations.TypeEnum, Enum: []string{cluster.StatusWaiting, cluster.StatusRunnable, cluster.StatusExiting}, Description: "process status"},
			{Name: "label", Type: operations.TypeString, Pattern: `[^=]+=.*`, MaxLen: operations.N(512), Description: "label key=value"},
			{Name: "sort", Type: operations.TypeEnum, Enum: cluster.SortFields, Default: "pid", Description: "sort field"},
			{Name: "desc", Type: operations.TypeBool, Default: false, Description: "descending order"},
			{Name: "limit", Type: operations.TypeInt, Default: int64(cluster.DefaultPageSize), Min: operations.F(1), Max: operations.F(cluster.MaxPageSize), Description: "page size"},
			{Name: "cursor", Type: operations.TypeString, MaxLen: operations.N(4096), Description: "continue after this cursor (next_cursor of the previous page)"},
		},
		Result: "{processes: [{pid, node, name, registered, behavior, status, mailbox, messages_in, messages_out, started_at, labels, ...}], total, next_cursor, missing: [{node, code, state, message}]}",
	}, listProcesses))
	operations.Register(operations.Define(operations.Spec{
		Name:     "process_info",
		Category: CategoryProcesses,
		Summary:  "Show one process: status, mailbox, counters, links and monitors",
		Params:   []operations.Param{pidParam},
		Result:   "{pid, node, name, registered, behavior, status, mailbox, mailbox_high_water, messages_in, messages_out, started_at, links, monitors, monitoring, trap_exits, labels}",
	}, processInfo))
	operations.Register(operations.Define(operations.Spec{
		Name:     "spawn",
		Category: CategoryProcesses,
		Summary:  "Start a process of a registered behaviour on a node",
		Params: []operations.Param{
			{Name: "node", Type: operations.TypeNode, Required: true, Description: "the worker node to start it on"},
			{Name: "behavior", Type: operations.TypeString, Required: true, Pattern: `[A-Za-z0-9_.:-]{1,64}`, Description: "a behaviour registered on the node (echo, counter, ticker, pinger, crasher, cpu-burner in the simulator)"},
			{Name: "name", Type: operations.TypeString, MaxLen: operations.N(128), Description: "node-local name"},
			{Name: "args", Type: operations.TypeObject, Description: "arguments for the behaviour's Init, as a JSON object"},
			{Name: "labels", Type: operations.TypeObject, Description: "labels, a JSON object of strings"},
			{Name: "trap_exits", Type: operations.TypeBool, Default: false, Description: "receive EXIT messages from links instead of dying with them"},
		},
		Result: "{pid, node, behavior, name}",
	}, spawn))
	operations.Register(operations.Define(operations.Spec{
		Name:     "send",
		Category: CategoryProcesses,
		Summary:  "Send a message to a process (fire and forget)",
		Params: []operations.Param{
			pidParam,
			{Name: "kind", Type: operations.TypeString, Required: true, MinLen: operations.N(1), MaxLen: operations.N(64), Description: "message kind (inc, ping, ...)"},
			{Name: "body", Type: operations.TypeString, Default: "", Description: "message body, as text"},
		},
		Result: "{sent, pid, kind}",
	}, send))
	operations.Register(operations.Define(operations.Spec{
		Name:     "call",
		Category: CategoryProcesses,
		Summary:  "Send a request to a process and wait for its reply",
		Params: []operations.Param{
			pidParam,
			{Name: "kind", Type: operations.TypeString, Required: true, MinLen: operations.N(1), MaxLen: operations.N(64), Description: "message kind (get, ping, ...)"},
			{Name: "body", Type: operations.TypeString, Default: "", Description: "message body, as text"},
			{Name: "timeout", Type: operations.TypeDuration, Default: "2s", Min: operations.F(0.001), Max: operations.F(30), Description: "how long to wait for the reply"},
		},
		Result:  "{kind, from, body (or body_base64 when not text), elapsed_ms}",
		Timeout: 35 * time.Second,
	}, call))
	operations.Register(operations.Define(operations.Spec{
		Name:        "kill_process",
		Category:    CategoryProcesses,
		Summary:     "End a process with a reason and wait until it has exited",
		Destructive: true,
		Params: []operations.Param{
			pidParam,
			{Name: "reason", Type: operations.TypeString, Default: string(cluster.ReasonKilled), MinLen: operations.N(1), MaxLen: operations.N(256), Description: "exit reason (killed, shutdown, or any text)"},
		},
		Result: "{killed, pid, reason}",
	}, killProcess))
}
