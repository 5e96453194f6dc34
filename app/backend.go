package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/operations"
	"github.com/clusterlab/clusterlab/operations/builtin"
	opscript "github.com/clusterlab/clusterlab/operations/script"
	"github.com/clusterlab/clusterlab/simulator"
	"github.com/clusterlab/clusterlab/simulator/scenario"
	"github.com/clusterlab/clusterlab/simulator/workload"
)

// The built-in operations register themselves in operations.Default();
// scenario_run runs scenarios through simulator/scenario.
func init() { builtin.SetScenarioRunner(runScenario) }

// DefaultObserverName is the node name the app joins a cluster with.
const DefaultObserverName = "observer"

// BackendConfig describes what a Backend runs. Without Join it starts the
// embedded simulator; with Join it connects to a real cluster. Zero fields
// take the defaults.
type BackendConfig struct {
	// Nodes is the number of virtual worker nodes; default 5.
	Nodes int
	// Seed seeds the simulated network; default 1.
	Seed int64
	// Profile is the membership profile; default sim for the simulator,
	// lan for a real cluster.
	Profile cluster.Profile
	// NoDemo skips the demo workloads on the virtual nodes.
	NoDemo bool

	// Node, when set, is an already started (and usually joined) node the
	// backend runs around instead of starting a simulator or an observer:
	// `clusterlab agent` serves the API over its own worker node this way.
	// The backend owns it from then on: Close stops it (a graceful leave).
	Node *cluster.Node
	// Join, when set, connects the observer to an existing cluster through
	// these gossip addresses instead of starting a simulator.
	Join []string
	// Network is the wire used with Join; default cluster.NetNetwork.
	Network cluster.Network
	// Bind is the observer's gossip address with Join; default: chosen by
	// the network.
	Bind string
	// Label and SecretKey must match the cluster's gossip label and key.
	Label     string
	SecretKey []byte

	// ObserverName is the app's node name; default DefaultObserverName.
	ObserverName string
	// Registry is the operations registry; default operations.Default().
	Registry *operations.Registry
	// ScriptsDir is the directory of script operations
	// (<project>/.clusterlab/operations, see operations/script.Dir),
	// loaded into Registry and reloaded on change; empty: none.
	ScriptsDir string
	// Hub tunes the event hub.
	Hub HubConfig
	// EventHub, when set, is the hub to publish to instead of a new one
	// (the workbench's, shared across backend switches); Close leaves it
	// open.
	EventHub *Hub
	// Health configures the health monitor (alert store, rules); the
	// zero value runs it with the defaults (see HealthConfig).
	Health HealthConfig
	// StartTimeout bounds startup and convergence; default 30 s.
	StartTimeout time.Duration
	// Logger receives the app's logs; default discards them.
	Logger *slog.Logger
}

// Backend is one running app: a cluster (the embedded simulator, or a
// real cluster joined through the observer node), the operations registry
// with the Env operations run in, and the event hub. Build the HTTP API on
// it with NewAPI. Close stops everything.
type Backend struct {
	// Sim is the embedded simulator, nil on a real cluster.
	Sim *simulator.Simulator
	// Observer is the app's own node.
	Observer *cluster.Node
	// View is the cluster-wide client over Observer.
	View *cluster.View
	// Env is what operations run with.
	Env *operations.Env
	// Registry is the operations registry every surface reads.
	Registry *operations.Registry
	// Hub carries events to the UI.
	Hub *Hub

	log     *slog.Logger
	cancels []func()

	exitsMu sync.Mutex
	exits   []processExit
	dropped int

	changesMu sync.Mutex
	changes   []cluster.MemberEvent

	tracesMu      sync.Mutex
	traceEvents   []TraceEventItem
	tracesDropped int

	// health runs the health monitor and the supervised services.
	health *healthService

	closeOnce sync.Once
	// ownHub says Close closes Hub (it was not given as EventHub).
	ownHub bool
}

type processExit struct {
	PID      cluster.PID       `json:"pid"`
	Node     string            `json:"node"`
	Name     string            `json:"name,omitempty"`
	Behavior string            `json:"behavior"`
	Reason   cluster.Reason    `json:"reason"`
	Labels   map[string]string `json:"labels,omitempty"`
	Time     time.Time         `json:"time"`
}

// Bounds of the coalesced event batches.
const (
	maxExitBatch   = 1000
	maxChangeBatch = 256
	maxTraceBatch  = 2000
)

// TraceEventItem is one trace event in a TopicTraces batch.
type TraceEventItem struct {
	Trace string             `json:"trace"`
	Event cluster.TraceEvent `json:"event"`
}

// NewBackend starts a backend: the simulator with its nodes (and demo
// workloads) and the observer joined to it, or the observer joined to a
// real cluster. It returns once the observer sees the cluster.
func NewBackend(ctx context.Context, cfg BackendConfig) (*Backend, error) {
	if cfg.ObserverName == "" {
		cfg.ObserverName = DefaultObserverName
	}
	if cfg.Registry == nil {
		cfg.Registry = operations.Default()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	b := &Backend{Registry: cfg.Registry, Hub: cfg.EventHub, log: cfg.Logger}
	if b.Hub == nil {
		b.Hub, b.ownHub = NewHub(cfg.Hub), true
	}
	b.health = newHealthService(cfg.Health, cfg.Seed, cfg.Logger)
	var err error
	switch {
	case cfg.Node != nil:
		b.Observer = cfg.Node
	case len(cfg.Join) > 0:
		err = b.connect(ctx, cfg)
	default:
		err = b.simulate(ctx, cfg)
	}
	if err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Close(closeCtx)
		return nil, err
	}
	b.View = cluster.NewView(b.Observer)
	b.Env = &operations.Env{Node: b.Observer, View: b.View, Logger: cfg.Logger}
	if b.Sim != nil {
		b.Env.Sim = simControl{b.Sim}
	}
	b.cancels = append(b.cancels,
		b.Observer.Subscribe(b.memberChanged),
		b.Observer.OnTraceEvent(b.traceEvent),
		b.Observer.OnTraceEnd(func(info cluster.TraceInfo) { b.Hub.Publish(TopicTraceEnd, info) }),
		b.Registry.OnChange(func() {
			b.Hub.Coalesce(TopicOperations, func() any { return map[string]any{"version": b.Registry.Version()} })
		}))
	if err := b.startHealth(ctx, cfg); err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Close(closeCtx)
		return nil, err
	}
	if cfg.ScriptsDir != "" {
		l, err := opscript.NewLoader(opscript.Config{Dir: cfg.ScriptsDir, Registry: b.Registry, Logger: cfg.Logger})
		if err == nil {
			// The loader lives until Close, not until the start deadline.
			err = l.Start(context.WithoutCancel(ctx))
		}
		if err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = b.Close(closeCtx)
			return nil, fmt.Errorf("app: script operations: %w", err)
		}
		b.cancels = append(b.cancels, func() { _ = l.Close() })
	}
	if b.Sim == nil {
		// Virtual nodes (the observer among them) report exits through
		// the simulator's Setup hook.
		b.Observer.OnProcessExit(b.processExited)
	}
	return b, nil
}

func (b *Backend) simulate(ctx context.Context, cfg BackendConfig) error {
	sim, err := simulator.New(simulator.Config{
		Nodes: cfg.Nodes, Seed: cfg.Seed, Profile: cfg.Profile, Logger: cfg.Logger,
		Setup: func(n *cluster.Node) error {
			if err := workload.Register(n); err != nil {
				return err
			}
			// A resource model with injectable pressure, and the health RPC.
			b.health.setupNode(n)
			// Every virtual node reports its process exits to the hub
			// directly; on a real cluster, only the observer's own.
			n.OnProcessExit(b.processExited)
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("app: simulator: %w", err)
	}
	b.Sim = sim
	if err := sim.Start(ctx); err != nil {
		return fmt.Errorf("app: start simulator: %w", err)
	}
	if err := sim.WaitConverged(ctx); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	obs, err := sim.AddNode(ctx, cfg.ObserverName, cluster.RoleObserver, nil)
	if err != nil {
		return fmt.Errorf("app: observer: %w", err)
	}
	b.Observer = obs
	if err := sim.WaitConverged(ctx); err != nil {
		return fmt.Errorf("app: observer: %w", err)
	}
	if !cfg.NoDemo {
		if err := sim.StartDemo(ctx); err != nil {
			return fmt.Errorf("app: demo workloads: %w", err)
		}
	}
	return nil
}

func (b *Backend) connect(ctx context.Context, cfg BackendConfig) error {
	n, err := cluster.NewNode(cluster.Config{
		Name: cfg.ObserverName, Role: cluster.RoleObserver, Profile: cfg.Profile,
		Network: cfg.Network, Bind: cfg.Bind, Label: cfg.Label, SecretKey: cfg.SecretKey,
		Logger: cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("app: observer: %w", err)
	}
	if err := n.Start(ctx); err != nil {
		return fmt.Errorf("app: observer: %w", err)
	}
	b.Observer = n
	if _, err := n.Join(ctx, cfg.Join); err != nil {
		return fmt.Errorf("app: join %v: %w", cfg.Join, err)
	}
	return nil
}

// Simulated reports whether the backend runs the embedded simulator.
func (b *Backend) Simulated() bool { return b.Sim != nil }

// Publish sends an event to the UI (see Hub.Publish).
func (b *Backend) Publish(topic string, payload any) { b.Hub.Publish(topic, payload) }

func (b *Backend) memberChanged(ev cluster.MemberEvent) {
	b.changesMu.Lock()
	if len(b.changes) < maxChangeBatch {
		b.changes = append(b.changes, ev)
	}
	b.changesMu.Unlock()
	b.Hub.Coalesce(TopicMembership, b.membershipSnapshot)
}

// MembershipSnapshot is the payload of a TopicMembership event.
type MembershipSnapshot struct {
	Observer string                `json:"observer"`
	Members  []cluster.Member      `json:"members"`
	Changes  []cluster.MemberEvent `json:"changes"`
}

func (b *Backend) membershipSnapshot() any {
	b.changesMu.Lock()
	changes := b.changes
	b.changes = nil
	b.changesMu.Unlock()
	if changes == nil {
		changes = []cluster.MemberEvent{}
	}
	return MembershipSnapshot{Observer: b.Observer.Name(), Members: b.Observer.Members(), Changes: changes}
}

func (b *Backend) processExited(info cluster.ProcessInfo, reason cluster.Reason) {
	b.exitsMu.Lock()
	if len(b.exits) < maxExitBatch {
		b.exits = append(b.exits, processExit{PID: info.PID, Node: info.Node, Name: info.Name, Behavior: info.Behavior, Reason: reason, Labels: info.Labels, Time: time.Now().UTC()})
	} else {
		b.dropped++
	}
	b.exitsMu.Unlock()
	b.Hub.Coalesce(TopicProcessExits, func() any {
		b.exitsMu.Lock()
		defer b.exitsMu.Unlock()
		exits := b.exits
		if exits == nil {
			exits = []processExit{}
		}
		batch := map[string]any{"exits": exits, "dropped": b.dropped}
		b.exits, b.dropped = nil, 0
		return batch
	})
}

// traceEvent batches the events of the traces the observer started into
// coalesced TopicTraces events.
func (b *Backend) traceEvent(id string, ev cluster.TraceEvent) {
	b.tracesMu.Lock()
	if len(b.traceEvents) < maxTraceBatch {
		b.traceEvents = append(b.traceEvents, TraceEventItem{Trace: id, Event: ev})
	} else {
		b.tracesDropped++
	}
	b.tracesMu.Unlock()
	b.Hub.Coalesce(TopicTraces, func() any {
		b.tracesMu.Lock()
		defer b.tracesMu.Unlock()
		batch := map[string]any{"events": b.traceEvents, "dropped": b.tracesDropped}
		if b.traceEvents == nil {
			batch["events"] = []TraceEventItem{}
		}
		b.traceEvents, b.tracesDropped = nil, 0
		return batch
	})
}

// Close stops the event hub, the observer and the simulator.
func (b *Backend) Close(ctx context.Context) error {
	var errs []error
	b.closeOnce.Do(func() {
		for _, c := range b.cancels {
			c()
		}
		if b.ownHub {
			b.Hub.Close()
		}
		if b.Sim != nil {
			if err := b.Sim.Close(ctx); err != nil {
				errs = append(errs, err)
			}
			return
		}
		if b.Observer != nil {
			if err := b.Observer.Stop(ctx); err != nil && !errors.Is(err, cluster.ErrStopped) {
				errs = append(errs, fmt.Errorf("app: stop observer: %w", err))
			}
		}
	})
	return errors.Join(errs...)
}

// runScenario implements builtin.ScenarioRunner with simulator/scenario.
func runScenario(ctx context.Context, req builtin.ScenarioRequest) (builtin.ScenarioReport, error) {
	var sc *scenario.Scenario
	var err error
	if req.Path != "" {
		sc, err = scenario.Load(req.Path)
	} else {
		sc, err = scenario.Parse(req.YAML)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return builtin.ScenarioReport{}, (&operations.Error{Code: operations.CodeNotFound, Message: fmt.Sprintf("no scenario file %s", req.Path), Err: err}).
			With("path", req.Path).Fix("give the path of a scenario file on the app's machine")
	case errors.Is(err, scenario.ErrInvalid):
		return builtin.ScenarioReport{}, (&operations.Error{Code: operations.CodeInvalidParams, Message: err.Error(), Err: err}).
			Fix("fix the scenario; `clusterlab scenario run FILE` checks it the same way")
	case err != nil:
		return builtin.ScenarioReport{}, fmt.Errorf("app: scenario: %w", err)
	}
	var out bytes.Buffer
	rep, err := scenario.Run(ctx, sc, scenario.RunOptions{Out: &out, Seed: req.Seed})
	if err != nil {
		return builtin.ScenarioReport{}, fmt.Errorf("app: scenario %s: %w", sc.Name, err)
	}
	return builtin.ScenarioReport{Name: rep.Name, Passed: rep.Passed, Seed: rep.Seed, Steps: rep.Steps,
		Failure: rep.Failure(), Output: out.String(), Duration: rep.Duration.String()}, nil
}
