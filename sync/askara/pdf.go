package askara

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clinicsync/clinicsync"
)

// OpenPDF starts the download of a pre-signed link. The request carries no
// Authorization header (the link may point at another host). Transient
// failures are retried until the body starts; after that, a read error or
// a read that receives nothing for StallAfter gives a retryable
// EUnavailable ("The download was interrupted."). 401, 403, 410 (and 400,
// the answer of some object stores to a spoiled signature) give a retryable
// ELinkExpired, 404 a permanent ENotFound. The caller closes the body.
func (c *Client) OpenPDF(ctx context.Context, link string) (io.ReadCloser, error) {
	u, err := url.Parse(strings.TrimSpace(link))
	if link == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, clinicsync.Errorf(clinicsync.EInvalid, msgBadLink)
	}
	u.User = nil
	for attempt := 1; ; attempt++ {
		body, e, ra := c.openOnce(ctx, u)
		if e == nil {
			return body, nil
		}
		if !e.Retryable || e.Fatal() || e.Code == clinicsync.ELinkExpired || !c.retry.Again(attempt) {
			return nil, e
		}
		if !c.retry.WaitsOut(ra) {
			e.RetryAfter = ra
			return nil, e
		}
		d := c.retry.Delay(attempt-1, ra)
		c.nRetries.Add(1)
		if err := c.sleep(ctx, d); err != nil {
			return nil, canceled(err)
		}
	}
}

func (c *Client) openOnce(ctx context.Context, u *url.URL) (io.ReadCloser, *clinicsync.Error, time.Duration) {
	if err := ctx.Err(); err != nil {
		return nil, canceled(err), 0
	}
	rctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, clinicsync.Errorf(clinicsync.EInvalid, msgBadLink), 0
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "application/pdf, */*")
	c.nDownload.Add(1)
	resp, err := c.files.Do(req)
	if err != nil {
		cancel()
		e := transportError(ctx, err, u, true)
		c.log.Debug("pdf download failed", "host", u.Host, "code", e.Code)
		return nil, e, 0
	}
	c.log.Debug("pdf download", "host", u.Host, "status", resp.StatusCode, "length", resp.ContentLength)
	st := resp.StatusCode
	if st >= 200 && st <= 299 {
		return c.watch(ctx, resp.Body, cancel, msgInterrupted), nil, 0
	}
	drain(resp.Body)
	cancel()
	he := &HTTPError{Status: st}
	switch {
	case st == http.StatusUnauthorized || st == http.StatusForbidden || st == http.StatusGone || st == http.StatusBadRequest:
		return nil, clinicsync.Retryable(clinicsync.ELinkExpired, msgLinkExpired, he), 0
	case st == http.StatusNotFound:
		return nil, clinicsync.Permanent(clinicsync.ENotFound, msgPDFMissing, he), 0
	case st == http.StatusTooManyRequests:
		c.n429.Add(1)
		ra := throttleWait(resp.Header, c.now())
		return nil, &clinicsync.Error{Code: clinicsync.ERateLimited, Retryable: true, Err: he,
			Message: "The file server asked Clinic Sync to slow down."}, ra
	case st == http.StatusRequestTimeout || st == http.StatusTooEarly || st >= 500:
		return nil, clinicsync.Retryable(clinicsync.EUnavailable,
			fmt.Sprintf("The file server is temporarily unavailable (HTTP %d).", st), he), retryAfter(resp.Header, c.now())
	}
	return nil, clinicsync.Permanent(clinicsync.EInvalid,
		fmt.Sprintf("The file server refused the download (HTTP %d).", st), he), 0
}

// ErrStalled is the underlying error of a read that received nothing for
// the stall timeout.
var ErrStalled = errors.New("no data received within the stall timeout")

// stallReader fails a Read blocked longer than the stall timeout (it
// cancels the request) and maps read errors to the project's error.
type stallReader struct {
	body     io.ReadCloser
	stallMsg string
	ctx      context.Context // the caller's
	cancel   context.CancelFunc
	timer    *time.Timer
	stall    time.Duration
	msg      string
	stalled  atomic.Bool
	once     sync.Once
}

// watch wraps a response body. cancel must cancel the request's context.
func (c *Client) watch(ctx context.Context, body io.ReadCloser, cancel context.CancelFunc, msg string) *stallReader {
	r := &stallReader{body: body, ctx: ctx, cancel: cancel, stall: c.stall, msg: msg, stallMsg: msgStalled}
	if msg == msgAPIInterrupted {
		r.stallMsg = msgAPIStalled
	}
	r.timer = time.AfterFunc(time.Hour, func() {
		r.stalled.Store(true)
		cancel()
	})
	r.timer.Stop()
	return r
}

func (r *stallReader) Read(p []byte) (int, error) {
	if r.stalled.Load() {
		return 0, clinicsync.Retryable(clinicsync.EUnavailable, r.stallMsg, ErrStalled)
	}
	r.timer.Reset(r.stall)
	n, err := r.body.Read(p)
	r.timer.Stop()
	if err == nil || err == io.EOF {
		return n, err
	}
	switch {
	case r.stalled.Load():
		return n, clinicsync.Retryable(clinicsync.EUnavailable, r.stallMsg, ErrStalled)
	case r.ctx.Err() != nil:
		return n, canceled(r.ctx.Err())
	}
	return n, clinicsync.Retryable(clinicsync.EUnavailable, r.msg, redactErr(err))
}

func (r *stallReader) Close() error {
	r.once.Do(func() {
		r.timer.Stop()
		r.cancel()
		_ = r.body.Close()
	})
	return nil
}
