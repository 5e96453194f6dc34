package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// RPC methods of the process runtime.
const (
	methodSend      = "proc.send"
	methodCall      = "proc.call"
	methodReply     = "proc.reply"
	methodSpawn     = "proc.spawn"
	methodKill      = "proc.kill"
	methodInfo      = "proc.info"
	methodList      = "proc.list"
	methodLink      = "proc.link"
	methodExit      = "proc.exit"
	methodMonitor   = "proc.monitor"
	methodDemonitor = "proc.demonitor"
	methodDown      = "proc.down"
)

// watchKey is a link or monitor that a local process holds on a process of
// another node; when that node dies the local side gets noconnection.
type watchKey struct {
	local  PID
	remote PID
	ref    uint64 // monitor reference; 0 for a link
}

// RegisterBehavior makes a behaviour spawnable by name on this node (and so
// from any node through Spawn).
func (n *Node) RegisterBehavior(name string, f BehaviorFactory) error {
	return n.behaviors.register(name, f)
}

// Behaviors lists the behaviour names this node can spawn.
func (n *Node) Behaviors() []string { return n.behaviors.names() }

// SpawnBehavior starts a process running b on this node. Init runs before
// SpawnBehavior returns; its error aborts the spawn.
func (n *Node) SpawnBehavior(b Behavior, opts SpawnOptions) (PID, error) {
	return n.spawn(b, behaviorName(b), opts)
}

func behaviorName(b Behavior) string {
	s := fmt.Sprintf("%T", b)
	s = strings.TrimPrefix(s, "*")
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	return strings.ToLower(s)
}

func (n *Node) spawn(b Behavior, bname string, opts SpawnOptions) (PID, error) {
	if !n.running() {
		return PID{}, ErrStopped
	}
	p := &Process{
		node:      n,
		pid:       PID{Node: n.name, ID: n.nextID.Add(1)},
		behavior:  b,
		bname:     bname,
		name:      opts.Name,
		labels:    opts.Labels,
		startedAt: n.clock.Now(),
		scheduled: true, // Init owns the behaviour until it returns
		trapExits: opts.TrapExits,
	}
	if opts.Name != "" {
		if prev, loaded := n.procs.names.LoadOrStore(opts.Name, p); loaded {
			return PID{}, fmt.Errorf("cluster: spawn on %s: name %q already taken by %s", n.name, opts.Name, prev.(*Process).pid)
		}
	}
	n.procs.put(p)
	if err := n.initProcess(p, opts.Args); err != nil {
		p.mu.Lock()
		p.exiting, p.exited = true, true
		p.stopping.Store(true)
		p.mu.Unlock()
		n.procs.remove(p)
		return PID{}, fmt.Errorf("cluster: spawn %s on %s: init: %w", bname, n.name, err)
	}
	if !opts.LinkTo.IsZero() {
		if err := n.Link(n.ctx, p.pid, opts.LinkTo); err != nil {
			n.log.Debug("spawn link failed", "pid", p.pid.String(), "to", opts.LinkTo.String(), "err", err)
		}
	}
	// Hand the behaviour over: run pending messages or a pending exit.
	p.mu.Lock()
	pending := p.queue.n > 0 || p.exiting
	p.scheduled = pending
	p.mu.Unlock()
	if pending {
		go p.run()
	}
	return p.pid, nil
}

func (n *Node) initProcess(p *Process, args []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return p.behavior.Init(p, args)
}

// Spawn starts a process of a registered behaviour on node (this node when
// node is empty or its own name).
func (n *Node) Spawn(ctx context.Context, node, behavior string, opts SpawnOptions) (PID, error) {
	if node == "" || node == n.name {
		f, ok := n.behaviors.get(behavior)
		if !ok {
			return PID{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("unknown behaviour %q (known: %s)", behavior, strings.Join(n.Behaviors(), ", "))}
		}
		return n.spawn(f(), behavior, opts)
	}
	var resp struct{ PID PID }
	err := n.RequestJSON(ctx, node, methodSpawn, spawnRequest{Behavior: behavior, Opts: opts}, &resp)
	return resp.PID, err
}

type spawnRequest struct {
	Behavior string
	Opts     SpawnOptions
}

// Process returns the local process with pid, or nil.
func (n *Node) Process(pid PID) *Process {
	if pid.Node != n.name {
		return nil
	}
	return n.procs.get(pid.ID)
}

// Lookup returns the local process registered under a node-local name.
func (n *Node) Lookup(name string) (PID, bool) {
	v, ok := n.procs.names.Load(name)
	if !ok {
		return PID{}, false
	}
	return v.(*Process).pid, true
}

// Send delivers msg to a process on any node. Delivery is asynchronous.
// Send fails when it knows the message cannot arrive: no such local process,
// or the target node is unreachable. A message to a remote process that no
// longer exists is dropped and counted there.
func (n *Node) Send(to PID, msg Message) error {
	if to.Node == n.name {
		p := n.procs.get(to.ID)
		if p == nil || !p.deliver(msg) {
			return fmt.Errorf("%w: %s", ErrNoProcess, to)
		}
		return nil
	}
	if to.Node == "" {
		return fmt.Errorf("%w: empty pid", ErrBadPID)
	}
	return n.Notify(n.ctx, to.Node, methodSend, encodeSend(to, msg))
}

// Call sends a request to a process and waits for its reply (the process
// answers with Reply) or ctx's end.
func (n *Node) Call(ctx context.Context, to PID, msg Message) (Message, error) {
	if to.Node != n.name {
		var reply Message
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, n.cfg.RPCTimeout)
			defer cancel()
		}
		out, err := n.Request(ctx, to.Node, methodCall, encodeSend(to, msg))
		if err != nil {
			return Message{}, err
		}
		d := decoder{b: out}
		reply = d.message()
		if err := d.end(); err != nil {
			return Message{}, err
		}
		return reply, nil
	}
	ref := n.nextRef.Add(1)
	ch := make(chan Message, 1)
	n.calls.Store(ref, ch)
	defer n.calls.Delete(ref)
	msg.Ref, msg.ReplyTo = ref, n.name
	p := n.procs.get(to.ID)
	if p == nil || !p.deliver(msg) {
		return Message{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no process %s", to)}
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return Message{}, &RPCError{Code: CodeTimeout, Node: n.name, Message: fmt.Sprintf("%s did not reply to %q in time", to, msg.Kind)}
	}
}

// Reply answers req, a message received from Call.
func (n *Node) Reply(req Message, reply Message) error {
	if req.Ref == 0 || req.ReplyTo == "" {
		return fmt.Errorf("cluster: reply to %q from %s: not a call", req.Kind, req.From)
	}
	reply.Ref = req.Ref
	if req.ReplyTo == n.name {
		if v, ok := n.calls.Load(req.Ref); ok {
			select {
			case v.(chan Message) <- reply:
			default:
			}
		}
		return nil
	}
	return n.Notify(n.ctx, req.ReplyTo, methodReply, appendMessage(nil, reply))
}

// Kill ends the process pid (on any node) with reason and waits until it
// has exited or ctx ends.
func (n *Node) Kill(ctx context.Context, pid PID, reason Reason) error {
	if reason == "" {
		reason = ReasonKilled
	}
	if pid.Node != n.name {
		return n.RequestJSON(ctx, pid.Node, methodKill, killRequest{PID: pid, Reason: reason}, nil)
	}
	p := n.procs.get(pid.ID)
	if p == nil {
		return &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no process %s", pid)}
	}
	done := p.wait()
	p.signalExit(reason, false)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return &RPCError{Code: CodeTimeout, Node: n.name, Message: fmt.Sprintf("%s is still busy handling a message; it exits after it", pid)}
	}
}

type killRequest struct {
	PID    PID
	Reason Reason
}

// ProcessInfo returns a snapshot of a process on any node.
func (n *Node) ProcessInfo(ctx context.Context, pid PID) (ProcessInfo, error) {
	if pid.Node != n.name {
		var info ProcessInfo
		err := n.RequestJSON(ctx, pid.Node, methodInfo, pid, &info)
		return info, err
	}
	p := n.procs.get(pid.ID)
	if p == nil {
		return ProcessInfo{}, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no process %s", pid)}
	}
	return p.Info(), nil
}

// LocalProcesses returns snapshots of every process on this node.
func (n *Node) LocalProcesses() []ProcessInfo {
	all := n.procs.all()
	out := make([]ProcessInfo, 0, len(all))
	for _, p := range all {
		out = append(out, p.Info())
	}
	return out
}

// Link links a local process to another process on any node.
func (n *Node) Link(ctx context.Context, local, other PID) error {
	lp := n.Process(local)
	if lp == nil {
		return fmt.Errorf("%w: %s is not a local process", ErrNoProcess, local)
	}
	if other.Node == n.name {
		op := n.procs.get(other.ID)
		if op == nil || !op.addLink(local) {
			lp.exitSignal(other, ReasonNoProc)
			return &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no process %s", other)}
		}
		lp.addLink(other)
		return nil
	}
	if !lp.addLink(other) {
		return fmt.Errorf("%w: %s exited", ErrNoProcess, local)
	}
	n.addWatch(other.Node, watchKey{local: local, remote: other})
	err := n.RequestJSON(ctx, other.Node, methodLink, linkRequest{From: local, To: other}, nil)
	if err != nil {
		n.dropWatch(other, local, 0)
		reason := ReasonNoConnection
		if ErrorCode(err) == CodeNotFound {
			reason = ReasonNoProc
		}
		lp.exitSignal(other, reason)
	}
	return err
}

type linkRequest struct{ From, To PID }

func (p *Process) addLink(other PID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exiting {
		return false
	}
	if p.links == nil {
		p.links = make(map[PID]struct{})
	}
	p.links[other] = struct{}{}
	return true
}

// Monitor makes watcher (a local process) receive a KindDown message when
// target (on any node) exits, with reason noproc if it does not exist and
// noconnection if its node is lost. It returns the monitor reference.
func (n *Node) Monitor(ctx context.Context, watcher, target PID) (uint64, error) {
	wp := n.Process(watcher)
	if wp == nil {
		return 0, fmt.Errorf("%w: %s is not a local process", ErrNoProcess, watcher)
	}
	ref := n.nextRef.Add(1)
	wp.mu.Lock()
	if wp.monitoring == nil {
		wp.monitoring = make(map[uint64]PID)
	}
	wp.monitoring[ref] = target
	wp.mu.Unlock()
	if target.Node == n.name {
		if !n.addMonitor(target, watcher, ref) {
			n.sendDown(watcher, target, ref, ReasonNoProc)
		}
		return ref, nil
	}
	n.addWatch(target.Node, watchKey{local: watcher, remote: target, ref: ref})
	err := n.RequestJSON(ctx, target.Node, methodMonitor, monitorRequest{Watcher: watcher, Target: target, Ref: ref}, nil)
	if err != nil {
		reason := ReasonNoConnection
		if ErrorCode(err) == CodeNotFound {
			reason = ReasonNoProc
		}
		n.dropWatch(target, watcher, ref)
		n.sendDown(watcher, target, ref, reason)
	}
	return ref, nil
}

type monitorRequest struct {
	Watcher, Target PID
	Ref             uint64
	Reason          Reason `json:",omitempty"`
}

func (n *Node) addMonitor(target, watcher PID, ref uint64) bool {
	tp := n.procs.get(target.ID)
	if tp == nil {
		return false
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.exiting {
		return false
	}
	if tp.monitors == nil {
		tp.monitors = make(map[monitorKey]struct{})
	}
	tp.monitors[monitorKey{watcher: watcher, ref: ref}] = struct{}{}
	return true
}

// Demonitor removes a monitor that watcher holds.
func (n *Node) Demonitor(ctx context.Context, watcher PID, ref uint64) {
	wp := n.Process(watcher)
	if wp == nil {
		return
	}
	wp.mu.Lock()
	target, ok := wp.monitoring[ref]
	delete(wp.monitoring, ref)
	wp.mu.Unlock()
	if !ok {
		return
	}
	n.dropWatch(target, watcher, ref)
}

// dropWatch forgets a link (ref 0) or monitor of local on remote, telling
// remote's node for monitors.
func (n *Node) dropWatch(remote, local PID, ref uint64) {
	if remote.Node == n.name {
		if ref != 0 {
			if tp := n.procs.get(remote.ID); tp != nil {
				tp.mu.Lock()
				delete(tp.monitors, monitorKey{watcher: local, ref: ref})
				tp.mu.Unlock()
			}
		}
		return
	}
	n.watchMu.Lock()
	if m := n.watches[remote.Node]; m != nil {
		delete(m, watchKey{local: local, remote: remote, ref: ref})
	}
	n.watchMu.Unlock()
	if ref != 0 {
		b, _ := json.Marshal(monitorRequest{Watcher: local, Target: remote, Ref: ref})
		_ = n.Notify(n.ctx, remote.Node, methodDemonitor, b)
	}
}

func (n *Node) addWatch(node string, k watchKey) {
	n.watchMu.Lock()
	defer n.watchMu.Unlock()
	m := n.watches[node]
	if m == nil {
		m = make(map[watchKey]struct{})
		n.watches[node] = m
	}
	m[k] = struct{}{}
}

// sendExitSignal tells a linked process that from exited.
func (n *Node) sendExitSignal(from, to PID, reason Reason) {
	if to.Node == n.name {
		if p := n.procs.get(to.ID); p != nil {
			p.exitSignal(from, reason)
		}
		return
	}
	n.watchMu.Lock()
	if m := n.watches[to.Node]; m != nil {
		delete(m, watchKey{local: from, remote: to})
	}
	n.watchMu.Unlock()
	b, _ := json.Marshal(exitRequest{From: from, To: to, Reason: reason})
	_ = n.Notify(n.ctx, to.Node, methodExit, b)
}

type exitRequest struct {
	From, To PID
	Reason   Reason
}

// sendDown delivers a DOWN message for target to watcher.
func (n *Node) sendDown(watcher, target PID, ref uint64, reason Reason) {
	if watcher.Node == n.name {
		if wp := n.procs.get(watcher.ID); wp != nil {
			wp.mu.Lock()
			_, live := wp.monitoring[ref]
			delete(wp.monitoring, ref)
			wp.mu.Unlock()
			if live {
				wp.deliver(Message{From: target, Kind: KindDown, Ref: ref, Body: []byte(reason)})
			}
		}
		return
	}
	b, _ := json.Marshal(monitorRequest{Watcher: watcher, Target: target, Ref: ref, Reason: reason})
	_ = n.Notify(n.ctx, watcher.Node, methodDown, b)
}

// nodeDown fires noconnection for every link and monitor local processes
// hold on processes of a node that died or left, and drops its stream.
func (n *Node) nodeDown(node string) {
	if node == n.name {
		return
	}
	n.dropPeer(node)
	n.watchMu.Lock()
	m := n.watches[node]
	delete(n.watches, node)
	n.watchMu.Unlock()
	for k := range m {
		if k.ref == 0 {
			if p := n.procs.get(k.local.ID); p != nil {
				p.exitSignal(k.remote, ReasonNoConnection)
			}
			continue
		}
		n.sendDown(k.local, k.remote, k.ref, ReasonNoConnection)
	}
}

// registerProcessRPC installs the runtime's RPC handlers.
func (n *Node) registerProcessRPC() {
	n.HandleRPC(methodSend, func(_ context.Context, _ string, b []byte) ([]byte, error) {
		to, m, err := decodeSend(b)
		if err != nil {
			n.stats.badFrames.Add(1)
			return nil, err
		}
		if p := n.procs.get(to.ID); to.Node != n.name || p == nil || !p.deliver(m) {
			n.stats.droppedMessages.Add(1)
		}
		return nil, nil
	})
	n.HandleRPC(methodCall, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		to, m, err := decodeSend(b)
		if err != nil {
			return nil, err
		}
		if to.Node != n.name {
			return nil, &RPCError{Code: CodeBadRequest, Node: n.name, Message: fmt.Sprintf("%s is not on %s", to, n.name)}
		}
		reply, err := n.Call(ctx, to, m)
		if err != nil {
			return nil, err
		}
		return appendMessage(nil, reply), nil
	})
	n.HandleRPC(methodReply, func(_ context.Context, _ string, b []byte) ([]byte, error) {
		d := decoder{b: b}
		m := d.message()
		if err := d.end(); err != nil {
			n.stats.badFrames.Add(1)
			return nil, err
		}
		if v, ok := n.calls.Load(m.Ref); ok {
			select {
			case v.(chan Message) <- m:
			default:
			}
		}
		return nil, nil
	})
	n.HandleRPC(methodSpawn, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var req spawnRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: spawn: %v", ErrBadFrame, err)
		}
		pid, err := n.Spawn(ctx, "", req.Behavior, req.Opts)
		if err != nil {
			return nil, err
		}
		return json.Marshal(struct{ PID PID }{pid})
	})
	n.HandleRPC(methodKill, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var req killRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: kill: %v", ErrBadFrame, err)
		}
		if req.PID.Node != n.name {
			return nil, &RPCError{Code: CodeBadRequest, Node: n.name, Message: fmt.Sprintf("%s is not on %s", req.PID, n.name)}
		}
		return nil, n.Kill(ctx, req.PID, req.Reason)
	})
	n.HandleRPC(methodInfo, func(ctx context.Context, _ string, b []byte) ([]byte, error) {
		var pid PID
		if err := json.Unmarshal(b, &pid); err != nil {
			return nil, fmt.Errorf("%w: info: %v", ErrBadFrame, err)
		}
		if pid.Node != n.name {
			return nil, &RPCError{Code: CodeBadRequest, Node: n.name, Message: fmt.Sprintf("%s is not on %s", pid, n.name)}
		}
		info, err := n.ProcessInfo(ctx, pid)
		if err != nil {
			return nil, err
		}
		return json.Marshal(info)
	})
	n.HandleRPC(methodList, func(_ context.Context, _ string, b []byte) ([]byte, error) {
		var q ProcessQuery
		if err := json.Unmarshal(b, &q); err != nil {
			return nil, fmt.Errorf("%w: list: %v", ErrBadFrame, err)
		}
		return n.queryLocalEncoded(q)
	})
	n.HandleRPC(methodLink, func(_ context.Context, _ string, b []byte) ([]byte, error) {
		var req linkRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: link: %v", ErrBadFrame, err)
		}
		p := n.Process(req.To)
		if p == nil || !p.addLink(req.From) {
			return nil, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no process %s", req.To)}
		}
		n.addWatch(req.From.Node, watchKey{local: req.To, remote: req.From})
		return nil, nil
	})
	n.HandleRPC(methodExit, func(_ context.Context, _ string, b []byte) ([]byte, error) {
		var req exitRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: exit: %v", ErrBadFrame, err)
		}
		n.watchMu.Lock()
		if m := n.watches[req.From.Node]; m != nil {
			delete(m, watchKey{local: req.To, remote: req.From})
		}
		n.watchMu.Unlock()
		if p := n.Process(req.To); p != nil {
			p.exitSignal(req.From, req.Reason)
		}
		return nil, nil
	})
	n.HandleRPC(methodMonitor, func(_ context.Context, _ string, b []byte) ([]byte, error) {
		var req monitorRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: monitor: %v", ErrBadFrame, err)
		}
		if req.Target.Node != n.name || !n.addMonitor(req.Target, req.Watcher, req.Ref) {
			return nil, &RPCError{Code: CodeNotFound, Node: n.name, Message: fmt.Sprintf("no process %s", req.Target)}
		}
		return nil, nil
	})
	n.HandleRPC(methodDemonitor, func(_ context.Context, _ string, b []byte) ([]byte, error) {
		var req monitorRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: demonitor: %v", ErrBadFrame, err)
		}
		n.dropWatch(req.Target, req.Watcher, req.Ref)
		return nil, nil
	})
	n.HandleRPC(methodDown, func(_ context.Context, _ string, b []byte) ([]byte, error) {
		var req monitorRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, fmt.Errorf("%w: down: %v", ErrBadFrame, err)
		}
		n.watchMu.Lock()
		if m := n.watches[req.Target.Node]; m != nil {
			delete(m, watchKey{local: req.Watcher, remote: req.Target, ref: req.Ref})
		}
		n.watchMu.Unlock()
		n.sendDown(req.Watcher, req.Target, req.Ref, req.Reason)
		return nil, nil
	})
}
