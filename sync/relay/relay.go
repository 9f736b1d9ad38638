// Package relay is the localhost webhook receiver. A clinic PC is not
// reachable from the internet: the clinic's reverse proxy or tunnel
// forwards each platform's POSTs to it. A delivery is checked (method,
// content type, size, signature, envelope), committed to the SQLite inbox
// and only then acknowledged; processing happens afterwards, and whatever a
// crash interrupted is processed again on start. Polling stays the source
// of truth: the relay only makes documents arrive sooner.
package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/failpoint"
	"github.com/clinicsync/clinicsync/sync/notes"
)

// Platforms the relay has a path for: /webhooks/<platform>.
var Platforms = []string{"askara", "nabla", "soapnoteapi", "azodha"}

// DefaultMaxBody is the largest body accepted.
const DefaultMaxBody = 1 << 20

// Sink is what processing needs from the engine (*engine.Engine).
type Sink interface {
	// Push processes one document now, from a webhook event.
	Push(ctx context.Context, ev clinicsync.DocumentEvent) (string, error)
	// Note adds a line to the activity log: a key of package activity
	// and its arguments.
	Note(ctx context.Context, level string, t clinicsync.Text)
	// SaveNote writes one clinical note (or records a failed one).
	SaveNote(ctx context.Context, n notes.Note) (string, error)
	// NotesEnabled reports whether notes are synchronised (Settings).
	NotesEnabled() bool
	// SaveEventFile writes an event's JSON as a file in the Inbox.
	SaveEventFile(ctx context.Context, platform, event, id string, body []byte) (string, error)
}

// Options configure a relay.
type Options struct {
	Listen string // host:port; loopback unless every enabled platform has a secret
	// Enabled lists the platforms whose path answers (default: askara).
	Enabled []string
	// Secrets are the signing secrets per platform ("" or absent: none).
	Secrets map[string]string
	// AllowUnsigned accepts deliveries from an enabled platform without a
	// secret, on loopback only, recorded as "unverified".
	AllowUnsigned bool
	// PublicURL is the address the clinic's proxy or tunnel forwards to
	// the relay: its host is accepted in the Host header (SetPublicURL
	// changes it while running).
	PublicURL   string
	Tolerance   time.Duration // timestamp window, default 5 minutes
	AzodhaFiles []string      // Azodha events also written as JSON files
	MaxBody     int64         // default 1 MiB
	Store       *store.Store
	Sink        Sink
	Log         *slog.Logger // debug lines, no PHI
	Now         func() time.Time
	// Events receives RelayChanged when a delivery is accepted or refused
	// (nil: none).
	Events *events.Bus
}

// Server is a running relay.
type Server struct {
	o         Options
	verifiers map[string][]Verifier // per platform, tried by the headers present
	loopback  bool                  // listening on loopback only
	listenIP  net.IP                // the listen address's IP; nil for a name or an unspecified address
	port      string                // the port it listens on (known after Start)
	public    atomic.Pointer[hostPort]
	log       *slog.Logger
	srv       *http.Server
	ln        net.Listener

	commits chan commitReq
	wake    chan struct{}
	scrub   chan struct{}
	stop    context.CancelFunc
	ctx     context.Context
	wg      sync.WaitGroup

	mu       sync.Mutex
	stats    Stats
	lastNote map[string]time.Time // refusal kind -> last activity line (rate limit)
	pending  map[string]int       // refusals not yet written to the activity log
}

// Stats counts what the relay answered since it started.
type Stats struct {
	Accepted     int
	Duplicates   int
	Refused      map[string]int // "askara: bad_signature" -> n
	LastDelivery time.Time      // last accepted delivery
}

// IsLoopback reports whether a listen address only accepts local connections.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// New checks the options and builds the relay (not yet listening).
func New(o Options) (*Server, error) {
	if o.Tolerance <= 0 {
		o.Tolerance = DefaultTolerance
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Enabled) == 0 {
		o.Enabled = []string{"askara"}
	}
	if o.Store == nil || o.Sink == nil {
		return nil, errors.New("relay: a store and a sink are required")
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	loopback := IsLoopback(o.Listen)
	s := &Server{o: o, log: log, loopback: loopback, verifiers: map[string][]Verifier{}, commits: make(chan commitReq, 256),
		wake: make(chan struct{}, 1), scrub: make(chan struct{}, 1), lastNote: map[string]time.Time{}, pending: map[string]int{}}
	s.stats.Refused = map[string]int{}
	if host, port, err := net.SplitHostPort(o.Listen); err == nil {
		s.port = port
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			s.listenIP = ip
		}
	}
	s.SetPublicURL(o.PublicURL)
	for _, p := range o.Enabled {
		if !slices.Contains(Platforms, p) {
			return nil, clinicsync.Errorf(clinicsync.EConfig, "The relay has no path for the platform %q (known: %s).", p, strings.Join(Platforms, ", "))
		}
		secret := o.Secrets[p]
		if secret == "" {
			if !loopback {
				return nil, clinicsync.Errorf(clinicsync.EConfig,
					"The relay listens on %s, which is not loopback: set a signing secret for %s first (clinicsync relay secret %s).", o.Listen, p, p)
			}
			if !o.AllowUnsigned {
				s.verifiers[p] = nil // deliveries are refused: no secret
				continue
			}
			s.verifiers[p] = []Verifier{Unsigned()}
			continue
		}
		vs, err := verifiersFor(p, secret, o.Tolerance)
		if err != nil {
			return nil, clinicsync.Errorf(clinicsync.EConfig, "The %s signing secret cannot be used: %v", p, err)
		}
		s.verifiers[p] = vs
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	return s, nil
}

// verifiersFor lists the schemes a platform's deliveries may carry. The
// one matching the headers present is used (see verify).
func verifiersFor(p, secret string, tol time.Duration) ([]Verifier, error) {
	var vs []Verifier
	add := func(v Verifier, err error) {
		if err == nil {
			vs = append(vs, v)
		}
	}
	switch p {
	case "soapnoteapi":
		add(SOAPNoteAPI(secret, tol))
	case "nabla":
		add(Nabla(secret, tol))
		add(StandardWebhooks(secret, tol))
	default: // askara, azodha: their scheme is not documented; Standard Webhooks when re-signed
		add(StandardWebhooks(secret, tol))
	}
	if len(vs) == 0 {
		_, err := StandardWebhooks(secret, tol)
		if p == "soapnoteapi" {
			_, err = SOAPNoteAPI(secret, tol)
		}
		return nil, err
	}
	return vs, nil
}

// Start listens and serves; it also starts the inbox writer and the
// processor, which first processes what a crash left in the inbox.
func (s *Server) Start(ctx context.Context) (string, error) {
	ln, err := net.Listen("tcp", s.o.Listen)
	if err != nil {
		return "", clinicsync.Permanent(clinicsync.EConfig, fmt.Sprintf("The relay cannot listen on %s.", s.o.Listen), err)
	}
	s.ln = ln
	_, s.port, _ = net.SplitHostPort(ln.Addr().String())
	s.startWorkers(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("relay stopped", "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// startWorkers starts the group-commit writer and the processor (Start
// does it; tests and benchmarks that use the handler alone call it).
func (s *Server) startWorkers(ctx context.Context) {
	s.ctx, s.stop = context.WithCancel(ctx)
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.writer() }()
	go func() { defer s.wg.Done(); s.processor() }()
	go func() { defer s.wg.Done(); s.scrubber() }()
	s.Wake()
}

// Close stops accepting, lets requests in flight finish (their deliveries
// are committed or refused), then stops the workers.
func (s *Server) Close(ctx context.Context) error {
	var err error
	if s.ln != nil {
		err = s.srv.Shutdown(ctx)
	}
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	return err
}

// hostPort is a host (lower case, no trailing dot) and its port ("" when
// the Host header may leave it out).
type hostPort struct{ host, port string }

// SetPublicURL changes the public address whose host the relay answers to
// (Settings may change it without a restart).
func (s *Server) SetPublicURL(public string) {
	hp := hostPort{}
	if u, err := url.Parse(strings.TrimSpace(public)); err == nil && u.Hostname() != "" {
		hp.host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		hp.port = u.Port()
		if hp.port == "" {
			hp.port = map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
		}
	}
	s.public.Store(&hp)
}

// gate refuses what no platform's server sends, before anything else is
// read. A Host that does not name this relay is DNS rebinding: a web page
// whose own name now resolves to 127.0.0.1 posts "same-origin" to it (421).
// On the webhook paths, a browser's own headers (Origin, a Sec-Fetch-Site
// other than "none") mean a web page sent the request (403): servers that
// deliver webhooks send neither.
func (s *Server) gate(r *http.Request, hook bool) *refusal {
	if !s.hostAllowed(r.Host) {
		return &refusal{http.StatusMisdirectedRequest, "wrong_host",
			"the Host header (" + clean(r.Host) + ") does not name this relay; only its loopback address and the public URL's host are answered"}
	}
	if !hook {
		return nil
	}
	if len(r.Header.Values("Origin")) > 0 {
		return &refusal{http.StatusForbidden, "browser_request", "requests from a web page (with an Origin header) are refused"}
	}
	if v := r.Header.Get("Sec-Fetch-Site"); v != "" && v != "none" {
		return &refusal{http.StatusForbidden, "browser_request", "requests from a web page (Sec-Fetch-Site " + clean(v) + ") are refused"}
	}
	return nil
}

// hostAllowed reports whether a Host header names this relay: a loopback
// name or address with the relay's port, the listen address itself when it
// is not loopback (a LAN sender; every platform is signed there), any IP
// address with the relay's port when listening on all addresses (an IP
// literal cannot be rebound: the page's origin would be the relay), or the
// host of the public URL, with its port or none.
func (s *Server) hostAllowed(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), ""
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return false
	}
	if pub := s.public.Load(); pub != nil && pub.host != "" && host == pub.host && (port == "" || port == pub.port) {
		return true
	}
	if port == "" {
		port = "80"
	}
	if port != s.port {
		return false
	}
	ip := net.ParseIP(host)
	switch {
	case host == "localhost", ip != nil && ip.IsLoopback():
		return true
	case ip != nil && s.listenIP != nil:
		return ip.Equal(s.listenIP)
	case ip != nil:
		return !s.loopback // listening on every address
	}
	return false
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Refused = make(map[string]int, len(s.stats.Refused))
	for k, v := range s.stats.Refused {
		st.Refused[k] = v
	}
	return st
}

// Wake asks the processor to look at the inbox.
func (s *Server) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// ---- receiving ----

type commitReq struct {
	d    *store.Delivery
	done chan commitRes
}

type commitRes struct {
	dup bool
	err error
}

// writer commits deliveries in batches: whatever arrived while the last
// transaction was committing goes into the next one, so fifty concurrent
// senders cost a few fsyncs, not fifty.
func (s *Server) writer() {
	for {
		var first commitReq
		select {
		case <-s.ctx.Done():
			return
		case first = <-s.commits:
		}
		batch := []commitReq{first}
	more:
		for len(batch) < 128 {
			select {
			case r := <-s.commits:
				batch = append(batch, r)
			default:
				break more
			}
		}
		ds := make([]*store.Delivery, len(batch))
		for i, r := range batch {
			ds[i] = r.d
		}
		dup, err := s.o.Store.InboxAdd(context.WithoutCancel(s.ctx), ds)
		for i, r := range batch {
			res := commitRes{err: err}
			if err == nil {
				res.dup = dup[i]
			}
			r.done <- res
		}
		if err == nil {
			s.Wake()
		}
	}
}

// answer writes a JSON answer.
func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type refusal struct {
	status  int
	code    string
	message string
}

// ServeHTTP receives one delivery.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	platform, ok := strings.CutPrefix(r.URL.Path, "/webhooks/")
	hook := ok && !strings.Contains(platform, "/") && slices.Contains(Platforms, platform)
	if rf := s.gate(r, hook); rf != nil {
		if !hook {
			platform = "unknown"
		}
		s.refuse(w, r, platform, *rf)
		return
	}
	if !hook {
		if r.URL.Path == "/" || r.URL.Path == "/healthz" {
			answer(w, http.StatusOK, map[string]string{"status": "ok", "service": "Clinic Sync relay"})
			return
		}
		s.refuse(w, r, "unknown", refusal{http.StatusNotFound, "unknown_path", "no webhook path " + clean(r.URL.Path)})
		return
	}
	vs, enabled := s.verifiers[platform]
	switch {
	case !enabled:
		s.refuse(w, r, platform, refusal{http.StatusNotFound, "platform_disabled", "the " + platform + " path is not enabled in the relay settings"})
		return
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		s.refuse(w, r, platform, refusal{http.StatusMethodNotAllowed, "method_not_allowed", r.Method + " is not accepted; deliveries are POSTs"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		s.refuse(w, r, platform, refusal{http.StatusUnsupportedMediaType, "bad_content_type", "the content type must be application/json"})
		return
	}
	if r.ContentLength > s.o.MaxBody {
		s.refuse(w, r, platform, refusal{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", s.o.MaxBody)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.refuse(w, r, platform, refusal{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", s.o.MaxBody)})
		} else {
			s.refuse(w, r, platform, refusal{http.StatusBadRequest, "unreadable", "the body could not be read"})
		}
		return
	}
	deliveryID, scheme, rf := s.verify(platform, vs, r.Header, body)
	if rf != nil {
		s.refuse(w, r, platform, *rf)
		return
	}
	if err := checkEnvelope(platform, body); err != nil {
		s.refuse(w, r, platform, refusal{http.StatusBadRequest, "bad_envelope", err.Error()})
		return
	}
	d := &store.Delivery{Platform: platform, ReceivedAt: s.o.Now(), DeliveryID: deliveryID, Body: body,
		Verified: scheme, Headers: map[string]string{}}
	for k := range r.Header {
		if store.KeepHeader(k) {
			d.Headers[strings.ToLower(k)] = clean(r.Header.Get(k))
		}
	}
	done := make(chan commitRes, 1)
	select {
	case s.commits <- commitReq{d: d, done: done}:
	case <-r.Context().Done():
		return
	case <-s.ctx.Done():
		s.refuse(w, r, platform, refusal{http.StatusServiceUnavailable, "stopping", "the relay is stopping; retry later"})
		return
	}
	res := <-done
	switch {
	case res.err != nil:
		s.log.Warn("inbox commit failed", "platform", platform, "err", res.err)
		w.Header().Set("Retry-After", "5")
		s.refuse(w, r, platform, refusal{http.StatusServiceUnavailable, "store_failed", "the delivery could not be stored; retry later"})
	case res.dup && deliveryID != "" && s.replayed(r.Context(), platform, deliveryID, d):
		s.refuse(w, r, platform, refusal{http.StatusConflict, "replayed_id",
			"the delivery id " + clean(deliveryID) + " was already used for another body"})
	case res.dup:
		s.mu.Lock()
		s.stats.Duplicates++
		s.mu.Unlock()
		answer(w, http.StatusOK, map[string]string{"status": "duplicate"})
	default:
		s.mu.Lock()
		s.stats.Accepted++
		s.stats.LastDelivery = d.ReceivedAt
		s.mu.Unlock()
		s.o.Events.Publish(events.Event{Type: events.RelayChanged})
		answer(w, http.StatusOK, map[string]any{"status": "accepted", "id": d.ID})
	}
}

// replayed reports whether a delivery id already stored came with another
// body (a retry resends the same body).
func (s *Server) replayed(ctx context.Context, platform, id string, d *store.Delivery) bool {
	if d.BodySHA256 == "" {
		sum := sha256.Sum256(d.Body)
		d.BodySHA256 = hex.EncodeToString(sum[:])
	}
	sha, err := s.o.Store.InboxBodyFor(ctx, platform, id)
	return err == nil && sha != "" && sha != d.BodySHA256
}

// verify picks the scheme by the headers the delivery carries. With a
// secret, a delivery must carry a valid signature of a scheme the platform
// uses: a missing header is a 401 like a wrong one (a secret makes the path
// stricter, never looser). Without one, deliveries are refused unless the
// user allowed unsigned ones, on loopback; they are recorded "unverified".
func (s *Server) verify(platform string, vs []Verifier, h http.Header, body []byte) (id, scheme string, rf *refusal) {
	if vs == nil {
		return "", "", &refusal{http.StatusUnauthorized, "no_secret",
			"no signing secret is set for " + platform + " (clinicsync relay secret " + platform + ")"}
	}
	v := vs[0]
	for _, c := range vs {
		if headersFor(c.Scheme(), h) {
			v = c
			break
		}
	}
	id, err := v.Verify(h, body, s.o.Now())
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			return "", "", &refusal{ve.Status, ve.Code, ve.Message}
		}
		return "", "", &refusal{http.StatusUnauthorized, "bad_signature", "the signature does not match"}
	}
	scheme = v.Scheme()
	if scheme == "unsigned" {
		scheme = "unverified"
	}
	return id, scheme, nil
}

// headersFor reports whether h carries a scheme's signature header.
func headersFor(scheme string, h http.Header) bool {
	switch scheme {
	case "standard-webhooks":
		return h.Get("webhook-signature") != ""
	case "nabla":
		return h.Get("x-nabla-webhook-signature") != ""
	case "soapnoteapi":
		return h.Get("X-SoapNoteAPI-Signature") != ""
	}
	return false
}

// checkEnvelope refuses a body the platform's parser cannot read, before
// it is stored: a malformed delivery gets a 400 at once.
func checkEnvelope(platform string, body []byte) error {
	var err error
	switch platform {
	case "askara":
		_, err = ParseAskara(body)
	case "soapnoteapi":
		_, err = ParseSOAPNoteAPI(body)
	case "nabla":
		_, err = ParseNabla(body)
	case "azodha":
		_, err = ParseAzodha(body)
	}
	return err
}

// refuse answers a 4xx/5xx with a JSON error, counts it, and writes it to
// the activity log at most once a minute per kind (a flood of bad requests
// must not flood the log).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, platform string, rf refusal) {
	answer(w, rf.status, map[string]string{"error": rf.code, "message": rf.message})
	kind := platform + ": " + rf.code
	now := s.o.Now()
	s.mu.Lock()
	s.stats.Refused[kind]++
	s.pending[kind]++
	n := s.pending[kind]
	write := now.Sub(s.lastNote[kind]) >= time.Minute
	if write {
		s.lastNote[kind] = now
		s.pending[kind] = 0
	}
	s.mu.Unlock()
	s.o.Events.Publish(events.Event{Type: events.RelayChanged})
	s.log.Debug("relay refused a delivery", "platform", platform, "code", rf.code, "status", rf.status)
	if write {
		// The reason is the answer the platform got: it stays English.
		t := clinicsync.NewText(activity.RelayRefused, platform, rf.status, rf.message)
		if n > 1 {
			t = clinicsync.NewText(activity.RelayRefusedMany, n, platform, rf.status, rf.message)
		}
		s.o.Sink.Note(context.WithoutCancel(r.Context()), "warn", t)
	}
}

// clean keeps a string on one line (clinicsync.CleanText) and short for
// the log, cut on a character boundary.
func clean(s string) string {
	s = clinicsync.CleanText(s)
	if len(s) > 120 {
		cut := 120
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// ---- processing ----

// signed reports whether a delivery's signature was checked.
func signed(d store.Delivery) bool {
	return d.Verified != "" && d.Verified != "unverified" && d.Verified != "unverifiable"
}

// Lanes. Each platform's deliveries are processed in a lane of their own,
// so a platform whose API hangs never holds up another. Askara's lane takes
// up to askaraLane deliveries at once (each may download a PDF), never two
// for one document, so one slow document does not hold up the others
// either; the other platforms' processing is local (a note file) and runs
// one at a time, in order. Each platform call a pushed document makes has a
// deadline (engine.Push).
const askaraLane = 4

func laneWidth(platform string) int {
	if platform == "askara" {
		return askaraLane
	}
	return 1
}

// flight is a delivery being processed.
type flight struct {
	platform string
	resource string // the document or note it is about, when known
}

// processor dispatches inbox deliveries to their lanes, oldest first; a
// crash leaves them "received", and the next start takes them again.
func (s *Server) processor() {
	inflight := map[int64]flight{}
	done := make(chan int64)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		s.dispatch(inflight, done, &wg)
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case id := <-done:
			delete(inflight, id)
		}
	}
}

// dispatch starts what the lanes have room for.
func (s *Server) dispatch(inflight map[int64]flight, done chan<- int64, wg *sync.WaitGroup) {
	busy := map[string]int{}
	resources := map[string]bool{}
	for _, f := range inflight {
		busy[f.platform]++
		resources[f.platform+"/"+f.resource] = true
	}
	for _, p := range Platforms {
		width := laneWidth(p)
		if busy[p] >= width || s.ctx.Err() != nil {
			continue
		}
		ds, err := s.o.Store.InboxPendingFor(s.ctx, p, width+busy[p]+16)
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("inbox read failed", "err", err)
			}
			return
		}
		for _, d := range ds {
			if busy[p] >= width {
				break
			}
			if _, ok := inflight[d.ID]; ok {
				continue
			}
			f := flight{platform: p, resource: resourceOf(d)}
			if f.resource != "" && resources[p+"/"+f.resource] {
				continue // after the one in flight for the same document
			}
			inflight[d.ID] = f
			busy[p]++
			resources[p+"/"+f.resource] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.handle(d)
				select {
				case done <- d.ID:
				case <-s.ctx.Done():
				}
			}()
		}
	}
}

// resourceOf names what an Askara delivery is about (its first event's
// id), so that two deliveries for one document are not processed at once.
func resourceOf(d store.Delivery) string {
	if d.Platform != "askara" {
		return ""
	}
	env, err := ParseAskara(d.Body)
	if err != nil || len(env.Events) == 0 {
		return ""
	}
	return env.Events[0].ID
}

// handle processes one delivery and records the outcome. Interrupted by a
// shutdown, it records nothing: the delivery is processed again at start.
func (s *Server) handle(d store.Delivery) {
	failpoint.Hit(failpoint.RelayProcessing)
	state, outcome := s.process(s.ctx, d)
	if s.ctx.Err() != nil {
		return
	}
	if err := s.o.Store.InboxDone(context.WithoutCancel(s.ctx), d.ID, state, outcome); err != nil {
		s.log.Warn("inbox update failed", "err", err)
		return
	}
	if state != store.InboxDeferred {
		s.scrubSoon()
	}
}

// scrubSoon asks for the WAL to be emptied: a processed body (note text,
// patient data) must not stay readable in state.db-wal.
func (s *Server) scrubSoon() {
	select {
	case s.scrub <- struct{}{}:
	default:
	}
}

// scrubber empties the WAL shortly after bodies were dropped (one
// checkpoint for a burst of deliveries), and again a little later while a
// reader keeps it from being emptied.
func (s *Server) scrubber() {
	const settle, again = 200 * time.Millisecond, 2 * time.Second
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.scrub:
		}
		wait := settle
		for tries := 0; tries < 30; tries++ {
			t := time.NewTimer(wait)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			done, err := s.o.Store.ScrubWAL(s.ctx)
			if err != nil {
				s.log.Debug("wal scrub", "err", err)
			}
			if done {
				break
			}
			wait = again
		}
	}
}

// process handles one delivery and returns its inbox state and outcome.
func (s *Server) process(ctx context.Context, d store.Delivery) (string, string) {
	switch d.Platform {
	case "askara":
		return s.processAskara(ctx, d)
	case "soapnoteapi":
		ev, err := ParseSOAPNoteAPI(d.Body)
		if err != nil {
			return store.InboxFailed, err.Error()
		}
		if ev.Event == "test" {
			s.o.Sink.Note(ctx, "info", clinicsync.NewText(activity.SOAPTest))
			return store.InboxProcessed, "test event"
		}
		return s.saveNote(ctx, "SOAPNoteAPI "+ev.Event+" "+clean(ev.NoteID), func() (notes.Note, error) { return notes.FromSOAPNoteAPI(d.Body) })
	case "nabla":
		ev, err := ParseNabla(d.Body)
		if err != nil {
			return store.InboxFailed, err.Error()
		}
		return s.saveNote(ctx, "Nabla "+clean(ev.Type)+" "+clean(ev.ID), func() (notes.Note, error) { return notes.FromNabla(d.Body) })
	case "azodha":
		ev, err := ParseAzodha(d.Body)
		if err != nil {
			return store.InboxFailed, err.Error()
		}
		what := clean(ev.Event) // the event, and its id when it has one
		if ev.ID != "" {
			what += " (id " + clean(ev.ID) + ")"
		}
		written, kept := activity.AzodhaWritten, activity.AzodhaKept
		if !signed(d) {
			written, kept = activity.AzodhaWrittenU, activity.AzodhaKeptU
		}
		if slices.Contains(s.o.AzodhaFiles, ev.Event) {
			path, err := s.o.Sink.SaveEventFile(ctx, "azodha", ev.Event, ev.ID, d.Body)
			if err != nil {
				s.o.Sink.Note(ctx, "error", clinicsync.NewText(activity.AzodhaNotWritten, what, err))
				return store.InboxFailed, clean(clinicsync.ErrorMessage(err))
			}
			s.o.Sink.Note(ctx, "info", clinicsync.NewText(written, what, path))
			return store.InboxDeferred, "written to " + path
		}
		s.o.Sink.Note(ctx, "info", clinicsync.NewText(kept, what))
		return store.InboxDeferred, "kept"
	}
	return store.InboxIgnored, "unknown platform"
}

// saveNote converts and saves one note event; with notes switched off the
// delivery is kept (deferred) so that turning them on later loses nothing.
func (s *Server) saveNote(ctx context.Context, what string, convert func() (notes.Note, error)) (string, string) {
	if !s.o.Sink.NotesEnabled() {
		return store.InboxDeferred, "notes are off in Settings; kept"
	}
	n, err := convert()
	if err != nil {
		s.o.Sink.Note(ctx, "warn", clinicsync.NewText(activity.EventUnreadable, what, err))
		return store.InboxFailed, clean(err.Error())
	}
	out, err := s.o.Sink.SaveNote(ctx, n)
	if err != nil {
		return store.InboxFailed, clean(clinicsync.ErrorMessage(err))
	}
	return store.InboxProcessed, "note " + out
}

func (s *Server) processAskara(ctx context.Context, d store.Delivery) (string, string) {
	env, err := ParseAskara(d.Body)
	if err != nil {
		return store.InboxFailed, err.Error()
	}
	var outcomes []string
	state := store.InboxProcessed
	for _, ev := range env.Events {
		key := ev.Action + ":" + ev.ID
		if ev.Document != nil && ev.Document.PDF.URL != "" {
			sum := sha256.Sum256([]byte(ev.Document.PDF.URL))
			key += ":" + hex.EncodeToString(sum[:8])
		} else {
			key += ":" + env.WebhookID + ":" + d.BodySHA256[:16]
		}
		if ev.Action == "new_note" && !s.o.Sink.NotesEnabled() {
			// Kept, not marked seen: processed when notes are switched on.
			outcomes = append(outcomes, ev.ID+": notes are off in Settings; kept")
			state = store.InboxDeferred
			continue
		}
		first, err := s.o.Store.EventFirstSeen(ctx, "askara", key, d.ID)
		if err != nil {
			return store.InboxReceived, "" // try again later
		}
		failpoint.Hit(failpoint.RelayEventSeen)
		if !first {
			outcomes = append(outcomes, ev.ID+": duplicate")
			continue
		}
		switch ev.Action {
		case "new_document", "document_synchronize":
			doc := clinicsync.Document{UUID: ev.ID}
			if ev.Document != nil {
				doc = *ev.Document
				if doc.UUID == "" {
					doc.UUID = ev.ID
				}
			}
			out, err := s.o.Sink.Push(ctx, clinicsync.DocumentEvent{Document: doc, Action: ev.Action,
				Verified: signed(d), ReceivedAt: d.ReceivedAt})
			if err != nil {
				// The document is recorded (or will be listed): polling takes it.
				out = "left to polling: " + clinicsync.ErrorMessage(err)
				s.log.Debug("push", "item", doc.UUID, "code", clinicsync.ErrorCode(err))
			}
			outcomes = append(outcomes, doc.UUID+": "+out)
		case "new_note":
			raw := ev.Note
			st, out := s.saveNote(ctx, "Askara new_note "+clean(ev.ID), func() (notes.Note, error) {
				if len(raw) == 0 {
					return notes.Note{}, errors.New("the event carries no note")
				}
				return notes.FromAskara(raw)
			})
			outcomes = append(outcomes, ev.ID+": "+out)
			if st != store.InboxProcessed {
				state = st
			}
		default:
			s.o.Sink.Note(ctx, "info", clinicsync.NewText(activity.UnknownEvent, clean(ev.Action)))
			outcomes = append(outcomes, ev.ID+": ignored action "+clean(ev.Action))
			if state == store.InboxProcessed && len(env.Events) == 1 {
				state = store.InboxIgnored
			}
		}
	}
	return state, clean(strings.Join(outcomes, "; "))
}
