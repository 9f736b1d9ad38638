package askara

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Backoff between attempts of one call: 250 ms doubling to 4 s, jittered
// to between half and all of it.
const (
	backoffBase = 250 * time.Millisecond
	backoffMax  = 4 * time.Second
	// maxInlineRetryAfter is the longest Retry-After of a 5xx (or of a
	// file host's 429) slept inside a call; longer ones are returned.
	maxInlineRetryAfter = time.Minute
)

// retryPolicy is how one call (an API request, the start of a download)
// is tried again after a transient failure, in attempts in all.
func retryPolicy(attempts int) clinicsync.RetryPolicy {
	return clinicsync.RetryPolicy{Base: backoffBase, Max: backoffMax, Jitter: clinicsync.Jitter{Min: 0.5, Max: 1},
		Attempts: attempts, MaxRetryAfter: maxInlineRetryAfter}
}

// throttlePolicy is how a call waits for the rate limit (a 429, an empty
// bucket): the server's wait, no backoff of its own, up to maxWait, in
// attempts in all.
func throttlePolicy(attempts int, maxWait time.Duration) clinicsync.RetryPolicy {
	return clinicsync.RetryPolicy{Attempts: attempts, MaxRetryAfter: maxWait}
}

// call is one API request.
type call struct {
	method string
	url    *url.URL
	body   []byte // JSON, for POST
	op     op     // what is asked, for the error sentences
	// parse reads a 2xx body; an error makes the answer an EBadResponse
	// (retried). nil ignores the body.
	parse func([]byte) error
}

var errTooLarge = errors.New("response body over the size limit")

// do sends c with pacing, retries and classification.
func (c *Client) do(ctx context.Context, cl call) error {
	refreshed := false
	var floor time.Time // after a 429 wait: the clock is at least here
	for attempt := 1; ; attempt++ {
		e, tok, resp := c.once(ctx, cl, floor)
		if e == nil {
			return nil
		}
		switch {
		case resp != nil && resp.StatusCode == http.StatusUnauthorized && !refreshed:
			// The token may have been rotated meanwhile: one more try if the
			// source now gives another one.
			refreshed = true
			c.invalidate(tok)
			t, err := c.token()
			if err != nil {
				return err // e.g. the refresh was refused: signed out
			}
			if t != tok {
				c.nRetries.Add(1)
				attempt--
				continue
			}
			return e
		case e.Fatal():
			return e
		case resp == nil && e.Code == clinicsync.ERateLimited: // a wait too long to sleep here
			return e
		case !e.Retryable:
			return e
		}
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
			c.n429.Add(1)
			now := c.now()
			d := throttleWait(resp.Header, now)
			e.RetryAfter = d
			c.limit.block(now.Add(d)) // every other caller waits too
			if !c.throttle.Again(attempt) || !c.throttle.WaitsOut(d) {
				return rateLimited(d, e.Err)
			}
			c.nRetries.Add(1)
			c.nWaits.Add(1)
			c.log.Debug("askara rate limit wait", "wait", d.Round(time.Millisecond), "reason", "429")
			if err := c.sleep(ctx, d); err != nil {
				return canceled(err)
			}
			floor = now.Add(d)
			continue
		}
		if !c.retry.Again(attempt) {
			return e
		}
		var ra time.Duration
		if resp != nil {
			ra = retryAfter(resp.Header, c.now())
		}
		if !c.retry.WaitsOut(ra) {
			e.RetryAfter = ra
			return e
		}
		d := c.retry.Delay(attempt-1, ra)
		c.nRetries.Add(1)
		if err := c.sleep(ctx, d); err != nil {
			return canceled(err)
		}
	}
}

// once sends one attempt. It returns the response (body consumed) when
// there was one, and the token it used.
func (c *Client) once(ctx context.Context, cl call, floor time.Time) (*clinicsync.Error, string, *http.Response) {
	if err := ctx.Err(); err != nil {
		return canceled(err), "", nil
	}
	tok, err := c.token()
	if err != nil {
		return err.(*clinicsync.Error), "", nil
	}
	if err := c.acquire(ctx, floor); err != nil {
		return err.(*clinicsync.Error), tok, nil
	}
	var rd io.Reader
	if cl.body != nil {
		rd = bytes.NewReader(cl.body)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, cl.method, cl.url.String(), rd)
	if err != nil {
		c.limit.done(nil, c.now())
		return clinicsync.Permanent(clinicsync.EInternal, "The request to Askara could not be built.", nil), tok, nil
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/ld+json, application/json")
	req.Header.Set("User-Agent", c.ua)
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
		if cl.method == http.MethodPatch { // API Platform's PATCH format
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
	}
	start := time.Now()
	c.nRequests.Add(1)
	resp, err := c.api.Do(req)
	if err != nil {
		c.limit.done(nil, c.now())
		e := transportError(ctx, err, cl.url, false)
		c.log.Debug("askara request failed", "method", cl.method, "path", cl.url.Path,
			"page", cl.url.Query().Get("page"), "code", e.Code)
		return e, tok, nil
	}
	c.limit.done(resp.Header, c.now())
	body, rerr := readBounded(c.watch(ctx, resp.Body, cancel, msgAPIInterrupted), MaxBodyBytes)
	_ = resp.Body.Close()
	c.log.Debug("askara request", "method", cl.method, "path", cl.url.Path,
		"page", cl.url.Query().Get("page"), "status", resp.StatusCode,
		"duration", time.Since(start).Round(time.Millisecond))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return classify(resp.StatusCode, body, cl.op, cl.url, tok), tok, resp
	}
	switch {
	case errors.Is(rerr, errTooLarge):
		return clinicsync.Permanent(clinicsync.EBadResponse, msgTooLarge, rerr), tok, resp
	case rerr != nil:
		var ce *clinicsync.Error
		if errors.As(rerr, &ce) {
			return ce, tok, resp
		}
		return clinicsync.Retryable(clinicsync.EUnavailable, msgAPIInterrupted, rerr), tok, resp
	}
	if cl.parse != nil {
		if err := cl.parse(body); err != nil {
			var ce *clinicsync.Error
			if errors.As(err, &ce) {
				return ce, tok, resp
			}
			return clinicsync.Retryable(clinicsync.EBadResponse, msgBadResponse, err), tok, resp
		}
	}
	return nil, tok, resp
}

// readBounded reads r up to limit bytes; more is errTooLarge. The error
// of a failed read is returned with what was read.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}
