// Package script runs Starlark (go.starlark.net) scripts against a cluster:
// a predeclared `cluster` module reaches the whole topology through one
// node (members, spawn, send, call, kill, lookup, processes, sleep), and
// every run is bounded in steps and wall time, with no file or network
// access of its own (load() is refused).
//
// Run a script through a node:
//
//	res, err := script.Run(ctx, script.Env{Node: n}, "demo.star", `
//	pid = cluster.spawn("echo", node="node-2")
//	result = cluster.call(pid, "ping", "hi")
//	`, script.Limits{})
//	// res.Value: map[string]any{"kind": "echo", "body": "hi", "from": "node-2/7"}
//
// ExecInSandbox runs a script inside a sandbox: its spawns join the
// sandbox (label sandbox=<name>, listed in its inventory). Script
// operations reuse the same module through Module and Bind.
package script
