package sim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Collection body formats (Options.Format).
const (
	FormatHydra  = "hydra"  // {"hydra:member":[...],"hydra:totalItems":N,"hydra:view":{"hydra:next":...}}
	FormatMember = "member" // the same without the "hydra:" prefixes
	FormatArray  = "array"  // a plain JSON array; the client pages with page= until a short page
)

// Options configures a Server. The zero value is a valid empty server.
type Options struct {
	Documents int  // generated documents (default 0)
	Patients  int  // generated documents are spread over this many patients (default 10)
	Hostile   bool // add HostileFixtures(Seed) after the generated documents
	Seed      int64
	// Notes is the number of generated clinical notes (notes.go), over the
	// same patients; about one in eight shares its createdAt second with
	// another on purpose.
	Notes int

	Format          string        // FormatHydra (default), FormatMember or FormatArray
	DefaultPageSize int           // itemsPerPage when the client sends none: default 20, at most 100
	LinkTTL         time.Duration // pre-signed link lifetime, default 1h
	// PDFSize is the size of generated valid PDFs (and of fixtures with
	// Content.Size 0). 0 means about 2 KiB, varying a little per document.
	PDFSize int64

	// Token bucket: RateLimit tokens (default 5000), RateRefill (default
	// 500) added every RateRefillEvery (default 15m). RateLimit < 0 turns
	// rate limiting off (no x-ratelimit-* headers either).
	RateLimit       int
	RateRefill      int
	RateRefillEvery time.Duration
	OmitRetryAfter  bool // send 429 without Retry-After (only x-ratelimit-reset)

	// FaultRate is the fraction of API calls that fail before having any
	// effect: 500, 502, 503, a connection reset, or a stall of FaultStall
	// (default 2s) followed by a 504. PDFFaultRate is the same for PDF
	// downloads, plus a body cut off half way.
	FaultRate    float64
	PDFFaultRate float64
	FaultStall   time.Duration

	Latency time.Duration // added to every API response (not to PDF downloads)
	// FileLatency is added to every PDF download (a WAN round trip to the
	// file host; benchmarks set both).
	FileLatency time.Duration
	// Token, if set, is the only bearer token accepted; otherwise any
	// non-empty bearer token is.
	Token string
	Now   func() time.Time // the clock for links, the bucket and records; default time.Now

	// OAuth serves the OAuth2 endpoints (oauth.go) and /me, and makes API
	// calls accept only the access tokens issued (Token is then ignored).
	OAuth          bool
	ClientID       string        // default "clinicsync-desktop"
	ClientSecret   string        // if set, token requests must carry it (body or HTTP Basic)
	AutoApprove    bool          // GET /authorize redirects at once, as if the user clicked Allow
	AccessTTL      time.Duration // access token lifetime, default 1h
	RefreshTTL     time.Duration // refresh token lifetime, default 30 days
	DeviceInterval time.Duration // device-code polling interval, default 5s
	TokenLength    int           // access token length in characters, default 64
	User           string        // /me user name, default "Dr Jane Doe"
	Organization   string        // /me organization, default "Cabinet Médical Demo"

	// Webhooks (webhooks.go). WebhookSecret, a Standard Webhooks secret
	// ("whsec_" + base64 key), makes every delivery signed (webhook-id,
	// webhook-timestamp, webhook-signature). WebhookTimeout is how long a
	// receiver has to answer (default 5s, as Askara documents).
	// WebhookRetryScale multiplies the 5s, 10s, 20s retry delays (default
	// 1; e.g. 0.01 in tests). WebhookDuplicate is the fraction of
	// deliveries whose first 2xx answer is treated as lost, so that the
	// receiver gets the same delivery again on the next retry.
	WebhookSecret     string
	WebhookTimeout    time.Duration
	WebhookRetryScale float64
	WebhookDuplicate  float64
}

func (o Options) withDefaults() Options {
	if o.Patients <= 0 {
		o.Patients = 10
	}
	if o.Format == "" {
		o.Format = FormatHydra
	}
	if o.DefaultPageSize <= 0 {
		o.DefaultPageSize = 20
	}
	if o.DefaultPageSize > maxPageSize {
		o.DefaultPageSize = maxPageSize
	}
	if o.LinkTTL <= 0 {
		o.LinkTTL = time.Hour
	}
	if o.RateLimit == 0 {
		o.RateLimit = 5000
	}
	if o.RateRefill <= 0 {
		o.RateRefill = 500
	}
	if o.RateRefillEvery <= 0 {
		o.RateRefillEvery = 15 * time.Minute
	}
	if o.FaultStall <= 0 {
		o.FaultStall = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o = o.webhookDefaults()
	return o.oauthDefaults()
}

// Validate reports an option New would refuse.
func (o Options) Validate() error {
	switch o.Format {
	case "", FormatHydra, FormatMember, FormatArray:
	default:
		return fmt.Errorf("unknown collection format %q (want hydra, member or array)", o.Format)
	}
	if o.FaultRate < 0 || o.FaultRate > 1 || o.PDFFaultRate < 0 || o.PDFFaultRate > 1 {
		return errors.New("fault rates must be between 0 and 1")
	}
	if o.Documents < 0 || o.PDFSize < 0 || o.Notes < 0 {
		return errors.New("document count, note count and PDF size must not be negative")
	}
	return o.validateWebhooks()
}

const maxPageSize = 100

// Endpoint names used as keys of Stats.Endpoints.
const (
	EndpointList   = "GET /documents"
	EndpointGet    = "GET /documents/{uuid}"
	EndpointStatus = "POST /documents/{uuid}/status"
	EndpointOther  = "other"
)

// Stats counts what the server saw. Every field only grows.
type Stats struct {
	APIRequests  int            // every request to the API, whatever its outcome
	Endpoints    map[string]int // APIRequests per endpoint ("GET /documents", ...)
	Unauthorized int            // 401 sent
	RateLimited  int            // 429 sent
	Faults       int            // faults injected into API calls
	PDFFaults    int            // faults injected into PDF downloads
	FaultKinds   map[Fault]int  // both, per kind

	PDFDownloads     int   // requests to pre-signed links (GET or HEAD)
	PDFBytes         int64 // body bytes of PDF links written
	ExpiredLinks     int   // downloads refused because the link had expired
	BadLinks         int   // downloads refused for a missing or wrong signature
	PDFAuthorization int   // downloads that carried an Authorization header (a token leak)
}

// StatusCall is one POST /documents/{uuid}/status that reached the
// application (injected faults and 401/429 never do).
type StatusCall struct {
	UUID   string
	Status clinicsync.Status // decoded body (zero if it could not be decoded)
	Raw    []byte            // the body as sent
	Time   time.Time         // Options.Now at receipt
	Code   int               // the HTTP status answered; only 200 had an effect
}

// Expectation is what a correct client should make of one document.
type Expectation struct {
	UUID     string
	Type     string
	Patient  clinicsync.Patient
	FileName string // as listed ("" when there is no pdf object)
	Content  Content
	Land     bool   // a valid PDF: it should be written and confirmed with success:true
	Reason   string // why it should not land ("" when Land)
	Size     int64  // bytes the link serves (0 when it serves none)
	SHA256   string // hex SHA-256 of those bytes ("" when the link serves none)
	Label    string // what a hostile fixture exercises ("" for generated documents)
}

type doc struct {
	d       clinicsync.Document // PDF.URL unused
	content Content             // Size resolved for ContentPDF
	label   string
	created time.Time
	updated time.Time // updatedAt: created, moved by edits and recorded status calls
	synced  bool
	sha     string // cached SHA-256 of the served bytes
}

// Server is the simulated Askara API and file host. It is an http.Handler;
// all its methods are safe for concurrent use.
type Server struct {
	o       Options
	linkKey [32]byte

	mu       sync.Mutex
	docs     []*doc
	byUUID   map[string]*doc
	token    string
	baseURL  string
	update   *Update // the update server's release (updates.go); nil: the demo's
	linkGen  int
	bucket   bucket
	faultRNG *rand.Rand
	addRNG   *rand.Rand
	apiQueue []Fault
	pdfQueue []Fault
	calls    []StatusCall
	stats    Stats
	srv      *http.Server
	oauth    *oauthState
	wh       *webhookState
	notes    noteStore // notes.go

	done      chan struct{}
	closeOnce sync.Once
}

// New builds a server with its generated and hostile documents. It panics
// if o does not pass Validate.
func New(o Options) *Server {
	if err := o.Validate(); err != nil {
		panic("sim: " + err.Error())
	}
	o = o.withDefaults()
	s := &Server{
		o:        o,
		byUUID:   make(map[string]*doc),
		token:    o.Token,
		bucket:   newBucket(o.RateLimit, o.RateRefill, o.RateRefillEvery, o.Now()),
		faultRNG: newRNG(o.Seed, streamFaults),
		addRNG:   newRNG(o.Seed, streamAdded),
		oauth:    newOAuthState(o.Seed),
		done:     make(chan struct{}),
	}
	s.wh = newWebhookState(o)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(o.Seed))
	s.linkKey = sha256.Sum256(append([]byte("clinicsync-sim-link\x00"), b[:]...))
	s.stats.Endpoints = make(map[string]int)
	s.stats.FaultKinds = make(map[Fault]int)
	for _, f := range generate(o.Seed, o.Documents, o.Patients) {
		s.addLocked(f)
	}
	if o.Hostile {
		for _, f := range HostileFixtures(o.Seed) {
			s.addLocked(f)
		}
	}
	for _, n := range generateNotes(o.Seed, o.Notes, o.Patients) {
		s.storeNoteLocked(n)
	}
	return s
}

// AddDocument adds one document at the end of the list (it is the newest)
// and returns it as it will be listed, with a freshly signed link (relative
// until SetBaseURL or Start gave a base URL). A fixture whose UUID is
// already taken gets a new one: nothing is replaced. Active webhooks
// subscribed to new_document are sent the document (webhooks.go).
func (s *Server) AddDocument(f Fixture) clinicsync.Document {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.CreatedAt.IsZero() {
		f.CreatedAt = s.o.Now()
	}
	d := s.addLocked(f)
	s.emitDocumentLocked(EventNewDocument, d)
	out := d.d
	if d.content.Kind != ContentNoPDF && d.content.Kind != ContentNoURL {
		out.PDF.URL = s.linkLocked(d, s.baseURL, s.o.Now())
	}
	return out
}

func (s *Server) addLocked(f Fixture) *doc {
	d := &doc{d: f.Doc, content: f.Content, label: f.Label, created: f.CreatedAt, synced: f.Synchronized}
	d.d.PDF.URL = ""
	if d.d.UUID == "" || s.byUUID[d.d.UUID] != nil {
		for d.d.UUID == "" || s.byUUID[d.d.UUID] != nil {
			d.d.UUID = uuid4(s.addRNG)
		}
	}
	if d.d.Patient.UUID == "" {
		d.d.Patient.UUID = uuid4(s.addRNG)
	}
	if d.d.State == "" {
		d.d.State = "verified"
	}
	if d.content.Kind == ContentNoPDF {
		d.d.PDF = clinicsync.PDF{}
	}
	if d.content.Kind == ContentPDF {
		if d.content.Size <= 0 {
			d.content.Size = s.defaultSize(d.d.UUID)
		}
		d.content.Size = max(d.content.Size, MinPDFSize)
	}
	if d.created.IsZero() {
		d.created = s.o.Now()
	}
	d.updated = d.created
	s.docs = append(s.docs, d)
	s.byUUID[d.d.UUID] = d
	return d
}

// defaultSize is Options.PDFSize, or about 2 KiB varying with (seed, uuid).
func (s *Server) defaultSize(uuid string) int64 {
	if s.o.PDFSize > 0 {
		return s.o.PDFSize
	}
	k := pdfKey(s.o.Seed, uuid)
	return 1792 + int64(binary.BigEndian.Uint16(k[30:])%512)
}

// SetBaseURL sets the externally visible base URL ("http://127.0.0.1:8080")
// used in pre-signed links. Without it, links use the request's Host.
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	s.baseURL = strings.TrimRight(u, "/")
	s.mu.Unlock()
}

// SetToken changes the accepted bearer token (empty: any non-empty token),
// e.g. to make the client's current token expire.
func (s *Server) SetToken(tok string) {
	s.mu.Lock()
	s.token = tok
	s.mu.Unlock()
}

// Start listens on addr ("127.0.0.1:0" if empty), serves in the background
// and returns the base URL. Unless SetBaseURL was called, links use that
// base URL (or the request's Host when addr listens on all interfaces).
func (s *Server) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	base := "http://" + ln.Addr().String()
	ip := net.ParseIP(host)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	if s.srv != nil {
		s.mu.Unlock()
		ln.Close()
		return "", errors.New("sim: already started")
	}
	s.srv = srv
	if ip != nil && ip.IsUnspecified() {
		base = "http://" + net.JoinHostPort("127.0.0.1", port)
	} else if s.baseURL == "" {
		s.baseURL = base
	}
	s.mu.Unlock()
	go srv.Serve(ln)
	return base, nil
}

// Close stops the server started by Start (if any), ends injected
// stalls and latencies in progress, and stops webhook deliveries: it
// cancels those in flight, drops pending retries and waits for their
// goroutines to end.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		srv := s.srv
		s.mu.Unlock()
		if srv != nil {
			err = srv.Close()
		}
		s.stopWebhooks()
	})
	return err
}

// Synchronized reports whether the document got a success:true.
func (s *Server) Synchronized(uuid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byUUID[uuid]
	return d != nil && d.synced
}

// Unsynchronize puts a document back in the synchronized=false list, as a
// clinician's "Synchronize" click in Askara's UI does. It reports whether
// the document exists.
func (s *Server) Unsynchronize(uuid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byUUID[uuid]
	if d != nil {
		d.synced = false
	}
	return d != nil
}

// StatusCalls returns every status call received, oldest first.
func (s *Server) StatusCalls() []StatusCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StatusCall(nil), s.calls...)
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Endpoints = maps.Clone(s.stats.Endpoints)
	st.FaultKinds = maps.Clone(s.stats.FaultKinds)
	return st
}

// ExpireLinks makes every link issued so far expired: downloading one
// gets 403 "Request has expired"; links issued afterwards work.
func (s *Server) ExpireLinks() {
	s.mu.Lock()
	s.linkGen++
	s.mu.Unlock()
}

// Expected lists every document, in list order, with what a correct
// client should make of it. SHA-256s are computed once by streaming the
// generator (a 1 GiB document takes a few seconds the first time).
func (s *Server) Expected() []Expectation {
	// What SetContent and SetFileName change is read under the lock.
	type snap struct {
		d       *doc
		doc     clinicsync.Document
		content Content
		sha     string
	}
	s.mu.Lock()
	docs := make([]snap, len(s.docs))
	for i, d := range s.docs {
		docs[i] = snap{d: d, doc: d.d, content: d.content, sha: d.sha}
	}
	s.mu.Unlock()

	out := make([]Expectation, len(docs))
	for i, sd := range docs {
		d := sd.doc
		e := Expectation{
			UUID: d.UUID, Type: d.Type, Patient: d.Patient, FileName: d.PDF.FileName,
			Content: sd.content, Label: sd.d.label, Reason: sd.content.reason(),
		}
		e.Land = e.Reason == ""
		switch sd.content.Kind {
		case ContentPDF:
			e.Size = sd.content.Size
			if sd.sha == "" {
				sd.sha, _ = pdfSHA256(s.o.Seed, d.UUID, sd.content.Size)
				s.mu.Lock()
				if sd.d.content == sd.content {
					sd.d.sha = sd.sha
				}
				s.mu.Unlock()
			}
			e.SHA256 = sd.sha
		case ContentEmpty:
			e.SHA256 = hexSHA256(nil)
		case ContentHTML:
			e.Size = int64(len(htmlBody))
			e.SHA256 = hexSHA256([]byte(htmlBody))
		}
		out[i] = e
	}
	return out
}

func hexSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// sleep waits d unless the request or the server ends first; it reports
// whether the full time passed.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

// ServeHTTP routes /healthz, /updates/... (updates.go), /files/... (pre-signed
// links) and the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	switch {
	case path == "/healthz":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeProblem(w, http.StatusMethodNotAllowed, "Method not allowed.")
			return
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
	case strings.HasPrefix(path, "/updates/"):
		s.serveUpdate(w, r, path)
	case strings.HasPrefix(path, "/files/"):
		s.serveFile(w, r, strings.TrimPrefix(path, "/files/"))
	case s.serveOAuth(w, r, path):
	default:
		s.serveAPI(w, r, path)
	}
}

// requestBase is the base URL for links when SetBaseURL was not called.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// SetContent replaces what a document's link serves (the platform fixed a
// broken file), so a manual retry can succeed. It reports whether the
// document exists.
func (s *Server) SetContent(uuid string, c Content) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byUUID[uuid]
	if d == nil {
		return false
	}
	if c.Kind == ContentPDF {
		if c.Size <= 0 {
			c.Size = s.defaultSize(uuid)
		}
		c.Size = max(c.Size, MinPDFSize)
	}
	d.content, d.sha = c, ""
	return true
}

// Touch moves a document's updatedAt to the clock's now (at least one
// second later than before), as an edit in the platform does; the list
// and the document show it. It reports whether the document exists.
func (s *Server) Touch(uuid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byUUID[uuid]
	if d != nil {
		s.touchLocked(d)
	}
	return d != nil
}

// SetFileName renames a document's file, as a correction in the platform
// does: its pdf.fileName and the path of its links change, and its
// updatedAt moves as Touch does. It reports whether the document exists.
func (s *Server) SetFileName(uuid, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byUUID[uuid]
	if d != nil {
		d.d.PDF.FileName = name
		s.touchLocked(d)
	}
	return d != nil
}

// touchLocked moves d's updatedAt. s.mu must be held.
func (s *Server) touchLocked(d *doc) {
	d.updated = later(s.o.Now().Truncate(time.Second), d.updated.Truncate(time.Second).Add(time.Second))
}
