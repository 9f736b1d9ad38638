package engine

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user and kernel),
// as on Unix (sys_unix_test.go).
func processCPU() time.Duration {
	self, err := syscall.GetCurrentProcess()
	if err != nil {
		return 0
	}
	var created, exited, kernel, user syscall.Filetime
	if syscall.GetProcessTimes(self, &created, &exited, &kernel, &user) != nil {
		return 0
	}
	// Here the Filetimes are durations, in units of 100 ns.
	ticks := func(f syscall.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
	return time.Duration((ticks(kernel) + ticks(user)) * 100)
}

// settle does nothing on Windows: flushing a whole volume takes an
// administrator (FlushFileBuffers on the volume's handle).
func settle() {}
