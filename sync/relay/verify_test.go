package relay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

// The Standard Webhooks reference libraries' published vector.
const (
	swSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swMsgID  = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	swTS     = 1614265330
	swBody   = `{"test": 2432232314}`
	swSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var swNow = time.Unix(swTS, 0)

func swHeader(id, ts, sig string) http.Header {
	h := http.Header{}
	if id != "" {
		h.Set("webhook-id", id)
	}
	if ts != "" {
		h.Set("webhook-timestamp", ts)
	}
	if sig != "" {
		h.Set("webhook-signature", sig)
	}
	return h
}

// wantRefused checks that err is a *VerifyError with the status and code,
// and that its message gives away none of the secrets.
func wantRefused(t *testing.T, err error, status int, code string, secrets ...string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T), want *VerifyError %d %s", err, err, status, code)
	}
	if ve.Status != status || ve.Code != code {
		t.Fatalf("refused %d %s (%q), want %d %s", ve.Status, ve.Code, ve.Message, status, code)
	}
	if ve.Message == "" || ve.Error() != ve.Message {
		t.Fatalf("message %q, Error() %q", ve.Message, ve.Error())
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(ve.Message, s) {
			t.Fatalf("message %q gives away %q", ve.Message, s)
		}
	}
}

// must(t)(Constructor(...)) is the verifier, or a fatal test error.
func must(t *testing.T) func(Verifier, error) Verifier {
	return func(v Verifier, err error) Verifier {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestStandardWebhooksVector: the published vector, recomputed here with
// crypto/hmac so the test does not trust the code under test.
func TestStandardWebhooksVector(t *testing.T) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(swSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(swMsgID + "." + strconv.Itoa(swTS) + "." + swBody))
	if got := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); got != swSig {
		t.Fatalf("independent HMAC %s, published %s", got, swSig)
	}
	v := must(t)(StandardWebhooks(swSecret, DefaultTolerance))
	if v.Scheme() != "standard-webhooks" {
		t.Fatalf("scheme %q", v.Scheme())
	}
	ts := strconv.Itoa(swTS)
	id, err := v.Verify(swHeader(swMsgID, ts, swSig), []byte(swBody), swNow)
	if err != nil || id != swMsgID {
		t.Fatalf("published vector: id %q, err %v", id, err)
	}
	for _, d := range []time.Duration{4*time.Minute + 59*time.Second, -4*time.Minute - 59*time.Second, 5 * time.Minute, -5 * time.Minute} {
		if _, err := v.Verify(swHeader(swMsgID, ts, swSig), []byte(swBody), swNow.Add(d)); err != nil {
			t.Fatalf("now %+v: %v", d, err)
		}
	}
	secrets := []string{swSecret, strings.TrimPrefix(swSecret, "whsec_"), strings.TrimPrefix(swSig, "v1,")}
	for _, d := range []time.Duration{6 * time.Minute, -6 * time.Minute, 5*time.Minute + time.Second, 400 * 24 * time.Hour} {
		_, err := v.Verify(swHeader(swMsgID, ts, swSig), []byte(swBody), swNow.Add(d))
		wantRefused(t, err, 401, "stale_timestamp", secrets...)
	}
	// Rotation: a wrong signature, an unknown version and the right one.
	wrong := "v1," + base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, list := range []string{
		wrong + " " + swSig,
		swSig + " " + wrong,
		"v1a,AAAA " + wrong + "  " + swSig,
		"v2,xyz " + swSig,
		"garbage " + swSig, // a malformed entry does not hide a valid one
	} {
		if _, err := v.Verify(swHeader(swMsgID, ts, list), []byte(swBody), swNow); err != nil {
			t.Fatalf("list %q: %v", list, err)
		}
	}
	// The signature on two header lines (a proxy may split it).
	h := swHeader(swMsgID, ts, wrong)
	h.Add("webhook-signature", swSig)
	if _, err := v.Verify(h, []byte(swBody), swNow); err != nil {
		t.Fatalf("two header lines: %v", err)
	}
	// Tampered body, id, timestamp.
	for name, c := range map[string]struct {
		id, ts, body string
	}{
		"body":          {swMsgID, ts, `{"test": 2432232315}`},
		"body spacing":  {swMsgID, ts, `{"test":2432232314}`},
		"trailing line": {swMsgID, ts, swBody + "\n"},
		"id":            {swMsgID + "x", ts, swBody},
		"timestamp":     {swMsgID, strconv.Itoa(swTS + 1), swBody},
	} {
		_, err := v.Verify(swHeader(c.id, c.ts, swSig), []byte(c.body), swNow)
		t.Run(name, func(t *testing.T) { wantRefused(t, err, 401, "bad_signature", secrets...) })
	}
	// Wrong secret.
	other := must(t)(StandardWebhooks("whsec_"+base64.StdEncoding.EncodeToString([]byte("another secret, 24 bytes")), 0))
	_, err = other.Verify(swHeader(swMsgID, ts, swSig), []byte(swBody), swNow)
	wantRefused(t, err, 401, "bad_signature", secrets...)
}

func TestStandardWebhooksSecretForms(t *testing.T) {
	b64 := strings.TrimPrefix(swSecret, "whsec_")
	key, _ := base64.StdEncoding.DecodeString(b64)
	ts := strconv.Itoa(swTS)
	for _, s := range []string{swSecret, b64, " " + swSecret + "\n", "whsec_" + base64.RawStdEncoding.EncodeToString(key)} {
		v := must(t)(StandardWebhooks(s, 0))
		if _, err := v.Verify(swHeader(swMsgID, ts, swSig), []byte(swBody), swNow); err != nil {
			t.Fatalf("secret form %q: %v", s, err)
		}
	}
	// An unpadded key (length not a multiple of 3).
	key5 := []byte("12345")
	v := must(t)(StandardWebhooks("whsec_"+base64.RawStdEncoding.EncodeToString(key5), 0))
	m := hmac.New(sha256.New, key5)
	m.Write([]byte("i.1." + "b"))
	if _, err := v.Verify(swHeader("i", "1", "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil))), []byte("b"), time.Unix(1, 0)); err != nil {
		t.Fatalf("unpadded key: %v", err)
	}
	for _, s := range []string{"", "   ", "whsec_", "whsec_not base64!", "whsec_====", "\n"} {
		v, err := StandardWebhooks(s, 0)
		if err == nil || v != nil {
			t.Fatalf("secret %q accepted", s)
		}
		if clinicsync.ErrorCode(err) != clinicsync.EConfig {
			t.Fatalf("secret %q: code %s", s, clinicsync.ErrorCode(err))
		}
		if b := strings.TrimSpace(strings.TrimPrefix(s, "whsec_")); b != "" && strings.Contains(err.Error(), b) {
			t.Fatalf("error %q gives away the secret", err)
		}
	}
	if _, err := StandardWebhooks(swSecret, -time.Second); err == nil {
		t.Fatal("negative tolerance accepted")
	}
	// Tolerance 0 means DefaultTolerance.
	v = must(t)(StandardWebhooks(swSecret, 0))
	if _, err := v.Verify(swHeader(swMsgID, ts, swSig), []byte(swBody), swNow.Add(DefaultTolerance)); err != nil {
		t.Fatalf("default tolerance edge: %v", err)
	}
	_, err := v.Verify(swHeader(swMsgID, ts, swSig), []byte(swBody), swNow.Add(DefaultTolerance+time.Second))
	wantRefused(t, err, 401, "stale_timestamp")
	// A longer tolerance for a drifting clinic clock.
	v = must(t)(StandardWebhooks(swSecret, time.Hour))
	if _, err := v.Verify(swHeader(swMsgID, ts, swSig), []byte(swBody), swNow.Add(-59*time.Minute)); err != nil {
		t.Fatalf("1h tolerance: %v", err)
	}
}

func TestStandardWebhooksRefusals(t *testing.T) {
	v := must(t)(StandardWebhooks(swSecret, 0))
	ts := strconv.Itoa(swTS)
	big := strings.Repeat("a", 10*1024)
	for _, c := range []struct {
		name         string
		h            http.Header
		status       int
		code         string
		substrInMsg  string
		noSubstrings []string
	}{
		{"no headers", http.Header{}, 401, "missing_signature", "webhook-id", nil},
		{"nil header", nil, 401, "missing_signature", "webhook-id", nil},
		{"no id", swHeader("", ts, swSig), 401, "missing_signature", "webhook-id", nil},
		{"no timestamp", swHeader(swMsgID, "", swSig), 401, "missing_signature", "webhook-timestamp", nil},
		{"no signature", swHeader(swMsgID, ts, ""), 401, "missing_signature", "webhook-signature", nil},
		{"blank signature", swHeader(swMsgID, ts, "   "), 401, "missing_signature", "", nil},
		{"timestamp words", swHeader(swMsgID, "yesterday", swSig), 400, "malformed_header", "webhook-timestamp", []string{"yesterday"}},
		{"timestamp negative", swHeader(swMsgID, "-1614265330", swSig), 400, "malformed_header", "", nil},
		{"timestamp plus", swHeader(swMsgID, "+1614265330", swSig), 400, "malformed_header", "", nil},
		{"timestamp fraction", swHeader(swMsgID, "1614265330.5", swSig), 400, "malformed_header", "", nil},
		{"timestamp space", swHeader(swMsgID, " 1614265330", swSig), 400, "malformed_header", "", nil},
		{"timestamp ms", swHeader(swMsgID, "1614265330000", swSig), 401, "bad_signature", "", nil},
		{"timestamp huge", swHeader(swMsgID, "999999999999999", swSig), 401, "bad_signature", "", nil},
		{"timestamp overlong", swHeader(swMsgID, "9999999999999999999999", swSig), 400, "malformed_header", "", nil},
		{"timestamp iso", swHeader(swMsgID, "2021-02-26T15:02:10Z", swSig), 400, "malformed_header", "", nil},
		{"10 KB id", swHeader(big, ts, swSig), 400, "malformed_header", "webhook-id", []string{big[:100]}},
		{"10 KB timestamp", swHeader(swMsgID, strings.Repeat("1", 10*1024), swSig), 400, "malformed_header", "", nil},
		{"10 KB signature", swHeader(swMsgID, ts, swSig+" v1,"+big), 400, "malformed_header", "webhook-signature", nil},
		{"many signatures", swHeader(swMsgID, ts, strings.Repeat("v2,x ", 40)+swSig), 400, "malformed_header", "", nil},
		{"id with newline", swHeader(swMsgID+"\nforged log line", ts, swSig), 400, "malformed_header", "", []string{"forged"}},
		{"only other versions", swHeader(swMsgID, ts, "v1a,AAAA v2,BBBB"), 401, "bad_signature", "", nil},
		{"not a list", swHeader(swMsgID, ts, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), 400, "malformed_header", "", nil},
		{"bad base64", swHeader(swMsgID, ts, "v1,%%%%"), 400, "malformed_header", "", nil},
		{"short signature", swHeader(swMsgID, ts, "v1,"+base64.StdEncoding.EncodeToString([]byte("short"))), 400, "malformed_header", "", nil},
		{"empty version", swHeader(swMsgID, ts, ","+strings.TrimPrefix(swSig, "v1,")), 400, "malformed_header", "", nil},
		{"comma separated", swHeader(swMsgID, ts, swSig+","+swSig), 400, "malformed_header", "", nil},
		{"hex signature", swHeader(swMsgID, ts, "v1,"+strings.Repeat("ab", 32)), 400, "malformed_header", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := v.Verify(c.h, []byte(swBody), swNow)
			if id != "" {
				t.Fatalf("refused delivery with id %q", id)
			}
			wantRefused(t, err, c.status, c.code, append(c.noSubstrings, swSecret, strings.TrimPrefix(swSig, "v1,"))...)
			if !strings.Contains(err.Error(), c.substrInMsg) {
				t.Fatalf("message %q does not name %q", err, c.substrInMsg)
			}
		})
	}
	// A repeated id or timestamp with different values is ambiguous.
	h := swHeader(swMsgID, ts, swSig)
	h.Add("webhook-timestamp", strconv.Itoa(swTS+1))
	_, err := v.Verify(h, []byte(swBody), swNow)
	wantRefused(t, err, 400, "malformed_header")
	h = swHeader(swMsgID, ts, swSig)
	h.Add("webhook-id", "msg_other")
	_, err = v.Verify(h, []byte(swBody), swNow)
	wantRefused(t, err, 400, "malformed_header")
	// The same value twice is not ambiguous.
	h = swHeader(swMsgID, ts, swSig)
	h.Add("webhook-timestamp", ts)
	if _, err := v.Verify(h, []byte(swBody), swNow); err != nil {
		t.Fatalf("repeated identical timestamp: %v", err)
	}
}

// TestHeaderCase: lookup is case-insensitive, also in a hand-built header
// map whose keys are not canonical.
func TestHeaderCase(t *testing.T) {
	v := must(t)(StandardWebhooks(swSecret, 0))
	ts := strconv.Itoa(swTS)
	for _, h := range []http.Header{
		{"Webhook-Id": {swMsgID}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {swSig}},
		{"webhook-id": {swMsgID}, "WEBHOOK-TIMESTAMP": {ts}, "webhook-Signature": {swSig}},
	} {
		if id, err := v.Verify(h, []byte(swBody), swNow); err != nil || id != swMsgID {
			t.Fatalf("%v: id %q err %v", h, id, err)
		}
	}
	// Two spellings of the timestamp with different values: ambiguous.
	h := http.Header{"Webhook-Id": {swMsgID}, "Webhook-Timestamp": {ts}, "webhook-timestamp": {"1"}, "Webhook-Signature": {swSig}}
	_, err := v.Verify(h, []byte(swBody), swNow)
	wantRefused(t, err, 400, "malformed_header")
}

// GitHub's documented example of a raw-body hex HMAC, through the shared
// helpers.
func TestHexHMACHelperGitHubVector(t *testing.T) {
	const want = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	key, body := []byte("It's a Secret to Everybody"), []byte("Hello, World!")
	mac := hmacSHA256(key, body)
	if got := hex.EncodeToString(mac); got != want {
		t.Fatalf("hmacSHA256 %s, want %s", got, want)
	}
	if got := hex.EncodeToString(hmacSHA256(key, []byte("Hello"), nil, []byte(", "), []byte("World!"))); got != want {
		t.Fatalf("hmacSHA256 over parts %s", got)
	}
	header := "sha256=" + want
	sig := strings.TrimPrefix(header, "sha256=")
	for _, vals := range [][]string{{sig}, {strings.ToUpper(sig)}, {" " + sig + " "}, {"00" + sig[2:] + ", " + sig}, {"zz", sig}} {
		if err := matchHex("X-Hub-Signature-256", vals, mac); err != nil {
			t.Fatalf("%q: %v", vals, err)
		}
	}
	if err := matchHex("X-Hub-Signature-256", []string{header}, mac); err == nil || err.Status != 400 {
		t.Fatalf("prefixed form: %v (the prefix is not part of any scheme here)", err)
	}
	if err := matchHex("X-Hub-Signature-256", []string{"00" + sig[2:]}, mac); err == nil || err.Code != "bad_signature" {
		t.Fatalf("wrong signature: %v", err)
	}
	if err := matchHex("X-Hub-Signature-256", []string{sig[:62]}, mac); err == nil || err.Code != "malformed_header" {
		t.Fatalf("short signature: %v", err)
	}
}

// --- SOAPNoteAPI ---

const soapSecret = "whsec_soapnoteapi_test_secret_0123456789"

// soapSign is SOAPNoteAPI's published Node/Python verification, written
// here with crypto/hmac: hex HMAC-SHA256 of ts + "." + body keyed with the
// secret string.
func soapSign(secret, ts, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + body))
	return hex.EncodeToString(m.Sum(nil))
}

func soapHeader(ts, sig string) http.Header {
	h := http.Header{}
	if ts != "" {
		h.Set("X-SoapNoteAPI-Timestamp", ts)
	}
	if sig != "" {
		h.Set("X-SoapNoteAPI-Signature", sig)
	}
	return h
}

func TestSOAPNoteAPI(t *testing.T) {
	body := readTestdata(t, "soapnoteapi_note_generated.json")
	now := time.Date(2026, 3, 19, 15, 30, 5, 0, time.UTC)
	ts := strconv.FormatInt(now.Unix()-5, 10)
	sig := soapSign(soapSecret, ts, string(body))
	v := must(t)(SOAPNoteAPI(soapSecret, 0))
	if v.Scheme() != "soapnoteapi" {
		t.Fatalf("scheme %q", v.Scheme())
	}
	wrong := soapSign("another secret", ts, string(body))
	for name, sigs := range map[string]string{
		"plain":     sig,
		"uppercase": strings.ToUpper(sig),
		"rotation":  wrong + "," + sig,
		"spaced":    wrong + ", " + sig,
	} {
		id, err := v.Verify(soapHeader(ts, sigs), body, now)
		if err != nil || id != "" {
			t.Fatalf("%s: id %q err %v", name, id, err)
		}
	}
	// Lower-case header names as Node prints them, in a hand-built map.
	h := http.Header{"x-soapnoteapi-timestamp": {ts}, "x-soapnoteapi-signature": {sig}}
	if _, err := v.Verify(h, body, now); err != nil {
		t.Fatalf("lower-case keys: %v", err)
	}
	// The key is the secret string, not a decoded whsec_ value.
	decoded, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(swSecret, "whsec_"))
	m := hmac.New(sha256.New, decoded)
	m.Write([]byte(ts + "." + string(body)))
	vsw := must(t)(SOAPNoteAPI(swSecret, 0))
	_, err := vsw.Verify(soapHeader(ts, hex.EncodeToString(m.Sum(nil))), body, now)
	wantRefused(t, err, 401, "bad_signature")
	if _, err := vsw.Verify(soapHeader(ts, soapSign(swSecret, ts, string(body))), body, now); err != nil {
		t.Fatalf("whsec_ string as key: %v", err)
	}

	secrets := []string{soapSecret, sig}
	big := strings.Repeat("f", 10*1024)
	for _, c := range []struct {
		name   string
		h      http.Header
		body   []byte
		now    time.Time
		status int
		code   string
	}{
		{"wrong secret", soapHeader(ts, wrong), body, now, 401, "bad_signature"},
		{"tampered body", soapHeader(ts, sig), append([]byte(nil), append(body, ' ')...), now, 401, "bad_signature"},
		{"no dot", soapHeader(ts, hex.EncodeToString(hmacSHA256([]byte(soapSecret), []byte(ts), body))), body, now, 401, "bad_signature"},
		{"stale", soapHeader(ts, sig), body, now.Add(6 * time.Minute), 401, "stale_timestamp"},
		{"future", soapHeader(ts, sig), body, now.Add(-6 * time.Minute), 401, "stale_timestamp"},
		{"no timestamp", soapHeader("", sig), body, now, 401, "missing_signature"},
		{"no signature", soapHeader(ts, ""), body, now, 401, "missing_signature"},
		{"no headers", nil, body, now, 401, "missing_signature"},
		{"timestamp words", soapHeader("now", soapSign(soapSecret, "now", string(body))), body, now, 400, "malformed_header"},
		{"timestamp iso", soapHeader("2026-03-19T15:30:00Z", soapSign(soapSecret, "2026-03-19T15:30:00Z", string(body))), body, now, 400, "malformed_header"},
		{"timestamp hex", soapHeader("0x10", sig), body, now, 400, "malformed_header"},
		{"signature not hex", soapHeader(ts, "not-hex"), body, now, 400, "malformed_header"},
		{"signature base64", soapHeader(ts, base64.StdEncoding.EncodeToString(hmacSHA256([]byte(soapSecret), []byte(ts+"."), body))), body, now, 400, "malformed_header"},
		{"signature short", soapHeader(ts, sig[:40]), body, now, 400, "malformed_header"},
		{"signature prefixed", soapHeader(ts, "sha256="+sig), body, now, 400, "malformed_header"},
		{"10 KB signature", soapHeader(ts, big), body, now, 400, "malformed_header"},
		{"10 KB timestamp", soapHeader(strings.Repeat("1", 10*1024), sig), body, now, 400, "malformed_header"},
		{"many signatures", soapHeader(ts, strings.Repeat(wrong+",", 40)+sig), body, now, 400, "malformed_header"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(c.h, c.body, c.now)
			wantRefused(t, err, c.status, c.code, secrets...)
		})
	}
	if _, err := SOAPNoteAPI(" \t", 0); clinicsync.ErrorCode(err) != clinicsync.EConfig {
		t.Fatalf("blank secret: %v", err)
	}
}

// --- Nabla ---

const nablaSecret = "nabla-webhook-secret-4f1c"

// nablaSign is Nabla's scheme written here with crypto/hmac: hex
// HMAC-SHA256 of timestamp + body, no separator.
func nablaSign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func nablaHeader(ts, sig string) http.Header {
	h := http.Header{}
	if ts != "" {
		h.Set("x-nabla-webhook-timestamp", ts)
	}
	if sig != "" {
		h.Set("x-nabla-webhook-signature", sig)
	}
	return h
}

func TestNabla(t *testing.T) {
	body := readTestdata(t, "nabla_generate_note_succeeded.json")
	now := time.Date(2026, 3, 19, 15, 30, 0, 0, time.UTC)
	v := must(t)(Nabla(nablaSecret, 0))
	if v.Scheme() != "nabla" {
		t.Fatalf("scheme %q", v.Scheme())
	}
	wrong := nablaSign("old secret", "1", body)
	for _, ts := range []string{
		strconv.FormatInt(now.Unix(), 10),
		strconv.FormatInt(now.Unix()-299, 10),
		"2026-03-19T15:30:00Z",
		"2026-03-19T15:29:30.123Z",
		"2026-03-19T16:32:00+01:00",
		"2026-03-19T15:30:00.123456789Z",
	} {
		sig := nablaSign(nablaSecret, ts, body)
		for name, sigs := range map[string]string{
			"one":       sig,
			"uppercase": strings.ToUpper(sig),
			"rotation":  wrong + "," + sig,
			"spaced":    sig + " , " + wrong,
			"trailing":  sig + ",",
		} {
			id, err := v.Verify(nablaHeader(ts, sigs), body, now)
			if err != nil || id != "" {
				t.Fatalf("%s %s: id %q err %v", ts, name, id, err)
			}
		}
	}
	// The timestamp is signed exactly as sent: the same instant written
	// another way does not verify.
	sig := nablaSign(nablaSecret, "2026-03-19T15:30:00Z", body)
	_, err := v.Verify(nablaHeader("2026-03-19T15:30:00.000Z", sig), body, now)
	wantRefused(t, err, 401, "bad_signature")
	_, err = v.Verify(nablaHeader(strconv.FormatInt(now.Unix(), 10), sig), body, now)
	wantRefused(t, err, 401, "bad_signature")

	unix := strconv.FormatInt(now.Unix(), 10)
	good := nablaSign(nablaSecret, unix, body)
	secrets := []string{nablaSecret, good}
	for _, c := range []struct {
		name   string
		h      http.Header
		body   []byte
		now    time.Time
		status int
		code   string
	}{
		{"wrong secret", nablaHeader(unix, nablaSign("x", unix, body)), body, now, 401, "bad_signature"},
		{"with dot", nablaHeader(unix, nablaSign(nablaSecret, unix+".", body)), body, now, 401, "bad_signature"},
		{"tampered", nablaHeader(unix, good), []byte(strings.Replace(string(body), "Cough", "cough", 1)), now, 401, "bad_signature"},
		{"stale unix", nablaHeader(unix, good), body, now.Add(6 * time.Minute), 401, "stale_timestamp"},
		{"future unix", nablaHeader(unix, good), body, now.Add(-6 * time.Minute), 401, "stale_timestamp"},
		{"stale iso", nablaHeader("2026-03-19T15:20:00Z", nablaSign(nablaSecret, "2026-03-19T15:20:00Z", body)), body, now, 401, "stale_timestamp"},
		{"future iso", nablaHeader("2026-03-19T15:40:00Z", nablaSign(nablaSecret, "2026-03-19T15:40:00Z", body)), body, now, 401, "stale_timestamp"},
		{"no timestamp", nablaHeader("", good), body, now, 401, "missing_signature"},
		{"no signature", nablaHeader(unix, ""), body, now, 401, "missing_signature"},
		{"only commas", nablaHeader(unix, " , ,"), body, now, 400, "malformed_header"},
		{"timestamp words", nablaHeader("yesterday", nablaSign(nablaSecret, "yesterday", body)), body, now, 400, "malformed_header"},
		{"iso without zone", nablaHeader("2026-03-19T15:30:00", nablaSign(nablaSecret, "2026-03-19T15:30:00", body)), body, now, 400, "malformed_header"},
		{"date only", nablaHeader("2026-03-19", nablaSign(nablaSecret, "2026-03-19", body)), body, now, 400, "malformed_header"},
		{"negative", nablaHeader("-1", nablaSign(nablaSecret, "-1", body)), body, now, 400, "malformed_header"},
		{"signature not hex", nablaHeader(unix, "zz"+good[2:]), body, now, 400, "malformed_header"},
		{"10 KB signature", nablaHeader(unix, strings.Repeat("0", 10*1024)), body, now, 400, "malformed_header"},
		{"10 KB signature list", nablaHeader(unix, strings.Repeat(good+",", 160)), body, now, 400, "malformed_header"},
		{"10 KB timestamp", nablaHeader(strings.Repeat("9", 10*1024), good), body, now, 400, "malformed_header"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(c.h, c.body, c.now)
			wantRefused(t, err, c.status, c.code, secrets...)
		})
	}
	if _, err := Nabla("", 0); clinicsync.ErrorCode(err) != clinicsync.EConfig {
		t.Fatalf("empty secret: %v", err)
	}
}

func TestUnsignedAndNewVerifier(t *testing.T) {
	u := Unsigned()
	if u.Scheme() != "unsigned" {
		t.Fatalf("scheme %q", u.Scheme())
	}
	if id, err := u.Verify(nil, nil, time.Time{}); id != "" || err != nil {
		t.Fatalf("unsigned: %q %v", id, err)
	}
	for _, s := range []string{SchemeStandardWebhooks, SchemeSOAPNoteAPI, SchemeNabla, SchemeUnsigned} {
		v, err := NewVerifier(s, swSecret, 0)
		if err != nil || v.Scheme() != s {
			t.Fatalf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "hmac", "Standard-Webhooks"} {
		if _, err := NewVerifier(s, swSecret, 0); clinicsync.ErrorCode(err) != clinicsync.EConfig {
			t.Fatalf("scheme %q: %v", s, err)
		}
	}
	for _, s := range []string{SchemeStandardWebhooks, SchemeSOAPNoteAPI, SchemeNabla} {
		if _, err := NewVerifier(s, "", 0); err == nil {
			t.Fatalf("%s with an empty secret", s)
		}
	}
	if !strings.Contains(AzodhaNote(), "Standard Webhooks") || AzodhaNote() != AzodhaVerificationNote {
		t.Fatalf("AzodhaNote %q", AzodhaNote())
	}
}

// TestVerifyNeverPanics: nil and odd inputs to every verifier.
func TestVerifyNeverPanics(t *testing.T) {
	vs := []Verifier{Unsigned()}
	for _, s := range []string{SchemeStandardWebhooks, SchemeSOAPNoteAPI, SchemeNabla} {
		vs = append(vs, must(t)(NewVerifier(s, swSecret, 0)))
	}
	odd := []string{"", " ", ",", "v1,", "v1,,", "\x00", "\xff\xfe", strings.Repeat(",", 5000), "v1," + strings.Repeat("=", 100), "9223372036854775807", "-0", "0"}
	for _, v := range vs {
		for _, a := range odd {
			for _, b := range odd {
				h := http.Header{}
				for _, k := range []string{"webhook-id", "webhook-timestamp", "X-SoapNoteAPI-Timestamp", "x-nabla-webhook-timestamp"} {
					h.Set(k, a)
				}
				for _, k := range []string{"webhook-signature", "X-SoapNoteAPI-Signature", "x-nabla-webhook-signature"} {
					h.Set(k, b)
				}
				for _, now := range []time.Time{{}, time.Unix(0, 0), time.Unix(1<<62, 0)} {
					_, err := v.Verify(h, []byte(a+b), now)
					if err != nil {
						var ve *VerifyError
						if !errors.As(err, &ve) || (ve.Status != 400 && ve.Status != 401) {
							t.Fatalf("%s: %v", v.Scheme(), err)
						}
						if (ve.Status == 400) != (ve.Code == "malformed_header") {
							t.Fatalf("%s: status %d with code %s", v.Scheme(), ve.Status, ve.Code)
						}
					}
				}
			}
		}
	}
}
