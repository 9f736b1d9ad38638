// Package askara is the Askara API client: document listing with every page
// followed (Hydra, un-prefixed JSON-LD and plain arrays), one document,
// status confirmations and pre-signed PDF downloads, paced by the
// x-ratelimit headers, with 429/Retry-After honoured and every error
// classified as retryable or permanent in one place.
package askara

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
)

// Options configure a Client.
type Options struct {
	BaseURL     string
	TokenSource oauth2.TokenSource
	HTTPClient  *http.Client
	UserAgent   string
	PageSize    int           // itemsPerPage, default 100
	MaxAttempts int           // per call for transient failures, default 4
	StallAfter  time.Duration // a PDF body with no bytes for this long fails, default 60 s
	Now         func() time.Time
	Sleep       func(ctx context.Context, d time.Duration) error
	Logger      *slog.Logger
}

// Stats counts what the client sent.
type Stats struct {
	APIRequests    int64 // HTTP requests to the API, retries included
	Downloads      int64 // PDF downloads started
	Retries        int64 // automatic retries of transient failures
	RateLimitWaits int64 // waits to stay inside the rate limit
	Throttled429   int64 // 429 answers received
}

// Client talks to one Askara API.
type Client struct {
	o    Options
	base *url.URL
	http *http.Client

	apiRequests, downloads, retries, waits, throttled atomic.Int64

	rlMu      sync.Mutex
	limit     int
	remaining int // -1: unknown
	reset     time.Time
}

const maxBody = 32 << 20

// New checks the options and returns a client.
func New(o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, clinicsync.Errorf(clinicsync.EConfig, "The API address %q is not an http(s) URL.", o.BaseURL)
	}
	if o.PageSize <= 0 || o.PageSize > 100 {
		o.PageSize = 100
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.StallAfter <= 0 {
		o.StallAfter = 60 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.UserAgent == "" {
		o.UserAgent = "ClinicSync"
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   8,
			ForceAttemptHTTP2:     true,
		}}
	}
	// Never follow a redirect with the token to another host.
	c := *hc
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if req.URL.Host != via[0].URL.Host {
			req.Header.Del("Authorization")
		}
		return nil
	}
	return &Client{o: o, base: u, http: &c, remaining: -1}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	return Stats{APIRequests: c.apiRequests.Load(), Downloads: c.downloads.Load(), Retries: c.retries.Load(),
		RateLimitWaits: c.waits.Load(), Throttled429: c.throttled.Load()}
}

// ListUnsynchronized returns every document not yet synchronized, all pages
// collected first (the filter is live), de-duplicated by uuid.
func (c *Client) ListUnsynchronized(ctx context.Context) ([]clinicsync.Document, error) {
	q := url.Values{"synchronized": {"false"}, "itemsPerPage": {strconv.Itoa(c.o.PageSize)}}
	next := c.resolve("/documents?" + q.Encode() + "&page=1")
	seen := map[string]bool{}
	var out []clinicsync.Document
	var prevPage string
	skipped := 0
	for page := 1; page <= 10000; page++ {
		var items []json.RawMessage
		var link string
		var isArray bool
		err := c.do(ctx, http.MethodGet, next, nil, func(r io.Reader) error {
			var err error
			items, link, isArray, err = decodeCollection(r)
			return err
		})
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, raw := range items {
			var d clinicsync.Document
			if err := json.Unmarshal(raw, &d); err != nil || d.UUID == "" {
				skipped++
				continue
			}
			ids = append(ids, d.UUID)
			if !seen[d.UUID] {
				seen[d.UUID] = true
				out = append(out, d)
			}
		}
		if skipped > 0 {
			c.o.Logger.Debug("list items without a uuid skipped", "n", skipped)
		}
		sig := strings.Join(ids, ",")
		switch {
		case isArray:
			if len(items) < c.o.PageSize || len(items) == 0 || sig == prevPage {
				return out, nil
			}
			q.Set("page", strconv.Itoa(page+1))
			next = c.resolve("/documents?" + q.Encode())
		case link == "":
			return out, nil
		default:
			u, err := c.sameHost(link)
			if err != nil {
				return nil, err
			}
			if u == next || sig == prevPage {
				return out, nil
			}
			next = u
		}
		prevPage = sig
	}
	return out, nil
}

// DecodeCollection reads one page of a collection in any of the three
// shapes: a plain array, Hydra (hydra:member, hydra:view.hydra:next) or
// un-prefixed JSON-LD (member, view.next).
func DecodeCollection(r io.Reader) (items []json.RawMessage, next string, err error) {
	items, next, _, err = decodeCollection(r)
	return items, next, err
}

func decodeCollection(r io.Reader) ([]json.RawMessage, string, bool, error) {
	var raw json.RawMessage
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		return nil, "", false, err
	}
	trim := strings.TrimLeftFunc(string(raw), unicode.IsSpace)
	if strings.HasPrefix(trim, "[") {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, "", false, err
		}
		return items, "", true, nil
	}
	var obj struct {
		HydraMember []json.RawMessage `json:"hydra:member"`
		Member      []json.RawMessage `json:"member"`
		HydraView   *struct {
			Next string `json:"hydra:next"`
		} `json:"hydra:view"`
		View *struct {
			Next string `json:"next"`
		} `json:"view"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, "", false, err
	}
	if obj.HydraMember == nil && obj.Member == nil {
		return nil, "", false, errors.New("the collection has no member list")
	}
	items := obj.HydraMember
	if items == nil {
		items = obj.Member
	}
	next := ""
	if obj.HydraView != nil {
		next = obj.HydraView.Next
	}
	if next == "" && obj.View != nil {
		next = obj.View.Next
	}
	return items, next, false, nil
}

// GetDocument fetches one document with a fresh pre-signed link.
func (c *Client) GetDocument(ctx context.Context, uuid string) (clinicsync.Document, error) {
	var d clinicsync.Document
	err := c.do(ctx, http.MethodGet, c.resolve("/documents/"+url.PathEscape(uuid)), nil, func(r io.Reader) error {
		return json.NewDecoder(r).Decode(&d)
	})
	if err == nil && d.UUID == "" {
		d.UUID = uuid
	}
	return d, err
}

// SetStatus reports a document's outcome.
func (c *Client) SetStatus(ctx context.Context, uuid string, st clinicsync.Status) error {
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, c.resolve("/documents/"+url.PathEscape(uuid)+"/status"), body, nil)
}

func (c *Client) resolve(ref string) string {
	r, _ := url.Parse(ref)
	base := *c.base
	if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
		r.Path = "/" + r.Path
	}
	u := base.ResolveReference(&url.URL{Path: strings.TrimRight(base.Path, "/") + r.Path, RawQuery: r.RawQuery})
	return u.String()
}

// sameHost resolves a next link and refuses one on another host: the token
// goes to the API only.
func (c *Client) sameHost(link string) (string, error) {
	r, err := url.Parse(link)
	if err != nil {
		return "", clinicsync.Permanent(clinicsync.EBadResponse, "Askara sent a page link that cannot be read.", err)
	}
	if r.IsAbs() || r.Host != "" {
		if r.Host != c.base.Host || r.Scheme != c.base.Scheme {
			return "", clinicsync.Errorf(clinicsync.EBadResponse, "Askara sent a page link to another host (%s); it was not followed.", r.Host)
		}
		return r.String(), nil
	}
	return c.base.ResolveReference(r).String(), nil
}

// do sends one API call with pacing and retries, and decodes a 2xx body.
func (c *Client) do(ctx context.Context, method, u string, body []byte, decode func(io.Reader) error) error {
	var last error
	for attempt := 1; attempt <= c.o.MaxAttempts; attempt++ {
		if err := c.pace(ctx); err != nil {
			return canceled(err)
		}
		err := c.once(ctx, method, u, body, decode)
		if err == nil {
			return nil
		}
		last = err
		retry, after := clinicsync.IsRetryable(err)
		if !retry || ctx.Err() != nil || attempt == c.o.MaxAttempts {
			break
		}
		wait := backoff(attempt)
		if after > 0 {
			wait = min(after, 15*time.Minute)
		}
		c.retries.Add(1)
		c.o.Logger.Debug("retrying API call", "method", method, "path", pathOf(u), "code", clinicsync.ErrorCode(err), "wait", wait)
		if err := c.o.Sleep(ctx, wait); err != nil {
			return canceled(err)
		}
	}
	if ctx.Err() != nil {
		return canceled(ctx.Err())
	}
	return last
}

func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << (attempt - 1)
	d = min(d, 4*time.Second)
	return time.Duration(float64(d) * (0.75 + 0.5*rand.Float64()))
}

func canceled(err error) error {
	return &clinicsync.Error{Code: clinicsync.ECanceled, Message: "The operation was interrupted.", Err: err}
}

func pathOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Path
	}
	return ""
}

func (c *Client) once(ctx context.Context, method, u string, body []byte, decode func(io.Reader) error) error {
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return clinicsync.Permanent(clinicsync.EInternal, "Cannot build the request.", err)
	}
	if c.o.TokenSource == nil {
		return clinicsync.Errorf(clinicsync.ESignedOut, "Not signed in to Askara.")
	}
	tok, err := c.o.TokenSource.Token()
	if err != nil || tok == nil || tok.AccessToken == "" {
		return &clinicsync.Error{Code: clinicsync.ESignedOut, Message: "Not signed in to Askara: sign in again.", Err: scrub(err)}
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/ld+json, application/json")
	req.Header.Set("User-Agent", c.o.UserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.apiRequests.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return canceled(ctx.Err())
		}
		return clinicsync.Retryable(clinicsync.EUnavailable, "Askara could not be reached.", scrub(err))
	}
	defer resp.Body.Close()
	c.observe(resp)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if decode == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
			return nil
		}
		lr := &io.LimitedReader{R: resp.Body, N: maxBody + 1}
		if err := decode(lr); err != nil {
			if lr.N <= 0 {
				return clinicsync.Permanent(clinicsync.EBadResponse, "Askara sent an answer larger than 32 MiB.", nil)
			}
			if ctx.Err() != nil {
				return canceled(ctx.Err())
			}
			return clinicsync.Retryable(clinicsync.EBadResponse, "Askara sent an answer that cannot be read.", scrub(err))
		}
		return nil
	}
	return c.classify(resp)
}

// classify turns a non-2xx answer into an *Error; the only place that decides.
func (c *Client) classify(resp *http.Response) error {
	detail := problemDetail(resp)
	with := func(msg string) string {
		if detail != "" {
			return strings.TrimSuffix(msg, ".") + ": " + detail
		}
		return msg
	}
	code := resp.StatusCode
	e := &clinicsync.Error{Err: fmt.Errorf("HTTP %d", code)}
	switch {
	case code == http.StatusUnauthorized:
		e.Code, e.Message = clinicsync.EUnauthorized, "Askara refused the access token; sign in again."
	case code == http.StatusForbidden:
		e.Code, e.Message = clinicsync.EForbidden, "Askara refused access: the app lacks permission (scope) for this."
	case code == http.StatusNotFound:
		e.Code, e.Message = clinicsync.ENotFound, with("Askara does not know this document.")
	case code == http.StatusTooManyRequests:
		c.throttled.Add(1)
		e.Code, e.Message, e.Retryable = clinicsync.ERateLimited, "Askara asked us to slow down.", true
		e.RetryAfter = c.retryAfter(resp)
	case code >= 500 || code == http.StatusRequestTimeout:
		e.Code, e.Message, e.Retryable = clinicsync.EUnavailable, fmt.Sprintf("Askara had a problem (HTTP %d).", code), true
	default:
		e.Code, e.Message = clinicsync.EInvalid, with(fmt.Sprintf("Askara refused the request (HTTP %d).", code))
	}
	return e
}

// problemDetail extracts a short, printable detail from a problem+json body.
func problemDetail(resp *http.Response) string {
	var p struct{ Title, Detail string }
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	s := p.Detail
	if s == "" {
		s = p.Title
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len([]rune(s)) > 200 {
		s = string([]rune(s)[:200]) + "…"
	}
	return s
}

func (c *Client) retryAfter(resp *http.Response) time.Duration {
	if v := strings.TrimSpace(resp.Header.Get("Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(c.o.Now()), 0)
		}
	}
	c.rlMu.Lock()
	defer c.rlMu.Unlock()
	if !c.reset.IsZero() {
		if d := c.reset.Sub(c.o.Now()); d > 0 {
			return d
		}
	}
	return 30 * time.Second
}

// observe reads the rate-limit headers of an API answer.
func (c *Client) observe(resp *http.Response) {
	rem, err1 := strconv.Atoi(resp.Header.Get("x-ratelimit-remaining"))
	reset, err2 := strconv.ParseInt(resp.Header.Get("x-ratelimit-reset"), 10, 64)
	lim, err3 := strconv.Atoi(resp.Header.Get("x-ratelimit-limit"))
	c.rlMu.Lock()
	defer c.rlMu.Unlock()
	if err1 == nil && rem >= 0 {
		c.remaining = rem
	}
	if err2 == nil && reset > 0 {
		c.reset = time.Unix(reset, 0)
	}
	if err3 == nil && lim > 0 {
		c.limit = lim
	}
}

// pace waits, before a request, so what remains of the bucket lasts until
// it refills: nothing while plenty remains, spread requests over the time
// to reset under a reserve, and wait for the reset when it is empty.
func (c *Client) pace(ctx context.Context) error {
	c.rlMu.Lock()
	rem, reset, lim := c.remaining, c.reset, c.limit
	now := c.o.Now()
	var wait time.Duration
	reserve := max(10, lim/50)
	if rem >= 0 && rem <= reserve && reset.After(now) {
		untilReset := reset.Sub(now)
		if rem <= 0 {
			wait = untilReset + 500*time.Millisecond
		} else {
			wait = untilReset / time.Duration(rem+1)
		}
		// Count this request against the bucket we believe in, so
		// concurrent callers spread out instead of all passing at once.
		c.remaining = max(rem-1, 0)
	}
	c.rlMu.Unlock()
	if wait <= 0 {
		return nil
	}
	wait = min(wait, 15*time.Minute)
	c.waits.Add(1)
	c.o.Logger.Debug("pacing API calls", "remaining", rem, "wait", wait)
	return c.o.Sleep(ctx, wait)
}

// OpenPDF downloads a pre-signed link. The API token is never sent there.
func (c *Client) OpenPDF(ctx context.Context, link string) (io.ReadCloser, error) {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, clinicsync.Errorf(clinicsync.EInvalid, "The download link is not valid.")
	}
	var last error
	for attempt := 1; attempt <= c.o.MaxAttempts; attempt++ {
		rc, err := c.openOnce(ctx, u.String())
		if err == nil {
			return rc, nil
		}
		last = err
		if ok, _ := clinicsync.IsRetryable(err); !ok || clinicsync.ErrorCode(err) == clinicsync.ELinkExpired || attempt == c.o.MaxAttempts {
			break
		}
		c.retries.Add(1)
		if err := c.o.Sleep(ctx, backoff(attempt)); err != nil {
			return nil, canceled(err)
		}
	}
	return nil, last
}

func (c *Client) openOnce(ctx context.Context, link string) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		cancel()
		return nil, clinicsync.Errorf(clinicsync.EInvalid, "The download link is not valid.")
	}
	req.Header.Set("User-Agent", c.o.UserAgent)
	c.downloads.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			return nil, canceled(ctx.Err())
		}
		return nil, clinicsync.Retryable(clinicsync.EUnavailable, "The PDF could not be downloaded.", scrub(err))
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return newStallReader(resp.Body, cancel, c.o.StallAfter), nil
	case code == 401 || code == 403 || code == 410:
		resp.Body.Close()
		cancel()
		return nil, &clinicsync.Error{Code: clinicsync.ELinkExpired, Message: "The download link has expired.", Retryable: true}
	case code == 404:
		resp.Body.Close()
		cancel()
		return nil, clinicsync.Errorf(clinicsync.ENotFound, "The PDF file is missing on the server.")
	default:
		resp.Body.Close()
		cancel()
		return nil, &clinicsync.Error{Code: clinicsync.EUnavailable, Retryable: true,
			Message: fmt.Sprintf("The file server had a problem (HTTP %d).", code)}
	}
}

// stallReader fails a body that sends no byte for a while, instead of
// hanging forever, and maps read errors to a retryable interruption.
type stallReader struct {
	body   io.ReadCloser
	cancel context.CancelFunc
	timer  *time.Timer
	after  time.Duration
	fired  atomic.Bool
}

func newStallReader(body io.ReadCloser, cancel context.CancelFunc, after time.Duration) *stallReader {
	s := &stallReader{body: body, cancel: cancel, after: after}
	s.timer = time.AfterFunc(after, func() { s.fired.Store(true); cancel() })
	return s
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	if n > 0 {
		s.timer.Reset(s.after)
	}
	if err != nil && err != io.EOF {
		msg := "The download was interrupted."
		if s.fired.Load() {
			msg = "The download stalled."
		}
		return n, clinicsync.Retryable(clinicsync.EUnavailable, msg, scrub(err))
	}
	return n, err
}

func (s *stallReader) Close() error {
	s.timer.Stop()
	err := s.body.Close()
	s.cancel()
	return err
}

// scrub removes URLs (which can carry pre-signed signatures) from an error.
func scrub(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, pathOf(ue.URL), ue.Err)
	}
	return err
}
