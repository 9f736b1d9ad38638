package engine

import (
	"fmt"
	"testing"
	"time"
)

// The engine's retry numbers, from the default Config: a failed document
// 30 s doubling to 30 min ±20 % (never before Retry-After), a failed pass
// twice the poll interval doubling to 8 times it ±20 %, and one quick
// retry a second later (none when QuickRetryDelay is negative).
func TestRetryPoliciesKeepTheirNumbers(t *testing.T) {
	var c Config
	c.defaults()
	within := func(what string, got, want time.Duration) {
		t.Helper()
		if lo, hi := want*8/10, want*12/10; got < lo || got > hi {
			t.Errorf("%s: %v, want %v ±20 %%", what, got, want)
		}
	}
	for range 200 {
		for n, want := range map[int]time.Duration{0: 30 * time.Second, 1: time.Minute, 5: 16 * time.Minute, 6: 30 * time.Minute, 40: 30 * time.Minute} {
			within(fmt.Sprint("document after attempt ", n), c.docRetry().Delay(n, 0), want)
		}
		for failures, want := range map[int]time.Duration{1: 90 * time.Second, 2: 3 * time.Minute, 3: 6 * time.Minute, 9: 6 * time.Minute} {
			within(fmt.Sprint("pass after failures: ", failures), c.passRetry().Delay(failures-1, 0), want)
		}
	}
	if d := c.docRetry().Delay(0, 2*time.Hour); d != 2*time.Hour {
		t.Errorf("document with Retry-After 2h: %v", d)
	}
	if d := c.passRetry().Delay(0, time.Hour); d != time.Hour {
		t.Errorf("pass with Retry-After 1h: %v", d)
	}
	q := c.quickRetry()
	if !q.Again(1) || q.Again(2) || q.Delay(0, 0) != time.Second {
		t.Errorf("quick retry: %+v", q)
	}
	c.QuickRetryDelay = -1
	if c.quickRetry().Again(1) {
		t.Error("a negative QuickRetryDelay still retries")
	}
}
