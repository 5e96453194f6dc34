package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clusterlab/clusterlab/app/session"
	"github.com/clusterlab/clusterlab/cluster"
	"github.com/clusterlab/clusterlab/cluster/health"
	"github.com/clusterlab/clusterlab/operations"
	opscript "github.com/clusterlab/clusterlab/operations/script"
)

// TopicSession carries SessionInfo whenever the mode, the project or the
// recording changes, so that every open window follows.
const TopicSession = "session"

// Defaults of a Workbench.
const (
	// DefaultLockTimeout bounds how long OpenWorkbench waits for another
	// clusterlab to release the session store: a second instance fails
	// well within a second.
	DefaultLockTimeout = 500 * time.Millisecond
	// DefaultJoinTimeout bounds a join to a real cluster.
	DefaultJoinTimeout = 10 * time.Second
	// drainTimeout bounds how long a replaced backend waits for the
	// requests still running on it before it closes anyway.
	drainTimeout = 2 * time.Minute
	// pinWait bounds how long a switch waits for pinned names to appear
	// in the new cluster's registry (gossip may still carry them).
	pinWait = 2 * time.Second
	// redacted replaces secret parameters in the history.
	redacted = "[redacted]"
)

// StartOverrides are the settings given explicitly on the command line:
// they win over the project's saved session, and are saved.
type StartOverrides struct {
	// Nodes is the simulator's node count; 0: not given.
	Nodes int
	// Seed is the simulator's seed, used when SeedSet.
	Seed    int64
	SeedSet bool
	// Join connects to a real cluster through these seeds (saved as a
	// connection profile, without the key).
	Join []string
	// Label and Key (base64) go with Join.
	Label string
	Key   string
	// Profile is the membership profile with Join (lan or local).
	Profile string
}

// WorkbenchConfig configures OpenWorkbench. Zero fields take defaults.
type WorkbenchConfig struct {
	// DataDir holds the session store; default DefaultDataDir().
	DataDir string
	// Project names the project (--project); default: the working
	// directory's (session.ProjectName).
	Project string
	// Workdir is the project's directory; default the working directory.
	Workdir string
	// Backend is the template of every backend the workbench starts: its
	// Registry, ScriptsDir (loaded once, for the whole run), Hub config,
	// NoDemo, ObserverName, Network, Bind, StartTimeout and Logger are
	// used; the mode fields (Nodes, Seed, Join, Label, SecretKey) come
	// from the session.
	Backend BackendConfig
	// Overrides are the command line's explicit settings.
	Overrides StartOverrides
	// LockTimeout bounds the wait for the session store's lock; default
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// JoinTimeout bounds a join to a real cluster; default
	// DefaultJoinTimeout.
	JoinTimeout time.Duration
	// OnBackend, when set, is called with every new backend before the
	// API serves it (to attach more services to its Env); an error
	// abandons the backend.
	OnBackend func(*Backend) error
	// Logger receives logs; default discards them.
	Logger *slog.Logger
}

// Workbench is the app for the whole run: the session store and the
// current project, the event hub (one across backend switches), the
// current Backend (the simulator or a joined real cluster, replaced
// atomically by a mode switch: requests in flight finish on the old one
// before it closes), the operation history and the scenario recorder. It
// implements operations.SessionControl. Serve its API with API; Close it
// at the end. It is safe for concurrent use.
type Workbench struct {
	cfg      WorkbenchConfig
	log      *slog.Logger
	store    *session.Store
	dataDir  string
	workdir  string
	hub      *Hub
	registry *operations.Registry
	loader   *opscript.Loader
	// services run what outlives a backend (the script watcher) under
	// the app's supervisor.
	services *Services

	// switchMu serialises what replaces the backend or the project.
	switchMu sync.Mutex
	// persistMu orders the session's writes, so that the last change is
	// the one stored.
	persistMu sync.Mutex

	mu       sync.RWMutex
	cur      *liveBackend
	project  *session.Project
	sess     session.Session // in memory; Mode is the live mode
	conn     *liveConn       // the live connection, nil on the simulator
	fallback string

	recorder *session.Recorder
	recMu    sync.Mutex
	recSince time.Time

	closing   sync.WaitGroup
	closeOnce sync.Once
}

// liveBackend is a backend with the count of requests running on it.
type liveBackend struct {
	*Backend
	refs sync.WaitGroup
}

// liveConn is the live connection to a real cluster.
type liveConn struct {
	profile session.Profile // Key never set here
	key     []byte
	saved   bool
}

// SessionInfo is what session_get returns (and the TopicSession payload).
type SessionInfo struct {
	Project   string `json:"project"`
	DataDir   string `json:"data_dir"`
	Mode      string `json:"mode"`
	Simulated bool   `json:"simulated"`
	Observer  string `json:"observer"`
	// Seed is the simulator's seed, 0 on a real cluster.
	Seed int64 `json:"seed"`
	// Connection describes the live connection, nil on the simulator.
	Connection *ConnectionInfo `json:"connection"`
	// Fallback says why the saved connection was not used at start.
	Fallback string `json:"fallback,omitempty"`
	// Session is what is saved and restored on launch.
	Session   session.Session `json:"session"`
	Recording bool            `json:"recording"`
	// RecordingSince is when the recording started.
	RecordingSince *time.Time `json:"recording_since,omitempty"`
}

// ConnectionInfo describes the live connection to a real cluster.
type ConnectionInfo struct {
	Name    string   `json:"name"`
	Seeds   []string `json:"seeds"`
	Label   string   `json:"label,omitempty"`
	Profile string   `json:"profile"`
	// Saved says the profile is saved in the project.
	Saved bool `json:"saved"`
	// KeySaved says its key is saved too.
	KeySaved bool `json:"key_saved"`
}

// OpenWorkbench opens the session store (failing within LockTimeout,
// with an error wrapping session.ErrLocked, when another clusterlab holds
// it), picks the project, restores its session and starts its backend:
// the simulator with its saved settings, or its saved connection, falling
// back to the simulator (logged, and said in SessionInfo.Fallback) when
// that connection fails.
func OpenWorkbench(ctx context.Context, cfg WorkbenchConfig) (_ *Workbench, err error) {
	if cfg.Logger == nil {
		cfg.Logger = cfg.Backend.Logger
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Backend.Logger == nil {
		cfg.Backend.Logger = cfg.Logger
	}
	if cfg.Backend.Registry == nil {
		cfg.Backend.Registry = operations.Default()
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = DefaultLockTimeout
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = DefaultJoinTimeout
	}
	if cfg.Workdir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("app: working directory: %w", err)
		}
		cfg.Workdir = wd
	}
	if cfg.DataDir == "" {
		d, err := DefaultDataDir()
		if err != nil {
			return nil, err
		}
		cfg.DataDir = d
	}
	store, err := session.Open(ctx, session.OpenOptions{DataDir: cfg.DataDir, Timeout: cfg.LockTimeout, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	w := &Workbench{cfg: cfg, log: cfg.Logger, store: store, dataDir: cfg.DataDir, workdir: cfg.Workdir,
		hub: NewHub(cfg.Backend.Hub), registry: cfg.Backend.Registry,
		services: NewServices(cfg.Logger, health.SuperviseOptions{MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second})}
	defer func() {
		if err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = w.Close(closeCtx)
		}
	}()
	if dir := cfg.Backend.ScriptsDir; dir != "" {
		l, err := opscript.NewLoader(opscript.Config{Dir: dir, Registry: w.registry, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("app: script operations: %w", err)
		}
		w.loader = l
		// Supervised: a panic or a failed watcher restarts it with
		// backoff; the loaded operations live in the loader.
		w.services.Go("scripts.watcher", l.Run, func() string {
			return fmt.Sprintf("%d script operations loaded from %s", len(l.Loaded()), dir)
		})
	}
	w.cfg.Backend.ScriptsDir = "" // the workbench's loader serves every backend

	project := store.Project(session.ProjectName(cfg.Workdir, cfg.Project))
	if err := project.Touch(cfg.Workdir); err != nil {
		return nil, fmt.Errorf("app: project %q: %w", project.Name(), err)
	}
	sess, warn := loadSession(project)
	ov := cfg.Overrides
	if ov.Nodes > 0 {
		sess.Simulator.Nodes = ov.Nodes
	}
	if ov.SeedSet {
		sess.Simulator.Seed = ov.Seed
	}
	// The key also serves a saved profile whose key was not saved.
	key, err := cluster.ParseKey(ov.Key)
	if err != nil {
		return nil, fmt.Errorf("app: --key: %w", err)
	}
	if len(ov.Join) > 0 {
		p := session.Profile{Name: defaultProfileName(ov.Join), Seeds: slices.Clone(ov.Join), Label: ov.Label, Profile: profileOrLAN(ov.Profile)}
		sess = upsertProfile(sess, p)
		sess.Mode = p.Name
	}
	b, conn, fallback, err := w.startSaved(ctx, project, sess, key)
	if err != nil {
		return nil, err
	}
	if warn != "" {
		fallback = strings.TrimSpace(warn + " " + fallback)
	}
	if conn == nil && sess.Mode != session.ModeSimulator {
		sess = session.SwitchMode(sess, session.ModeSimulator, nameLookup(ctx, b, sess))
	}
	if conn != nil {
		sess = session.NoteRecentCluster(sess, session.RecentCluster{Profile: conn.profile.Name, Seeds: conn.profile.Seeds, LastUsed: time.Now().UTC()})
	}
	w.cur, w.project, w.sess, w.conn, w.fallback = &liveBackend{Backend: b}, project, sess, conn, fallback
	if err := w.persist(); err != nil {
		w.log.Warn("the session could not be saved", "project", project.Name(), "err", err)
	}
	w.log.Info("workbench ready", "project", project.Name(), "data_dir", cfg.DataDir, "mode", sess.Mode, "simulated", b.Simulated())
	return w, nil
}

// loadSession reads a project's session; a damaged or newer one is
// replaced by the default (it is not overwritten when newer), with a
// warning to show.
func loadSession(p *session.Project) (session.Session, string) {
	s, err := p.Session()
	if err != nil {
		return session.DefaultSession(), fmt.Sprintf("The saved session could not be read (%v); starting from the defaults.", err)
	}
	return s, ""
}

// startSaved starts the backend of a session's mode: its connection
// profile (key, or the saved one), or the simulator; a failed connection
// falls back to the simulator and says why.
func (w *Workbench) startSaved(ctx context.Context, project *session.Project, s session.Session, key []byte) (*Backend, *liveConn, string, error) {
	if s.Mode != "" && s.Mode != session.ModeSimulator {
		p, ok := findProfile(s, s.Mode)
		if ok {
			if key == nil && p.KeySaved {
				key, _ = cluster.ParseKey(p.Key)
			}
			b, err := w.startConnection(ctx, project, p, key, w.cfg.JoinTimeout)
			if err == nil {
				p.Key = ""
				return b, &liveConn{profile: p, key: key, saved: true}, "", nil
			}
			why := fmt.Sprintf("Could not connect to %s (%v); running the simulator instead.", p.Name, joinError(p, err).Message)
			w.log.Warn("the saved connection failed; falling back to the simulator", "profile", p.Name, "err", err)
			b, serr := w.startSimulator(ctx, project, s.Simulator)
			return b, nil, why, serr
		}
	}
	b, err := w.startSimulator(ctx, project, s.Simulator)
	return b, nil, "", err
}

// backendConfig is the template with the workbench's hub and the
// project's alert store (the health monitor's alerts and rules are kept
// per project).
func (w *Workbench) backendConfig(p *session.Project) BackendConfig {
	c := w.cfg.Backend
	c.EventHub = w.hub
	c.Health.AppServices = w.services
	c.Join, c.Label, c.SecretKey = nil, "", nil
	if c.Health.AlertStore == nil && p != nil {
		c.Health.AlertStore = NewProjectAlertStore(p)
	}
	return c
}

func (w *Workbench) startSimulator(ctx context.Context, p *session.Project, s session.SimulatorSettings) (*Backend, error) {
	c := w.backendConfig(p)
	c.Nodes, c.Seed = s.Nodes, s.Seed
	if c.Profile == "" {
		c.Profile = cluster.ProfileSim
	}
	return w.newBackend(ctx, c)
}

func (w *Workbench) startConnection(ctx context.Context, project *session.Project, p session.Profile, key []byte, timeout time.Duration) (*Backend, error) {
	c := w.backendConfig(project)
	// On a real cluster the observer's name carries a random suffix: two
	// clusterlabs (or this one reconnecting before the cluster forgot its
	// previous observer) do not clash.
	if c.ObserverName == "" {
		c.ObserverName = DefaultObserverName
	}
	c.ObserverName += "-" + randomSuffix()
	c.Join, c.Label, c.SecretKey = slices.Clone(p.Seeds), p.Label, key
	c.Profile = cluster.Profile(profileOrLAN(p.Profile))
	c.StartTimeout = timeout
	return w.newBackend(ctx, c)
}

func (w *Workbench) newBackend(ctx context.Context, c BackendConfig) (*Backend, error) {
	b, err := NewBackend(ctx, c)
	if err != nil {
		return nil, err
	}
	b.Env.Session = w
	if w.cfg.OnBackend != nil {
		if err := w.cfg.OnBackend(b); err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = b.Close(closeCtx)
			return nil, fmt.Errorf("app: backend setup: %w", err)
		}
	}
	return b, nil
}

// API returns the HTTP API over the workbench: every request runs on the
// current backend, and every operation run goes to the history and, while
// recording, to the recorder.
func (w *Workbench) API(cfg APIConfig) *API {
	if cfg.Logger == nil {
		cfg.Logger = w.log
	}
	return newAPI(w, w.registry, w.hub, w, cfg)
}

// acquire implements backendSource.
func (w *Workbench) acquire() (*Backend, func()) {
	w.mu.RLock()
	lb := w.cur
	lb.refs.Add(1)
	w.mu.RUnlock()
	var once sync.Once
	return lb.Backend, func() { once.Do(lb.refs.Done) }
}

// Backend returns the current backend. It may be replaced (and closed) by
// a mode switch at any time: hold it only briefly.
func (w *Workbench) Backend() *Backend {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.cur.Backend
}

// Hub returns the event hub, the same for the whole run.
func (w *Workbench) Hub() *Hub { return w.hub }

// Store returns the session store.
func (w *Workbench) Store() *session.Store { return w.store }

// Project returns the current project.
func (w *Workbench) Project() *session.Project {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.project
}

// DataDir returns the data dir.
func (w *Workbench) DataDir() string { return w.dataDir }

// Close stops the current backend (and waits for the replaced ones), the
// script loader, the hub and the session store. It is idempotent.
func (w *Workbench) Close(ctx context.Context) error {
	var errs []error
	w.closeOnce.Do(func() {
		w.mu.Lock()
		cur := w.cur
		w.mu.Unlock()
		if cur != nil {
			if err := cur.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		w.closing.Wait()
		if err := w.services.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("app: stop services: %w", err))
		}
		if w.loader != nil {
			_ = w.loader.Close()
		}
		w.hub.Close()
		if err := w.store.Close(); err != nil {
			errs = append(errs, err)
		}
	})
	return errors.Join(errs...)
}

// retire closes a replaced backend once the requests running on it are
// done (bounded by drainTimeout).
func (w *Workbench) retire(old *liveBackend) {
	w.closing.Add(1)
	go func() {
		defer w.closing.Done()
		drained := make(chan struct{})
		go func() { old.refs.Wait(); close(drained) }()
		t := time.NewTimer(drainTimeout)
		defer t.Stop()
		select {
		case <-drained:
		case <-t.C:
			w.log.Warn("requests still run on the replaced backend; closing it anyway")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := old.Close(ctx); err != nil {
			w.log.Warn("closing the replaced backend", "err", err)
		}
	}()
}

// persisted is the session as it is saved: an unsaved connection is
// saved as the simulator's mode.
func (w *Workbench) persistedLocked() session.Session {
	s := w.sess.Clone()
	if s.Mode != session.ModeSimulator {
		if _, ok := findProfile(s, s.Mode); !ok {
			s.Mode = session.ModeSimulator
		}
	}
	return s
}

// persist saves the session.
func (w *Workbench) persist() error {
	w.persistMu.Lock()
	defer w.persistMu.Unlock()
	w.mu.RLock()
	s, p := w.persistedLocked(), w.project
	w.mu.RUnlock()
	return p.SaveSession(s)
}

// info builds SessionInfo.
func (w *Workbench) info() SessionInfo {
	w.mu.RLock()
	in := SessionInfo{Project: w.project.Name(), DataDir: w.dataDir, Mode: w.sess.Mode, Simulated: w.cur.Simulated(),
		Observer: w.cur.Observer.Name(), Fallback: w.fallback, Session: w.persistedLocked()}
	if w.cur.Sim != nil {
		in.Seed = w.cur.Sim.Seed()
	}
	if c := w.conn; c != nil {
		in.Connection = &ConnectionInfo{Name: c.profile.Name, Seeds: slices.Clone(c.profile.Seeds), Label: c.profile.Label,
			Profile: profileOrLAN(c.profile.Profile), Saved: c.saved}
		if p, ok := findProfile(w.sess, c.profile.Name); ok {
			in.Connection.KeySaved = p.KeySaved
		}
	}
	w.mu.RUnlock()
	w.recMu.Lock()
	if w.recorder != nil && w.recorder.Recording() {
		in.Recording = true
		since := w.recSince
		in.RecordingSince = &since
	}
	w.recMu.Unlock()
	return in
}

func (w *Workbench) publishSession() { w.hub.Publish(TopicSession, w.info()) }

// Info implements operations.SessionControl (session_get).
func (w *Workbench) Info(context.Context) (any, error) { return w.info(), nil }

// SaveUI implements operations.SessionControl (session_save_ui). Pins
// derived by the app (by_name, stale, origins) are kept for the pins the
// UI still has when it does not send them.
func (w *Workbench) SaveUI(_ context.Context, raw map[string]any) error {
	b, err := json.Marshal(raw)
	if err != nil {
		return operations.Errorf(operations.CodeInvalidParams, "ui: %v", err)
	}
	w.persistMu.Lock()
	defer w.persistMu.Unlock()
	var ui session.UIState
	if err := json.Unmarshal(b, &ui); err != nil {
		return (&operations.Error{Code: operations.CodeInvalidParams, Message: "ui is not a UI state: " + err.Error()}).
			With("params", []operations.ParamError{{Param: "ui", Message: err.Error()}})
	}
	w.mu.Lock()
	old := w.sess.UI.Pins
	pinned := func(pid string) bool { return slices.Contains(ui.Pins.Processes, pid) }
	if ui.Pins.ByName == nil {
		for name, pid := range old.ByName {
			if slices.Contains(ui.Pins.Names, name) && pinned(pid) {
				if ui.Pins.ByName == nil {
					ui.Pins.ByName = map[string]string{}
				}
				ui.Pins.ByName[name] = pid
			}
		}
	}
	if ui.Pins.Origins == nil {
		for pid, mode := range old.Origins {
			if pinned(pid) {
				if ui.Pins.Origins == nil {
					ui.Pins.Origins = map[string]string{}
				}
				ui.Pins.Origins[pid] = mode
			}
		}
	}
	if ui.Pins.Stale == nil {
		for _, pid := range old.Stale {
			if pinned(pid) {
				ui.Pins.Stale = append(ui.Pins.Stale, pid)
			}
		}
	}
	if ui.Filters == nil {
		ui.Filters = map[string]string{}
	}
	if ui.PanelSizes == nil {
		ui.PanelSizes = map[string]float64{}
	}
	next := w.sess.Clone()
	next.UI = ui
	check := next.Clone()
	if _, ok := findProfile(check, check.Mode); !ok {
		check.Mode = session.ModeSimulator
	}
	if err := check.Validate(); err != nil {
		w.mu.Unlock()
		return (&operations.Error{Code: operations.CodeInvalidParams, Message: strings.TrimPrefix(err.Error(), "session: "), Err: err}).
			With("params", []operations.ParamError{{Param: "ui", Message: err.Error()}})
	}
	w.sess = next
	p := w.project
	s := w.persistedLocked()
	w.mu.Unlock()
	if err := p.SaveSession(s); err != nil {
		return fmt.Errorf("app: save the UI state: %w", err)
	}
	return nil
}

// ProjectsResult is what projects_list returns.
type ProjectsResult struct {
	Current  string                `json:"current"`
	Projects []session.ProjectInfo `json:"projects"`
}

// Projects implements operations.SessionControl (projects_list).
func (w *Workbench) Projects(context.Context) (any, error) {
	list, err := w.store.Projects()
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	if list == nil {
		list = []session.ProjectInfo{}
	}
	return ProjectsResult{Current: w.Project().Name(), Projects: list}, nil
}

// SwitchProject implements operations.SessionControl (project_switch).
func (w *Workbench) SwitchProject(ctx context.Context, name string) (any, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > session.MaxProjectNameLen || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: fmt.Sprintf("%q is not a project name", clipPath(name))}).
			Fix("pick a name from projects_list, or a new name without control characters (at most 200 bytes)")
	}
	w.switchMu.Lock()
	defer w.switchMu.Unlock()
	if name == w.Project().Name() {
		return w.info(), nil
	}
	project := w.store.Project(name)
	s, warn := loadSession(project)
	b, conn, fallback, err := w.startSaved(ctx, project, s, nil)
	if err != nil {
		return nil, fmt.Errorf("app: start project %q: %w", name, err)
	}
	if warn != "" {
		fallback = strings.TrimSpace(warn + " " + fallback)
	}
	if conn == nil && s.Mode != session.ModeSimulator {
		s = session.SwitchMode(s, session.ModeSimulator, nameLookup(ctx, b, s))
	}
	if err := project.Touch(""); err != nil {
		w.log.Warn("project info not updated", "project", name, "err", err)
	}
	w.mu.Lock()
	old := w.cur
	w.cur, w.project, w.sess, w.conn, w.fallback = &liveBackend{Backend: b}, project, s, conn, fallback
	w.mu.Unlock()
	w.retire(old)
	if err := w.persist(); err != nil {
		w.log.Warn("the session could not be saved", "project", name, "err", err)
	}
	w.publishSession()
	return w.info(), nil
}

// HistoryResult is what history_list returns.
type HistoryResult struct {
	Records []session.OperationRecord `json:"records"`
}

// History implements operations.SessionControl (history_list).
func (w *Workbench) History(_ context.Context, limit int) (any, error) {
	recs, err := w.Project().History(limit)
	if err != nil && recs == nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	if err != nil {
		w.log.Warn("damaged history records left out", "err", err)
	}
	if recs == nil {
		recs = []session.OperationRecord{}
	}
	return HistoryResult{Records: recs}, nil
}

// Connect implements operations.SessionControl (cluster_connect).
func (w *Workbench) Connect(ctx context.Context, req operations.ConnectRequest) (any, error) {
	seeds, oe := checkSeeds(req.Seeds)
	if oe != nil {
		return nil, oe
	}
	key, err := cluster.ParseKey(req.Key)
	if err != nil {
		// The message says what is wrong with the key, never the key.
		return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: strings.TrimPrefix(err.Error(), "cluster: ")}).
			With("reason", "bad_key").
			With("params", []operations.ParamError{{Param: "key", Message: "not base64 of 16, 24 or 32 bytes"}}).
			Fix("give the cluster's gossip key as base64 (what `clusterlab agent --key` was given)")
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = defaultProfileName(seeds)
	}
	if name == session.ModeSimulator {
		return nil, operations.Errorf(operations.CodeInvalidParams, "%q is the simulator's mode; name the connection something else", name).
			With("params", []operations.ParamError{{Param: "name", Message: "reserved"}})
	}
	p := session.Profile{Name: name, Seeds: seeds, Label: req.Label, Profile: profileOrLAN(req.Profile)}
	if req.Save && req.SaveKey && len(key) > 0 {
		p.KeySaved, p.Key = true, strings.TrimSpace(req.Key)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = w.cfg.JoinTimeout
	}
	return w.connect(ctx, p, key, req.Save, timeout)
}

// connect joins the cluster of profile p and makes it the current
// backend; on failure the current backend stays.
func (w *Workbench) connect(ctx context.Context, p session.Profile, key []byte, save bool, timeout time.Duration) (any, error) {
	w.switchMu.Lock()
	defer w.switchMu.Unlock()
	b, err := w.startConnection(ctx, w.Project(), p, key, timeout)
	if err != nil {
		w.log.Info("connection failed; keeping the current cluster", "profile", p.Name, "seeds", p.Seeds, "err", err)
		return nil, joinError(p, err)
	}
	w.mu.RLock()
	s := w.sess.Clone()
	w.mu.RUnlock()
	_, wasSaved := findProfile(s, p.Name)
	if save {
		s = upsertProfile(s, p)
	}
	s = session.SwitchMode(s, p.Name, nameLookup(ctx, b, s))
	s = session.NoteRecentCluster(s, session.RecentCluster{Profile: p.Name, Seeds: slices.Clone(p.Seeds), LastUsed: time.Now().UTC()})
	live := p
	live.Key = ""
	w.swap(b, s, &liveConn{profile: live, key: key, saved: save || wasSaved})
	w.log.Info("connected to a real cluster", "profile", p.Name, "seeds", p.Seeds, "saved", save || wasSaved)
	return w.info(), nil
}

// swap makes b the current backend with session s, retires the old one,
// saves and announces the change.
func (w *Workbench) swap(b *Backend, s session.Session, conn *liveConn) {
	w.mu.Lock()
	old := w.cur
	w.cur, w.sess, w.conn, w.fallback = &liveBackend{Backend: b}, s, conn, ""
	w.mu.Unlock()
	w.retire(old)
	if err := w.persist(); err != nil {
		w.log.Warn("the session could not be saved", "err", err)
	}
	w.publishSession()
}

// Disconnect implements operations.SessionControl (cluster_disconnect).
func (w *Workbench) Disconnect(ctx context.Context) (any, error) {
	return w.toSimulator(ctx)
}

func (w *Workbench) toSimulator(ctx context.Context) (any, error) {
	w.switchMu.Lock()
	defer w.switchMu.Unlock()
	w.mu.RLock()
	simulated := w.cur.Simulated()
	s := w.sess.Clone()
	w.mu.RUnlock()
	if simulated {
		return w.info(), nil
	}
	b, err := w.startSimulator(ctx, w.Project(), s.Simulator)
	if err != nil {
		return nil, fmt.Errorf("app: start the simulator: %w", err)
	}
	s = session.SwitchMode(s, session.ModeSimulator, nameLookup(ctx, b, s))
	w.swap(b, s, nil)
	w.log.Info("back on the simulator")
	return w.info(), nil
}

// SwitchMode implements operations.SessionControl (mode_switch).
func (w *Workbench) SwitchMode(ctx context.Context, mode, key string) (any, error) {
	mode = strings.TrimSpace(mode)
	if mode == session.ModeSimulator {
		return w.toSimulator(ctx)
	}
	w.mu.RLock()
	p, ok := findProfile(w.sess, mode)
	current := w.sess.Mode == mode && w.conn != nil
	var names []string
	for _, cp := range w.sess.ConnectionProfiles {
		names = append(names, cp.Name)
	}
	w.mu.RUnlock()
	if current {
		return w.info(), nil
	}
	if !ok {
		return nil, (&operations.Error{Code: operations.CodeNotFound, Message: fmt.Sprintf("no saved connection profile %q", clipPath(mode))}).
			With("profiles", names).
			Fix(`use "simulator" or one of the saved profiles, or connect with cluster_connect (save=true saves the profile)`)
	}
	var k []byte
	var err error
	switch {
	case strings.TrimSpace(key) != "":
		k, err = cluster.ParseKey(key)
	case p.KeySaved:
		k, err = cluster.ParseKey(p.Key)
	}
	if err != nil {
		return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: strings.TrimPrefix(err.Error(), "cluster: ")}).
			With("reason", "bad_key").Fix("give the cluster's gossip key as base64")
	}
	return w.connect(ctx, p, k, false, w.cfg.JoinTimeout)
}

// RecordStartResult is what record_start returns.
type RecordStartResult struct {
	Recording bool      `json:"recording"`
	Seed      int64     `json:"seed"`
	Nodes     int       `json:"nodes"`
	Since     time.Time `json:"since"`
}

// RecordStart implements operations.SessionControl (record_start).
func (w *Workbench) RecordStart(context.Context) (any, error) {
	b, release := w.acquire()
	defer release()
	if b.Sim == nil {
		return nil, (&operations.Error{Code: operations.CodeSimulatorOnly, Message: "recording a session as a scenario works on the simulator; this clusterlab is connected to a real cluster"}).
			Fix("switch to the simulator (cluster_disconnect or mode_switch mode=simulator), then record")
	}
	nodes := 0
	for _, n := range b.Sim.Nodes() {
		if n.Role == cluster.RoleWorker {
			nodes++
		}
	}
	profile := string(b.Sim.Config().Profile)
	if profile == "" {
		profile = string(cluster.ProfileSim)
	}
	w.mu.RLock()
	project := w.project.Name()
	w.mu.RUnlock()
	rec := session.NewRecorder(session.RecorderOptions{Name: scenarioFileBase(project) + "-recorded",
		Description: "Recorded in clusterlab, project " + project, Profile: profile})
	now := time.Now().UTC()
	rec.Start(b.Sim.Seed(), nodes)
	w.recMu.Lock()
	w.recorder, w.recSince = rec, now
	w.recMu.Unlock()
	w.log.Info("recording started", "seed", b.Sim.Seed(), "nodes", nodes)
	w.publishSession()
	return RecordStartResult{Recording: true, Seed: b.Sim.Seed(), Nodes: nodes, Since: now}, nil
}

// RecordStopResult is what record_stop returns.
type RecordStopResult struct {
	Path     string   `json:"path"`
	YAML     string   `json:"yaml"`
	Warnings []string `json:"warnings"`
}

// RecordStop implements operations.SessionControl (record_stop).
func (w *Workbench) RecordStop(_ context.Context, path string) (any, error) {
	w.recMu.Lock()
	rec := w.recorder
	since := w.recSince
	w.recMu.Unlock()
	if rec == nil || !rec.Recording() {
		return nil, operations.Errorf(operations.CodeConflict, "no recording is running").Fix("start one with record_start")
	}
	b, release := w.acquire()
	final := finalState(b)
	simulated := b.Simulated()
	release()
	if !simulated {
		rec.LeaveOut("the final state", "the app was on a real cluster when the recording stopped, so no expect steps were written")
	}
	out, err := rec.Stop(final)
	w.publishSession()
	if err != nil {
		return nil, (&operations.Error{Code: operations.CodeUnprocessable, Message: strings.TrimPrefix(err.Error(), "session: "), Err: err}).
			With("warnings", rec.Warnings()).
			Fix("record at least one operation that changes the cluster (spawn, kill_process, node_crash, partition, ...)")
	}
	if path == "" {
		w.mu.RLock()
		project := w.project.Name()
		w.mu.RUnlock()
		path = filepath.Join(w.dataDir, "scenarios", fmt.Sprintf("%s-%s.yaml", scenarioFileBase(project), since.Local().Format("20060102-150405")))
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(w.workdir, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("app: scenario directory: %w", err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return nil, (&operations.Error{Code: operations.CodeUnprocessable, Message: fmt.Sprintf("cannot write the scenario to %s: %v", path, err), Err: err}).
			With("yaml", string(out)).Fix("give another path, or copy the yaml from this error's details")
	}
	warnings := rec.Warnings()
	if warnings == nil {
		warnings = []string{}
	}
	w.log.Info("recording written", "path", path, "warnings", len(warnings))
	return RecordStopResult{Path: path, YAML: string(out), Warnings: warnings}, nil
}

// finalState is what the simulator looks like now, as the recorder's
// expect steps need it: convergence, processes per behaviour (the demo
// workloads left out: the replay has none) and the registered names.
func finalState(b *Backend) session.FinalState {
	if b.Sim == nil {
		return session.FinalState{}
	}
	fs := session.FinalState{Converged: b.Sim.Converged(), ProcessCounts: map[string]int{}}
	for _, n := range b.Sim.Running() {
		if n.Role() != cluster.RoleWorker {
			continue
		}
		for _, p := range n.LocalProcesses() {
			if p.Status == cluster.StatusExited || p.Labels["demo"] == "true" {
				continue
			}
			fs.ProcessCounts[p.Behavior]++
		}
	}
	for _, e := range b.Observer.RegistryEntries() {
		fs.Registry = append(fs.Registry, e.Name)
	}
	return fs
}

// SavedTraceInfo describes a saved trace in saved_traces.
type SavedTraceInfo struct {
	Name    string          `json:"name"`
	SavedAt time.Time       `json:"saved_at"`
	Bytes   int             `json:"bytes"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// SaveTrace implements operations.SessionControl (trace_save).
func (w *Workbench) SaveTrace(ctx context.Context, id, name string) (any, error) {
	b, release := w.acquire()
	res, err := w.registry.Run(ctx, b.Env, "trace_get", map[string]any{"id": id, "limit": maxTraceSaveEvents})
	release()
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("app: encode trace %s: %w", id, err)
	}
	p := w.Project()
	if err := p.SaveTrace(name, data); err != nil {
		if errors.Is(err, session.ErrInvalid) {
			return nil, operations.Errorf(operations.CodeInvalidParams, "%s", strings.TrimPrefix(err.Error(), "session: "))
		}
		return nil, fmt.Errorf("app: %w", err)
	}
	t, err := p.Trace(name)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	return SavedTraceInfo{Name: t.Name, SavedAt: t.SavedAt, Bytes: len(t.Data)}, nil
}

// maxTraceSaveEvents is how many events trace_save reads.
const maxTraceSaveEvents = 100000

// SavedTracesResult is what saved_traces returns.
type SavedTracesResult struct {
	Traces []SavedTraceInfo `json:"traces"`
}

// SavedTraces implements operations.SessionControl (saved_traces).
func (w *Workbench) SavedTraces(_ context.Context, name string) (any, error) {
	p := w.Project()
	if name != "" {
		t, err := p.Trace(name)
		if errors.Is(err, session.ErrNotFound) {
			return nil, operations.Errorf(operations.CodeNotFound, "no saved trace %q", clipPath(name)).Fix("list them with saved_traces")
		}
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		return SavedTracesResult{Traces: []SavedTraceInfo{{Name: t.Name, SavedAt: t.SavedAt, Bytes: len(t.Data), Data: t.Data}}}, nil
	}
	list, err := p.Traces()
	if err != nil && list == nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	out := SavedTracesResult{Traces: []SavedTraceInfo{}}
	for _, t := range list {
		out.Traces = append(out.Traces, SavedTraceInfo{Name: t.Name, SavedAt: t.SavedAt, Bytes: len(t.Data)})
	}
	return out, nil
}

// operationRan implements runObserver: the history and the recorder.
func (w *Workbench) operationRan(run apiRun) {
	name := run.Spec.Name
	source := "api"
	switch s := strings.ToLower(strings.TrimSpace(run.Source)); s {
	case "palette", "cli":
		source = s
	}
	readOnly := readOnlyOperation(run.Spec)
	if source != "api" || !readOnly {
		params := redact(run.Params, 0)
		for _, sp := range run.Spec.Params {
			if _, given := params[sp.Name]; given && sp.Secret {
				params[sp.Name] = redacted
			}
		}
		rec := session.OperationRecord{Time: run.Start.UTC(), Operation: name, Params: params,
			OK: run.Err == nil, DurationMS: float64(run.Elapsed.Microseconds()) / 1000, Source: source}
		if run.Err != nil {
			rec.Error, rec.Code = run.Err.Message, run.Err.Code
		}
		if err := w.Project().AppendHistory(rec); err != nil {
			w.log.Warn("history not saved", "op", name, "err", err)
		}
	}
	if run.Err != nil || readOnly || run.Spec.Category == "session" {
		return
	}
	w.recMu.Lock()
	rec := w.recorder
	w.recMu.Unlock()
	if rec == nil || !rec.Recording() {
		return
	}
	if !run.Backend.Simulated() {
		rec.LeaveOut(name, "it ran on a real cluster, which the replay does not have")
		return
	}
	rec.RecordResult(name, run.Params, run.Result, run.Start)
}

// readOnlyNames are the operations that change nothing, beyond the ones
// their name says (list_*, *_list, *_info, *_get, ...).
var readOnlyNames = map[string]bool{
	"session_get": true, "history_list": true, "projects_list": true, "saved_traces": true,
	"session_save_ui": true, "health_rules": true, "registry_lookup": true, "whereis": true,
}

var readOnlySuffixes = []string{"_list", "_info", "_get", "_lookup", "_status", "_topology", "_conflicts",
	"_anomalies", "_migrations", "_children", "_timeline", "_resources", "_events", "_report"}

// readOnlyOperation says whether an operation only reads: those run by
// the UI's polling are not kept in the history (unless run from the
// palette or the CLI) and are not recorded.
func readOnlyOperation(spec operations.Spec) bool {
	if spec.Destructive {
		return false
	}
	name := spec.Name
	if readOnlyNames[name] || strings.HasPrefix(name, "list_") {
		return true
	}
	for _, s := range readOnlySuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// secretParams are parameter names whose values the history never keeps.
var secretParams = map[string]bool{"key": true, "secret": true, "secret_key": true, "token": true, "password": true}

// redact copies params with the secret ones replaced by "[redacted]".
func redact(p map[string]any, depth int) map[string]any {
	if p == nil {
		return nil
	}
	out := make(map[string]any, len(p))
	for k, v := range p {
		switch {
		case secretParams[strings.ToLower(k)]:
			out[k] = redacted
		case depth < 8:
			if m, ok := v.(map[string]any); ok {
				out[k] = redact(m, depth+1)
				continue
			}
			out[k] = v
		default:
			out[k] = v
		}
	}
	return out
}

// joinError turns a failed connection into the error the UI shows, which
// says which failure it is (details.reason). It never holds the key.
func joinError(p session.Profile, err error) *operations.Error {
	msg := err.Error()
	if inner := errors.Unwrap(err); inner != nil && strings.HasPrefix(msg, "app: join") {
		msg = inner.Error()
	}
	msg = fmt.Sprintf("cannot connect to %s: %s", p.Name, strings.TrimPrefix(strings.TrimPrefix(msg, "app: "), "cluster: "))
	e := &operations.Error{Message: msg, Err: err}
	switch {
	case errors.Is(err, cluster.ErrKeyMismatch):
		e.Code = operations.CodeUnprocessable
		e.With("reason", "key_mismatch").Fix("use the cluster's gossip key (base64), or none if the cluster does not encrypt gossip")
	case errors.Is(err, cluster.ErrLabelMismatch):
		e.Code = operations.CodeUnprocessable
		e.With("reason", "label_mismatch").Fix("use the cluster's label (the agents' --label) and its gossip key")
	case errors.Is(err, cluster.ErrNameClash):
		e.Code = operations.CodeConflict
		e.With("reason", "name_clash").Fix("another member already uses the observer's name; stop it or start clusterlab with another observer name")
	case errors.Is(err, cluster.ErrNoSeed), errors.Is(err, context.DeadlineExceeded):
		e.Code = operations.CodeNodeUnreachable
		e.With("reason", "no_seed").Fix("check the seed addresses (host:port of a member's gossip port), that the members run, and that the port is reachable")
	default:
		e.Code = operations.CodeUnprocessable
		e.With("reason", "failed").Fix("check the seeds, label and key, then retry")
	}
	return e.With("profile", p.Name).With("seeds", p.Seeds)
}

// checkSeeds validates seed addresses.
func checkSeeds(seeds []string) ([]string, *operations.Error) {
	var out []string
	var bad []operations.ParamError
	for _, s := range seeds {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil || host == "" || port == "" {
			bad = append(bad, operations.ParamError{Param: "seeds", Message: fmt.Sprintf("%q is not host:port", clipPath(s))})
			continue
		}
		out = append(out, s)
	}
	if len(bad) > 0 {
		return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: "invalid parameters for cluster_connect: " + bad[0].Message}).
			With("params", bad).Fix("give each seed as host:port of a member's gossip address, e.g. 10.0.0.5:7946")
	}
	if len(out) == 0 {
		return nil, (&operations.Error{Code: operations.CodeInvalidParams, Message: "cluster_connect needs at least one seed"}).
			With("params", []operations.ParamError{{Param: "seeds", Message: "required"}})
	}
	return out, nil
}

// nameLookup resolves pinned names in a new backend's registry, waiting
// briefly (pinWait) for the names pinned in s to appear there.
func nameLookup(ctx context.Context, b *Backend, s session.Session) func(string) (string, bool) {
	names := s.UI.Pins.Names
	if len(names) > 0 {
		deadline := time.Now().Add(pinWait)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
	wait:
		for time.Now().Before(deadline) {
			all := true
			for _, n := range names {
				if _, ok := b.Observer.Whereis(n); !ok {
					all = false
					break
				}
			}
			if all {
				break
			}
			select {
			case <-ctx.Done():
				break wait
			case <-t.C:
			}
		}
	}
	return func(name string) (string, bool) {
		pid, ok := b.Observer.Whereis(name)
		if !ok {
			return "", false
		}
		return pid.String(), true
	}
}

func findProfile(s session.Session, name string) (session.Profile, bool) {
	for _, p := range s.ConnectionProfiles {
		if p.Name == name {
			return p, true
		}
	}
	return session.Profile{}, false
}

// upsertProfile returns s with p saved (replacing a profile of that name).
func upsertProfile(s session.Session, p session.Profile) session.Session {
	out := s.Clone()
	for i, old := range out.ConnectionProfiles {
		if old.Name == p.Name {
			out.ConnectionProfiles[i] = p
			return out
		}
	}
	out.ConnectionProfiles = append(out.ConnectionProfiles, p)
	return out
}

// defaultProfileName names a connection after its seeds: the first one,
// and how many more.
func defaultProfileName(seeds []string) string {
	if len(seeds) == 0 {
		return "cluster"
	}
	if len(seeds) == 1 {
		return seeds[0]
	}
	return fmt.Sprintf("%s+%d", seeds[0], len(seeds)-1)
}

func profileOrLAN(p string) string {
	switch p {
	case string(cluster.ProfileLocal), string(cluster.ProfileSim):
		return p
	}
	return string(cluster.ProfileLAN)
}

// randomSuffix returns 6 random hex digits.
func randomSuffix() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// scenarioFileBase makes a project name fit in a file name.
func scenarioFileBase(project string) string {
	var b strings.Builder
	for _, r := range project {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= 60 {
			break
		}
	}
	s := strings.Trim(b.String(), "-.")
	if s == "" {
		return "session"
	}
	return s
}
