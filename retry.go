package clinicsync

import (
	"math"
	"math/rand/v2"
	"time"
)

// RetryPolicy is how an operation that failed transiently is tried again:
// the one calculator (rclone's pacer) behind the Askara client's retries
// of a request and its 429 waits, the engine's quick in-pass retry, the
// automatic retry of a failed document and the run loop's wait after a
// failed pass. Whether an error may be retried at all is on the error
// (Error.Retryable, Error.Fatal); a policy says when and how often.
type RetryPolicy struct {
	Base time.Duration // the delay before the first retry
	Max  time.Duration // the doubling stops at Max (before jitter); 0: no cap
	// Jitter spreads the delays of many clients that failed together.
	Jitter Jitter
	// Attempts is how many attempts are made in all, the first included;
	// 0: no limit.
	Attempts int
	// MaxRetryAfter is the longest wait a server may ask for (Retry-After)
	// that is still waited out where the retry loop runs; a longer one ends
	// the loop and travels on the error (Error.RetryAfter) to whoever
	// schedules the next try. 0: every wait is waited out.
	MaxRetryAfter time.Duration
}

// Jitter multiplies each delay by a factor drawn uniformly from [Min, Max]:
// {0.5, 1} is "between half and all of it", {0.8, 1.2} is ±20 %. The zero
// value leaves delays exact.
type Jitter struct{ Min, Max float64 }

// Delay is the wait before the next attempt when retries have already
// been made (0 before the first retry): Base doubled retries times, capped
// at Max, jittered, and never shorter than after, the wait the server
// asked for (0: none).
func (p RetryPolicy) Delay(retries int, after time.Duration) time.Duration {
	d := p.Base
	for i := 0; i < retries && (p.Max <= 0 || d < p.Max) && d < math.MaxInt64/2; i++ {
		d *= 2
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	return max(p.Jitter.apply(d), after)
}

func (j Jitter) apply(d time.Duration) time.Duration {
	if j == (Jitter{}) || d <= 0 {
		return d
	}
	lo, hi := time.Duration(float64(d)*j.Min), time.Duration(float64(d)*j.Max)
	if hi < lo {
		lo, hi = hi, lo
	}
	return lo + rand.N(hi-lo+1)
}

// Again reports whether attempt (1 for the first) may be followed by
// another.
func (p RetryPolicy) Again(attempt int) bool { return p.Attempts <= 0 || attempt < p.Attempts }

// WaitsOut reports whether a wait the server asked for is waited out where
// the retry loop runs (see MaxRetryAfter).
func (p RetryPolicy) WaitsOut(after time.Duration) bool {
	return p.MaxRetryAfter <= 0 || after <= p.MaxRetryAfter
}
