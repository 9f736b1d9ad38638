package relay

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/platforms"
)

// Registrar registers the relay's public URL with Askara (*askara.Client).
type Registrar interface {
	CreateWebhook(ctx context.Context, url string, events []string) (askara.Webhook, error)
	RemoveWebhook(ctx context.Context, id string) error
}

// Manager runs the relay the settings ask for: it starts, restarts or
// stops it when they change (no restart of the app) and keeps Askara's
// webhook registration in step with the public URL: registered once,
// re-registered when the URL changes, removed when the relay is turned off.
type Manager struct {
	Store     *store.Store
	Sink      Sink
	Registrar Registrar
	// Secret returns a platform's signing secret (environment, then keychain).
	Secret func(platform string) string
	Log    *slog.Logger
	// Events receives RelayChanged whenever what Status reports changes
	// (nil: none).
	Events *events.Bus

	mu      sync.Mutex
	cfg     config.Relay
	secrets map[string]string
	srv     *Server
	addr    string
	taken   string // the configured address another program held (Status.Taken)
	lastErr string
}

// Status is the relay as the window and `status` show it.
type Status struct {
	Enabled bool   `json:"enabled"`
	Address string `json:"address,omitempty"` // where it listens, when running
	// Taken is the configured address, when another program (another
	// user's Clinic Sync) held it and the relay listens on Address instead.
	Taken        string    `json:"taken,omitempty"`
	PublicURL    string    `json:"public_url,omitempty"`
	Registered   string    `json:"registered,omitempty"` // the URL Askara delivers to
	LastDelivery time.Time `json:"last_delivery,omitzero"`
	Accepted     int       `json:"accepted"`
	Refused      int       `json:"refused"`
	Error        string    `json:"error,omitempty"`
}

type registration struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

const registrationCursor = "relay.askara_registration"

// hookURL is the address Askara should deliver to for a public URL.
func hookURL(public string) string {
	if public == "" {
		return ""
	}
	return strings.TrimRight(public, "/") + "/webhooks/askara"
}

// Apply makes the running relay and the registration match c.
func (m *Manager) Apply(ctx context.Context, c config.Relay) error {
	defer m.changed()
	m.mu.Lock()
	defer m.mu.Unlock()
	secrets := map[string]string{}
	for _, p := range c.Platforms {
		if s := m.secret(p); s != "" {
			secrets[p] = s
		}
	}
	// The server is rebuilt when what it was built from changed, but for
	// the public URL: SetPublicURL follows it. A relay on a free port
	// instead of a taken one is rebuilt when a public URL comes: the proxy
	// or tunnel forwards to the configured port.
	built := m.cfg
	built.Public = c.Public
	same := m.srv != nil && c.Equal(built) && maps.Equal(secrets, m.secrets) && (m.taken == "" || c.Public == "")
	if !same {
		if m.srv != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			m.srv.Close(sctx)
			cancel()
			m.srv, m.addr, m.taken = nil, "", ""
		}
		if c.Enabled {
			// Without a public URL nothing outside points at the port: a
			// port another user's relay holds is replaced by a free one.
			srv, err := New(Options{Listen: c.Listen, PublicURL: c.Public, Enabled: c.Platforms, Secrets: secrets, AllowUnsigned: c.AllowUnsigned,
				Tolerance: c.Tolerance.Duration, AzodhaFiles: c.AzodhaFiles, Store: m.Store, Sink: m.Sink, Log: m.Log, Events: m.Events,
				FreePortIfTaken: c.Public == ""})
			if err == nil {
				m.addr, err = srv.Start(context.WithoutCancel(ctx))
			}
			if err != nil {
				m.lastErr = clinicsync.ErrorMessage(err)
				m.cfg, m.secrets = c, secrets
				return err
			}
			m.srv, m.taken = srv, srv.Taken()
			if m.taken != "" {
				m.Sink.Note(ctx, "warn", clinicsync.NewText(activity.RelayPortTaken, m.taken, m.addr))
			}
			m.Sink.Note(ctx, "info", clinicsync.NewText(activity.RelayListening, m.addr, strings.Join(c.Platforms, ", ")))
		}
	}
	if m.srv != nil {
		m.srv.SetPublicURL(c.Public) // the Host it answers to follows the public URL
	}
	m.cfg, m.secrets, m.lastErr = c, secrets, ""
	if err := m.register(ctx, c); err != nil {
		m.lastErr = clinicsync.ErrorMessage(err)
		return err
	}
	return nil
}

func (m *Manager) secret(p string) string {
	if m.Secret == nil {
		return ""
	}
	return m.Secret(p)
}

// changed tells front ends to read Status again.
func (m *Manager) changed() { m.Events.Publish(events.Event{Type: events.RelayChanged}) }

// register keeps one registration for the public URL: none twice, the old
// one removed when the URL changes or the relay is turned off.
func (m *Manager) register(ctx context.Context, c config.Relay) error {
	if m.Registrar == nil {
		return nil
	}
	var cur registration
	if v, err := m.Store.GetCursor(ctx, registrationCursor); err == nil && v != "" {
		json.Unmarshal([]byte(v), &cur)
	}
	want := ""
	if c.Enabled && slices.Contains(c.Platforms, "askara") {
		want = hookURL(c.Public)
	}
	if cur.URL == want {
		return nil
	}
	if cur.ID != "" {
		if err := m.Registrar.RemoveWebhook(ctx, cur.ID); err != nil {
			return err
		}
		m.Store.SetCursor(ctx, registrationCursor, "")
		m.Sink.Note(ctx, "info", clinicsync.NewText(activity.WebhookRemoved, cur.URL))
	}
	if want == "" {
		return nil
	}
	w, err := m.Registrar.CreateWebhook(ctx, want, askara.WebhookEvents)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(registration{ID: w.ID, URL: want})
	if err := m.Store.SetCursor(ctx, registrationCursor, string(b)); err != nil {
		return err
	}
	m.Sink.Note(ctx, "info", clinicsync.NewText(activity.WebhookRegistered, want))
	return nil
}

// Status reports the relay's state.
func (m *Manager) Status(ctx context.Context) Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Status{Enabled: m.cfg.Enabled, Address: m.addr, Taken: m.taken, PublicURL: m.cfg.Public, Error: m.lastErr}
	if v, err := m.Store.GetCursor(ctx, registrationCursor); err == nil && v != "" {
		var r registration
		if json.Unmarshal([]byte(v), &r) == nil {
			st.Registered = r.URL
		}
	}
	if is, err := m.Store.InboxStats(ctx); err == nil {
		st.LastDelivery = is.LastReceived
	}
	if m.srv != nil {
		s := m.srv.Stats()
		st.Accepted = s.Accepted
		for _, n := range s.Refused {
			st.Refused += n
		}
	}
	return st
}

// Close stops the relay (the registration stays: Askara keeps delivering,
// and retries what fails while the app is closed; polling catches up).
func (m *Manager) Close(ctx context.Context) error {
	defer m.changed()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.srv == nil {
		return nil
	}
	err := m.srv.Close(ctx)
	m.srv, m.addr, m.taken = nil, "", ""
	return err
}

// ReprocessNotes processes again the note events kept while notes were
// off (the platforms that carry notes; the others' events stay as they
// are).
func (m *Manager) ReprocessNotes(ctx context.Context) error {
	n, err := m.Store.InboxRequeueDeferred(ctx, platforms.WithNotes())
	if err != nil || n == 0 {
		return err
	}
	m.mu.Lock()
	srv := m.srv
	m.mu.Unlock()
	if srv != nil {
		srv.Wake()
	}
	return nil
}
