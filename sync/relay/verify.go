// This file holds the signature verifiers the platforms share (Standard
// Webhooks, Unsigned) and their helpers; a platform's own scheme is in its
// file (platform_nabla.go, platform_soapnoteapi.go). Verifiers are pure: no
// I/O, no clock of their own (the caller passes now), safe for concurrent
// use, and they never panic on any input.
//
// How each platform signs (see the project's webhook-signatures notes):
//
//   - Standard Webhooks (spec v1): webhook-id, webhook-timestamp,
//     webhook-signature "v1,<base64>" ..., HMAC-SHA256 keyed with the
//     base64-decoded whsec_ secret over id "." timestamp "." body. Offered
//     for Askara and Azodha, whose own schemes are not documented, when the
//     clinic's reverse proxy or tunnel re-signs their deliveries.
//   - SOAPNoteAPI: X-SoapNoteAPI-Timestamp, X-SoapNoteAPI-Signature, hex
//     HMAC-SHA256 keyed with the secret string over timestamp "." body.
//   - Nabla: x-nabla-webhook-timestamp, x-nabla-webhook-signature (one or
//     more, comma-separated), hex HMAC-SHA256 keyed with the secret string
//     over timestamp + body.
//   - Unsigned: accepts everything; for loopback only, explicitly chosen.

package relay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/wire"
)

// DefaultTolerance is how far a delivery's signed timestamp may be from this
// PC's clock, in either direction, before the delivery is refused.
const DefaultTolerance = 5 * time.Minute

// Scheme names, as Verifier.Scheme returns them and as settings store them.
const (
	SchemeStandardWebhooks = "standard-webhooks"
	SchemeSOAPNoteAPI      = "soapnoteapi"
	SchemeNabla            = "nabla"
	SchemeUnsigned         = "unsigned"
)

// VerifyError codes.
const (
	CodeMissingSignature = "missing_signature" // a header the scheme needs is absent or empty (401)
	CodeBadSignature     = "bad_signature"     // no signature matches (401)
	CodeStaleTimestamp   = "stale_timestamp"   // the signed timestamp is outside the tolerance (401)
	CodeMalformedHeader  = "malformed_header"  // a header cannot be read, is repeated or too long (400)
)

// Header size limits. A delivery over them is refused with 400
// malformed_header before any HMAC is computed.
const (
	maxIDHeader        = 512  // webhook-id (the same bound as the Askara client's uuids)
	maxTimestampHeader = 64   // Unix seconds, or an ISO 8601 time with fraction and offset
	maxSignatureHeader = 4096 // all values of one signature header together
	maxSignatures      = 32   // candidate signatures in one delivery (secret rotation needs 2)
)

// VerifyError is a refused delivery: Status is the HTTP status to answer
// (400 malformed header, 401 missing or wrong signature or stale
// timestamp), Code a short machine word (the Code* constants), Message one
// sentence for the activity log. The message never carries the secret, the
// expected signature, or any header value as received.
type VerifyError struct {
	Status  int
	Code    string
	Message string
}

// Error returns the message.
func (e *VerifyError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Code
}

func missing(header string) *VerifyError {
	return &VerifyError{Status: http.StatusUnauthorized, Code: CodeMissingSignature,
		Message: "the " + header + " header is missing"}
}

func malformed(format string, args ...any) *VerifyError {
	return &VerifyError{Status: http.StatusBadRequest, Code: CodeMalformedHeader, Message: fmt.Sprintf(format, args...)}
}

func badSignature(format string, args ...any) *VerifyError {
	return &VerifyError{Status: http.StatusUnauthorized, Code: CodeBadSignature, Message: fmt.Sprintf(format, args...)}
}

// Verifier checks one delivery over the RAW body bytes, as received (never
// re-serialised JSON). It returns the delivery id to deduplicate on when the
// scheme has one ("" otherwise), or a *VerifyError. Verifiers are immutable
// and safe for concurrent use.
type Verifier interface {
	// Scheme is "standard-webhooks", "soapnoteapi", "nabla" or "unsigned".
	Scheme() string
	// Verify checks the delivery's headers and body against the secret at
	// time now. Every error it returns is a *VerifyError.
	Verify(h http.Header, body []byte, now time.Time) (deliveryID string, err error)
}

// NewVerifier builds the verifier of a scheme by its name (the Scheme*
// constants); secret is ignored for "unsigned". It is the constructors
// below behind one switch, for the relay's settings.
func NewVerifier(scheme, secret string, tolerance time.Duration) (Verifier, error) {
	switch scheme {
	case SchemeStandardWebhooks:
		return StandardWebhooks(secret, tolerance)
	case SchemeSOAPNoteAPI:
		return SOAPNoteAPI(secret, tolerance)
	case SchemeNabla:
		return Nabla(secret, tolerance)
	case SchemeUnsigned:
		return Unsigned(), nil
	}
	return nil, clinicsync.Errorf(clinicsync.EConfig, "The webhook signature scheme is not one of %s, %s, %s or %s.",
		SchemeStandardWebhooks, SchemeSOAPNoteAPI, SchemeNabla, SchemeUnsigned)
}

// checkTolerance returns the tolerance to use: DefaultTolerance for 0, an
// error for a negative one.
func checkTolerance(tolerance time.Duration) (time.Duration, error) {
	switch {
	case tolerance == 0:
		return DefaultTolerance, nil
	case tolerance < 0:
		return 0, clinicsync.Errorf(clinicsync.EConfig, "The webhook timestamp tolerance cannot be negative.")
	}
	return tolerance, nil
}

// checkSecret trims white space (a pasted secret often ends with a newline;
// no platform's secret has white space at its ends) and refuses an empty
// secret: an HMAC with an empty key proves nothing.
func checkSecret(name, secret string) (string, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return "", clinicsync.Errorf(clinicsync.EConfig, "The %s webhook secret is empty.", name)
	}
	return secret, nil
}

// hmacSHA256 is HMAC-SHA256 keyed with key over the concatenation of parts.
func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// headerValues returns every value of the header name: the canonical key's
// values (what net/http builds), then those of any other key that differs
// only in case (a hand-built http.Header), so lookup is case-insensitive.
func headerValues(h http.Header, name string) []string {
	canon := http.CanonicalHeaderKey(name)
	vals := append([]string(nil), h[canon]...)
	var others []string
	for k := range h {
		if k != canon && strings.EqualFold(k, name) {
			others = append(others, k)
		}
	}
	sort.Strings(others)
	for _, k := range others {
		vals = append(vals, h[k]...)
	}
	return vals
}

// single returns the one non-empty value of header name: "" and a 401 when
// it is absent or empty, a 400 when it is repeated with different values or
// longer than max.
func single(h http.Header, name string, max int) (string, *VerifyError) {
	var v string
	for _, s := range headerValues(h, name) {
		switch {
		case s == "":
			continue
		case len(s) > max:
			return "", malformed("the %s header is longer than %d bytes", name, max)
		case v != "" && s != v:
			return "", malformed("the %s header is sent more than once with different values", name)
		}
		v = s
	}
	if v == "" {
		return "", missing(name)
	}
	return v, nil
}

// signatureList returns the values of a signature header, or a 401 when
// there is none and a 400 when they are too long together.
func signatureList(h http.Header, name string) ([]string, *VerifyError) {
	var vals []string
	n := 0
	for _, s := range headerValues(h, name) {
		n += len(s)
		if n > maxSignatureHeader {
			return nil, malformed("the %s header is longer than %d bytes", name, maxSignatureHeader)
		}
		if strings.TrimSpace(s) != "" {
			vals = append(vals, s)
		}
	}
	if len(vals) == 0 {
		return nil, missing(name)
	}
	return vals, nil
}

// unixSeconds parses a Unix time in seconds: ASCII digits only (no sign, no
// spaces, no fraction), at most 15 of them.
func unixSeconds(s string) (time.Time, bool) {
	if s == "" || len(s) > 15 {
		return time.Time{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// fresh refuses a signed time further than tolerance from now, in either
// direction: too old is a replay, too new a forged or badly set clock. It
// runs after the signature matched, so the message can blame the clock.
func fresh(header string, signed, now time.Time, tolerance time.Duration) *VerifyError {
	d := now.Sub(signed)
	var where string
	switch {
	case d > tolerance:
		where = "behind"
	case d < -tolerance:
		where, d = "ahead of", -d
	default:
		return nil
	}
	return &VerifyError{Status: http.StatusUnauthorized, Code: CodeStaleTimestamp,
		Message: fmt.Sprintf("the %s header is %s %s this computer's clock, more than the %s allowed "+
			"(a replayed delivery, or a clock that is wrong)", header, roundDuration(d), where, tolerance)}
}

// roundDuration is d to the second, or "more than 100 years" for the
// absurd values a hostile timestamp gives.
func roundDuration(d time.Duration) string {
	if d < 0 || d > 100*365*24*time.Hour {
		return "more than 100 years"
	}
	return d.Round(time.Second).String()
}

// matchHex reports whether one of the comma-separated hex signatures in
// vals is mac (case-insensitive hex, white space around each ignored,
// constant-time comparison). The error is a 400 when no entry is 64 hex
// digits, a 401 when well-formed entries do not match.
func matchHex(name string, vals []string, mac []byte) *VerifyError {
	wellFormed, count := 0, 0
	matched := false
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if count++; count > maxSignatures {
				return malformed("the %s header has more than %d signatures", name, maxSignatures)
			}
			sig, err := hex.DecodeString(s)
			if err != nil || len(sig) != sha256.Size {
				continue
			}
			wellFormed++
			if hmac.Equal(sig, mac) {
				matched = true // keep going: the count limit applies to the whole header
			}
		}
	}
	switch {
	case matched:
		return nil
	case wellFormed == 0:
		return malformed("the %s header holds no hex HMAC-SHA256 signature", name)
	}
	return badSignature("no signature in the %s header matches the secret and body", name)
}

// --- Standard Webhooks ---

const (
	swID        = "webhook-id"
	swTimestamp = "webhook-timestamp"
	swSignature = "webhook-signature"
)

type standardWebhooks struct {
	key       []byte
	tolerance time.Duration
}

// StandardWebhooks verifies deliveries signed per the Standard Webhooks
// specification (v1): headers webhook-id, webhook-timestamp (Unix seconds)
// and webhook-signature, a space-separated list of "v1,<base64>" entries
// (entries of other versions, such as v1a, are ignored); the signed content
// is id + "." + timestamp + "." + body, HMAC-SHA256 keyed with the
// base64-decoded secret. secret is "whsec_<base64>" or the bare base64
// (standard alphabet, padded or not). The delivery id is webhook-id.
// tolerance 0 means DefaultTolerance.
func StandardWebhooks(secret string, tolerance time.Duration) (Verifier, error) {
	secret, err := checkSecret("Standard Webhooks", secret)
	if err != nil {
		return nil, err
	}
	if tolerance, err = checkTolerance(tolerance); err != nil {
		return nil, err
	}
	b64 := strings.TrimPrefix(secret, "whsec_")
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil {
		return nil, clinicsync.Errorf(clinicsync.EConfig, "The Standard Webhooks secret is not whsec_ followed by base64.")
	}
	if len(key) == 0 {
		return nil, clinicsync.Errorf(clinicsync.EConfig, "The Standard Webhooks webhook secret is empty.")
	}
	return &standardWebhooks{key: key, tolerance: tolerance}, nil
}

func (v *standardWebhooks) Scheme() string { return SchemeStandardWebhooks }

func (v *standardWebhooks) signatureHeader() string { return swSignature }

func (v *standardWebhooks) Verify(h http.Header, body []byte, now time.Time) (string, error) {
	id, verr := single(h, swID, maxIDHeader)
	if verr != nil {
		return "", verr
	}
	if wire.Controls(id) {
		return "", malformed("the %s header has control characters", swID)
	}
	ts, verr := single(h, swTimestamp, maxTimestampHeader)
	if verr != nil {
		return "", verr
	}
	signed, ok := unixSeconds(ts)
	if !ok {
		return "", malformed("the %s header is not a Unix time in seconds", swTimestamp)
	}
	vals, verr := signatureList(h, swSignature)
	if verr != nil {
		return "", verr
	}
	mac := hmacSHA256(v.key, []byte(id), []byte{'.'}, []byte(ts), []byte{'.'}, body)
	v1, malformedEntries, count := 0, 0, 0
	matched := false
	for _, val := range vals {
		for _, entry := range strings.Fields(val) {
			if count++; count > maxSignatures {
				return "", malformed("the %s header has more than %d signatures", swSignature, maxSignatures)
			}
			version, b64, ok := strings.Cut(entry, ",")
			if !ok || version == "" {
				malformedEntries++
				continue
			}
			if version != "v1" {
				continue // another version (v1a: asymmetric): not ours to check
			}
			sig, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || len(sig) != sha256.Size {
				malformedEntries++
				continue
			}
			v1++
			if hmac.Equal(sig, mac) {
				matched = true
			}
		}
	}
	switch {
	case matched:
	case v1 > 0:
		return "", badSignature("no v1 signature in the %s header matches the secret and body", swSignature)
	case malformedEntries > 0:
		return "", malformed("the %s header is not a list of \"v1,<base64>\" signatures", swSignature)
	default:
		return "", badSignature("the %s header has no v1 signature", swSignature)
	}
	if verr := fresh(swTimestamp, signed, now, v.tolerance); verr != nil {
		return "", verr
	}
	return id, nil
}

// --- Unsigned ---

type unsigned struct{}

// Unsigned accepts every delivery without checking anything. It exists for
// platforms that sign in a way the relay cannot check (Askara, Azodha: see
// AskaraVerificationNote, AzodhaVerificationNote) and must only be used on a
// loopback listener, chosen explicitly in the settings, which label it as
// such. The delivery id is "".
func Unsigned() Verifier { return unsigned{} }

func (unsigned) Scheme() string { return SchemeUnsigned }

func (unsigned) Verify(http.Header, []byte, time.Time) (string, error) { return "", nil }
