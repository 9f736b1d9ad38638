//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/clinicsync/clinicsync/sync/sim"
)

// BenchmarkPeakRSS1GiB syncs one 1 GiB PDF with the real binary and reports
// the child process's peak resident memory, beside a read-it-all baseline.
func BenchmarkPeakRSS1GiB(b *testing.B) {
	const size = 1 << 30
	for _, mode := range []string{"clinicsync-sync", "baseline-readall"} {
		b.Run(mode, func(b *testing.B) {
			var peak int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := newSetup(b, sim.Options{Seed: 5, RateLimit: -1})
				d := s.sim.AddDocument(sim.Fixture{Content: sim.ValidPDF(size)})
				var c *exec.Cmd
				if mode == "baseline-readall" {
					c = exec.Command(os.Args[0])
					c.Env = append(os.Environ(), "CLINICSYNC_BENCH_BASELINE="+d.PDF.URL,
						"CLINICSYNC_BENCH_OUT="+filepath.Join(s.root, "baseline.pdf"))
				} else {
					c = s.cmd(context.Background(), "sync", "--quiet")
				}
				b.StartTimer()
				out, err := c.CombinedOutput()
				b.StopTimer()
				if err != nil {
					b.Fatalf("%s: %v\n%s", mode, err, out)
				}
				fi, err := firstFile(s.root)
				if err != nil || fi.Size() != size {
					b.Fatalf("%s: file %v %v", mode, fi, err)
				}
				ru := c.ProcessState.SysUsage().(*syscall.Rusage)
				peak = max(peak, ru.Maxrss*1024) // Linux reports KiB (macOS bytes, Windows none: Linux only)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func firstFile(root string) (os.FileInfo, error) {
	var found os.FileInfo
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && found == nil {
			found = fi
		}
		return err
	})
	if found == nil && err == nil {
		err = os.ErrNotExist
	}
	return found, err
}
