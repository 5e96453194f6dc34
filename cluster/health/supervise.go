package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// SuperviseOptions tune Supervise.
type SuperviseOptions struct {
	// MinBackoff is the wait before the first restart; default 100 ms.
	// Each restart in a row doubles it up to MaxBackoff (default 30 s).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// StableAfter is how long a run must last for the backoff to reset;
	// default 1 min.
	StableAfter time.Duration
	// OnRestart, if set, is told about each failure before the restart
	// (restarts counts them, from 1).
	OnRestart func(name string, err error, restarts int)
	// Logger receives a warning per failure; default discards.
	Logger *slog.Logger
}

// ErrPanicked wraps a panic that Supervise recovered.
var ErrPanicked = errors.New("health: service panicked")

// Supervise runs fn, the body of a long-running service, until ctx ends:
// whenever fn returns an error or panics, it is restarted after an
// exponential backoff. The service's state must live outside fn (in the
// struct whose method fn is), so a restart resumes with it. Supervise
// returns nil when fn returns nil (the service finished) or ctx ends.
func Supervise(ctx context.Context, name string, fn func(ctx context.Context) error, opts SuperviseOptions) error {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.StableAfter <= 0 {
		opts.StableAfter = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := opts.MinBackoff
	restarts := 0
	for {
		started := time.Now()
		err := runGuarded(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			return nil
		}
		if time.Since(started) >= opts.StableAfter {
			backoff = opts.MinBackoff
		}
		restarts++
		log.Warn("service failed; restarting", "service", name, "err", err, "restarts", restarts, "backoff", backoff)
		if opts.OnRestart != nil {
			opts.OnRestart(name, err, restarts)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, opts.MaxBackoff)
	}
}

// runGuarded runs fn and turns a panic into an error with its stack.
func runGuarded(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			stack := debug.Stack()
			if len(stack) > 4096 {
				stack = stack[:4096]
			}
			err = fmt.Errorf("%w: %v\n%s", ErrPanicked, r, stack)
		}
	}()
	return fn(ctx)
}
