// Package auth signs Clinic Sync in to Askara once and keeps it signed in:
// the browser flow (authorization code with PKCE S256 and a random state,
// redirected to a loopback listener per RFC 8252), the device-code flow as
// the fallback, tokens from golang.org/x/oauth2, the refresh token in the
// OS keychain, and a token source that rotates single-use refresh tokens
// safely.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/netclient"
)

// Config is the OAuth client: endpoints and credentials.
type Config struct {
	AuthorizeURL string
	TokenURL     string
	DeviceURL    string
	RevokeURL    string // "" if the server offers no revocation
	ClientID     string
	ClientSecret string
	Scopes       []string
	RedirectPort int // loopback port registered with Askara; 0 picks a free one
	// AnyPort: the platform accepts a redirect to any loopback port (RFC
	// 8252 §7.3), so a RedirectPort another program holds (another
	// user's Clinic Sync on a terminal server) is replaced by a free one.
	AnyPort bool
}

// ErrPortInUse is wrapped by LoginBrowser's error when RedirectPort is held
// by another program and AnyPort is off: the caller can offer the code
// sign-in (LoginDevice) instead.
var ErrPortInUse = errors.New("the sign-in's loopback port is in use")

// OAuth2 returns the x/oauth2 configuration (redirect URL filled at login).
func (c Config) OAuth2() *oauth2.Config {
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: c.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: c.AuthorizeURL, TokenURL: c.TokenURL, DeviceAuthURL: c.DeviceURL,
			AuthStyle: oauth2.AuthStyleInParams}}
}

// BrowserOptions tune LoginBrowser.
type BrowserOptions struct {
	Open    func(url string) error // opens the system browser; nil: only print
	Out     io.Writer              // where the URL and progress are printed
	Timeout time.Duration          // default 5 minutes
	// Prompt, when set, is given the sign-in page's address once the
	// redirect listener is up, and whether Open opened it: a window shows
	// the address to copy when it did not. It runs on LoginBrowser's
	// goroutine and must not block.
	Prompt func(url string, opened bool)
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// LoginBrowser runs the authorization-code flow with PKCE: it listens on
// 127.0.0.1, opens (or prints) the authorization URL, waits for the
// redirect, checks the state and exchanges the code.
func LoginBrowser(ctx context.Context, c Config, o BrowserOptions) (*oauth2.Token, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	ln, err := listenRedirect(c.RedirectPort, c.AnyPort)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	oc := c.OAuth2()
	oc.RedirectURL = fmt.Sprintf("http://127.0.0.1:%d/callback", ln.Addr().(*net.TCPAddr).Port)
	verifier := oauth2.GenerateVerifier()
	state := randomString(24)
	authURL := oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	send := func(r result) {
		select {
		case done <- r:
		default:
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case q.Get("state") != state:
			w.WriteHeader(http.StatusBadRequest)
			page(w, "Sign-in not accepted", "This answer does not belong to the sign-in Clinic Sync started. Start again from Clinic Sync.")
			// A wrong state is an attack or a stale tab: keep waiting for the right one.
		case q.Get("error") != "":
			page(w, "Sign-in cancelled", "Askara did not grant access. You can close this tab.")
			err := clinicsync.Errorf(clinicsync.ESignedOut, "Sign-in was refused in the browser.")
			if q.Get("error") != "access_denied" {
				err = clinicsync.Errorf(clinicsync.ESignedOut, "Sign-in failed: %s.", clean(q.Get("error")))
			}
			send(result{err: err})
		case q.Get("code") == "":
			w.WriteHeader(http.StatusBadRequest)
			page(w, "Sign-in not accepted", "The answer carried no authorization code.")
		default:
			page(w, "Signed in", "Clinic Sync is signed in to Askara. You can close this tab.")
			send(result{code: q.Get("code")})
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		// Shutdown, not Close: the callback's "Signed in" page may still be
		// on its way to the browser when the code is exchanged (Close cut
		// it off: the browser got an empty answer).
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	fmt.Fprintf(o.Out, "Sign in to Askara in your browser:\n  %s\n", authURL)
	opened := false
	if o.Open != nil {
		if err := o.Open(authURL); err != nil {
			fmt.Fprintf(o.Out, "(Could not open a browser; open the address above yourself.)\n")
		} else {
			opened = true
		}
	}
	if o.Prompt != nil {
		o.Prompt(authURL, opened)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, clinicsync.Errorf(clinicsync.ESignedOut,
				"Sign-in timed out after %s without an answer from the browser; start the sign-in again.", o.Timeout.Round(time.Second))
		}
		return nil, &clinicsync.Error{Code: clinicsync.ECanceled, Message: "Sign-in was interrupted.", Err: ctx.Err()}
	}
	if res.err != nil {
		return nil, res.err
	}
	tok, err := oc.Exchange(ctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, tokenError("Askara refused the sign-in", "token_url", err)
	}
	return tok, nil
}

// listenRedirect listens on 127.0.0.1:port for the browser's redirect. A
// port that cannot be had is another program's (Go's listeners reuse
// addresses in TIME_WAIT): with anyPort another free loopback port is
// taken, otherwise the error wraps ErrPortInUse. port 0 is any free one.
func listenRedirect(port int, anyPort bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil && anyPort && port != 0 {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err == nil {
		return ln, nil
	}
	if port == 0 || anyPort {
		return nil, clinicsync.Permanent(clinicsync.EConfig, "Cannot listen on this computer for the sign-in's answer.", err)
	}
	return nil, clinicsync.Permanentf(clinicsync.EConfig, fmt.Errorf("%w: %w", ErrPortInUse, err),
		"Port %d on this computer, where the browser hands the sign-in back, is in use by another program (perhaps another user's Clinic Sync).", port)
}

// tokenError turns a token-endpoint failure into a sentence without
// secrets. key is the configuration key of the endpoint asked ("token_url",
// "device_url"): an answer without an OAuth error code (a 404 from a wrong
// address, a 503) names that endpoint, not a refusal.
func tokenError(prefix, key string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			detail := re.ErrorCode
			if re.ErrorDescription != "" {
				detail += ": " + clean(re.ErrorDescription)
			}
			return clinicsync.Errorf(clinicsync.ESignedOut, "%s (%s).", prefix, detail)
		}
		if re.Response != nil {
			endpoint := "token endpoint"
			if key == "device_url" {
				endpoint = "device sign-in endpoint"
			}
			switch st := re.Response.StatusCode; {
			case st == http.StatusNotFound || st == http.StatusGone:
				at := key
				if u := re.Response.Request; u != nil && u.URL != nil {
					at = u.URL.Scheme + "://" + u.URL.Host + u.URL.EscapedPath()
				}
				return clinicsync.Errorf(clinicsync.EConfig, "Askara has no %s at %s: check %s in the configuration file.", endpoint, at, key)
			case st >= 500 || st == http.StatusTooManyRequests || st == http.StatusRequestTimeout:
				return clinicsync.Retryable(clinicsync.EUnavailable, fmt.Sprintf(
					"Askara's %s is temporarily unavailable (HTTP %d); try the sign-in again in a moment.", endpoint, st),
					errors.New(scrubRetrieve(err)))
			default:
				return clinicsync.Errorf(clinicsync.ESignedOut, "%s (HTTP %d).", prefix, st)
			}
		}
	}
	if ne := networkCause(err); ne != nil {
		return ne
	}
	return clinicsync.Retryable(clinicsync.EUnavailable, prefix+": Askara's sign-in service could not be reached.", errors.New(scrubRetrieve(err)))
}

// networkCause is the sentence of a sign-in call that got no answer
// through sync/netclient (a proxy that asks for a sign-in, a certificate
// from an inspecting proxy, no network...), from sync/askara's one
// classifier of network failures; nil for any other error.
func networkCause(err error) *clinicsync.Error {
	var re *netclient.RouteError
	var ue *url.Error
	if !errors.As(err, &re) || !errors.As(err, &ue) {
		return nil
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil || u.Host == "" {
		return nil
	}
	return askara.NetworkError(context.Background(), err, u)
}

// WithClient returns ctx carrying hc for every sign-in call (x/oauth2's
// token, refresh and device-code requests, and Revoke): the one client of
// sync/netclient, with the clinic's proxy.
func WithClient(ctx context.Context, hc *http.Client) context.Context {
	if hc == nil {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

// httpClient is the client ctx carries (WithClient), else Go's default.
func httpClient(ctx context.Context) *http.Client {
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc != nil {
		return hc
	}
	return http.DefaultClient
}

func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func page(w io.Writer, title, text string) {
	fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>%s</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:4em auto"><h1>%s</h1><p>%s</p></body></html>`,
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
}

// DeviceCode is what a person needs to approve a code sign-in.
type DeviceCode struct {
	Code        string    // the code to enter ("BCDF-GHJK")
	URL         string    // the page where it is entered
	URLComplete string    // the page with the code filled in ("" if the server gives none)
	Expires     time.Time // when the code stops working (zero if not said)
}

// DeviceOptions tune LoginDevice.
type DeviceOptions struct {
	Out io.Writer // where the code and the page are printed; nil: nowhere
	// Prompt, when set, is given the code and the page once the server
	// issued them. It runs on LoginDevice's goroutine and must not block.
	Prompt func(DeviceCode)
}

// LoginDevice runs the device-code flow: it prints (and prompts) the code
// and the page to visit, then polls at the interval the server gives until
// the user acts.
func LoginDevice(ctx context.Context, c Config, o DeviceOptions) (*oauth2.Token, error) {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	if c.DeviceURL == "" {
		return nil, clinicsync.Errorf(clinicsync.EConfig, "No device_url is configured for the device sign-in.")
	}
	oc := c.OAuth2()
	da, err := oc.DeviceAuth(ctx)
	if err != nil {
		return nil, tokenError("Askara refused to start a device sign-in", "device_url", err)
	}
	fmt.Fprintf(out, "To sign in, open %s on any device and enter the code:\n\n    %s\n\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(out, "(or open %s)\n", da.VerificationURIComplete)
	}
	fmt.Fprintf(out, "Waiting for you to approve...\n")
	if o.Prompt != nil {
		o.Prompt(DeviceCode{Code: da.UserCode, URL: da.VerificationURI, URLComplete: da.VerificationURIComplete, Expires: da.Expiry})
	}
	tok, err := oc.DeviceAccessToken(ctx, da)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			switch re.ErrorCode {
			case "expired_token":
				return nil, clinicsync.Errorf(clinicsync.ESignedOut, "The code %s expired before it was approved; start the sign-in again.", da.UserCode)
			case "access_denied":
				return nil, clinicsync.Errorf(clinicsync.ESignedOut, "The sign-in was denied on the approval page.")
			}
		}
		if ctx.Err() != nil {
			return nil, &clinicsync.Error{Code: clinicsync.ECanceled, Message: "Sign-in was interrupted.", Err: ctx.Err()}
		}
		return nil, tokenError("The device sign-in failed", "token_url", err)
	}
	return tok, nil
}

// Revoke tells the server to end the grant of a refresh token (RFC 7009),
// with the client ctx carries (WithClient).
func Revoke(ctx context.Context, c Config, refreshToken string) error {
	if c.RevokeURL == "" || refreshToken == "" {
		return nil
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {c.ClientID}}
	if c.ClientSecret != "" {
		form.Set("client_secret", c.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := httpClient(ctx).Do(req)
	if err != nil {
		if ne := networkCause(err); ne != nil {
			return ne
		}
		return clinicsync.Retryable(clinicsync.EUnavailable, "Askara could not be told about the sign-out.", errors.New("revoke endpoint unreachable"))
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return clinicsync.Errorf(clinicsync.EUnavailable, "Askara did not accept the sign-out (HTTP %d).", resp.StatusCode)
	}
	return nil
}
