package cluster

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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

	// more is set on one node's page when matches after the cursor were
	// left out of it (the view then knows there is a next page even when
	// the merged processes fill exactly one).
	more bool
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
func compareBy(field string, a, b *ProcessInfo) int {
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

// order compares two processes in the query's order.
func (q *ProcessQuery) order(a, b *ProcessInfo) int {
	c := compareBy(q.Sort, a, b)
	if q.Desc {
		return -c
	}
	return c
}

// byQuery sorts snapshots in a query's order without copying them.
type byQuery struct {
	q *ProcessQuery
	s []ProcessInfo
}

func (b byQuery) Len() int           { return len(b.s) }
func (b byQuery) Less(i, j int) bool { return b.q.order(&b.s[i], &b.s[j]) < 0 }
func (b byQuery) Swap(i, j int)      { b.s[i], b.s[j] = b.s[j], b.s[i] }

// queryKey is what a node's query keeps of a matching process to order it:
// the sort field as a string or an unsigned number (ordered as the field
// is), and the PID.
type queryKey struct {
	p   *Process
	pid PID
	str string
	num uint64
}

// numericSort reports whether the sort field orders by queryKey.num.
func numericSort(field string) bool {
	switch field {
	case "mailbox", "messages_in", "messages_out", "started_at":
		return true
	}
	return false
}

// unixKey maps a time to an unsigned number in the same order.
func unixKey(t time.Time) uint64 { return uint64(t.UnixNano()) ^ 1<<63 }

// keyOf returns the key of a snapshot (the cursor's position).
func (q *ProcessQuery) keyOf(info *ProcessInfo) queryKey {
	k := queryKey{pid: info.PID}
	switch q.Sort {
	case "name":
		k.str = info.Name
	case "behavior":
		k.str = info.Behavior
	case "status":
		k.str = info.Status
	case "mailbox":
		k.num = uint64(max(info.Mailbox, 0))
	case "messages_in":
		k.num = info.MessagesIn
	case "messages_out":
		k.num = info.MessagesOut
	case "started_at":
		k.num = unixKey(info.StartedAt)
	}
	return k
}

// keyOrder compares keys in a query's order. It is a plain value, not a
// func, so that keys passed by pointer stay on the stack.
type keyOrder struct {
	by   uint8 // keyByPID, keyByNum or keyByStr
	desc bool
}

const (
	keyByPID uint8 = iota // "pid" and "node" (node is the PID's first part)
	keyByNum
	keyByStr
)

func (q *ProcessQuery) keyOrder() keyOrder {
	o := keyOrder{by: keyByStr, desc: q.Desc}
	switch {
	case q.Sort == "pid" || q.Sort == "node":
		o.by = keyByPID
	case numericSort(q.Sort):
		o.by = keyByNum
	}
	return o
}

func (o keyOrder) compare(a, b *queryKey) int {
	if o.desc {
		a, b = b, a
	}
	switch o.by {
	case keyByNum:
		if a.num != b.num {
			return cmp.Compare(a.num, b.num)
		}
	case keyByStr:
		if c := strings.Compare(a.str, b.str); c != 0 {
			return c
		}
	}
	return comparePID(a.pid, b.pid)
}

// scan reads what the query needs of p: whether it matches the filters,
// and its key. It reads the fields fixed at spawn (name, behaviour,
// labels, start) without a lock, takes p's lock only for a status or
// counter, and asks the registry only when the name filter needs p's
// registered names.
func (q *ProcessQuery) scan(n *Node, p *Process, needLock bool) (queryKey, bool) {
	if q.Behavior != "" && p.bname != q.Behavior {
		return queryKey{}, false
	}
	if q.Label != "" {
		k, v, _ := strings.Cut(q.Label, "=")
		if p.labels[k] != v {
			return queryKey{}, false
		}
	}
	if q.Name != "" && !strings.Contains(p.name, q.Name) &&
		!slices.ContainsFunc(n.registry.registeredNames(p.pid), func(r string) bool { return strings.Contains(r, q.Name) }) {
		return queryKey{}, false
	}
	k := queryKey{p: p, pid: p.pid}
	switch q.Sort {
	case "name":
		k.str = p.name
	case "behavior":
		k.str = p.bname
	case "started_at":
		k.num = unixKey(p.startedAt)
	}
	if needLock {
		p.mu.Lock()
		var status string
		switch {
		case p.exited:
			status = StatusExited
		case p.exiting:
			status = StatusExiting
		case p.scheduled:
			status = StatusRunnable
		default:
			status = StatusWaiting
		}
		switch q.Sort {
		case "status":
			k.str = status
		case "mailbox":
			k.num = uint64(p.queue.n)
		case "messages_in":
			k.num = p.msgsIn
		case "messages_out":
			k.num = p.msgsOut
		}
		p.mu.Unlock()
		if q.Status != "" && status != q.Status {
			return queryKey{}, false
		}
	}
	return k, true
}

// touchSink keeps touchProcesses' reads from being optimised away.
var touchSink atomic.Uintptr

// touchProcesses reads the first words of every process of a batch in a
// loop without dependencies, so that the CPU fetches their cache lines
// in parallel; the scan that follows then finds them in cache instead of
// waiting for each one in turn (a node of 20 000 processes is otherwise
// bound by memory latency, one process at a time).
// It reads only fields fixed at spawn, the labels' header when a label
// filter reads them, and an atomic next to the lock and counters when the
// scan takes the lock.
func touchProcesses(batch []*Process, labels, locked bool) {
	var x uintptr
	for _, p := range batch {
		x += uintptr(p.pid.ID) + uintptr(len(p.bname)) + uintptr(len(p.name))
	}
	if labels {
		for _, p := range batch {
			x += uintptr(len(p.labels))
		}
	}
	if locked {
		for _, p := range batch {
			if p.stopping.Load() {
				x++
			}
		}
	}
	touchSink.Store(x)
}

// topK keeps the k first keys of an order seen so far: a max-heap on the
// order, so that its root is the one to evict next. Offering n keys costs
// O(n log k) comparisons of small keys, where sorting every snapshot costs
// O(n log n) comparisons of large ones and n snapshots of memory.
type topK struct {
	k     int
	order keyOrder
	h     []queryKey
}

// offer considers key; it reports false when the heap was full (a match
// was left out).
func (t *topK) offer(key *queryKey) bool {
	if len(t.h) < t.k {
		t.h = append(t.h, *key)
		t.up(len(t.h) - 1)
		return true
	}
	if t.order.compare(key, &t.h[0]) < 0 {
		t.h[0] = *key
		t.down(0)
	}
	return false
}

func (t *topK) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if t.order.compare(&t.h[i], &t.h[parent]) <= 0 {
			return
		}
		t.h[i], t.h[parent] = t.h[parent], t.h[i]
		i = parent
	}
}

func (t *topK) down(i int) {
	n := len(t.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		big := l
		if r := l + 1; r < n && t.order.compare(&t.h[r], &t.h[l]) > 0 {
			big = r
		}
		if t.order.compare(&t.h[big], &t.h[i]) <= 0 {
			return
		}
		t.h[i], t.h[big] = t.h[big], t.h[i]
		i = big
	}
}

// byKey sorts keys in a query's order without copying them to compare.
type byKey struct {
	order keyOrder
	h     []queryKey
}

func (b byKey) Len() int           { return len(b.h) }
func (b byKey) Less(i, j int) bool { return b.order.compare(&b.h[i], &b.h[j]) < 0 }
func (b byKey) Swap(i, j int)      { b.h[i], b.h[j] = b.h[j], b.h[i] }

// queryLocal answers a query over this node's processes: the first Limit
// matches after the cursor, in order, and the total count of matches. It
// filters on the cheap fields first, keeps the first Limit keys in a heap,
// and takes full snapshots of those only.
func (n *Node) queryLocal(q ProcessQuery) (ProcessPage, error) {
	sel, err := n.selectLocal(&q)
	if err != nil {
		return ProcessPage{}, err
	}
	page := ProcessPage{Total: sel.total, more: sel.more, Processes: make([]ProcessInfo, len(sel.keys))}
	for i := range sel.keys {
		page.Processes[i] = sel.keys[i].p.Info()
	}
	sel.release()
	// Counters may have moved since the scan: the page is in the order of
	// the snapshots it returns (the view merges pages in that order).
	for i := 1; i < len(page.Processes); i++ {
		if q.order(&page.Processes[i-1], &page.Processes[i]) > 0 {
			sort.Sort(byQuery{q: &q, s: page.Processes})
			break
		}
	}
	return page, nil
}

// queryLocalEncoded is queryLocal encoded for the proc.list RPC, written
// as the snapshots are taken rather than kept in a page first.
func (n *Node) queryLocalEncoded(q ProcessQuery) ([]byte, error) {
	sel, err := n.selectLocal(&q)
	if err != nil {
		return nil, err
	}
	b := appendPageHeader(getPageBuffer(64+len(sel.keys)*128), sel.total, len(sel.keys), sel.more)
	var prev, cur ProcessInfo
	for i := range sel.keys {
		cur = sel.keys[i].p.Info()
		if i > 0 && q.order(&prev, &cur) > 0 {
			// Counters moved out of order since the scan: sort snapshots.
			putPageBuffer(b)
			sel.release()
			page, err := n.queryLocal(q)
			if err != nil {
				return nil, err
			}
			return encodePage(page), nil
		}
		b = appendInfo(b, &cur)
		prev = cur
	}
	sel.release()
	return b, nil
}

// localSelection is what a node's scan keeps: the keys of the page in
// order, the count of matches, and whether matches were left out.
type localSelection struct {
	keys  []queryKey
	total int
	more  bool
}

// keyBuffers recycles the key heaps of selectLocal (release).
var keyBuffers sync.Pool

// maxPooledKeys bounds the heaps kept in keyBuffers.
const maxPooledKeys = 4096

func getKeys(size int) []queryKey {
	if kp, ok := keyBuffers.Get().(*[]queryKey); ok {
		return (*kp)[:0]
	}
	return make([]queryKey, 0, size)
}

// release gives the selection's keys back for reuse; sel is done with.
func (sel *localSelection) release() {
	k := sel.keys
	sel.keys = nil
	if cap(k) == 0 || cap(k) > maxPooledKeys {
		return
	}
	clear(k) // keys point at processes: do not keep them alive
	k = k[:0]
	keyBuffers.Put(&k)
}

// selectLocal scans this node's processes for a query (normalised here).
func (n *Node) selectLocal(q *ProcessQuery) (localSelection, error) {
	if err := q.normalize(); err != nil {
		return localSelection{}, err
	}
	after, err := q.decodeCursor()
	if err != nil {
		return localSelection{}, err
	}
	var afterKey queryKey
	if after != nil {
		afterKey = q.keyOf(after)
	}
	order := q.keyOrder()
	needLock := q.Status != "" || q.Sort == "status" || q.Sort == "mailbox" || q.Sort == "messages_in" || q.Sort == "messages_out"
	var sel localSelection
	top := topK{k: q.Limit, order: order, h: getKeys(min(q.Limit, n.procs.count()))}
	var batch []*Process
	for i := range n.procs.shards {
		// Copy the shard out so that its lock is not held while the
		// processes' locks are taken.
		s := &n.procs.shards[i]
		s.mu.RLock()
		if len(s.m) == 0 {
			s.mu.RUnlock()
			continue
		}
		batch = batch[:0]
		for _, p := range s.m {
			batch = append(batch, p)
		}
		s.mu.RUnlock()
		touchProcesses(batch, q.Label != "", needLock)
		for _, p := range batch {
			key, ok := q.scan(n, p, needLock)
			if !ok {
				continue
			}
			sel.total++
			if after != nil && order.compare(&key, &afterKey) <= 0 {
				continue
			}
			if !top.offer(&key) {
				sel.more = true
			}
		}
	}
	sort.Sort(byKey{order: order, h: top.h})
	sel.keys = top.h
	return sel, nil
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
// Limit matches after the cursor, in order; the view merges them and keeps
// Limit. This node answers in-process; the others over RPC, each within
// PerNodeTimeout. When ctx ends first, the nodes that have not answered
// yet are reported missing instead of waited for.
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
	var payload []byte
	type result struct {
		i    int
		page ProcessPage
		err  error
	}
	// Buffered: a node that answers after an early return does not block.
	results := make(chan result, len(targets))
	local := -1
	for i, name := range targets {
		if name == v.node.name {
			local = i
			continue
		}
		if payload == nil {
			payload, _ = json.Marshal(nodeQ)
		}
		go func() {
			cctx, cancel := context.WithTimeout(ctx, v.PerNodeTimeout)
			defer cancel()
			r := result{i: i}
			out, err := v.node.Request(cctx, name, methodList, payload)
			if err != nil {
				r.err = err
			} else {
				r.page, err = decodePageInto(out, getInfos())
				// The page's strings are copies: the frame can be reused.
				putPageBuffer(out)
				if err != nil {
					r.err = &RPCError{Code: CodeInternal, Node: name, Message: "malformed list response: " + err.Error()}
				}
			}
			results <- r
		}()
	}
	pages := make([]*ProcessPage, len(targets))
	errs := make([]error, len(targets))
	waiting := len(targets)
	if local >= 0 {
		// This node answers in the calling goroutine while the others work.
		lp, err := v.node.queryLocal(nodeQ)
		pages[local], errs[local] = &lp, err
		waiting--
	}
	var page ProcessPage
	page.Missing = missing
wait:
	for range waiting {
		select {
		case r := <-results:
			pages[r.i], errs[r.i] = &r.page, r.err
		case <-ctx.Done():
			break wait
		}
	}
	lists := make([][]ProcessInfo, 0, len(targets))
	more := false
	for i, name := range targets {
		switch {
		case pages[i] == nil && errs[i] == nil:
			page.Missing = append(page.Missing, nodeError(name, &RPCError{Code: CodeTimeout, Node: name, State: v.node.MemberState(name), Message: "no answer before the request ended: " + context.Cause(ctx).Error()}))
		case errs[i] != nil:
			page.Missing = append(page.Missing, nodeError(name, errs[i]))
		default:
			page.Total += pages[i].Total
			more = more || pages[i].more
			lists = append(lists, pages[i].Processes)
		}
	}
	page.Processes = mergeFirst(lists, q.Limit+1, q.order)
	if len(lists) > 1 {
		// mergeFirst copied the processes out: the nodes' pages are
		// scratch (with one list, it returned that list itself).
		for _, l := range lists {
			putInfos(l)
		}
	}
	if len(page.Processes) > q.Limit {
		page.Processes = page.Processes[:q.Limit]
		more = true
	}
	if more && len(page.Processes) > 0 {
		page.NextCursor = encodeCursor(q.Sort, page.Processes[len(page.Processes)-1])
	}
	return page, nil
}

// infoBuffers recycles the decoded pages of a fan-out (getInfos, putInfos).
var infoBuffers sync.Pool

// maxPooledInfos bounds the slices kept in infoBuffers.
const maxPooledInfos = 4096

func getInfos() []ProcessInfo {
	if ip, ok := infoBuffers.Get().(*[]ProcessInfo); ok {
		return *ip
	}
	return nil
}

// putInfos gives l's storage back for reuse; nothing may use l after.
func putInfos(l []ProcessInfo) {
	if cap(l) == 0 || cap(l) > maxPooledInfos {
		return
	}
	clear(l) // do not keep the processes' strings and maps alive
	l = l[:0]
	infoBuffers.Put(&l)
}

// mergeFirst merges lists, each already in order, and returns the first
// k processes of the merged order (never nil).
func mergeFirst(lists [][]ProcessInfo, k int, order func(a, b *ProcessInfo) int) []ProcessInfo {
	size := 0
	for _, l := range lists {
		size += len(l)
	}
	if len(lists) == 1 {
		return lists[0][:min(len(lists[0]), k):min(len(lists[0]), k)]
	}
	if len(lists) == 0 {
		return []ProcessInfo{}
	}
	out := make([]ProcessInfo, 0, min(size, k))
	heads := make([]int, len(lists))
	for len(out) < k {
		best := -1
		for i, l := range lists {
			if heads[i] < len(l) && (best < 0 || order(&l[heads[i]], &lists[best][heads[best]]) < 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		out = append(out, lists[best][heads[best]])
		heads[best]++
	}
	return out
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
