//go:build linux

package health

import (
	"runtime"
	"syscall"
	"time"
)

// cpuMeter measures the CPU time of the calling goroutine's work by
// pinning it to its OS thread and reading the thread's rusage.
type cpuMeter struct{ start time.Duration }

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startCPU pins the goroutine and starts measuring.
func startCPU() cpuMeter {
	runtime.LockOSThread()
	return cpuMeter{start: threadCPU()}
}

// stop returns the CPU used since startCPU and unpins the goroutine.
func (m cpuMeter) stop() time.Duration {
	d := threadCPU() - m.start
	runtime.UnlockOSThread()
	return max(d, 0)
}

// processCPU is the whole process's CPU time (benchmarks).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
