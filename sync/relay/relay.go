// Package relay is the localhost webhook receiver. A clinic PC is not
// reachable from the internet: the clinic's reverse proxy or tunnel
// forwards each platform's POSTs to it. A delivery is checked (method,
// content type, size, signature, envelope), committed to the SQLite inbox
// and only then acknowledged; processing happens afterwards, and whatever a
// crash interrupted is processed again on start. Polling stays the source
// of truth: the relay only makes documents arrive sooner.
//
// The files: relay.go the server and its options; gate.go which requests
// are answered at all; receive.go receiving a delivery (checks, signature,
// answer); inbox.go the group-committed inbox and WAL scrubbing; lanes.go
// processing, one lane per platform; platform.go the registry, and
// platform_<name>.go each platform (signature schemes, envelope, lane,
// processing); envelope.go and verify.go what the platforms share;
// manager.go runs the relay the settings ask for.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/notes"
)

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
	// FreePortIfTaken: when another program holds Listen's loopback port
	// (another user's Clinic Sync on a terminal server), listen on a free
	// port of the same host instead (Taken says so). Only when nothing
	// outside points at the port: without a public URL.
	FreePortIfTaken bool
}

// Server is a running relay.
type Server struct {
	o         Options
	verifiers map[string][]Verifier // per enabled platform, tried by the headers present
	loopback  bool                  // listening on loopback only
	listenIP  net.IP                // the listen address's IP; nil for a name or an unspecified address
	port      string                // the port it listens on (known after Start)
	public    atomic.Pointer[hostPort]
	log       *slog.Logger
	srv       *http.Server
	ln        net.Listener
	taken     string // Listen, when another program held it and a free port was taken (Start)

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
		pl := registry[p]
		if pl == nil {
			return nil, clinicsync.Errorf(clinicsync.EConfig, "The relay has no path for the platform %q (known: %s).", p, strings.Join(Platforms(), ", "))
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
		vs, err := pl.verifiers(secret, o.Tolerance)
		if err != nil {
			return nil, clinicsync.Errorf(clinicsync.EConfig, "The %s signing secret cannot be used: %v", p, err)
		}
		s.verifiers[p] = vs
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	return s, nil
}

// Start listens and serves; it also starts the inbox writer and the
// processor, which first processes what a crash left in the inbox.
func (s *Server) Start(ctx context.Context) (string, error) {
	ln, err := net.Listen("tcp", s.o.Listen)
	if err != nil {
		// The host can be listened on, so its port is the trouble: in use
		// by another program (or reserved).
		host, port, _ := net.SplitHostPort(s.o.Listen)
		other, oerr := net.Listen("tcp", net.JoinHostPort(host, "0"))
		switch {
		case oerr != nil || port == "0":
			return "", clinicsync.Permanent(clinicsync.EConfig, fmt.Sprintf("The relay cannot listen on %s.", s.o.Listen), err)
		case !s.o.FreePortIfTaken || !s.loopback:
			other.Close()
			return "", clinicsync.Permanentf(clinicsync.EConfig, err,
				"%s is in use by another program (perhaps another user's Clinic Sync on this PC): choose another port in Settings (Webhook relay), and point the proxy or tunnel at it.", s.o.Listen)
		}
		ln, s.taken = other, s.o.Listen
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

// Taken is the configured address another program held, when the relay
// listens on a free port instead (FreePortIfTaken); "" otherwise.
func (s *Server) Taken() string { return s.taken }

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
