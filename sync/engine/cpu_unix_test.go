//go:build unix

package engine

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user and system):
// the client's and the simulator's, which serves both clients alike.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
