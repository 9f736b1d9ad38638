package askara

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clinicsync/clinicsync"
)

// resetMargin is added to x-ratelimit-reset: the header has a one-second
// resolution (a server rounding the refill instant down would otherwise be
// asked one second early).
const resetMargin = time.Second

// defaultRetryAfter is the wait after a 429 that says nothing about when.
const defaultRetryAfter = 30 * time.Second

// limiter paces API requests by the x-ratelimit-* headers, shared by every
// goroutine using one Client.
//
// The model: remaining is the lowest count the server reported for the
// current window (the window is identified by its reset instant); inflight
// counts requests sent whose response has not been seen yet, so
// remaining-inflight is what can still be spent. Under a reserve
// (max(10, 2% of the limit)) requests are spaced so the rest lasts until the
// reset; at zero the client waits for the reset. Past the reset the server
// has refilled by an amount it did not say: when little was left, one probe
// request at a time learns the new state. The very first request is also a
// lone probe, so a concurrent start cannot overrun a small bucket.
type limiter struct {
	mu       sync.Mutex
	probed   bool // a response (with or without headers) has been seen
	known    bool // the headers were readable at least once
	limit    int
	remain   int
	reset    time.Time // local instant of the refill, margin included
	inflight int
	lastSend time.Time
	blocked  time.Time     // no request before this (after a 429)
	changed  chan struct{} // closed and replaced after every response
}

func newLimiter() *limiter { return &limiter{changed: make(chan struct{})} }

func (l *limiter) reserve() int { return max(10, l.limit/50) }

// plan decides, under the lock, whether a request may go at now. It returns
// a duration to sleep, or a channel to wait on for the next response, or
// neither (and then counts the request in flight).
func (l *limiter) plan(now time.Time) (time.Duration, <-chan struct{}) {
	if now.Before(l.blocked) {
		return l.blocked.Sub(now), nil
	}
	if !l.probed && l.inflight > 0 {
		return 0, l.changed
	}
	if l.known {
		avail := l.remain - l.inflight
		switch {
		case !now.Before(l.reset): // refilled since; by how much is unknown
			if avail <= l.reserve() && l.inflight > 0 {
				return 0, l.changed
			}
		case avail <= 0:
			return l.reset.Sub(now), nil
		case avail <= l.reserve():
			gap := l.reset.Sub(now) / time.Duration(avail)
			if next := l.lastSend.Add(gap); now.Before(next) {
				return next.Sub(now), nil
			}
		}
	}
	l.inflight++
	l.lastSend = now
	return 0, nil
}

// done records the response of a request plan let go; h is nil when the
// request failed without a response.
func (l *limiter) done(h http.Header, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	l.probed = true
	limit, remain, reset, ok := parseRateHeaders(h, now)
	switch {
	case ok && (!l.known || reset.After(l.reset)): // a newer window
		l.known, l.limit, l.remain, l.reset = true, limit, remain, reset
	case ok && reset.Equal(l.reset):
		l.remain = min(l.remain, remain)
		l.limit = limit
	case !ok && l.known:
		// No headers (a proxy's error page, a broken connection): assume the
		// request was counted all the same.
		l.remain--
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// block stops every request until t.
func (l *limiter) block(t time.Time) {
	l.mu.Lock()
	if t.After(l.blocked) {
		l.blocked = t
	}
	l.mu.Unlock()
}

func (l *limiter) snapshot() (limit, remaining int, reset time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known {
		return 0, 0, time.Time{}
	}
	return l.limit, l.remain, l.reset.Add(-resetMargin)
}

// RequestBudget is how many more API requests may go now without the rate
// limit's pacing: what the server said remains of its window, less the
// requests in flight and the reserve (at least 0); -1 while the server has
// not said, or its window has passed. The engine keeps the confirmations
// it has in flight within it.
func (c *Client) RequestBudget() int {
	l := c.limit
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known || !c.now().Before(l.reset) {
		return -1
	}
	return max(0, l.remain-l.inflight-l.reserve())
}

// acquire waits until the rate limit lets one more API request go. A wait
// longer than MaxWait is not slept: it returns a retryable ERateLimited.
// floor is a time the clock has certainly reached (the end of a wait the
// caller slept), for clocks that lag behind sleeps.
func (c *Client) acquire(ctx context.Context, floor time.Time) error {
	for {
		now := c.now()
		if now.Before(floor) {
			now = floor
		}
		c.limit.mu.Lock()
		d, ch := c.limit.plan(now)
		c.limit.mu.Unlock()
		switch {
		case ch != nil:
			select {
			case <-ch:
			case <-ctx.Done():
				return canceled(ctx.Err())
			}
			continue
		case d <= 0:
			return nil
		case !c.throttle.WaitsOut(d):
			return rateLimited(d, nil)
		}
		c.nWaits.Add(1)
		c.log.Debug("askara rate limit wait", "wait", d.Round(time.Millisecond), "reason", "pacing")
		if err := c.sleep(ctx, d); err != nil {
			return canceled(err)
		}
		floor = now.Add(d)
	}
}

// rateLimited is the error of a wait too long to sleep inside a call.
func rateLimited(d time.Duration, err error) *clinicsync.Error {
	when := "in a moment"
	if m := int(math.Ceil(d.Minutes())); d >= time.Minute {
		when = fmt.Sprintf("in about %d minutes", m)
		if m == 1 {
			when = "in about a minute"
		}
	}
	return &clinicsync.Error{Code: clinicsync.ERateLimited, Retryable: true, RetryAfter: d, Err: err,
		Message: "Askara asked Clinic Sync to slow down; syncing resumes " + when + "."}
}

// parseRateHeaders reads x-ratelimit-limit, -remaining and -reset. reset is
// epoch seconds; a small value (before 2001) is taken as seconds from now,
// as some servers send it. ok is false when remaining or reset is missing
// or unreadable.
func parseRateHeaders(h http.Header, now time.Time) (limit, remaining int, reset time.Time, ok bool) {
	if h == nil {
		return 0, 0, time.Time{}, false
	}
	rem, err1 := strconv.ParseInt(strings.TrimSpace(h.Get("X-Ratelimit-Remaining")), 10, 64)
	rst, err2 := strconv.ParseFloat(strings.TrimSpace(h.Get("X-Ratelimit-Reset")), 64)
	if err1 != nil || err2 != nil || rem < 0 || math.IsNaN(rst) || rst < 0 || rst > 1e11 {
		return 0, 0, time.Time{}, false
	}
	lim, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Ratelimit-Limit")), 10, 64)
	if err != nil || lim < 0 {
		lim = 0
	}
	const maxCount = 1 << 30
	remaining, limit = int(min(rem, maxCount)), int(min(lim, maxCount))
	if rst < 1e9 {
		reset = now.Add(time.Duration(rst * float64(time.Second)))
	} else {
		sec, frac := math.Modf(rst)
		reset = time.Unix(int64(sec), int64(frac*1e9))
	}
	return limit, remaining, reset.Add(resetMargin), true
}

// retryAfter reads Retry-After (seconds or an HTTP-date); 0 when absent.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 7*24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			return 0
		}
		return min(d, 7*24*time.Hour)
	}
	return 0
}

// throttleWait is how long to hold every request after a 429: Retry-After,
// else x-ratelimit-reset, else a default; at least a second.
func throttleWait(h http.Header, now time.Time) time.Duration {
	d := retryAfter(h, now)
	if d == 0 {
		if _, _, reset, ok := parseRateHeaders(h, now); ok {
			d = reset.Sub(now)
		}
	}
	if d <= 0 {
		d = defaultRetryAfter
	}
	return max(d, time.Second)
}
