package engine

import "github.com/clinicsync/clinicsync"

// The engine's retry policies, from its Config. Whether an error is
// retried at all is on the error (clinicsync.IsRetryable, IsFatal).

// spread is the jitter of the engine's automatic retries: ±20 %, so that
// the clinics that failed together do not come back together.
var spread = clinicsync.Jitter{Min: 0.8, Max: 1.2}

// docRetry is the automatic retry of a failed document: BackoffBase (30 s)
// doubling per attempt up to BackoffMax (30 min), jittered, and never
// before the server's Retry-After.
func (c Config) docRetry() clinicsync.RetryPolicy {
	return clinicsync.RetryPolicy{Base: c.BackoffBase, Max: c.BackoffMax, Jitter: spread}
}

// quickRetry is the one quick retry, inside the pass, of a document's
// transient failure, QuickRetryDelay after it (none when that is
// negative): it smooths over a dropped connection before the document is
// called failed and the platform is told.
func (c Config) quickRetry() clinicsync.RetryPolicy {
	p := clinicsync.RetryPolicy{Base: c.QuickRetryDelay, Attempts: 2}
	if c.QuickRetryDelay <= 0 {
		p.Attempts = 1
	}
	return p
}

// passRetry is the run loop's wait after failed passes in a row: twice
// the poll interval, doubling up to 8 times it, jittered, and never before
// the server's Retry-After.
func (c Config) passRetry() clinicsync.RetryPolicy {
	return clinicsync.RetryPolicy{Base: 2 * c.PollInterval, Max: 8 * c.PollInterval, Jitter: spread}
}
