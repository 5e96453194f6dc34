// Package scenario reads replayable simulator scenarios from YAML and runs
// them against a fresh simulated cluster: a scenario names its seed, its
// nodes and a list of steps (faults, processes, registry, supervisors,
// sandboxes, traces) interleaved with conditions that must hold, so a
// distributed behaviour is checked the same way by `go test`, by
// `clusterlab scenario run FILE` and by a developer at the keyboard.
//
// A scenario file:
//
//	name: crash-detect
//	seed: 42
//	nodes: 3
//	steps:
//	  - spawn: {node: node-2, behavior: echo, as: e1}
//	  - crash: node-2
//	  - wait_until:
//	      condition: {member_state: {observer: node-1, node: node-2, state: dead}}
//	      within: 5s
//	  - expect: {condition: {process_gone: $e1}}
//
// Load (or Parse) reads and validates the whole file before anything runs:
// unknown fields and steps, bad durations, unknown nodes and variables are
// reported with their line. Run then starts the simulator, runs the steps
// in order, prints each with its timing and result, stops at the first
// failure and says what was expected and what was seen, and always prints
// the seed:
//
//	sc, err := scenario.Load("testdata/crash-detect.yaml")
//	if err != nil { ... }
//	rep, err := scenario.Run(ctx, sc, scenario.RunOptions{Out: os.Stdout})
//	if err != nil || !rep.Passed { ... }
//
// Steps are registered by kind, one file per concern (steps_nodes.go,
// steps_network.go, steps_process.go, steps_registry.go,
// steps_supervisor.go, steps_sandbox.go, steps_trace.go, steps_control.go);
// the conditions that wait_until and expect evaluate live in conditions.go.
package scenario
