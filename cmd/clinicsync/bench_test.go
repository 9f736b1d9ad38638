package main

import (
	"io"
	"net/http"
	"os"
	"time"
)

// baselineDownload is the naive way to save a PDF, run as a separate
// process by BenchmarkPeakRSS1GiB: read the whole body into memory, then
// write the file.
func baselineDownload() int {
	resp, err := http.Get(os.Getenv("CLINICSYNC_BENCH_BASELINE"))
	if err != nil {
		return 1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 1
	}
	if err := os.WriteFile(os.Getenv("CLINICSYNC_BENCH_OUT"), b, 0o644); err != nil {
		return 1
	}
	return 0
}

// idlePoller is the baseline of BenchmarkIdleRun, run as a separate
// process: the least a poller can do, a plain GET of the list every
// interval, nothing else.
func idlePoller() int {
	every, _ := time.ParseDuration(os.Getenv("CLINICSYNC_BENCH_EVERY"))
	for {
		req, _ := http.NewRequest(http.MethodGet, os.Getenv("CLINICSYNC_BENCH_POLL")+"/documents?synchronized=false&page=1", nil)
		req.Header.Set("Authorization", "Bearer cmd-test-token")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		time.Sleep(every)
	}
}
