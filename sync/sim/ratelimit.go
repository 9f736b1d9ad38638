package sim

import "time"

// bucket is Askara's per-application token bucket: limit tokens, refill
// tokens added every period, counted from the server's creation. It is
// advanced lazily from the clock, so a fake clock drives it.
type bucket struct {
	limit, refill int
	every         time.Duration
	tokens        int
	last          time.Time // the last refill boundary
}

func newBucket(limit, refill int, every time.Duration, now time.Time) bucket {
	return bucket{limit: limit, refill: refill, every: every, tokens: limit, last: now}
}

func (b *bucket) advance(now time.Time) {
	if !now.After(b.last) {
		return
	}
	n := int64(now.Sub(b.last) / b.every)
	if n <= 0 {
		return
	}
	if n >= int64(b.limit) || int64(b.tokens)+n*int64(b.refill) >= int64(b.limit) {
		b.tokens = b.limit
	} else {
		b.tokens += int(n) * b.refill
	}
	b.last = b.last.Add(time.Duration(n) * b.every)
}

// take consumes one token if there is one.
func (b *bucket) take(now time.Time) bool {
	b.advance(now)
	if b.tokens <= 0 {
		return false
	}
	b.tokens--
	return true
}

// reset is when the next refill happens.
func (b *bucket) reset() time.Time { return b.last.Add(b.every) }
