package sim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/clinicsync/clinicsync/sync/clocktest"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	formCT = "application/x-www-form-urlencoded"
	jsonCT = "application/json"
	testCB = "http://127.0.0.1:53682/callback"
)

// oauthClient starts an OAuth server; its client follows no redirects and
// sends no token until one is set.
func oauthClient(t *testing.T, o Options) (*Server, *tclient, *clocktest.Clock) {
	t.Helper()
	clk := newFakeClock()
	o.OAuth = true
	o.Now = clk.Now
	o.Documents = max(o.Documents, 2)
	s := New(o)
	c := start(t, s)
	hc := *c.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &hc
	c.token = ""
	return s, c, clk
}

func pkcePair(t *testing.T) (verifier, challenge string) {
	verifier = randToken(64)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeURL(challenge, redirect, state string) string {
	return "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {"clinicsync-desktop"}, "redirect_uri": {redirect},
		"scope": {"profile organization"}, "state": {state},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}.Encode()
}

// redirected checks a 302 to redirect and returns its query.
func redirected(t *testing.T, resp *http.Response, body []byte, redirect string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("want 302, got %d %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect {
		t.Fatalf("redirected to %s, want %s", loc, redirect)
	}
	return loc.Query()
}

// getCode runs /authorize (AutoApprove) and returns the code.
func getCode(t *testing.T, c *tclient, challenge, redirect, state string) string {
	t.Helper()
	resp, b := c.do("GET", authorizeURL(challenge, redirect, state), "")
	q := redirected(t, resp, b, redirect)
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}
	return q.Get("code")
}

type tokenResp struct {
	status int
	header http.Header
	m      map[string]any
}

func (r tokenResp) str(k string) string { s, _ := r.m[k].(string); return s }

// token posts params to /oauth2/token as ct; hdr is extra name, value pairs.
func token(t *testing.T, c *tclient, ct string, p map[string]string, hdr ...string) tokenResp {
	t.Helper()
	var body string
	if ct == jsonCT {
		b, _ := json.Marshal(p)
		body = string(b)
	} else {
		v := url.Values{}
		for k, x := range p {
			v.Set(k, x)
		}
		body = v.Encode()
	}
	resp, b := c.do("POST", "/oauth2/token", body, append([]string{"Content-Type", ct}, hdr...)...)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("token body: %v: %s", err, b)
	}
	return tokenResp{resp.StatusCode, resp.Header, m}
}

func wantError(t *testing.T, r tokenResp, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code || r.str("error_description") == "" {
		t.Fatalf("want %d %s, got %d %v", status, code, r.status, r.m)
	}
	if _, ok := r.m["access_token"]; ok {
		t.Fatalf("error carries a token: %v", r.m)
	}
}

func wantTokens(t *testing.T, r tokenResp) (access, refresh string) {
	t.Helper()
	if r.status != 200 || r.str("token_type") != "Bearer" || r.m["expires_in"] != float64(3600) ||
		r.str("access_token") == "" || r.str("refresh_token") == "" {
		t.Fatalf("token response %d %v", r.status, r.m)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	return r.str("access_token"), r.str("refresh_token")
}

func codeGrant(code, verifier, redirect string) map[string]string {
	return map[string]string{"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
		"redirect_uri": redirect, "client_id": "clinicsync-desktop"}
}

func refreshGrant(rt string) map[string]string {
	return map[string]string{"grant_type": "refresh_token", "refresh_token": rt, "client_id": "clinicsync-desktop"}
}

// apiStatus calls GET path with the bearer token.
func apiStatus(c *tclient, path, tok string) (*http.Response, []byte) {
	c.t.Helper()
	return c.do("GET", path, "", "Authorization", "Bearer "+tok)
}

func TestOAuthAuthorizationCodeFlow(t *testing.T) {
	for _, ct := range []string{formCT, jsonCT} {
		t.Run(ct, func(t *testing.T) {
			s, c, _ := oauthClient(t, Options{})
			// Without AutoApprove: the consent page, then Allow.
			verifier, challenge := pkcePair(t)
			resp, b := c.do("GET", authorizeURL(challenge, testCB, "st&=?é"), "")
			if resp.StatusCode != 200 || !strings.Contains(string(b), "Allow") || !strings.Contains(string(b), "Deny") {
				t.Fatalf("consent page: %d %s", resp.StatusCode, b)
			}
			m := regexp.MustCompile(`name="request_id" value="([^"]+)"`).FindSubmatch(b)
			if m == nil {
				t.Fatalf("no request_id in %s", b)
			}
			form := url.Values{"request_id": {string(m[1])}, "action": {"allow"}}.Encode()
			resp, b = c.do("POST", "/authorize", form, "Content-Type", formCT)
			q := redirected(t, resp, b, testCB)
			if q.Get("state") != "st&=?é" || q.Get("code") == "" {
				t.Fatalf("redirect query %v", q)
			}
			// The request id is single-use.
			if resp, _ := c.do("POST", "/authorize", form, "Content-Type", formCT); resp.StatusCode != 400 {
				t.Fatalf("consent replay: %d", resp.StatusCode)
			}

			// Without a token the API refuses.
			if resp, _ := c.do("GET", "/documents", ""); resp.StatusCode != 401 {
				t.Fatalf("no token: %d", resp.StatusCode)
			}
			r := token(t, c, ct, codeGrant(q.Get("code"), verifier, testCB))
			at, _ := wantTokens(t, r)
			if r.str("scope") != "profile organization" {
				t.Fatalf("scope %q", r.str("scope"))
			}
			if resp, b := apiStatus(c, "/documents", at); resp.StatusCode != 200 {
				t.Fatalf("API with the issued token: %d %s", resp.StatusCode, b)
			}
			// Options.Token-style arbitrary tokens are refused under OAuth.
			if resp, _ := apiStatus(c, "/documents", "test-token"); resp.StatusCode != 401 {
				t.Fatalf("made-up token: %d", resp.StatusCode)
			}
			reqs := s.TokenRequests()
			if len(reqs) != 1 || reqs[0].GrantType != GrantAuthorizationCode || reqs[0].ContentType != ct ||
				reqs[0].Outcome != "ok" || reqs[0].Status != 200 || reqs[0].ClientAuth != "none" {
				t.Fatalf("TokenRequests %+v", reqs)
			}
		})
	}
}

func TestOAuthConsentDeny(t *testing.T) {
	_, c, _ := oauthClient(t, Options{})
	_, challenge := pkcePair(t)
	_, b := c.do("GET", authorizeURL(challenge, testCB, "xyz"), "")
	m := regexp.MustCompile(`name="request_id" value="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no request_id in %s", b)
	}
	resp, b := c.do("POST", "/authorize", url.Values{"request_id": {string(m[1])}, "action": {"deny"}}.Encode(), "Content-Type", formCT)
	q := redirected(t, resp, b, testCB)
	if q.Get("error") != "access_denied" || q.Get("state") != "xyz" || q.Has("code") {
		t.Fatalf("deny redirect %v", q)
	}
}

func TestOAuthRedirectURI(t *testing.T) {
	_, c, _ := oauthClient(t, Options{AutoApprove: true})
	_, challenge := pkcePair(t)
	for _, bad := range []string{
		"https://evil.example/cb", "http://evil.example/cb", "http://127.0.0.1.evil.example/cb",
		"https://127.0.0.1:8080/cb", "http://user@127.0.0.1/cb", "urn:ietf:wg:oauth:2.0:oob", "",
	} {
		resp, b := c.do("GET", authorizeURL(challenge, bad, "s"), "")
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Errorf("redirect_uri %q: %d %s (Location %q)", bad, resp.StatusCode, b, resp.Header.Get("Location"))
		}
	}
	for _, good := range []string{"http://127.0.0.1:1234/cb", "http://[::1]:8080/", "http://localhost/callback", "http://127.0.0.1/"} {
		getCode(t, c, challenge, good, "s")
	}
	// Unknown client: an error page, no redirect.
	u := strings.Replace(authorizeURL(challenge, testCB, "s"), "clinicsync-desktop", "other", 1)
	if resp, _ := c.do("GET", u, ""); resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Errorf("unknown client: %d", resp.StatusCode)
	}
	// plain PKCE: an error redirect.
	u = strings.Replace(authorizeURL(challenge, testCB, "s"), "S256", "plain", 1)
	resp, b := c.do("GET", u, "")
	if q := redirected(t, resp, b, testCB); q.Get("error") != "invalid_request" || q.Get("state") != "s" {
		t.Errorf("plain PKCE: %v", q)
	}
}

func TestOAuthCodeErrors(t *testing.T) {
	s, c, clk := oauthClient(t, Options{AutoApprove: true})
	verifier, challenge := pkcePair(t)

	// Wrong verifier; the attempt uses the code up.
	code := getCode(t, c, challenge, testCB, "a")
	other, _ := pkcePair(t)
	wantError(t, token(t, c, formCT, codeGrant(code, other, testCB)), 400, "invalid_grant")
	wantError(t, token(t, c, formCT, codeGrant(code, verifier, testCB)), 400, "invalid_grant")
	// Plain (verifier == challenge) is not accepted.
	code = getCode(t, c, challenge, testCB, "a")
	wantError(t, token(t, c, formCT, codeGrant(code, challenge, testCB)), 400, "invalid_grant")

	// Wrong redirect_uri.
	code = getCode(t, c, challenge, testCB, "a")
	wantError(t, token(t, c, jsonCT, codeGrant(code, verifier, "http://127.0.0.1:53682/other")), 400, "invalid_grant")

	// Reused code: refused, and what it issued is revoked.
	code = getCode(t, c, challenge, testCB, "a")
	at, rt := wantTokens(t, token(t, c, formCT, codeGrant(code, verifier, testCB)))
	wantError(t, token(t, c, formCT, codeGrant(code, verifier, testCB)), 400, "invalid_grant")
	if resp, _ := apiStatus(c, "/documents", at); resp.StatusCode != 401 {
		t.Fatalf("token from a replayed code still works: %d", resp.StatusCode)
	}
	wantError(t, token(t, c, formCT, refreshGrant(rt)), 400, "invalid_grant")
	if s.RevokedFamilies() != 1 {
		t.Fatalf("RevokedFamilies %d", s.RevokedFamilies())
	}

	// Expired code (60 s).
	code = getCode(t, c, challenge, testCB, "a")
	clk.Advance(61 * time.Second)
	wantError(t, token(t, c, formCT, codeGrant(code, verifier, testCB)), 400, "invalid_grant")

	// Unknown client, bad grant types, bad bodies.
	p := codeGrant(getCode(t, c, challenge, testCB, "a"), verifier, testCB)
	p["client_id"] = "intruder"
	wantError(t, token(t, c, formCT, p), 401, "invalid_client")
	wantError(t, token(t, c, formCT, map[string]string{"grant_type": "password", "client_id": "clinicsync-desktop"}), 400, "unsupported_grant_type")
	wantError(t, token(t, c, "text/plain", codeGrant("x", verifier, testCB)), 400, "invalid_request")
	resp, b := c.do("POST", "/oauth2/token", `{"grant_type":"authorization_code","client_id":"clinicsync-desktop","code":5}`)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "invalid_request") {
		t.Fatalf("non-string JSON field: %d %s", resp.StatusCode, b)
	}
	if resp, _ := c.do("GET", "/oauth2/token", ""); resp.StatusCode != 405 {
		t.Fatalf("GET token endpoint: %d", resp.StatusCode)
	}
}

func TestOAuthClientSecret(t *testing.T) {
	s, c, _ := oauthClient(t, Options{AutoApprove: true, ClientSecret: "s3cr3t"})
	verifier, challenge := pkcePair(t)
	wantError(t, token(t, c, formCT, codeGrant(getCode(t, c, challenge, testCB, "a"), verifier, testCB)), 401, "invalid_client")
	p := codeGrant(getCode(t, c, challenge, testCB, "a"), verifier, testCB)
	p["client_secret"] = "wrong"
	wantError(t, token(t, c, formCT, p), 401, "invalid_client")
	p["client_secret"] = "s3cr3t"
	p["code"] = getCode(t, c, challenge, testCB, "a")
	_, rt := wantTokens(t, token(t, c, jsonCT, p))
	// HTTP Basic (form-encoded id and secret, as golang.org/x/oauth2 sends).
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("clinicsync-desktop:s3cr3t"))
	rg := refreshGrant(rt)
	delete(rg, "client_id")
	wantTokens(t, token(t, c, formCT, rg, "Authorization", basic))
	reqs := s.TokenRequests()
	if got := reqs[len(reqs)-1]; got.ClientAuth != "basic" || got.Outcome != "ok" || got.GrantType != GrantRefreshToken {
		t.Fatalf("last TokenRequest %+v", got)
	}
	if got := reqs[0]; got.Outcome != "invalid_client" || got.Status != 401 {
		t.Fatalf("first TokenRequest %+v", got)
	}
}

func TestOAuthRefreshRotation(t *testing.T) {
	s, c, _ := oauthClient(t, Options{AutoApprove: true})
	verifier, challenge := pkcePair(t)
	at1, rt1 := wantTokens(t, token(t, c, formCT, codeGrant(getCode(t, c, challenge, testCB, "a"), verifier, testCB)))
	at2, rt2 := wantTokens(t, token(t, c, formCT, refreshGrant(rt1)))
	if rt2 == rt1 || at2 == at1 {
		t.Fatal("refresh did not rotate the tokens")
	}
	if s.RefreshCount() != 1 {
		t.Fatalf("RefreshCount %d", s.RefreshCount())
	}
	if resp, _ := apiStatus(c, "/documents", at2); resp.StatusCode != 200 {
		t.Fatalf("new access token: %d", resp.StatusCode)
	}
	// The old refresh token is used up; presenting it revokes the family.
	wantError(t, token(t, c, jsonCT, refreshGrant(rt1)), 400, "invalid_grant")
	if s.RevokedFamilies() != 1 {
		t.Fatalf("RevokedFamilies %d", s.RevokedFamilies())
	}
	for _, at := range []string{at1, at2} {
		resp, _ := apiStatus(c, "/documents", at)
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("access token of a revoked family: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	wantError(t, token(t, c, formCT, refreshGrant(rt2)), 400, "invalid_grant")
	if s.RefreshCount() != 1 || s.RevokedFamilies() != 1 {
		t.Fatalf("RefreshCount %d RevokedFamilies %d", s.RefreshCount(), s.RevokedFamilies())
	}

	// Another sign-in is unaffected, and /oauth2/revoke ends it.
	_, rt3 := wantTokens(t, token(t, c, formCT, codeGrant(getCode(t, c, challenge, testCB, "b"), verifier, testCB)))
	at4, rt4 := wantTokens(t, token(t, c, formCT, refreshGrant(rt3)))
	resp, _ := c.do("POST", "/oauth2/revoke", url.Values{"token": {rt4}, "client_id": {"clinicsync-desktop"}}.Encode(), "Content-Type", formCT)
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := apiStatus(c, "/documents", at4); resp.StatusCode != 401 {
		t.Fatalf("access token after revoke: %d", resp.StatusCode)
	}
	wantError(t, token(t, c, formCT, refreshGrant(rt4)), 400, "invalid_grant")
	if resp, _ := c.do("POST", "/oauth2/revoke", "token=unknown", "Content-Type", formCT); resp.StatusCode != 200 {
		t.Fatalf("revoke of an unknown token: %d", resp.StatusCode)
	}
	if s.RevokedFamilies() != 2 || s.RefreshCount() != 2 {
		t.Fatalf("RefreshCount %d RevokedFamilies %d", s.RefreshCount(), s.RevokedFamilies())
	}
}

func deviceStart(t *testing.T, c *tclient) (deviceCode, userCode string, m map[string]any) {
	t.Helper()
	resp, b := c.do("POST", "/oauth2/device", "client_id=clinicsync-desktop&scope=read%3Adocuments", "Content-Type", formCT)
	if resp.StatusCode != 200 {
		t.Fatalf("device: %d %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	dc, _ := m["device_code"].(string)
	uc, _ := m["user_code"].(string)
	if dc == "" || !regexp.MustCompile(`^[A-Z]{4}-[A-Z]{4}$`).MatchString(uc) {
		t.Fatalf("device response %s", b)
	}
	return dc, uc, m
}

func devicePoll(t *testing.T, c *tclient, dc string) tokenResp {
	t.Helper()
	return token(t, c, formCT, map[string]string{"grant_type": GrantDeviceCode, "device_code": dc, "client_id": "clinicsync-desktop"})
}

func TestOAuthDeviceFlow(t *testing.T) {
	s, c, clk := oauthClient(t, Options{DeviceInterval: 2 * time.Second})
	dc, uc, m := deviceStart(t, c)
	if m["verification_uri"] != c.base+"/device" || m["verification_uri_complete"] != c.base+"/device?user_code="+uc ||
		m["expires_in"] != float64(600) || m["interval"] != float64(2) {
		t.Fatalf("device response %v", m)
	}
	wantError(t, devicePoll(t, c, dc), 400, "authorization_pending")
	clk.Advance(time.Second)
	wantError(t, devicePoll(t, c, dc), 400, "slow_down")
	// The interval is now 7 s: 3 s later is still too fast.
	clk.Advance(3 * time.Second)
	wantError(t, devicePoll(t, c, dc), 400, "slow_down")
	clk.Advance(12 * time.Second) // interval now 12 s
	wantError(t, devicePoll(t, c, dc), 400, "authorization_pending")

	// The verification page shows the code with Allow / Deny.
	resp, b := c.do("GET", "/device?user_code="+strings.ToLower(uc), "")
	if resp.StatusCode != 200 || !strings.Contains(string(b), uc) || !strings.Contains(string(b), "Allow") {
		t.Fatalf("device page: %d %s", resp.StatusCode, b)
	}
	resp, b = c.do("POST", "/device", url.Values{"user_code": {uc}, "action": {"allow"}}.Encode(), "Content-Type", formCT)
	if resp.StatusCode != 200 {
		t.Fatalf("device approve: %d %s", resp.StatusCode, b)
	}
	if err := s.ApproveDevice(uc); err == nil {
		t.Fatal("second approval accepted")
	}
	clk.Advance(12 * time.Second)
	at, _ := wantTokens(t, devicePoll(t, c, dc))
	if resp, _ := apiStatus(c, "/documents", at); resp.StatusCode != 200 {
		t.Fatalf("device token: %d", resp.StatusCode)
	}
	wantError(t, devicePoll(t, c, dc), 400, "invalid_grant") // used up

	// Denied.
	dc, uc, _ = deviceStart(t, c)
	if err := s.DenyDevice(uc); err != nil {
		t.Fatal(err)
	}
	wantError(t, devicePoll(t, c, dc), 400, "access_denied")

	// Expired.
	dc, uc, _ = deviceStart(t, c)
	wantError(t, devicePoll(t, c, dc), 400, "authorization_pending")
	clk.Advance(10 * time.Minute)
	if err := s.ApproveDevice(uc); err == nil {
		t.Fatal("approved an expired device code")
	}
	wantError(t, devicePoll(t, c, dc), 400, "expired_token")
	if err := s.ApproveDevice("ZZZZ-ZZZZ"); err == nil {
		t.Fatal("approved an unknown user code")
	}
}

func TestOAuthExpiredAccessToken(t *testing.T) {
	s, c, clk := oauthClient(t, Options{AutoApprove: true})
	verifier, challenge := pkcePair(t)
	at, rt := wantTokens(t, token(t, c, formCT, codeGrant(getCode(t, c, challenge, testCB, "a"), verifier, testCB)))
	clk.Advance(59 * time.Minute)
	if resp, _ := apiStatus(c, "/documents", at); resp.StatusCode != 200 {
		t.Fatalf("before expiry: %d", resp.StatusCode)
	}
	clk.Advance(time.Minute)
	const want = `Bearer error="invalid_token", error_description="The access token expired"`
	resp, _ := apiStatus(c, "/documents", at)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != want {
		t.Fatalf("expired: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	at, _ = wantTokens(t, token(t, c, formCT, refreshGrant(rt)))
	if resp, _ := apiStatus(c, "/me", at); resp.StatusCode != 200 {
		t.Fatalf("refreshed token: %d", resp.StatusCode)
	}
	s.ExpireAccessTokens()
	resp, _ = apiStatus(c, "/me", at)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != want {
		t.Fatalf("ExpireAccessTokens: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestOAuthTokenLength(t *testing.T) {
	_, c, _ := oauthClient(t, Options{AutoApprove: true, TokenLength: 4096})
	verifier, challenge := pkcePair(t)
	at, _ := wantTokens(t, token(t, c, formCT, codeGrant(getCode(t, c, challenge, testCB, "a"), verifier, testCB)))
	if len(at) != 4096 || !regexp.MustCompile(`^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`).MatchString(at) {
		t.Fatalf("token of %d characters: %.80s…", len(at), at)
	}
	if resp, _ := apiStatus(c, "/documents", at); resp.StatusCode != 200 {
		t.Fatalf("4 KB token: %d", resp.StatusCode)
	}
	_, c, _ = oauthClient(t, Options{AutoApprove: true})
	at, _ = wantTokens(t, token(t, c, formCT, codeGrant(getCode(t, c, challenge, testCB, "a"), verifier, testCB)))
	if len(at) != 64 {
		t.Fatalf("default token length %d", len(at))
	}
}

func TestOAuthMe(t *testing.T) {
	_, c, _ := oauthClient(t, Options{AutoApprove: true, Seed: 3})
	verifier, challenge := pkcePair(t)
	if resp, _ := c.do("GET", "/me", ""); resp.StatusCode != 401 {
		t.Fatalf("/me without a token: %d", resp.StatusCode)
	}
	c.token, _ = wantTokens(t, token(t, c, formCT, codeGrant(getCode(t, c, challenge, testCB, "a"), verifier, testCB)))

	type org struct{ UUID, Name, City, Country, Timezone, Role string }
	var get struct {
		UUID, Email, FirstName, LastName, OrganizationRole string
		Organization                                       *org
	}
	resp, b := c.do("GET", "/me", "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /me: %d %s", resp.StatusCode, b)
	}
	json.Unmarshal(b, &get)
	if get.UUID == "" || get.Email == "" || get.FirstName != "Jane" || get.LastName != "Doe" || get.OrganizationRole != "admin" ||
		get.Organization == nil || get.Organization.Name != "Cabinet Médical Demo" || get.Organization.UUID == "" ||
		get.Organization.City == "" || get.Organization.Country == "" || get.Organization.Timezone == "" {
		t.Fatalf("GET /me: %s", b)
	}
	var post struct {
		UUID, Email, FirstName, LastName string
		Organizations                    []org
	}
	resp, b = c.do("POST", "/me", "")
	if resp.StatusCode != 200 {
		t.Fatalf("POST /me: %d %s", resp.StatusCode, b)
	}
	json.Unmarshal(b, &post)
	if post.UUID != get.UUID || len(post.Organizations) != 1 || post.Organizations[0].UUID != get.Organization.UUID ||
		post.Organizations[0].Name != "Cabinet Médical Demo" || strings.Contains(string(b), `"organization"`) {
		t.Fatalf("POST /me: %s", b)
	}
	if resp, _ := c.do("DELETE", "/me", ""); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, POST" {
		t.Fatalf("DELETE /me: %d", resp.StatusCode)
	}
	// Without OAuth, /me still answers for the bearer token (the demo
	// shows who is signed in), and the OAuth routes do not exist.
	c2 := start(t, New(Options{}))
	if resp, _ := c2.do("GET", "/me", ""); resp.StatusCode != 200 {
		t.Fatalf("/me without OAuth: %d", resp.StatusCode)
	}
	if resp, _ := c2.do("POST", "/oauth2/token", "{}"); resp.StatusCode == 200 {
		t.Fatal("token endpoint served without OAuth")
	}
}

func TestOAuthNoSecretsInTokenRequests(t *testing.T) {
	s, c, clk := oauthClient(t, Options{AutoApprove: true, ClientSecret: "top-secret-value"})
	verifier, challenge := pkcePair(t)
	code := getCode(t, c, challenge, testCB, "a")
	p := codeGrant(code, verifier, testCB)
	p["client_secret"] = "top-secret-value"
	r := token(t, c, jsonCT, p)
	at, rt := wantTokens(t, r)
	r2 := token(t, c, formCT, map[string]string{"grant_type": "refresh_token", "refresh_token": rt,
		"client_id": "clinicsync-desktop", "client_secret": "top-secret-value"})
	at2, rt2 := wantTokens(t, r2)
	token(t, c, formCT, p) // reused code
	resp, b := c.do("POST", "/oauth2/device", "client_id=clinicsync-desktop", "Content-Type", formCT)
	var dm map[string]string
	json.Unmarshal(b, &dm)
	if resp.StatusCode != 200 {
		t.Fatalf("device: %d %s", resp.StatusCode, b)
	}
	clk.Advance(time.Second)
	token(t, c, formCT, map[string]string{"grant_type": GrantDeviceCode, "device_code": dm["device_code"],
		"client_id": "clinicsync-desktop", "client_secret": "top-secret-value"})
	reqs := s.TokenRequests()
	if len(reqs) != 4 {
		t.Fatalf("%d token requests", len(reqs))
	}
	dump := fmt.Sprintf("%+v %#v", reqs, reqs)
	for _, secret := range []string{"top-secret-value", verifier, code, at, rt, at2, rt2, dm["device_code"], dm["user_code"]} {
		if secret == "" || strings.Contains(dump, secret) {
			t.Fatalf("secret %q in TokenRequests (or empty)", secret)
		}
	}
}

func TestOAuthConcurrent(t *testing.T) {
	s, c, _ := oauthClient(t, Options{AutoApprove: true})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			verifier, challenge := pkcePair(t)
			resp, _, err := c.try("GET", authorizeURL(challenge, testCB, fmt.Sprint(i)), "")
			if err != nil || resp.StatusCode != 302 {
				errs <- fmt.Sprintf("authorize: %v", err)
				return
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
				"code_verifier": {verifier}, "redirect_uri": {testCB}, "client_id": {"clinicsync-desktop"}}
			var tr map[string]any
			for _, step := range []url.Values{form, nil} {
				if step == nil {
					step = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr["refresh_token"].(string)}, "client_id": {"clinicsync-desktop"}}
				}
				resp, b, err := c.try("POST", "/oauth2/token", step.Encode(), "Content-Type", formCT)
				if err != nil || resp.StatusCode != 200 {
					errs <- fmt.Sprintf("token: %v %s", err, b)
					return
				}
				tr = nil
				json.Unmarshal(b, &tr)
			}
			resp, b, err := c.try("GET", "/documents", "", "Authorization", "Bearer "+tr["access_token"].(string))
			if err != nil || resp.StatusCode != 200 {
				errs <- fmt.Sprintf("API: %v %s", err, b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if s.RefreshCount() != n || len(s.TokenRequests()) != 2*n || s.RevokedFamilies() != 0 {
		t.Fatalf("RefreshCount %d TokenRequests %d RevokedFamilies %d", s.RefreshCount(), len(s.TokenRequests()), s.RevokedFamilies())
	}
}
