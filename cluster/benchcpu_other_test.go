//go:build !unix

package cluster_test

import "time"

// threadsCPU is not available here: benchmarks report wall time only.
func threadsCPU() (time.Duration, bool) { return 0, false }
