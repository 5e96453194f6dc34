//go:build linux

package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/clusterlab/clusterlab/cluster"
)

// The partition test puts agents into two network namespaces joined by one
// veth pair, with 10.x addresses that exist only inside the namespaces: the
// host's interfaces and routes are never touched, and both namespaces
// (with the veth pair) are deleted when the test ends, even on failure.

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/run/netns"

// ipCmd runs iproute2's ip with args.
func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// netnsHTTPClient returns an HTTP client whose connections are opened from
// inside network namespace ns, so that it reaches the agent API listening
// on 127.0.0.1 there. Each dial runs on a goroutine locked to its own OS
// thread that enters the namespace and is never unlocked: the thread ends
// with the goroutine, so nothing else ever runs in the namespace.
func netnsHTTPClient(ns string) *http.Client {
	path := filepath.Join(netnsDir, ns)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			f, err := os.Open(path)
			if err != nil {
				ch <- result{nil, err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- result{nil, fmt.Errorf("setns %s: %w", ns, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 2}}
}

// netnsPair creates namespaces a and b joined by a veth pair with the given
// addresses (CIDR) on each end, and deletes them when the test ends. It
// returns the name of a's veth end. It skips the test when namespaces
// cannot be created.
func netnsPair(t *testing.T, id string, addrsA, addrsB []string) (nsA, nsB, vethA string) {
	t.Helper()
	nsA, nsB = "cltest-"+id+"-a", "cltest-"+id+"-b"
	vethA, vethB := "clv"+id+"a", "clv"+id+"b"
	t.Cleanup(func() {
		// Deleting a namespace destroys the veth end in it, and with it
		// the pair.
		for _, ns := range []string{nsA, nsB} {
			if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
				if err := ipCmd("netns", "del", ns); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		}
	})
	if err := ipCmd("netns", "add", nsA); err != nil {
		t.Skipf("cannot create network namespaces (needs root with CAP_SYS_ADMIN and iproute2): %v", err)
	}
	require.NoError(t, ipCmd("netns", "add", nsB))
	// Both ends are created directly inside their namespaces: nothing
	// appears in the host's namespace, not even briefly.
	require.NoError(t, ipCmd("link", "add", vethA, "netns", nsA, "type", "veth", "peer", "name", vethB, "netns", nsB))
	for _, side := range []struct {
		ns, dev string
		addrs   []string
	}{{nsA, vethA, addrsA}, {nsB, vethB, addrsB}} {
		for _, a := range side.addrs {
			require.NoError(t, ipCmd("-n", side.ns, "addr", "add", a, "dev", side.dev))
		}
		require.NoError(t, ipCmd("-n", side.ns, "link", "set", "lo", "up"))
		require.NoError(t, ipCmd("-n", side.ns, "link", "set", side.dev, "up"))
	}
	return nsA, nsB, vethA
}

// TestNetnsPartition splits agents in two network namespaces by taking
// their veth link down: each side sees the other dead and stays
// inspectable through its own agent API; a name is registered on both
// sides; after the link comes back up the cluster merges and the name
// resolves to one winner everywhere.
func TestNetnsPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespace test: not in -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and a veth pair with iproute2 (CI runs it as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's `ip` command")
	}
	id := fmt.Sprintf("%d%02d", os.Getpid()%100000, rand.IntN(100))
	net3 := fmt.Sprintf("10.213.%d.", rand.IntN(250)+1)
	nsA, nsB, vethA := netnsPair(t, id,
		[]string{net3 + "1/24", net3 + "3/24"},
		[]string{net3 + "2/24", net3 + "4/24"})

	key, err := cluster.NewKey()
	require.NoError(t, err)
	dir := t.TempDir()
	type member struct {
		name, ns, ip string
	}
	members := []member{{"a1", nsA, net3 + "1"}, {"a2", nsA, net3 + "3"}, {"b1", nsB, net3 + "2"}, {"b2", nsB, net3 + "4"}}
	seed := net3 + "1:7946"
	clients := map[string]*http.Client{nsA: netnsHTTPClient(nsA), nsB: netnsHTTPClient(nsB)}
	agents := map[string]*agentProc{}
	for i, m := range members {
		args := []string{"--bind", m.ip + ":7946", "--key", key, "--profile", "local", "--workload", AgentWorkloadNone, "--join-timeout", "20s"}
		if i > 0 {
			args = append(args, "--join", seed)
		}
		agents[m.name] = launchAgent(t, m.ns, m.name, filepath.Join(dir, m.name), args...)
		if i == 0 {
			agents[m.name].waitReady(t, 60*time.Second, clients[m.ns])
		}
	}
	for _, m := range members[1:] {
		agents[m.name].waitReady(t, 60*time.Second, clients[m.ns])
	}
	sideA, sideB := []string{"a1", "a2"}, []string{"b1", "b2"}
	all := append(append([]string{}, sideA...), sideB...)

	// sees reports whether name's own API shows exactly want alive.
	sees := func(name string, want []string) bool {
		var l nodeList
		if runOp(agents[name].client, "list_nodes", nil, &l) != nil {
			return false
		}
		return assert.ObjectsAreEqual(want, l.alive())
	}
	allSee := func(names, want []string) bool {
		for _, n := range names {
			if !sees(n, want) {
				return false
			}
		}
		return true
	}
	require.True(t, poll(30*time.Second, 50*time.Millisecond, func() bool { return allSee(all, all) }),
		"the four agents see each other across the veth pair")

	// Split. Each agent's own API first shows the other side not alive
	// (suspected), then dead.
	split := time.Now()
	require.NoError(t, ipCmd("-n", nsA, "link", "set", vethA, "down"))
	type detection struct{ gone, dead time.Duration }
	detected := map[string]detection{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, side := range [][]string{sideA, sideB} {
		for _, n := range side {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var d detection
				ok := poll(30*time.Second, 20*time.Millisecond, func() bool {
					var l nodeList
					if runOp(agents[n].client, "list_nodes", nil, &l) != nil || !assert.ObjectsAreEqual(side, l.alive()) {
						return false
					}
					if d.gone == 0 {
						d.gone = time.Since(split)
					}
					for _, o := range all {
						if !slices.Contains(side, o) && l.state(o) != cluster.StateDead {
							return false
						}
					}
					d.dead = time.Since(split)
					return true
				})
				if ok {
					mu.Lock()
					detected[n] = d
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	require.Len(t, detected, len(all), "each side sees the other dead: %+v", detected)
	var figs []string
	for _, n := range all {
		figs = append(figs, fmt.Sprintf("%s %s/%s", n, detected[n].gone.Round(time.Millisecond), detected[n].dead.Round(time.Millisecond)))
	}
	t.Logf("figures: after the split, each agent saw the other side not alive/dead after: %s", strings.Join(figs, ", "))

	// Each side stays inspectable through its own agent API and registers
	// the same name.
	pids := map[string]cluster.PID{}
	for _, n := range []string{"a1", "b1"} {
		c := agents[n].client
		var l nodeList
		mustOp(t, c, "list_nodes", nil, &l)
		other := sideB
		if n == "b1" {
			other = sideA
		}
		for _, o := range other {
			assert.Equal(t, cluster.StateDead, l.state(o), "%s sees %s dead", n, o)
		}
		var spawned struct {
			PID cluster.PID `json:"pid"`
		}
		mustOp(t, c, "spawn", map[string]any{"node": n, "behavior": "echo", "name": "leader"}, &spawned)
		pids[n] = spawned.PID
		mustOp(t, c, "registry_register", map[string]any{"name": "leader", "pid": spawned.PID.String()}, nil)
		var page cluster.ProcessPage
		mustOp(t, c, "list_processes", map[string]any{"limit": 1000}, &page)
		require.NotEmpty(t, page.Processes, "%s lists its side's processes", n)
		for _, p := range page.Processes {
			assert.NotContains(t, other, p.Node, "%s cannot list the other side's processes", n)
		}
	}
	lookup := func(via string) (cluster.PID, bool) {
		var e cluster.RegistryEntry
		if runOp(agents[via].client, "registry_lookup", map[string]any{"name": "leader"}, &e) != nil {
			return cluster.PID{}, false
		}
		return e.PID, true
	}
	for _, n := range sideA {
		require.True(t, poll(10*time.Second, 50*time.Millisecond, func() bool { p, ok := lookup(n); return ok && p == pids["a1"] }), "side A resolves leader to a1's process")
	}
	for _, n := range sideB {
		require.True(t, poll(10*time.Second, 50*time.Millisecond, func() bool { p, ok := lookup(n); return ok && p == pids["b1"] }), "side B resolves leader to b1's process")
	}

	// Heal: the cluster merges and the name has one winner everywhere.
	healed := time.Now()
	require.NoError(t, ipCmd("-n", nsA, "link", "set", vethA, "up"))
	require.True(t, poll(30*time.Second, 50*time.Millisecond, func() bool { return allSee(all, all) }), "the cluster merges")
	merged := time.Since(healed)
	var winner cluster.PID
	require.True(t, poll(15*time.Second, 50*time.Millisecond, func() bool {
		first, ok := lookup(all[0])
		if !ok {
			return false
		}
		for _, n := range all[1:] {
			if p, ok := lookup(n); !ok || p != first {
				return false
			}
		}
		winner = first
		return true
	}), "leader resolves to one winner on every agent")
	resolved := time.Since(healed)
	t.Logf("figures: healed partition merged after %s, names resolved after %s; leader won by %s", merged.Round(time.Millisecond), resolved.Round(time.Millisecond), winner)
	require.Contains(t, []cluster.PID{pids["a1"], pids["b1"]}, winner)
	loser := pids["a1"]
	if winner == loser {
		loser = pids["b1"]
	}
	require.True(t, poll(10*time.Second, 50*time.Millisecond, func() bool {
		return runOp(agents["a2"].client, "process_info", map[string]any{"pid": loser.String()}, nil) != nil
	}), "the loser %s exits (name_conflict)", loser)
	var conflicts struct {
		Conflicts []struct {
			Name   string      `json:"name"`
			Winner cluster.PID `json:"winner"`
		} `json:"conflicts"`
	}
	mustOp(t, agents["b2"].client, "registry_conflicts", nil, &conflicts)
	found := false
	for _, c := range conflicts.Conflicts {
		if c.Name == "leader" {
			found = true
			assert.Equal(t, winner, c.Winner)
		}
	}
	assert.True(t, found, "the conflict is recorded: %+v", conflicts)
}
