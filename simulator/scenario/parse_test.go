package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clusterlab/clusterlab/cluster"
)

func TestParseDefaultsAndSteps(t *testing.T) {
	sc, err := Parse([]byte(`
name: all-basic-steps
steps:
  - start_nodes: {count: 2, tags: {zone: b}}
  - spawn: {node: node-6, behavior: echo, name: e, args: {interval: 100ms}, as: e1}
  - send: {from_node: node-2, to: $e1, kind: ping, body: hi, count: 3}
  - register: {name: svc, pid: $e1}
  - partition: [[node-1, node-2], [node-3]]
  - cut: {from: node-1, to: node-2}
  - uncut: {from: node-1, to: node-2}
  - latency: {a: node-1, b: node-2, latency: 50ms, jitter: 10ms}
  - latency: {latency: 1ms}
  - loss: {a: node-1, b: node-2, p: 0.2}
  - clear_link: {a: node-1, b: node-2}
  - heal: {}
  - heal:
  - sleep: 10ms
  - wait_until: {condition: converged, within: 5s}
  - wait_until: {condition: {alive: {node: node-1, sees: 7}}}
  - expect: {condition: {all: [{process_alive: $e1}, {not: {process_gone: $e1}}, {any: [converged]}]}}
  - expect: {condition: {registry: {name: svc, resolves_everywhere: true, pid: $e1}}}
  - expect: {condition: {member_state: {observer: node-1, node: node-3, state: alive}}}
  - expect: {condition: {process_count: {behavior: echo, at_least: 1, at_most: 2}}}
  - kill: $e1
  - kill: {pid: node-1/3, reason: shutdown, via: node-2}
  - unregister: svc
  - crash: node-3
  - restart: [node-3]
  - stop: node-4
  - start_supervisor: {name: sup, max_restarts: 5, period: 2s}
  - start_child: {supervisor: sup, id: c1, behavior: echo, restart: transient, placement: {strategy: rendezvous, node: node-2, tags: {zone: b}}, as: c1}
  - start_children: {supervisor: sup, count: 3, behavior: echo}
  - wait_until: {condition: {all: [{children_exactly_once: {supervisor: sup, count: 4}}, {supervisor: {name: sup, children: 4, failed: false}}]}}
  - terminate_child: {supervisor: sup, id: c1}
  - sandbox_create: {name: lab, nodes: [node-1, node-2], children: [{behavior: echo, count: 2, name: e}], on_node_loss: restart}
  - sandbox_spawn: {sandbox: lab, behavior: echo, as: s1}
  - expect: {condition: {all: [{sandbox: {name: lab, state: active}}, {not: {sandbox_empty: lab}}]}}
  - trace_start: {pid: $s1, as: t1, kinds: [receive], duration: 1s, max_events: 10}
  - expect: {condition: {trace_events_in_order: {trace: $t1, at_least: 0, kind: receive}}}
  - trace_stop: $t1
  - sandbox_destroy: lab
  - stop_supervisor: sup
`))
	require.NoError(t, err)
	assert.Equal(t, "all-basic-steps", sc.Name)
	assert.Equal(t, int64(DefaultSeed), sc.Seed)
	assert.Equal(t, DefaultNodes, sc.Nodes)
	assert.Equal(t, cluster.ProfileSim, sc.Profile)
	require.Len(t, sc.Steps, 39)
	wantSummaries := map[int]string{
		0:  "start_nodes 2",
		1:  "spawn echo on node-6 as $e1",
		2:  "send ping to $e1 x3 from node-2",
		4:  "partition [node-1, node-2] | [node-3]",
		8:  "latency every link 1ms±0s",
		13: "sleep 10ms",
		14: "wait_until converged within 5s",
		15: "wait_until alive(node-1 sees 7) within 10s",
		21: "kill node-1/3 (shutdown)",
		24: "restart node-3",
		27: "start_child sup/c1 (echo) prefer node-2",
		28: "start_children sup x3 (echo, ids child-1..child-3)",
		31: "sandbox_create lab on node-1, node-2 with 2 processes",
		34: "trace_start $s1 as $t1",
	}
	for i, want := range wantSummaries {
		assert.Equal(t, want, sc.Steps[i].String(), "Steps[%d].String()", i)
	}
	assert.Equal(t, "spawn", sc.Steps[1].Kind)
	assert.Equal(t, 5, sc.Steps[1].Line)
}

func TestParseTopLevel(t *testing.T) {
	sc, err := Parse([]byte("name: x\ndescription: d\nseed: 42\nnodes: 0\nprofile: local\nsteps:\n  - start_nodes: {count: 1}\n  - crash: node-1\n"))
	require.NoError(t, err)
	assert.Equal(t, int64(42), sc.Seed)
	assert.Equal(t, 0, sc.Nodes)
	assert.Equal(t, cluster.ProfileLocal, sc.Profile)
	assert.Equal(t, "d", sc.Description)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error
	}{
		{"empty", "", []string{"empty"}},
		{"not yaml", "steps: [\n", []string{"line"}},
		{"top-level unknown field", "name: x\nsedd: 4\nsteps: [heal: {}]\n", []string{"line 2", `unknown field "sedd"`, "seed"}},
		{"top-level not a mapping", "- heal: {}\n", []string{"want a mapping"}},
		{"no steps", "name: x\n", []string{"no steps"}},
		{"bad profile", "profile: wan\nsteps: [heal: {}]\n", []string{"line 1", `unknown profile "wan"`}},
		{"negative nodes", "nodes: -1\nsteps: [heal: {}]\n", []string{"nodes: -1"}},
		{"nodes not a number", "nodes: five\nsteps: [heal: {}]\n", []string{"line 1", "want an integer", `"five"`}},
		{"two documents", "steps: [heal: {}]\n---\nsteps: [heal: {}]\n", []string{"more than one YAML document"}},
		{"unknown step", "steps:\n  - heal: {}\n  - crsh: node-1\n", []string{"line 3", "step 2", `unknown step "crsh"`, "crash"}},
		{"step with two keys", "steps:\n  - spawn:\n    behavior: echo\n", []string{"line 2", "exactly one key", "spawn, behavior"}},
		{"step not a map", "steps:\n  - heal\n", []string{"line 2", "map with one key"}},
		{"unknown field in step", "steps:\n  - spawn:\n      node: node-1\n      behaviour: echo\n", []string{"line 4", "step 1 (spawn)", `unknown field "behaviour"`, "behavior"}},
		{"wrong type in step", "steps:\n  - send: {to: node-1/1, kind: k, count: many}\n", []string{"line 2", "count: want an integer"}},
		{"bad duration", "steps:\n  - sleep: 5 seconds\n", []string{"line 2", `"5 seconds" is not a duration`}},
		{"duration without unit", "steps:\n  - wait_until: {condition: converged, within: 5}\n", []string{"line 2", "add a unit"}},
		{"duration too long", "steps:\n  - sleep: 2h\n", []string{"longer than the limit"}},
		{"unknown variable", "steps:\n  - kill: $e1\n", []string{"line 2", "step 1 (kill)", "unknown variable $e1"}},
		{"variable used before set", "steps:\n  - expect: {condition: {process_alive: $e1}}\n  - spawn: {behavior: echo, as: e1}\n", []string{"step 1", "unknown variable $e1"}},
		{"variable set twice", "steps:\n  - spawn: {behavior: echo, as: e1}\n  - spawn: {behavior: echo, as: e1}\n", []string{"step 2", "already set by step 1"}},
		{"bad variable name", "steps:\n  - spawn: {behavior: echo, as: 1x}\n", []string{"not a variable name"}},
		{"unknown node", "nodes: 3\nsteps:\n  - crash: node-4\n", []string{"line 3", `unknown node "node-4"`, "node-1, node-2, node-3"}},
		{"node before start_nodes", "nodes: 0\nsteps:\n  - crash: node-1\n", []string{"no node is started yet"}},
		{"unknown node in partition", "steps:\n  - partition: [[node-1], [node-9]]\n", []string{`unknown node "node-9"`}},
		{"node in two groups", "steps:\n  - partition: [[node-1], [node-1, node-2]]\n", []string{"group 1 and group 2"}},
		{"literal pid on unknown node", "steps:\n  - kill: node-9/1\n", []string{`unknown node "node-9"`}},
		{"not a pid", "steps:\n  - kill: e1\n", []string{"neither a $variable nor a PID"}},
		{"loss out of range", "steps:\n  - loss: {a: node-1, b: node-2, p: 1.5}\n", []string{"not a probability"}},
		{"latency half a link", "steps:\n  - latency: {a: node-1, latency: 5ms}\n", []string{"both a and b"}},
		{"spawn without behavior", "steps:\n  - spawn: {node: node-1}\n", []string{"behavior is required"}},
		{"send without kind", "steps:\n  - spawn: {behavior: echo, as: e}\n  - send: {to: $e}\n", []string{"kind is required"}},
		{"count too large", "steps:\n  - spawn: {behavior: echo, as: e}\n  - send: {to: $e, kind: k, count: 100000000}\n", []string{"outside 1..100000"}},
		{"heal with args", "steps:\n  - heal: now\n", []string{"heal takes no arguments"}},
		{"unknown condition", "steps:\n  - expect: {condition: convergd}\n", []string{"line 2", `unknown condition "convergd"`, "converged"}},
		{"condition missing", "steps:\n  - expect: {}\n", []string{"condition is required"}},
		{"expect with within", "steps:\n  - expect: {condition: converged, within: 1s}\n", []string{"takes no within"}},
		{"wait_until zero", "steps:\n  - wait_until: {condition: converged, within: 0s}\n", []string{"more than 0"}},
		{"condition unknown field", "steps:\n  - expect:\n      condition:\n        alive: {node: node-1, see: 3}\n", []string{"line 4", `unknown field "see"`}},
		{"alive without sees", "steps:\n  - expect: {condition: {alive: {node: node-1}}}\n", []string{"sees"}},
		{"member_state bad state", "steps:\n  - expect: {condition: {member_state: {observer: node-1, node: node-2, state: gone}}}\n", []string{`"gone" is not one of`}},
		{"process_count without bound", "steps:\n  - expect: {condition: {process_count: {behavior: echo}}}\n", []string{"equals, at_least or at_most"}},
		{"empty all", "steps:\n  - expect: {condition: {all: []}}\n", []string{"non-empty list"}},
		{"wrong variable kind", "steps:\n  - spawn: {behavior: echo, as: e}\n  - expect: {condition: {process_alive: e}}\n", []string{"neither a $variable nor a PID"}},
		{"args not json", "steps:\n  - spawn: {behavior: echo, args: 'not json'}\n", []string{"not JSON"}},
		{"unknown supervisor", "steps:\n  - start_child: {supervisor: sup, id: c, behavior: echo}\n", []string{`unknown supervisor "sup"`, "start_supervisor: sup"}},
		{"supervisor stopped", "steps:\n  - start_supervisor: sup\n  - stop_supervisor: sup\n  - expect: {condition: {children_exactly_once: {supervisor: sup}}}\n", []string{"step 3", `unknown supervisor "sup"`}},
		{"bad restart policy", "steps:\n  - start_supervisor: sup\n  - start_child: {supervisor: sup, id: c, behavior: echo, restart: always}\n", []string{`"always" is not permanent`}},
		{"placement unknown field", "steps:\n  - start_supervisor: sup\n  - start_child:\n      supervisor: sup\n      id: c\n      behavior: echo\n      placement: {nod: node-1}\n", []string{"line 7", `placement: unknown field "nod"`}},
		{"placement unknown node", "steps:\n  - start_supervisor: sup\n  - start_child: {supervisor: sup, id: c, behavior: echo, placement: {node: node-8}}\n", []string{"placement.node", `unknown node "node-8"`}},
		{"start_children without count", "steps:\n  - start_supervisor: sup\n  - start_children: {supervisor: sup, behavior: echo}\n", []string{"count: want 1.."}},
		{"unknown sandbox", "steps:\n  - sandbox_destroy: lab\n", []string{`unknown sandbox "lab"`}},
		{"sandbox nodes and spread", "steps:\n  - sandbox_create: {name: s, nodes: [node-1], spread: 2}\n", []string{"nodes or spread"}},
		{"sandbox child node", "steps:\n  - sandbox_create: {name: s, spread: 2, children: [{behavior: echo, node: node-9}]}\n", []string{"children[0].node", `unknown node "node-9"`}},
		{"sandbox bad policy", "steps:\n  - sandbox_create: {name: s, spread: 2, on_node_loss: panic}\n", []string{`"panic" is not keep or restart`}},
		{"sandbox state", "steps:\n  - sandbox_create: {name: s, spread: 2}\n  - expect: {condition: {sandbox: {name: s, state: broken}}}\n", []string{`"broken" is not active`}},
		{"trace without as", "steps:\n  - spawn: {behavior: echo, as: e}\n  - trace_start: {pid: $e}\n", []string{"as is required"}},
		{"trace bad kind", "steps:\n  - spawn: {behavior: echo, as: e}\n  - trace_start: {pid: $e, as: t, kinds: [recv]}\n", []string{`"recv" is not one of`}},
		{"pid used as trace", "steps:\n  - spawn: {behavior: echo, as: e}\n  - expect: {condition: {trace_events_in_order: {trace: $e, at_least: 1}}}\n", []string{"$e (set by step 1) is a pid, not a trace"}},
		{"trace used as pid", "steps:\n  - spawn: {behavior: echo, as: e}\n  - trace_start: {pid: $e, as: t}\n  - kill: $t\n", []string{"$t (set by step 2) is a trace, not a pid"}},
		{"alias bomb", "x0: &a0 [converged, converged, converged, converged, converged, converged, converged, converged, converged, converged]\n" +
			"x1: &a1 {all: [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]}\n" +
			"x2: &a2 {all: [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]}\n" +
			"x3: &a3 {all: [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]}\n" +
			"x4: &a4 {all: [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]}\n" +
			"x5: &a5 {all: [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]}\n" +
			"steps: [{expect: {condition: *a5}}]\n", []string{"expands to more than"}},
		{"recursive alias", "steps: &s [{expect: {condition: {all: *s}}}]\n", []string{"refers to the node that contains it"}},
		{"several problems", "steps:\n  - crash: node-9\n  - kill: $x\n", []string{"step 1 (crash)", "step 2 (kill)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := Parse([]byte(tt.in))
			require.Error(t, err, "Parse(%q) = %v; want an error", tt.in, sc)
			assert.Nil(t, sc)
			assert.True(t, errors.Is(err, ErrInvalid), "Parse error %v does not wrap ErrInvalid", err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w, "Parse(%q) error", tt.in)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "scenario: "), "error %q lacks the package prefix", err)
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "my-scenario.yaml")
	require.NoError(t, os.WriteFile(good, []byte("steps: [heal: {}]\n"), 0o600))
	sc, err := Load(good)
	require.NoError(t, err)
	assert.Equal(t, "my-scenario", sc.Name, "Name defaults to the file name")
	assert.Equal(t, good, sc.Path)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("steps:\n  - crash: node-77\n"), 0o600))
	_, err = Load(bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "scenario: "+bad+": line 2: step 1 (crash)")

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrInvalid), "a missing file is not an invalid scenario")

	big := filepath.Join(dir, "big.yaml")
	require.NoError(t, os.WriteFile(big, []byte(strings.Repeat("#", MaxFileSize+10)), 0o600))
	_, err = Load(big)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "larger than")
}

func TestStepAndConditionKindsDocumented(t *testing.T) {
	for name, usage := range StepKinds() {
		assert.NotEmpty(t, usage, "step %s has no usage", name)
	}
	for name, usage := range ConditionKinds() {
		assert.NotEmpty(t, usage, "condition %s has no usage", name)
	}
}

// FuzzParse feeds arbitrary bytes to Parse: it must return a scenario or an
// error, never panic.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"steps: [heal: {}]\n",
		"name: x\nseed: 3\nnodes: 2\nsteps:\n  - spawn: {node: node-1, behavior: echo, as: e}\n  - kill: $e\n",
		"steps:\n  - wait_until: {condition: {all: [converged, {not: {process_gone: node-1/1}}]}, within: 1s}\n",
		"steps:\n  - partition: [[node-1], [node-2]]\n  - heal:\n",
		"a: &a [*a]\n",
		"steps: [{spawn: {args: {a: [1, {b: 2}]}}}]\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := Parse(b)
		if err == nil {
			require.NotNil(t, sc)
			for _, st := range sc.Steps {
				_ = st.String()
			}
			return
		}
		require.ErrorIs(t, err, ErrInvalid)
	})
}
