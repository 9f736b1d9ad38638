package engine

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/clinicsync/clinicsync"
)

// A pacer is how many calls of one kind (PDF downloads, confirmations) a
// pass has in flight at once: a window that adapts to the round trip and
// to the platform's answers, AIMD, as TCP's congestion window and rclone's
// pacer do. It starts at a few calls, grows while the window is full and
// answers stay fast (by one call an answer at first, which doubles it
// every round trip, then by one call a window), and is halved on a sign of
// strain: a 429, a 5xx, a timeout or a dropped connection, or an answer
// much slower than the fastest of the last seconds (a server that queues).
// One strain cuts once: answers to calls sent before the last cut say
// nothing new. The window stays within 1 and [sync] workers, and within
// the API requests the rate limit lets go now (budget), so a backlog never
// spends the reserve the client keeps for the next pass.
type pacer struct {
	max    int
	budget func() int // requests the rate limit lets go now; -1: unknown; nil: no limit
	now    func() time.Time

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced when a slot frees or the window moves
	window    float64
	slowStart bool
	inflight  int
	peak      int           // the most calls in flight at once
	fullAt    time.Time     // the last time a call filled the window
	fastest   time.Duration // the fastest answer since fastestAt
	fastestAt time.Time
	cutAt     time.Time // the last cut
	cuts      int
	low       float64 // the narrowest the window was
}

const (
	// paceStart is the window a pass starts with.
	paceStart = 4
	// paceMemory is how long the fastest answer is the reference: a slower
	// route (the PC moved, the platform moved) becomes the new normal.
	paceMemory = 10 * time.Second
	// paceSlack is how much slower than twice the fastest an answer may
	// be before it counts as strain: noise of a busy PC, never a cut.
	paceSlack = 50 * time.Millisecond
)

func newPacer(limit int, budget func() int) *pacer {
	limit = max(1, limit)
	w := float64(min(paceStart, limit))
	return &pacer{max: limit, budget: budget, now: time.Now, changed: make(chan struct{}),
		window: w, low: w, slowStart: true}
}

// limitLocked is how many calls may be in flight now.
func (p *pacer) limitLocked() int {
	n := int(p.window)
	if p.budget != nil {
		if b := p.budget(); b >= 0 {
			n = min(n, max(1, b))
		}
	}
	return max(1, n)
}

// acquire waits for a slot; the caller sends its call, observes the answer
// and then releases the slot.
func (p *pacer) acquire(ctx context.Context) error {
	for {
		p.mu.Lock()
		if p.inflight < p.limitLocked() {
			p.inflight++
			p.peak = max(p.peak, p.inflight)
			if p.inflight >= int(p.window) {
				p.fullAt = p.now()
			}
			p.mu.Unlock()
			return nil
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *pacer) release() {
	p.mu.Lock()
	p.inflight--
	p.signalLocked()
	p.mu.Unlock()
}

func (p *pacer) signalLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// observe learns from one answer: the call was sent at sent and answered
// (or failed) after took. A nil pacer (a single document: a push, a
// manual retry) learns nothing.
func (p *pacer) observe(sent time.Time, took time.Duration, err error) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	switch {
	case err != nil && strained(err):
	case err != nil:
		return // about the document (not a PDF, an expired link, ...), not the platform's load
	default:
		if p.fastest == 0 || took < p.fastest || now.Sub(p.fastestAt) > paceMemory {
			p.fastest, p.fastestAt = took, now
		}
		if took <= 2*p.fastest+paceSlack {
			p.growLocked(sent)
			return
		}
	}
	if sent.Before(p.cutAt) {
		return // sent before the last cut: the cut already answered it
	}
	p.window = math.Max(1, p.window/2)
	p.low = math.Min(p.low, p.window)
	p.slowStart = false
	p.cutAt = now
	p.cuts++
}

// growLocked widens the window after a fast answer to a call sent at
// sent, when the window was full since: a window that is not used proves
// nothing about a wider one. (Asking whether it is full now would not do:
// the answers of a round come before their slots are taken again.)
func (p *pacer) growLocked(sent time.Time) {
	if p.fullAt.Before(sent) || p.window >= float64(p.max) {
		return
	}
	if p.slowStart {
		p.window++
	} else {
		p.window += 1 / p.window
	}
	p.window = math.Min(p.window, float64(p.max))
	p.signalLocked()
}

// strained reports whether err is the platform saying it is overloaded or
// not keeping up, rather than something about one document.
func strained(err error) bool {
	switch clinicsync.ErrorCode(err) {
	case clinicsync.ERateLimited, clinicsync.EUnavailable:
		return true
	}
	return false
}

// paceStats is what a pacer did, for the debug log and tests.
type paceStats struct {
	Window float64 // the window now
	Peak   int     // the most calls in flight at once
	Cuts   int     // times the window was halved
	Low    float64 // the narrowest the window was
}

func (p *pacer) stats() paceStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return paceStats{Window: p.window, Peak: p.peak, Cuts: p.cuts, Low: p.low}
}

// paceStats returns what the last pass's pacers did: downloads, then
// confirmations.
func (e *Engine) paceStats() (down, conf paceStats) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastPace[0], e.lastPace[1]
}
