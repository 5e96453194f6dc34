package app

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clusterlab/clusterlab/cluster/health"
)

// Services runs the app's long-running services (the health monitor, the
// observer's rejoin watchdog, ...) under health.Supervise: a service whose
// body panics or fails is restarted with exponential backoff. A service's
// state lives in the value whose method the body is, never in the body's
// locals, so a restart resumes with it. Status reports each service's
// restarts and last error for health_status. All methods are safe for
// concurrent use.
type Services struct {
	log  *slog.Logger
	opts health.SuperviseOptions

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	status map[string]*health.ServiceStatus
	detail map[string]func() string
	// hook, when set, runs at the start of every run of every service
	// (tests use it to inject a panic).
	hook func(name string)
}

// NewServices returns an empty set of services; Close stops them.
// Zero backoff options take health.Supervise's defaults.
func NewServices(logger *slog.Logger, opts health.SuperviseOptions) *Services {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts.Logger = logger
	return &Services{log: logger, opts: opts, ctx: ctx, cancel: cancel,
		status: make(map[string]*health.ServiceStatus), detail: make(map[string]func() string)}
}

// Go starts a supervised service named name running fn until Close. fn
// should return nil only when its context ends (a nil return before that
// ends the service: it shows as stopped). detail, if not nil, describes
// the service's state for Status (it must not block).
func (s *Services) Go(name string, fn func(ctx context.Context) error, detail func() string) {
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	s.status[name] = &health.ServiceStatus{Name: name, State: health.ServiceRunning}
	if detail != nil {
		s.detail[name] = detail
	}
	s.wg.Add(1)
	s.mu.Unlock()
	opts := s.opts
	opts.OnRestart = func(name string, err error, restarts int) {
		msg := err.Error()
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		st := s.status[name]
		st.Restarts, st.LastError, st.LastRestart, st.State = restarts, msg, time.Now().UTC(), health.ServiceRestarting
	}
	body := func(ctx context.Context) error {
		s.mu.Lock()
		s.status[name].State = health.ServiceRunning
		hook := s.hook
		s.mu.Unlock()
		if hook != nil {
			hook(name)
		}
		return fn(ctx)
	}
	go func() {
		defer s.wg.Done()
		_ = health.Supervise(s.ctx, name, body, opts)
		s.mu.Lock()
		s.status[name].State = health.ServiceStopped
		s.mu.Unlock()
	}()
}

// SetHook sets a function run at the start of every run of every service,
// with the service's name; it may panic to simulate a crashing service.
// nil removes it.
func (s *Services) SetHook(fn func(name string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = fn
}

// Status returns every service's status, by name.
func (s *Services) Status() []health.ServiceStatus {
	s.mu.Lock()
	out := make([]health.ServiceStatus, 0, len(s.status))
	details := make(map[string]func() string, len(s.detail))
	for name, st := range s.status {
		out = append(out, *st)
		details[name] = s.detail[name]
	}
	s.mu.Unlock()
	for i := range out {
		if d := details[out[i].Name]; d != nil {
			out[i].Detail = d()
		}
	}
	slices.SortFunc(out, func(a, b health.ServiceStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Close stops every service and waits for them (bounded by ctx).
func (s *Services) Close(ctx context.Context) error {
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
