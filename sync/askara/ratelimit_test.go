package askara

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

func Test429HonoursRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header func(h http.Header, now time.Time)
		want   time.Duration
	}{
		{"seconds", func(h http.Header, _ time.Time) { h.Set("Retry-After", "7") }, 7 * time.Second},
		{"http-date", func(h http.Header, now time.Time) {
			h.Set("Retry-After", now.Add(2*time.Minute).UTC().Format(http.TimeFormat))
		}, 2 * time.Minute},
		{"x-ratelimit-reset", func(h http.Header, now time.Time) {
			h.Set("x-ratelimit-limit", "5000")
			h.Set("x-ratelimit-remaining", "0")
			h.Set("x-ratelimit-reset", strconv.FormatInt(now.Add(40*time.Second).Unix(), 10))
		}, 41 * time.Second}, // the reset second plus a one-second margin
		{"nothing", func(http.Header, time.Time) {}, defaultRetryAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			clock := newFakeClock()
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					tc.header(w.Header(), clock.Now())
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				fmt.Fprint(w, `[]`)
			}))
			defer ts.Close()
			c, _, _ := newTestClient(t, ts.URL, func(o *Options) { o.Now, o.Sleep = clock.Now, clock.Sleep })
			if _, err := c.ListUnsynchronized(context.Background()); err != nil {
				t.Fatal(err)
			}
			s := c.Stats()
			if got := clock.Sleeps(); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("slept %v, want [%v]", got, tc.want)
			}
			if s.Throttled429 != 1 || s.RateLimitWaits != 1 || s.APIRequests != 2 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func Test429TooLongIsReturnedNotSlept(t *testing.T) {
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer ts.Close()
	c, clock, _ := newTestClient(t, ts.URL, nil)
	err := c.SetStatus(context.Background(), "d", clinicsync.Status{Success: true})
	var e *clinicsync.Error
	if !errors.As(err, &e) || e.Code != clinicsync.ERateLimited || !e.Retryable || e.RetryAfter != time.Hour {
		t.Fatalf("%+v", err)
	}
	if e.Message != "Askara asked Clinic Sync to slow down; syncing resumes in about 60 minutes." {
		t.Fatalf("message %q", e.Message)
	}
	if n.Load() != 1 || len(clock.Sleeps()) != 0 {
		t.Fatalf("%d requests, sleeps %v", n.Load(), clock.Sleeps())
	}
	// Every other call is held too, and says when it can go.
	_, err = c.GetDocument(context.Background(), "d")
	if !errors.As(err, &e) || e.Code != clinicsync.ERateLimited || e.RetryAfter != time.Hour || n.Load() != 1 {
		t.Fatalf("second call: %v after %d requests", err, n.Load())
	}
}

func Test429PersistentGivesUpAfterMaxAttempts(t *testing.T) {
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer ts.Close()
	c, clock, _ := newTestClient(t, ts.URL, nil)
	_, err := c.ListUnsynchronized(context.Background())
	if ok, after := clinicsync.IsRetryable(err); clinicsync.ErrorCode(err) != clinicsync.ERateLimited || !ok || after != 5*time.Second {
		t.Fatalf("%v", err)
	}
	if n.Load() != 4 || len(clock.Sleeps()) != 3 || c.Stats().Throttled429 != 4 {
		t.Fatalf("%d requests, sleeps %v, stats %+v", n.Load(), clock.Sleeps(), c.Stats())
	}
}

// A 429 on one call holds the next call of any goroutine until it ends.
func Test429HoldsOtherCalls(t *testing.T) {
	var n atomic.Int32
	clock := newFakeClock()
	var sentAt sync.Map
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		sentAt.Store(k, clock.Now())
		if k == 1 {
			w.Header().Set("Retry-After", "90")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ts.Close()
	c, _, _ := newTestClient(t, ts.URL, func(o *Options) { o.MaxAttempts = 1; o.Now, o.Sleep = clock.Now, clock.Sleep })
	start := clock.Now()
	if err := c.SetStatus(context.Background(), "a", clinicsync.Status{Success: true}); clinicsync.ErrorCode(err) != clinicsync.ERateLimited {
		t.Fatalf("first call: %v", err)
	}
	if err := c.SetStatus(context.Background(), "b", clinicsync.Status{Success: true}); err != nil {
		t.Fatal(err)
	}
	at, _ := sentAt.Load(int32(2))
	if d := at.(time.Time).Sub(start); d < 90*time.Second {
		t.Fatalf("the second call went %v after the 429, want 90 s", d)
	}
}

// bucketServer is Askara's token bucket: limit tokens, refill added every
// period, driven by the fake clock; an empty bucket answers 429. reset is
// the next refill instant in epoch seconds (rounded down), or in seconds
// from now when delta is set.
type bucketServer struct {
	*httptest.Server
	mu                   sync.Mutex
	clock                *fakeClock
	tokens, limit        int
	refill               int
	every                time.Duration
	last                 time.Time
	delta                bool
	served, over, minRem int
}

func newBucketServer(t *testing.T, clock *fakeClock, limit, start, refill int, every time.Duration, delta bool) *bucketServer {
	b := &bucketServer{clock: clock, tokens: start, limit: limit, refill: refill, every: every, last: clock.Now(),
		delta: delta, minRem: start}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	return b
}

func (b *bucketServer) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	for now.Sub(b.last) >= b.every {
		b.tokens = min(b.limit, b.tokens+b.refill)
		b.last = b.last.Add(b.every)
	}
	reset := b.last.Add(b.every)
	h := w.Header()
	h.Set("x-ratelimit-limit", strconv.Itoa(b.limit))
	if b.delta {
		h.Set("x-ratelimit-reset", strconv.FormatInt(int64(math.Ceil(reset.Sub(now).Seconds())), 10))
	} else {
		h.Set("x-ratelimit-reset", strconv.FormatInt(reset.Unix(), 10))
	}
	if b.tokens == 0 {
		b.over++
		h.Set("x-ratelimit-remaining", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	b.tokens--
	b.served++
	b.minRem = min(b.minRem, b.tokens)
	h.Set("x-ratelimit-remaining", strconv.Itoa(b.tokens))
	if r.URL.Path == "/documents" {
		fmt.Fprint(w, `{"hydra:member":[]}`)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (b *bucketServer) counts() (served, over int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.served, b.over
}

func TestPacingWaitsWhenRemainingIsLow(t *testing.T) {
	clock := newFakeClock()
	// A big bucket nearly spent: 15 left, 500 back every 15 minutes.
	b := newBucketServer(t, clock, 5000, 15, 500, 15*time.Minute, false)
	c, _, _ := newTestClient(t, b.URL, func(o *Options) { o.Now, o.Sleep = clock.Now, clock.Sleep })
	start := clock.Now()
	for i := range 20 {
		if err := c.SetStatus(context.Background(), fmt.Sprint("d", i), clinicsync.Status{Success: true}); err != nil {
			t.Fatal(err)
		}
	}
	served, over := b.counts()
	sleeps := clock.Sleeps()
	if over != 0 || served != 20 || c.Stats().Throttled429 != 0 {
		t.Fatalf("served %d, 429s %d", served, over)
	}
	if len(sleeps) == 0 || c.Stats().RateLimitWaits != int64(len(sleeps)) {
		t.Fatalf("sleeps %v, stats %+v", sleeps, c.Stats())
	}
	// After the first answer (14 left, reset in 15 min) the client spaces
	// its requests so the 14 last until the reset: about 64 s apart.
	if sleeps[0] < 60*time.Second || sleeps[0] > 70*time.Second {
		t.Fatalf("first pacing wait %v, want about 64 s (sleeps %v)", sleeps[0], sleeps)
	}
	// The 16th request needs the refill.
	if el := clock.Now().Sub(start); el < 15*time.Minute {
		t.Fatalf("20 requests from a bucket of 15 took only %v", el)
	}
}

func TestPacingStaysQuietWithAFullBucket(t *testing.T) {
	clock := newFakeClock()
	b := newBucketServer(t, clock, 5000, 5000, 500, 15*time.Minute, false)
	c, _, _ := newTestClient(t, b.URL, func(o *Options) { o.Now, o.Sleep = clock.Now, clock.Sleep })
	for i := range 50 {
		if err := c.SetStatus(context.Background(), fmt.Sprint("d", i), clinicsync.Status{Success: true}); err != nil {
			t.Fatal(err)
		}
	}
	if s := clock.Sleeps(); len(s) != 0 {
		t.Fatalf("slept %v with 4950 requests left", s)
	}
	if s := c.Stats(); s.RateLimit != 5000 || s.RateLimitRemaining != 4950 || s.RateLimitReset.IsZero() {
		t.Fatalf("stats %+v", s)
	}
}

// A bucket of 25 refilled honestly by 5 every 10 s never answers 429 to a
// client that sends 8 times as many requests, sequentially or from 8
// goroutines at once.
func TestHonestBucketNeverThrottles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		delta   bool
	}{
		{"sequential", 1, false},
		{"sequential delta reset", 1, true},
		{"concurrent", 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			b := newBucketServer(t, clock, 25, 25, 5, 10*time.Second, tc.delta)
			c, _, _ := newTestClient(t, b.URL, func(o *Options) { o.Now, o.Sleep = clock.Now, clock.Sleep })
			const total = 200
			var wg sync.WaitGroup
			var next atomic.Int32
			errs := make(chan error, total)
			for range tc.workers {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > total {
							return
						}
						var err error
						if i%5 == 0 {
							_, err = c.ListUnsynchronized(context.Background())
						} else {
							err = c.SetStatus(context.Background(), fmt.Sprint("d", i), clinicsync.Status{Success: true})
						}
						if err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			served, over := b.counts()
			if over != 0 || c.Stats().Throttled429 != 0 {
				t.Fatalf("%d requests met an empty bucket", over)
			}
			if served != total || c.Stats().APIRequests != total || c.Stats().RateLimitWaits == 0 {
				t.Fatalf("served %d, stats %+v", served, c.Stats())
			}
		})
	}
}

func TestParseRateHeaders(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	if _, _, _, ok := parseRateHeaders(h, now); ok {
		t.Fatal("no headers parsed as ok")
	}
	h.Set("X-RateLimit-Limit", "10000")
	h.Set("X-RateLimit-Remaining", "42")
	h.Set("X-RateLimit-Reset", "1800000300")
	l, r, reset, ok := parseRateHeaders(h, now)
	if !ok || l != 10000 || r != 42 || !reset.Equal(now.Add(301*time.Second)) {
		t.Fatalf("%d %d %v %v", l, r, reset, ok)
	}
	h.Set("X-RateLimit-Reset", "120") // seconds from now
	if _, _, reset, _ = parseRateHeaders(h, now); !reset.Equal(now.Add(121 * time.Second)) {
		t.Fatalf("delta reset %v", reset)
	}
	for _, bad := range []string{"-1", "soon", "NaN", "1e300"} {
		h.Set("X-RateLimit-Reset", bad)
		if _, _, _, ok := parseRateHeaders(h, now); ok {
			t.Fatalf("reset %q accepted", bad)
		}
	}
	if d := retryAfter(http.Header{"Retry-After": {"-5"}}, now); d != 0 {
		t.Fatalf("negative Retry-After gave %v", d)
	}
}
