package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Node-to-node RPC: one stream per (caller, callee) pair, multiplexing
// requests by id. A frame is
//
//	u32 size | u8 type | u64 id | u32 timeout ms | u8 len | method | payload
//
// where size counts everything after itself. Requests run each in their own
// goroutine; one-way frames run in arrival order so that messages between
// two processes keep their order.

const (
	frameHello    byte = 1
	frameRequest  byte = 2
	frameResponse byte = 3
	frameError    byte = 4
	frameOneway   byte = 5

	frameHeaderSize = 1 + 8 + 4 + 1
	maxFrameSize    = 8 << 20
	helloTimeout    = 5 * time.Second
	// minPooledFrame is the body size from which readFrame takes its
	// buffer from pageBuffers.
	minPooledFrame = 1 << 10
	dialTimeout    = 2 * time.Second
)

type frame struct {
	typ     byte
	id      uint64
	timeout uint32 // milliseconds, requests only
	method  string
	payload []byte
}

func writeFrame(w *bufio.Writer, f frame) error {
	if len(f.method) > 255 {
		return fmt.Errorf("cluster: rpc method %q too long", f.method)
	}
	size := frameHeaderSize + len(f.method) + len(f.payload)
	if size > maxFrameSize {
		return fmt.Errorf("cluster: rpc frame of %d bytes exceeds %d", size, maxFrameSize)
	}
	var hdr [4 + frameHeaderSize]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(size))
	hdr[4] = f.typ
	binary.BigEndian.PutUint64(hdr[5:], f.id)
	binary.BigEndian.PutUint32(hdr[13:], f.timeout)
	hdr[17] = byte(len(f.method))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := w.WriteString(f.method); err != nil {
		return err
	}
	_, err := w.Write(f.payload)
	return err
}

// readFrame reads one frame, validating every length before allocating.
func readFrame(r *bufio.Reader) (frame, error) {
	var hdr [4 + frameHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return frame{}, err
	}
	size := binary.BigEndian.Uint32(hdr[:4])
	if size < frameHeaderSize || size > maxFrameSize {
		return frame{}, fmt.Errorf("%w: frame size %d", ErrBadFrame, size)
	}
	if _, err := io.ReadFull(r, hdr[4:]); err != nil {
		return frame{}, err
	}
	var body []byte
	if n := int(size - frameHeaderSize); n >= minPooledFrame {
		// Large bodies are mostly proc.list pages, which the view gives
		// back to pageBuffers once decoded.
		// A pooled buffer much larger than the frame stays for a page.
		if body = getPageBuffer(n); cap(body) < n || cap(body) > 4*n {
			putPageBuffer(body)
			body = make([]byte, n)
		}
		body = body[:n]
	} else {
		body = make([]byte, n)
	}
	if _, err := io.ReadFull(r, body); err != nil {
		return frame{}, err
	}
	return parseFrame(hdr[4:], body)
}

// parseFrame decodes a frame header and body (after the size prefix).
func parseFrame(hdr []byte, body []byte) (frame, error) {
	f := frame{
		typ:     hdr[0],
		id:      binary.BigEndian.Uint64(hdr[1:]),
		timeout: binary.BigEndian.Uint32(hdr[9:]),
	}
	if f.typ < frameHello || f.typ > frameOneway {
		return frame{}, fmt.Errorf("%w: frame type %d", ErrBadFrame, f.typ)
	}
	ml := int(hdr[13])
	if ml > len(body) {
		return frame{}, fmt.Errorf("%w: method length %d beyond frame", ErrBadFrame, ml)
	}
	f.method = string(body[:ml])
	f.payload = body[ml:]
	return f, nil
}

// RPCHandler serves one RPC method. from is the calling node's name. It
// returns the response payload; an error is sent back to the caller as an
// RPCError (a *RPCError as is, ErrNoProcess/ErrNotFound as not_found).
type RPCHandler func(ctx context.Context, from string, payload []byte) ([]byte, error)

type rpcHandlers struct {
	mu sync.RWMutex
	m  map[string]RPCHandler
}

func (h *rpcHandlers) set(method string, fn RPCHandler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[string]RPCHandler)
	}
	h.m[method] = fn
}

func (h *rpcHandlers) get(method string) RPCHandler {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.m[method]
}

// HandleRPC registers (or replaces) the handler of a method. Packages built
// on the node (registry, supervisor, tracing) add their methods this way.
func (n *Node) HandleRPC(method string, fn RPCHandler) { n.handlers.set(method, fn) }

// serveRPC accepts streams until the listener closes.
func (n *Node) serveRPC(ln net.Listener) {
	defer n.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		n.trackConn(c, true)
		n.wg.Add(1)
		go n.serveConn(c)
	}
}

func (n *Node) serveConn(c net.Conn) {
	defer n.wg.Done()
	defer func() {
		n.trackConn(c, false)
		_ = c.Close()
	}()
	r := bufio.NewReaderSize(c, 32<<10)
	w := bufio.NewWriterSize(c, 32<<10)
	var wmu sync.Mutex
	_ = c.SetReadDeadline(time.Now().Add(helloTimeout))
	hello, err := readFrame(r)
	if err != nil || hello.typ != frameHello {
		n.stats.badFrames.Add(1)
		return
	}
	from := string(hello.payload)
	if ValidateNodeName(from) != nil {
		n.stats.badFrames.Add(1)
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	reply := func(f frame) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = c.SetWriteDeadline(time.Now().Add(n.cfg.RPCTimeout))
		if writeFrame(w, f) == nil {
			_ = w.Flush()
		}
	}
	var reqs sync.WaitGroup
	defer reqs.Wait()
	for {
		f, err := readFrame(r)
		if err != nil {
			if errors.Is(err, ErrBadFrame) {
				n.stats.badFrames.Add(1)
			}
			return
		}
		n.stats.framesIn.Add(1)
		switch f.typ {
		case frameOneway:
			if h := n.handlers.get(f.method); h != nil {
				_, _ = h(n.ctx, from, f.payload)
			}
		case frameRequest:
			reqs.Add(1)
			go func() {
				defer reqs.Done()
				out := n.dispatch(from, f)
				reply(out)
				if out.typ == frameResponse && f.method == methodList {
					// The proc.list handler answers a fresh page from
					// pageBuffers (queryLocalEncoded), written by now.
					putPageBuffer(out.payload)
				}
			}()
		default:
			n.stats.badFrames.Add(1)
			return
		}
	}
}

// dispatch runs a request's handler and builds the response frame.
func (n *Node) dispatch(from string, f frame) frame {
	h := n.handlers.get(f.method)
	if h == nil {
		return n.errorFrame(f.id, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("unknown rpc method %q", f.method)})
	}
	timeout := time.Duration(f.timeout) * time.Millisecond
	if timeout <= 0 || timeout > 10*time.Minute {
		timeout = n.cfg.RPCTimeout
	}
	ctx, cancel := context.WithTimeout(n.ctx, timeout)
	defer cancel()
	out, err := n.safeHandle(ctx, h, from, f.payload)
	if err != nil {
		return n.errorFrame(f.id, n.toRPCError(err))
	}
	return frame{typ: frameResponse, id: f.id, payload: out}
}

func (n *Node) safeHandle(ctx context.Context, h RPCHandler, from string, payload []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			n.log.Error("rpc handler panicked", "panic", r)
			err = &RPCError{Code: CodeInternal, Node: n.name, Message: fmt.Sprintf("handler panicked: %v", r)}
		}
	}()
	return h(ctx, from, payload)
}

func (n *Node) toRPCError(err error) *RPCError {
	var re *RPCError
	if errors.As(err, &re) {
		return re
	}
	code := ErrorCode(err)
	switch {
	case code != "":
	case errors.Is(err, ErrBadFrame):
		code = CodeBadRequest
	case errors.Is(err, context.DeadlineExceeded):
		code = CodeTimeout
	default:
		code = CodeInternal
	}
	return &RPCError{Code: code, Node: n.name, Message: err.Error()}
}

func (n *Node) errorFrame(id uint64, e *RPCError) frame {
	b, _ := json.Marshal(e)
	return frame{typ: frameError, id: id, payload: b}
}

// peer is this node's client stream to one other node.
type peer struct {
	node    string
	conn    net.Conn
	w       *bufio.Writer
	wmu     sync.Mutex
	mu      sync.Mutex
	pending map[uint64]chan frame
	nextID  uint64
	closed  bool
	done    chan struct{}
}

func (p *peer) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	_ = p.conn.Close()
	close(p.done)
	for _, ch := range pending {
		close(ch)
	}
}

func (p *peer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *peer) readLoop(n *Node) {
	defer n.wg.Done()
	defer p.close()
	r := bufio.NewReaderSize(p.conn, 32<<10)
	for {
		f, err := readFrame(r)
		if err != nil {
			if errors.Is(err, ErrBadFrame) {
				n.stats.badFrames.Add(1)
			}
			return
		}
		if f.typ != frameResponse && f.typ != frameError {
			n.stats.badFrames.Add(1)
			return
		}
		p.mu.Lock()
		ch := p.pending[f.id]
		delete(p.pending, f.id)
		p.mu.Unlock()
		if ch != nil {
			ch <- f
		}
	}
}

// write sends one frame, registering a response channel for requests.
func (p *peer) write(f frame, wantReply bool, deadline time.Time) (uint64, chan frame, error) {
	var ch chan frame
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, nil, errPeerClosed
	}
	if wantReply {
		p.nextID++
		f.id = p.nextID
		ch = make(chan frame, 1)
		p.pending[f.id] = ch
	}
	p.mu.Unlock()
	p.wmu.Lock()
	_ = p.conn.SetWriteDeadline(deadline)
	err := writeFrame(p.w, f)
	if err == nil {
		err = p.w.Flush()
	}
	p.wmu.Unlock()
	if err != nil {
		p.close()
		return 0, nil, err
	}
	return f.id, ch, nil
}

func (p *peer) forget(id uint64) {
	p.mu.Lock()
	delete(p.pending, id)
	p.mu.Unlock()
}

var errPeerClosed = errors.New("connection closed")

type peerSlot struct {
	mu sync.Mutex
	p  *peer
}

// peerFor returns an open stream to node, dialing it if needed.
func (n *Node) peerFor(ctx context.Context, node string) (*peer, error) {
	n.peersMu.Lock()
	slot := n.peers[node]
	if slot == nil {
		slot = &peerSlot{}
		n.peers[node] = slot
	}
	n.peersMu.Unlock()

	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.p != nil && !slot.p.isClosed() {
		return slot.p, nil
	}
	m, ok := n.memberRecord(node)
	if !ok || m.meta.RPC == "" {
		return nil, n.unreachable(node, "no rpc address known for the node")
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := n.ep.Dial(dctx, m.meta.RPC)
	if err != nil {
		return nil, n.unreachable(node, "dial "+m.meta.RPC+": "+err.Error())
	}
	p := &peer{node: node, conn: c, w: bufio.NewWriterSize(c, 32<<10), pending: make(map[uint64]chan frame), done: make(chan struct{})}
	if _, _, err := p.write(frame{typ: frameHello, payload: []byte(n.name)}, false, time.Now().Add(dialTimeout)); err != nil {
		return nil, n.unreachable(node, "hello: "+err.Error())
	}
	if !n.trackConn(c, true) {
		p.close()
		return nil, ErrStopped
	}
	n.wg.Add(1)
	go func() {
		p.readLoop(n)
		n.trackConn(c, false)
	}()
	slot.p = p
	return p, nil
}

// dropPeer closes the stream to node (when it is declared dead or left).
func (n *Node) dropPeer(node string) {
	n.peersMu.Lock()
	slot := n.peers[node]
	delete(n.peers, node)
	n.peersMu.Unlock()
	if slot != nil {
		slot.mu.Lock()
		if slot.p != nil {
			slot.p.close()
		}
		slot.mu.Unlock()
	}
}

func (n *Node) unreachable(node, msg string) *RPCError {
	return &RPCError{Code: CodeNodeUnreachable, Node: node, State: n.MemberState(node), Message: msg}
}

// Request sends a request to method on node and waits for the response or
// ctx's end. A request to this node's own name is served locally without
// the network. Errors are *RPCError with Code node_unreachable (the node is
// not alive or the stream failed), timeout (no answer within the deadline)
// or the handler's code.
func (n *Node) Request(ctx context.Context, node, method string, payload []byte) ([]byte, error) {
	if !n.running() {
		return nil, ErrStopped
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.RPCTimeout)
		defer cancel()
	}
	if node == n.name {
		h := n.handlers.get(method)
		if h == nil {
			return nil, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("unknown rpc method %q", method)}
		}
		out, err := n.safeHandle(ctx, h, n.name, payload)
		if err != nil {
			return nil, n.toRPCError(err)
		}
		return out, nil
	}
	if st := n.MemberState(node); st != StateAlive && st != StateSuspect {
		return nil, n.unreachable(node, "the node is not a live member of the cluster")
	}
	p, err := n.peerFor(ctx, node)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	ms := time.Until(deadline).Milliseconds()
	if ms < 1 {
		ms = 1
	}
	id, ch, err := p.write(frame{typ: frameRequest, timeout: uint32(ms), method: method, payload: payload}, true, deadline)
	if err != nil {
		return nil, n.unreachable(node, "send request: "+err.Error())
	}
	n.stats.framesOut.Add(1)
	select {
	case f, ok := <-ch:
		if !ok {
			return nil, n.unreachable(node, "connection lost while waiting for the answer")
		}
		if f.typ == frameError {
			re := &RPCError{}
			if err := json.Unmarshal(f.payload, re); err != nil || re.Code == "" {
				return nil, &RPCError{Code: CodeInternal, Node: node, Message: "malformed error response"}
			}
			if re.Node == "" {
				re.Node = node
			}
			return nil, re
		}
		return f.payload, nil
	case <-ctx.Done():
		p.forget(id)
		st := n.MemberState(node)
		if st != StateAlive {
			return nil, &RPCError{Code: CodeNodeUnreachable, Node: node, State: st, Message: "no answer before the deadline and the node is " + st}
		}
		return nil, &RPCError{Code: CodeTimeout, Node: node, State: st, Message: fmt.Sprintf("%s: no answer before the deadline", method)}
	}
}

// RequestJSON is Request with JSON-encoded request and response values.
func (n *Node) RequestJSON(ctx context.Context, node, method string, req, resp any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("cluster: encode %s request: %w", method, err)
	}
	out, err := n.Request(ctx, node, method, b)
	if err != nil {
		return err
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(out, resp); err != nil {
		return &RPCError{Code: CodeInternal, Node: node, Message: fmt.Sprintf("decode %s response: %v", method, err)}
	}
	return nil
}

// Notify sends a one-way frame to method on node; it does not wait for the
// handler. Frames to one node are handled in the order they were sent.
func (n *Node) Notify(ctx context.Context, node, method string, payload []byte) error {
	if !n.running() {
		return ErrStopped
	}
	if node == n.name {
		if h := n.handlers.get(method); h != nil {
			_, _ = h(ctx, n.name, payload)
		}
		return nil
	}
	if st := n.MemberState(node); st != StateAlive && st != StateSuspect {
		return n.unreachable(node, "the node is not a live member of the cluster")
	}
	p, err := n.peerFor(ctx, node)
	if err != nil {
		return err
	}
	if _, _, err := p.write(frame{typ: frameOneway, method: method, payload: payload}, false, time.Now().Add(n.cfg.RPCTimeout)); err != nil {
		return n.unreachable(node, "send: "+err.Error())
	}
	n.stats.framesOut.Add(1)
	return nil
}
