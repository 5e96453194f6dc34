package simulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// Virtual node states reported by NodeStatus.
const (
	NodeRunning = "running"
	NodeCrashed = "crashed"
	NodeStopped = "stopped"
)

// Config describes a simulated cluster.
type Config struct {
	// Nodes is how many worker nodes Start brings up; default 5.
	Nodes int
	// Seed seeds the network's randomness (loss, jitter); a scenario names
	// its seed so that a run can be replayed. Default 1.
	Seed int64
	// Profile is the nodes' membership profile; default cluster.ProfileSim.
	Profile cluster.Profile
	// NamePrefix names nodes NamePrefix1, NamePrefix2, ...; default "node-".
	NamePrefix string
	// Setup runs on every node before it starts (each restart too):
	// register behaviours, handlers. Optional.
	Setup func(n *cluster.Node) error
	// Logger receives the nodes' logs; default discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Nodes == 0 {
		c.Nodes = 5
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Profile == "" {
		c.Profile = cluster.ProfileSim
	}
	if c.NamePrefix == "" {
		c.NamePrefix = "node-"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// MaxNodes bounds a simulated cluster's size.
const MaxNodes = 500

// Validate names the first invalid field.
func (c Config) Validate() error {
	if c.Nodes < 0 || c.Nodes > MaxNodes {
		return fmt.Errorf("simulator: config Nodes: %d is outside 0..%d", c.Nodes, MaxNodes)
	}
	switch c.Profile {
	case "", cluster.ProfileSim, cluster.ProfileLocal, cluster.ProfileLAN:
	default:
		return fmt.Errorf("simulator: config Profile: unknown profile %q", c.Profile)
	}
	return nil
}

// NodeStatus is a virtual node as the simulator sees it.
type NodeStatus struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	State string `json:"state"`
	Addr  string `json:"addr"`
}

type vnode struct {
	cfg   cluster.Config
	node  *cluster.Node
	state string
}

// Simulator runs virtual nodes — each a real cluster.Node — on one
// in-memory Network, and starts, stops, crashes and restarts them. Its
// methods are safe for concurrent use.
type Simulator struct {
	cfg Config
	net *Network

	mu    sync.Mutex
	nodes map[string]*vnode
	order []string
	seq   int
}

// ErrUnknownNode reports a node name the simulator does not know.
var ErrUnknownNode = errors.New("simulator: unknown node")

// New returns a simulator that has not started any node yet.
func New(cfg Config) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Simulator{cfg: cfg, net: NewNetwork(cfg.Seed), nodes: make(map[string]*vnode)}, nil
}

// Network returns the simulated network, for fault injection.
func (s *Simulator) Network() *Network { return s.net }

// Seed returns the seed the simulation runs with.
func (s *Simulator) Seed() int64 { return s.cfg.Seed }

// Config returns the simulator's configuration with defaults filled in.
func (s *Simulator) Config() Config { return s.cfg }

// Start brings up Config.Nodes worker nodes and joins them into one cluster.
func (s *Simulator) Start(ctx context.Context) error {
	for range s.cfg.Nodes {
		if _, err := s.AddNode(ctx, "", cluster.RoleWorker, nil); err != nil {
			return err
		}
	}
	return nil
}

// AddNode starts a new node (named by the prefix and a sequence number when
// name is empty) and joins it to the running nodes.
func (s *Simulator) AddNode(ctx context.Context, name, role string, tags map[string]string) (*cluster.Node, error) {
	s.mu.Lock()
	if name == "" {
		for {
			s.seq++
			name = s.cfg.NamePrefix + strconv.Itoa(s.seq)
			if _, taken := s.nodes[name]; !taken {
				break
			}
		}
	}
	if _, taken := s.nodes[name]; taken {
		s.mu.Unlock()
		return nil, fmt.Errorf("simulator: add node %q: name taken", name)
	}
	if len(s.nodes) >= MaxNodes {
		s.mu.Unlock()
		return nil, fmt.Errorf("simulator: add node %q: at most %d nodes", name, MaxNodes)
	}
	v := &vnode{cfg: cluster.Config{
		Name:    name,
		Role:    role,
		Tags:    tags,
		Version: "sim",
		Profile: s.cfg.Profile,
		Network: s.net,
		Logger:  s.cfg.Logger,
	}, state: NodeStopped}
	s.nodes[name] = v
	s.order = append(s.order, name)
	s.mu.Unlock()
	if err := s.boot(ctx, v); err != nil {
		s.mu.Lock()
		delete(s.nodes, name)
		s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == name })
		s.mu.Unlock()
		return nil, err
	}
	return v.node, nil
}

// boot starts a fresh cluster.Node for v and joins it to the others.
func (s *Simulator) boot(ctx context.Context, v *vnode) error {
	n, err := cluster.NewNode(v.cfg)
	if err != nil {
		return fmt.Errorf("simulator: node %s: %w", v.cfg.Name, err)
	}
	if s.cfg.Setup != nil {
		if err := s.cfg.Setup(n); err != nil {
			return fmt.Errorf("simulator: node %s setup: %w", v.cfg.Name, err)
		}
	}
	s.net.Restore(v.cfg.Name)
	if err := n.Start(ctx); err != nil {
		return fmt.Errorf("simulator: node %s: %w", v.cfg.Name, err)
	}
	seeds := s.seedsExcept(v.cfg.Name)
	if len(seeds) > 0 {
		if _, err := n.Join(ctx, seeds); err != nil {
			n.Halt()
			return fmt.Errorf("simulator: node %s: %w", v.cfg.Name, err)
		}
	}
	s.mu.Lock()
	v.node, v.state = n, NodeRunning
	s.mu.Unlock()
	return nil
}

// seedsExcept returns the addresses of up to three running nodes.
func (s *Simulator) seedsExcept(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var seeds []string
	for _, other := range s.order {
		v := s.nodes[other]
		if other == name || v.state != NodeRunning {
			continue
		}
		seeds = append(seeds, v.node.Addr())
		if len(seeds) == 3 {
			break
		}
	}
	return seeds
}

func (s *Simulator) get(name string) (*vnode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.nodes[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownNode, name)
	}
	return v, nil
}

// Node returns the running node with name, or nil.
func (s *Simulator) Node(name string) *cluster.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.nodes[name]; ok && v.state == NodeRunning {
		return v.node
	}
	return nil
}

// Running returns the running nodes in start order.
func (s *Simulator) Running() []*cluster.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*cluster.Node
	for _, name := range s.order {
		if v := s.nodes[name]; v.state == NodeRunning {
			out = append(out, v.node)
		}
	}
	return out
}

// Nodes returns every virtual node with its state, in start order.
func (s *Simulator) Nodes() []NodeStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]NodeStatus, 0, len(s.order))
	for _, name := range s.order {
		v := s.nodes[name]
		st := NodeStatus{Name: name, Role: v.cfg.Role, State: v.state}
		if st.Role == "" {
			st.Role = cluster.RoleWorker
		}
		if v.node != nil {
			st.Addr = v.node.Addr()
		}
		out = append(out, st)
	}
	return out
}

// Crash makes a node fall silent at once, as a power cut would: the network
// drops everything to and from it and its processes vanish without telling
// anyone. The other nodes find out through failed probes.
func (s *Simulator) Crash(name string) error {
	v, err := s.get(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if v.state != NodeRunning {
		s.mu.Unlock()
		return fmt.Errorf("simulator: crash %s: node is %s", name, v.state)
	}
	v.state = NodeCrashed
	n := v.node
	s.mu.Unlock()
	s.net.Crash(name)
	n.Halt()
	return nil
}

// Stop stops a node gracefully: its processes exit with reason shutdown and
// it leaves the cluster.
func (s *Simulator) Stop(ctx context.Context, name string) error {
	v, err := s.get(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if v.state != NodeRunning {
		s.mu.Unlock()
		return fmt.Errorf("simulator: stop %s: node is %s", name, v.state)
	}
	v.state = NodeStopped
	n := v.node
	s.mu.Unlock()
	return n.Stop(ctx)
}

// Restart brings a crashed or stopped node back with a fresh runtime (no
// processes) under the same name and address, and rejoins it.
func (s *Simulator) Restart(ctx context.Context, name string) error {
	v, err := s.get(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	state := v.state
	s.mu.Unlock()
	if state == NodeRunning {
		if err := s.Crash(name); err != nil {
			return err
		}
	}
	return s.boot(ctx, v)
}

// Remove stops a node gracefully and forgets it.
func (s *Simulator) Remove(ctx context.Context, name string) error {
	v, err := s.get(name)
	if err != nil {
		return err
	}
	if v.state == NodeRunning {
		if err := s.Stop(ctx, name); err != nil {
			return err
		}
	}
	s.mu.Lock()
	delete(s.nodes, name)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == name })
	s.mu.Unlock()
	return nil
}

// Converged reports whether every running node sees exactly the running
// nodes as alive.
func (s *Simulator) Converged() bool {
	running := s.Running()
	for _, n := range running {
		if len(n.AliveMembers()) != len(running) {
			return false
		}
	}
	return true
}

// WaitConverged waits until Converged or ctx ends.
func (s *Simulator) WaitConverged(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !s.Converged() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("simulator: cluster did not converge: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close shuts every running node down at once. Nobody is left to tell, so
// nodes do not say goodbye (a graceful leave of all nodes at the same time
// waits for broadcasts that no one receives); processes still run their
// Terminate.
func (s *Simulator) Close(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, n := range s.Running() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Halt()
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	s.mu.Lock()
	for _, v := range s.nodes {
		if v.state == NodeRunning {
			v.state = NodeStopped
		}
	}
	s.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("simulator: close: %w", ctx.Err())
	}
}
