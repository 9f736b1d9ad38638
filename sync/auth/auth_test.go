package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
)

// rotatingServer is a token endpoint with single-use refresh tokens and
// reuse detection, counting refresh grants.
type rotatingServer struct {
	mu       sync.Mutex
	valid    map[string]bool // refresh tokens that may be used
	used     map[string]bool
	n        int
	refresh  atomic.Int64
	revoked  bool
	accessSz int
}

func (s *rotatingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	rt := r.Form.Get("refresh_token")
	if r.Form.Get("grant_type") != "refresh_token" || rt == "" {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	if s.used[rt] {
		s.revoked = true // reuse: revoke the family
	}
	if s.revoked || !s.valid[rt] {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":"invalid_grant","error_description":"refresh token revoked"}`)
		return
	}
	s.used[rt], s.valid[rt] = true, false
	s.n++
	s.refresh.Add(1)
	nrt := fmt.Sprintf("rt-%d", s.n)
	s.valid[nrt] = true
	access := fmt.Sprintf("at-%d-", s.n) + strings.Repeat("x", s.accessSz)
	json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600, "refresh_token": nrt})
}

func newRotating(t *testing.T, first string) (*rotatingServer, *httptest.Server) {
	s := &rotatingServer{valid: map[string]bool{first: true}, used: map[string]bool{}}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func TestKeychainRoundTripSplitsLargeValues(t *testing.T) {
	k := Keychain{Service: "Clinic Sync test", User: "askara:test"}
	if s, err := k.Load(); s != nil || err != nil {
		t.Fatalf("empty keychain: %v %v", s, err)
	}
	big := strings.Repeat("R", 4096) // a 4 KB refresh token
	if err := k.Save(&Saved{RefreshToken: big, Account: "Dr Jane Doe"}); err != nil {
		t.Fatal(err)
	}
	// Every credential stays under Windows' 2,560-byte limit.
	for i := 0; i < 10; i++ {
		v, err := keyring.Get(k.Service, k.key(i))
		if err != nil {
			break
		}
		if len(v) > 2560/2 { // UTF-16 on Windows: 2 bytes per character
			t.Fatalf("credential %d is %d bytes", i, len(v))
		}
	}
	got, err := k.Load()
	if err != nil || got.RefreshToken != big || got.Account != "Dr Jane Doe" {
		t.Fatalf("load: %v", err)
	}
	// A smaller value replaces it and leaves no stale chunk.
	if err := k.Save(&Saved{RefreshToken: "small"}); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.Get(k.Service, k.key(3)); err == nil {
		t.Fatal("stale chunk left behind")
	}
	if got, _ := k.Load(); got.RefreshToken != "small" {
		t.Fatalf("after shrink: %+v", got)
	}
	if err := k.Delete(); err != nil {
		t.Fatal(err)
	}
	if s, _ := k.Load(); s != nil {
		t.Fatal("delete left the sign-in")
	}
	if err := k.Delete(); err != nil {
		t.Fatalf("deleting nothing: %v", err)
	}
}

func TestConcurrentCallersShareOneRefresh(t *testing.T) {
	srv, ts := newRotating(t, "rt-0")
	k := Keychain{Service: "Clinic Sync test", User: "concurrent"}
	k.Save(&Saved{RefreshToken: "rt-0"})
	src := NewSource(context.Background(), Config{TokenURL: ts.URL, ClientID: "c"}, k, nil)
	var wg sync.WaitGroup
	toks := make([]string, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := src.Token()
			if err != nil {
				t.Error(err)
				return
			}
			toks[i] = tok.AccessToken
		}()
	}
	wg.Wait()
	if srv.refresh.Load() != 1 {
		t.Fatalf("%d refreshes for 50 concurrent callers", srv.refresh.Load())
	}
	for _, a := range toks {
		if a != toks[0] {
			t.Fatal("callers got different tokens")
		}
	}
	// The rotated refresh token was saved before the access token was used.
	if s, _ := k.Load(); s.RefreshToken != "rt-1" {
		t.Fatalf("keychain holds %q after rotation", s.RefreshToken)
	}
	// A 401 invalidates: the next call refreshes once more, with the new token.
	tok, _ := src.Token()
	src.Invalidate(tok)
	src.Invalidate(tok) // a second 401 for the same token changes nothing
	if tok2, err := src.Token(); err != nil || tok2.AccessToken == tok.AccessToken || srv.refresh.Load() != 2 {
		t.Fatalf("after invalidate: %v, %d refreshes", err, srv.refresh.Load())
	}
}

// The crash right after a refresh response: the new refresh token is in the
// keychain before Token returns, so a new process (a new Source on the same
// keychain) is still signed in. Had the old token been kept, its reuse would
// revoke the family — checked too.
func TestRestartAfterRefreshStaysSignedIn(t *testing.T) {
	srv, ts := newRotating(t, "rt-0")
	k := Keychain{Service: "Clinic Sync test", User: "restart"}
	k.Save(&Saved{RefreshToken: "rt-0"})
	cfg := Config{TokenURL: ts.URL, ClientID: "c"}
	if _, err := NewSource(context.Background(), cfg, k, nil).Token(); err != nil {
		t.Fatal(err)
	}
	// "Crash": the process is gone; a new one starts from the keychain.
	if _, err := NewSource(context.Background(), cfg, k, nil).Token(); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if srv.revoked {
		t.Fatal("the family was revoked: an old refresh token was reused")
	}
	// Reusing a spent token (what a design that saved too late would do) is caught.
	k.Save(&Saved{RefreshToken: "rt-0"})
	_, err := NewSource(context.Background(), cfg, k, nil).Token()
	if clinicsync.ErrorCode(err) != clinicsync.ESignedOut || !strings.Contains(clinicsync.ErrorMessage(err), "sign in again") {
		t.Fatalf("reused refresh token: %v", err)
	}
}

func TestNotSignedInAndRefusedRefresh(t *testing.T) {
	_, ts := newRotating(t, "never")
	k := Keychain{Service: "Clinic Sync test", User: "nobody"}
	src := NewSource(context.Background(), Config{TokenURL: ts.URL}, k, nil)
	if _, err := src.Token(); clinicsync.ErrorCode(err) != clinicsync.ESignedOut {
		t.Fatalf("nothing stored: %v", err)
	}
	k.Save(&Saved{RefreshToken: "bogus"})
	_, err := src.Token()
	if clinicsync.ErrorCode(err) != clinicsync.ESignedOut || strings.Contains(err.Error(), "bogus") {
		t.Fatalf("refused refresh: %v", err)
	}
	// Signed out stays signed out (no refresh storm) until Adopt.
	if _, err := src.Token(); clinicsync.ErrorCode(err) != clinicsync.ESignedOut {
		t.Fatal(err)
	}
	tok := &oauth2.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)}
	if err := src.Adopt(tok, "Dr X"); err != nil {
		t.Fatal(err)
	}
	if got, err := src.Token(); err != nil || got.AccessToken != "a" {
		t.Fatalf("after adopt: %v", err)
	}
}

// authServer is a minimal authorization server for the browser flow: it
// checks PKCE and the redirect, like the simulator does.
func TestLoginBrowserPKCEAndState(t *testing.T) {
	var challenge, redirect string
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" {
			http.Error(w, "no pkce", 400)
			return
		}
		challenge, redirect = q.Get("code_challenge"), q.Get("redirect_uri")
		http.Redirect(w, r, redirect+"?code=the-code&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if oauth2.S256ChallengeFromVerifier(r.Form.Get("code_verifier")) != challenge || r.Form.Get("code") != "the-code" ||
			r.Form.Get("redirect_uri") != redirect {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"at","refresh_token":"rt","token_type":"Bearer","expires_in":3600}`)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	cfg := Config{AuthorizeURL: ts.URL + "/authorize", TokenURL: ts.URL + "/token", ClientID: "c"}

	// The browser: first a forged callback with a wrong state, then the real flow.
	open := func(u string) error {
		go func() {
			pu, _ := url.Parse(u)
			cb := pu.Query().Get("redirect_uri")
			resp, err := http.Get(cb + "?code=evil&state=wrong")
			if err != nil || resp.StatusCode != 400 {
				t.Errorf("forged callback accepted: %v", err)
			} else {
				resp.Body.Close()
			}
			resp, err = http.Get(u)
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), "You can close this tab") {
				t.Errorf("final page: %s", body)
			}
		}()
		return nil
	}
	tok, err := LoginBrowser(context.Background(), cfg, BrowserOptions{Open: open})
	if err != nil || tok.AccessToken != "at" || tok.RefreshToken != "rt" {
		t.Fatalf("login: %+v %v", tok, err)
	}
	if !strings.HasPrefix(redirect, "http://127.0.0.1:") {
		t.Fatalf("redirect %s is not loopback", redirect)
	}

	// Nobody answers: a clear timeout.
	_, err = LoginBrowser(context.Background(), cfg, BrowserOptions{Timeout: 100 * time.Millisecond})
	if !strings.Contains(clinicsync.ErrorMessage(err), "timed out") {
		t.Fatalf("timeout: %v", err)
	}
}

// A sign-in made by another process (clinicsync login while `run` is
// signed out) is picked up from the keychain without a restart.
func TestSignedOutSourcePicksUpNewSignIn(t *testing.T) {
	_, ts := newRotating(t, "fresh")
	k := Keychain{Service: "Clinic Sync test", User: "pickup"}
	k.Save(&Saved{RefreshToken: "revoked-one"})
	src := NewSource(context.Background(), Config{TokenURL: ts.URL}, k, nil)
	if _, err := src.Token(); clinicsync.ErrorCode(err) != clinicsync.ESignedOut {
		t.Fatalf("revoked: %v", err)
	}
	before := src.Refreshes()
	if _, err := src.Token(); clinicsync.ErrorCode(err) != clinicsync.ESignedOut || src.Refreshes() != before {
		t.Fatal("a signed-out source must not try the refused token again")
	}
	k.Save(&Saved{RefreshToken: "fresh"}) // the other process signed in
	if tok, err := src.Token(); err != nil || tok.AccessToken == "" {
		t.Fatalf("after a new sign-in: %v", err)
	}
}

// Signing out in the window drops the in-memory token at once (not at its
// expiry) and a later sign-in is picked up.
func TestSignOutForgetsTheTokenAtOnce(t *testing.T) {
	rs, ts := newRotating(t, "first")
	k := Keychain{Service: "Clinic Sync test", User: "signout"}
	k.Save(&Saved{RefreshToken: "first", Account: "Dr Who, Cabinet X"})
	src := NewSource(context.Background(), Config{TokenURL: ts.URL}, k, nil)
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	if got := src.Account(); got != "Dr Who, Cabinet X" {
		t.Fatalf("account %q", got)
	}
	k.Delete()
	src.SignOut()
	if _, err := src.Token(); clinicsync.ErrorCode(err) != clinicsync.ESignedOut {
		t.Fatalf("after sign-out: %v", err)
	}
	if src.Account() != "" {
		t.Fatal("account kept after sign-out")
	}
	rs.mu.Lock()
	rs.valid["second"] = true
	rs.mu.Unlock()
	k.Save(&Saved{RefreshToken: "second", Account: "Dr Who"})
	if _, err := src.Token(); err != nil {
		t.Fatalf("after a new sign-in: %v", err)
	}
}

func TestWebhookSecretKeychainAndEnvironment(t *testing.T) {
	if err := SetWebhookSecret("Clinic Sync test", "nabla", "from-keychain"); err != nil {
		t.Fatal(err)
	}
	if got := WebhookSecret("Clinic Sync test", "nabla"); got != "from-keychain" {
		t.Fatalf("keychain: %q", got)
	}
	t.Setenv("CLINICSYNC_NABLA_WEBHOOK_SECRET", "from-env")
	if got := WebhookSecret("Clinic Sync test", "nabla"); got != "from-env" {
		t.Fatalf("environment: %q", got)
	}
	t.Setenv("CLINICSYNC_NABLA_WEBHOOK_SECRET", "")
	SetWebhookSecret("Clinic Sync test", "nabla", "")
	if got := WebhookSecret("Clinic Sync test", "nabla"); got != "" {
		t.Fatalf("after delete: %q", got)
	}
}

// A token or device endpoint that answers without an OAuth error code (a
// wrong address, a server error) is named with its address and status,
// not reported as "Askara refused the sign-in ()".
func TestTokenEndpointErrorsNameTheEndpoint(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code=c&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("/busy/token", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream down", http.StatusServiceUnavailable)
	})
	ts := httptest.NewServer(mux) // every other path: 404
	defer ts.Close()
	browse := func(u string) error {
		go func() {
			if resp, err := http.Get(u); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		return nil
	}
	for _, tc := range []struct {
		name, token, device string
		code, want          string
	}{
		{"token 404", "/oauth2/token", "", clinicsync.EConfig,
			"Askara has no token endpoint at {URL}/oauth2/token: check token_url in the configuration file."},
		{"token 503", "/busy/token", "", clinicsync.EUnavailable,
			"Askara's token endpoint is temporarily unavailable (HTTP 503); try the sign-in again in a moment."},
		{"device 404", "/oauth2/token", "/oauth2/device", clinicsync.EConfig,
			"Askara has no device sign-in endpoint at {URL}/oauth2/device: check device_url in the configuration file."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{AuthorizeURL: ts.URL + "/authorize", TokenURL: ts.URL + tc.token, ClientID: "c"}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var err error
			if tc.device != "" {
				cfg.DeviceURL = ts.URL + tc.device
				_, err = LoginDevice(ctx, cfg, DeviceOptions{})
			} else {
				_, err = LoginBrowser(ctx, cfg, BrowserOptions{Open: browse, Timeout: 20 * time.Second})
			}
			want := strings.ReplaceAll(tc.want, "{URL}", ts.URL)
			if got := clinicsync.ErrorMessage(err); got != want || clinicsync.ErrorCode(err) != tc.code {
				t.Fatalf("%s %q\nwant %s %q", clinicsync.ErrorCode(err), got, tc.code, want)
			}
		})
	}
}

// The proxy sign-in round-trips through the keychain, and is removed.
func TestProxyCredentialsInKeychain(t *testing.T) {
	const service = "Clinic Sync proxy test"
	t.Cleanup(func() { SetProxyCredentials(service, "", "") })
	if _, _, ok := ProxyCredentials(service); ok {
		t.Fatal("a proxy sign-in before any was kept")
	}
	if err := SetProxyCredentials(service, `CLINIC\nurse`, "s3cr:et\n"); err != nil {
		t.Fatal(err)
	}
	if u, p, ok := ProxyCredentials(service); !ok || u != `CLINIC\nurse` || p != "s3cr:et\n" {
		t.Fatalf("read back %q %q %v", u, p, ok)
	}
	if err := SetProxyCredentials(service, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := ProxyCredentials(service); ok {
		t.Fatal("still there after removal")
	}
}
