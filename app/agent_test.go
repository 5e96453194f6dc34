package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

// The agent tests run `clusterlab agent` as separate processes: the test
// binary re-executes itself with agentHelperEnv set, and
// TestAgentHelperProcess runs the agent (or op) command with the
// arguments after "--", exactly as main does.

const agentHelperEnv = "CLUSTERLAB_AGENT_HELPER"

// TestAgentHelperProcess is not a test: it is the agent process of the
// other tests.
func TestAgentHelperProcess(t *testing.T) {
	if os.Getenv(agentHelperEnv) != "1" {
		t.Skip("helper process of the agent tests")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Leave when the test process goes away (a test binary killed on
	// timeout never runs its cleanups): agents never outlive their test.
	go func(parent int) {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != parent {
				stop()
				return
			}
		}
	}(os.Getppid())
	cli := CLIConfig{Version: "test", Logger: func() (*slog.Logger, error) {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), nil
	}}
	root := &cobra.Command{Use: "clusterlab", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(NewAgentCommand(cli), NewOpCommand(cli))
	root.SetArgs(flag.Args())
	err := root.ExecuteContext(ctx)
	stop()
	code := 0
	if err != nil {
		code = 1
		var ee *ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		if ee == nil || !ee.Reported {
			fmt.Fprintln(os.Stderr, "clusterlab:", err)
		}
	}
	// The helper runs without -test.paniconexit0, so exiting 0 is fine; a
	// data race found by the race detector turns the code into 66.
	os.Exit(code)
}

// helperCommand returns the command that runs `clusterlab ARGS...` through
// the helper, inside network namespace ns when ns is not empty.
func helperCommand(t testing.TB, ns string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	argv := append([]string{exe, "-test.run=^TestAgentHelperProcess$", "--"}, args...)
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), agentHelperEnv+"=1")
	return cmd
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// agentProc is one `clusterlab agent` process.
type agentProc struct {
	name    string
	ns      string
	dataDir string
	args    []string

	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // the exit, once done is closed

	lock   LockInfo
	client *Client
	gossip string
}

// launchAgent starts an agent process (in namespace ns unless empty) with
// its own data dir; waitReady waits for its API.
func launchAgent(t testing.TB, ns, name, dataDir string, args ...string) *agentProc {
	t.Helper()
	a := &agentProc{name: name, ns: ns, dataDir: dataDir, args: args}
	a.start(t)
	t.Cleanup(func() {
		if err := a.stop(syscall.SIGTERM, 10*time.Second); err != nil {
			t.Logf("agent %s: %v", a.name, err)
		}
		if out := a.out.String(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("agent %s: the race detector found a data race:\n%s", a.name, out)
		}
	})
	return a
}

func (a *agentProc) start(t testing.TB) {
	t.Helper()
	argv := append([]string{"agent", "--name", a.name, "--data-dir", a.dataDir}, a.args...)
	a.cmd = helperCommand(t, a.ns, argv...)
	a.out = &syncBuffer{}
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	a.done = make(chan struct{})
	a.client, a.lock, a.gossip = nil, LockInfo{}, ""
	require.NoError(t, a.cmd.Start(), "start agent %s", a.name)
	go func() {
		a.err = a.cmd.Wait()
		close(a.done)
	}()
}

func (a *agentProc) exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// waitReady waits until the agent wrote its lock file and its API names
// its gossip address. dial, when set, reaches the API (a namespace).
func (a *agentProc) waitReady(t testing.TB, timeout time.Duration, hc *http.Client) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if info, err := ReadAgentLock(a.dataDir); err == nil && info.PID == a.cmd.Process.Pid {
			base, err := BaseURL(info.Addr)
			require.NoError(t, err)
			a.lock, a.client = info, &Client{BaseURL: base, Token: info.Token, HTTP: hc}
			break
		}
		select {
		case <-a.done:
			t.Fatalf("agent %s exited before it was ready: %v\n%s", a.name, a.err, a.out.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent %s not ready within %s:\n%s", a.name, timeout, a.out.String())
		}
	}
	var nodes nodeList
	require.NoError(t, runOp(a.client, "list_nodes", nil, &nodes), "agent %s API", a.name)
	for _, m := range nodes.Nodes {
		if m.Local {
			a.gossip = m.Addr
		}
	}
	require.NotEmpty(t, a.gossip, "agent %s lists no local node: %+v", a.name, nodes)
}

// signal sends sig and waits for the exit (killing after the timeout).
func (a *agentProc) stop(sig syscall.Signal, timeout time.Duration) error {
	if a.cmd == nil || a.cmd.Process == nil || a.exited() {
		return nil
	}
	_ = a.cmd.Process.Signal(sig)
	select {
	case <-a.done:
		return a.err
	case <-time.After(timeout):
		_ = a.cmd.Process.Kill()
		<-a.done
		return fmt.Errorf("agent %s did not exit within %s after %v", a.name, timeout, sig)
	}
}

func (a *agentProc) kill() { _ = a.stop(syscall.SIGKILL, 10*time.Second) }

// JSON shapes of the operation results the tests read.
type nodeList struct {
	Observer string           `json:"observer"`
	Nodes    []cluster.Member `json:"nodes"`
}

func (l nodeList) state(name string) string {
	for _, m := range l.Nodes {
		if m.Name == name {
			return m.State
		}
	}
	return cluster.StateUnknown
}

func (l nodeList) alive() []string {
	var out []string
	for _, m := range l.Nodes {
		if m.State == cluster.StateAlive {
			out = append(out, m.Name)
		}
	}
	sort.Strings(out)
	return out
}

type childList struct {
	Children []cluster.ChildInfo `json:"children"`
	Missing  []cluster.NodeError `json:"missing"`
}

type migrationList struct {
	Migrations []cluster.Migration `json:"migrations"`
}

// runOp runs an operation through c and decodes the result into out.
func runOp(c *Client, op string, params map[string]any, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	raw, err := c.Run(ctx, op, params, true)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: decode %s: %w", op, raw, err)
	}
	return nil
}

func mustOp(t testing.TB, c *Client, op string, params map[string]any, out any) {
	t.Helper()
	require.NoError(t, runOp(c, op, params, out))
}

// poll calls cond every interval until it holds (true) or timeout passes
// (false).
func poll(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}

// loopbackAddrs checks that 127.0.0.2 .. 127.0.0.(1+n) can be bound (Linux
// routes all of 127/8 to lo; macOS does not) and skips the test otherwise.
func loopbackAddrs(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	for i := 2; i < 2+n; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i)
		pc, err := net.ListenPacket("udp", ip+":0")
		if err != nil {
			t.Skipf("loopback address %s is not usable (%v): the multi-process agent tests need 127.0.0.2-127.0.0.%d (Linux routes 127/8 to lo; on macOS add aliases with `ifconfig lo0 alias`)", ip, err, 1+n)
		}
		pc.Close()
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Skipf("loopback address %s is not usable for TCP (%v)", ip, err)
		}
		ln.Close()
		out = append(out, ip)
	}
	return out
}

// observer joins the agents as the app does (app.NewBackend with Join,
// profile local) and serves its API on an httptest server.
func newObserver(t testing.TB, seeds ...string) (*Backend, *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := NewBackend(ctx, BackendConfig{Join: seeds, Profile: cluster.ProfileLocal})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Close(ctx)
	})
	srv := httptest.NewServer(NewAPI(b, APIConfig{Token: testToken, Version: "test"}))
	t.Cleanup(srv.Close)
	return b, &Client{BaseURL: srv.URL, Token: testToken}
}

// childrenByID maps child id to where it runs (every copy).
func childrenByID(l childList) map[string][]cluster.ChildInfo {
	out := map[string][]cluster.ChildInfo{}
	for _, c := range l.Children {
		if c.Supervisor == AgentSupervisor {
			out[c.ID] = append(out[c.ID], c)
		}
	}
	return out
}

// allChildIDs is every child id the named agents add.
func allChildIDs(names ...string) []string {
	var ids []string
	for _, n := range names {
		ids = append(ids, AgentChildIDs(n)...)
	}
	sort.Strings(ids)
	return ids
}

// childrenSettled reports whether every id runs exactly once, on a node
// other than the excluded ones.
func childrenSettled(l childList, ids []string, exclude ...string) bool {
	by := childrenByID(l)
	for _, id := range ids {
		cs := by[id]
		if len(cs) != 1 || slices.Contains(exclude, cs[0].Node) {
			return false
		}
	}
	return true
}

// TestAgentCluster runs four `clusterlab agent` processes on 127.0.0.2-5,
// connects the observer, lists and kills processes on remote nodes,
// SIGKILLs an agent (its supervised children restart on the others exactly
// once, the survivors keep answering), restarts it (it rejoins), and stops
// one with SIGTERM (it leaves).
func TestAgentCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process agent test: not in -short")
	}
	ips := loopbackAddrs(t, 4)
	dir := t.TempDir()
	names := []string{"a1", "a2", "a3", "a4"}
	common := []string{"--profile", "local", "--workload", AgentWorkloadSupervisors, "--join-timeout", "20s"}
	agents := map[string]*agentProc{}
	first := launchAgent(t, "", "a1", filepath.Join(dir, "a1"), append([]string{"--bind", ips[0] + ":0"}, common...)...)
	first.waitReady(t, 60*time.Second, nil)
	agents["a1"] = first
	for i, name := range names[1:] {
		agents[name] = launchAgent(t, "", name, filepath.Join(dir, name),
			append([]string{"--bind", ips[i+1] + ":0", "--join", first.gossip}, common...)...)
	}
	for _, name := range names[1:] {
		agents[name].waitReady(t, 60*time.Second, nil)
	}

	obs, api := newObserver(t, agents["a1"].gossip, agents["a2"].gossip)
	require.True(t, poll(30*time.Second, 50*time.Millisecond, func() bool {
		for _, name := range names {
			var l nodeList
			if runOp(agents[name].client, "list_nodes", nil, &l) != nil || len(l.alive()) != len(names)+1 {
				return false
			}
		}
		return true
	}), "every agent sees the four agents and the observer alive")

	t.Run("op CLI against an agent", func(t *testing.T) {
		a := agents["a1"]
		out, err := helperCommand(t, "", "op", "--addr", a.lock.Addr, "--token", a.lock.Token, "--json", "run", "list_nodes").CombinedOutput()
		require.NoError(t, err, "%s", out)
		var l nodeList
		require.NoError(t, json.Unmarshal(out, &l), "%s", out)
		assert.Equal(t, "a1", l.Observer)
		assert.Len(t, l.alive(), len(names)+1)

		out, err = helperCommand(t, "", "op", "--data-dir", a.dataDir, "--json", "run", "list_nodes").CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.NoError(t, json.Unmarshal(out, &l), "%s", out)
		assert.Equal(t, "a1", l.Observer)
	})

	// A process on every node, spawned and listed through the observer.
	echoes := map[string]cluster.PID{}
	for _, name := range names {
		var res struct {
			PID cluster.PID `json:"pid"`
		}
		mustOp(t, api, "spawn", map[string]any{"node": name, "behavior": "echo", "name": "probe"}, &res)
		require.Equal(t, name, res.PID.Node)
		echoes[name] = res.PID
	}
	var page cluster.ProcessPage
	mustOp(t, api, "list_processes", map[string]any{"behavior": "echo", "name": "probe", "limit": 1000}, &page)
	require.Empty(t, page.Missing)
	seen := map[string]bool{}
	for _, p := range page.Processes {
		seen[p.Node] = true
	}
	for _, name := range names {
		require.True(t, seen[name], "list_processes shows the probe on %s: %+v", name, page.Processes)
	}

	// Kill a remote process through the observer.
	mustOp(t, api, "kill_process", map[string]any{"pid": echoes["a2"].String()}, nil)
	require.True(t, poll(10*time.Second, 20*time.Millisecond, func() bool {
		return runOp(api, "process_info", map[string]any{"pid": echoes["a2"].String()}, nil) != nil
	}), "the killed process is gone")
	delete(echoes, "a2")

	// The supervised children settle: every child once.
	ids := allChildIDs(names...)
	var kids childList
	require.True(t, poll(30*time.Second, 50*time.Millisecond, func() bool {
		kids = childList{}
		return runOp(api, "supervisor_children", map[string]any{"supervisor": AgentSupervisor}, &kids) == nil && childrenSettled(kids, ids)
	}), "the %d children run once each: %+v", len(ids), kids)

	// SIGKILL the agent that runs the most children.
	count := map[string]int{}
	for _, c := range kids.Children {
		count[c.Node]++
	}
	victim := names[0]
	for _, name := range names {
		if count[name] > count[victim] {
			victim = name
		}
	}
	var lost []string
	for _, c := range kids.Children {
		if c.Node == victim {
			lost = append(lost, c.ID)
		}
	}
	survivors := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == victim })
	t.Logf("SIGKILL %s, which runs %v", victim, lost)

	w := watchDeath(obs.Observer, victim)
	defer w.stop()
	killed := time.Now()
	require.NoError(t, agents[victim].cmd.Process.Signal(syscall.SIGKILL))
	<-agents[victim].done

	var movedAt time.Time
	require.True(t, poll(30*time.Second, 20*time.Millisecond, func() bool {
		var l childList
		if runOp(api, "supervisor_children", map[string]any{"supervisor": AgentSupervisor}, &l) != nil || !childrenSettled(l, ids, victim) {
			return false
		}
		movedAt = time.Now()
		kids = l
		return true
	}), "the children of %s restart on the others", victim)
	suspectAt, deadAt := w.times()
	require.False(t, suspectAt.IsZero(), "the observer suspected %s", victim)
	t.Logf("figures: %s suspected after %s, dead after %s; its %d children elsewhere after %s",
		victim, suspectAt.Sub(killed).Round(time.Millisecond), deadAt.Sub(killed).Round(time.Millisecond), len(lost), movedAt.Sub(killed).Round(time.Millisecond))

	// Exactly once: one copy of each child, one migration away from the
	// victim for each child it ran.
	var anomalies struct {
		OK         bool                `json:"ok"`
		Duplicates []cluster.ChildInfo `json:"duplicates"`
	}
	mustOp(t, api, "supervisor_anomalies", nil, &anomalies)
	require.Empty(t, anomalies.Duplicates)
	// Every move away from the victim is recorded exactly once. The new
	// owner may learn where the child ran only after it restarted it (the
	// news comes late through gossip) and records the move then, so the
	// history is polled.
	var migs migrationList
	moved := map[string]int{}
	complete := poll(15*time.Second, 50*time.Millisecond, func() bool {
		migs = migrationList{}
		mustOp(t, api, "supervisor_migrations", map[string]any{"supervisor": AgentSupervisor}, &migs)
		clear(moved)
		for _, m := range migs.Migrations {
			if m.From == victim {
				moved[m.Child]++
			}
		}
		for _, id := range lost {
			if moved[id] == 0 {
				return false
			}
		}
		return true
	})
	for _, id := range lost {
		assert.Equal(t, 1, moved[id], "child %s recorded once as moved away from %s (history complete: %v): %+v", id, victim, complete, migs.Migrations)
	}

	// Everything else keeps working: the survivors' APIs answer and see the
	// victim gone; the observer lists processes with the victim missing;
	// calls to processes on survivors go through.
	for _, name := range survivors {
		require.True(t, poll(15*time.Second, 50*time.Millisecond, func() bool {
			var l nodeList
			return runOp(agents[name].client, "list_nodes", nil, &l) == nil && l.state(victim) == cluster.StateDead
		}), "%s's API shows %s dead", name, victim)
	}
	page = cluster.ProcessPage{}
	mustOp(t, api, "list_processes", map[string]any{"limit": 1000}, &page)
	for _, p := range page.Processes {
		require.NotEqual(t, victim, p.Node)
	}
	for name, pid := range echoes {
		if name == victim {
			continue
		}
		var reply struct {
			Body string `json:"body"`
		}
		mustOp(t, api, "call", map[string]any{"pid": pid.String(), "kind": "hello", "body": "x"}, &reply)
		assert.Equal(t, "x", reply.Body)
	}

	// Restart the victim on its address: it rejoins.
	v := agents[victim]
	_, port, _ := net.SplitHostPort(v.gossip)
	host, _, _ := net.SplitHostPort(v.gossip)
	v.args = append([]string{"--bind", net.JoinHostPort(host, port), "--join", agents[survivors[0]].gossip + "," + agents[survivors[1]].gossip}, common...)
	rejoinStart := time.Now()
	v.start(t)
	v.waitReady(t, 60*time.Second, nil)
	require.True(t, poll(30*time.Second, 50*time.Millisecond, func() bool {
		if obs.Observer.MemberState(victim) != cluster.StateAlive {
			return false
		}
		for _, name := range names {
			var l nodeList
			if runOp(agents[name].client, "list_nodes", nil, &l) != nil || len(l.alive()) != len(names)+1 {
				return false
			}
		}
		return true
	}), "%s rejoins: everyone sees it alive", victim)
	t.Logf("%s rejoined %s after its restart", victim, time.Since(rejoinStart).Round(time.Millisecond))
	require.True(t, poll(30*time.Second, 50*time.Millisecond, func() bool {
		var l childList
		return runOp(api, "supervisor_children", map[string]any{"supervisor": AgentSupervisor}, &l) == nil && childrenSettled(l, ids)
	}), "every child runs once after the rejoin")

	// SIGTERM: the agent leaves gracefully and removes its lock file.
	leaver := survivors[len(survivors)-1]
	require.NoError(t, agents[leaver].stop(syscall.SIGTERM, 15*time.Second), "%s", agents[leaver].out.String())
	require.True(t, poll(10*time.Second, 50*time.Millisecond, func() bool {
		return obs.Observer.MemberState(leaver) == cluster.StateLeft
	}), "the observer sees %s left, not dead", leaver)
	_, err := ReadAgentLock(agents[leaver].dataDir)
	require.ErrorIs(t, err, ErrNoServer)
	require.True(t, poll(30*time.Second, 50*time.Millisecond, func() bool {
		var l childList
		return runOp(api, "supervisor_children", map[string]any{"supervisor": AgentSupervisor}, &l) == nil && childrenSettled(l, ids, leaver)
	}), "the children of %s move when it leaves", leaver)
}

// runAgentInProcess runs RunAgent in a goroutine and returns its info once
// ready; the agent stops when the test ends.
func runAgentInProcess(t *testing.T, cfg AgentConfig) AgentInfo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan AgentInfo, 1)
	errc := make(chan error, 1)
	cfg.Ready = func(i AgentInfo) { ready <- i }
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Out == nil {
		cfg.Out = &syncBuffer{}
	}
	go func() { errc <- RunAgent(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			assert.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Errorf("agent %s did not stop", cfg.Name)
		}
	})
	select {
	case info := <-ready:
		return info
	case err := <-errc:
		t.Fatalf("agent %s: %v", cfg.Name, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("agent %s not ready", cfg.Name)
	}
	return AgentInfo{}
}

// freeLoopbackPort returns a port on 127.0.0.1 that nothing listens on
// (TCP and UDP), for an unreachable seed.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestAgentJoinFailures: a wrong key or label, unreachable seeds and a
// name clash fail within the join timeout with an error that says which;
// a non-loopback bind without a key is refused before anything binds.
func TestAgentJoinFailures(t *testing.T) {
	key, err := cluster.NewKey()
	require.NoError(t, err)
	k, err := cluster.ParseKey(key)
	require.NoError(t, err)
	seed := runAgentInProcess(t, AgentConfig{Name: "seed", Bind: "127.0.0.1:0", Profile: cluster.ProfileLocal, Workload: AgentWorkloadDemo})
	keyed := runAgentInProcess(t, AgentConfig{Name: "keyed", Bind: "127.0.0.1:0", Profile: cluster.ProfileLocal, SecretKey: k})

	other, err := cluster.ParseKey(strings.Repeat("A", 43) + "=")
	require.NoError(t, err)
	const joinTimeout = 5 * time.Second
	tests := []struct {
		name string
		cfg  AgentConfig
		want error
		text string
	}{
		{"key on one side only", AgentConfig{Name: "j1", Join: []string{seed.Gossip}, SecretKey: k}, cluster.ErrKeyMismatch, "gossip key mismatch"},
		{"no key for an encrypted cluster", AgentConfig{Name: "j2", Join: []string{keyed.Gossip}}, cluster.ErrKeyMismatch, "gossip key mismatch"},
		{"different keys", AgentConfig{Name: "j3", Join: []string{keyed.Gossip}, SecretKey: other}, cluster.ErrKeyMismatch, "gossip key mismatch"},
		{"label mismatch", AgentConfig{Name: "j4", Join: []string{seed.Gossip}, Label: "other"}, cluster.ErrLabelMismatch, "label mismatch"},
		{"unreachable seeds", AgentConfig{Name: "j5", Join: []string{freeLoopbackPort(t)}}, cluster.ErrNoSeed, "no seed answered"},
		{"name clash", AgentConfig{Name: "seed", Join: []string{seed.Gossip}}, cluster.ErrNameClash, "name clash"},
		{"non-loopback bind without a key", AgentConfig{Name: "j6", Bind: "192.0.2.1:7946"}, cluster.ErrInsecureBind, "--insecure"},
		{"bad workload", AgentConfig{Name: "j7", Workload: "everything"}, ErrAgentConfig, "--workload"},
		{"join and join-dns", AgentConfig{Name: "j8", Join: []string{seed.Gossip}, JoinDNS: "localhost"}, ErrAgentConfig, "--join-dns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Bind == "" {
				cfg.Bind = "127.0.0.1:0"
			}
			cfg.Profile, cfg.JoinTimeout, cfg.DataDir, cfg.Out = cluster.ProfileLocal, joinTimeout, t.TempDir(), &syncBuffer{}
			start := time.Now()
			err := RunAgent(context.Background(), cfg)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.text)
			assert.Less(t, time.Since(start), joinTimeout+5*time.Second, "fails within the join timeout")
			_, lerr := ReadAgentLock(cfg.DataDir)
			assert.ErrorIs(t, lerr, ErrNoServer, "no lock file after a failure")
		})
	}

	// The seeds still see no stranger and are fine.
	var l nodeList
	c := &Client{BaseURL: "http://" + seed.Lock.Addr, Token: seed.Lock.Token}
	mustOp(t, c, "list_nodes", nil, &l)
	assert.Equal(t, []string{"seed"}, l.alive())

	t.Run("process exits non-zero with the reason on stderr", func(t *testing.T) {
		cmd := helperCommand(t, "", "agent", "--name", "j9", "--bind", "127.0.0.1:0", "--profile", "local",
			"--data-dir", t.TempDir(), "--join-timeout", "5s", "--join", keyed.Gossip)
		var stdout, stderr syncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "stdout %s stderr %s", stdout.String(), stderr.String())
		assert.Equal(t, 1, ee.ExitCode())
		assert.Contains(t, stderr.String(), "gossip key mismatch")
	})
}

// TestAgentJoinDNS joins through a DNS name (localhost: A/AAAA records)
// with the seed's port, and reads the key from a file.
func TestAgentJoinDNS(t *testing.T) {
	key, err := cluster.NewKey()
	require.NoError(t, err)
	k, err := cluster.ParseKey(key)
	require.NoError(t, err)
	seed := runAgentInProcess(t, AgentConfig{Name: "dns-seed", Bind: "127.0.0.1:0", Profile: cluster.ProfileLocal, SecretKey: k})
	_, port, err := net.SplitHostPort(seed.Gossip)
	require.NoError(t, err)

	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(key+"\n"), 0o600))
	got, err := readKey("", keyFile)
	require.NoError(t, err)
	require.Equal(t, k, got)

	j := runAgentInProcess(t, AgentConfig{Name: "dns-joiner", Bind: "127.0.0.1:0", Profile: cluster.ProfileLocal, SecretKey: got,
		JoinDNS: "localhost:" + port, Workload: AgentWorkloadDemo, HealthMonitor: true})
	assert.Equal(t, 2, j.Members)
	c := &Client{BaseURL: "http://" + j.Lock.Addr, Token: j.Lock.Token}
	var l nodeList
	mustOp(t, c, "list_nodes", nil, &l)
	assert.Equal(t, []string{"dns-joiner", "dns-seed"}, l.alive())
	var reg struct {
		Entries []cluster.RegistryEntry `json:"entries"`
	}
	require.True(t, poll(10*time.Second, 20*time.Millisecond, func() bool {
		return runOp(c, "registry_lookup", map[string]any{"name": "echo-dns-joiner"}, &reg) == nil
	}), "the demo echo is registered")
	var hs struct {
		Nodes []struct {
			Node string `json:"node"`
		} `json:"nodes"`
	}
	require.True(t, poll(15*time.Second, 50*time.Millisecond, func() bool {
		return runOp(c, "health_status", nil, &hs) == nil && len(hs.Nodes) == 2
	}), "the agent's own health monitor reports both nodes: %+v", hs)
}

// TestAgentConfig checks flag validation and key reading without a network.
func TestAgentConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  AgentConfig
		want string // "" = valid
	}{
		{"minimal", AgentConfig{Name: "a"}, ""},
		{"no name", AgentConfig{}, "--name"},
		{"slash in name", AgentConfig{Name: "a/b"}, "--name"},
		{"profile sim", AgentConfig{Name: "a", Profile: cluster.ProfileSim}, "--profile"},
		{"bad seed", AgentConfig{Name: "a", Join: []string{"nohost"}}, "--join"},
		{"bad dns port", AgentConfig{Name: "a", JoinDNS: "svc:99999"}, "--join-dns"},
		{"dns name", AgentConfig{Name: "a", JoinDNS: "_gossip._udp.svc.local"}, ""},
		{"bad api", AgentConfig{Name: "a", APIAddr: "7070"}, "--api"},
		{"public bind without key", AgentConfig{Name: "a", Bind: "0.0.0.0:7946"}, "--insecure"},
		{"public bind, insecure", AgentConfig{Name: "a", Bind: "0.0.0.0:7946", Insecure: true}, ""},
		{"public bind with key", AgentConfig{Name: "a", Bind: "10.0.0.1:7946", SecretKey: make([]byte, 32)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.DataDir = "x"
			c, err := cfg.withDefaults()
			require.NoError(t, err)
			err = c.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "  \n", "short": "AAAA", "huge": strings.Repeat("A", maxKeyFileBytes+10)} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		_, err := readKey("", p)
		assert.ErrorIs(t, err, ErrAgentConfig, name)
	}
	_, err := readKey("x", "y")
	assert.ErrorContains(t, err, "--key and --key-file")
	t.Setenv(EnvGossipKey, "")
	k, err := readKey("", "")
	require.NoError(t, err)
	assert.Nil(t, k)

	info := LockInfo{Addr: "127.0.0.1:1", Token: "t", PID: os.Getpid()}
	path, err := WriteAgentLock(dir, info)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	got, err := ReadAgentLock(dir)
	require.NoError(t, err)
	assert.Equal(t, info, got)
	require.NoError(t, RemoveAgentLock(dir, info.PID))
	_, err = ReadAgentLock(dir)
	assert.ErrorIs(t, err, ErrNoServer)
}

// BenchmarkRemoteAgentOps measures operations against a node that is
// another process, over loopback: a call to an echo on the agent, a
// process_info through the observer's View, and the same through the
// observer's HTTP API. It reports p50 and p99 of each.
func BenchmarkRemoteAgentOps(b *testing.B) {
	dir := b.TempDir()
	a := launchAgent(b, "", "bench-agent", filepath.Join(dir, "a"), "--bind", "127.0.0.1:0", "--profile", "local")
	a.waitReady(b, 60*time.Second, nil)
	obs, api := newObserver(b, a.gossip)
	ctx := context.Background()
	pid, err := obs.Observer.Spawn(ctx, "bench-agent", "echo", cluster.SpawnOptions{})
	require.NoError(b, err)
	ops := []struct {
		name string
		do   func() error
	}{
		{"call", func() error {
			_, err := obs.Observer.Call(ctx, pid, cluster.Message{Kind: "ping", Body: []byte("x")})
			return err
		}},
		{"info", func() error { _, err := obs.View.ProcessInfo(ctx, pid); return err }},
		{"api", func() error { return runOp(api, "process_info", map[string]any{"pid": pid.String()}, nil) }},
	}
	lat := make([][]time.Duration, len(ops))
	for b.Loop() {
		for i, op := range ops {
			start := time.Now()
			if err := op.do(); err != nil {
				b.Fatal(err)
			}
			lat[i] = append(lat[i], time.Since(start))
		}
	}
	for i, op := range ops {
		slices.Sort(lat[i])
		q := func(p float64) float64 {
			return float64(lat[i][min(len(lat[i])-1, int(p*float64(len(lat[i]))))].Microseconds())
		}
		b.ReportMetric(q(0.50), op.name+"-p50-µs")
		b.ReportMetric(q(0.99), op.name+"-p99-µs")
	}
}

// BenchmarkAgentFailover SIGKILLs one of three agents running supervised
// children and reports, as the observer sees it, when the agent was
// suspected and declared dead and when its children ran elsewhere; then
// restarts it and waits for the rejoin.
func BenchmarkAgentFailover(b *testing.B) {
	ips := loopbackAddrs(b, 3)
	dir := b.TempDir()
	names := []string{"f1", "f2", "f3"}
	common := []string{"--profile", "local", "--workload", AgentWorkloadSupervisors}
	agents := map[string]*agentProc{}
	agents["f1"] = launchAgent(b, "", "f1", filepath.Join(dir, "f1"), append([]string{"--bind", ips[0] + ":0"}, common...)...)
	agents["f1"].waitReady(b, 60*time.Second, nil)
	for i, n := range names[1:] {
		agents[n] = launchAgent(b, "", n, filepath.Join(dir, n), append([]string{"--bind", ips[i+1] + ":0", "--join", agents["f1"].gossip}, common...)...)
		agents[n].waitReady(b, 60*time.Second, nil)
	}
	obs, api := newObserver(b, agents["f1"].gossip)
	ids := allChildIDs(names...)
	settled := func(exclude ...string) bool {
		var l childList
		return runOp(api, "supervisor_children", map[string]any{"supervisor": AgentSupervisor}, &l) == nil && childrenSettled(l, ids, exclude...)
	}
	require.True(b, poll(60*time.Second, 50*time.Millisecond, func() bool { return settled() }))

	var suspect, dead, moved []time.Duration
	round := 0
	for b.Loop() {
		victim := names[1+round%2]
		round++
		a := agents[victim]
		w := watchDeath(obs.Observer, victim)
		killed := time.Now()
		require.NoError(b, a.cmd.Process.Signal(syscall.SIGKILL))
		<-a.done
		require.True(b, poll(30*time.Second, 10*time.Millisecond, func() bool { return settled(victim) }))
		movedAt := time.Now()
		require.True(b, poll(10*time.Second, 10*time.Millisecond, func() bool {
			_, deadAt := w.times()
			return !deadAt.IsZero()
		}))
		w.stop()
		suspectAt, deadAt := w.times()
		suspect = append(suspect, suspectAt.Sub(killed))
		dead = append(dead, deadAt.Sub(killed))
		moved = append(moved, movedAt.Sub(killed))

		a.args = append([]string{"--bind", a.gossip, "--join", agents["f1"].gossip}, common...)
		a.start(b)
		a.waitReady(b, 60*time.Second, nil)
		require.True(b, poll(30*time.Second, 50*time.Millisecond, func() bool {
			return obs.Observer.MemberState(victim) == cluster.StateAlive && settled()
		}))
	}
	worst := func(d []time.Duration) float64 { return float64(slices.Max(d).Milliseconds()) }
	b.ReportMetric(worst(suspect), "suspect-ms")
	b.ReportMetric(worst(dead), "dead-ms")
	b.ReportMetric(worst(moved), "children-moved-ms")
}

// FuzzReadAgentLock: whatever the lock file holds, reading it never
// panics, and a lock it accepts names an address and a token.
func FuzzReadAgentLock(f *testing.F) {
	f.Add([]byte(`{"addr":"127.0.0.1:1","token":"t","pid":1}`))
	f.Add([]byte(`{"addr":"","token":"t"}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, AgentLockFileName), b, 0o600))
		info, err := ReadAgentLock(dir)
		if err == nil {
			assert.NotEmpty(t, info.Addr)
			assert.NotEmpty(t, info.Token)
		}
	})
}

// FuzzSplitDNSName: --join-dns never panics and yields a name and a port
// in range.
func FuzzSplitDNSName(f *testing.F) {
	for _, s := range []string{"svc", "svc:7946", "_gossip._udp.svc.local", ":1", "a:", "a:b:c", "a:0", "a:65536"} {
		f.Add(s, 7946)
	}
	f.Fuzz(func(t *testing.T, s string, def int) {
		name, port, err := splitDNSName(s, def)
		if err != nil {
			require.ErrorIs(t, err, ErrAgentConfig)
			return
		}
		assert.NotEmpty(t, name)
		assert.True(t, port > 0 && port <= 65535, "port %d", port)
	})
}

// deathWatch records when an observer first suspected a node and first
// declared it dead.
type deathWatch struct {
	mu                sync.Mutex
	suspectAt, deadAt time.Time
	stop              func()
}

// watchDeath starts recording victim's suspicion and death as n sees them.
func watchDeath(n *cluster.Node, victim string) *deathWatch {
	w := &deathWatch{}
	w.stop = n.Subscribe(func(ev cluster.MemberEvent) {
		if ev.Member.Name != victim {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if (ev.Type == cluster.MemberSuspected || ev.Type == cluster.MemberDied) && w.suspectAt.IsZero() {
			w.suspectAt = time.Now()
		}
		if ev.Type == cluster.MemberDied && w.deadAt.IsZero() {
			w.deadAt = time.Now()
		}
	})
	return w
}

// times returns when the victim was first suspected and declared dead
// (zero when not yet).
func (w *deathWatch) times() (suspect, dead time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.suspectAt, w.deadAt
}
