package sim

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Clinical notes: GET /notes and GET /notes/{uuid}.
//
//	GET /notes?createdAt[after]=…&order[createdAt]=asc|desc&patient=…&page=N&itemsPerPage=M
//	GET /notes/{uuid}
//
// Notes come from Options.Notes (generated at New), AddNote and
// UpdateNote. Choices where askara-api.md is silent:
//
//   - Scope: under Options.OAuth a token whose grant lacks "read:notes" gets
//     403 problem JSON ("… lacks the "read:notes" scope …"); the documents
//     endpoints do not check scopes. Without OAuth any accepted token reads
//     notes. Bearer authentication, the rate limit (a 403 costs a token, as
//     it happens after the bucket) and injected faults are those of every
//     API call.
//   - createdAt[after] and createdAt[before] are inclusive (>=, <=),
//     createdAt[strictly_after] and createdAt[strictly_before] are not, as
//     API Platform's DateFilter does. A value is a date (2026-02-17,
//     midnight UTC), an RFC 3339 date-time (2026-02-17T10:30:00Z,
//     …+02:00, fractions allowed) or a date-time without zone (UTC). A
//     value that does not parse is ignored (the filter is not applied), as
//     API Platform does; so is a "+" sent unencoded, which arrives as a
//     space. Timestamps have whole seconds (stored truncated), like a
//     DATETIME column.
//   - Order: createdAt ascending by default and for order[createdAt]=asc,
//     descending for desc; notes with the same createdAt second are always
//     ordered by uuid ascending, so paging is stable.
//   - patient=<uuid> or the IRI /patients/<uuid>; patient[]= takes several.
//     audio= and other filters are ignored (the simulator has no audio).
//   - Collection shapes, page, itemsPerPage (0..100, else 400; no silent
//     cap, as GET /documents) and paging IRIs are those of GET /documents.
//   - Items: uuid, type, content, createdAt, updatedAt (+00:00 offsets as
//     stored), patient {uuid, firstName, lastName}; the JSON-LD formats add
//     @id /notes/{uuid} and @type Note (and @id/@type on the patient); a
//     single note adds @context /contexts/Note. An unknown uuid is 404
//     problem JSON.
//   - Generated notes (Options.Notes) are deterministic from Seed, over the
//     patients of the generated documents (the same Seed and Patients give
//     the same people), a few minutes apart; note i shares the createdAt
//     second of note i-1 when i is a multiple of 10 or i-1 is a multiple
//     of 50 (about 12% of notes; triples at 49-51, 99-101, …), so equal
//     seconds straddle page boundaries for page sizes that are multiples
//     of 10.
//   - UpdateNote changes content and updatedAt and sends no webhook:
//     Askara documents only new_note, no event for an edited note.

// Endpoint keys of Stats.Endpoints for notes.
const (
	EndpointNotes = "GET /notes"
	EndpointNote  = "GET /notes/{uuid}"
)

// ScopeReadNotes is the OAuth scope the notes endpoints require.
const ScopeReadNotes = "read:notes"

// noteStore holds the notes (s.mu guards it).
type noteStore struct {
	list   []*Note
	byUUID map[string]*Note
}

// storeNoteLocked keeps n (defaults already filled in); a note whose uuid
// is taken replaces it. Times are kept to the second.
func (s *Server) storeNoteLocked(n Note) {
	n.CreatedAt = n.CreatedAt.Truncate(time.Second)
	n.UpdatedAt = n.UpdatedAt.Truncate(time.Second)
	if s.notes.byUUID == nil {
		s.notes.byUUID = make(map[string]*Note)
	}
	if old := s.notes.byUUID[n.UUID]; old != nil {
		*old = n
		return
	}
	p := &n
	s.notes.list = append(s.notes.list, p)
	s.notes.byUUID[n.UUID] = p
}

// Notes returns every note in the default list order (createdAt, then
// uuid, ascending).
func (s *Server) Notes() []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Note, 0, len(s.notes.list))
	for _, n := range s.sortedNotesLocked(false) {
		out = append(out, *n)
	}
	return out
}

// UpdateNote replaces a note's content and moves its updatedAt to now (at
// least one second later than before). It reports whether the note
// exists. No webhook is sent: Askara documents only new_note.
func (s *Server) UpdateNote(uuid, content string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.notes.byUUID[uuid]
	if n == nil {
		return false
	}
	n.Content = content
	n.UpdatedAt = later(s.o.Now().Truncate(time.Second), n.UpdatedAt.Add(time.Second))
	return true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sortedNotesLocked is every note by createdAt (desc reverses it), equal
// seconds by uuid ascending.
func (s *Server) sortedNotesLocked(desc bool) []*Note {
	out := slices.Clone(s.notes.list)
	slices.SortFunc(out, func(a, b *Note) int {
		c := a.CreatedAt.Compare(b.CreatedAt)
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return strings.Compare(a.UUID, b.UUID)
	})
	return out
}

// ---- generation ----

const streamNotes = 0x5eed0300

var noteTypes = []string{"consultation_summary", "consultation_summary", "follow_up", "phone_consultation", "prescription_renewal"}

var noteComplaints = []string{
	"a persistent dry cough", "lower back pain", "headaches in the morning", "fatigue and poor sleep",
	"a sore throat and fever (38.4 °C)", "knee pain after a fall", "palpitations on exertion", "an itchy rash on both forearms",
}

var notePlans = []string{
	"Paracetamol 1 g up to 3×/day; review in 7 days.",
	"Blood tests (CBC, CRP, TSH) ordered; results to be discussed by phone.",
	"Referral to physiotherapy: 10 sessions.",
	"Reassurance given; return if symptoms worsen → urgent review.",
	"Ibuprofen 400 mg with food for 5 days; stop if stomach pain.",
	"ECG done today: sinus rhythm, 72/min. Holter ordered.",
}

// generateNotes makes n notes over the p patients of the generated
// documents.
func generateNotes(seed int64, n, p int) []Note {
	if n <= 0 {
		return nil
	}
	var patients []clinicsync.Patient
	for _, f := range generate(seed, p, p) { // the first p documents go to patients 0..p-1
		patients = append(patients, f.Doc.Patient)
	}
	r := newRNG(seed, streamNotes)
	out := make([]Note, n)
	t := genEpoch.Add(3*time.Minute + 17*time.Second)
	for i := range out {
		switch {
		case i == 0:
		case i%10 == 0, (i-1)%50 == 0:
			// Same second as the previous note (a triple when i-1 is a
			// multiple of 50 above 0, since i-1 shares i-2's).
		default:
			t = t.Add(time.Duration(2+r.IntN(8))*time.Minute + time.Duration(r.IntN(60))*time.Second)
		}
		pt := patients[r.IntN(len(patients))]
		content := fmt.Sprintf("%s %s, seen for %s since %d days.\nExamination: unremarkable apart from the above.\nPlan: %s",
			pt.FirstName, pt.LastName, noteComplaints[r.IntN(len(noteComplaints))], 1+r.IntN(14), notePlans[r.IntN(len(notePlans))])
		upd := t
		if r.IntN(5) == 0 {
			upd = t.Add(time.Duration(1+r.IntN(120)) * time.Minute)
		}
		out[i] = Note{
			UUID:      uuid4(r),
			Type:      noteTypes[r.IntN(len(noteTypes))],
			Content:   content,
			Patient:   clinicsync.Patient{UUID: pt.UUID, FirstName: pt.FirstName, LastName: pt.LastName},
			CreatedAt: t,
			UpdatedAt: upd,
		}
	}
	return out
}

// ---- wire ----

type wireNotePatient struct {
	LDID      string `json:"@id,omitempty"`
	LDType    string `json:"@type,omitempty"`
	UUID      string `json:"uuid"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
}

type wireNoteItem struct {
	LDContext string          `json:"@context,omitempty"`
	LDID      string          `json:"@id,omitempty"`
	LDType    string          `json:"@type,omitempty"`
	UUID      string          `json:"uuid"`
	Type      string          `json:"type,omitempty"`
	Content   string          `json:"content"`
	CreatedAt string          `json:"createdAt"`
	UpdatedAt string          `json:"updatedAt"`
	Patient   wireNotePatient `json:"patient"`
}

type noteHydraCollection struct {
	Context    string         `json:"@context"`
	ID         string         `json:"@id"`
	Type       string         `json:"@type"`
	Member     []wireNoteItem `json:"hydra:member"`
	TotalItems int            `json:"hydra:totalItems"`
	View       hydraView      `json:"hydra:view"`
}

type noteMemberCollection struct {
	Context    string         `json:"@context"`
	ID         string         `json:"@id"`
	Type       string         `json:"@type"`
	Member     []wireNoteItem `json:"member"`
	TotalItems int            `json:"totalItems"`
	View       memberView     `json:"view"`
}

const noteTimeLayout = "2006-01-02T15:04:05-07:00"

func (s *Server) wireNote(n *Note, item bool) wireNoteItem {
	w := wireNoteItem{
		UUID: n.UUID, Type: n.Type, Content: n.Content,
		CreatedAt: n.CreatedAt.Format(noteTimeLayout), UpdatedAt: n.UpdatedAt.Format(noteTimeLayout),
		Patient: wireNotePatient{UUID: n.Patient.UUID, FirstName: n.Patient.FirstName, LastName: n.Patient.LastName},
	}
	if s.o.Format != FormatArray {
		if item {
			w.LDContext = "/contexts/Note"
		}
		w.LDID = "/notes/" + url.PathEscape(n.UUID)
		w.LDType = "Note"
		w.Patient.LDID = "/patients/" + url.PathEscape(n.Patient.UUID)
		w.Patient.LDType = "Patient"
	}
	return w
}

// ---- endpoints ----

// serveNotes answers GET /notes (uuid "") and GET /notes/{uuid}, after
// authentication and the rate limit.
func (s *Server) serveNotes(w http.ResponseWriter, r *http.Request, uuid string) {
	if !s.hasScope(r, ScopeReadNotes) {
		writeProblem(w, http.StatusForbidden, `Access Denied: the access token lacks the "`+ScopeReadNotes+`" scope.`)
		return
	}
	if uuid != "" {
		s.mu.Lock()
		var wn wireNoteItem
		n := s.notes.byUUID[uuid]
		if n != nil {
			wn = s.wireNote(n, true)
		}
		s.mu.Unlock()
		if n == nil {
			writeProblem(w, http.StatusNotFound, "Not Found")
			return
		}
		writeJSON(w, http.StatusOK, s.contentType(), wn)
		return
	}
	s.listNotes(w, r)
}

// hasScope reports whether the request's access token was granted scope
// (always true without Options.OAuth). The token was already checked.
func (s *Server) hasScope(r *http.Request, scope string) bool {
	if !s.o.OAuth {
		return true
	}
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.oauth.access[tok]
	return a != nil && slices.Contains(strings.Fields(a.fam.scope), scope)
}

// parseFilterDate reads a createdAt filter value as API Platform would.
func parseFilterDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, perPage, ok := s.pageParams(w, q)
	if !ok {
		return
	}
	type bound struct {
		t         time.Time
		after, eq bool // after: a lower bound; eq: inclusive
	}
	var bounds []bound
	for _, f := range []struct {
		key       string
		after, eq bool
	}{
		{"createdAt[after]", true, true}, {"createdAt[strictly_after]", true, false},
		{"createdAt[before]", false, true}, {"createdAt[strictly_before]", false, false},
	} {
		if t, ok := parseFilterDate(q.Get(f.key)); ok {
			bounds = append(bounds, bound{t, f.after, f.eq})
		}
	}
	var patients []string
	for _, v := range append(q["patient"], q["patient[]"]...) {
		if v = strings.TrimSpace(v); v != "" {
			patients = append(patients, path.Base(v)) // a uuid or /patients/{uuid}
		}
	}
	desc := strings.EqualFold(q.Get("order[createdAt]"), "desc")

	s.mu.Lock()
	var match []*Note
	for _, n := range s.sortedNotesLocked(desc) {
		ok := len(patients) == 0 || slices.Contains(patients, n.Patient.UUID)
		for _, b := range bounds {
			c := n.CreatedAt.Compare(b.t)
			if b.after {
				ok = ok && (c > 0 || b.eq && c == 0)
			} else {
				ok = ok && (c < 0 || b.eq && c == 0)
			}
		}
		if ok {
			match = append(match, n)
		}
	}
	total := len(match)
	members := []wireNoteItem{}
	if perPage > 0 && page-1 < (total+perPage-1)/perPage {
		from := (page - 1) * perPage
		for _, n := range match[from:min(from+perPage, total)] {
			members = append(members, s.wireNote(n, false))
		}
	}
	s.mu.Unlock()

	if s.o.Format == FormatArray {
		writeJSON(w, http.StatusOK, s.contentType(), members)
		return
	}
	last := 1
	if perPage > 0 && total > 0 {
		last = (total + perPage - 1) / perPage
	}
	iri := func(p int) string { return "/notes" + strings.TrimPrefix(pageIRI(r.URL.RawQuery, p), "/documents") }
	var prev, next string
	if page > 1 {
		prev = iri(page - 1)
	}
	if page < last {
		next = iri(page + 1)
	}
	if s.o.Format == FormatMember {
		writeJSON(w, http.StatusOK, s.contentType(), noteMemberCollection{
			Context: "/contexts/Note", ID: "/notes", Type: "Collection", Member: members, TotalItems: total,
			View: memberView{ID: iri(page), Type: "PartialCollectionView", First: iri(1), Last: iri(last), Previous: prev, Next: next},
		})
		return
	}
	writeJSON(w, http.StatusOK, s.contentType(), noteHydraCollection{
		Context: "/contexts/Note", ID: "/notes", Type: "hydra:Collection", Member: members, TotalItems: total,
		View: hydraView{ID: iri(page), Type: "hydra:PartialCollectionView", First: iri(1), Last: iri(last), Previous: prev, Next: next},
	})
}
