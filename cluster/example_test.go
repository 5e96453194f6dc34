package cluster_test

import (
	"context"
	"fmt"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// greeter is a service's own behaviour: it answers "hello" calls.
type greeter struct{}

func (greeter) Init(*cluster.Process, []byte) error { return nil }
func (greeter) Handle(p *cluster.Process, m cluster.Message) error {
	if m.Ref != 0 {
		return p.Reply(m, cluster.Message{Kind: "greeting", Body: append([]byte("hello, "), m.Body...)})
	}
	return nil
}
func (greeter) Terminate(*cluster.Process, cluster.Reason) {}

// Example shows a service embedding a node: it registers its behaviours,
// joins the cluster and runs processes that clusterlab (another node of the
// same cluster, here "tool") can list, call and kill.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The service's node: real UDP/TCP on loopback.
	svc, err := cluster.NewNode(cluster.Config{Name: "api-1", Profile: cluster.ProfileLocal, Bind: "127.0.0.1:0", Tags: map[string]string{"app": "api"}})
	if err != nil {
		panic(err)
	}
	_ = svc.RegisterBehavior("greeter", func() cluster.Behavior { return greeter{} })
	if err := svc.Start(ctx); err != nil {
		panic(err)
	}
	defer svc.Stop(ctx)
	pid, _ := svc.Spawn(ctx, "", "greeter", cluster.SpawnOptions{})
	_ = svc.Register(ctx, "greeter", pid)

	// The tool's node joins as an observer and works through a View.
	tool, _ := cluster.NewNode(cluster.Config{Name: "tool", Role: cluster.RoleObserver, Profile: cluster.ProfileLocal, Bind: "127.0.0.1:0"})
	if err := tool.Start(ctx); err != nil {
		panic(err)
	}
	defer tool.Stop(ctx)
	if _, err := tool.Join(ctx, []string{svc.Addr()}); err != nil {
		panic(err)
	}
	// Wait (with the context's deadline) until the tool sees the service.
	for len(tool.AliveMembers()) < 2 || len(tool.RegistryEntries()) < 1 {
		select {
		case <-ctx.Done():
			panic("the service never showed up")
		case <-time.After(10 * time.Millisecond):
		}
	}

	view := cluster.NewView(tool)
	page, _ := view.Processes(ctx, cluster.ProcessQuery{Behavior: "greeter"})
	for _, p := range page.Processes {
		fmt.Println("found", p.Behavior, "on", p.Node, "registered as", p.Registered)
	}
	target, _ := tool.Whereis("greeter")
	reply, _ := tool.Call(ctx, target, cluster.Message{Kind: "hello", Body: []byte("clusterlab")})
	fmt.Println(string(reply.Body))
	fmt.Println("kill:", view.Kill(ctx, target, cluster.ReasonKilled))
	// Output:
	// found greeter on api-1 registered as [greeter]
	// hello, clusterlab
	// kill: <nil>
}
