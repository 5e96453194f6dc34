package app

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/cluster/health"
	"github.com/clusterlab/clusterlab/operations"
	"github.com/clusterlab/clusterlab/operations/builtin"
)

// HealthConfig configures the backend's health monitor (cluster/health).
// The zero value runs it at 1 s with the default rules and an in-memory
// alert history.
type HealthConfig struct {
	// Disabled runs no monitor; the health operations then answer
	// unprocessable.
	Disabled bool
	// OnNode runs the monitor also in a backend around a given node
	// (BackendConfig.Node: `clusterlab agent`). Off by default: every
	// agent sampling every other member would cost N² requests per
	// interval; the app's observer monitors the cluster.
	OnNode bool
	// Interval is the base sampling interval; default 1 s.
	Interval time.Duration
	// AlertStore keeps the alert history across runs (the workbench
	// passes NewProjectAlertStore(project)); nil keeps it in memory.
	AlertStore health.AlertStore
	// Rules are the alert rules the monitor starts with; nil: the rules
	// RuleStore keeps, else health.DefaultRules().
	Rules []health.Rule
	// RuleStore keeps the rules health_rules_set sets; nil: AlertStore
	// when it is a HealthRuleStore, else the rules last until Close.
	RuleStore HealthRuleStore
	// Tune, if set, adjusts the monitor's configuration before it starts
	// (budgets, partition options).
	Tune func(*health.Config)
	// AppServices are services that outlive the backend (the workbench's
	// script watcher); health_status reports them beside the backend's.
	AppServices *Services
}

// AlertEvent is the payload of a TopicAlerts event.
type AlertEvent struct {
	// Event is raised, acknowledged or resolved.
	Event string       `json:"event"`
	Alert health.Alert `json:"alert"`
}

// healthService runs the health monitor of a Backend under the app's
// supervisor and implements operations.HealthControl over it.
type healthService struct {
	cfg  HealthConfig
	seed int64
	sim  bool
	log  *slog.Logger

	modelsMu sync.Mutex
	models   map[string]*cluster.ModelSource

	mon      *health.Monitor
	services *Services
	rules    HealthRuleStore
	defaults atomic.Bool
	hub      *Hub
}

var _ operations.HealthControl = (*healthService)(nil)

// newHealthService prepares the health service of a backend; the monitor
// starts later (start), once the observer runs. seed seeds the virtual
// nodes' resource models.
func newHealthService(cfg HealthConfig, seed int64, logger *slog.Logger) *healthService {
	if seed == 0 {
		seed = 1
	}
	return &healthService{cfg: cfg, seed: seed, log: logger, models: make(map[string]*cluster.ModelSource)}
}

// setupNode gives a virtual node its resource model (kept by name, so a
// restarted node keeps its injected pressure) and the health RPC. The
// simulator's Setup hook calls it for every node, each restart too.
func (h *healthService) setupNode(n *cluster.Node) {
	cluster.SetResourceSource(n, h.model(n.Name()))
}

func (h *healthService) model(name string) *cluster.ModelSource {
	h.modelsMu.Lock()
	defer h.modelsMu.Unlock()
	m := h.models[name]
	if m == nil {
		f := fnv.New64a()
		_, _ = f.Write([]byte(name))
		m = cluster.NewModelSource(h.seed^int64(f.Sum64()), nil)
		h.models[name] = m
	}
	return m
}

// startHealth starts the backend's health monitor and its services and
// sets Env.Health; Close stops them. It runs once the observer is up.
func (b *Backend) startHealth(ctx context.Context, cfg BackendConfig) error {
	h := b.health
	if h == nil || h.cfg.Disabled || (cfg.Node != nil && !h.cfg.OnNode) {
		return nil
	}
	h.sim, h.hub = b.Sim != nil, b.Hub
	if b.Sim == nil {
		// A real cluster: the observer measures its own host.
		if _, err := cluster.SampleNode(ctx, b.Observer); errors.Is(err, cluster.ErrNoResources) {
			if src, err := cluster.NewGopsutilSource(); err == nil {
				cluster.SetResourceSource(b.Observer, src)
			} else {
				b.log.Warn("no resource source for the observer", "err", err)
			}
		}
	}
	h.rules = h.cfg.RuleStore
	if h.rules == nil {
		if rs, ok := h.cfg.AlertStore.(HealthRuleStore); ok {
			h.rules = rs
		} else {
			h.rules = &MemoryRuleStore{}
		}
	}
	rules := h.cfg.Rules
	if rules == nil {
		kept, ok, err := h.rules.LoadHealthRules(ctx)
		switch {
		case err != nil:
			b.log.Warn("cannot load the project's health rules; using the defaults", "err", err)
		case ok:
			rules = kept
		}
	}
	h.defaults.Store(rules == nil)
	mcfg := health.Config{Node: b.Observer, Interval: h.cfg.Interval, Rules: rules, Store: h.cfg.AlertStore, Logger: b.log}
	if h.cfg.Tune != nil {
		h.cfg.Tune(&mcfg)
	}
	mon, err := health.New(mcfg)
	if err != nil {
		return fmt.Errorf("app: health monitor: %w", err)
	}
	h.mon = mon
	h.services = NewServices(b.log, health.SuperviseOptions{MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second})
	unsubscribe := mon.Subscribe(h.onEvent)
	h.services.Go("health.monitor", mon.Run, nil)
	if b.Sim == nil && len(cfg.Join) > 0 {
		r := &rejoiner{node: b.Observer, seeds: slices.Clone(cfg.Join), every: time.Second}
		h.services.Go("observer.rejoin", r.run, r.detail)
	}
	b.Env.Health = h
	b.cancels = append(b.cancels, func() {
		unsubscribe()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.services.Close(ctx); err != nil {
			b.log.Warn("health services did not stop in time", "err", err)
		}
	})
	return nil
}

// Monitor returns the backend's health monitor, nil when it has none.
func (b *Backend) Monitor() *health.Monitor {
	if b.health == nil {
		return nil
	}
	return b.health.mon
}

// Services returns the app's supervised services, nil without a health
// monitor.
func (b *Backend) Services() *Services {
	if b.health == nil {
		return nil
	}
	return b.health.services
}

// onEvent forwards the monitor's events to the hub. It runs on the
// monitor's collector goroutine: it must not block.
func (h *healthService) onEvent(ev health.Event) {
	switch {
	case ev.Alert != nil:
		h.hub.Publish(TopicAlerts, AlertEvent{Event: strings.TrimPrefix(string(ev.Type), "alert."), Alert: *ev.Alert})
	case ev.Type == health.EventReport:
		h.hub.Coalesce(TopicHealth, func() any { return builtin.HealthStatusOf(h.report()) })
	}
}

// report is the monitor's snapshot with the app's services.
func (h *healthService) report() health.Report {
	r := h.mon.Snapshot()
	r.Services = append(r.Services, h.services.Status()...)
	if h.cfg.AppServices != nil {
		r.Services = append(r.Services, h.cfg.AppServices.Status()...)
	}
	slices.SortFunc(r.Services, func(a, b health.ServiceStatus) int { return strings.Compare(a.Name, b.Name) })
	return r
}

// Status implements operations.HealthControl; before the first
// collection it collects once.
func (h *healthService) Status(ctx context.Context) (health.Report, error) {
	if h.mon.Snapshot().Ticks == 0 {
		_ = h.mon.Tick(ctx)
	}
	return h.report(), nil
}

// NodeResources implements operations.HealthControl.
func (h *healthService) NodeResources(node string, since time.Time) ([]cluster.Resources, bool) {
	return h.mon.ResourceHistory(node, since)
}

// ActiveAlerts implements operations.HealthControl.
func (h *healthService) ActiveAlerts() []health.Alert { return h.mon.Alerts() }

// AlertHistory implements operations.HealthControl.
func (h *healthService) AlertHistory(ctx context.Context) ([]health.Alert, error) {
	return h.mon.History(ctx)
}

// Ack implements operations.HealthControl. A store failure is logged and
// shown in health_status (store_error): the acknowledgement holds.
func (h *healthService) Ack(ctx context.Context, id string) (health.Alert, error) {
	err := h.mon.Ack(ctx, id)
	if errors.Is(err, health.ErrUnknownAlert) {
		return health.Alert{}, err
	}
	if err != nil {
		h.log.Warn("alert acknowledged but not saved", "alert", id, "err", err)
	}
	for _, a := range h.mon.Alerts() {
		if a.ID == id {
			return a, nil
		}
	}
	// Resolved between the two calls.
	return health.Alert{}, fmt.Errorf("%w: %q resolved meanwhile", health.ErrUnknownAlert, id)
}

// Timeline implements operations.HealthControl.
func (h *healthService) Timeline() []health.TimelineEntry { return h.mon.Timeline() }

// Rules implements operations.HealthControl.
func (h *healthService) Rules() ([]health.Rule, bool) { return h.mon.Rules(), h.defaults.Load() }

// SetRules implements operations.HealthControl.
func (h *healthService) SetRules(ctx context.Context, rules []health.Rule) (bool, error) {
	if err := health.ValidateRules(rules); err != nil {
		return false, (&operations.Error{Code: operations.CodeInvalidParams, Message: err.Error(), Err: err}).
			Fix("fix the rule; `clusterlab op run health_rules` shows valid ones")
	}
	if err := h.mon.SetRules(ctx, rules); err != nil && !errors.Is(err, context.Canceled) {
		// Only saving the resolved alerts can fail here: the rules hold.
		h.log.Warn("health rules set; alert store failed", "err", err)
	}
	h.defaults.Store(rules == nil)
	err := h.rules.SaveHealthRules(ctx, rules)
	if errors.Is(err, ErrRulesNotKept) {
		return false, nil
	}
	if err != nil {
		return false, (&operations.Error{Code: operations.CodeInternal, Message: "the rules are in force but could not be kept in the project: " + err.Error(), Err: err}).
			Fix("they last until clusterlab exits; check the data directory's disk and permissions")
	}
	_, memory := h.rules.(*MemoryRuleStore)
	return !memory, nil
}

// Pressure implements operations.HealthControl.
func (h *healthService) Pressure(node string) (operations.Pressure, error) {
	m, err := h.modelOf(node)
	if err != nil {
		return operations.Pressure{}, err
	}
	cpu, mem, load := m.Pressure()
	return operations.Pressure{CPU: cpu, Memory: mem, Load: load}, nil
}

// SetPressure implements operations.HealthControl.
func (h *healthService) SetPressure(node string, p operations.Pressure) (operations.Pressure, error) {
	m, err := h.modelOf(node)
	if err != nil {
		return operations.Pressure{}, err
	}
	m.SetCPU(p.CPU)
	m.SetMemory(p.Memory)
	m.SetLoad(p.Load)
	return h.Pressure(node)
}

func (h *healthService) modelOf(node string) (*cluster.ModelSource, error) {
	if !h.sim {
		return nil, (&operations.Error{Code: operations.CodeSimulatorOnly, Message: "resource pressure can be injected into virtual nodes only"}).
			Fix("on a real cluster, load the machine itself (e.g. the agent's --workload demo cpu-burner)")
	}
	h.modelsMu.Lock()
	m := h.models[node]
	h.modelsMu.Unlock()
	if m == nil {
		return nil, (&operations.Error{Code: operations.CodeNotFound, Message: fmt.Sprintf("the simulator has no virtual node %q", node)}).
			With("node", node).Fix("list the virtual nodes with `clusterlab op run list_nodes`")
	}
	return m, nil
}

// rejoiner is the observer's reconnect watchdog on a real cluster: when
// the observer has seen no other member alive for a while (every seed
// gone), it joins the seeds again until one answers. The node's own
// rejoin loop retries the peers it knew; this also covers peers that come
// back on new addresses behind the same seeds. Its state survives a
// restart of the service.
type rejoiner struct {
	node  *cluster.Node
	seeds []string
	every time.Duration

	mu         sync.Mutex
	aloneSince time.Time
	attempts   int
	recoveries int
	lastErr    string
}

func (r *rejoiner) run(ctx context.Context) error {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.check(ctx)
		}
	}
}

func (r *rejoiner) check(ctx context.Context) {
	alone := true
	for _, name := range r.node.AliveMembers() {
		if name != r.node.Name() {
			alone = false
			break
		}
	}
	now := time.Now()
	r.mu.Lock()
	switch {
	case !alone:
		if !r.aloneSince.IsZero() {
			r.recoveries++
			r.aloneSince, r.lastErr = time.Time{}, ""
		}
		r.mu.Unlock()
		return
	case r.aloneSince.IsZero():
		// Give the node's own rejoin loop the first round.
		r.aloneSince = now
		r.mu.Unlock()
		return
	}
	r.attempts++
	r.mu.Unlock()
	jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := r.node.Join(jctx, r.seeds)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.lastErr = err.Error()
	}
}

func (r *rejoiner) detail() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.aloneSince.IsZero() {
		return fmt.Sprintf("connected (recovered %d times)", r.recoveries)
	}
	s := fmt.Sprintf("alone since %s; %d rejoin attempts through %s", r.aloneSince.UTC().Format(time.RFC3339), r.attempts, strings.Join(r.seeds, ","))
	if r.lastErr != "" {
		s += "; last: " + r.lastErr
	}
	return s
}
