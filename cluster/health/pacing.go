package health

import "time"

// Pacing is the monitor's overhead policy.
type Pacing struct {
	// Base is the configured interval; Max the longest backoff.
	Base, Max time.Duration
	// Budget is the CPU the monitor may use, in fractions of one core.
	Budget float64
	// HostBusy is the observer host's CPU percent above which the monitor
	// backs off whatever its own cost.
	HostBusy float64
}

// PacingState is what NextInterval decides from.
type PacingState struct {
	// Interval is the current interval.
	Interval time.Duration
	// Overhead is the measured CPU per interval, in fractions of one core
	// (smoothed).
	Overhead float64
	// HostCPU is the observer host's CPU percent (negative: unknown).
	HostCPU float64
}

// NextInterval decides the next sampling interval and whether the
// non-essential collectors pause. Over budget or on a busy host the
// interval doubles up to Max; well under budget (half) on a calm host it
// halves back to Base. The non-essential collectors pause while the
// interval is above Base or the host is busy. It is pure.
func (p Pacing) NextInterval(s PacingState) (next time.Duration, pause bool) {
	busy := s.HostCPU >= p.HostBusy
	calm := s.HostCPU < p.HostBusy-10
	cur := min(max(s.Interval, p.Base), p.Max)
	switch {
	case s.Overhead > p.Budget || busy:
		next = min(cur*2, p.Max)
	case s.Overhead < p.Budget/2 && calm:
		next = max(cur/2, p.Base)
	default:
		next = cur
	}
	return next, busy || next > p.Base
}
