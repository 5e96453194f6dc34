// Package cluster is the clusterlab node runtime: one member of a cluster, with
// membership over hashicorp/memberlist, lightweight processes with mailboxes,
// links and monitors, node-to-node RPC and a cluster-wide View.
//
// A Node never knows whether it runs on the simulator's in-memory network or on
// real UDP/TCP: the only difference is the Network it is given. A service embeds
// a node like this:
//
//	n, err := cluster.NewNode(cluster.Config{
//		Name:    "api-1",
//		Profile: cluster.ProfileLAN,
//		Network: cluster.NetNetwork{},
//		Bind:    "127.0.0.1:7946",
//	})
//	if err != nil { ... }
//	if err := n.Start(ctx); err != nil { ... }
//	defer n.Stop(ctx)
//	_ = n.Join(ctx, []string{"127.0.0.1:7947"})
//	pid, _ := n.Spawn(myBehavior, cluster.SpawnOptions{})
//	_ = n.Send(pid, cluster.Message{Kind: "hello"})
//
// Processes are cheap: an idle process owns no goroutine. When a message
// arrives, a goroutine is scheduled to drain the mailbox and returns when the
// mailbox is empty.
package cluster
