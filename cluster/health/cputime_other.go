//go:build !linux

package health

import "time"

// cpuMeter falls back to wall time where thread CPU time is not available.
type cpuMeter struct{ start time.Time }

func startCPU() cpuMeter { return cpuMeter{start: time.Now()} }

func (m cpuMeter) stop() time.Duration { return time.Since(m.start) }

func processCPU() time.Duration { return 0 }
