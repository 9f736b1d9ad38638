package relay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/notes"
)

// recorder is a Sink that records what processing asked of the engine.
type recorder struct {
	mu      sync.Mutex
	pushes  []string // "action uuid"
	docs    []clinicsync.Document
	notes   []string
	saved   []notes.Note
	notesOn bool
	block   chan struct{} // when set, Push waits on it
}

func (r *recorder) SaveNote(ctx context.Context, n notes.Note) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saved = append(r.saved, n)
	return "saved", nil
}

func (r *recorder) NotesEnabled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.notesOn
}

func (r *recorder) Push(ctx context.Context, ev clinicsync.DocumentEvent) (string, error) {
	d, action := ev.Document, ev.Action
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pushes = append(r.pushes, action+" "+d.UUID+" "+d.PDF.FileName)
	r.docs = append(r.docs, d)
	return "saved and confirmed", nil
}

// Note records the line in English, escaped as the engine writes it.
func (r *recorder) Note(ctx context.Context, level string, t clinicsync.Text) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, level+": "+t.Clean().String())
}

func (r *recorder) snapshot() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.pushes...), append([]string(nil), r.notes...)
}

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

type relayRig struct {
	t     *testing.T
	st    *store.Store
	sink  *recorder
	srv   *Server
	url   string
	now   time.Time
	dbDir string
}

// newRelayRig starts a relay on loopback. Without o.Store it opens a
// store of its own; without o.Sink it records what the relay hands on
// (r.sink), else o.Sink (a real engine) gets it.
func newRelayRig(t *testing.T, o Options) *relayRig {
	t.Helper()
	dir := t.TempDir()
	r := &relayRig{t: t, st: o.Store, dbDir: dir, now: time.Now()}
	if r.st == nil {
		st, err := store.Open(filepath.Join(dir, "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		r.st = st
	}
	if o.Sink == nil {
		r.sink = &recorder{}
		o.Sink = r.sink
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	o.Store = r.st
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	r.srv, r.url = srv, "http://"+addr
	return r
}

// sign adds Standard Webhooks headers computed here, independently of the
// code under test.
func sign(h http.Header, id string, ts time.Time, body []byte) {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(testSecret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	t := strconv.FormatInt(ts.Unix(), 10)
	fmt.Fprintf(mac, "%s.%s.%s", id, t, body)
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", t)
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

func (r *relayRig) post(path string, body []byte, mod func(*http.Request)) (int, map[string]any) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.url+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if mod != nil {
		mod(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		r.t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

func askaraEnvelope(uuid, action, file string) []byte {
	b, _ := json.Marshal(map[string]any{
		"events": []any{map[string]any{
			"id": uuid, "resource_type": "document", "action": action,
			"metadata": map[string]any{"document": map[string]any{
				"uuid": uuid, "type": "referral_letter", "state": "verified",
				"patient": map[string]any{"uuid": "p1", "firstName": "John", "lastName": "Doe"},
				"pdf":     map[string]any{"url": "https://files.example/" + uuid + "?sig=abc", "fileName": file},
			}},
			"resource_metadata": map[string]any{"user_id": "u", "organization_id": "o"},
		}},
		"meta": map[string]any{"webhook_id": "wh-1"},
	})
	return b
}

func (r *relayRig) until(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSignedDeliveryIsStoredThenProcessedOnce(t *testing.T) {
	r := newRelayRig(t, Options{Secrets: map[string]string{"askara": testSecret}})
	body := askaraEnvelope("doc-1", "new_document", "letter.pdf")
	code, out := r.post("/webhooks/askara", body, func(q *http.Request) { sign(q.Header, "msg_1", time.Now(), body) })
	if code != 200 || out["status"] != "accepted" {
		t.Fatalf("%d %v", code, out)
	}
	r.until("the push", func() bool { p, _ := r.sink.snapshot(); return len(p) == 1 })
	// Askara's retry of the same delivery (its 200 was lost): acknowledged, not processed again.
	code, out = r.post("/webhooks/askara", body, func(q *http.Request) { sign(q.Header, "msg_1", time.Now(), body) })
	if code != 200 || out["status"] != "duplicate" {
		t.Fatalf("retry: %d %v", code, out)
	}
	// The same event in another delivery (another id, same body) is still one event.
	code, _ = r.post("/webhooks/askara", body, func(q *http.Request) { sign(q.Header, "msg_2", time.Now(), body) })
	if code != 200 {
		t.Fatalf("second delivery: %d", code)
	}
	time.Sleep(50 * time.Millisecond)
	pushes, _ := r.sink.snapshot()
	if len(pushes) != 1 || pushes[0] != "new_document doc-1 letter.pdf" {
		t.Fatalf("pushes %v", pushes)
	}
	st, _ := r.st.InboxStats(context.Background())
	if st.Counts[store.InboxProcessed] != 1 || st.LastReceived.IsZero() {
		t.Fatalf("inbox %+v", st)
	}
	// The inbox does not keep the header that proves nothing once checked, nor the body once processed.
	ds, _ := r.st.InboxGet(context.Background(), 1)
	if ds.Body != nil || ds.Headers["webhook-signature"] != "" || ds.Verified != "standard-webhooks" || ds.DeliveryID != "msg_1" {
		t.Fatalf("stored %+v", ds)
	}
}

func TestBadInputGetsTheRightAnswer(t *testing.T) {
	r := newRelayRig(t, Options{Secrets: map[string]string{"askara": testSecret}, Enabled: []string{"askara", "soapnoteapi"}})
	good := askaraEnvelope("doc-2", "new_document", "a.pdf")
	signed := func(id string, ts time.Time, body []byte) func(*http.Request) {
		return func(q *http.Request) { sign(q.Header, id, ts, body) }
	}
	big := bytes.Repeat([]byte("x"), DefaultMaxBody+1)
	cases := []struct {
		name   string
		method string
		path   string
		body   []byte
		mod    func(*http.Request)
		status int
		code   string
	}{
		{"get", http.MethodGet, "/webhooks/askara", nil, nil, 405, "method_not_allowed"},
		{"text/plain", "", "/webhooks/askara", good, func(q *http.Request) { q.Header.Set("Content-Type", "text/plain") }, 415, "bad_content_type"},
		{"too large", "", "/webhooks/askara", big, signed("m1", time.Now(), big), 413, "too_large"},
		{"malformed json", "", "/webhooks/askara", []byte(`{"events":[`), signed("m2", time.Now(), []byte(`{"events":[`)), 400, "bad_envelope"},
		{"no signature", "", "/webhooks/askara", good, nil, 401, ""},
		{"wrong signature", "", "/webhooks/askara", good, signed("m3", time.Now(), []byte("other")), 401, ""},
		{"stale timestamp", "", "/webhooks/askara", good, signed("m4", time.Now().Add(-6*time.Minute), good), 401, ""},
		{"future timestamp", "", "/webhooks/askara", good, signed("m5", time.Now().Add(6*time.Minute), good), 401, ""},
		{"no secret for the platform", "", "/webhooks/soapnoteapi", []byte(`{"event":"test","note_id":"t"}`), nil, 401, "no_secret"},
		{"disabled platform", "", "/webhooks/nabla", []byte(`{}`), nil, 404, "platform_disabled"},
		{"unknown path", "", "/webhooks/other", []byte(`{}`), nil, 404, "unknown_path"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(cmpOr(c.method, http.MethodPost), r.url+c.path, bytes.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		if c.mod != nil {
			c.mod(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var out map[string]string
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != c.status || out["error"] == "" || (c.code != "" && out["error"] != c.code) {
			t.Errorf("%s: %d %v, want %d %s", c.name, resp.StatusCode, out, c.status, c.code)
		}
	}
	// A delivery id used again for another body is a replay.
	code, _ := r.post("/webhooks/askara", good, signed("msg_r", time.Now(), good))
	other := askaraEnvelope("doc-3", "new_document", "b.pdf")
	code2, out := r.post("/webhooks/askara", other, signed("msg_r", time.Now(), other))
	if code != 200 || code2 != 409 || out["error"] != "replayed_id" {
		t.Fatalf("replay: %d then %d %v", code, code2, out)
	}
	st := r.srv.Stats()
	if st.Refused["askara: bad_signature"]+st.Refused["askara: missing_signature"] < 2 || st.Accepted != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Refusals are in the activity log, once per kind (not once per request).
	_, notes := r.sink.snapshot()
	joined := strings.Join(notes, "\n")
	if !strings.Contains(joined, "refused a delivery on /webhooks/askara (HTTP 413)") || strings.Count(joined, "HTTP 405") != 1 {
		t.Fatalf("activity:\n%s", joined)
	}
	if pending, _ := r.st.InboxPending(context.Background(), 100); len(pending) > 1 {
		t.Fatalf("refused deliveries were stored: %d", len(pending))
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestNonLoopbackNeedsASecretForEveryPlatform(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sink := &recorder{}
	_, err = New(Options{Listen: "0.0.0.0:8787", Enabled: []string{"askara", "nabla"},
		Secrets: map[string]string{"askara": testSecret}, AllowUnsigned: true, Store: st, Sink: sink})
	if err == nil || !strings.Contains(clinicsync.ErrorMessage(err), "nabla") {
		t.Fatalf("non-loopback without a nabla secret: %v", err)
	}
	if _, err := New(Options{Listen: "0.0.0.0:8787", Enabled: []string{"askara", "nabla"},
		Secrets: map[string]string{"askara": testSecret, "nabla": "nabla-secret"}, Store: st, Sink: sink}); err != nil {
		t.Fatalf("with every secret: %v", err)
	}
	if _, err := New(Options{Listen: "127.0.0.1:8787", Enabled: []string{"askara"}, Store: st, Sink: sink}); err != nil {
		t.Fatalf("loopback without a secret: %v", err)
	}
	for _, l := range []string{"127.0.0.1:1", "[::1]:1", "localhost:1"} {
		if !IsLoopback(l) {
			t.Errorf("%s is loopback", l)
		}
	}
	for _, l := range []string{"0.0.0.0:1", "192.168.1.10:1", ":8787", "example.org:1"} {
		if IsLoopback(l) {
			t.Errorf("%s is not loopback", l)
		}
	}
}

func TestUnsignedOnLoopbackWhenAllowed(t *testing.T) {
	r := newRelayRig(t, Options{AllowUnsigned: true, Enabled: []string{"askara", "soapnoteapi"}})
	code, _ := r.post("/webhooks/askara", askaraEnvelope("doc-u", "document_synchronize", "u.pdf"), nil)
	if code != 200 {
		t.Fatalf("%d", code)
	}
	code, _ = r.post("/webhooks/soapnoteapi", []byte(`{"event":"test","note_id":"test_1","status":"test","created_at":"2026-03-18T15:30:00.000Z"}`), nil)
	if code != 200 {
		t.Fatalf("soapnoteapi test: %d", code)
	}
	r.until("processing", func() bool {
		p, n := r.sink.snapshot()
		return len(p) == 1 && strings.Contains(strings.Join(n, "\n"), "SOAPNoteAPI test event received")
	})
	if p, _ := r.sink.snapshot(); p[0] != "document_synchronize doc-u u.pdf" {
		t.Fatalf("push %v", p)
	}
	d, _ := r.st.InboxGet(context.Background(), 1)
	if d.Verified != "unverified" {
		t.Fatalf("verified %q", d.Verified)
	}
}

func TestNotesAndUnknownActionsAreKeptOrIgnored(t *testing.T) {
	r := newRelayRig(t, Options{AllowUnsigned: true})
	note := []byte(`{"events":[{"id":"note-1","resource_type":"note","action":"new_note","metadata":{"note":{"uuid":"note-1","content":"secret clinical text"}}}],"meta":{"webhook_id":"w"}}`)
	odd := []byte(`{"events":[{"id":"x-1","resource_type":"document","action":"document_archived"}],"meta":{"webhook_id":"w"}}`)
	for _, b := range [][]byte{note, odd} {
		if code, out := r.post("/webhooks/askara", b, nil); code != 200 {
			t.Fatalf("%d %v", code, out)
		}
	}
	r.until("both processed", func() bool {
		st, _ := r.st.InboxStats(context.Background())
		return st.Counts[store.InboxDeferred] == 1 && st.Counts[store.InboxIgnored] == 1
	})
	d, _ := r.st.InboxGet(context.Background(), 1)
	if d.Body == nil {
		t.Fatal("a deferred note lost its body before the notes pipeline read it")
	}
	_, notes := r.sink.snapshot()
	joined := strings.Join(notes, "\n")
	if strings.Contains(joined, "secret clinical text") {
		t.Fatal("note text in the activity log")
	}
	if !strings.Contains(joined, "document_archived") {
		t.Fatalf("unknown action not logged:\n%s", joined)
	}
}

// A crash after the 200 and before processing loses nothing: the inbox is
// replayed when the relay starts again.
func TestInboxIsReplayedOnStart(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	body := askaraEnvelope("doc-crash", "new_document", "c.pdf")
	if _, err := st.InboxAdd(context.Background(), []*store.Delivery{{Platform: "askara", Body: body, Verified: "unverified"}}); err != nil {
		t.Fatal(err)
	}
	sink := &recorder{}
	srv, err := New(Options{Listen: "127.0.0.1:0", AllowUnsigned: true, Store: st, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	deadline := time.Now().Add(5 * time.Second)
	for {
		if p, _ := sink.snapshot(); len(p) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stored delivery was not processed on start")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Fifty senders at once: every delivery is acknowledged after its commit
// and none is lost or doubled.
func TestFiftyConcurrentSenders(t *testing.T) {
	r := newRelayRig(t, Options{Secrets: map[string]string{"askara": testSecret}})
	r.sink.block = make(chan struct{}) // processing waits: only receiving is measured
	defer close(r.sink.block)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var wg sync.WaitGroup
	errs := make(chan string, 1000)
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				id := fmt.Sprintf("doc-%d-%d", g, i)
				body := askaraEnvelope(id, "new_document", id+".pdf")
				req, _ := http.NewRequest(http.MethodPost, r.url+"/webhooks/askara", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				sign(req.Header, "msg-"+id, time.Now(), body)
				resp, err := client.Do(req)
				if err != nil {
					errs <- err.Error()
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Sprint(resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("a sender got %s", e)
	}
	var n int
	r.st.DB().QueryRow(`SELECT COUNT(*) FROM webhook_inbox`).Scan(&n)
	if n != 1000 || r.srv.Stats().Accepted != 1000 {
		t.Fatalf("%d stored, %d accepted", n, r.srv.Stats().Accepted)
	}
}

// Azodha documents no signature scheme. A secret makes its path stricter,
// never looser (issue 11, item 1): with a secret, a delivery without a valid
// Standard Webhooks signature is a 401 and nothing is stored or written,
// on loopback as from the network; without one it is a 401 too, unless the
// user allowed unsigned deliveries, on loopback, recorded "unverified".
func TestAzodhaSecretMakesThePathStricter(t *testing.T) {
	ctx := context.Background()
	body := []byte(`{"eventName":"BookAppointment","id":"evt-1","data":{}}`)
	withSecret := newRelayRig(t, Options{Enabled: []string{"azodha"}, Secrets: map[string]string{"azodha": testSecret},
		AzodhaFiles: []string{"BookAppointment"}})
	if code, out := withSecret.post("/webhooks/azodha", body, nil); code != 401 || out["error"] != CodeMissingSignature {
		t.Fatalf("loopback, secret set, no signature: %d %v", code, out)
	}
	if code, _ := withSecret.post("/webhooks/azodha", body, func(q *http.Request) { sign(q.Header, "m-a", time.Now(), []byte("tampered")) }); code != 401 {
		t.Fatalf("re-signed with a wrong signature: %d", code)
	}
	if st, _ := withSecret.st.InboxStats(ctx); len(st.Counts) != 0 {
		t.Fatalf("refused deliveries were stored: %v", st.Counts)
	}
	if code, _ := withSecret.post("/webhooks/azodha", body, func(q *http.Request) { sign(q.Header, "m-b", time.Now(), body) }); code != 200 {
		t.Fatalf("re-signed: %d", code)
	}
	withSecret.until("the signed event written", func() bool {
		_, n := withSecret.sink.snapshot()
		return strings.Contains(strings.Join(n, "\n"), "file: azodha BookAppointment evt-1")
	})
	if _, n := withSecret.sink.snapshot(); strings.Count(strings.Join(n, "\n"), "file: azodha") != 1 {
		t.Fatalf("files written: %v", n)
	}
	if d, _ := withSecret.st.InboxGet(ctx, 1); d.Verified != SchemeStandardWebhooks {
		t.Fatalf("recorded as %q", d.Verified)
	}

	noSecret := newRelayRig(t, Options{Enabled: []string{"azodha"}})
	if code, out := noSecret.post("/webhooks/azodha", body, nil); code != 401 || out["error"] != "no_secret" {
		t.Fatalf("no secret, unsigned not allowed: %d %v", code, out)
	}
	allowed := newRelayRig(t, Options{Enabled: []string{"azodha"}, AllowUnsigned: true})
	if code, _ := allowed.post("/webhooks/azodha", body, nil); code != 200 {
		t.Fatalf("allow_unsigned on loopback: %d", code)
	}
	if d, _ := allowed.st.InboxGet(ctx, 1); d.Verified != "unverified" {
		t.Fatalf("recorded as %q", d.Verified)
	}

	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := New(Options{Listen: "0.0.0.0:0", Enabled: []string{"azodha"}, Secrets: map[string]string{"azodha": testSecret},
		Store: st, Sink: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	_, port, _ := net.SplitHostPort(addr)
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+port+"/webhooks/azodha", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("network listener took an unsigned Azodha delivery: %d", resp.StatusCode)
	}
}

func (r *recorder) SaveEventFile(ctx context.Context, platform, event, id string, body []byte) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, "file: "+platform+" "+event+" "+id)
	return "/inbox/" + event + ".json", nil
}
