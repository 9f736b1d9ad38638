package engine

import (
	"math/rand/v2"
	"time"
)

// backoff is the delay before automatic attempt n+1: base doubling per
// attempt, capped, with ±20 % jitter, and never shorter than the server's
// Retry-After.
func (e *Engine) backoff(attempts int, after time.Duration) time.Duration {
	d := e.Config().BackoffBase
	for i := 0; i < attempts && d < e.Config().BackoffMax; i++ {
		d *= 2
	}
	d = min(d, e.Config().BackoffMax)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return max(d, after)
}
