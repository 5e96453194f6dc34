package builtin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
type ProcessList struct {
	Processes []ProcessRow `json:"processes"`
	// Total counts every matching process on the nodes that answered.
	Total int `json:"total"`
	// NextCursor continues the query; empty on the last page.
	NextCursor string              `json:"next_cursor,omitempty"`
	Missing    []cluster.NodeError `json:"missing"`
}

// ProcessRow is one process of a ProcessList: a cluster.ProcessInfo with
// its PIDs and start time already in their JSON text, so that it encodes
// to the same JSON with plain fields only (encoding/json compacts what
// every Marshaler returns, which made PIDs and times the bulk of a
// listing's cost).
type ProcessRow struct {
	PID              string            `json:"pid"`
	Node             string            `json:"node"`
	Name             string            `json:"name,omitempty"`
	Registered       []string          `json:"registered,omitempty"`
	Behavior         string            `json:"behavior"`
	Status           string            `json:"status"`
	Mailbox          int               `json:"mailbox"`
	MailboxHighWater int               `json:"mailbox_high_water"`
	MessagesIn       uint64            `json:"messages_in"`
	MessagesOut      uint64            `json:"messages_out"`
	StartedAt        string            `json:"started_at"`
	Links            []string          `json:"links,omitempty"`
	Monitors         []string          `json:"monitors,omitempty"`
	Monitoring       []string          `json:"monitoring,omitempty"`
	TrapExits        bool              `json:"trap_exits,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
}

// newProcessList turns a page into its rows.
func newProcessList(page cluster.ProcessPage) (ProcessList, error) {
	l := ProcessList{Processes: make([]ProcessRow, len(page.Processes)), Total: page.Total, NextCursor: page.NextCursor, Missing: page.Missing}
	if l.Missing == nil {
		l.Missing = []cluster.NodeError{}
	}
	for i := range page.Processes {
		p := &page.Processes[i]
		// time.Time's JSON: RFC 3339 with nanoseconds, for years 0–9999.
		started, err := p.StartedAt.MarshalText()
		if err != nil {
			return ProcessList{}, fmt.Errorf("builtin: process %s: started_at: %w", p.PID, err)
		}
		l.Processes[i] = ProcessRow{
			PID: pidText(p.PID), Node: p.Node, Name: p.Name, Registered: p.Registered,
			Behavior: p.Behavior, Status: p.Status, Mailbox: p.Mailbox, MailboxHighWater: p.MailboxHighWater,
			MessagesIn: p.MessagesIn, MessagesOut: p.MessagesOut, StartedAt: string(started),
			Links: pidTexts(p.Links), Monitors: pidTexts(p.Monitors), Monitoring: pidTexts(p.Monitoring),
			TrapExits: p.TrapExits, Labels: p.Labels,
		}
	}
	return l, nil
}

// pidText is a PID's JSON text (PID.MarshalText: empty for the zero PID).
func pidText(p cluster.PID) string {
	if p.IsZero() {
		return ""
	}
	return p.String()
}

func pidTexts(ps []cluster.PID) []string {
	if len(ps) == 0 {
		return nil
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = pidText(p)
	}
	return out
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
