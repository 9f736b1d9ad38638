// Package askara is the client of the Askara API as Clinic Sync uses it:
// the list of documents not yet synchronized, one document, the status
// report, and the download of a pre-signed PDF link. It implements
// clinicsync.Remote.
//
// Every call paces itself by the x-ratelimit-* headers the API sends, retries
// transient failures with capped, jittered backoff, and classifies what goes
// wrong into a *clinicsync.Error in one place (errors.go). The access token
// is sent only to the API's own origin, never to the host of a PDF link, and
// neither the token nor the query string of a pre-signed link ever appears
// in an error or a log line.
package askara

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/netclient"
	"github.com/clinicsync/clinicsync/sync/wire"
)

// Defaults of Options.
const (
	DefaultPageSize    = 100
	MaxPageSize        = 100
	DefaultMaxAttempts = 4
	DefaultStallAfter  = 60 * time.Second
	// DefaultMaxWait is the longest single wait for the rate limit inside a
	// call: a little over the bucket's 15-minute refill period, so a call
	// that finds the bucket empty waits for the next refill.
	DefaultMaxWait  = 16 * time.Minute
	DefaultMaxPages = 10000
	// MaxBodyBytes bounds the body of an API response (never a PDF).
	MaxBodyBytes = 32 << 20
)

// Options configure a Client. Only BaseURL is required.
type Options struct {
	BaseURL     string             // e.g. https://api.askara.ai (staging, simulator)
	TokenSource oauth2.TokenSource // Authorization: Bearer; nil makes every API call fail with ESignedOut
	// HTTPClient is the one client of every platform call (sync/netclient's
	// HTTP()); default: a netclient with the environment's and the
	// system's proxy. Its Timeout bounds each API request; PDF downloads
	// have none (their body is watched for stalls instead).
	HTTPClient  *http.Client
	UserAgent   string
	PageSize    int // itemsPerPage asked, default and max 100
	MaxAttempts int // per call for transient failures, default 4

	Now   func() time.Time                                 // clock; default time.Now
	Sleep func(ctx context.Context, d time.Duration) error // default a timer that respects ctx

	Logger *slog.Logger // debug logs: method, path, status; never tokens, link queries or patient data

	// StallAfter fails a response body read that receives no byte for
	// this long (PDFs and API bodies alike). Default 60 s.
	StallAfter time.Duration
	// MaxWait caps one wait for the rate limit (a 429's Retry-After or an
	// empty bucket). A longer wait is not slept: the call returns a
	// retryable ERateLimited error whose RetryAfter says how long. Default 16 min.
	MaxWait time.Duration
	// MaxPages caps the pages read by one ListUnsynchronized. Default 10,000.
	MaxPages int
}

// Stats are the client's counters since New.
type Stats struct {
	APIRequests    int64 // every HTTP request sent to the API, retries included
	Downloads      int64 // every HTTP request sent to a PDF link, retries included
	Retries        int64 // attempts repeated after a transient failure (API and PDF)
	RateLimitWaits int64 // waits imposed by the rate limit (pacing, empty bucket, 429)
	Throttled429   int64 // 429 answers received
	SkippedItems   int64 // listed items dropped because they carry no usable uuid or are not objects (see OnUnusable)

	// The last rate-limit state the API reported (zero when unknown).
	RateLimit          int
	RateLimitRemaining int
	RateLimitReset     time.Time
}

// Client talks to the Askara API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	ts        oauth2.TokenSource
	api       *http.Client // same-origin redirects only
	files     *http.Client // PDF links; never carries the token
	ua        string
	pageSize  int
	retry     clinicsync.RetryPolicy // a transient failure of one call
	throttle  clinicsync.RetryPolicy // the rate limit's waits
	stall     time.Duration
	maxPages  int
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	log       *slog.Logger
	limit     *limiter
	nRequests atomic.Int64
	nDownload atomic.Int64
	nRetries  atomic.Int64
	nWaits    atomic.Int64
	n429      atomic.Int64
	nSkipped  atomic.Int64
	unusable  unusableItems // unusable.go
	links     linkOrigins   // origins of PDF links in the API's answers (trust.go)
}

var _ clinicsync.Remote = (*Client)(nil)

// New checks the options and builds a Client.
func New(o Options) (*Client, error) {
	raw := strings.TrimSpace(o.BaseURL)
	base, err := url.Parse(raw)
	if raw == "" || err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" ||
		base.User != nil || base.RawQuery != "" || base.Fragment != "" {
		return nil, clinicsync.Errorf(clinicsync.EConfig,
			"The Askara API address must be an http or https URL such as https://api.askara.ai.")
	}
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""
	c := &Client{
		base:     base,
		ts:       o.TokenSource,
		ua:       o.UserAgent,
		pageSize: o.PageSize,
		stall:    o.StallAfter,
		maxPages: o.MaxPages,
		now:      o.Now,
		sleep:    o.Sleep,
		log:      o.Logger,
	}
	if c.ua == "" {
		c.ua = "ClinicSync"
	}
	if c.pageSize <= 0 || c.pageSize > MaxPageSize {
		c.pageSize = DefaultPageSize
	}
	attempts, maxWait := o.MaxAttempts, o.MaxWait
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	c.retry, c.throttle = retryPolicy(attempts), throttlePolicy(attempts, maxWait)
	if c.stall <= 0 {
		c.stall = DefaultStallAfter
	}
	if c.maxPages <= 0 {
		c.maxPages = DefaultMaxPages
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	hc := o.HTTPClient
	if hc == nil {
		nc, err := netclient.New(netclient.Options{Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		hc = nc.HTTP()
	}
	api, files := *hc, *hc
	files.Timeout = 0 // a large PDF on a slow line: stall detection instead (StallAfter)
	api.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 || !sameOrigin(req.URL, c.base) {
			return http.ErrUseLastResponse // classified as an unexpected redirect
		}
		return nil
	}
	c.api, c.files = &api, &files
	c.limit = newLimiter()
	return c, nil
}

// Stats returns the counters and the last known rate-limit state.
func (c *Client) Stats() Stats {
	s := Stats{
		APIRequests:    c.nRequests.Load(),
		Downloads:      c.nDownload.Load(),
		Retries:        c.nRetries.Load(),
		RateLimitWaits: c.nWaits.Load(),
		Throttled429:   c.n429.Load(),
		SkippedItems:   c.nSkipped.Load(),
	}
	s.RateLimit, s.RateLimitRemaining, s.RateLimitReset = c.limit.snapshot()
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sameOrigin reports whether u has the scheme, host and port of base.
func sameOrigin(u, base *url.URL) bool {
	return strings.EqualFold(u.Scheme, base.Scheme) &&
		strings.EqualFold(u.Hostname(), base.Hostname()) && port(u) == port(base)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// endpoint is the API URL of path (which starts with a slash and is
// already escaped).
func (c *Client) endpoint(escapedPath string) *url.URL {
	u, err := url.Parse(c.base.Scheme + "://" + c.base.Host + c.base.EscapedPath() + escapedPath)
	if err != nil { // cannot happen: both parts are well-formed
		panic(err)
	}
	return u
}

// documentPath is /documents/{uuid} with uuid escaped, or an error for an
// identifier that cannot name a document.
func (c *Client) documentPath(uuid string) (string, error) {
	if uuid == "" || uuid == "." || uuid == ".." || len(uuid) > wire.MaxIDLength {
		return "", clinicsync.Errorf(clinicsync.EInvalid, "The document has no usable identifier.")
	}
	return "/documents/" + url.PathEscape(uuid), nil
}

var errNoToken = errors.New("the token source gave no access token")

// token returns the current access token or an ESignedOut error.
func (c *Client) token() (string, error) {
	if c.ts == nil {
		return "", clinicsync.Permanent(clinicsync.ESignedOut, "Not signed in to Askara; sign in again.", errNoToken)
	}
	t, err := c.ts.Token()
	if err != nil {
		var ce *clinicsync.Error
		if errors.As(err, &ce) {
			return "", ce // the source classified it (e.g. sign-in service unreachable: retryable)
		}
		return "", clinicsync.Permanent(clinicsync.ESignedOut, "Not signed in to Askara; sign in again.", err)
	}
	if t == nil || t.AccessToken == "" {
		return "", clinicsync.Permanent(clinicsync.ESignedOut, "Not signed in to Askara; sign in again.", errNoToken)
	}
	return t.AccessToken, nil
}

// Invalidator is a token source that can be told the API refused a token
// (sync/auth.Source): it refreshes on the next Token call.
type Invalidator interface {
	Invalidate(*oauth2.Token)
}

// invalidate tells the source, if it listens, that tok was refused.
func (c *Client) invalidate(tok string) {
	if inv, ok := c.ts.(Invalidator); ok {
		inv.Invalidate(&oauth2.Token{AccessToken: tok})
	}
}

// drain reads a little of an unwanted body so the connection can be
// reused, then closes it.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}
