package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clusterlab/clusterlab/cluster"
)

// Config configures a Monitor. The zero value of every optional field
// picks a default; Validate names the first wrong field.
type Config struct {
	// Node is the observer node the monitor works through (required).
	Node *cluster.Node
	// Interval is the base sampling interval; default 1 s.
	Interval time.Duration
	// MaxInterval bounds the backoff; default 10 x Interval.
	MaxInterval time.Duration
	// FastInterval is the interval while membership is changing or a node
	// stopped answering, so that partitions are reported quickly; default
	// 250 ms (never above Interval).
	FastInterval time.Duration
	// PerNodeTimeout bounds each node's sample; default Interval, at
	// most 2 s.
	PerNodeTimeout time.Duration
	// Rules are the alert rules; nil means DefaultRules().
	Rules []Rule
	// Store keeps the alert history; nil means an in-memory store.
	Store AlertStore
	// Budget is the CPU the monitor may use, in fractions of one core;
	// default 0.01 (1%).
	Budget float64
	// HostBusyPercent is the observer host CPU above which the monitor
	// backs off and pauses non-essential collectors; default 85.
	HostBusyPercent float64
	// DistributionEvery is how often the cluster-wide distribution
	// collector (registry conflicts, child anomalies) runs at the base
	// interval; default 5 s.
	DistributionEvery time.Duration
	// ChildAnomalies finds supervised children that run nowhere or twice;
	// default ViewChildAnomalies.
	ChildAnomalies ChildAnomalyFunc
	// Partition tunes partition detection.
	Partition PartitionOptions
	// DirectChecks bounds the peers each node checks directly per sample
	// when their direct memberlist ack is stale (cluster.HealthSample
	// Links): the cost of finding links memberlist routes around. 0 sets
	// it from DirectCheckBudget; negative turns the checks off. Halved
	// while paused.
	DirectChecks int
	// DirectCheckBudget bounds the direct checks of one collection across
	// the cluster when DirectChecks is 0: each node checks
	// DirectCheckBudget / members peers, at least 1 and at most
	// cluster.DefaultDirectChecks; default 100 (about 1 ms of CPU on a
	// simulator that runs every node in one process).
	DirectCheckBudget int
	// TimelineSize bounds the merged membership timeline; default 5000.
	TimelineSize int
	// HistorySize bounds the resource samples kept per node for
	// ResourceHistory; default 600 (10 minutes at 1 s).
	HistorySize int
	// Logger receives the monitor's logs; default discards them.
	Logger *slog.Logger
}

// Validate names the first invalid field.
func (c Config) Validate() error {
	if c.Node == nil {
		return errors.New("health: config Node: required")
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Interval", c.Interval}, {"MaxInterval", c.MaxInterval}, {"FastInterval", c.FastInterval}, {"PerNodeTimeout", c.PerNodeTimeout}, {"DistributionEvery", c.DistributionEvery}} {
		if f.d < 0 {
			return fmt.Errorf("health: config %s: must not be negative", f.name)
		}
	}
	if c.Interval != 0 && c.Interval < 10*time.Millisecond {
		return fmt.Errorf("health: config Interval: %v is below 10ms", c.Interval)
	}
	if c.MaxInterval != 0 && c.MaxInterval < c.Interval {
		return fmt.Errorf("health: config MaxInterval: %v is below Interval %v", c.MaxInterval, c.Interval)
	}
	if c.Budget < 0 || c.Budget > 1 {
		return fmt.Errorf("health: config Budget: %v outside 0..1 core", c.Budget)
	}
	if c.HostBusyPercent < 0 || c.HostBusyPercent > 100 {
		return fmt.Errorf("health: config HostBusyPercent: %v outside 0..100", c.HostBusyPercent)
	}
	if c.TimelineSize < 0 {
		return errors.New("health: config TimelineSize: must not be negative")
	}
	if c.DirectChecks > cluster.MaxDirectChecks {
		return fmt.Errorf("health: config DirectChecks: %d above %d", c.DirectChecks, cluster.MaxDirectChecks)
	}
	if c.HistorySize < 0 || c.HistorySize > 100000 {
		return errors.New("health: config HistorySize: outside 0..100000")
	}
	if c.Rules != nil {
		if err := ValidateRules(c.Rules); err != nil {
			return fmt.Errorf("health: config Rules: %w", err)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.MaxInterval == 0 {
		c.MaxInterval = 10 * c.Interval
	}
	if c.FastInterval == 0 {
		c.FastInterval = 250 * time.Millisecond
	}
	c.FastInterval = min(c.FastInterval, c.Interval)
	if c.PerNodeTimeout == 0 {
		c.PerNodeTimeout = min(c.Interval, 2*time.Second)
	}
	if c.Rules == nil {
		c.Rules = DefaultRules()
	}
	if c.Store == nil {
		c.Store = &MemoryStore{}
	}
	if c.Budget == 0 {
		c.Budget = 0.01
	}
	if c.HostBusyPercent == 0 {
		c.HostBusyPercent = 85
	}
	if c.DistributionEvery == 0 {
		c.DistributionEvery = 5 * time.Second
	}
	if c.TimelineSize == 0 {
		c.TimelineSize = 5000
	}
	if c.HistorySize == 0 {
		c.HistorySize = 600
	}
	if c.ChildAnomalies == nil {
		c.ChildAnomalies = ViewChildAnomalies
	}
	if c.DirectCheckBudget <= 0 {
		c.DirectCheckBudget = 100
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Collectors that pause under load.
const (
	CollectorDistribution = "distribution"
	CollectorTimeline     = "timeline"
)

// NodeHealth is one member as the monitor last saw it.
type NodeHealth struct {
	Name string `json:"name"`
	Role string `json:"role,omitempty"`
	// State is the member's state as the observer sees it.
	State string `json:"state"`
	// RTT is the observer's last probe round trip to the member.
	RTT time.Duration `json:"rtt_ns,omitempty"`
	// Answered is set when the member's sample arrived this round;
	// Error says why not, Failures counts rounds in a row without one.
	Answered bool   `json:"answered"`
	Error    string `json:"error,omitempty"`
	Failures int    `json:"failures,omitempty"`
	// The member's last sample (kept when it stops answering).
	Boot           string             `json:"boot,omitempty"`
	SampledAt      time.Time          `json:"sampled_at,omitzero"`
	HealthScore    int                `json:"health_score"`
	Resources      *cluster.Resources `json:"resources,omitempty"`
	ResourcesError string             `json:"resources_error,omitempty"`
	Processes      int                `json:"processes"`
	Supervised     *int               `json:"supervised,omitempty"`
	// Baselines are the member's EWMA baselines by metric.
	Baselines map[string]float64 `json:"baselines,omitempty"`
}

// ServiceStatus is one of the monitor's supervised collectors.
type ServiceStatus struct {
	Name string `json:"name"`
	// State is running, restarting (waiting out its backoff after a
	// failure) or stopped.
	State       string    `json:"state"`
	Restarts    int       `json:"restarts"`
	LastError   string    `json:"last_error,omitempty"`
	LastRestart time.Time `json:"last_restart,omitzero"`
	// Detail says what the service is doing, when it has something to
	// say ("alone since 10:02:03; 3 rejoin attempts").
	Detail string `json:"detail,omitempty"`
}

// Service states (ServiceStatus.State).
const (
	ServiceRunning    = "running"
	ServiceRestarting = "restarting"
	ServiceStopped    = "stopped"
)

// Report is the monitor's latest picture of the cluster.
type Report struct {
	Time     time.Time `json:"time"`
	Observer string    `json:"observer"`
	// Ticks counts collections since the monitor was created.
	Ticks uint64 `json:"ticks"`
	// Interval is the current interval, BaseInterval the configured one.
	Interval     time.Duration `json:"interval_ns"`
	BaseInterval time.Duration `json:"base_interval_ns"`
	// Paused lists the collectors paused to save CPU.
	Paused []string `json:"paused,omitempty"`
	// Overhead is the monitor's smoothed CPU use in fractions of one
	// core; TickCPU the CPU of the last collection (observer side).
	Overhead float64       `json:"overhead"`
	TickCPU  time.Duration `json:"tick_cpu_ns"`
	Budget   float64       `json:"budget"`
	// HostCPU is the observer host's CPU percent (-1 when unknown).
	HostCPU float64 `json:"host_cpu"`
	// Nodes are every member, by name.
	Nodes []NodeHealth `json:"nodes"`
	// Missing names the live members whose sample did not arrive.
	Missing      []cluster.NodeError `json:"missing,omitempty"`
	Distribution Distribution        `json:"distribution"`
	Partition    PartitionReport     `json:"partition"`
	// Views are each member's view of the others ("who reaches whom"),
	// as used by partition detection.
	Views []NodeView `json:"views"`
	// Alerts are the active alerts, most severe first.
	Alerts   []Alert         `json:"alerts"`
	Services []ServiceStatus `json:"services,omitempty"`
	// StoreError is the last failure of the alert store, if any.
	StoreError string `json:"store_error,omitempty"`
}

// EventType names a monitor event.
type EventType string

// Monitor events.
const (
	EventAlertRaised       EventType = "alert.raised"
	EventAlertAcknowledged EventType = "alert.acknowledged"
	EventAlertResolved     EventType = "alert.resolved"
	// EventReport follows every collection.
	EventReport EventType = "health.report"
)

// Event is pushed to subscribers: an alert's lifecycle or a new report.
type Event struct {
	Type   EventType `json:"type"`
	Time   time.Time `json:"time"`
	Alert  *Alert    `json:"alert,omitempty"`
	Report *Report   `json:"report,omitempty"`
}

// ErrRunning reports a second concurrent Run.
var ErrRunning = errors.New("health: monitor already running")

// Monitor watches the cluster from the observer node. Its state (alerts,
// baselines, timeline, pacing) lives in the Monitor, so the collectors
// that Run supervises resume with it after a restart. All methods are safe
// for concurrent use.
type Monitor struct {
	cfg   Config
	node  *cluster.Node
	clock cluster.Clock
	// probeInterval is the observer profile's memberlist probe interval.
	probeInterval time.Duration
	log           *slog.Logger
	pacing        Pacing

	running atomic.Bool
	trigger chan struct{}
	// restore state: the store's alerts are loaded once, retried at
	// most every restoreRetry after a failure.
	restoreMu   sync.Mutex
	restored    bool
	restoreLast time.Time
	// tickMu serialises collections (Run's loop and direct Tick calls).
	tickMu sync.Mutex

	mu         sync.Mutex
	engine     *Engine
	nodes      map[string]*nodeState
	alerts     map[string]*Alert   // active, by ID
	byKey      map[stateKey]string // (rule, node) -> active alert ID
	report     Report
	tl         *timeline
	interval   time.Duration
	paused     bool
	tickCPU    time.Duration
	avgCPU     float64 // EWMA of tick CPU, seconds
	hostCPU    float64
	fastUntil  time.Time
	dist       Distribution
	services   map[string]*ServiceStatus
	ticks      uint64
	storeError string

	subsMu sync.Mutex
	subs   map[uint64]func(Event)
	subSeq uint64
	// pubMu keeps deliveries in order and never concurrent.
	pubMu sync.Mutex

	// hook, when set (SetCollectorHook), runs at the start of each
	// collector's round with the collector's name (to inject panics).
	hook atomic.Pointer[func(collector string)]
	// partSince is when the current split or cut was first seen.
	partSince time.Time
	// pending are the asymmetric cuts and view-only broken links seen
	// in consecutive collections, waiting for confirmation.
	pending map[pendingKey]pendingCut
}

// pendingKey names a cut waiting for confirmation: asymmetric or broken.
type pendingKey struct {
	cut    Cut
	broken bool
}

type pendingCut struct {
	rounds int
	first  time.Time
}

type nodeState struct {
	boot      string
	cursor    uint64
	failures  int
	lostSince time.Time
	last      *cluster.HealthSample
	lastErr   string
	sampledAt time.Time
	// peers is the node's view as a map, rebuilt only when its
	// ViewHash changes (reports share it: never mutate it).
	peers     map[string]PeerState
	peersHash uint64
	// history holds the node's recent resource samples, oldest first
	// (bounded by Config.HistorySize).
	history []cluster.Resources
}

// New validates cfg and returns a monitor that has not collected yet. It
// enables the health RPC on the observer node so that its own membership
// events join the timeline.
func New(cfg Config) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	engine, err := NewEngine(cfg.Rules)
	if err != nil {
		return nil, err
	}
	cluster.EnableHealthRPC(cfg.Node)
	nodeCfg := cfg.Node.Config()
	m := &Monitor{
		cfg:           cfg,
		node:          cfg.Node,
		clock:         nodeCfg.Clock,
		probeInterval: nodeCfg.Profile.MemberlistConfig().ProbeInterval,
		log:           cfg.Logger.With("component", "health", "observer", cfg.Node.Name()),
		pacing:        Pacing{Base: cfg.Interval, Max: cfg.MaxInterval, Budget: cfg.Budget, HostBusy: cfg.HostBusyPercent},
		trigger:       make(chan struct{}, 1),
		engine:        engine,
		nodes:         make(map[string]*nodeState),
		alerts:        make(map[string]*Alert),
		byKey:         make(map[stateKey]string),
		tl:            newTimeline(cfg.TimelineSize),
		interval:      cfg.Interval,
		hostCPU:       -1,
		services:      make(map[string]*ServiceStatus),
		subs:          make(map[uint64]func(Event)),
	}
	m.report = Report{Observer: m.node.Name(), Interval: cfg.Interval, BaseInterval: cfg.Interval, Budget: cfg.Budget, HostCPU: -1, Alerts: []Alert{}}
	return m, nil
}

// Subscribe calls fn for every event, in order and never concurrently
// (from the collector's goroutine, or Ack's caller for acknowledgements);
// fn must not block and must not call Ack. The returned func
// unsubscribes.
func (m *Monitor) Subscribe(fn func(Event)) (cancel func()) {
	m.subsMu.Lock()
	m.subSeq++
	id := m.subSeq
	m.subs[id] = fn
	m.subsMu.Unlock()
	return func() {
		m.subsMu.Lock()
		delete(m.subs, id)
		m.subsMu.Unlock()
	}
}

func (m *Monitor) publish(evs []Event) {
	if len(evs) == 0 {
		return
	}
	m.pubMu.Lock()
	defer m.pubMu.Unlock()
	m.subsMu.Lock()
	ids := make([]uint64, 0, len(m.subs))
	for id := range m.subs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fns := make([]func(Event), len(ids))
	for i, id := range ids {
		fns[i] = m.subs[id]
	}
	m.subsMu.Unlock()
	for _, ev := range evs {
		for _, fn := range fns {
			fn(ev)
		}
	}
}

// Snapshot returns the latest report, with the services' status.
func (m *Monitor) Snapshot() Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.report
	r.Alerts = m.activeAlertsLocked()
	r.Services = m.servicesLocked()
	r.StoreError = m.storeError
	return r
}

// Alerts returns the active (raised or acknowledged) alerts, most severe
// first, then oldest first.
func (m *Monitor) Alerts() []Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.activeAlertsLocked()
}

// History returns the alerts kept in the store, resolved ones included,
// oldest first.
func (m *Monitor) History(ctx context.Context) ([]Alert, error) {
	alerts, err := m.cfg.Store.LoadAlerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("health: alert history: %w", err)
	}
	return alerts, nil
}

// Timeline returns the merged membership timeline, oldest first: every
// join, suspicion, death, leave and rejoin as each node saw it.
func (m *Monitor) Timeline() []TimelineEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.tl.entries)
}

// Baselines returns the per-node EWMA baselines: node -> metric -> value.
func (m *Monitor) Baselines() map[string]map[string]Baseline {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.engine.Baselines()
}

var severityRank = map[Severity]int{SeverityCritical: 0, SeverityWarning: 1, SeverityInfo: 2}

func (m *Monitor) activeAlertsLocked() []Alert {
	out := make([]Alert, 0, len(m.alerts))
	for _, a := range m.alerts {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Alert) int {
		if c := severityRank[a.Severity] - severityRank[b.Severity]; c != 0 {
			return c
		}
		if c := a.RaisedAt.Compare(b.RaisedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func (m *Monitor) servicesLocked() []ServiceStatus {
	out := make([]ServiceStatus, 0, len(m.services))
	state := ServiceStopped
	if m.running.Load() {
		state = ServiceRunning
	}
	for _, s := range m.services {
		cp := *s
		cp.State = state
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b ServiceStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Ack acknowledges an active alert: someone is on it. Acknowledging twice
// is not an error; a resolved or unknown alert is ErrUnknownAlert.
func (m *Monitor) Ack(ctx context.Context, id string) error {
	m.mu.Lock()
	a, ok := m.alerts[id]
	if !ok {
		m.mu.Unlock()
		return fmt.Errorf("%w: %q is not an active alert", ErrUnknownAlert, id)
	}
	if a.State == AlertAcknowledged {
		m.mu.Unlock()
		return nil
	}
	a.State, a.AckedAt = AlertAcknowledged, m.clock.Now()
	cp := *a
	m.mu.Unlock()
	err := m.save(ctx, cp)
	m.publish([]Event{{Type: EventAlertAcknowledged, Time: cp.AckedAt, Alert: &cp}})
	return err
}

func (m *Monitor) save(ctx context.Context, a Alert) error {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := m.cfg.Store.SaveAlert(sctx, a)
	m.mu.Lock()
	if err != nil {
		m.storeError = err.Error()
	} else {
		m.storeError = ""
	}
	m.mu.Unlock()
	if err != nil {
		m.log.Warn("alert store failed", "alert", a.ID, "err", err)
		return fmt.Errorf("health: save alert %s: %w", a.ID, err)
	}
	return nil
}

// restore loads the active alerts kept by the store (an app restart), so
// that they are not raised twice and resolve when their condition clears.
func (m *Monitor) restore(ctx context.Context) {
	m.restoreMu.Lock()
	defer m.restoreMu.Unlock()
	if m.restored || time.Since(m.restoreLast) < restoreRetry {
		return
	}
	m.restoreLast = time.Now()
	func() {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		alerts, err := m.cfg.Store.LoadAlerts(lctx)
		if err != nil {
			m.log.Warn("cannot load alert history", "err", err)
			m.mu.Lock()
			m.storeError = err.Error()
			m.mu.Unlock()
			return
		}
		m.restored = true
		var orphans []Alert
		m.mu.Lock()
		for _, a := range alerts {
			if !a.Active() {
				continue
			}
			if _, ok := m.engine.rule(a.Rule); !ok {
				a.State, a.ResolvedAt, a.Resolution = AlertResolved, m.clock.Now(), "the rule is no longer configured"
				orphans = append(orphans, a)
				continue
			}
			k := stateKey{a.Rule, a.Node}
			if _, dup := m.byKey[k]; dup {
				continue
			}
			cp := a
			m.alerts[a.ID] = &cp
			m.byKey[k] = a.ID
			m.engine.Restore(a.Rule, a.Node, a.RaisedAt)
		}
		m.mu.Unlock()
		for _, a := range orphans {
			_ = m.save(ctx, a)
		}
	}()
}

// restoreRetry spaces the attempts to load the alert history from a
// failing store.
const restoreRetry = 10 * time.Second

// Run collects until ctx ends, under Supervise: a collector that panics
// or fails restarts with backoff and resumes with the monitor's state. It
// returns nil when ctx ends, ErrRunning if already running.
func (m *Monitor) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer m.running.Store(false)
	m.restore(ctx)
	unsubscribe := m.node.Subscribe(func(cluster.MemberEvent) {
		select {
		case m.trigger <- struct{}{}:
		default:
		}
	})
	defer unsubscribe()
	opts := SuperviseOptions{
		MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 5 * time.Second,
		Logger:     m.log,
		OnRestart:  m.noteRestart,
	}
	var wg sync.WaitGroup
	for name, fn := range map[string]func(context.Context) error{
		"health.sampler":      m.sampleLoop,
		"health.distribution": m.distributionLoop,
	} {
		m.mu.Lock()
		if m.services[name] == nil {
			m.services[name] = &ServiceStatus{Name: name}
		}
		m.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = Supervise(ctx, name, fn, opts)
		}()
	}
	wg.Wait()
	return nil
}

func (m *Monitor) noteRestart(name string, err error, restarts int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.services[name]
	if s == nil {
		s = &ServiceStatus{Name: name}
		m.services[name] = s
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	s.Restarts, s.LastError, s.LastRestart = restarts, msg, m.clock.Now()
}

// sampleLoop is the sampler service: a collection per interval, sooner
// when membership changes.
func (m *Monitor) sampleLoop(ctx context.Context) error {
	for {
		if err := m.Tick(ctx); err != nil && ctx.Err() == nil {
			m.log.Debug("collection incomplete", "err", err)
		}
		t := time.NewTimer(m.nextWait())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-m.trigger:
			t.Stop()
			// Membership events come in bursts: let this one settle.
			settle := time.NewTimer(20 * time.Millisecond)
			select {
			case <-ctx.Done():
				settle.Stop()
				return nil
			case <-settle.C:
			}
			select {
			case <-m.trigger:
			default:
			}
		}
	}
}

// nextWait is the wait before the next collection: the fast interval
// while something is changing, else the paced interval.
func (m *Monitor) nextWait() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.spacingLocked()
}

func (m *Monitor) spacingLocked() time.Duration {
	if m.clock.Now().Before(m.fastUntil) {
		return min(m.cfg.FastInterval*(m.interval/m.cfg.Interval), m.interval)
	}
	return m.interval
}

// distributionLoop is the distribution service: registry conflicts and
// child anomalies, cluster-wide, every DistributionEvery (scaled by the
// backoff), unless paused.
func (m *Monitor) distributionLoop(ctx context.Context) error {
	for {
		m.mu.Lock()
		paused := m.paused
		wait := m.cfg.DistributionEvery * (m.interval / m.cfg.Interval)
		m.mu.Unlock()
		if !paused {
			m.collectDistribution(ctx)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (m *Monitor) runHook(collector string) {
	if h := m.hook.Load(); h != nil {
		(*h)(collector)
	}
}

// collectDistribution gathers the cluster-wide part of the distribution.
func (m *Monitor) collectDistribution(ctx context.Context) {
	m.runHook(CollectorDistribution)
	view := cluster.NewView(m.node)
	view.PerNodeTimeout = m.cfg.PerNodeTimeout
	cctx, cancel := context.WithTimeout(ctx, 2*m.cfg.PerNodeTimeout)
	defer cancel()
	conflicts, missing := view.RegistryConflicts(cctx)
	now := m.clock.Now()
	recent := slices.DeleteFunc(conflicts, func(c cluster.RegistryConflict) bool { return now.Sub(c.Time) > RegistryConflictWindow })
	var children *ChildAnomalies
	var errMsg string
	if m.cfg.ChildAnomalies != nil {
		ca, miss, err := m.cfg.ChildAnomalies(cctx, view)
		if err != nil {
			errMsg = err.Error()
		} else {
			children = &ca
		}
		missing = append(missing, miss...)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dist.RegistryConflicts = recent
	m.dist.Children = children
	m.dist.Collected = now
	m.dist.Missing = missing
	m.dist.Error = errMsg
}

type sampleResult struct {
	name string
	raw  []byte
	err  error
}

// Tick collects once, now: a sample from every live member, then rules,
// partition detection, timeline and pacing. Run calls it every interval;
// operations may call it for an immediate report. It returns an error
// naming the members that did not answer (the report is still updated).
func (m *Monitor) Tick(ctx context.Context) error {
	m.tickMu.Lock()
	defer m.tickMu.Unlock()
	m.restore(ctx)
	meter := startCPU()
	metered := false
	defer func() {
		if !metered {
			meter.stop()
		}
	}()
	m.runHook("sampler")
	self := m.node.Name()
	members := m.node.Members()

	m.mu.Lock()
	noEvents := m.paused
	checks := m.cfg.DirectChecks
	if checks == 0 {
		checks = min(max(m.cfg.DirectCheckBudget/max(len(members), 1), 1), cluster.DefaultDirectChecks)
	}
	if m.paused && checks > 1 {
		checks /= 2
	}
	reqs := make(map[string]cluster.HealthSampleRequest, len(members))
	for _, mb := range members {
		st := m.nodes[mb.Name]
		req := cluster.HealthSampleRequest{NoEvents: noEvents, DirectChecks: checks}
		if st != nil {
			req.EventsAfter, req.Boot = st.cursor, st.boot
			if st.last != nil {
				req.ViewHash = st.last.ViewHash
			}
		}
		reqs[mb.Name] = req
	}
	m.mu.Unlock()

	var targets []string
	for _, mb := range members {
		if mb.Name != self && seesAlive(mb.State) {
			targets = append(targets, mb.Name)
		}
	}
	ch := make(chan sampleResult, len(targets))
	for _, name := range targets {
		payload, _ := json.Marshal(reqs[name])
		go func() {
			cctx, cancel := context.WithTimeout(ctx, m.cfg.PerNodeTimeout)
			defer cancel()
			raw, err := m.node.Request(cctx, name, cluster.MethodHealthSample, payload)
			ch <- sampleResult{name: name, raw: raw, err: err}
		}()
	}
	samples := make(map[string]*cluster.HealthSample, len(members))
	local := cluster.LocalHealthSample(ctx, m.node, reqs[self])
	samples[self] = &local
	errs := make(map[string]error)
	for range targets {
		r := <-ch
		if r.err != nil {
			errs[r.name] = r.err
			continue
		}
		s, err := cluster.DecodeHealthSample(r.raw)
		if err == nil && s.Node != r.name {
			err = fmt.Errorf("%w: health sample from %s names %q", cluster.ErrBadFrame, r.name, s.Node)
		}
		if err != nil {
			errs[r.name] = &cluster.RPCError{Code: cluster.CodeInternal, Node: r.name, Message: err.Error()}
			continue
		}
		samples[r.name] = &s
	}

	out := m.evaluate(members, samples, errs)
	cpu := meter.stop()
	metered = true
	m.mu.Lock()
	m.tickCPU = cpu
	m.avgCPU = 0.3*cpu.Seconds() + 0.7*m.avgCPU
	if m.ticks == 1 {
		m.avgCPU = cpu.Seconds()
	}
	// The cost at the current pace: the fast interval while something
	// is changing, else the interval.
	overhead := m.avgCPU / m.spacingLocked().Seconds()
	m.interval, m.paused = m.pacing.NextInterval(PacingState{Interval: m.interval, Overhead: overhead, HostCPU: m.hostCPU})
	m.report.TickCPU, m.report.Overhead = cpu, overhead
	m.report.Interval = m.interval
	m.report.Paused = nil
	if m.paused {
		m.report.Paused = []string{CollectorDistribution, CollectorTimeline}
	}
	report := m.report
	report.Alerts = m.activeAlertsLocked()
	report.Services = m.servicesLocked()
	m.mu.Unlock()

	for _, a := range out.save {
		_ = m.save(ctx, a)
	}
	report.StoreError = m.Snapshot().StoreError
	out.events = append(out.events, Event{Type: EventReport, Time: report.Time, Report: &report})
	m.publish(out.events)
	if len(errs) > 0 {
		names := make([]string, 0, len(errs))
		for n := range errs {
			names = append(names, n)
		}
		slices.Sort(names)
		return fmt.Errorf("health: no sample from %s", strings.Join(names, ", "))
	}
	return nil
}

type tickOutput struct {
	save   []Alert
	events []Event
}

// evaluate folds one round of samples into the monitor's state.
func (m *Monitor) evaluate(members []cluster.Member, samples map[string]*cluster.HealthSample, errs map[string]error) tickOutput {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	self := m.node.Name()
	m.ticks++
	unsettled := len(errs) > 0

	var nodes []NodeHealth
	var views []NodeView
	var missing []cluster.NodeError
	var signals []Signal
	var alive, known []string
	procs := map[string]int{}
	supervised := map[string]int{}
	workers := map[string]bool{}
	for _, mb := range members {
		st := m.nodes[mb.Name]
		if st == nil {
			st = &nodeState{}
			m.nodes[mb.Name] = st
		}
		s, answered := samples[mb.Name]
		if mb.Role != cluster.RoleObserver {
			workers[mb.Name] = true
		}
		switch {
		case answered:
			if s.Boot != st.boot {
				st.cursor = 0
			}
			if s.MembersSame {
				if st.last != nil && st.last.ViewHash == s.ViewHash {
					s.Members = st.last.Members
				} else {
					// Nothing cached to reuse: ask for the full view next time.
					s.ViewHash = 0
				}
			}
			st.boot, st.failures, st.lostSince, st.last, st.lastErr, st.sampledAt = s.Boot, 0, time.Time{}, s, "", now
			if len(s.Events) > 0 {
				st.cursor = s.Events[len(s.Events)-1].Seq
			}
			if len(s.Events) > 0 || s.EventsLost {
				m.tl.add(mb.Name, s.Events, s.EventsLost, now)
			}
			if s.Resources != nil {
				st.addHistory(*s.Resources, m.cfg.HistorySize)
			}
		case seesAlive(mb.State):
			if st.failures == 0 {
				st.lostSince = now
			}
			st.failures++
			if err := errs[mb.Name]; err != nil {
				st.lastErr = err.Error()
				ne := cluster.NodeError{Node: mb.Name, Code: cluster.ErrorCode(err), State: mb.State, Message: err.Error()}
				if ne.Code == "" {
					ne.Code = cluster.CodeInternal
				}
				missing = append(missing, ne)
			}
		default:
			// Dead, left or unknown as the observer sees it: lost since
			// the observer saw it go.
			st.failures = 0
			st.lostSince = mb.Since
		}
		nh := NodeHealth{Name: mb.Name, Role: mb.Role, State: mb.State, RTT: mb.RTT, Answered: answered,
			Failures: st.failures, Error: st.lastErr, Boot: st.boot, SampledAt: st.sampledAt}
		if !answered && !seesAlive(mb.State) {
			nh.Error = ""
		}
		if st.last != nil {
			nh.HealthScore, nh.Resources, nh.ResourcesError = st.last.HealthScore, st.last.Resources, st.last.ResourcesError
			nh.Processes, nh.Supervised = st.last.Processes, st.last.Supervised
		}
		nodes = append(nodes, nh)

		view := NodeView{Node: mb.Name, Answered: answered && s.Members != nil, Failures: st.failures, LostSince: st.lostSince, ObserverState: mb.State}
		if view.Answered {
			view.Time = s.Time
			if st.peers == nil || st.peersHash != s.ViewHash || s.ViewHash == 0 {
				st.peers = make(map[string]PeerState, len(s.Members))
				for _, p := range s.Members {
					st.peers[p.Name] = PeerState{State: p.State, Since: p.Since}
				}
				st.peersHash = s.ViewHash
			}
			view.Peers = st.peers
			view.Links = s.Links
			if len(s.Links) > 0 {
				// A direct path failing: sample fast to confirm it.
				unsettled = true
			}
			// A fresh death somewhere: sample fast to see how far it goes
			// (a split, a cut) and to time how long views disagree.
			for _, p := range s.Members {
				if p.State == cluster.StateDead && s.Time.Sub(p.Since) < 5*time.Second {
					unsettled = true
					break
				}
			}
		}
		views = append(views, view)

		if mb.State == cluster.StateLeft {
			continue
		}
		known = append(known, mb.Name)
		if seesAlive(mb.State) {
			alive = append(alive, mb.Name)
		}
		signals = append(signals, Signal{Metric: MetricDown, Node: mb.Name, Value: b2f(mb.State == cluster.StateDead)})
		if mb.Name != self {
			signals = append(signals, Signal{Metric: MetricUnreachable, Node: mb.Name, Value: b2f(seesAlive(mb.State) && !answered),
				Detail: st.lastErr})
			if mb.RTT > 0 {
				signals = append(signals, Signal{Metric: MetricRTT, Node: mb.Name, Value: float64(mb.RTT) / float64(time.Millisecond)})
			}
		}
		if !answered {
			continue
		}
		if r := s.Resources; r != nil {
			signals = append(signals,
				Signal{Metric: MetricCPU, Node: mb.Name, Value: r.CPUPercent},
				Signal{Metric: MetricMem, Node: mb.Name, Value: r.MemUsedPercent},
				Signal{Metric: MetricLoad1, Node: mb.Name, Value: r.Load1},
				Signal{Metric: MetricProcCPU, Node: mb.Name, Value: r.ProcCPUPercent},
				Signal{Metric: MetricRSS, Node: mb.Name, Value: float64(r.ProcRSS) / (1 << 20)},
				Signal{Metric: MetricGoroutines, Node: mb.Name, Value: float64(r.Goroutines)},
			)
			if mb.Name == self {
				m.hostCPU = r.CPUPercent
			}
		}
		signals = append(signals,
			Signal{Metric: MetricProcesses, Node: mb.Name, Value: float64(s.Processes)},
			Signal{Metric: MetricHealthScore, Node: mb.Name, Value: float64(s.HealthScore)},
		)
		procs[mb.Name] = s.Processes
		if s.Supervised != nil {
			supervised[mb.Name] = *s.Supervised
			signals = append(signals, Signal{Metric: MetricSupervised, Node: mb.Name, Value: float64(*s.Supervised)})
		}
	}
	if unsettled {
		m.fastUntil = now.Add(5 * time.Second)
	}

	popts := m.cfg.Partition
	if popts.SuspectHold == 0 {
		// Two probe rounds: each member is probed once per round.
		popts.SuspectHold = max(2*time.Duration(len(members))*m.probeInterval, time.Second)
	}
	part := DetectPartition(views, popts)
	if m.confirmLocked(&part, popts, now) {
		unsettled = true
		m.fastUntil = now.Add(5 * time.Second)
	}
	if part.Split || len(part.Asymmetric) > 0 || len(part.BrokenLinks) > 0 {
		if m.partSince.IsZero() {
			m.partSince = now
		}
		part.Since = m.partSince
	} else {
		m.partSince = time.Time{}
	}
	groups := 0.0
	if part.Split {
		groups = float64(len(part.Groups))
	}
	signals = append(signals,
		Signal{Metric: MetricPartition, Value: groups, Detail: part.Summary()},
		Signal{Metric: MetricAsymmetric, Value: float64(len(part.Asymmetric)), Detail: part.Summary()},
		Signal{Metric: MetricBrokenLinks, Value: float64(len(part.BrokenLinks)), Detail: part.Summary()},
	)

	dist := m.dist
	dist.Processes = procs
	workerProcs := map[string]int{}
	workerSup := map[string]int{}
	for n, c := range procs {
		if workers[n] {
			workerProcs[n] = c
		}
	}
	for n, c := range supervised {
		if workers[n] {
			workerSup[n] = c
		}
	}
	dist.ProcessImbalance = Imbalance(workerProcs, minMeanForImbalance)
	signals = append(signals, Signal{Metric: MetricImbalance, Value: dist.ProcessImbalance, Detail: countsDetail(workerProcs)})
	if len(supervised) > 0 {
		dist.Supervised = supervised
		dist.SupervisorImbalance = Imbalance(workerSup, minMeanForImbalance)
		signals = append(signals, Signal{Metric: MetricSupervisorImbalance, Value: dist.SupervisorImbalance, Detail: countsDetail(workerSup)})
	}
	if c := dist.Children; c != nil {
		signals = append(signals,
			Signal{Metric: MetricChildrenMissing, Value: float64(len(c.Missing)), Detail: strings.Join(c.Missing, ", ")},
			Signal{Metric: MetricChildrenDuplicated, Value: float64(len(c.Duplicated)), Detail: strings.Join(c.Duplicated, ", ")},
		)
	}
	if !dist.Collected.IsZero() {
		var names []string
		for _, c := range dist.RegistryConflicts {
			names = append(names, fmt.Sprintf("%s (winner %s, loser %s)", c.Name, c.Winner, c.Loser))
		}
		signals = append(signals, Signal{Metric: MetricRegistryConflicts, Value: float64(len(dist.RegistryConflicts)), Detail: strings.Join(names, "; ")})
	}

	transitions := m.engine.Step(StepInput{Now: now, Alive: alive, Known: known, Signals: signals})
	var out tickOutput
	for _, t := range transitions {
		k := stateKey{t.Rule.Name, t.Node}
		switch t.Kind {
		case Raise:
			a := newAlert(t)
			m.alerts[a.ID] = &a
			m.byKey[k] = a.ID
			m.log.Info("alert raised", "alert", a.ID, "severity", a.Severity, "summary", a.Summary)
			cp := a
			out.save = append(out.save, cp)
			out.events = append(out.events, Event{Type: EventAlertRaised, Time: now, Alert: &cp})
		case Resolve:
			id, ok := m.byKey[k]
			if !ok {
				continue
			}
			a := m.alerts[id]
			delete(m.alerts, id)
			delete(m.byKey, k)
			a.State, a.ResolvedAt, a.Resolution = AlertResolved, now, t.Reason
			m.log.Info("alert resolved", "alert", a.ID, "reason", t.Reason)
			cp := *a
			out.save = append(out.save, cp)
			out.events = append(out.events, Event{Type: EventAlertResolved, Time: now, Alert: &cp})
		}
	}

	baselines := m.engine.Baselines()
	for i := range nodes {
		if b := baselines[nodes[i].Name]; len(b) > 0 {
			nodes[i].Baselines = make(map[string]float64, len(b))
			for metric, v := range b {
				nodes[i].Baselines[metric] = v.Mean
			}
		}
	}
	// Forget members the observer no longer knows.
	for name := range m.nodes {
		if !slices.ContainsFunc(members, func(mb cluster.Member) bool { return mb.Name == name }) {
			delete(m.nodes, name)
		}
	}
	m.report = Report{
		Time: now, Observer: self, Ticks: m.ticks,
		Interval: m.interval, BaseInterval: m.cfg.Interval, Budget: m.cfg.Budget, HostCPU: m.hostCPU,
		Nodes: nodes, Missing: missing, Distribution: dist, Partition: part, Views: views,
	}
	return out
}

// confirmLocked keeps in part only the asymmetric cuts and view-only
// broken links seen in ConfirmRounds consecutive collections and for
// ConfirmAge; it reports whether some wait for confirmation.
func (m *Monitor) confirmLocked(part *PartitionReport, o PartitionOptions, now time.Time) (waiting bool) {
	o = o.withDefaults()
	seen := make(map[pendingKey]pendingCut, len(part.Asymmetric)+len(part.BrokenLinks))
	keep := func(c Cut, broken bool) bool {
		if broken && c.Direct {
			// Confirmed by the nodes' repeated direct checks.
			return true
		}
		k := pendingKey{Cut{From: c.From, To: c.To}, broken}
		p, ok := m.pending[k]
		if !ok {
			p = pendingCut{first: now}
		}
		p.rounds++
		seen[k] = p
		if p.rounds >= o.ConfirmRounds && now.Sub(p.first) >= o.ConfirmAge {
			return true
		}
		waiting = true
		return false
	}
	part.Asymmetric = slices.DeleteFunc(part.Asymmetric, func(c Cut) bool { return !keep(c, false) })
	part.BrokenLinks = slices.DeleteFunc(part.BrokenLinks, func(c Cut) bool { return !keep(c, true) })
	m.pending = seen
	return waiting
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func countsDetail(counts map[string]int) string {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, counts[n])
	}
	return strings.Join(parts, " ")
}
