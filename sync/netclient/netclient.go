// Package netclient builds the one HTTP client every call Clinic Sync
// makes to a platform goes through: the API, pre-signed PDF downloads, the
// sign-in (token, refresh, device code, revocation), /me and webhook
// registration. It decides the proxy for each request URL and says where
// that decision came from (the environment, the configuration file, the
// system's manual proxy or its script), signs in to a proxy that asks
// (Basic, or NTLM through github.com/Azure/go-ntlmssp, with the user and
// password kept in the keychain), trusts the system's roots plus an
// optional PEM bundle ([network] ca_file) for a proxy that inspects TLS,
// puts a deadline on every step of a call, and notices a PC clock that
// disagrees with the platform's Date header. Watch (watch.go) notices a
// resume from sleep and a network that comes back.
//
// It never writes a credential into a log line, an error or a
// description; the errors it returns are classified into sentences by
// sync/askara (errors.go), in one place.
package netclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Deadlines of every call. A PDF download has no total deadline (it may
// be large on a slow line): sync/askara fails a body that stalls instead.
const (
	DialTimeout   = 10 * time.Second // TCP connection, to the server or the proxy
	TLSTimeout    = 10 * time.Second // TLS handshake
	HeaderTimeout = 30 * time.Second // from the request sent to the response's headers
	CallTimeout   = 2 * time.Minute  // a whole call, body included, but for streaming downloads
	// MaxClockSkew is how far this PC's clock may be from the platform's
	// Date header before it is said.
	MaxClockSkew = 2 * time.Minute
)

// Options configure the client. The zero value honours the environment
// and the system's proxy settings.
type Options struct {
	// Proxy is [network] proxy: "" follows the system, "direct" uses no
	// proxy, "http://host:port" that proxy.
	Proxy string
	// CAFile is [network] ca_file: a PEM bundle trusted in addition to
	// the system's roots.
	CAFile string
	// ProxyCredentials returns the proxy sign-in kept in the keychain;
	// ok false when there is none. Read when a proxy asks (407).
	ProxyCredentials func() (user, password string, ok bool)

	Getenv func(string) string        // default os.Getenv
	System func() SystemSettings      // default ReadSystem
	Addrs  func() ([]net.Addr, error) // interface addresses, default net.InterfaceAddrs
	// DialContext dials TCP, to a server or a proxy; default a net.Dialer
	// with DialTimeout.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	Now         func() time.Time // clock compared with the Date header; default time.Now
	Logger      *slog.Logger     // debug lines: routes, proxy sign-ins, the clock; never credentials
	// HeaderTimeout replaces HeaderTimeout (tests).
	HeaderTimeout time.Duration
	// Wrap, when set, wraps the whole round trip (tests record every
	// request of every call with it).
	Wrap func(http.RoundTripper) http.RoundTripper
}

// Client is the HTTP client of every platform call. Safe for concurrent use.
type Client struct {
	o      Options
	base   *http.Transport
	rt     http.RoundTripper
	call   *http.Client // CallTimeout
	stream *http.Client // no total deadline
	log    *slog.Logger

	mu       sync.Mutex
	proxy    string // [network] proxy (Configure changes it)
	sys      SystemSettings
	mode     map[string]string // proxy host:port -> "basic" or "ntlm", once it asked
	user     string            // the credentials last read for a proxy
	pass     string
	ntlm     map[string]*http.Transport
	skew     time.Duration // the clock skew found; 0 until then
	offset   time.Duration // the last answer's Date against this PC's clock
	offsetAt time.Time     // when it was measured; zero before any
	onSkew   func(time.Duration)
	skewSaid atomic.Bool
}

// New builds the client. A ca_file that cannot be read, or holds no
// certificate, is a configuration error.
func New(o Options) (*Client, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.System == nil {
		o.System = ReadSystem
	}
	if o.Addrs == nil {
		o.Addrs = net.InterfaceAddrs
	}
	if o.DialContext == nil {
		o.DialContext = (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = HeaderTimeout
	}
	c := &Client{o: o, log: o.Logger, mode: map[string]string{}, ntlm: map[string]*http.Transport{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if strings.TrimSpace(o.Proxy) != "" && !strings.EqualFold(strings.TrimSpace(o.Proxy), "direct") {
		if _, err := ParseProxy(o.Proxy); err != nil {
			return nil, clinicsync.Permanentf(clinicsync.EConfig, err, "[network] proxy %q is not valid: %s.", o.Proxy, err.Error())
		}
	}
	pool, err := roots(o.CAFile)
	if err != nil {
		return nil, err
	}
	c.sys = cachePAC(o.System(), time.Now)
	c.proxy = o.Proxy
	c.base = c.newTransport(pool)
	c.rt = roundTripper(c.roundTrip)
	if o.Wrap != nil {
		c.rt = o.Wrap(c.rt)
	}
	c.call = &http.Client{Transport: c.rt, Timeout: CallTimeout}
	c.stream = &http.Client{Transport: c.rt}
	return c, nil
}

func (c *Client) newTransport(pool *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy:                  c.proxyFor,
		OnProxyConnectResponse: c.onConnect,
		DialContext:            c.dialTimed,
		TLSClientConfig:        &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    TLSTimeout,
		ResponseHeaderTimeout:  c.o.HeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConnsPerHost:    16,
		ForceAttemptHTTP2:      true,
	}
}

// Configure applies a new [network] proxy and ca_file without a restart
// (Settings): the next request takes the new route and roots; connections
// made before are closed once idle.
func (c *Client) Configure(proxy, caFile string) error {
	if p := strings.TrimSpace(proxy); p != "" && !strings.EqualFold(p, "direct") {
		if _, err := ParseProxy(p); err != nil {
			return clinicsync.Permanentf(clinicsync.EConfig, err, "[network] proxy %q is not valid: %s.", proxy, err.Error())
		}
	}
	pool, err := roots(caFile)
	if err != nil {
		return err
	}
	t := c.newTransport(pool)
	c.mu.Lock()
	old, oldNTLM := c.base, c.ntlm
	c.proxy, c.base, c.ntlm = proxy, t, map[string]*http.Transport{}
	c.mu.Unlock()
	old.CloseIdleConnections()
	for _, t := range oldNTLM {
		t.CloseIdleConnections()
	}
	return nil
}

// HTTP is the client of every call that is not a streaming download: each
// has CallTimeout in all. Callers may copy it and change CheckRedirect.
func (c *Client) HTTP() *http.Client { return c.call }

// Streaming is the same client without a total deadline, for downloads
// whose body is watched for stalls instead.
func (c *Client) Streaming() *http.Client { return c.stream }

// Route is the way to rawURL now: the proxy (or none) and where the
// decision came from. For Diagnostics and the support bundle, via String.
func (c *Client) Route(rawURL string) Route {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return Route{}
	}
	return c.route(u)
}

func (c *Client) route(u *url.URL) Route {
	c.mu.Lock()
	sys, proxy := c.sys, c.proxy
	c.mu.Unlock()
	return route(u, c.o.Getenv, proxy, sys)
}

// Reload reads the system's proxy settings again (after a network change:
// another network may have another proxy or script).
func (c *Client) Reload() {
	sys := cachePAC(c.o.System(), time.Now)
	c.mu.Lock()
	c.sys = sys
	c.mu.Unlock()
}

// OnClockSkew sets what is done, once, when a platform's Date header
// shows this PC's clock more than MaxClockSkew off (positive: the PC is
// ahead). A skew found before is handed over at once.
func (c *Client) OnClockSkew(f func(skew time.Duration)) {
	c.mu.Lock()
	c.onSkew = f
	skew := c.skew
	c.mu.Unlock()
	if skew != 0 && f != nil {
		f(skew)
	}
}

// ClockOffset is how far this PC's clock was from a platform's at its
// last answer with a Date header (positive: the PC is ahead; the header
// counts whole seconds), and when that was; ok is false before any.
func (c *Client) ClockOffset() (offset time.Duration, at time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset, c.offsetAt, !c.offsetAt.IsZero()
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type routeKey struct{}

// roundTrip sends req by its route, signs in to a proxy that asks (once
// per scheme), and checks the clock on the answer.
func (c *Client) roundTrip(req *http.Request) (*http.Response, error) {
	r := c.route(req.URL)
	out := req.WithContext(context.WithValue(req.Context(), routeKey{}, r))
	for try := 0; ; try++ {
		resp, err := c.transport(r).RoundTrip(out)
		if err == nil && resp.StatusCode == http.StatusProxyAuthRequired && r.Proxy != nil {
			// A 407 to a request sent to the proxy itself (http targets).
			err = &ProxyAuthError{Proxy: r.Proxy.Host, Schemes: schemes(resp.Header)}
			drain(resp.Body)
			resp = nil
		}
		if err != nil {
			var pa *ProxyAuthError
			if errors.As(err, &pa) && try < 2 && c.signIn(r, pa) {
				if next, ok := rewind(out); ok {
					out = next
					continue
				}
			}
			if req.Context().Err() == nil {
				c.log.Debug("request failed", "host", req.URL.Host, "route", r.String(), "err", redact(err))
			}
			return nil, &RouteError{Route: r, Offline: c.offline(), Err: err}
		}
		c.checkClock(resp)
		return resp, nil
	}
}

// transport is the base transport, or the NTLM one of r's proxy once it
// asked for NTLM.
func (c *Client) transport(r Route) http.RoundTripper {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Proxy == nil || c.mode[r.Proxy.Host] != "ntlm" {
		return c.base
	}
	t := c.ntlm[r.Proxy.Host]
	if t == nil {
		t = c.base.Clone()
		t.Proxy = nil
		t.OnProxyConnectResponse = nil
		host := r.Proxy.Host
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return c.dialNTLM(ctx, host, addr)
		}
		c.ntlm[host] = t
	}
	return t
}

// proxyFor is the transport's Proxy: the route's proxy, with the Basic
// credentials once the proxy asked for them.
func (c *Client) proxyFor(req *http.Request) (*url.URL, error) {
	r, ok := req.Context().Value(routeKey{}).(Route)
	if !ok {
		r = c.route(req.URL)
	}
	if r.Proxy == nil {
		return nil, nil
	}
	p := *r.Proxy
	if r.user != nil {
		p.User = r.user
	} else {
		c.mu.Lock()
		if c.mode[p.Host] == "basic" && c.user != "" {
			p.User = url.UserPassword(c.user, c.pass)
		}
		c.mu.Unlock()
	}
	return &p, nil
}

// onConnect turns a proxy's refusal of a tunnel into a typed error.
func (c *Client) onConnect(_ context.Context, proxy *url.URL, req *http.Request, resp *http.Response) error {
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusProxyAuthRequired:
		return &ProxyAuthError{Proxy: proxy.Host, Schemes: schemes(resp.Header)}
	}
	return &ProxyStatusError{Proxy: proxy.Host, Target: req.Host, Status: resp.StatusCode}
}

// signIn decides whether a 407 is worth another try: a sign-in is kept
// and the proxy offers a scheme Clinic Sync speaks that was not tried
// with these credentials yet. It marks pa Refused when the kept sign-in
// was already sent.
func (c *Client) signIn(r Route, pa *ProxyAuthError) bool {
	if r.user != nil || c.o.ProxyCredentials == nil {
		pa.Refused = r.user != nil
		return false
	}
	user, pass, ok := c.o.ProxyCredentials()
	if !ok || user == "" {
		return false
	}
	offers := func(s string) bool {
		for _, o := range pa.Schemes {
			if strings.EqualFold(o, s) {
				return true
			}
		}
		return false
	}
	want := ""
	switch {
	case offers("NTLM") || offers("Negotiate"):
		want = "ntlm"
	case offers("Basic"):
		want = "basic"
	default:
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	host := r.Proxy.Host
	if c.mode[host] == want && c.user == user && c.pass == pass {
		pa.Refused = true // these credentials were sent and refused
		return false
	}
	c.mode[host], c.user, c.pass = want, user, pass
	c.log.Debug("proxy asks for a sign-in", "proxy", host, "scheme", want)
	return true
}

// schemes lists the authentication schemes a 407 offers.
func schemes(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Proxy-Authenticate") {
		s, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		if s = strings.TrimSuffix(s, ","); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// rewind is req ready to be sent again (its body from GetBody).
func rewind(req *http.Request) (*http.Request, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	next := req.Clone(req.Context())
	next.Body = b
	return next, true
}

// dialTimed dials with DialTimeout even when an injected dialer has none.
func (c *Client) dialTimed(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	return c.o.DialContext(ctx, network, addr)
}

// offline reports whether no interface has an address other than
// loopback or link-local: the PC has no network.
func (c *Client) offline() bool {
	addrs, err := c.o.Addrs()
	if err != nil {
		return false
	}
	return !hasNetwork(addrs)
}

func hasNetwork(addrs []net.Addr) bool {
	for _, a := range addrs {
		var ip net.IP
		switch v := a.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		}
		if ip != nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsUnspecified() {
			return true
		}
	}
	return false
}

// checkClock compares the answer's Date with this PC's clock and says a
// skew over MaxClockSkew once.
func (c *Client) checkClock(resp *http.Response) {
	if resp.Header.Get("Age") != "" { // a cached answer's Date is old
		return
	}
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return
	}
	now := c.o.Now()
	skew := now.Sub(d)
	c.mu.Lock()
	c.offset, c.offsetAt = skew, now
	c.mu.Unlock()
	if c.skewSaid.Load() || skew > -MaxClockSkew && skew < MaxClockSkew {
		return
	}
	if !c.skewSaid.CompareAndSwap(false, true) {
		return
	}
	c.log.Warn("this PC's clock is off", "skew", skew.Round(time.Second), "server", resp.Request.URL.Host)
	c.mu.Lock()
	c.skew = skew
	f := c.onSkew
	c.mu.Unlock()
	if f != nil {
		f(skew)
	}
}

// roots is the system's trusted roots plus caFile's certificates; nil
// (the system's, verified by the platform) without caFile.
func roots(caFile string) (*x509.CertPool, error) {
	caFile = strings.TrimSpace(caFile)
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, clinicsync.Permanentf(clinicsync.EConfig, err,
			"The certificate file %s ([network] ca_file) could not be read.", caFile)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, clinicsync.Permanentf(clinicsync.EConfig, nil,
			"The certificate file %s ([network] ca_file) holds no PEM certificate.", caFile)
	}
	return pool, nil
}

// redact keeps the URL of a *url.Error to its host: a pre-signed link's
// query is a credential.
func redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return ue.Op + " " + u.Scheme + "://" + u.Host + "/…: " + ue.Err.Error()
		}
		return ue.Err.Error()
	}
	return err.Error()
}

func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}
