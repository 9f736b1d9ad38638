package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// OAuth2 (Options.OAuth). The simulator is its own authorization server:
//
//	GET  /authorize        consent page (or an immediate redirect with AutoApprove)
//	POST /authorize        the consent page's Allow / Deny
//	POST /oauth2/token     authorization_code (PKCE S256 required), refresh_token,
//	                       urn:ietf:params:oauth:grant-type:device_code
//	POST /oauth2/device    RFC 8628 device authorization
//	GET  /device           the verification page; POST /device approves or denies
//	POST /oauth2/revoke    RFC 7009
//	GET  /me, POST /me     the signed-in user (API calls: bearer token, rate limit)
//
// Choices: the token and device endpoints take form or JSON bodies with
// the same field names; a parameter sent twice is invalid_request. A
// client_secret (when Options.ClientSecret is set) goes in the body or in
// HTTP Basic, not both. Any attempt to redeem an authorization code uses
// it up, even a failed one; redeeming it again revokes what it issued. A
// refresh token is single-use: presenting a used one revokes its whole
// grant family (every access and refresh token descending from the same
// authorization). Redirect URIs must be loopback http URLs (RFC 8252 §7.3)
// and match exactly at the token endpoint.

// Grant types accepted by POST /oauth2/token.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

const (
	defaultClientID     = "clinicsync-desktop"
	defaultUser         = "Dr Jane Doe"
	defaultOrganization = "Cabinet Médical Demo"
	codeTTL             = 60 * time.Second
	consentTTL          = 10 * time.Minute
	deviceTTL           = 10 * time.Minute
	slowDownStep        = 5 * time.Second
	maxOAuthBody        = 64 << 10
	streamOAuth         = 0x5eed0100
)

// TokenRequest is one POST /oauth2/token, without any secret value.
type TokenRequest struct {
	GrantType   string    // as sent ("" if missing)
	ContentType string    // media type of the body, as sent
	ClientAuth  string    // "basic", "body" (client_secret field) or "none"
	Time        time.Time // Options.Now at receipt
	Status      int       // HTTP status answered
	Outcome     string    // "ok" or the OAuth error code (invalid_grant, slow_down, ...)
}

type grantFamily struct {
	clientID string
	scope    string
	revoked  bool
}

type accessToken struct {
	fam     *grantFamily
	expires time.Time
	revoked bool
}

type refreshToken struct {
	fam     *grantFamily
	expires time.Time
	used    bool
}

type authCode struct {
	clientID, redirectURI, challenge, scope string
	expires                                 time.Time
	used                                    bool
	fam                                     *grantFamily // what it issued, once redeemed
}

type consentRequest struct {
	clientID, redirectURI, state, scope, challenge string
	expires                                        time.Time
}

const (
	devicePending = iota
	deviceApproved
	deviceDenied
	deviceDone
)

type deviceGrant struct {
	clientID, scope, userCode string
	expires                   time.Time
	interval                  time.Duration
	lastPoll                  time.Time
	state                     int
}

type oauthState struct {
	codes     map[string]*authCode
	consents  map[string]*consentRequest
	access    map[string]*accessToken
	refresh   map[string]*refreshToken
	devices   map[string]*deviceGrant // by device_code
	userCodes map[string]*deviceGrant // by normalised user code

	refreshes int
	revoked   int
	requests  []TokenRequest
	meUser    string
	meOrg     string
}

func newOAuthState(seed int64) *oauthState {
	r := newRNG(seed, streamOAuth)
	return &oauthState{
		codes:     make(map[string]*authCode),
		consents:  make(map[string]*consentRequest),
		access:    make(map[string]*accessToken),
		refresh:   make(map[string]*refreshToken),
		devices:   make(map[string]*deviceGrant),
		userCodes: make(map[string]*deviceGrant),
		meUser:    uuid4(r),
		meOrg:     uuid4(r),
	}
}

func (o Options) oauthDefaults() Options {
	if o.ClientID == "" {
		o.ClientID = defaultClientID
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = time.Hour
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = 30 * 24 * time.Hour
	}
	if o.DeviceInterval <= 0 {
		o.DeviceInterval = 5 * time.Second
	}
	if o.TokenLength <= 0 {
		o.TokenLength = 64
	}
	if o.User == "" {
		o.User = defaultUser
	}
	if o.Organization == "" {
		o.Organization = defaultOrganization
	}
	return o
}

// serveOAuth handles the authorization server's own paths; it reports
// false for any other path (and always when Options.OAuth is off).
func (s *Server) serveOAuth(w http.ResponseWriter, r *http.Request, path string) bool {
	if !s.o.OAuth {
		return false
	}
	allow, h := "POST", s.authorize
	switch path {
	case "/authorize":
		allow = "GET, POST"
	case "/device":
		allow, h = "GET, POST", s.devicePage
	case "/oauth2/token":
		h = s.tokenEndpoint
	case "/oauth2/device":
		h = s.deviceAuthorization
	case "/oauth2/revoke":
		h = s.revokeEndpoint
	default:
		return false
	}
	if r.Method != http.MethodPost && (allow == "POST" || r.Method != http.MethodGet) {
		w.Header().Set("Allow", allow)
		writeProblem(w, http.StatusMethodNotAllowed, "Method not allowed.")
		return true
	}
	h(w, r)
	return true
}

// randToken returns n random base64url characters.
func randToken(n int) string {
	b := make([]byte, (n*3+3)/4)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// jwtHeader is base64url({"alg":"RS256","typ":"JWT"}).
const jwtHeader = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"

// newAccessToken is an opaque token of exactly n characters, shaped like
// a JWT (header.payload.signature) when n leaves room for it.
func newAccessToken(n int) string {
	if n < len(jwtHeader)+2+43+16 {
		return randToken(n)
	}
	payload := n - len(jwtHeader) - 2 - 43
	return jwtHeader + "." + randToken(payload) + "." + randToken(43)
}

// issueLocked creates an access and a refresh token in fam. s.mu held.
func (s *Server) issueLocked(fam *grantFamily, now time.Time) map[string]any {
	st := s.oauth
	var at, rt string
	for at == "" || st.access[at] != nil {
		at = newAccessToken(s.o.TokenLength)
	}
	for rt == "" || st.refresh[rt] != nil {
		rt = "def502" + randToken(58)
	}
	st.access[at] = &accessToken{fam: fam, expires: now.Add(s.o.AccessTTL)}
	st.refresh[rt] = &refreshToken{fam: fam, expires: now.Add(s.o.RefreshTTL)}
	out := map[string]any{
		"token_type":    "Bearer",
		"expires_in":    int64(math.Ceil(s.o.AccessTTL.Seconds())),
		"access_token":  at,
		"refresh_token": rt,
	}
	if fam.scope != "" {
		out["scope"] = fam.scope
	}
	return out
}

func (s *Server) revokeFamilyLocked(fam *grantFamily) {
	if fam != nil && !fam.revoked {
		fam.revoked = true
		s.oauth.revoked++
	}
}

// checkAccessToken reports whether tok is an issued, unexpired, unrevoked
// access token, and if not, an error_description.
func (s *Server) checkAccessToken(tok string) (bool, string) {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.oauth.access[tok]
	switch {
	case a == nil:
		return false, "The access token is invalid"
	case a.revoked || a.fam.revoked:
		return false, "The access token has been revoked"
	case !now.Before(a.expires):
		return false, "The access token expired"
	}
	return true, ""
}

// ---- request parsing ----

type oauthError struct {
	status int
	code   string
	desc   string
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func oerr(code, desc string) *oauthError {
	st := http.StatusBadRequest
	if code == "invalid_client" {
		st = http.StatusUnauthorized
	}
	return &oauthError{status: st, code: code, desc: desc}
}

// readParams decodes a form or JSON body into single-valued parameters.
func readParams(w http.ResponseWriter, r *http.Request) (map[string]string, string, *oauthError) {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOAuthBody))
	if err != nil {
		return nil, mt, oerr("invalid_request", "The request body could not be read or is too large.")
	}
	out := make(map[string]string)
	switch mt {
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, mt, oerr("invalid_request", "The form body is malformed.")
		}
		for k, v := range vals {
			if len(v) != 1 {
				return nil, mt, oerr("invalid_request", fmt.Sprintf("The %q parameter is included more than once.", k))
			}
			out[k] = v[0]
		}
	case "application/json":
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil || m == nil {
			return nil, mt, oerr("invalid_request", "The JSON body is not an object.")
		}
		for k, v := range m {
			switch v := v.(type) {
			case string:
				out[k] = v
			case nil:
			default:
				return nil, mt, oerr("invalid_request", fmt.Sprintf("The %q parameter must be a string.", k))
			}
		}
	default:
		return nil, mt, oerr("invalid_request", fmt.Sprintf("Unsupported content type %q: use application/x-www-form-urlencoded or application/json.", ct))
	}
	return out, mt, nil
}

// clientAuth checks the client: its id (body or Basic) and, when a secret
// is configured or sent, the secret. needSecret is false for the device
// authorization endpoint, where public clients send no secret.
func (s *Server) clientAuth(r *http.Request, p map[string]string, needSecret bool) (how string, e *oauthError) {
	id, secret := p["client_id"], p["client_secret"]
	how = "none"
	if _, hasSecret := p["client_secret"]; hasSecret {
		how = "body"
	}
	if u, pw, ok := r.BasicAuth(); ok {
		if how == "body" {
			return "basic", oerr("invalid_request", "The client authenticated with more than one method.")
		}
		how = "basic"
		bu, err1 := url.QueryUnescape(u)
		bp, err2 := url.QueryUnescape(pw)
		if err1 != nil || err2 != nil {
			return how, oerr("invalid_client", "Malformed HTTP Basic credentials.")
		}
		if id != "" && id != bu {
			return how, oerr("invalid_client", "client_id differs from the HTTP Basic user.")
		}
		id, secret = bu, bp
	}
	if id == "" {
		return how, oerr("invalid_client", "Client authentication failed: no client_id.")
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.o.ClientID)) != 1 {
		return how, oerr("invalid_client", "Client authentication failed: unknown client.")
	}
	if s.o.ClientSecret != "" && (needSecret || how != "none") &&
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.o.ClientSecret)) != 1 {
		return how, oerr("invalid_client", "Client authentication failed.")
	}
	return how, nil
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="askara-sim"`) // RFC 6749 §5.2
	}
	writeJSON(w, e.status, "application/json", map[string]string{"error": e.code, "error_description": e.desc})
}

// ---- /oauth2/token ----

func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	now := s.o.Now()
	rec := TokenRequest{Time: now, ClientAuth: "none"}
	p, mt, e := readParams(w, r)
	rec.ContentType = mt
	var out map[string]any
	if e == nil {
		rec.GrantType = p["grant_type"]
		rec.ClientAuth, e = s.clientAuth(r, p, true)
	}
	if e == nil {
		out, e = s.grant(p, now)
	}
	rec.Status, rec.Outcome = http.StatusOK, "ok"
	if e != nil {
		rec.Status, rec.Outcome = e.status, e.code
	}
	s.mu.Lock()
	s.oauth.requests = append(s.oauth.requests, rec)
	s.mu.Unlock()
	if e != nil {
		writeOAuthError(w, e)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, "application/json", out)
}

func (s *Server) grant(p map[string]string, now time.Time) (map[string]any, *oauthError) {
	client := p["client_id"]
	if client == "" {
		client = s.o.ClientID // authenticated by Basic
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.oauth
	switch gt := p["grant_type"]; gt {
	case "":
		return nil, oerr("invalid_request", "Missing grant_type.")
	case GrantAuthorizationCode:
		c := st.codes[p["code"]]
		if p["code"] == "" || c == nil {
			return nil, oerr("invalid_grant", "The authorization code is invalid.")
		}
		if c.used {
			s.revokeFamilyLocked(c.fam)
			return nil, oerr("invalid_grant", "The authorization code has already been used.")
		}
		c.used = true
		switch {
		case !now.Before(c.expires):
			return nil, oerr("invalid_grant", "The authorization code has expired.")
		case c.clientID != client:
			return nil, oerr("invalid_grant", "The authorization code was issued to another client.")
		case c.redirectURI != p["redirect_uri"]:
			return nil, oerr("invalid_grant", "redirect_uri does not match the authorization request.")
		case p["code_verifier"] == "":
			return nil, oerr("invalid_grant", "Missing code_verifier (PKCE).")
		}
		sum := sha256.Sum256([]byte(p["code_verifier"]))
		if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.challenge)) != 1 {
			return nil, oerr("invalid_grant", "The code_verifier does not match the code_challenge.")
		}
		c.fam = &grantFamily{clientID: client, scope: c.scope}
		return s.issueLocked(c.fam, now), nil
	case GrantRefreshToken:
		rt := st.refresh[p["refresh_token"]]
		if p["refresh_token"] == "" || rt == nil {
			return nil, oerr("invalid_grant", "The refresh token is invalid.")
		}
		if rt.fam.clientID != client {
			return nil, oerr("invalid_grant", "The refresh token was issued to another client.")
		}
		if rt.used {
			s.revokeFamilyLocked(rt.fam)
			return nil, oerr("invalid_grant", "The refresh token has already been used: the grant is revoked.")
		}
		if rt.fam.revoked {
			return nil, oerr("invalid_grant", "The refresh token has been revoked.")
		}
		if !now.Before(rt.expires) {
			return nil, oerr("invalid_grant", "The refresh token has expired.")
		}
		rt.used = true
		st.refreshes++
		return s.issueLocked(rt.fam, now), nil
	case GrantDeviceCode:
		d := st.devices[p["device_code"]]
		if p["device_code"] == "" || d == nil || d.clientID != client || d.state == deviceDone {
			return nil, oerr("invalid_grant", "The device code is invalid.")
		}
		if !now.Before(d.expires) {
			return nil, oerr("expired_token", "The device code has expired.")
		}
		switch d.state {
		case deviceDenied:
			d.state = deviceDone
			return nil, oerr("access_denied", "The user denied the authorization request.")
		case deviceApproved:
			d.state = deviceDone
			return s.issueLocked(&grantFamily{clientID: client, scope: d.scope}, now), nil
		}
		last := d.lastPoll
		d.lastPoll = now
		if !last.IsZero() && now.Sub(last) < d.interval {
			d.interval += slowDownStep
			return nil, oerr("slow_down", fmt.Sprintf("Polling too fast: wait at least %d seconds between requests.", intervalSecs(d.interval)))
		}
		return nil, oerr("authorization_pending", "The user has not yet completed the authorization.")
	default:
		return nil, oerr("unsupported_grant_type", fmt.Sprintf("Unsupported grant type %q.", gt))
	}
}

func intervalSecs(d time.Duration) int64 {
	return max(1, int64(math.Ceil(d.Seconds())))
}

// ---- /oauth2/revoke ----

func (s *Server) revokeEndpoint(w http.ResponseWriter, r *http.Request) {
	p, _, e := readParams(w, r)
	if e == nil {
		s.mu.Lock()
		tok := p["token"]
		if rt := s.oauth.refresh[tok]; rt != nil {
			s.revokeFamilyLocked(rt.fam)
		} else if at := s.oauth.access[tok]; at != nil {
			at.revoked = true
		}
		s.mu.Unlock()
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// ---- /oauth2/device and /device ----

func (s *Server) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	p, _, e := readParams(w, r)
	if e == nil {
		_, e = s.clientAuth(r, p, false)
	}
	if e != nil {
		writeOAuthError(w, e)
		return
	}
	now := s.o.Now()
	base := s.base(r)
	s.mu.Lock()
	st := s.oauth
	d := &deviceGrant{clientID: s.o.ClientID, scope: p["scope"], expires: now.Add(deviceTTL), interval: s.o.DeviceInterval}
	var dc string
	for dc == "" || st.devices[dc] != nil {
		dc = randToken(43)
	}
	for d.userCode == "" || st.userCodes[normUserCode(d.userCode)] != nil {
		d.userCode = newUserCode()
	}
	st.devices[dc] = d
	st.userCodes[normUserCode(d.userCode)] = d
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, "application/json", map[string]any{
		"device_code":               dc,
		"user_code":                 d.userCode,
		"verification_uri":          base + "/device",
		"verification_uri_complete": base + "/device?user_code=" + url.QueryEscape(d.userCode),
		"expires_in":                int64(deviceTTL.Seconds()),
		"interval":                  intervalSecs(s.o.DeviceInterval),
	})
}

const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ" // RFC 8628 §6.1

func newUserCode() string {
	var b [8]byte
	rand.Read(b[:])
	out := make([]byte, 0, 9)
	for i, c := range b {
		if i == 4 {
			out = append(out, '-')
		}
		out = append(out, userCodeAlphabet[int(c)%len(userCodeAlphabet)])
	}
	return string(out)
}

func normUserCode(c string) string {
	c = strings.ToUpper(c)
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, c)
}

var (
	errUnknownUserCode = errors.New("sim: unknown user code")
	errDeviceExpired   = errors.New("sim: device code expired")
	errDeviceDecided   = errors.New("sim: device authorization already decided")
)

func (s *Server) decideDevice(userCode string, approve bool) error {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.oauth.userCodes[normUserCode(userCode)]
	switch {
	case d == nil || userCode == "":
		return errUnknownUserCode
	case !now.Before(d.expires):
		return errDeviceExpired
	case d.state != devicePending:
		return errDeviceDecided
	}
	d.state = deviceDenied
	if approve {
		d.state = deviceApproved
	}
	return nil
}

// ApproveDevice approves a pending device authorization, as the user
// clicking Allow on /device would.
func (s *Server) ApproveDevice(userCode string) error { return s.decideDevice(userCode, true) }

// DenyDevice denies a pending device authorization.
func (s *Server) DenyDevice(userCode string) error { return s.decideDevice(userCode, false) }

func writePage(w http.ResponseWriter, status int, title, body string) {
	page := "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + html.EscapeString(title) +
		"</title></head>\n<body><h1>" + html.EscapeString(title) + "</h1>\n" + body + "\n</body></html>\n"
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(status)
	io.WriteString(w, page)
}

func (s *Server) devicePage(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		code := r.URL.Query().Get("user_code")
		s.mu.Lock()
		d := s.oauth.userCodes[normUserCode(code)]
		s.mu.Unlock()
		if code == "" || d == nil {
			writePage(w, http.StatusOK, "Connect a device",
				`<form method="get" action="/device"><label>Code <input name="user_code" autocomplete="off"></label> <button>Continue</button></form>`)
			return
		}
		writePage(w, http.StatusOK, "Connect a device",
			"<p>"+html.EscapeString(s.o.ClientID)+" asks for access ("+html.EscapeString(d.scope)+") with code <b>"+
				html.EscapeString(d.userCode)+"</b>.</p>\n"+
				`<form method="post" action="/device"><input type="hidden" name="user_code" value="`+html.EscapeString(d.userCode)+`">`+
				`<button name="action" value="allow">Allow</button> <button name="action" value="deny">Deny</button></form>`)
		return
	}
	if err := r.ParseForm(); err != nil {
		writePage(w, http.StatusBadRequest, "Bad request", "<p>The form could not be read.</p>")
		return
	}
	approve := r.PostForm.Get("action") == "allow"
	if err := s.decideDevice(r.PostForm.Get("user_code"), approve); err != nil {
		writePage(w, http.StatusBadRequest, "Cannot connect the device", "<p>"+html.EscapeString(strings.TrimPrefix(err.Error(), "sim: "))+".</p>")
		return
	}
	msg := "Device connected. You can close this window."
	if !approve {
		msg = "Access denied. You can close this window."
	}
	writePage(w, http.StatusOK, msg, "")
}

// ---- /authorize ----

// loopbackRedirect reports whether u is an http loopback redirect URI
// (RFC 8252 §7.3: 127.0.0.1, [::1] or localhost, any port).
func loopbackRedirect(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" || p.User != nil || p.Fragment != "" || p.Opaque != "" {
		return false
	}
	switch p.Hostname() {
	case "127.0.0.1", "::1", "localhost":
		return true
	}
	return false
}

func redirectWith(w http.ResponseWriter, redirectURI string, params url.Values) {
	u, _ := url.Parse(redirectURI)
	q := u.Query()
	for k, v := range params {
		if len(v) > 0 && v[0] != "" {
			q[k] = v
		} else if k == "state" && len(v) > 0 {
			q.Set(k, "")
		}
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Location", u.String())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

func validChallenge(c string) bool {
	if len(c) < 43 || len(c) > 128 {
		return false
	}
	for _, r := range c {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			return false
		}
	}
	return true
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		s.authorizeDecision(w, r)
		return
	}
	q := r.URL.Query()
	clientID, redirectURI, state := q.Get("client_id"), q.Get("redirect_uri"), q.Get("state")
	if clientID != s.o.ClientID {
		writePage(w, http.StatusBadRequest, "Invalid request", "<p>Unknown client_id.</p>")
		return
	}
	if !loopbackRedirect(redirectURI) {
		writePage(w, http.StatusBadRequest, "Invalid request",
			"<p>redirect_uri must be a loopback http URL (127.0.0.1, [::1] or localhost).</p>")
		return
	}
	fail := func(code, desc string) {
		redirectWith(w, redirectURI, url.Values{"error": {code}, "error_description": {desc}, "state": {state}})
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "Only response_type=code is supported.")
		return
	}
	if m := q.Get("code_challenge_method"); m != "S256" {
		fail("invalid_request", "code_challenge_method must be S256.")
		return
	}
	if !validChallenge(q.Get("code_challenge")) {
		fail("invalid_request", "A valid code_challenge (PKCE) is required.")
		return
	}
	req := &consentRequest{clientID: clientID, redirectURI: redirectURI, state: state,
		scope: q.Get("scope"), challenge: q.Get("code_challenge"), expires: s.o.Now().Add(consentTTL)}
	if s.o.AutoApprove {
		s.approve(w, req)
		return
	}
	id := randToken(32)
	s.mu.Lock()
	s.oauth.consents[id] = req
	s.mu.Unlock()
	writePage(w, http.StatusOK, "Sign in to Askara",
		"<p>"+html.EscapeString(s.o.User)+" ("+html.EscapeString(s.o.Organization)+")</p>\n<p><b>"+html.EscapeString(clientID)+
			"</b> asks for access: "+html.EscapeString(req.scope)+"</p>\n"+
			`<form method="post" action="/authorize"><input type="hidden" name="request_id" value="`+id+`">`+
			`<button name="action" value="allow">Allow</button> <button name="action" value="deny">Deny</button></form>`)
}

func (s *Server) authorizeDecision(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writePage(w, http.StatusBadRequest, "Invalid request", "<p>The form could not be read.</p>")
		return
	}
	id := r.PostForm.Get("request_id")
	s.mu.Lock()
	req := s.oauth.consents[id]
	delete(s.oauth.consents, id)
	s.mu.Unlock()
	if req == nil || !s.o.Now().Before(req.expires) {
		writePage(w, http.StatusBadRequest, "Invalid request", "<p>This sign-in request is unknown or has expired. Start again from the application.</p>")
		return
	}
	if r.PostForm.Get("action") != "allow" {
		redirectWith(w, req.redirectURI, url.Values{"error": {"access_denied"}, "error_description": {"The user denied access."}, "state": {req.state}})
		return
	}
	s.approve(w, req)
}

func (s *Server) approve(w http.ResponseWriter, req *consentRequest) {
	now := s.o.Now()
	s.mu.Lock()
	var code string
	for code == "" || s.oauth.codes[code] != nil {
		code = randToken(43)
	}
	s.oauth.codes[code] = &authCode{clientID: req.clientID, redirectURI: req.redirectURI,
		challenge: req.challenge, scope: req.scope, expires: now.Add(codeTTL)}
	s.mu.Unlock()
	redirectWith(w, req.redirectURI, url.Values{"code": {code}, "state": {req.state}})
}

// ---- /me ----

func (s *Server) serveMe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeProblem(w, http.StatusMethodNotAllowed, fmt.Sprintf("No route found for %q: Method Not Allowed (Allow: GET, POST).", r.Method+" /me"))
		return
	}
	names := strings.Fields(s.o.User)
	first, last := s.o.User, ""
	if n := len(names); n >= 2 {
		first, last = names[n-2], names[n-1]
	}
	email := strings.ToLower(strings.Join(strings.Fields(first+" "+last), ".")) + "@cabinet-demo.example"
	org := map[string]any{
		"uuid": s.oauth.meOrg, "name": s.o.Organization,
		"city": "Lyon", "country": "FR", "timezone": "Europe/Paris",
	}
	me := map[string]any{"uuid": s.oauth.meUser, "email": email, "firstName": first, "lastName": last}
	if r.Method == http.MethodGet {
		me["organizationRole"] = "admin"
		me["organization"] = org
	} else {
		org["role"] = "admin"
		me["organizations"] = []any{org}
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", me)
}

// ---- test helpers ----

// RefreshCount is the number of successful refresh_token grants.
func (s *Server) RefreshCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oauth.refreshes
}

// TokenRequests lists every POST /oauth2/token, oldest first.
func (s *Server) TokenRequests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TokenRequest(nil), s.oauth.requests...)
}

// RevokedFamilies is the number of grant families revoked, by refresh
// token or code reuse or by /oauth2/revoke.
func (s *Server) RevokedFamilies() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oauth.revoked
}

// ExpireAccessTokens makes every access token issued so far expired (by
// Options.Now); refresh tokens still work and new access tokens are valid.
func (s *Server) ExpireAccessTokens() {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.oauth.access {
		if a.expires.After(now) {
			a.expires = now
		}
	}
}
