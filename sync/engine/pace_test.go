package engine

import (
	"context"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

// pacerClock is a pacer's clock that moves only when told.
type pacerClock struct{ t time.Time }

func (c *pacerClock) now() time.Time { return c.t }

func testPacer(max int, budget func() int) (*pacer, *pacerClock) {
	c := &pacerClock{t: time.Unix(1_800_000_000, 0)}
	p := newPacer(max, budget)
	p.now = c.now
	return p, c
}

// fill takes every slot the pacer has now (none of them waits) and
// returns how many.
func fill(t *testing.T, p *pacer) int {
	t.Helper()
	p.mu.Lock()
	n := p.limitLocked() - p.inflight
	p.mu.Unlock()
	for range n {
		if err := p.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// round sends a full window, answers every call after took with err, and
// returns the window.
func round(t *testing.T, p *pacer, c *pacerClock, took time.Duration, err error) float64 {
	t.Helper()
	n := fill(t, p)
	sent := c.t
	c.t = c.t.Add(took)
	for range n {
		p.observe(sent, took, err)
		p.release()
	}
	return p.stats().Window
}

// While the window is full and answers stay fast, it grows (doubling a
// round trip at first) up to [sync] workers, never beyond.
func TestPacerGrowsWhileFastUpToWorkers(t *testing.T) {
	p, c := testPacer(16, nil)
	var ws []float64
	for range 4 {
		ws = append(ws, round(t, p, c, 20*time.Millisecond, nil))
	}
	if ws[0] != 8 || ws[1] != 16 || ws[2] != 16 || ws[3] != 16 {
		t.Fatalf("windows %v, want 8 16 16 16", ws)
	}
	if s := p.stats(); s.Peak != 16 || s.Cuts != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A window that is not full proves nothing about a wider one: it does not
// grow.
func TestPacerDoesNotGrowWhenNotFull(t *testing.T) {
	p, c := testPacer(16, nil)
	for range 10 {
		if err := p.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
		c.t = c.t.Add(time.Millisecond)
		p.observe(c.t, time.Millisecond, nil)
		p.release()
	}
	if w := p.stats().Window; w != paceStart {
		t.Fatalf("window %v after one call at a time, want %d", w, paceStart)
	}
}

// A 429, a 5xx (EUnavailable: also timeouts and dropped connections) or an
// answer much slower than the fastest halves the window, once per strain:
// answers to calls sent before the cut do not cut again. A document's own
// failure (not a PDF) says nothing about the platform's load. The window
// never goes below 1; after a cut it grows by one call a window.
func TestPacerHalvesOnStrainOncePerCut(t *testing.T) {
	p, c := testPacer(64, nil)
	for range 3 {
		round(t, p, c, 20*time.Millisecond, nil)
	}
	if w := p.stats().Window; w != 32 {
		t.Fatalf("window %v after three fast rounds, want 32", w)
	}
	// A burst of 429s on a whole window: one cut.
	if w := round(t, p, c, 20*time.Millisecond, clinicsync.Retryable(clinicsync.ERateLimited, "slow down", nil)); w != 16 {
		t.Fatalf("window %v after a 429 burst, want 16", w)
	}
	// 5xx on the next window: another.
	if w := round(t, p, c, 20*time.Millisecond, clinicsync.Retryable(clinicsync.EUnavailable, "503", nil)); w != 8 {
		t.Fatalf("window %v after a 503 burst, want 8", w)
	}
	// A document's own failure: no change.
	if w := round(t, p, c, 20*time.Millisecond, clinicsync.Permanent(clinicsync.ENotPDF, "not a PDF", nil)); w != 8 {
		t.Fatalf("window %v after a not-a-PDF answer, want 8", w)
	}
	// Latency: twice the fastest and a little is noise; ten times is strain.
	w := round(t, p, c, 60*time.Millisecond, nil)
	if w < 8.9 || w > 9 {
		t.Fatalf("window %v after 60 ms answers (fastest 20 ms), want about 9 (grown by about one)", w)
	}
	if w2 := round(t, p, c, 200*time.Millisecond, nil); w2 != w/2 {
		t.Fatalf("window %v after 200 ms answers (fastest 20 ms), want %v", w2, w/2)
	}
	// Strain again and again: never below one call.
	for range 8 {
		round(t, p, c, 20*time.Millisecond, clinicsync.Retryable(clinicsync.EUnavailable, "503", nil))
	}
	if s := p.stats(); s.Window != 1 || s.Low != 1 || s.Cuts < 5 {
		t.Fatalf("stats %+v after repeated 503s, want window 1", s)
	}
	// An answer to a call sent before the last cut does not cut again.
	p.observe(c.t.Add(-time.Second), 20*time.Millisecond, clinicsync.Retryable(clinicsync.EUnavailable, "503", nil))
	cuts := p.stats().Cuts
	p.observe(c.t.Add(-time.Second), 20*time.Millisecond, clinicsync.Retryable(clinicsync.EUnavailable, "503", nil))
	if p.stats().Cuts != cuts {
		t.Fatal("an answer sent before the last cut cut again")
	}
}

// The rate limit's budget (what the server says remains, less the
// client's reserve) caps the calls in flight below the window; an unknown
// budget (-1) does not.
func TestPacerStaysWithinTheRateLimitBudget(t *testing.T) {
	budget := -1
	p, c := testPacer(16, func() int { return budget })
	for range 3 {
		round(t, p, c, 10*time.Millisecond, nil)
	}
	if n := fill(t, p); n != 16 {
		t.Fatalf("%d slots with an unknown budget, want the window's 16", n)
	}
	for range 16 {
		p.release()
	}
	budget = 3
	if n := fill(t, p); n != 3 {
		t.Fatalf("%d slots with a budget of 3, want 3", n)
	}
	for range 3 {
		p.release()
	}
	// An empty budget still lets one call go: the client's limiter waits
	// for the refill (or says how long) rather than the pass stalling.
	budget = 0
	if n := fill(t, p); n != 1 {
		t.Fatalf("%d slots with no budget, want 1", n)
	}
	p.release()
}

// acquire waits for a slot and gives up with its context.
func TestPacerAcquireWaitsForASlot(t *testing.T) {
	p, _ := testPacer(1, nil)
	if err := p.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- p.acquire(context.Background()) }()
	select {
	case err := <-got:
		t.Fatalf("second acquire of a window of 1 returned %v before a release", err)
	case <-time.After(20 * time.Millisecond):
	}
	p.release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("acquire did not return after a release")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.acquire(ctx); err == nil {
		t.Fatal("acquire on a full window with a cancelled context succeeded")
	}
}
