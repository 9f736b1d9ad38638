package sim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Webhooks. The simulator keeps webhook registrations and pushes events
// to them, as Askara does:
//
//	POST   /webhooks         {"url","events":[...],"active":bool} → 201 the webhook
//	GET    /webhooks         every webhook, in the Options.Format collection shape
//	GET    /webhooks/{uuid}  one webhook
//	PATCH  /webhooks/{uuid}  any of "url", "events", "active" → 200 the webhook
//	DELETE /webhooks/{uuid}  204
//
// A webhook is {"uuid","url","events","active","createdAt"} (plus @id and
// @type, and @context for a single one, in the JSON-LD formats). These are
// API calls like the others: bearer token, rate limit, injected faults,
// counted in Stats.Endpoints ("POST /webhooks", "GET /webhooks/{uuid}", ...).
//
// # Choices where Askara's documentation is silent
//
// Only POST /webhooks and its body are documented. The list, get, patch
// and delete endpoints are the simulator's guesses at the natural API
// Platform shapes. The list is never paged. "url" must be an absolute
// http or https URL with a host; "events" a non-empty array of
// new_document, document_synchronize and new_note (repeats are dropped);
// "active" a boolean, true when absent. Anything else is a 400 problem
// ("url: This value is not a valid URL."); unknown fields are ignored.
// POST takes application/json or application/ld+json, PATCH also
// application/merge-patch+json (else 415).
//
// Deliveries: one POST per event and webhook, with one event in the
// envelope, Content-Type application/json, the body encoded like every
// API body (PHP's json_encode: "\/" and \uXXXX escapes, so a receiver
// must keep the raw bytes to check a signature). Events go to the
// webhooks active and subscribed at the time of the event:
//
//   - new_document: a document added with AddDocument (the generated and
//     hostile documents New creates are never announced: no webhook can
//     exist before them);
//   - document_synchronize: Synchronize (a clinician's "Synchronize"
//     click), which also puts the document back in synchronized=false;
//   - new_note: AddNote.
//
// metadata.document is the document exactly as GET /documents lists it
// (in the Options.Format item shape), with a pdf.url signed when the event
// happens and valid for Options.LinkTTL (relative until Start or
// SetBaseURL gave a base URL); retries resend the same body.
// resource_metadata carries the user and organization uuids /me gives.
//
// An attempt fails on a network error, on no complete answer within
// Options.WebhookTimeout (5 s), or on any non-2xx status (redirects are
// not followed: a 3xx is a failure). Failed attempts are retried after
// 5 s, 10 s and 20 s (times Options.WebhookRetryScale), counted from the
// end of the failed attempt; after the fourth attempt fails the delivery
// goes to the failure queue (FailedDeliveries). A retry goes to the
// webhook's URL at the time of the retry; if the webhook was deleted or
// deactivated meanwhile, the delivery is dropped (not queued as failed).
// Deliveries run concurrently, so a receiver may see them out of order.
//
// Signing (Options.WebhookSecret): Askara's scheme is undocumented, so the
// simulator uses Standard Webhooks v1: webhook-id (one per event and
// webhook, the same on every attempt: the receiver's dedupe key),
// webhook-timestamp (Options.Now in Unix seconds at each attempt, so a
// fake clock can make it stale) and webhook-signature "v1,<base64
// HMAC-SHA256(key, id.timestamp.body)>". The delivery id is
// "msg_" + 24 alphanumerics; it is recorded even when unsigned.
//
// Close cancels attempts in flight (recorded with an Err starting with
// "canceled") and drops pending retries; events after Close are not
// delivered.

// Webhook events (the "action" of a delivered event).
const (
	EventNewDocument         = "new_document"
	EventDocumentSynchronize = "document_synchronize"
	EventNewNote             = "new_note"
)

var webhookEvents = []string{EventNewDocument, EventDocumentSynchronize, EventNewNote}

// webhookRetryDelays are Askara's documented retry delays: three retries,
// so at most four attempts.
var webhookRetryDelays = [...]time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}

const (
	defaultWebhookTimeout = 5 * time.Second
	maxWebhookBody        = 64 << 10
	streamWebhooks        = 0x5eed0200
	webhookUserAgent      = "Askara-Webhooks/1.0 (clinicsync simulator)"
)

// Webhook is one registration.
type Webhook struct {
	UUID      string
	URL       string
	Events    []string
	Active    bool
	CreatedAt time.Time
}

// Delivery is one attempt to deliver one event to one webhook.
type Delivery struct {
	Webhook  string // the webhook's uuid
	URL      string // where this attempt was sent
	ID       string // the delivery id (webhook-id): one per event and webhook, the same on every attempt
	Event    string // new_document, document_synchronize or new_note
	Resource string // the document's or note's uuid (the event's "id")
	Attempt  int    // 1 for the first attempt, up to 4 (the third retry)
	Status   int    // the HTTP status answered, 0 when there was none
	// Err is why there was no status: a network error, "timeout: ..." or
	// "canceled: ..." (Close). "" when Status is set.
	Err string
	// Lost is set on a 2xx that the simulator treated as lost (Options.
	// WebhookDuplicate, DuplicateNextDeliveries): a retry follows.
	Lost    bool
	Latency time.Duration // from sending the request to the end of the answer (or the error)
	Time    time.Time     // Options.Now when the attempt started (its webhook-timestamp)
	Body    []byte        // the envelope sent, the same on every attempt (do not modify)
}

// Delivered reports whether the receiver answered 2xx.
func (d Delivery) Delivered() bool { return d.Err == "" && d.Status >= 200 && d.Status < 300 }

// Note is a clinical note: generated (Options.Notes) or given to AddNote,
// served by GET /notes and GET /notes/{uuid} (notes.go).
type Note struct {
	UUID      string // filled in when empty
	Type      string // default "consultation_summary"
	Content   string
	Patient   clinicsync.Patient // UUID filled in when empty; the payload carries uuid, firstName, lastName
	CreatedAt time.Time          // zero: Options.Now
	UpdatedAt time.Time          // zero: CreatedAt
}

type webhookState struct {
	hooks    []*Webhook // registration order
	byUUID   map[string]*Webhook
	rng      *rand.Rand
	dupQueue int
	attempts []Delivery
	failed   []Delivery
	pending  int           // deliveries not finished (in flight or waiting to retry)
	changed  chan struct{} // closed and replaced when attempts or pending change
	closed   bool
	key      []byte // decoded WebhookSecret; nil: unsigned

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	transport *http.Transport
	client    *http.Client
}

func (o Options) webhookDefaults() Options {
	if o.WebhookTimeout <= 0 {
		o.WebhookTimeout = defaultWebhookTimeout
	}
	if o.WebhookRetryScale <= 0 {
		o.WebhookRetryScale = 1
	}
	return o
}

func (o Options) validateWebhooks() error {
	if o.WebhookSecret != "" {
		if _, err := webhookKey(o.WebhookSecret); err != nil {
			return err
		}
	}
	if o.WebhookTimeout < 0 || o.WebhookRetryScale < 0 {
		return errors.New("webhook timeout and retry scale must not be negative")
	}
	if o.WebhookDuplicate < 0 || o.WebhookDuplicate > 1 {
		return errors.New("webhook duplicate rate must be between 0 and 1")
	}
	return nil
}

// webhookKey decodes a Standard Webhooks secret: "whsec_" (optional) and
// the base64 key.
func webhookKey(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(k) == 0 {
		return nil, errors.New(`webhook secret must be "whsec_" followed by a base64 key`)
	}
	return k, nil
}

// signWebhook is the Standard Webhooks v1 signature of one attempt.
func signWebhook(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func newWebhookState(o Options) *webhookState {
	ctx, cancel := context.WithCancel(context.Background())
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // receivers are local; an environment proxy would misroute them
	st := &webhookState{
		byUUID:    make(map[string]*Webhook),
		rng:       newRNG(o.Seed, streamWebhooks),
		changed:   make(chan struct{}),
		ctx:       ctx,
		cancel:    cancel,
		transport: tr,
		client: &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if o.WebhookSecret != "" {
		st.key, _ = webhookKey(o.WebhookSecret) // checked by Validate
	}
	return st
}

// signalLocked wakes the waiters of WaitDeliveries and WaitWebhooksIdle.
func (st *webhookState) signalLocked() {
	close(st.changed)
	st.changed = make(chan struct{})
}

const msgIDChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func (st *webhookState) newMsgIDLocked() string {
	b := make([]byte, 24)
	for i := range b {
		b[i] = msgIDChars[st.rng.IntN(len(msgIDChars))]
	}
	return "msg_" + string(b)
}

// stopWebhooks is Close's part: no new deliveries, cancel those in
// flight and pending retries, wait for their goroutines.
func (s *Server) stopWebhooks() {
	s.mu.Lock()
	s.wh.closed = true
	s.mu.Unlock()
	s.wh.cancel()
	s.wh.wg.Wait()
	s.wh.transport.CloseIdleConnections()
}

// ---- events ----

type webhookEvent struct {
	ID               string         `json:"id"`
	ResourceType     string         `json:"resource_type"`
	Action           string         `json:"action"`
	Metadata         map[string]any `json:"metadata"`
	ResourceMetadata struct {
		UserID         string `json:"user_id"`
		OrganizationID string `json:"organization_id"`
	} `json:"resource_metadata"`
}

type webhookEnvelope struct {
	Events []webhookEvent `json:"events"`
	Meta   struct {
		WebhookID string `json:"webhook_id"`
	} `json:"meta"`
}

type wireNote struct {
	UUID      string             `json:"uuid"`
	Type      string             `json:"type,omitempty"`
	Content   string             `json:"content"`
	CreatedAt string             `json:"createdAt"`
	UpdatedAt string             `json:"updatedAt"`
	Patient   clinicsync.Patient `json:"patient"`
}

// delivery is one event on its way to one webhook.
type delivery struct {
	webhook, id, action, resource string
	body                          []byte
	dup                           bool // treat the first 2xx as lost
}

// emitDocumentLocked announces d. s.mu must be held.
func (s *Server) emitDocumentLocked(action string, d *doc) {
	if !s.anySubscriberLocked(action) {
		return
	}
	wd := s.wireLocked(d, s.baseURL, s.o.Now(), false)
	s.emitLocked(action, "document", d.d.UUID, map[string]any{"document": wd})
}

func (s *Server) anySubscriberLocked(action string) bool {
	if s.wh.closed {
		return false
	}
	for _, h := range s.wh.hooks {
		if h.Active && slices.Contains(h.Events, action) {
			return true
		}
	}
	return false
}

// emitLocked starts one delivery per active webhook subscribed to action.
// s.mu must be held.
func (s *Server) emitLocked(action, resourceType, id string, metadata map[string]any) {
	st := s.wh
	if st.closed {
		return
	}
	ev := webhookEvent{ID: id, ResourceType: resourceType, Action: action, Metadata: metadata}
	ev.ResourceMetadata.UserID, ev.ResourceMetadata.OrganizationID = s.oauth.meUser, s.oauth.meOrg
	for _, h := range st.hooks {
		if !h.Active || !slices.Contains(h.Events, action) {
			continue
		}
		env := webhookEnvelope{Events: []webhookEvent{ev}}
		env.Meta.WebhookID = h.UUID
		j := &delivery{webhook: h.UUID, id: st.newMsgIDLocked(), action: action, resource: id, body: phpJSON(env)}
		if st.dupQueue > 0 {
			st.dupQueue--
			j.dup = true
		} else if s.o.WebhookDuplicate > 0 && st.rng.Float64() < s.o.WebhookDuplicate {
			j.dup = true
		}
		st.pending++
		st.wg.Add(1) // never after stopWebhooks' Wait: closed is set under s.mu first
		go s.deliver(j)
	}
}

// deliver runs the attempts of one delivery.
func (s *Server) deliver(j *delivery) {
	st := s.wh
	defer st.wg.Done()
	var failed *Delivery
	defer func() {
		s.mu.Lock()
		st.pending--
		if failed != nil {
			st.failed = append(st.failed, *failed)
		}
		st.signalLocked()
		s.mu.Unlock()
	}()
	for attempt := 1; ; attempt++ {
		s.mu.Lock()
		h := st.byUUID[j.webhook]
		target, ok := "", h != nil && h.Active && !st.closed
		if ok {
			target = h.URL
		}
		s.mu.Unlock()
		if !ok {
			return // deleted, deactivated or closed while waiting
		}
		rec := s.attempt(j, target, attempt)
		if rec.Delivered() && j.dup {
			j.dup, rec.Lost = false, true
		}
		s.mu.Lock()
		st.attempts = append(st.attempts, rec)
		st.signalLocked()
		s.mu.Unlock()
		switch {
		case rec.Delivered() && !rec.Lost:
			return
		case st.ctx.Err() != nil:
			return // closed: neither retried nor queued as failed
		case attempt > len(webhookRetryDelays):
			failed = &rec
			return
		}
		t := time.NewTimer(time.Duration(float64(webhookRetryDelays[attempt-1]) * s.o.WebhookRetryScale))
		select {
		case <-t.C:
		case <-st.ctx.Done():
			t.Stop()
			return
		}
	}
}

// attempt POSTs the envelope once and records the outcome.
func (s *Server) attempt(j *delivery, target string, n int) Delivery {
	st := s.wh
	rec := Delivery{Webhook: j.webhook, URL: target, ID: j.id, Event: j.action, Resource: j.resource,
		Attempt: n, Time: s.o.Now(), Body: j.body}
	ctx, cancel := context.WithTimeout(st.ctx, s.o.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(j.body))
	if err != nil {
		rec.Err = err.Error()
		return rec
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", webhookUserAgent)
	if st.key != nil {
		ts := rec.Time.Unix()
		req.Header.Set("webhook-id", j.id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("webhook-signature", signWebhook(st.key, j.id, ts, j.body))
	}
	start := time.Now()
	resp, err := st.client.Do(req)
	if err == nil {
		// The answer must be complete within the timeout too.
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookBody))
		resp.Body.Close()
	}
	rec.Latency = time.Since(start)
	switch {
	case err == nil:
		rec.Status = resp.StatusCode
	case st.ctx.Err() != nil:
		rec.Err = "canceled: the simulator closed"
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		rec.Err = fmt.Sprintf("timeout: no complete answer within %v", s.o.WebhookTimeout)
	default:
		rec.Err = err.Error()
	}
	return rec
}

// Synchronize is a clinician's "Synchronize" click in Askara: the
// document goes back to synchronized=false and active webhooks subscribed
// to document_synchronize are sent it. It reports whether the document
// exists. Askara limits these clicks to one per 30 s; the simulator does
// not.
func (s *Server) Synchronize(uuid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byUUID[uuid]
	if d == nil {
		return false
	}
	d.synced = false
	s.emitDocumentLocked(EventDocumentSynchronize, d)
	return true
}

// AddNote stores a new clinical note (listed by GET /notes; one whose uuid
// is taken replaces it), announces it (new_note) to the active webhooks
// subscribed to it and returns the note with its defaults filled in and
// its times truncated to the second, as they are stored and served.
func (s *Server) AddNote(n Note) Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n.UUID == "" {
		n.UUID = uuid4(s.addRNG)
	}
	if n.Patient.UUID == "" {
		n.Patient.UUID = uuid4(s.addRNG)
	}
	if n.Type == "" {
		n.Type = "consultation_summary"
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = s.o.Now()
	}
	if n.UpdatedAt.IsZero() {
		n.UpdatedAt = n.CreatedAt
	}
	n.CreatedAt, n.UpdatedAt = n.CreatedAt.Truncate(time.Second), n.UpdatedAt.Truncate(time.Second)
	s.storeNoteLocked(n)
	const layout = "2006-01-02T15:04:05-07:00"
	wn := wireNote{
		UUID: n.UUID, Type: n.Type, Content: n.Content,
		CreatedAt: n.CreatedAt.Format(layout), UpdatedAt: n.UpdatedAt.Format(layout),
		Patient: clinicsync.Patient{UUID: n.Patient.UUID, FirstName: n.Patient.FirstName, LastName: n.Patient.LastName},
	}
	s.emitLocked(EventNewNote, "note", n.UUID, map[string]any{"note": wn})
	return n
}

// ---- test helpers ----

// AddWebhook registers a webhook as POST /webhooks would (active), without
// going through the API.
func (s *Server) AddWebhook(rawURL string, events ...string) (Webhook, error) {
	if !validWebhookURL(rawURL) {
		return Webhook{}, fmt.Errorf("sim: webhook url %q is not an absolute http(s) URL", rawURL)
	}
	var evs []string
	for _, e := range events {
		if !slices.Contains(webhookEvents, e) {
			return Webhook{}, fmt.Errorf("sim: unknown webhook event %q", e)
		}
		if !slices.Contains(evs, e) {
			evs = append(evs, e)
		}
	}
	if len(evs) == 0 {
		return Webhook{}, errors.New("sim: a webhook needs at least one event")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.addWebhookLocked(rawURL, evs, true)
	out := *h
	out.Events = slices.Clone(h.Events)
	return out, nil
}

func (s *Server) addWebhookLocked(rawURL string, events []string, active bool) *Webhook {
	h := &Webhook{URL: rawURL, Events: events, Active: active, CreatedAt: s.o.Now()}
	for h.UUID == "" || s.wh.byUUID[h.UUID] != nil {
		h.UUID = uuid4(s.wh.rng)
	}
	s.wh.hooks = append(s.wh.hooks, h)
	s.wh.byUUID[h.UUID] = h
	return h
}

// DuplicateNextDeliveries makes the next n deliveries (one per event and
// webhook) arrive twice: their first 2xx answer is treated as lost, so the
// delivery is retried after the usual delay with the same webhook-id and
// body, as Askara does when a 200 does not reach it.
func (s *Server) DuplicateNextDeliveries(n int) {
	s.mu.Lock()
	s.wh.dupQueue += n
	s.mu.Unlock()
}

// Webhooks returns the registered webhooks, oldest first.
func (s *Server) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Webhook, len(s.wh.hooks))
	for i, h := range s.wh.hooks {
		out[i] = *h
		out[i].Events = slices.Clone(h.Events)
	}
	return out
}

// Deliveries returns every delivery attempt made, in the order they ended.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.wh.attempts)
}

// FailedDeliveries is the failure queue: the last attempt of each
// delivery whose four attempts all failed, in the order they failed.
func (s *Server) FailedDeliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.wh.failed)
}

// WaitDeliveries waits until at least n attempts have ended (Deliveries)
// or timeout passes; it reports whether there are n.
func (s *Server) WaitDeliveries(n int, timeout time.Duration) bool {
	return s.waitWebhooks(timeout, func(st *webhookState) bool { return len(st.attempts) >= n })
}

// WaitWebhooksIdle waits until no delivery is in flight or waiting to be
// retried, or timeout passes; it reports whether that happened.
func (s *Server) WaitWebhooksIdle(timeout time.Duration) bool {
	return s.waitWebhooks(timeout, func(st *webhookState) bool { return st.pending == 0 })
}

func (s *Server) waitWebhooks(timeout time.Duration, cond func(*webhookState) bool) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		s.mu.Lock()
		ok, ch := cond(s.wh), s.wh.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			return false
		}
	}
}

// ---- the API ----

type wireWebhook struct {
	LDContext string   `json:"@context,omitempty"`
	LDID      string   `json:"@id,omitempty"`
	LDType    string   `json:"@type,omitempty"`
	UUID      string   `json:"uuid"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Active    bool     `json:"active"`
	CreatedAt string   `json:"createdAt"`
}

func (s *Server) wireWebhook(h *Webhook, item bool) wireWebhook {
	w := wireWebhook{UUID: h.UUID, URL: h.URL, Events: slices.Clone(h.Events), Active: h.Active,
		CreatedAt: h.CreatedAt.Format("2006-01-02T15:04:05-07:00")}
	if s.o.Format != FormatArray {
		if item {
			w.LDContext = "/contexts/Webhook"
		}
		w.LDID = "/webhooks/" + url.PathEscape(h.UUID)
		w.LDType = "Webhook"
	}
	return w
}

// serveWebhooks answers an authorised /webhooks call whose method the
// router allowed; uuid is "" for the collection.
func (s *Server) serveWebhooks(w http.ResponseWriter, r *http.Request, uuid string) {
	switch {
	case uuid == "" && r.Method == http.MethodGet:
		s.listWebhooks(w)
	case uuid == "":
		s.createWebhook(w, r)
	case r.Method == http.MethodGet:
		s.mu.Lock()
		h := s.wh.byUUID[uuid]
		var wh wireWebhook
		if h != nil {
			wh = s.wireWebhook(h, true)
		}
		s.mu.Unlock()
		if h == nil {
			writeProblem(w, http.StatusNotFound, "Not Found")
			return
		}
		writeJSON(w, http.StatusOK, s.contentType(), wh)
	case r.Method == http.MethodPatch:
		s.patchWebhook(w, r, uuid)
	default: // DELETE
		s.mu.Lock()
		h := s.wh.byUUID[uuid]
		if h != nil {
			delete(s.wh.byUUID, uuid)
			s.wh.hooks = slices.DeleteFunc(s.wh.hooks, func(x *Webhook) bool { return x == h })
		}
		s.mu.Unlock()
		if h == nil {
			writeProblem(w, http.StatusNotFound, "Not Found")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) listWebhooks(w http.ResponseWriter) {
	s.mu.Lock()
	members := make([]wireWebhook, 0, len(s.wh.hooks))
	for _, h := range s.wh.hooks {
		members = append(members, s.wireWebhook(h, false))
	}
	s.mu.Unlock()
	switch s.o.Format {
	case FormatArray:
		writeJSON(w, http.StatusOK, s.contentType(), members)
	case FormatMember:
		writeJSON(w, http.StatusOK, s.contentType(), struct {
			Context    string        `json:"@context"`
			ID         string        `json:"@id"`
			Type       string        `json:"@type"`
			Member     []wireWebhook `json:"member"`
			TotalItems int           `json:"totalItems"`
		}{"/contexts/Webhook", "/webhooks", "Collection", members, len(members)})
	default:
		writeJSON(w, http.StatusOK, s.contentType(), struct {
			Context    string        `json:"@context"`
			ID         string        `json:"@id"`
			Type       string        `json:"@type"`
			Member     []wireWebhook `json:"hydra:member"`
			TotalItems int           `json:"hydra:totalItems"`
		}{"/contexts/Webhook", "/webhooks", "hydra:Collection", members, len(members)})
	}
}

// webhookInput is a decoded, validated POST or PATCH body; nil fields
// were absent.
type webhookInput struct {
	url    *string
	events []string
	active *bool
}

// readWebhookInput reads and validates a body; on failure it has written
// the problem and returns false.
func readWebhookInput(w http.ResponseWriter, r *http.Request, patch bool) (webhookInput, bool) {
	var in webhookInput
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" && mt != "application/ld+json" && !(patch && mt == "application/merge-patch+json") {
		supported := `"application/ld+json", "application/json"`
		if patch {
			supported = `"application/merge-patch+json", "application/ld+json", "application/json"`
		}
		writeProblem(w, http.StatusUnsupportedMediaType, fmt.Sprintf(`The content-type %q is not supported. Supported MIME types are %s.`, r.Header.Get("Content-Type"), supported))
		return in, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxStatusBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeProblem(w, http.StatusRequestEntityTooLarge, "The request body is too large.")
		} else {
			writeProblem(w, http.StatusBadRequest, "The request body could not be read.")
		}
		return in, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		writeProblem(w, http.StatusBadRequest, "Syntax error: the body is not a JSON object.")
		return in, false
	}
	fail := func(detail string) (webhookInput, bool) {
		writeProblem(w, http.StatusBadRequest, detail)
		return in, false
	}
	present := func(k string) (json.RawMessage, bool) {
		raw, ok := m[k]
		return raw, ok && string(raw) != "null"
	}

	if raw, ok := present("url"); ok {
		var u string
		if err := json.Unmarshal(raw, &u); err != nil {
			return fail(fmt.Sprintf(`The type of the "url" attribute must be "string", "%s" given.`, jsonType(raw)))
		}
		if !validWebhookURL(u) {
			return fail("url: This value is not a valid URL.")
		}
		in.url = &u
	} else if !patch {
		return fail("url: This value should not be blank.")
	}

	if raw, ok := present("events"); ok {
		var evs []string
		if err := json.Unmarshal(raw, &evs); err != nil {
			return fail(`The type of the "events" attribute must be "array" of strings, "` + jsonType(raw) + `" given.`)
		}
		if len(evs) == 0 {
			return fail("events: This collection should contain 1 element or more.")
		}
		for _, e := range evs {
			if !slices.Contains(webhookEvents, e) {
				return fail(fmt.Sprintf("events: The value %q is not a valid event (new_document, document_synchronize, new_note).", e))
			}
			if !slices.Contains(in.events, e) {
				in.events = append(in.events, e)
			}
		}
	} else if !patch {
		return fail("events: This value should not be blank.")
	}

	if raw, ok := present("active"); ok {
		var a bool
		if err := json.Unmarshal(raw, &a); err != nil {
			return fail(fmt.Sprintf(`The type of the "active" attribute must be "bool", "%s" given.`, jsonType(raw)))
		}
		in.active = &a
	}
	return in, true
}

func validWebhookURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Hostname() != ""
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	in, ok := readWebhookInput(w, r, false)
	if !ok {
		return
	}
	s.mu.Lock()
	h := s.addWebhookLocked(*in.url, in.events, in.active == nil || *in.active)
	wh := s.wireWebhook(h, true)
	s.mu.Unlock()
	w.Header().Set("Location", "/webhooks/"+url.PathEscape(h.UUID))
	writeJSON(w, http.StatusCreated, s.contentType(), wh)
}

func (s *Server) patchWebhook(w http.ResponseWriter, r *http.Request, uuid string) {
	s.mu.Lock()
	exists := s.wh.byUUID[uuid] != nil
	s.mu.Unlock()
	if !exists {
		writeProblem(w, http.StatusNotFound, "Not Found")
		return
	}
	in, ok := readWebhookInput(w, r, true)
	if !ok {
		return
	}
	s.mu.Lock()
	h := s.wh.byUUID[uuid]
	var wh wireWebhook
	if h != nil {
		if in.url != nil {
			h.URL = *in.url
		}
		if in.events != nil {
			h.Events = in.events
		}
		if in.active != nil {
			h.Active = *in.active
		}
		wh = s.wireWebhook(h, true)
	}
	s.mu.Unlock()
	if h == nil { // deleted meanwhile
		writeProblem(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.contentType(), wh)
}
