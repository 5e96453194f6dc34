package script

import (
	"context"
	gojson "encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/clusterlab/clusterlab/cluster"
)

// MaxCallTimeout bounds call()'s timeout argument (the run's own timeout
// bounds it too).
const MaxCallTimeout = time.Minute

// Module returns the `cluster` module acting through env:
//
//	members() -> [{name, state, role, tags}]
//	spawn(behavior, node=None, args=None, name=None) -> pid
//	send(pid, kind, body="")
//	call(pid, kind, body="", timeout=1.0) -> {kind, body, from}
//	kill(pid, reason="killed")
//	lookup(name) -> pid or None
//	processes(node=None, behavior=None, label=None) -> [{pid, node, ...}]
//	sleep(seconds)
//	self_node() -> name
//	sandbox -> the sandbox name, or None
//
// PIDs are "node/id" strings. args may be a string, bytes, or a dict or
// list (sent as JSON). Calls that wait use the context and limits set on
// the thread by Run or Bind.
func Module(env Env) *starlarkstruct.Module {
	m := &module{env: env}
	var sandbox starlark.Value = starlark.None
	if env.Sandbox != "" {
		sandbox = starlark.String(env.Sandbox)
	}
	return &starlarkstruct.Module{
		Name: "cluster",
		Members: starlark.StringDict{
			"members":   starlark.NewBuiltin("members", m.members),
			"spawn":     starlark.NewBuiltin("spawn", m.spawn),
			"send":      starlark.NewBuiltin("send", m.send),
			"call":      starlark.NewBuiltin("call", m.call),
			"kill":      starlark.NewBuiltin("kill", m.kill),
			"lookup":    starlark.NewBuiltin("lookup", m.lookup),
			"processes": starlark.NewBuiltin("processes", m.processes),
			"sleep":     starlark.NewBuiltin("sleep", m.sleep),
			"self_node": starlark.NewBuiltin("self_node", m.selfNode),
			"sandbox":   sandbox,
		},
	}
}

type module struct{ env Env }

func (m *module) node(fn string) (*cluster.Node, error) {
	if m.env.Node == nil {
		return nil, fmt.Errorf("%s: the module has no node", fn)
	}
	return m.env.Node, nil
}

func (m *module) members(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	n, err := m.node(b.Name())
	if err != nil {
		return nil, err
	}
	ms := n.Members()
	out := make([]starlark.Value, 0, len(ms))
	for _, mem := range ms {
		tags := starlark.NewDict(len(mem.Tags))
		keys := make([]string, 0, len(mem.Tags))
		for k := range mem.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			_ = tags.SetKey(starlark.String(k), starlark.String(mem.Tags[k]))
		}
		d := starlark.NewDict(4)
		_ = d.SetKey(starlark.String("name"), starlark.String(mem.Name))
		_ = d.SetKey(starlark.String("state"), starlark.String(mem.State))
		_ = d.SetKey(starlark.String("role"), starlark.String(mem.Role))
		_ = d.SetKey(starlark.String("tags"), tags)
		out = append(out, d)
	}
	return starlark.NewList(out), nil
}

// optString reads an optional string argument (None or a string).
func optString(fn, param string, v starlark.Value) (string, error) {
	switch x := v.(type) {
	case nil, starlark.NoneType:
		return "", nil
	case starlark.String:
		return string(x), nil
	}
	return "", fmt.Errorf("%s: %s must be a string or None, not %s", fn, param, v.Type())
}

// bodyBytes reads a message body or spawn args: a string, bytes, None, or
// (json set) a dict or list encoded as JSON.
func bodyBytes(fn, param string, v starlark.Value, json bool) ([]byte, error) {
	switch x := v.(type) {
	case nil, starlark.NoneType:
		return nil, nil
	case starlark.String:
		return []byte(x), nil
	case starlark.Bytes:
		return []byte(x), nil
	case *starlark.Dict, *starlark.List, starlark.Tuple:
		if json {
			g, err := ToGo(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %v", fn, param, err)
			}
			b, err := gojson.Marshal(g)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %v", fn, param, err)
			}
			return b, nil
		}
	}
	want := "a string or bytes"
	if json {
		want = "a string, bytes, dict, list or None"
	}
	return nil, fmt.Errorf("%s: %s must be %s, not %s", fn, param, want, v.Type())
}

func parsePID(fn string, v starlark.Value) (cluster.PID, error) {
	s, ok := v.(starlark.String)
	if !ok {
		return cluster.PID{}, fmt.Errorf("%s: pid must be a \"node/id\" string, not %s", fn, v.Type())
	}
	pid, err := cluster.ParsePID(string(s))
	if err != nil {
		return cluster.PID{}, fmt.Errorf("%s: %w", fn, err)
	}
	return pid, nil
}

// seconds reads a duration in seconds (int or float, not negative).
func seconds(fn, param string, v starlark.Value) (time.Duration, error) {
	f, ok := starlark.AsFloat(v)
	if !ok {
		return 0, fmt.Errorf("%s: %s must be a number of seconds, not %s", fn, param, v.Type())
	}
	if math.IsNaN(f) || f < 0 || f > MaxTimeout.Seconds() {
		return 0, fmt.Errorf("%s: %s %v: want 0..%v seconds", fn, param, f, MaxTimeout.Seconds())
	}
	return time.Duration(f * float64(time.Second)), nil
}

func (m *module) spawn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	fn := b.Name()
	var behavior string
	var nodeV, argsV, nameV starlark.Value = starlark.None, starlark.None, starlark.None
	if err := starlark.UnpackArgs(fn, args, kwargs, "behavior", &behavior, "node?", &nodeV, "args?", &argsV, "name?", &nameV); err != nil {
		return nil, err
	}
	n, err := m.node(fn)
	if err != nil {
		return nil, err
	}
	if behavior == "" {
		return nil, fmt.Errorf("%s: behavior is empty", fn)
	}
	node, err := optString(fn, "node", nodeV)
	if err != nil {
		return nil, err
	}
	name, err := optString(fn, "name", nameV)
	if err != nil {
		return nil, err
	}
	body, err := bodyBytes(fn, "args", argsV, true)
	if err != nil {
		return nil, err
	}
	ctx := contextOf(thread)
	if m.env.Sandbox != "" {
		pid, err := n.SandboxSpawn(ctx, m.env.Sandbox, cluster.SandboxChild{Behavior: behavior, Args: body, Name: name, Node: node})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fn, err)
		}
		return starlark.String(pid.String()), nil
	}
	if node == "" {
		if n.Role() == cluster.RoleObserver {
			return nil, fmt.Errorf("%s: give node=: %s is an observer and hosts no processes (live members: %s)", fn, n.Name(), strings.Join(n.AliveMembers(), ", "))
		}
		node = n.Name()
	}
	pid, err := n.Spawn(ctx, node, behavior, cluster.SpawnOptions{Name: name, Args: body})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	return starlark.String(pid.String()), nil
}

// message checks the arguments send and call share: the node to act
// from, the target pid and the message (a kind, and a body of bytes).
func (m *module) message(fn string, pidV starlark.Value, kind string, bodyV starlark.Value) (*cluster.Node, cluster.PID, cluster.Message, error) {
	n, err := m.node(fn)
	if err != nil {
		return nil, cluster.PID{}, cluster.Message{}, err
	}
	pid, err := parsePID(fn, pidV)
	if err != nil {
		return nil, cluster.PID{}, cluster.Message{}, err
	}
	if kind == "" {
		return nil, cluster.PID{}, cluster.Message{}, fmt.Errorf("%s: kind is empty", fn)
	}
	body, err := bodyBytes(fn, "body", bodyV, false)
	if err != nil {
		return nil, cluster.PID{}, cluster.Message{}, err
	}
	return n, pid, cluster.Message{Kind: kind, Body: body}, nil
}

func (m *module) send(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	fn := b.Name()
	var pidV starlark.Value
	var kind string
	var bodyV starlark.Value = starlark.String("")
	if err := starlark.UnpackArgs(fn, args, kwargs, "pid", &pidV, "kind", &kind, "body?", &bodyV); err != nil {
		return nil, err
	}
	n, pid, msg, err := m.message(fn, pidV, kind, bodyV)
	if err != nil {
		return nil, err
	}
	if err := n.Send(pid, msg); err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	return starlark.None, nil
}

func (m *module) call(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	fn := b.Name()
	var pidV starlark.Value
	var kind string
	var bodyV starlark.Value = starlark.String("")
	var timeoutV starlark.Value = starlark.Float(1.0)
	if err := starlark.UnpackArgs(fn, args, kwargs, "pid", &pidV, "kind", &kind, "body?", &bodyV, "timeout?", &timeoutV); err != nil {
		return nil, err
	}
	n, pid, msg, err := m.message(fn, pidV, kind, bodyV)
	if err != nil {
		return nil, err
	}
	timeout, err := seconds(fn, "timeout", timeoutV)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 || timeout > MaxCallTimeout {
		return nil, fmt.Errorf("%s: timeout %s: want more than 0 and at most %s", fn, timeout, MaxCallTimeout)
	}
	ctx, cancel := context.WithTimeout(contextOf(thread), timeout)
	defer cancel()
	reply, err := n.Call(ctx, pid, msg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	d := starlark.NewDict(3)
	_ = d.SetKey(starlark.String("kind"), starlark.String(reply.Kind))
	_ = d.SetKey(starlark.String("body"), starlark.String(reply.Body))
	from := starlark.Value(starlark.None)
	if !reply.From.IsZero() {
		from = starlark.String(reply.From.String())
	}
	_ = d.SetKey(starlark.String("from"), from)
	return d, nil
}

func (m *module) kill(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	fn := b.Name()
	var pidV starlark.Value
	reason := string(cluster.ReasonKilled)
	if err := starlark.UnpackArgs(fn, args, kwargs, "pid", &pidV, "reason?", &reason); err != nil {
		return nil, err
	}
	n, err := m.node(fn)
	if err != nil {
		return nil, err
	}
	pid, err := parsePID(fn, pidV)
	if err != nil {
		return nil, err
	}
	if reason == "" || len(reason) > 1024 {
		return nil, fmt.Errorf("%s: reason must be 1..1024 bytes", fn)
	}
	if err := n.Kill(contextOf(thread), pid, cluster.Reason(reason)); err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	return starlark.None, nil
}

func (m *module) lookup(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	n, err := m.node(b.Name())
	if err != nil {
		return nil, err
	}
	pid, ok := n.Whereis(name)
	if !ok {
		return starlark.None, nil
	}
	return starlark.String(pid.String()), nil
}

func (m *module) processes(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	fn := b.Name()
	var nodeV, behaviorV, labelV starlark.Value = starlark.None, starlark.None, starlark.None
	if err := starlark.UnpackArgs(fn, args, kwargs, "node?", &nodeV, "behavior?", &behaviorV, "label?", &labelV); err != nil {
		return nil, err
	}
	n, err := m.node(fn)
	if err != nil {
		return nil, err
	}
	node, err := optString(fn, "node", nodeV)
	if err != nil {
		return nil, err
	}
	behavior, err := optString(fn, "behavior", behaviorV)
	if err != nil {
		return nil, err
	}
	label, err := optString(fn, "label", labelV)
	if err != nil {
		return nil, err
	}
	q := cluster.ProcessQuery{Behavior: behavior, Label: label, Limit: cluster.MaxPageSize}
	if node != "" {
		q.Nodes = []string{node}
	}
	page, err := cluster.NewView(n).Processes(contextOf(thread), q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	if node != "" && len(page.Missing) > 0 {
		ne := page.Missing[0]
		return nil, fmt.Errorf("%s: node %s did not answer (%s, %s): %s", fn, ne.Node, ne.Code, ne.State, ne.Message)
	}
	out := make([]starlark.Value, 0, len(page.Processes))
	for _, p := range page.Processes {
		v, err := FromGo(map[string]any{
			"pid":          p.PID.String(),
			"node":         p.Node,
			"name":         p.Name,
			"behavior":     p.Behavior,
			"status":       p.Status,
			"mailbox":      p.Mailbox,
			"messages_in":  p.MessagesIn,
			"messages_out": p.MessagesOut,
			"labels":       p.Labels,
			"registered":   p.Registered,
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fn, err)
		}
		out = append(out, v)
	}
	return starlark.NewList(out), nil
}

func (m *module) sleep(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	fn := b.Name()
	var secV starlark.Value
	if err := starlark.UnpackArgs(fn, args, kwargs, "seconds", &secV); err != nil {
		return nil, err
	}
	d, err := seconds(fn, "seconds", secV)
	if err != nil {
		return nil, err
	}
	if l := limitsOf(thread); l.MaxSleep > 0 && d > l.MaxSleep {
		return nil, fmt.Errorf("%s: %s is longer than the limit of %s", fn, d, l.MaxSleep)
	}
	ctx := contextOf(thread)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return starlark.None, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: interrupted: %v", fn, ctx.Err())
	}
}

func (m *module) selfNode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	n, err := m.node(b.Name())
	if err != nil {
		return nil, err
	}
	return starlark.String(n.Name()), nil
}
