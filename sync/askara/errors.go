package askara

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/netclient"
)

// The fixed sentences of the errors people see.
const (
	msgUnauthorized   = "Askara refused the access token; sign in again."
	msgBadResponse    = "Askara sent a response that could not be read."
	msgTooLarge       = "Askara sent a response too large to read."
	msgRedirect       = "Askara answered with an unexpected redirect."
	msgLinkExpired    = "The download link has expired."
	msgPDFMissing     = "The PDF file is missing on the server."
	msgInterrupted    = "The download was interrupted."
	msgAPIInterrupted = "The answer from Askara was interrupted."
	msgStalled        = "The download stalled (no data received) and was interrupted."
	msgAPIStalled     = "The answer from Askara stalled (no data received) and was interrupted."
	msgFileHost       = "The file server could not be reached."
	msgBadLink        = "The download link is not valid."
	msgCanceled       = "The operation was interrupted."
	maxDetail         = 200 // runes of a server's problem detail kept in a message
)

// op is what a request asks for. The sentences of its errors name it: a
// status code alone does not say what went wrong (a 404 from /me means a
// wrong api_url, not a document gone).
type op int

const (
	opDocumentList   op = iota // GET /documents
	opDocument                 // GET /documents/{uuid}
	opDocumentStatus           // POST /documents/{uuid}/status
	opNoteList                 // GET /notes
	opNote                     // GET /notes/{uuid}
	opAccount                  // GET or POST /me
	opWebhookCreate            // POST /webhooks
	opWebhook                  // DELETE or PATCH /webhooks/{id}
)

// opText is what the sentences of an op say.
type opText struct {
	noun  string // what was asked: "Askara refused <noun>"
	asked string // the request: "Askara rejected <asked>"
	scope string // the scope a 403 names; "" when none is known
	// gone is the 404/410 sentence. An address that does not exist
	// is most likely a wrong api_url; %s is the address asked (no query).
	gone string
}

var opTexts = map[op]opText{
	opDocumentList: {"the document list", "the request for the document list", "read:documents",
		"Askara has no document list at %s: check api_url in the configuration file."},
	opDocument: {"the document", "the request for the document", "read:documents",
		"The document no longer exists on Askara."},
	opDocumentStatus: {"the document's status report", "the document's status report", "write:document_integrations",
		"The document no longer exists on Askara."},
	opNoteList: {"the notes list", "the request for the notes list", "read:notes",
		"Askara has no notes list at %s: check api_url in the configuration file."},
	opNote: {"the note", "the request for the note", "read:notes",
		"The note does not exist on Askara."},
	opAccount: {"the account details", "the request for the account details", "profile",
		"Askara has no account endpoint at %s: check api_url in the configuration file."},
	opWebhookCreate: {"the webhook registration", "the webhook registration", "",
		"Askara has no webhook registration endpoint at %s: check api_url in the configuration file."},
	opWebhook: {"the webhook removal", "the webhook removal", "",
		"Askara does not know this webhook registration."},
}

// HTTPError is the underlying error of an *clinicsync.Error built from an
// HTTP answer: the status and the server's problem detail, sanitized.
type HTTPError struct {
	Status int
	Detail string // sanitized, bounded; may be empty
}

func (e *HTTPError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Detail)
	}
	return fmt.Sprintf("HTTP %d", e.Status)
}

// classify turns a non-2xx API answer to a request for o at u into the
// project's error. body is what was read of it (bounded); secret is the
// access token used, scrubbed from anything the server echoes.
func classify(status int, body []byte, o op, u *url.URL, secret string) *clinicsync.Error {
	detail := problemDetail(body, secret)
	he := &HTTPError{Status: status, Detail: detail}
	txt := opTexts[o]
	switch {
	case status == http.StatusUnauthorized:
		return clinicsync.Permanent(clinicsync.EUnauthorized, msgUnauthorized, he)
	case status == http.StatusForbidden && txt.scope != "":
		return clinicsync.Permanent(clinicsync.EForbidden, fmt.Sprintf(
			"Askara refused %s: the sign-in lacks the %s scope; sign in again (the app asks for it).", txt.noun, txt.scope), he)
	case status == http.StatusForbidden:
		return clinicsync.Permanent(clinicsync.EForbidden, "Askara refused "+txt.noun+": the app lacks permission (scope) for it.", he)
	case status == http.StatusNotFound || status == http.StatusGone:
		msg := txt.gone
		if strings.Contains(msg, "%s") {
			msg = fmt.Sprintf(msg, u.Scheme+"://"+u.Host+u.EscapedPath())
		}
		return clinicsync.Permanent(clinicsync.ENotFound, msg, he)
	case status == http.StatusTooManyRequests:
		return rateLimited(0, he)
	case status == http.StatusRequestTimeout || status == http.StatusTooEarly || status >= 500:
		return clinicsync.Retryable(clinicsync.EUnavailable,
			fmt.Sprintf("Askara is temporarily unavailable (HTTP %d).", status), he)
	case status >= 300 && status < 400:
		return clinicsync.Permanent(clinicsync.EBadResponse, msgRedirect, he)
	case status >= 400:
		msg := fmt.Sprintf("Askara rejected %s (HTTP %d).", txt.asked, status)
		if detail != "" {
			msg = "Askara rejected " + txt.asked + ": " + sentence(detail)
		}
		return clinicsync.Permanent(clinicsync.EInvalid, msg, he)
	}
	return clinicsync.Permanent(clinicsync.EBadResponse, msgBadResponse, he)
}

// transportError classifies a failed round trip (no HTTP answer): to the
// API at u, or, with file set, to the file server of a pre-signed link at
// u. It is the one place where a network failure becomes a sentence:
// sync/auth's sign-in calls come here too (NetworkError). Through
// sync/netclient the error carries the route (the proxy and where it came
// from) and whether the PC had a network at all.
func transportError(ctx context.Context, err error, u *url.URL, file bool) *clinicsync.Error {
	if ctx.Err() != nil {
		return canceled(ctx.Err())
	}
	err = redactErr(err)
	server := "(link)"
	if u != nil {
		server = u.Scheme + "://" + u.Host
	}
	var (
		re  *netclient.RouteError
		pa  *netclient.ProxyAuthError
		ps  *netclient.ProxyStatusError
		cve *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		hn  x509.HostnameError
		dns *net.DNSError
		op  *net.OpError
	)
	errors.As(err, &re)
	errors.As(err, &cve)
	proxied := re != nil && re.Route.Proxy != nil
	switch {
	case errors.As(err, &pa) && pa.Refused:
		return clinicsync.Retryablef(clinicsync.EUnavailable, err, msgProxyRefused, pa.Proxy)
	case errors.As(err, &pa):
		return clinicsync.Retryablef(clinicsync.EUnavailable, err, msgProxyAuth, pa.Proxy)
	case errors.As(err, &ps) && (ps.Status == http.StatusForbidden || ps.Status == http.StatusUnauthorized):
		return clinicsync.Retryablef(clinicsync.EUnavailable, err, msgProxyForbids, ps.Proxy, server)
	case errors.As(err, &ps):
		return clinicsync.Retryablef(clinicsync.EUnavailable, err, msgProxyStatus, ps.Proxy, server, ps.Status)
	case re != nil && re.Offline && u != nil && !onLAN(u.Hostname()):
		return clinicsync.Retryablef(clinicsync.EUnavailable, err, msgOffline)
	case proxied && errors.As(err, &op) && op.Op == "proxyconnect":
		return clinicsync.Retryablef(clinicsync.EUnavailable, err, msgProxyDown, re.Route.Host(), proxySource(re.Route))
	case errors.As(err, &ua):
		return clinicsync.Retryablef(clinicsync.EUnavailable, err, msgIntercepted, server, issuer(cve, ua))
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return clinicsync.Retryablef(clinicsync.EUnavailable, err, msgCertClock, server)
	case !file && (errors.As(err, &cve) || errors.As(err, &hn) || errors.As(err, &ci)):
		return clinicsync.Retryablef(clinicsync.EUnavailable, err,
			"Askara could not be reached securely at %s (certificate problem).", server)
	case !proxied && errors.As(err, &dns) && u != nil && !onLAN(u.Hostname()):
		return clinicsync.Retryablef(clinicsync.EUnavailable, err, msgDNS, u.Hostname())
	case file || u == nil:
		return clinicsync.Retryable(clinicsync.EUnavailable, msgFileHost, err)
	case onLAN(u.Hostname()):
		return clinicsync.Retryablef(clinicsync.EUnavailable, err,
			"Nothing answers at %s: is the simulator or server running?", server)
	case !proxied && errors.As(err, &op) && op.Op == "dial":
		return clinicsync.Retryablef(clinicsync.EUnavailable, err, msgDown, server)
	}
	return clinicsync.Retryablef(clinicsync.EUnavailable, err,
		"Askara could not be reached at %s; check the internet connection.", server)
}

// NetworkError classifies a failed round trip to u for the callers
// outside this package (sync/auth's sign-in, refresh, device code and
// revocation): the same sentences as the API's.
func NetworkError(ctx context.Context, err error, u *url.URL) *clinicsync.Error {
	return transportError(ctx, err, u, false)
}

// The sentences of network failures (activity reasons, translated).
const (
	msgProxyAuth    = "The proxy %s asks for a sign-in: enter its user and password in Settings (Proxy sign-in), or run clinicsync proxy login."
	msgProxyRefused = "The proxy %s refused the proxy sign-in: correct the user and password in Settings (Proxy sign-in), or run clinicsync proxy login."
	msgProxyForbids = "The proxy %s does not allow connections to %s: ask IT to allow it."
	msgProxyStatus  = "The proxy %s could not connect to %s (HTTP %d)."
	msgProxyDown    = "The proxy %s (from %s) does not answer: is it running, and is this PC on the clinic's network?"
	msgOffline      = "This PC has no network connection; Clinic Sync tries again when it is back."
	msgIntercepted  = "The certificate of %s was issued by %s, which this PC does not trust: a proxy or antivirus that inspects secure connections is probably in the way. Ask IT for its root certificate and set [network] ca_file."
	msgCertClock    = "The certificate of %s is not valid at this PC's date and time: check the clock."
	msgDNS          = "The name %s could not be found (DNS): check the network connection and the address in the configuration file."
	msgDown         = "Askara does not answer at %s: the service may be down, or this network lets programs out only through a proxy (Settings, Proxy). Clinic Sync keeps trying."
)

// Where a proxy came from, as translatable phrases (activity reasons).
const (
	srcEnv    = "the environment (%s)"
	srcConfig = "the configuration file ([network] proxy)"
	srcPAC    = "the proxy script %s"
	srcWPAD   = "the proxy script found by WPAD"
	srcSystem = "the system proxy settings"
)

// proxySource says where a proxy came from, as a translatable phrase.
func proxySource(r netclient.Route) clinicsync.Text {
	switch r.Source {
	case netclient.SourceEnv:
		return clinicsync.NewText(srcEnv, r.Detail)
	case netclient.SourceConfig:
		return clinicsync.NewText(srcConfig)
	case netclient.SourcePAC:
		if r.Detail != "" {
			return clinicsync.NewText(srcPAC, r.Detail)
		}
		return clinicsync.NewText(srcWPAD)
	}
	return clinicsync.NewText(srcSystem)
}

// issuer names who issued a certificate this PC does not trust: the
// issuer of the last certificate the server presented (the root an
// inspecting proxy or antivirus signs with), in quotes.
func issuer(cve *tls.CertificateVerificationError, ua x509.UnknownAuthorityError) string {
	var c *x509.Certificate
	if cve != nil && len(cve.UnverifiedCertificates) > 0 {
		c = cve.UnverifiedCertificates[len(cve.UnverifiedCertificates)-1]
	} else if ua.Cert != nil {
		c = ua.Cert
	}
	if c == nil {
		return "“an unknown issuer”"
	}
	name := c.Issuer.CommonName
	if name == "" && len(c.Issuer.Organization) > 0 {
		name = c.Issuer.Organization[0]
	}
	if name == "" {
		name = c.Issuer.String()
	}
	return "“" + sanitize(name, "") + "”"
}

// onLAN reports whether host is this computer or on the clinic's network
// (a loopback or private address, a name without a domain, a .local or
// .lan name): the simulator or a server there, not Askara on the internet.
func onLAN(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()
	}
	if !strings.Contains(host, ".") {
		return true // localhost, or a machine's name on the LAN
	}
	for _, suffix := range []string{".localhost", ".local", ".lan", ".internal", ".home.arpa"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

func canceled(err error) *clinicsync.Error {
	if err == nil {
		err = context.Canceled
	}
	return &clinicsync.Error{Code: clinicsync.ECanceled, Message: msgCanceled, Retryable: true, Err: err}
}

// redactErr rewrites the URL of a *url.Error to its scheme and host: the
// query of a pre-signed link is a credential, and its path can carry a
// file name.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redactURL(ue.URL), Err: ue.Err}
	}
	return err
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(link)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// problemDetail extracts detail (else title) of a problem-details body,
// sanitized: no control characters, no secret, no URL query, bounded.
func problemDetail(body []byte, secret string) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return ""
	}
	var p struct {
		Title       any `json:"title"`
		Detail      any `json:"detail"`
		HydraTitle  any `json:"hydra:title"`
		HydraDetail any `json:"hydra:description"`
	}
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	for _, v := range []any{p.Detail, p.HydraDetail, p.Title, p.HydraTitle} {
		if s, ok := v.(string); ok {
			if s = sanitize(s, secret); s != "" {
				return s
			}
		}
	}
	return ""
}

var urlRe = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>]+`)

// sanitize makes server text fit in a one-line message.
func sanitize(s, secret string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	s = urlRe.ReplaceAllStringFunc(s, redactURL)
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = true
			continue
		case unicode.Is(unicode.Cf, r): // bidi overrides, zero-width
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	s = b.String()
	if utf8.RuneCountInString(s) > maxDetail {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:maxDetail])) + "…"
	}
	if secret != "" && strings.Contains(s, secret) { // cannot reappear, but never risk it
		return ""
	}
	return s
}

// sentence ends s with exactly one full stop.
func sentence(s string) string {
	s = strings.TrimRight(s, " .")
	if strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "…") {
		return s
	}
	return s + "."
}
