package sim

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notePage is one decoded page of GET /notes in any format.
type notePage struct {
	items []Note
	raw   []map[string]json.RawMessage
	total int
	next  string
}

func decodeNotePage(t testing.TB, format string, b []byte) notePage {
	t.Helper()
	var p notePage
	rawItems, total, next := decodeCollectionBody(t, format, b)
	p.total, p.next = total, next
	for _, ri := range rawItems {
		p.items = append(p.items, decodeWireNote(t, ri))
		var m map[string]json.RawMessage
		json.Unmarshal(ri, &m)
		p.raw = append(p.raw, m)
	}
	return p
}

func decodeWireNote(t testing.TB, b []byte) Note {
	t.Helper()
	var w wireNoteItem
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatalf("note: %v: %s", err, b)
	}
	c, err1 := time.Parse(time.RFC3339, w.CreatedAt)
	u, err2 := time.Parse(time.RFC3339, w.UpdatedAt)
	if err1 != nil || err2 != nil || w.UUID == "" || w.Patient.UUID == "" {
		t.Fatalf("note fields: %s", b)
	}
	n := Note{UUID: w.UUID, Type: w.Type, Content: w.Content, CreatedAt: c, UpdatedAt: u}
	n.Patient.UUID, n.Patient.FirstName, n.Patient.LastName = w.Patient.UUID, w.Patient.FirstName, w.Patient.LastName
	return n
}

// listNotesAll collects every note of a listing the way a client must;
// it also returns the size of each page.
func (c *tclient) listNotesAll(format, query string, perPage int) (notes []Note, sizes []int) {
	c.t.Helper()
	q := query + "&itemsPerPage=" + strconv.Itoa(perPage)
	target := "/notes?" + q
	for pageNo := 1; pageNo < 10000; pageNo++ {
		resp, b := c.do("GET", target, "")
		if resp.StatusCode != 200 {
			c.t.Fatalf("GET %s: %d %s", target, resp.StatusCode, b)
		}
		p := decodeNotePage(c.t, format, b)
		notes = append(notes, p.items...)
		sizes = append(sizes, len(p.items))
		if format == FormatArray {
			if len(p.items) < perPage || len(p.items) == 0 {
				return notes, sizes
			}
			target = "/notes?" + q + "&page=" + strconv.Itoa(pageNo+1)
			continue
		}
		if p.next == "" {
			return notes, sizes
		}
		if !strings.HasPrefix(p.next, "/notes?") {
			c.t.Fatalf("next link %q", p.next)
		}
		target = p.next
	}
	c.t.Fatal("paging does not end")
	return nil, nil
}

func uuidsOf(ns []Note) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.UUID
	}
	return out
}

// sortedAsc reports whether ns is by createdAt, equal seconds by uuid.
func sortedAsc(ns []Note) bool {
	return slices.IsSortedFunc(ns, func(a, b Note) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.UUID, b.UUID)
	})
}

func TestNotesGenerated(t *testing.T) {
	a := New(Options{Seed: 42, Notes: 250, Documents: 5}).Notes()
	b := New(Options{Seed: 42, Notes: 250}).Notes()
	if len(a) != 250 || !slices.Equal(uuidsOf(a), uuidsOf(b)) || a[7].Content != b[7].Content {
		t.Fatal("notes are not deterministic from the seed (or depend on Documents)")
	}
	if c := New(Options{Seed: 43, Notes: 250}).Notes(); c[0].UUID == a[0].UUID {
		t.Fatal("another seed gives the same notes")
	}
	if !sortedAsc(a) {
		t.Fatal("Notes() not in list order")
	}
	// Equal seconds: pairs at every multiple of 10, triples at 49-51, 99-101, ...
	shared := 0
	for i := 1; i < len(a); i++ {
		if a[i].CreatedAt.Equal(a[i-1].CreatedAt) {
			shared++
		}
	}
	if shared != 29 {
		t.Fatalf("%d notes share the second of the previous one, want 29", shared)
	}
	for _, i := range []int{10, 30, 100, 200} {
		if !a[i].CreatedAt.Equal(a[i-1].CreatedAt) {
			t.Fatalf("notes %d and %d do not share a second", i-1, i)
		}
	}
	if !a[99].CreatedAt.Equal(a[101].CreatedAt) {
		t.Fatal("no triple at 99-101")
	}
	// The patients are the generated documents' patients.
	docPatients := map[string]bool{}
	for _, e := range New(Options{Seed: 42, Documents: 40}).Expected() {
		docPatients[e.Patient.UUID+e.Patient.FirstName+e.Patient.LastName] = true
	}
	for _, n := range a {
		if !docPatients[n.Patient.UUID+n.Patient.FirstName+n.Patient.LastName] || n.Content == "" || n.Type == "" {
			t.Fatalf("note %+v", n)
		}
		if n.CreatedAt.Nanosecond() != 0 || n.UpdatedAt.Before(n.CreatedAt) {
			t.Fatalf("note times %v %v", n.CreatedAt, n.UpdatedAt)
		}
	}
}

func TestNotesPagingCoversEveryNoteOnce(t *testing.T) {
	for _, format := range []string{FormatHydra, FormatMember, FormatArray} {
		t.Run(format, func(t *testing.T) {
			s := New(Options{Seed: 3, Notes: 250, Format: format})
			c := start(t, s)
			want := s.Notes()
			for _, perPage := range []int{1, 7, 30, 100} {
				got, sizes := c.listNotesAll(format, "order%5BcreatedAt%5D=asc", perPage)
				if !slices.Equal(uuidsOf(got), uuidsOf(want)) {
					t.Fatalf("perPage %d: listed %d notes, not every note once in order", perPage, len(got))
				}
				if !sortedAsc(got) {
					t.Fatalf("perPage %d: not by createdAt then uuid", perPage)
				}
				if perPage == 30 && (sizes[0] != 30 || !got[29].CreatedAt.Equal(got[30].CreatedAt)) {
					t.Fatal("equal seconds do not straddle the first page boundary")
				}
				// The default order is the same.
				if d, _ := c.listNotesAll(format, "", perPage); !slices.Equal(uuidsOf(d), uuidsOf(want)) {
					t.Fatalf("perPage %d: default order differs", perPage)
				}
			}
			// Descending: createdAt descending, equal seconds still by uuid.
			got, _ := c.listNotesAll(format, "order%5BcreatedAt%5D=desc", 30)
			if len(got) != len(want) {
				t.Fatalf("desc listed %d", len(got))
			}
			for i := 1; i < len(got); i++ {
				c := got[i-1].CreatedAt.Compare(got[i].CreatedAt)
				if c < 0 || c == 0 && got[i-1].UUID > got[i].UUID {
					t.Fatalf("desc order broken at %d", i)
				}
			}
			// A note added while paging is appended: no page shifts.
			first, _ := c.listNotesAll(format, "", 100)
			s.AddNote(Note{Content: "late", CreatedAt: want[len(want)-1].CreatedAt.Add(time.Hour)})
			after, _ := c.listNotesAll(format, "", 100)
			if !slices.Equal(uuidsOf(after[:len(first)]), uuidsOf(first)) || after[len(after)-1].Content != "late" {
				t.Fatal("an added note is not listed last")
			}
		})
	}
}

func TestNotesCollectionShape(t *testing.T) {
	s := New(Options{Seed: 5, Notes: 45})
	c := start(t, s)
	resp, b := c.do("GET", "/notes?itemsPerPage=20&page=2", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/ld+json") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var m struct {
		Context string                       `json:"@context"`
		ID      string                       `json:"@id"`
		Total   int                          `json:"hydra:totalItems"`
		Member  []map[string]json.RawMessage `json:"hydra:member"`
		View    map[string]string            `json:"hydra:view"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Context != "/contexts/Note" || m.ID != "/notes" || m.Total != 45 || len(m.Member) != 20 ||
		m.View["hydra:next"] != "/notes?itemsPerPage=20&page=3" || m.View["hydra:previous"] != "/notes?itemsPerPage=20&page=1" ||
		m.View["hydra:last"] != "/notes?itemsPerPage=20&page=3" {
		t.Fatalf("collection %s", b)
	}
	it := m.Member[0]
	for _, k := range []string{"@id", "@type", "uuid", "type", "content", "createdAt", "updatedAt", "patient"} {
		if _, ok := it[k]; !ok {
			t.Fatalf("item lacks %s: %v", k, it)
		}
	}
	if !strings.HasSuffix(string(it["createdAt"]), `+00:00"`) {
		t.Fatalf("createdAt %s", it["createdAt"])
	}
	// itemsPerPage over 100 and a bad page are 400, as for documents.
	for _, q := range []string{"itemsPerPage=101", "itemsPerPage=x", "page=0"} {
		if resp, b := c.do("GET", "/notes?"+q, ""); resp.StatusCode != 400 || !strings.Contains(string(b), `"status":400`) {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, b)
		}
	}
	// itemsPerPage=0: an empty page with the total.
	_, b = c.do("GET", "/notes?itemsPerPage=0", "")
	if p := decodeNotePage(t, FormatHydra, b); len(p.items) != 0 || p.total != 45 {
		t.Fatalf("itemsPerPage=0: %s", b)
	}
	// Only GET.
	if resp, _ := c.do("POST", "/notes", "{}"); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("POST /notes: %d", resp.StatusCode)
	}
	st := s.Stats()
	if st.Endpoints[EndpointNotes] != 5 || st.Endpoints["POST /notes"] != 1 {
		t.Fatalf("endpoints %v", st.Endpoints)
	}
}

func TestNotesFilters(t *testing.T) {
	s := New(Options{Seed: 9, Notes: 120, Format: FormatArray})
	c := start(t, s)
	all := s.Notes()
	list := func(q url.Values) []Note {
		t.Helper()
		q.Set("itemsPerPage", "100")
		got, _ := c.listNotesAll(FormatArray, q.Encode(), 100)
		return got
	}
	since := func(i int) []string { // every note from all[i] on
		return uuidsOf(all[i:])
	}
	// Note 50 shares its second with 49 and 51: after is inclusive and
	// takes the whole second.
	t50 := all[50].CreatedAt
	for _, v := range []string{
		t50.Format(time.RFC3339),                                     // Z
		t50.Format("2006-01-02T15:04:05-07:00"),                      // +00:00, encoded
		t50.In(time.FixedZone("", 2*3600)).Format(time.RFC3339),      // another offset
		t50.Format("2006-01-02T15:04:05"),                            // no zone: UTC
		t50.Add(-time.Second / 2).Format(time.RFC3339Nano),           // fractions
		t50.In(time.FixedZone("", -5*3600)).Format(time.RFC3339Nano), // negative offset
	} {
		if got := list(url.Values{"createdAt[after]": {v}}); !slices.Equal(uuidsOf(got), since(49)) {
			t.Fatalf("after=%s: %d notes, want %d", v, len(got), len(all)-49)
		}
	}
	if got := list(url.Values{"createdAt[strictly_after]": {t50.Format(time.RFC3339)}}); !slices.Equal(uuidsOf(got), since(52)) {
		t.Fatalf("strictly_after: %d notes", len(got))
	}
	if got := list(url.Values{"createdAt[before]": {t50.Format(time.RFC3339)}}); !slices.Equal(uuidsOf(got), uuidsOf(all[:52])) {
		t.Fatalf("before: %d notes", len(got))
	}
	// A date: midnight UTC.
	day := all[len(all)-1].CreatedAt.Truncate(24 * time.Hour)
	want := 0
	for _, n := range all {
		if !n.CreatedAt.Before(day) {
			want++
		}
	}
	if got := list(url.Values{"createdAt[after]": {day.Format(time.DateOnly)}}); len(got) != want || want == 0 {
		t.Fatalf("after a date: %d, want %d", len(got), want)
	}
	// An unparseable value, or a "+" sent unencoded (a space on arrival), is ignored.
	for _, raw := range []string{"createdAt%5Bafter%5D=yesterday", "createdAt%5Bafter%5D=" + t50.Format("2006-01-02T15:04:05-07:00")} {
		got, _ := c.listNotesAll(FormatArray, raw, 100)
		if len(got) != len(all) {
			t.Fatalf("%s: %d notes, want all %d", raw, len(got), len(all))
		}
	}
	// Patient, as a uuid or an IRI; with after and desc together.
	p := all[60].Patient.UUID
	var mineNotes []Note
	for _, n := range all {
		if n.Patient.UUID == p && !n.CreatedAt.Before(t50) {
			mineNotes = append(mineNotes, n)
		}
	}
	slices.SortStableFunc(mineNotes, func(a, b Note) int { return b.CreatedAt.Compare(a.CreatedAt) }) // ties stay by uuid
	mine := uuidsOf(mineNotes)
	for _, pv := range []string{p, "/patients/" + p} {
		got := list(url.Values{"patient": {pv}, "createdAt[after]": {t50.Format(time.RFC3339)}, "order[createdAt]": {"desc"}})
		if len(got) == 0 || !slices.Equal(uuidsOf(got), mine) {
			t.Fatalf("patient=%s: %v, want %v", pv, uuidsOf(got), mine)
		}
	}
	if got := list(url.Values{"patient": {"nobody"}}); len(got) != 0 {
		t.Fatalf("unknown patient: %d notes", len(got))
	}
}

func TestNoteGet(t *testing.T) {
	for _, format := range []string{FormatHydra, FormatArray} {
		s := New(Options{Seed: 2, Notes: 3, Format: format})
		c := start(t, s)
		n := s.Notes()[1]
		resp, b := c.do("GET", "/notes/"+n.UUID, "")
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		got := decodeWireNote(t, b)
		if got.UUID != n.UUID || got.Content != n.Content || !got.CreatedAt.Equal(n.CreatedAt) || got.Patient.LastName != n.Patient.LastName {
			t.Fatalf("got %+v, want %+v", got, n)
		}
		if hasCtx := strings.Contains(string(b), `"@context":"\/contexts\/Note"`); hasCtx != (format == FormatHydra) {
			t.Fatalf("%s: @context: %s", format, b)
		}
		resp, b = c.do("GET", "/notes/no-such-note", "")
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") ||
			!strings.Contains(string(b), `"status":404`) {
			t.Fatalf("unknown note: %d %s", resp.StatusCode, b)
		}
		if s.Stats().Endpoints[EndpointNote] != 2 {
			t.Fatalf("endpoints %v", s.Stats().Endpoints)
		}
	}
}

func TestNotesScope(t *testing.T) {
	s, c, _ := oauthClient(t, Options{AutoApprove: true, Notes: 5})
	tokenFor := func(scope string) string {
		verifier, challenge := pkcePair(t)
		u := strings.Replace(authorizeURL(challenge, testCB, "s"), "scope=profile+organization", "scope="+url.QueryEscape(scope), 1)
		resp, b := c.do("GET", u, "")
		code := redirected(t, resp, b, testCB).Get("code")
		at, _ := wantTokens(t, token(t, c, formCT, codeGrant(code, verifier, testCB)))
		return at
	}
	note := s.Notes()[0].UUID
	without := tokenFor("profile organization read:documents")
	for _, p := range []string{"/notes", "/notes/" + note} {
		resp, b := apiStatus(c, p, without)
		if resp.StatusCode != 403 || !strings.Contains(string(b), `lacks the \"read:notes\" scope`) ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") ||
			resp.Header.Get("x-ratelimit-remaining") == "" {
			t.Fatalf("%s without read:notes: %d %s", p, resp.StatusCode, b)
		}
	}
	if resp, _ := apiStatus(c, "/documents", without); resp.StatusCode != 200 {
		t.Fatalf("documents: %d", resp.StatusCode)
	}
	with := tokenFor("profile read:notes organization")
	for _, p := range []string{"/notes", "/notes/" + note} {
		if resp, b := apiStatus(c, p, with); resp.StatusCode != 200 {
			t.Fatalf("%s with read:notes: %d %s", p, resp.StatusCode, b)
		}
	}
	// A scope is a whole word.
	if resp, _ := apiStatus(c, "/notes", tokenFor("read:notes:all")); resp.StatusCode != 403 {
		t.Fatalf("read:notes:all: %d", resp.StatusCode)
	}
	// Authentication comes first.
	if resp, _ := apiStatus(c, "/notes", "made-up"); resp.StatusCode != 401 {
		t.Fatalf("made-up token: %d", resp.StatusCode)
	}
}

func TestNotesRateLimitAndFaults(t *testing.T) {
	s := New(Options{Seed: 1, Notes: 3, RateLimit: 2})
	c := start(t, s)
	for i, want := range []int{200, 200, 429} {
		if resp, _ := c.do("GET", "/notes", ""); resp.StatusCode != want {
			t.Fatalf("call %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	s2 := New(Options{Seed: 1, Notes: 3})
	c2 := start(t, s2)
	s2.QueueAPIFaults(Fault500)
	if resp, _ := c2.do("GET", "/notes", ""); resp.StatusCode != 500 {
		t.Fatalf("queued fault: %d", resp.StatusCode)
	}
	c2.token = ""
	if resp, _ := c2.do("GET", "/notes", ""); resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
}

func TestAddNoteListedAndUpdateNote(t *testing.T) {
	rc := newReceiver(t, nil)
	clock := newFakeClock()
	s := New(Options{Seed: 1, Notes: 2, Now: clock.Now, WebhookRetryScale: 0.01})
	c := start(t, s)
	c.register(rc.URL, EventNewNote)
	clock.Advance(500 * time.Millisecond)
	n := s.AddNote(Note{Content: "Patient presents with a cough.", Patient: s.Notes()[0].Patient})
	if n.CreatedAt.Nanosecond() != 0 {
		t.Fatalf("createdAt not whole seconds: %v", n.CreatedAt)
	}
	if !s.WaitDeliveries(1, 5*time.Second) {
		t.Fatal("new_note not delivered")
	}
	resp, b := c.do("GET", "/notes/"+n.UUID, "")
	if resp.StatusCode != 200 || decodeWireNote(t, b).Content != n.Content {
		t.Fatalf("added note: %d %s", resp.StatusCode, b)
	}
	got, _ := c.listNotesAll(FormatHydra, "", 100)
	if len(got) != 3 || got[2].UUID != n.UUID {
		t.Fatalf("listed %v", uuidsOf(got))
	}
	// Listed by patient too.
	_, b = c.do("GET", "/notes?patient="+n.Patient.UUID, "")
	if !strings.Contains(string(b), n.UUID) {
		t.Fatal("not listed by patient")
	}

	// UpdateNote: content and updatedAt change, createdAt does not, no webhook.
	if !s.UpdateNote(n.UUID, "Revised: cough resolved.") {
		t.Fatal("UpdateNote")
	}
	_, b = c.do("GET", "/notes/"+n.UUID, "")
	u := decodeWireNote(t, b)
	if u.Content != "Revised: cough resolved." || !u.CreatedAt.Equal(n.CreatedAt) || !u.UpdatedAt.After(n.UpdatedAt) {
		t.Fatalf("updated %+v (was %+v)", u, n)
	}
	clock.Advance(10 * time.Second)
	s.UpdateNote(n.UUID, "Third version.")
	_, b = c.do("GET", "/notes/"+n.UUID, "")
	if v := decodeWireNote(t, b); !v.UpdatedAt.Equal(clock.Now().Truncate(time.Second)) {
		t.Fatalf("updatedAt %v, want %v", v.UpdatedAt, clock.Now())
	}
	if s.UpdateNote("nope", "x") {
		t.Fatal("UpdateNote of an unknown note")
	}
	s.WaitWebhooksIdle(5 * time.Second)
	if ds := s.Deliveries(); len(ds) != 1 || ds[0].Resource != n.UUID || ds[0].Event != EventNewNote {
		t.Fatalf("deliveries %s", briefs(ds))
	}

	// AddNote with a taken uuid replaces the stored note.
	s.AddNote(Note{UUID: n.UUID, Content: "replaced", CreatedAt: n.CreatedAt})
	if got, _ := c.listNotesAll(FormatHydra, "", 100); len(got) != 3 || got[2].Content != "replaced" {
		t.Fatalf("after re-adding: %d notes", len(got))
	}
}

func TestNotesValidate(t *testing.T) {
	if err := (Options{Notes: -1}).Validate(); err == nil {
		t.Fatal("negative Notes accepted")
	}
}
