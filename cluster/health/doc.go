// Package health watches a cluster from one node (the observer) and turns
// what it sees into actionable alerts: node down, resource pressure against
// thresholds and per-node baselines, process and supervisor imbalance,
// split-brain partitions and asymmetric cuts, and a merged timeline of
// "who thought whom was dead, and when".
//
// The decisions are pure and tested as tables: Engine (rules, durations,
// EWMA baselines), DetectPartition, Imbalance, MergeTimeline, NextInterval.
// The Monitor is the thin layer that collects each member's
// cluster.HealthSample over RPC, feeds the decisions, keeps alerts and
// their history (AlertStore) and backs its own sampling off when it costs
// more than its budget. Its collectors run under Supervise, which restarts
// them after a panic without losing the state kept in the Monitor.
//
//	cluster.EnableHealthRPC(node) // on every node (the app, agents, the simulator's Setup)
//	m, err := health.New(health.Config{Node: observer, Store: store})
//	if err != nil { ... }
//	cancel := m.Subscribe(func(ev health.Event) { ... }) // alerts as events
//	defer cancel()
//	go m.Run(ctx)
//	report := m.Snapshot()
package health
