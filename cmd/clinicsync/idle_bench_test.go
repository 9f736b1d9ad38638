//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// procUsage is a process's CPU time so far and its resident memory (now
// and at its peak), from /proc.
func procUsage(pid int) (cpu time.Duration, rss, hwm int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// Fields after the command name (in parentheses): utime and stime
	// are the 12th and 13th.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			hwm = kb << 10
		}
	}
	return cpu, rss, hwm, sc.Err()
}

// BenchmarkIdleRun measures `clinicsync run` with nothing to do: the CPU it
// uses and its resident memory over BENCH_IDLE (30 s by default) after its
// first pass, polling every 10 s (the shortest interval allowed), beside a
// bare poller process doing one GET per interval. The goal: under 1% of a
// core and 40 MiB.
func BenchmarkIdleRun(b *testing.B) {
	window := 30 * time.Second
	if d, err := time.ParseDuration(os.Getenv("BENCH_IDLE")); err == nil && d > 0 {
		window = d
	}
	const every = 10 * time.Second
	for _, mode := range []string{"clinicsync-run", "baseline-poller"} {
		b.Run(mode, func(b *testing.B) {
			var cpuPct, rssMiB, hwmMiB float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := newSetup(b, sim.Options{Seed: 9, Documents: 20})
				cfg, err := config.Load(s.cfgPath)
				if err != nil {
					b.Fatal(err)
				}
				cfg.Askara.PollInterval = config.Duration{Duration: every}
				if err := cfg.Save(s.cfgPath); err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				var c *exec.Cmd
				if mode == "baseline-poller" {
					c = exec.CommandContext(ctx, os.Args[0])
					c.Env = append(os.Environ(), "CLINICSYNC_BENCH_POLL="+s.url, "CLINICSYNC_BENCH_EVERY="+every.String())
				} else {
					c = s.cmd(ctx, "run")
				}
				if err := c.Start(); err != nil {
					b.Fatal(err)
				}
				// Idle: the backlog is synced (or, for the poller, its
				// first request made and the runtime settled).
				deadline := time.Now().Add(time.Minute)
				for mode == "clinicsync-run" && len(s.sim.StatusCalls()) < 20 {
					if time.Now().After(deadline) {
						b.Fatalf("the backlog was not synced: %d confirmed", len(s.sim.StatusCalls()))
					}
					time.Sleep(50 * time.Millisecond)
				}
				time.Sleep(2 * time.Second) // the pass's last writes, then idle (a measurement window, not a wait for a condition)
				cpu0, _, _, err := procUsage(c.Process.Pid)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				b.StartTimer()
				time.Sleep(window)
				b.StopTimer()
				cpu1, rss, hwm, err := procUsage(c.Process.Pid)
				elapsed := time.Since(start)
				cancel()
				c.Wait()
				if err != nil {
					b.Fatal(err)
				}
				cpuPct = max(cpuPct, 100*float64(cpu1-cpu0)/float64(elapsed))
				rssMiB = max(rssMiB, float64(rss)/(1<<20))
				hwmMiB = max(hwmMiB, float64(hwm)/(1<<20))
			}
			b.ReportMetric(cpuPct, "cpu-%")
			b.ReportMetric(rssMiB, "RSS-MiB")
			b.ReportMetric(hwmMiB, "peak-RSS-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}
