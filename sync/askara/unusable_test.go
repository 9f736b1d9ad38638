package askara

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/activity"
)

// sayings collects what OnUnusable hands over.
type sayings struct {
	mu    sync.Mutex
	lines []clinicsync.Text
}

func (s *sayings) say(t clinicsync.Text) { s.mu.Lock(); s.lines = append(s.lines, t); s.mu.Unlock() }

func (s *sayings) strings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, t := range s.lines {
		out = append(out, t.String())
	}
	return out
}

// A listed document or note that cannot be used is left out and said in
// the activity log with the reason, once, however often it is listed; the
// reason names the field, never a value (Secretname is a patient's name).
func TestUnusableListItemsAreSaidOnce(t *testing.T) {
	docs := `[` + docJSON("a") + `,{"type":"referral_letter","patient":{"lastName":"Secretname"}},{"uuid":42},` +
		`{"uuid":"b\u0085Secretname"},"just a string",{"uuid":"` + strings.Repeat("x", 513) + `"},` + docJSON("c") + `]`
	notes := `[{"uuid":"n1","content":"ok","createdAt":"2026-02-24T10:00:00+00:00"},` +
		`{"content":"Secretname","createdAt":"2026-02-24T10:00:00+00:00"},{"uuid":"n2","content":{"text":"Secretname"}}]`
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Query().Get("page") != "1":
			fmt.Fprint(w, `[]`)
		case r.URL.Path == "/notes":
			fmt.Fprint(w, notes)
		default:
			fmt.Fprint(w, docs)
		}
	}))
	defer ts.Close()
	c, _, _ := newTestClient(t, ts.URL, func(o *Options) { o.PageSize = 50 })
	var said sayings
	c.OnUnusable(said.say)
	for range 2 {
		list, err := c.ListUnsynchronized(context.Background())
		if err != nil || len(list) != 2 || list[0].UUID != "a" || list[1].UUID != "c" {
			t.Fatalf("listed %+v, %v", list, err)
		}
		ns, err := (&NoteSource{Client: c}).ListNotes(context.Background(), time.Time{})
		if err != nil || len(ns) != 1 || ns[0].ID != "n1" {
			t.Fatalf("notes %+v, %v", ns, err)
		}
	}
	want := []string{
		"Askara listed a document that cannot be used (uuid is missing); it is left out.",
		"Askara listed a document that cannot be used (uuid has the wrong type); it is left out.",
		"Askara listed a document that cannot be used (uuid has control characters); it is left out.",
		"Askara listed a document that cannot be used (the item is not a JSON object); it is left out.",
		"Askara listed a document that cannot be used (uuid is longer than 512 bytes); it is left out.",
		"Askara listed a note that cannot be used: Askara note: uuid is missing. It is left out.",
		"Askara listed a note that cannot be used: Askara note: content has the wrong type. It is left out.",
	}
	if got := said.strings(); !slices.Equal(got, want) {
		t.Fatalf("said\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, l := range said.lines {
		if l.Key != activity.DocumentUnusable && l.Key != activity.NoteUnusable {
			t.Errorf("key %q is not in the catalogue", l.Key)
		}
	}
	if n := c.Stats().SkippedItems; n != 14 {
		t.Errorf("skipped %d, want 7 a round", n)
	}
}

// Issue 13: a note whose patient is a JSON-LD reference was listed by the
// client and then dropped by the notes reader; one reader now reads both,
// and the note reaches the engine with its patient.
func TestNoteSourceKeepsAPatientReference(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"uuid":"n1","type":"consultation_summary","content":"Text","createdAt":"2026-02-24T10:00:00+00:00",`+
			`"patient":"/patients/p1"}]`)
	}))
	defer ts.Close()
	c, _, _ := newTestClient(t, ts.URL, nil)
	var said sayings
	c.OnUnusable(said.say)
	ns, err := (&NoteSource{Client: c}).ListNotes(context.Background(), time.Time{})
	if err != nil || len(ns) != 1 || ns[0].Patient == nil || *ns[0].Patient != (clinicsync.Patient{UUID: "p1"}) ||
		ns[0].Sections[0].Text != "Text" {
		t.Fatalf("notes %+v, %v", ns, err)
	}
	if got := said.strings(); len(got) != 0 {
		t.Fatalf("said %v", got)
	}
}
