package cluster

import "time"

// Clock is the node's time source, injected so that simulations and tests
// control time-based behaviour (SendAfter, tickers in workloads). Its
// methods may be called concurrently.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d; the returned func
	// cancels it and reports whether it was cancelled before running.
	AfterFunc(d time.Duration, f func()) (cancel func() bool)
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc implements Clock.
func (SystemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
