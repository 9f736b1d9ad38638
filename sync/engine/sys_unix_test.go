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

// settle writes every file system's dirty data and journal out before a
// timed run, so that no run pays for what an earlier one left to write
// (the naive client never syncs: its files are written back, and the
// blocks of removed folders discarded, at the next journal commit, which
// would be Clinic Sync's first fsync).
func settle() { syscall.Sync() }
