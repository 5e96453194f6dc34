package cluster

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// ProcessQuery selects, orders and pages processes across the cluster.
type ProcessQuery struct {
	// Nodes restricts the query to these nodes; empty means every live member.
	Nodes []string `json:"nodes,omitempty"`
	// Behavior keeps processes whose behaviour name equals it.
	Behavior string `json:"behavior,omitempty"`
	// Name keeps processes whose local or registered name contains it.
	Name string `json:"name,omitempty"`
	// Status keeps processes in this status (waiting, runnable, exiting).
	Status string `json:"status,omitempty"`
	// Label keeps processes with this "key=value" label.
	Label string `json:"label,omitempty"`
	// Sort is the ordering field: pid (default), node, name, behavior,
	// status, mailbox, messages_in, messages_out or started_at.
	Sort string `json:"sort,omitempty"`
	// Desc reverses the order.
	Desc bool `json:"desc,omitempty"`
	// Limit is the page size; 0 means DefaultPageSize, capped at MaxPageSize.
	Limit int `json:"limit,omitempty"`
	// Cursor continues after the last process of a previous page.
	Cursor string `json:"cursor,omitempty"`
}

// Page sizes for process queries.
const (
	DefaultPageSize = 100
	MaxPageSize     = 10000
)

// SortFields lists the valid ProcessQuery.Sort values.
var SortFields = []string{"pid", "node", "name", "behavior", "status", "mailbox", "messages_in", "messages_out", "started_at"}

// ProcessPage is one page of a process query.
type ProcessPage struct {
	Processes []ProcessInfo `json:"processes"`
	// Total counts every matching process on the nodes that answered.
	Total int `json:"total"`
	// NextCursor continues the query; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
	// Missing names the nodes that did not answer, and why.
	Missing []NodeError `json:"missing,omitempty"`
}

// NodeError says why one node is missing from a cluster-wide result.
type NodeError struct {
	Node    string `json:"node"`
	Code    string `json:"code"`
	State   string `json:"state,omitempty"`
	Message string `json:"message"`
}

// cursor is the position after which a page continues: the sort key of the
// last process returned and its PID (the tie-breaker).
type cursor struct {
	Key any `json:"k"`
	PID PID `json:"p"`
}

func (q *ProcessQuery) normalize() error {
	if q.Sort == "" {
		q.Sort = "pid"
	}
	if !slices.Contains(SortFields, q.Sort) {
		return fmt.Errorf("%w: unknown sort field %q (want one of %s)", ErrBadFrame, q.Sort, strings.Join(SortFields, ", "))
	}
	if q.Limit <= 0 {
		q.Limit = DefaultPageSize
	}
	if q.Limit > MaxPageSize {
		q.Limit = MaxPageSize
	}
	if q.Label != "" && !strings.Contains(q.Label, "=") {
		return fmt.Errorf("%w: label filter %q: want key=value", ErrBadFrame, q.Label)
	}
	return nil
}

func (q *ProcessQuery) decodeCursor() (*ProcessInfo, error) {
	if q.Cursor == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil || len(raw) > 4096 {
		return nil, fmt.Errorf("%w: bad cursor", ErrBadFrame)
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%w: bad cursor: %v", ErrBadFrame, err)
	}
	info := &ProcessInfo{PID: c.PID, Node: c.PID.Node}
	keyJSON, _ := json.Marshal(c.Key)
	switch q.Sort {
	case "name":
		err = json.Unmarshal(keyJSON, &info.Name)
	case "behavior":
		err = json.Unmarshal(keyJSON, &info.Behavior)
	case "status":
		err = json.Unmarshal(keyJSON, &info.Status)
	case "mailbox":
		err = json.Unmarshal(keyJSON, &info.Mailbox)
	case "messages_in":
		err = json.Unmarshal(keyJSON, &info.MessagesIn)
	case "messages_out":
		err = json.Unmarshal(keyJSON, &info.MessagesOut)
	case "started_at":
		err = json.Unmarshal(keyJSON, &info.StartedAt)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: bad cursor key: %v", ErrBadFrame, err)
	}
	return info, nil
}

func encodeCursor(sortField string, p ProcessInfo) string {
	var key any
	switch sortField {
	case "name":
		key = p.Name
	case "behavior":
		key = p.Behavior
	case "status":
		key = p.Status
	case "mailbox":
		key = p.Mailbox
	case "messages_in":
		key = p.MessagesIn
	case "messages_out":
		key = p.MessagesOut
	case "started_at":
		key = p.StartedAt
	}
	b, _ := json.Marshal(cursor{Key: key, PID: p.PID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// compareBy orders two processes by a sort field, then by PID.
func compareBy(field string, a, b ProcessInfo) int {
	var c int
	switch field {
	case "node":
		c = strings.Compare(a.Node, b.Node)
	case "name":
		c = strings.Compare(a.Name, b.Name)
	case "behavior":
		c = strings.Compare(a.Behavior, b.Behavior)
	case "status":
		c = strings.Compare(a.Status, b.Status)
	case "mailbox":
		c = cmp.Compare(a.Mailbox, b.Mailbox)
	case "messages_in":
		c = cmp.Compare(a.MessagesIn, b.MessagesIn)
	case "messages_out":
		c = cmp.Compare(a.MessagesOut, b.MessagesOut)
	case "started_at":
		c = a.StartedAt.Compare(b.StartedAt)
	}
	if c != 0 {
		return c
	}
	return comparePID(a.PID, b.PID)
}

func (q *ProcessQuery) order(a, b ProcessInfo) int {
	c := compareBy(q.Sort, a, b)
	if q.Desc {
		return -c
	}
	return c
}

func (q *ProcessQuery) matches(p *ProcessInfo) bool {
	if q.Behavior != "" && p.Behavior != q.Behavior {
		return false
	}
	if q.Name != "" && !strings.Contains(p.Name, q.Name) && !slices.ContainsFunc(p.Registered, func(r string) bool { return strings.Contains(r, q.Name) }) {
		return false
	}
	if q.Status != "" && p.Status != q.Status {
		return false
	}
	if q.Label != "" {
		k, v, _ := strings.Cut(q.Label, "=")
		if p.Labels[k] != v {
			return false
		}
	}
	return true
}

// queryLocal answers a query over this node's processes: the first Limit
// matches after the cursor, in order, and the total count of matches.
func (n *Node) queryLocal(q ProcessQuery) (ProcessPage, error) {
	if err := q.normalize(); err != nil {
		return ProcessPage{}, err
	}
	after, err := q.decodeCursor()
	if err != nil {
		return ProcessPage{}, err
	}
	var page ProcessPage
	all := n.procs.all()
	matched := make([]ProcessInfo, 0, min(len(all), q.Limit*2))
	for _, p := range all {
		info := p.Info()
		if !q.matches(&info) {
			continue
		}
		page.Total++
		if after != nil && q.order(info, *after) <= 0 {
			continue
		}
		matched = append(matched, info)
	}
	slices.SortFunc(matched, q.order)
	if len(matched) > q.Limit {
		matched = matched[:q.Limit]
	}
	page.Processes = matched
	return page, nil
}

// View is the cluster-wide client that operations use: it fans requests
// out to the members with a per-node timeout and returns partial results
// that name the nodes that did not answer instead of failing the whole call.
type View struct {
	node *Node
	// PerNodeTimeout bounds each node's part of a fan-out; default 1 s.
	PerNodeTimeout time.Duration
}

// NewView returns a View that works through node n.
func NewView(n *Node) *View { return &View{node: n, PerNodeTimeout: time.Second} }

// Node returns the node the view works through.
func (v *View) Node() *Node { return v.node }

// Members returns every known member with its state.
func (v *View) Members() []Member { return v.node.Members() }

// Processes runs a query across the cluster. Each node returns its first
// Limit matches after the cursor; the view merges them and keeps Limit.
func (v *View) Processes(ctx context.Context, q ProcessQuery) (ProcessPage, error) {
	if err := q.normalize(); err != nil {
		return ProcessPage{}, err
	}
	if _, err := q.decodeCursor(); err != nil {
		return ProcessPage{}, err
	}
	targets, missing := v.targets(q.Nodes)
	nodeQ := q
	nodeQ.Nodes = nil
	payload, _ := json.Marshal(nodeQ)
	type result struct {
		node string
		page ProcessPage
		err  error
	}
	results := make([]result, len(targets))
	var wg sync.WaitGroup
	for i, name := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, v.PerNodeTimeout)
			defer cancel()
			out, err := v.node.Request(cctx, name, methodList, payload)
			r := result{node: name, err: err}
			if err == nil {
				page, derr := decodePage(out)
				if derr != nil {
					r.err = &RPCError{Code: CodeInternal, Node: name, Message: "malformed list response: " + derr.Error()}
				}
				r.page = page
			}
			results[i] = r
		}()
	}
	wg.Wait()
	var page ProcessPage
	page.Missing = missing
	for _, r := range results {
		if r.err != nil {
			page.Missing = append(page.Missing, nodeError(r.node, r.err))
			continue
		}
		page.Total += r.page.Total
		page.Processes = append(page.Processes, r.page.Processes...)
	}
	slices.SortFunc(page.Processes, q.order)
	if len(page.Processes) > q.Limit {
		page.Processes = page.Processes[:q.Limit]
		page.NextCursor = encodeCursor(q.Sort, page.Processes[q.Limit-1])
	}
	if page.Processes == nil {
		page.Processes = []ProcessInfo{}
	}
	return page, nil
}

// targets resolves the nodes a fan-out goes to: the requested ones, or every
// live member. Requested nodes that are not alive are reported as missing.
func (v *View) targets(nodes []string) (targets []string, missing []NodeError) {
	if len(nodes) == 0 {
		return v.node.AliveMembers(), nil
	}
	for _, name := range nodes {
		st := v.node.MemberState(name)
		if st == StateAlive || st == StateSuspect {
			targets = append(targets, name)
			continue
		}
		missing = append(missing, NodeError{Node: name, Code: CodeNodeUnreachable, State: st, Message: "the node is not a live member of the cluster"})
	}
	return targets, missing
}

func nodeError(node string, err error) NodeError {
	ne := NodeError{Node: node, Code: ErrorCode(err), Message: err.Error()}
	if re, ok := err.(*RPCError); ok {
		ne.State, ne.Message = re.State, re.Message
	}
	if ne.Code == "" {
		ne.Code = CodeInternal
	}
	return ne
}

// ProcessInfo returns a snapshot of a process on any node.
func (v *View) ProcessInfo(ctx context.Context, pid PID) (ProcessInfo, error) {
	return v.node.ProcessInfo(ctx, pid)
}

// Kill ends a process on any node and waits for its exit.
func (v *View) Kill(ctx context.Context, pid PID, reason Reason) error {
	return v.node.Kill(ctx, pid, reason)
}
