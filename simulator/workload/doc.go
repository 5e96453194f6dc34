// Package workload holds the demo behaviours that the simulator and real
// clusterlab agents run: echo, counter, ticker, pinger, crasher and
// cpu-burner. Each is a cluster.Behavior spawnable by name, configured by a
// small JSON args object (empty args pick the defaults).
//
// Register them on a node, then spawn them on any node that registered them
// too:
//
//	if err := workload.Register(n); err != nil { ... }
//	pid, err := n.Spawn(ctx, "worker-2", workload.Ticker, cluster.SpawnOptions{
//		Args: []byte(`{"interval":"250ms"}`),
//	})
//	reply, err := n.Call(ctx, pid, cluster.Message{Kind: workload.KindGet})
//	// reply.Kind == workload.KindValue, reply.Body == "4" (ticks so far)
//
// Conventions shared by every behaviour:
//
//   - A call (Message.Ref != 0) is answered, so a caller does not wait for
//     its timeout: with KindValue (KindEcho for echo) on success, with
//     KindError and a message on a request the behaviour does not
//     understand or cannot honour. The exception is a crasher's crash,
//     which by design leaves its caller waiting.
//   - Plain sends of unknown kinds, including the runtime's DOWN and EXIT
//     messages, are ignored.
//   - Periodic behaviours send themselves KindTick with p.SendAfter, so they
//     follow the node's injected clock, and cancel the pending tick in
//     Terminate. Only the tick the behaviour scheduled last counts: a stray
//     "tick" from elsewhere never starts a second chain.
//   - Invalid args fail Init (and so the spawn) with an error wrapping
//     ErrBadArgs that names the behaviour and the field.
package workload
