//go:build unix

package cluster_test

import (
	"syscall"
	"time"
)

// threadsCPU returns the CPU time (user and system) this test process has
// used so far, at the kernel's precision (not a clock tick), and whether
// it could be read.
func threadsCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
