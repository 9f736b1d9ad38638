package askara

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// notesSim serves s over real HTTP, recording the query of every GET
// /notes, and returns a client of it (real clock, instant sleeps).
type notesSim struct {
	*httptest.Server
	mu      sync.Mutex
	queries []string
}

func (n *notesSim) Queries() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.queries)
}

func startNotesSim(t *testing.T, s *sim.Server) *notesSim {
	t.Helper()
	n := &notesSim{}
	n.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/notes" {
			n.mu.Lock()
			n.queries = append(n.queries, r.URL.RawQuery)
			n.mu.Unlock()
		}
		s.ServeHTTP(w, r)
	}))
	s.SetBaseURL(n.URL)
	t.Cleanup(func() { n.Close(); s.Close() })
	return n
}

func notesClient(t *testing.T, base string, mod func(*Options)) *Client {
	t.Helper()
	c, _, _ := newTestClient(t, base, func(o *Options) {
		o.Now = nil // the simulator's rate-limit headers are on the real clock
		o.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
		if mod != nil {
			mod(o)
		}
	})
	return c
}

func noteUUIDs(ns []Note) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

func simUUIDs(ns []sim.Note) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.UUID
	}
	return out
}

func TestListNotesAllFormats(t *testing.T) {
	for _, format := range []string{sim.FormatHydra, sim.FormatMember, sim.FormatArray} {
		for _, pageSize := range []int{100, 30} {
			t.Run(fmt.Sprintf("%s/%d", format, pageSize), func(t *testing.T) {
				s := sim.New(sim.Options{Seed: 11, Notes: 250, Format: format})
				srv := startNotesSim(t, s)
				c := notesClient(t, srv.URL, func(o *Options) { o.PageSize = pageSize })
				notes, err := c.ListNotes(context.Background(), time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				want := s.Notes()
				if !slices.Equal(noteUUIDs(notes), simUUIDs(want)) {
					t.Fatalf("listed %d notes, not the %d notes once each in order", len(notes), len(want))
				}
				for i := 1; i < len(notes); i++ {
					if notes[i].CreatedAt.Before(notes[i-1].CreatedAt) {
						t.Fatalf("not ascending at %d", i)
					}
				}
				// Shared seconds straddle the page boundaries (generated so).
				if !notes[pageSize-1].CreatedAt.Equal(notes[pageSize].CreatedAt) || !notes[99].CreatedAt.Equal(notes[101].CreatedAt) {
					t.Fatal("the test data has no equal second across a page boundary")
				}
				// Every field, and the item as received.
				n, w := notes[42], want[42]
				if n.Type != w.Type || n.Content() != w.Content || !n.CreatedAt.Equal(w.CreatedAt) || !n.UpdatedAt.Equal(w.UpdatedAt) ||
					n.Patient == nil || n.Patient.UUID != w.Patient.UUID || n.Patient.FirstName != w.Patient.FirstName ||
					n.Patient.LastName != w.Patient.LastName {
					t.Fatalf("decoded %+v\nwant %+v", n, w)
				}
				var raw map[string]any
				if err := json.Unmarshal(n.Raw, &raw); err != nil || raw["uuid"] != n.ID || raw["content"] != n.Content() {
					t.Fatalf("Raw %s: %v", n.Raw, err)
				}
				// The query asked: ascending, page size, no after filter.
				q := srv.Queries()
				pages := (250 + pageSize - 1) / pageSize
				if format == sim.FormatArray && 250%pageSize == 0 {
					pages++
				}
				if len(q) != pages {
					t.Fatalf("%d requests, want %d: %v", len(q), pages, q)
				}
				first, _ := url.ParseQuery(q[0])
				if first.Get("order[createdAt]") != "asc" || first.Get("itemsPerPage") != strconv.Itoa(pageSize) ||
					first.Get("page") != "1" || first.Has("createdAt[after]") {
					t.Fatalf("first query %q", q[0])
				}
			})
		}
	}
}

func TestListNotesAfterInclusive(t *testing.T) {
	s := sim.New(sim.Options{Seed: 12, Notes: 250, Format: sim.FormatArray})
	srv := startNotesSim(t, s)
	c := notesClient(t, srv.URL, nil)
	all := s.Notes()
	// Note 100 shares its second with 99 and 101.
	at := all[100].CreatedAt
	for _, after := range []time.Time{at, at.Add(400 * time.Millisecond), at.In(time.FixedZone("CEST", 2*3600))} {
		notes, err := c.ListNotes(context.Background(), after)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(noteUUIDs(notes), simUUIDs(all[99:])) {
			t.Fatalf("after %v: %d notes, want the %d from note 99 on", after, len(notes), len(all)-99)
		}
	}
	q := srv.Queries()
	v, _ := url.ParseQuery(q[len(q)-1])
	if got, want := v.Get("createdAt[after]"), at.UTC().Format("2006-01-02T15:04:05Z"); got != want {
		t.Fatalf("createdAt[after]=%q, want %q", got, want)
	}
	if !strings.Contains(q[len(q)-1], "createdAt%5Bafter%5D=") {
		t.Fatalf("query not encoded: %q", q[len(q)-1])
	}
	// After the newest note: none; polling again with the newest seen
	// brings back only that second's notes.
	if notes, err := c.ListNotes(context.Background(), all[len(all)-1].CreatedAt.Add(time.Second)); err != nil || len(notes) != 0 {
		t.Fatalf("after the newest: %d, %v", len(notes), err)
	}
	if notes, err := c.ListNotes(context.Background(), all[len(all)-1].CreatedAt); err != nil || len(notes) != 1 {
		t.Fatalf("at the newest: %d, %v", len(notes), err)
	}
}

// simToken signs in to an OAuth simulator (AutoApprove) with scope and
// returns a token source of the access token.
func simToken(t *testing.T, base, scope string) oauth2.TokenSource {
	t.Helper()
	cfg := oauth2.Config{ClientID: "clinicsync-desktop", RedirectURL: "http://127.0.0.1:53682/callback",
		Endpoint: oauth2.Endpoint{AuthURL: base + "/authorize", TokenURL: base + "/oauth2/token"},
		Scopes:   strings.Fields(scope)}
	verifier := oauth2.GenerateVerifier()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, err := cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.AccessToken})
}

func TestNotesWithoutScopeForbidden(t *testing.T) {
	s := sim.New(sim.Options{Seed: 13, Notes: 5, OAuth: true, AutoApprove: true})
	srv := startNotesSim(t, s)
	uuid := s.Notes()[0].UUID

	c := notesClient(t, srv.URL, func(o *Options) {
		o.TokenSource = simToken(t, srv.URL, "profile organization read:documents write:document_integrations")
	})
	notes, err := c.ListNotes(context.Background(), time.Time{})
	var ce *clinicsync.Error
	if !errors.As(err, &ce) || ce.Code != clinicsync.EForbidden || ce.Retryable || notes != nil ||
		ce.Message != "Askara refused the notes list: the sign-in lacks the read:notes scope; sign in again (the app asks for it)." {
		t.Fatalf("ListNotes: %d notes, %#v", len(notes), err)
	}
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 403 || !strings.Contains(he.Detail, "read:notes") {
		t.Fatalf("underlying error %v", err)
	}
	if c.Stats().APIRequests != 1 {
		t.Fatalf("a 403 was retried: %d requests", c.Stats().APIRequests)
	}
	_, err = c.GetNote(context.Background(), uuid)
	if !errors.As(err, &ce) || ce.Code != clinicsync.EForbidden || !strings.Contains(ce.Message, "lacks the read:notes scope") {
		t.Fatalf("GetNote: %#v", err)
	}
	// The documents still work with that sign-in: only notes need the scope.
	if _, err := c.ListUnsynchronized(context.Background()); err != nil {
		t.Fatal(err)
	}

	// With the scope, the same calls work.
	c = notesClient(t, srv.URL, func(o *Options) {
		o.TokenSource = simToken(t, srv.URL, "profile organization read:documents write:document_integrations read:notes")
	})
	if notes, err := c.ListNotes(context.Background(), time.Time{}); err != nil || len(notes) != 5 {
		t.Fatalf("with read:notes: %d, %v", len(notes), err)
	}
	if n, err := c.GetNote(context.Background(), uuid); err != nil || n.ID != uuid {
		t.Fatalf("GetNote with read:notes: %+v, %v", n, err)
	}
}

func TestGetNote(t *testing.T) {
	for _, format := range []string{sim.FormatHydra, sim.FormatArray} {
		s := sim.New(sim.Options{Seed: 14, Notes: 3, Format: format})
		srv := startNotesSim(t, s)
		c := notesClient(t, srv.URL, nil)
		w := s.AddNote(sim.Note{Content: "Douleur thoracique atypique → ECG normal. «À revoir» 😷",
			Patient: s.Notes()[0].Patient, CreatedAt: time.Date(2026, 2, 24, 10, 30, 0, 0, time.UTC)})
		n, err := c.GetNote(context.Background(), w.UUID)
		if err != nil {
			t.Fatal(err)
		}
		if n.ID != w.UUID || n.Content() != w.Content || n.Type != "consultation_summary" ||
			!n.CreatedAt.Equal(w.CreatedAt) || !n.UpdatedAt.Equal(w.UpdatedAt) || n.Patient == nil ||
			n.Patient.UUID != w.Patient.UUID || n.Patient.LastName != w.Patient.LastName {
			t.Fatalf("%s: got %+v\nwant %+v", format, n, w)
		}
		var raw map[string]any
		if json.Unmarshal(n.Raw, &raw) != nil || raw["content"] != w.Content {
			t.Fatalf("Raw %s", n.Raw)
		}
		// An updated note shows its new content and updatedAt.
		s.UpdateNote(w.UUID, "Revised.")
		if n, err := c.GetNote(context.Background(), w.UUID); err != nil || n.Content() != "Revised." || !n.UpdatedAt.After(w.UpdatedAt) {
			t.Fatalf("after UpdateNote: %+v, %v", n, err)
		}

		var ce *clinicsync.Error
		_, err = c.GetNote(context.Background(), "no-such-note")
		if !errors.As(err, &ce) || ce.Code != clinicsync.ENotFound || ce.Message != "The note does not exist on Askara." {
			t.Fatalf("unknown note: %#v", err)
		}
		for _, bad := range []string{"", "..", strings.Repeat("x", 513)} {
			if _, err := c.GetNote(context.Background(), bad); !errors.As(err, &ce) || ce.Code != clinicsync.EInvalid {
				t.Fatalf("GetNote(%q): %v", bad, err)
			}
		}
	}
}

func TestListNotesBounded(t *testing.T) {
	s := sim.New(sim.Options{Seed: 15, Notes: 250})
	srv := startNotesSim(t, s)
	c := notesClient(t, srv.URL, nil)
	all := s.Notes()

	notes, err := c.listNotes(context.Background(), time.Time{}, 120)
	var ce *clinicsync.Error
	if !errors.Is(err, ErrNotesTruncated) || !errors.As(err, &ce) || ce.Code != clinicsync.ERateLimited || !ce.Retryable {
		t.Fatalf("bounded list: %v", err)
	}
	if !slices.Equal(noteUUIDs(notes), simUUIDs(all[:120])) {
		t.Fatalf("bounded list gave %d notes, want the oldest 120", len(notes))
	}
	if len(srv.Queries()) != 2 {
		t.Fatalf("%d requests for 120 notes at 100 a page", len(srv.Queries()))
	}
	// Continuing from the last one's createdAt (inclusive, de-duplicated)
	// gets the rest.
	seen := map[string]bool{}
	got := noteUUIDs(notes)
	for _, u := range got {
		seen[u] = true
	}
	for round := 0; ; round++ {
		more, err := c.listNotes(context.Background(), notes[len(notes)-1].CreatedAt, 120)
		if err != nil && !errors.Is(err, ErrNotesTruncated) {
			t.Fatal(err)
		}
		for _, n := range more {
			if !seen[n.ID] {
				seen[n.ID] = true
				got = append(got, n.ID)
			}
		}
		notes = more
		if err == nil {
			break
		}
		if round > 5 {
			t.Fatal("continuation does not end")
		}
	}
	if !slices.Equal(got, simUUIDs(all)) {
		t.Fatalf("continuation gave %d notes, want %d", len(got), len(all))
	}
	// Exactly at the bound with no further page: no error.
	if notes, err := c.listNotes(context.Background(), time.Time{}, 250); err != nil || len(notes) != 250 {
		t.Fatalf("at the bound: %d, %v", len(notes), err)
	}
	if MaxNotes != 10000 {
		t.Fatal("MaxNotes changed: update the documentation")
	}
}

func TestListNotesThroughFaults(t *testing.T) {
	s := sim.New(sim.Options{Seed: 16, Notes: 250, FaultRate: 0.3, FaultStall: 10 * time.Millisecond})
	srv := startNotesSim(t, s)
	c := notesClient(t, srv.URL, func(o *Options) { o.MaxAttempts = 20 })
	notes, err := c.ListNotes(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(noteUUIDs(notes), simUUIDs(s.Notes())) {
		t.Fatalf("%d notes through faults", len(notes))
	}
	if s.Stats().Faults == 0 || c.Stats().Retries == 0 {
		t.Fatalf("no fault was injected (faults %d, retries %d)", s.Stats().Faults, c.Stats().Retries)
	}
}

// A server that ignores order and the filter, caps the page size and
// repeats items: the client still returns each note once, oldest first,
// none before after.
func TestListNotesHostileServer(t *testing.T) {
	base := time.Date(2026, 2, 24, 10, 0, 0, 0, time.UTC)
	item := func(i int) string {
		ts := base.Add(time.Duration(89-i) * time.Minute).Format("2006-01-02T15:04:05+00:00")
		return fmt.Sprintf(`{"uuid":"n%02d","type":"consultation_summary","content":"c%d","createdAt":%q,"updatedAt":%q,"patient":"/patients/p%d"}`,
			i, i, ts, ts, i%3)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		var items []string
		for i := (page - 1) * 30; i < min(page*30, 90); i++ { // newest first, 30 a page
			items = append(items, item(i))
		}
		if page == 2 {
			items = append(items, item(0), `{"no":"uuid"}`, `"junk"`)
		}
		fmt.Fprint(w, "["+strings.Join(items, ",")+"]")
	}))
	defer ts.Close()
	c := notesClient(t, ts.URL, nil)
	after := base.Add(30 * time.Minute) // notes n00..n59 are at or after it
	notes, err := c.ListNotes(context.Background(), after)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 60 || notes[0].ID != "n59" || notes[59].ID != "n00" {
		t.Fatalf("%d notes: %v", len(notes), noteUUIDs(notes))
	}
	if notes[0].Patient == nil || notes[0].Patient.UUID != "p2" {
		t.Fatalf("patient IRI: %+v", notes[0].Patient)
	}
	if c.Stats().SkippedItems != 2 {
		t.Fatalf("skipped %d", c.Stats().SkippedItems)
	}
}

func TestNotesErrorsOtherThanScope(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/notes":
			w.WriteHeader(http.StatusNotFound)
		default:
			fmt.Fprint(w, `{"uuid":"other","content":"x"}`)
		}
	}))
	defer ts.Close()
	c := notesClient(t, ts.URL, nil)
	var ce *clinicsync.Error
	if _, err := c.ListNotes(context.Background(), time.Time{}); !errors.As(err, &ce) || ce.Code != clinicsync.ENotFound ||
		!strings.Contains(ce.Message, "no notes list at "+ts.URL+"/notes") {
		t.Fatalf("404 list: %v", err)
	}
	if _, err := c.GetNote(context.Background(), "asked"); !errors.As(err, &ce) || ce.Code != clinicsync.EBadResponse {
		t.Fatalf("another note: %v", err)
	}
}
