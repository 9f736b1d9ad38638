package relay

import (
	"context"
	"net"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// The manager against the simulator: the public URL is registered once,
// replaced when it changes, removed when the relay is turned off; the
// relay starts and stops with the settings, and the simulator's signed
// deliveries reach the sink.
func TestManagerRegistersOnceAndRemovesWhenOff(t *testing.T) {
	s := sim.New(sim.Options{Seed: 3, WebhookSecret: testSecret, WebhookRetryScale: 0.05})
	ts := httptest.NewServer(s)
	defer ts.Close()
	defer s.Close()
	s.SetBaseURL(ts.URL)
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	client, err := askara.New(askara.Options{BaseURL: ts.URL, TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recorder{}
	m := &Manager{Store: st, Sink: sink, Registrar: client, Secret: func(p string) string {
		if p == "askara" {
			return testSecret
		}
		return ""
	}}
	defer m.Close(context.Background())
	ctx := context.Background()
	c := config.Default().Relay
	c.Enabled, c.Listen = true, "127.0.0.1:0"
	if err := m.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	addr := m.Status(ctx).Address
	if addr == "" || len(s.Webhooks()) != 0 {
		t.Fatalf("no public URL: relay on %q, %d registrations", addr, len(s.Webhooks()))
	}
	c.Public = "http://" + addr
	for i := 0; i < 2; i++ { // applying the same settings twice registers once
		if err := m.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	hooks := s.Webhooks()
	if len(hooks) != 1 || hooks[0].URL != "http://"+addr+"/webhooks/askara" || m.Status(ctx).Registered != hooks[0].URL {
		t.Fatalf("registrations %+v", hooks)
	}
	if m.Status(ctx).Address != addr {
		t.Fatal("unchanged settings restarted the relay")
	}

	// The loop: a new document on Askara reaches the sink through the relay.
	d := s.AddDocument(sim.Fixture{Doc: clinicsync.Document{PDF: clinicsync.PDF{FileName: "x.pdf"}}})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if p, _ := sink.snapshot(); len(p) == 1 && p[0] == "new_document "+d.UUID+" x.pdf" {
			break
		}
		if time.Now().After(deadline) {
			p, n := sink.snapshot()
			t.Fatalf("no push: %v %v %+v", p, n, s.Deliveries())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ls := m.Status(ctx); ls.LastDelivery.IsZero() || ls.Accepted != 1 {
		t.Fatalf("status %+v", ls)
	}

	// A new public URL replaces the registration.
	c.Public = "https://clinic.example.org/cs/"
	if err := m.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	if hooks := s.Webhooks(); len(hooks) != 1 || hooks[0].URL != "https://clinic.example.org/cs/webhooks/askara" {
		t.Fatalf("after the URL change: %+v", hooks)
	}
	// Off: the relay stops and Askara stops delivering.
	c.Enabled = false
	if err := m.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	if hooks := s.Webhooks(); len(hooks) != 0 {
		t.Fatalf("still registered: %+v", hooks)
	}
	if st := m.Status(ctx); st.Address != "" || st.Registered != "" {
		t.Fatalf("status after off: %+v", st)
	}
}

// Note events that arrived while notes were off are processed once they
// are switched on: nothing is lost.
func TestNotesKeptWhileOffAreProcessedWhenOn(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sink := &recorder{}
	m := &Manager{Store: st, Sink: sink}
	defer m.Close(context.Background())
	c := config.Default().Relay
	c.Enabled, c.Listen, c.AllowUnsigned = true, "127.0.0.1:0", true
	ctx := context.Background()
	if err := m.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	r := &relayRig{t: t, st: st, url: "http://" + m.Status(ctx).Address, sink: sink}
	note := []byte(`{"events":[{"id":"note-9","resource_type":"note","action":"new_note","metadata":{"note":{"uuid":"note-9","type":"consultation_summary","content":"x","createdAt":"2026-02-24T10:30:00+00:00","updatedAt":"2026-02-24T10:30:00+00:00"}}}],"meta":{"webhook_id":"w"}}`)
	if code, _ := r.post("/webhooks/askara", note, nil); code != 200 {
		t.Fatal(code)
	}
	r.until("kept", func() bool { s, _ := st.InboxStats(ctx); return s.Counts[store.InboxDeferred] == 1 })
	sink.mu.Lock()
	sink.notesOn = true
	sink.mu.Unlock()
	if err := m.ReprocessNotes(ctx); err != nil {
		t.Fatal(err)
	}
	r.until("saved", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.saved) == 1 && sink.saved[0].ID == "note-9"
	})
}

// The window reads the relay's status when the relay says it changed:
// started, a delivery accepted, one refused, stopped. Each is published on
// the bus cmd hands the manager, after Status shows it.
func TestManagerPublishesWhatStatusShows(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bus := events.New()
	sub := bus.Subscribe(events.AllEvents)
	defer sub.Unsubscribe()
	m := &Manager{Store: st, Sink: &recorder{}, Events: bus}
	ctx := context.Background()
	changed := func(what string, shows func(Status) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev := <-sub.C:
				if ev.Type != events.RelayChanged {
					continue
				}
				if shows(m.Status(ctx)) {
					return
				}
			case <-deadline:
				t.Fatalf("no RelayChanged after %s; status %+v", what, m.Status(ctx))
			}
		}
	}
	c := config.Default().Relay
	c.Enabled, c.Listen, c.AllowUnsigned = true, "127.0.0.1:0", true
	if err := m.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	changed("start", func(s Status) bool { return s.Address != "" })
	r := &relayRig{t: t, st: st, url: "http://" + m.Status(ctx).Address}
	if code, _ := r.post("/webhooks/askara", askaraEnvelope("doc-1", "new_document", "a.pdf"), nil); code != 200 {
		t.Fatal(code)
	}
	changed("an accepted delivery", func(s Status) bool { return s.Accepted == 1 && !s.LastDelivery.IsZero() })
	if code, _ := r.post("/webhooks/askara", []byte("{"), nil); code != 400 {
		t.Fatal(code)
	}
	changed("a refused delivery", func(s Status) bool { return s.Refused == 1 })
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	changed("stop", func(s Status) bool { return s.Address == "" })
}

// Two users on one PC (a terminal server) with the default settings: the
// second relay finds the port taken. Without a public URL (nothing outside
// points at the port) it listens on a free port of the same host and says
// which was taken, in Status and the activity log; with one (the proxy or
// tunnel forwards to the configured port) it does not start, and says the
// port is in use and where to choose another.
func TestSecondUserOnThePCGetsAFreePortOrAClearMessage(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0") // the first user's relay
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	taken := held.Addr().String()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sink := &recorder{}
	m := &Manager{Store: st, Sink: sink}
	defer m.Close(context.Background())
	ctx := context.Background()
	c := config.Default().Relay
	c.Enabled, c.Listen, c.AllowUnsigned = true, taken, true
	if err := m.Apply(ctx, c); err != nil {
		t.Fatalf("no public URL, port taken: %v", err)
	}
	s := m.Status(ctx)
	if s.Address == "" || s.Address == taken || s.Taken != taken || s.Error != "" {
		t.Fatalf("status %+v; want another address and Taken %s", s, taken)
	}
	if !strings.HasPrefix(s.Address, "127.0.0.1:") {
		t.Fatalf("moved to %s, not the same loopback host", s.Address)
	}
	r := &relayRig{t: t, st: st, url: "http://" + s.Address}
	if code, _ := r.post("/webhooks/askara", askaraEnvelope("doc-1", "new_document", "a.pdf"), nil); code != 200 {
		t.Fatalf("a delivery to the free port: %d", code)
	}
	if !slices.ContainsFunc(notesOf(sink), func(n string) bool { return strings.Contains(n, taken) && strings.Contains(n, s.Address) }) {
		t.Errorf("the activity log does not say %s was taken: %q", taken, notesOf(sink))
	}

	c.Public = "https://clinic.example.org/clinicsync"
	err = m.Apply(ctx, c)
	s = m.Status(ctx)
	msg := clinicsync.ErrorMessage(err)
	if err == nil || s.Address != "" || s.Error != msg || !strings.Contains(msg, taken+" is in use by another program") ||
		!strings.Contains(msg, "Settings") || strings.Contains(msg, "clinicsync ") {
		t.Fatalf("with a public URL: %v; status %+v", err, s)
	}
}

func notesOf(r *recorder) []string {
	_, n := r.snapshot()
	return n
}
