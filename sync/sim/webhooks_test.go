package sim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

// hit is one request a receiver got.
type hit struct {
	at     time.Time
	path   string
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint; answer decides the response to the
// n-th request (1-based) it gets.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	hits   []hit
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

// newReceiver starts a receiver (nil answer: always 200). Create it before
// the simulator so that the simulator closes first.
func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.hits = append(rc.hits, hit{at: time.Now(), path: r.URL.Path, header: r.Header.Clone(), body: body})
		n := len(rc.hits)
		rc.mu.Unlock()
		if rc.answer == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		rc.answer(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

func (rc *receiver) paths() []string {
	var out []string
	for _, h := range rc.got() {
		out = append(out, h.path)
	}
	return out
}

// register creates a webhook through the API and returns its uuid.
func (c *tclient) register(url string, events ...string) string {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{"url": url, "events": events, "active": true})
	resp, body := c.do("POST", "/webhooks", string(b))
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("POST /webhooks: %d %s", resp.StatusCode, body)
	}
	var w struct {
		UUID string `json:"uuid"`
	}
	if err := json.Unmarshal(body, &w); err != nil || w.UUID == "" {
		c.t.Fatalf("POST /webhooks body %s", body)
	}
	return w.UUID
}

type envelope struct {
	Events []struct {
		ID               string                     `json:"id"`
		ResourceType     string                     `json:"resource_type"`
		Action           string                     `json:"action"`
		Metadata         map[string]json.RawMessage `json:"metadata"`
		ResourceMetadata struct {
			UserID         string `json:"user_id"`
			OrganizationID string `json:"organization_id"`
		} `json:"resource_metadata"`
	} `json:"events"`
	Meta struct {
		WebhookID string `json:"webhook_id"`
	} `json:"meta"`
}

func decodeEnvelope(t *testing.T, b []byte) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil || len(e.Events) != 1 {
		t.Fatalf("envelope: %v: %s", err, b)
	}
	return e
}

// brief renders an attempt without its body.
func brief(d Delivery) string {
	return fmt.Sprintf("{%s %s #%d %s %s -> %d %q lost=%v %v}", d.Event, d.Resource, d.Attempt, d.ID, d.URL, d.Status, d.Err, d.Lost, d.Latency)
}

func briefs(ds []Delivery) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("\n\t" + brief(d))
	}
	return b.String()
}

func docFixture(first, last, file string) Fixture {
	return Fixture{Doc: clinicsync.Document{
		Type:    "referral_letter",
		Patient: clinicsync.Patient{ExternalID: "PMS-1", FirstName: first, LastName: last},
		PDF:     clinicsync.PDF{FileName: file},
	}}
}

func TestWebhookRegistration(t *testing.T) {
	for _, format := range []string{FormatHydra, FormatMember, FormatArray} {
		t.Run(format, func(t *testing.T) {
			clock := newFakeClock()
			s := New(Options{Format: format, Now: clock.Now, Seed: 3})
			c := start(t, s)

			bad := []struct{ body, ctype string }{
				{`{"events":["new_document"]}`, ""},
				{`{"url":"","events":["new_document"]}`, ""},
				{`{"url":"ftp://example.com/x","events":["new_document"]}`, ""},
				{`{"url":"/relative/hook","events":["new_document"]}`, ""},
				{`{"url":"http://","events":["new_document"]}`, ""},
				{`{"url":"http://exa mple.com/","events":["new_document"]}`, ""},
				{`{"url":42,"events":["new_document"]}`, ""},
				{`{"url":"https://example.com/hook"}`, ""},
				{`{"url":"https://example.com/hook","events":[]}`, ""},
				{`{"url":"https://example.com/hook","events":["new_thing"]}`, ""},
				{`{"url":"https://example.com/hook","events":"new_document"}`, ""},
				{`{"url":"https://example.com/hook","events":[1]}`, ""},
				{`{"url":"https://example.com/hook","events":["new_note"],"active":"yes"}`, ""},
				{`[]`, ""},
				{`not json`, ""},
			}
			for _, tc := range bad {
				resp, b := c.do("POST", "/webhooks", tc.body)
				var pr Problem
				if resp.StatusCode != 400 || json.Unmarshal(b, &pr) != nil || pr.Status != 400 || pr.Detail == "" ||
					!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
					t.Fatalf("%s: %d %s", tc.body, resp.StatusCode, b)
				}
			}
			if resp, _ := c.do("POST", "/webhooks", `{"url":"https://example.com/h","events":["new_note"]}`, "Content-Type", "text/plain"); resp.StatusCode != 415 {
				t.Fatalf("text/plain: %d", resp.StatusCode)
			}
			if len(s.Webhooks()) != 0 {
				t.Fatal("an invalid registration was kept")
			}

			// A valid one; repeated events are dropped, active defaults to true.
			resp, b := c.do("POST", "/webhooks", `{"url":"https://clinic.example/askara?x=1","events":["new_document","document_synchronize","new_document"]}`)
			var created map[string]any
			json.Unmarshal(b, &created)
			id, _ := created["uuid"].(string)
			if resp.StatusCode != 201 || id == "" || created["url"] != "https://clinic.example/askara?x=1" || created["active"] != true ||
				created["createdAt"] != clock.Now().Format("2006-01-02T15:04:05-07:00") || resp.Header.Get("Location") != "/webhooks/"+id {
				t.Fatalf("created: %d %s (Location %q)", resp.StatusCode, b, resp.Header.Get("Location"))
			}
			if evs, _ := created["events"].([]any); len(evs) != 2 || evs[0] != EventNewDocument || evs[1] != EventDocumentSynchronize {
				t.Fatalf("events %v", created["events"])
			}
			if (format == FormatArray) != (created["@id"] == nil) || (format != FormatArray && created["@context"] != "/contexts/Webhook") {
				t.Fatalf("JSON-LD keys in %s: %s", format, b)
			}
			id2 := c.register("http://127.0.0.1:9/inactive", EventNewNote)
			resp, b = c.do("POST", "/webhooks", `{"url":"http://localhost:8080/x","events":["new_note"],"active":false}`)
			if resp.StatusCode != 201 || !strings.Contains(string(b), `"active":false`) {
				t.Fatalf("inactive registration: %d %s", resp.StatusCode, b)
			}

			// The list.
			resp, b = c.do("GET", "/webhooks", "")
			var items []map[string]any
			switch format {
			case FormatArray:
				json.Unmarshal(b, &items)
			case FormatMember:
				var col struct {
					Member     []map[string]any `json:"member"`
					TotalItems int              `json:"totalItems"`
				}
				json.Unmarshal(b, &col)
				items = col.Member
				if col.TotalItems != 3 {
					t.Fatalf("totalItems: %s", b)
				}
			default:
				var col struct {
					Member     []map[string]any `json:"hydra:member"`
					TotalItems int              `json:"hydra:totalItems"`
				}
				json.Unmarshal(b, &col)
				items = col.Member
				if col.TotalItems != 3 {
					t.Fatalf("hydra:totalItems: %s", b)
				}
			}
			if resp.StatusCode != 200 || len(items) != 3 || items[0]["uuid"] != id || items[1]["uuid"] != id2 {
				t.Fatalf("list: %d %s", resp.StatusCode, b)
			}

			// One, patched, deleted.
			resp, b = c.do("GET", "/webhooks/"+id, "")
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"uuid":"`+id+`"`) {
				t.Fatalf("GET one: %d %s", resp.StatusCode, b)
			}
			resp, b = c.do("PATCH", "/webhooks/"+id, `{"active":false,"events":["new_note"],"url":"http://127.0.0.1:1/new"}`,
				"Content-Type", "application/merge-patch+json")
			var patched map[string]any
			json.Unmarshal(b, &patched)
			if resp.StatusCode != 200 || patched["active"] != false || patched["url"] != "http://127.0.0.1:1/new" {
				t.Fatalf("PATCH: %d %s", resp.StatusCode, b)
			}
			if w := s.Webhooks()[0]; w.Active || len(w.Events) != 1 || w.Events[0] != EventNewNote || w.URL != "http://127.0.0.1:1/new" {
				t.Fatalf("Webhooks() after PATCH: %+v", w)
			}
			for _, body := range []string{`{"active":1}`, `{"events":[]}`, `{"url":"mailto:x@y"}`, `"x"`} {
				if resp, b := c.do("PATCH", "/webhooks/"+id, body); resp.StatusCode != 400 {
					t.Fatalf("PATCH %s: %d %s", body, resp.StatusCode, b)
				}
			}
			if resp, _ := c.do("PATCH", "/webhooks/"+id, `{}`); resp.StatusCode != 200 || s.Webhooks()[0].URL != "http://127.0.0.1:1/new" {
				t.Fatalf("empty PATCH: %d", resp.StatusCode)
			}
			if resp, _ := c.do("PATCH", "/webhooks/nope", `{"active":true}`); resp.StatusCode != 404 {
				t.Fatalf("PATCH unknown: %d", resp.StatusCode)
			}
			if resp, b := c.do("DELETE", "/webhooks/"+id, ""); resp.StatusCode != 204 || len(b) != 0 {
				t.Fatalf("DELETE: %d %s", resp.StatusCode, b)
			}
			if resp, _ := c.do("GET", "/webhooks/"+id, ""); resp.StatusCode != 404 {
				t.Fatalf("GET deleted: %d", resp.StatusCode)
			}
			if resp, _ := c.do("DELETE", "/webhooks/"+id, ""); resp.StatusCode != 404 {
				t.Fatalf("DELETE again: %d", resp.StatusCode)
			}
			if ws := s.Webhooks(); len(ws) != 2 || ws[0].UUID != id2 {
				t.Fatalf("Webhooks() after DELETE: %+v", ws)
			}
			if resp, _ := c.do("PUT", "/webhooks/"+id2, `{}`); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, PATCH, DELETE" {
				t.Fatalf("PUT: %d %q", resp.StatusCode, resp.Header.Get("Allow"))
			}
			if resp, _ := c.do("DELETE", "/webhooks", ""); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, POST" {
				t.Fatalf("DELETE collection: %d", resp.StatusCode)
			}
			if resp, _ := c.do("GET", "/webhooks", "", "Authorization", ""); resp.StatusCode != 401 {
				t.Fatalf("no token: %d", resp.StatusCode)
			}
			st := s.Stats()
			if st.Endpoints["POST /webhooks"] != len(bad)+4 || st.Endpoints["GET /webhooks"] != 2 || st.Endpoints["PATCH /webhooks/{uuid}"] != 7 ||
				st.Endpoints["DELETE /webhooks/{uuid}"] != 2 || st.Endpoints["GET /webhooks/{uuid}"] != 2 || st.Unauthorized != 1 {
				t.Fatalf("endpoint counts %v", st.Endpoints)
			}
		})
	}
}

func TestAddWebhookAndOptions(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	if _, err := s.AddWebhook("file:///etc/passwd", EventNewNote); err == nil {
		t.Fatal("file URL accepted")
	}
	if _, err := s.AddWebhook("http://127.0.0.1:1/", "bogus"); err == nil {
		t.Fatal("unknown event accepted")
	}
	if _, err := s.AddWebhook("http://127.0.0.1:1/"); err == nil {
		t.Fatal("no event accepted")
	}
	w, err := s.AddWebhook("http://127.0.0.1:1/", EventNewNote, EventNewNote)
	if err != nil || !w.Active || len(w.Events) != 1 || w.UUID == "" {
		t.Fatalf("AddWebhook: %+v %v", w, err)
	}
	for _, o := range []Options{
		{WebhookSecret: "whsec_not base64!"},
		{WebhookSecret: "whsec_"},
		{WebhookDuplicate: 1.5},
		{WebhookRetryScale: -1},
		{WebhookTimeout: -time.Second},
	} {
		if o.Validate() == nil {
			t.Fatalf("%+v accepted", o)
		}
	}
	if err := (Options{WebhookSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// The Standard Webhooks reference libraries' published test vector.
func TestSignWebhookVector(t *testing.T) {
	key, err := webhookKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := signWebhook(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("signature %s", got)
	}
}

func TestWebhookNewDocument(t *testing.T) {
	rc := newReceiver(t, nil)
	other := newReceiver(t, nil)
	clock := newFakeClock()
	s := New(Options{Documents: 3, Seed: 7, Now: clock.Now, WebhookRetryScale: 0.01})
	c := start(t, s)
	hook := c.register(rc.URL+"/askara", EventNewDocument)
	c.register(other.URL+"/manual", EventDocumentSynchronize) // not subscribed to new_document

	added := s.AddDocument(docFixture("Élodie", "Martin", "lettre/été.pdf"))
	if !s.WaitDeliveries(1, 5*time.Second) || !s.WaitWebhooksIdle(5*time.Second) {
		t.Fatal("no delivery")
	}
	time.Sleep(50 * time.Millisecond) // nothing else may arrive
	hits := rc.got()
	if len(hits) != 1 || len(other.got()) != 0 {
		t.Fatalf("%d deliveries to the subscriber, %d to the other (the generated documents must not be announced)", len(hits), len(other.got()))
	}
	h := hits[0]
	if h.path != "/askara" || h.header.Get("Content-Type") != "application/json" || h.header.Get("webhook-signature") != "" {
		t.Fatalf("request %s %v", h.path, h.header)
	}
	env := decodeEnvelope(t, h.body)
	ev := env.Events[0]
	if ev.ID != added.UUID || ev.ResourceType != "document" || ev.Action != EventNewDocument || env.Meta.WebhookID != hook {
		t.Fatalf("envelope %s", h.body)
	}
	var me struct {
		UUID         string `json:"uuid"`
		Organization struct {
			UUID string `json:"uuid"`
		} `json:"organization"`
	}
	_, b := c.do("GET", "/me", "")
	json.Unmarshal(b, &me)
	if ev.ResourceMetadata.UserID != me.UUID || ev.ResourceMetadata.OrganizationID != me.Organization.UUID || me.UUID == "" {
		t.Fatalf("resource_metadata %+v, /me %s", ev.ResourceMetadata, b)
	}

	// metadata.document is the listed item, byte for byte (the fake clock
	// has not moved, so even the signed link is the same).
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(ev.Metadata["document"], &doc); err != nil {
		t.Fatalf("metadata.document: %v: %s", err, h.body)
	}
	docs, raws := c.listAll(FormatHydra, "synchronized=false", 100)
	listed := raws[len(raws)-1]
	if docs[len(docs)-1].UUID != added.UUID || len(listed) != len(doc) {
		t.Fatalf("listed %v\nwebhook %v", listed, doc)
	}
	for k, v := range listed {
		if !bytes.Equal(v, doc[k]) {
			t.Fatalf("%s: listed %s, webhook %s", k, v, doc[k])
		}
	}
	var d clinicsync.Document
	json.Unmarshal(ev.Metadata["document"], &d)
	if d.Patient.FirstName != "Élodie" || d.PDF.FileName != "lettre/été.pdf" || !strings.HasPrefix(d.PDF.URL, c.base+"/files/") {
		t.Fatalf("document %+v", d)
	}
	// Raw bytes are PHP-escaped: a receiver must verify the body it got.
	if !bytes.Contains(h.body, []byte(`\u00c9lodie`)) || !bytes.Contains(h.body, []byte(`\/files\/`)) {
		t.Fatalf("body not encoded as json_encode: %s", h.body)
	}
	// The link downloads the PDF, and stays valid for LinkTTL.
	clock.Advance(59 * time.Minute)
	resp, pdf := c.do("GET", d.PDF.URL, "")
	sum := sha256.Sum256(pdf)
	var want Expectation
	for _, e := range s.Expected() {
		if e.UUID == added.UUID {
			want = e
		}
	}
	if resp.StatusCode != 200 || !bytes.HasPrefix(pdf, []byte("%PDF-")) || hex.EncodeToString(sum[:]) != want.SHA256 {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(pdf))
	}

	ds := s.Deliveries()
	if len(ds) != 1 || len(s.FailedDeliveries()) != 0 {
		t.Fatalf("deliveries %s", briefs(ds))
	}
	r := ds[0]
	if r.Webhook != hook || r.Event != EventNewDocument || r.Resource != added.UUID || r.Attempt != 1 || r.Status != 200 ||
		r.Err != "" || !r.Delivered() || r.Lost || !strings.HasPrefix(r.ID, "msg_") || len(r.ID) != 28 ||
		!r.Time.Equal(clock.Now().Add(-59*time.Minute)) || r.Latency <= 0 || !bytes.Equal(r.Body, h.body) || r.URL != rc.URL+"/askara" {
		t.Fatalf("record %s", brief(r))
	}

	// Two subscribers: one delivery each, with their own ids.
	second := c.register(rc.URL+"/second", EventNewDocument, EventNewNote)
	s.AddDocument(docFixture("Zoë", "Dubois", "report.pdf"))
	if !s.WaitDeliveries(3, 5*time.Second) || !s.WaitWebhooksIdle(5*time.Second) {
		t.Fatal("second document not delivered twice")
	}
	ds = s.Deliveries()[1:]
	if len(ds) != 2 || ds[0].ID == ds[1].ID || ds[0].Webhook == ds[1].Webhook || (ds[0].Webhook != second && ds[1].Webhook != second) {
		t.Fatalf("two subscribers: %s", briefs(ds))
	}
}

func TestWebhookSignature(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	rc := newReceiver(t, nil)
	clock := newFakeClock()
	s := New(Options{Seed: 1, Now: clock.Now, WebhookSecret: secret})
	c := start(t, s)
	c.register(rc.URL, EventNewDocument, EventNewNote)
	s.AddDocument(docFixture("Jean", "O'Brien", "a.pdf"))
	s.AddNote(Note{Content: "Patient presents with…"})
	if !s.WaitDeliveries(2, 5*time.Second) {
		t.Fatal("no deliveries")
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	ids := map[string]bool{}
	for _, h := range rc.got() {
		id, ts, sig := h.header.Get("webhook-id"), h.header.Get("webhook-timestamp"), h.header.Get("webhook-signature")
		if ts != strconv.FormatInt(clock.Now().Unix(), 10) || !strings.HasPrefix(id, "msg_") || ids[id] {
			t.Fatalf("headers %v", h.header)
		}
		ids[id] = true
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(h.body)
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		if !hmac.Equal([]byte(sig), []byte(want)) {
			t.Fatalf("signature %q, want %q", sig, want)
		}
		// Re-encoding the JSON (what a careless receiver does) breaks it.
		var v any
		json.Unmarshal(h.body, &v)
		re, _ := json.Marshal(v)
		m = hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(re)
		if "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)) == sig {
			t.Fatal("signature survives re-encoding: the body is not hostile enough")
		}
	}
	for _, d := range s.Deliveries() {
		if !ids[d.ID] {
			t.Fatalf("recorded id %s not sent", d.ID)
		}
	}
}

func TestWebhookRetrySchedule(t *testing.T) {
	// 1 s, 2 s, 4 s: long enough for a loaded 2-CPU machine running -race
	// not to blur the 1:2 ratio.
	const scale = 0.2
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			writeProblem(w, http.StatusInternalServerError, "boom")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s := New(Options{Seed: 2, WebhookRetryScale: scale, WebhookSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	c := start(t, s)
	c.register(rc.URL, EventNewDocument)
	doc := s.AddDocument(docFixture("Ana", "García", "x.pdf"))
	if !s.WaitDeliveries(3, 10*time.Second) || !s.WaitWebhooksIdle(10*time.Second) {
		t.Fatalf("deliveries %s", briefs(s.Deliveries()))
	}
	hits := rc.got() // idle: no 4th attempt can follow
	if len(hits) != 3 {
		t.Fatalf("%d attempts, want 3", len(hits))
	}
	id := hits[0].header.Get("webhook-id")
	for _, h := range hits {
		if h.header.Get("webhook-id") != id || !bytes.Equal(h.body, hits[0].body) {
			t.Fatal("retries changed the webhook-id or the body")
		}
	}
	// As the receiver saw them: never early, not much late.
	gap1, gap2 := hits[1].at.Sub(hits[0].at), hits[2].at.Sub(hits[1].at)
	d1, d2 := time.Duration(float64(5*time.Second)*scale), time.Duration(float64(10*time.Second)*scale)
	if gap1 < d1 || gap2 < d2 || gap1 > d1+time.Second || gap2 > d2+time.Second {
		t.Fatalf("gaps %v, %v; want about %v, %v", gap1, gap2, d1, d2)
	}
	// The waits themselves (end of an attempt to the start of the next,
	// from the records, free of request latency) are in ratio 1:2.
	ds := s.Deliveries()
	wait1 := ds[1].Time.Sub(ds[0].Time.Add(ds[0].Latency))
	wait2 := ds[2].Time.Sub(ds[1].Time.Add(ds[1].Latency))
	if r := float64(wait2) / float64(wait1); wait1 < d1 || r < 1.5 || r > 2.7 {
		t.Fatalf("waits %v, %v (ratio %.2f), want %v, %v", wait1, wait2, r, d1, d2)
	}
	for i, want := range []int{500, 500, 204} {
		if ds[i].Attempt != i+1 || ds[i].Status != want || ds[i].ID != id || ds[i].Resource != doc.UUID {
			t.Fatalf("attempt %d: %s", i+1, brief(ds[i]))
		}
	}
	if len(s.FailedDeliveries()) != 0 {
		t.Fatal("a delivery that succeeded is in the failure queue")
	}
}

func TestWebhookFailureQueue(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound) // not followed: a failure
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	s := New(Options{Seed: 4, WebhookRetryScale: 0.01})
	c := start(t, s)
	failing := c.register(rc.URL, EventNewNote)
	refused := c.register(dead, EventNewNote)
	note := s.AddNote(Note{Content: "x"})
	if !s.WaitDeliveries(8, 10*time.Second) || !s.WaitWebhooksIdle(10*time.Second) {
		t.Fatalf("deliveries %s", briefs(s.Deliveries()))
	}
	if n := len(rc.got()); n != 4 {
		t.Fatalf("the failing receiver got %d attempts, want 4", n)
	}
	for _, h := range rc.got() {
		if h.path != "/" {
			t.Fatalf("redirect followed to %s", h.path)
		}
	}
	failed := s.FailedDeliveries()
	if len(failed) != 2 {
		t.Fatalf("failure queue %s", briefs(failed))
	}
	byHook := map[string]Delivery{}
	for _, f := range failed {
		byHook[f.Webhook] = f
		if f.Attempt != 4 || f.Delivered() || f.Event != EventNewNote || f.Resource != note.UUID {
			t.Fatalf("failed %s", brief(f))
		}
	}
	if byHook[failing].Status != http.StatusFound || byHook[refused].Status != 0 || byHook[refused].Err == "" {
		t.Fatalf("failure reasons %s", briefs(failed))
	}
	attempts := map[string][]int{}
	for _, d := range s.Deliveries() {
		attempts[d.Webhook] = append(attempts[d.Webhook], d.Attempt)
	}
	for h, a := range attempts {
		if len(a) != 4 || a[0] != 1 || a[3] != 4 {
			t.Fatalf("%s attempts %v", h, a)
		}
	}
}

func TestWebhookTimeout(t *testing.T) {
	const timeout = 150 * time.Millisecond
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select { // far past the timeout, unless the sender hangs up
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusOK) // too late for the first attempt
	})
	s := New(Options{Seed: 5, WebhookTimeout: timeout, WebhookRetryScale: 0.01})
	c := start(t, s)
	c.register(rc.URL, EventNewDocument)
	s.AddDocument(docFixture("Liam", "Smith-Jones", "y.pdf"))
	if !s.WaitDeliveries(2, 10*time.Second) || !s.WaitWebhooksIdle(10*time.Second) {
		t.Fatalf("deliveries %s", briefs(s.Deliveries()))
	}
	ds := s.Deliveries()
	if len(ds) != 2 || ds[0].Status != 0 || !strings.HasPrefix(ds[0].Err, "timeout") || ds[0].Latency < timeout || ds[0].Latency > 2*time.Second ||
		!ds[1].Delivered() || ds[1].Attempt != 2 {
		t.Fatalf("deliveries %s", briefs(ds))
	}
}

func TestWebhookInactiveAndDeleted(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/flaky" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	s := New(Options{Seed: 6, WebhookRetryScale: 0.2}) // first retry after 1 s
	c := start(t, s)
	paused := c.register(rc.URL+"/paused", EventNewDocument)
	deleted := c.register(rc.URL+"/deleted", EventNewDocument)
	live := c.register(rc.URL+"/live", EventNewDocument)
	if resp, _ := c.do("PATCH", "/webhooks/"+paused, `{"active":false}`); resp.StatusCode != 200 {
		t.Fatal("PATCH")
	}
	if resp, _ := c.do("DELETE", "/webhooks/"+deleted, ""); resp.StatusCode != 204 {
		t.Fatal("DELETE")
	}
	s.AddDocument(docFixture("A", "B", "1.pdf"))
	s.WaitWebhooksIdle(5 * time.Second)
	if p := rc.paths(); len(p) != 1 || p[0] != "/live" {
		t.Fatalf("deliveries to %v, want only /live", p)
	}

	// Reactivated, and the live one moved: both follow.
	c.do("PATCH", "/webhooks/"+paused, `{"active":true}`)
	c.do("PATCH", "/webhooks/"+live, `{"url":"`+rc.URL+`/moved"}`)
	s.AddDocument(docFixture("C", "D", "2.pdf"))
	s.WaitWebhooksIdle(5 * time.Second)
	if p := rc.paths()[1:]; len(p) != 2 || !(p[0] == "/paused" && p[1] == "/moved" || p[0] == "/moved" && p[1] == "/paused") {
		t.Fatalf("deliveries to %v", p)
	}

	// A webhook deactivated while a retry is pending gets no retry, and
	// the delivery is dropped rather than queued as failed.
	flaky := c.register(rc.URL+"/flaky", EventDocumentSynchronize)
	if !s.Synchronize(s.Expected()[0].UUID) {
		t.Fatal("Synchronize")
	}
	if !s.WaitDeliveries(4, 5*time.Second) {
		t.Fatal("first attempt missing")
	}
	c.do("PATCH", "/webhooks/"+flaky, `{"active":false}`)
	if !s.WaitWebhooksIdle(5 * time.Second) { // the retry's turn came and went
		t.Fatal("not idle")
	}
	if n := len(s.Deliveries()); n != 4 || len(s.FailedDeliveries()) != 0 {
		t.Fatalf("%d attempts, failed %s", n, briefs(s.FailedDeliveries()))
	}
}

func TestWebhookSynchronize(t *testing.T) {
	rc := newReceiver(t, nil)
	s := New(Options{Documents: 2, Seed: 8, Format: FormatArray})
	c := start(t, s)
	c.register(rc.URL+"/manual", EventDocumentSynchronize)
	c.register(rc.URL+"/auto", EventNewDocument)
	u := s.Expected()[1].UUID
	if c.status(u, clinicsync.Status{Success: true}) != 200 || !s.Synchronized(u) {
		t.Fatal("status")
	}
	if s.Synchronize("no-such-document") {
		t.Fatal("Synchronize of an unknown document")
	}
	if !s.Synchronize(u) || s.Synchronized(u) {
		t.Fatal("Synchronize did not unsynchronize")
	}
	if !s.WaitDeliveries(1, 5*time.Second) || !s.WaitWebhooksIdle(5*time.Second) {
		t.Fatal("no delivery")
	}
	hits := rc.got()
	if len(hits) != 1 || hits[0].path != "/manual" {
		t.Fatalf("deliveries to %v", rc.paths())
	}
	ev := decodeEnvelope(t, hits[0].body).Events[0]
	var d clinicsync.Document
	json.Unmarshal(ev.Metadata["document"], &d)
	if ev.Action != EventDocumentSynchronize || ev.ID != u || ev.ResourceType != "document" || d.UUID != u || d.PDF.URL == "" ||
		bytes.Contains(ev.Metadata["document"], []byte(`"@id"`)) {
		t.Fatalf("event %s", hits[0].body)
	}
	docs, _ := c.listAll(FormatArray, "synchronized=false", 100)
	if len(docs) != 2 {
		t.Fatalf("%d unsynchronized, want 2", len(docs))
	}
}

func TestWebhookNote(t *testing.T) {
	rc := newReceiver(t, nil)
	clock := newFakeClock()
	s := New(Options{Seed: 9, Now: clock.Now})
	c := start(t, s)
	c.register(rc.URL, EventNewNote)
	p := clinicsync.Patient{UUID: "p-1", FirstName: "Noémie", LastName: "N'Diaye", ExternalID: "PMS-9"}
	n := s.AddNote(Note{Content: "Patient presents with a cough.", Patient: p})
	if n.UUID == "" || n.Type != "consultation_summary" || !n.CreatedAt.Equal(clock.Now()) || !n.UpdatedAt.Equal(n.CreatedAt) {
		t.Fatalf("note %+v", n)
	}
	if !s.WaitDeliveries(1, 5*time.Second) {
		t.Fatal("no delivery")
	}
	ev := decodeEnvelope(t, rc.got()[0].body).Events[0]
	var got struct {
		UUID, Type, Content, CreatedAt, UpdatedAt string
		Patient                                   map[string]string
	}
	json.Unmarshal(ev.Metadata["note"], &got)
	if ev.Action != EventNewNote || ev.ResourceType != "note" || ev.ID != n.UUID || got.UUID != n.UUID || got.Content != n.Content ||
		got.CreatedAt != "2026-03-02T09:00:00+00:00" || got.Patient["firstName"] != "Noémie" || got.Patient["uuid"] != "p-1" || len(got.Patient) != 3 {
		t.Fatalf("note event %s", rc.got()[0].body)
	}
}

func TestWebhookDuplicates(t *testing.T) {
	rc := newReceiver(t, nil)
	s := New(Options{Seed: 10, WebhookRetryScale: 0.01, WebhookSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	c := start(t, s)
	c.register(rc.URL, EventNewDocument)
	s.DuplicateNextDeliveries(1)
	first := s.AddDocument(docFixture("E", "F", "1.pdf"))
	second := s.AddDocument(docFixture("G", "H", "2.pdf"))
	if !s.WaitDeliveries(3, 5*time.Second) || !s.WaitWebhooksIdle(5*time.Second) {
		t.Fatalf("deliveries %s", briefs(s.Deliveries()))
	}
	perDoc := map[string][]hit{}
	for _, h := range rc.got() {
		perDoc[decodeEnvelope(t, h.body).Events[0].ID] = append(perDoc[decodeEnvelope(t, h.body).Events[0].ID], h)
	}
	dup := perDoc[first.UUID]
	if len(dup) != 2 || len(perDoc[second.UUID]) != 1 || dup[0].header.Get("webhook-id") != dup[1].header.Get("webhook-id") || !bytes.Equal(dup[0].body, dup[1].body) {
		t.Fatalf("duplicate: %d and %d hits", len(dup), len(perDoc[second.UUID]))
	}
	var lost, ok int
	for _, d := range s.Deliveries() {
		if d.Resource == first.UUID && d.Lost && d.Attempt == 1 && d.Status == 200 {
			lost++
		}
		if d.Resource == first.UUID && !d.Lost && d.Attempt == 2 && d.Delivered() {
			ok++
		}
	}
	if lost != 1 || ok != 1 || len(s.FailedDeliveries()) != 0 {
		t.Fatalf("records %s", briefs(s.Deliveries()))
	}

	// Options.WebhookDuplicate: 1 duplicates every delivery.
	rc2 := newReceiver(t, nil)
	s2 := New(Options{Seed: 10, WebhookRetryScale: 0.01, WebhookDuplicate: 1})
	start(t, s2)
	if _, err := s2.AddWebhook(rc2.URL, EventNewDocument); err != nil {
		t.Fatal(err)
	}
	s2.AddDocument(docFixture("I", "J", "3.pdf"))
	s2.AddDocument(docFixture("K", "L", "4.pdf"))
	s2.WaitWebhooksIdle(5 * time.Second)
	if n := len(rc2.got()); n != 4 {
		t.Fatalf("%d hits, want 4", n)
	}
}

// settleGoroutines waits for the goroutine count to come back to at most
// want, and reports the last count.
func settleGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(3 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

func TestWebhookClose(t *testing.T) {
	baseline := runtime.NumGoroutine()
	var blocked sync.WaitGroup
	blocked.Add(1)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices a hang-up only once the body is read
		if r.URL.Path == "/hang" {
			blocked.Done()
			<-r.Context().Done() // until the sender gives up
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer rc.Close()

	s := New(Options{Seed: 11, WebhookTimeout: time.Minute}) // real 5 s retry delays
	if _, err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddWebhook(rc.URL+"/fail", EventNewDocument); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddWebhook(rc.URL+"/hang", EventNewDocument); err != nil {
		t.Fatal(err)
	}
	s.AddDocument(docFixture("M", "N", "1.pdf"))
	if !s.WaitDeliveries(1, 5*time.Second) {
		t.Fatal("no first attempt")
	}
	blocked.Wait() // one attempt in flight, one retry pending
	t0 := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	ds := s.Deliveries()
	if len(ds) != 2 {
		t.Fatalf("deliveries %s", briefs(ds))
	}
	for _, d := range ds {
		if d.URL == rc.URL+"/hang" && !strings.HasPrefix(d.Err, "canceled") {
			t.Fatalf("in-flight attempt %s", brief(d))
		}
	}
	if !s.WaitWebhooksIdle(time.Second) {
		t.Fatal("deliveries still pending after Close")
	}
	s.AddDocument(docFixture("O", "P", "2.pdf")) // after Close: not delivered
	s.Synchronize(s.Expected()[0].UUID)
	time.Sleep(100 * time.Millisecond)
	if n := len(s.Deliveries()); n != 2 || len(s.FailedDeliveries()) != 0 {
		t.Fatalf("%d attempts after Close, failed %+v", n, s.FailedDeliveries())
	}
	rc.Close()
	if n := settleGoroutines(baseline + 1); n > baseline+1 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, %d before:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}

// The whole loop: a receiver that answers 200 at once; then, as Clinic
// Sync's relay will, each announced PDF is downloaded and confirmed.
func TestWebhookPushLoop(t *testing.T) {
	rc := newReceiver(t, nil)
	s := New(Options{Seed: 12, WebhookRetryScale: 0.01})
	c := start(t, s)
	c.register(rc.URL, EventNewDocument)
	want := map[string]bool{}
	for i := range 5 {
		want[s.AddDocument(docFixture("Q", "R"+strconv.Itoa(i), "doc.pdf")).UUID] = true
	}
	if !s.WaitDeliveries(5, 5*time.Second) {
		t.Fatal("not delivered")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, h := range rc.got() {
		var d clinicsync.Document
		json.Unmarshal(decodeEnvelope(t, h.body).Events[0].Metadata["document"], &d)
		req, _ := http.NewRequestWithContext(ctx, "GET", d.PDF.URL, nil)
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		pdf, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.HasPrefix(pdf, []byte("%PDF-")) || !want[d.UUID] {
			t.Fatalf("download %s: %d", d.UUID, resp.StatusCode)
		}
		if c.status(d.UUID, clinicsync.Status{Success: true}) != 200 {
			t.Fatal("status")
		}
		delete(want, d.UUID)
	}
	if len(want) != 0 {
		t.Fatalf("not delivered: %v", want)
	}
	for _, e := range s.Expected() {
		if !s.Synchronized(e.UUID) {
			t.Fatalf("%s not synchronized", e.UUID)
		}
	}
}
