package sim

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Wire shapes. Items in the JSON-LD formats (hydra, member) carry @id and
// @type, and so do their embedded patients, as API Platform sends them.
type wirePatient struct {
	LDID   string `json:"@id,omitempty"`
	LDType string `json:"@type,omitempty"`
	clinicsync.Patient
}

type wireDoc struct {
	LDContext string          `json:"@context,omitempty"`
	LDID      string          `json:"@id,omitempty"`
	LDType    string          `json:"@type,omitempty"`
	UUID      string          `json:"uuid"`
	Type      string          `json:"type,omitempty"`
	State     string          `json:"state,omitempty"`
	Patient   wirePatient     `json:"patient"`
	PDF       *clinicsync.PDF `json:"pdf,omitempty"`
	CreatedAt string          `json:"createdAt,omitempty"`
	UpdatedAt string          `json:"updatedAt,omitempty"`
}

type hydraView struct {
	ID       string `json:"@id"`
	Type     string `json:"@type"`
	First    string `json:"hydra:first,omitempty"`
	Last     string `json:"hydra:last,omitempty"`
	Previous string `json:"hydra:previous,omitempty"`
	Next     string `json:"hydra:next,omitempty"`
}

type hydraCollection struct {
	Context    string    `json:"@context"`
	ID         string    `json:"@id"`
	Type       string    `json:"@type"`
	Member     []wireDoc `json:"hydra:member"`
	TotalItems int       `json:"hydra:totalItems"`
	View       hydraView `json:"hydra:view"`
}

type memberView struct {
	ID       string `json:"@id"`
	Type     string `json:"@type"`
	First    string `json:"first,omitempty"`
	Last     string `json:"last,omitempty"`
	Previous string `json:"previous,omitempty"`
	Next     string `json:"next,omitempty"`
}

type memberCollection struct {
	Context    string     `json:"@context"`
	ID         string     `json:"@id"`
	Type       string     `json:"@type"`
	Member     []wireDoc  `json:"member"`
	TotalItems int        `json:"totalItems"`
	View       memberView `json:"view"`
}

func (s *Server) contentType() string {
	if s.o.Format == FormatArray {
		return "application/json; charset=utf-8"
	}
	return "application/ld+json; charset=utf-8"
}

// wireLocked renders one document with a fresh link. s.mu must be held.
func (s *Server) wireLocked(d *doc, base string, now time.Time, item bool) wireDoc {
	w := wireDoc{
		UUID:      d.d.UUID,
		Type:      d.d.Type,
		State:     d.d.State,
		Patient:   wirePatient{Patient: d.d.Patient},
		CreatedAt: d.created.Format("2006-01-02T15:04:05-07:00"),
		UpdatedAt: d.updated.Format("2006-01-02T15:04:05-07:00"),
	}
	if s.o.Format != FormatArray {
		if item {
			w.LDContext = "/contexts/Document"
		}
		w.LDID = "/documents/" + url.PathEscape(d.d.UUID)
		w.LDType = "Document"
		w.Patient.LDID = "/patients/" + url.PathEscape(d.d.Patient.UUID)
		w.Patient.LDType = "Patient"
	}
	switch d.content.Kind {
	case ContentNoPDF:
	case ContentNoURL:
		w.PDF = &clinicsync.PDF{FileName: d.d.PDF.FileName}
	default:
		w.PDF = &clinicsync.PDF{URL: s.linkLocked(d, base, now), FileName: d.d.PDF.FileName}
	}
	return w
}

// route maps a request to an endpoint key and the document (or webhook)
// uuid in it. allowed lists the methods the path takes, comma-separated
// ("" if the path is unknown).
func route(method, path string) (key, uuid, allowed string) {
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var pattern string
	switch {
	case len(seg) == 1 && seg[0] == "documents":
		pattern, allowed = "/documents", http.MethodGet
	case len(seg) == 2 && seg[0] == "documents" && seg[1] != "":
		pattern, allowed = "/documents/{uuid}", http.MethodGet
	case len(seg) == 3 && seg[0] == "documents" && seg[1] != "" && seg[2] == "status":
		pattern, allowed = "/documents/{uuid}/status", http.MethodPost
	case len(seg) == 1 && seg[0] == "notes":
		pattern, allowed = "/notes", http.MethodGet
	case len(seg) == 2 && seg[0] == "notes" && seg[1] != "":
		pattern, allowed = "/notes/{uuid}", http.MethodGet
	case len(seg) == 1 && seg[0] == "webhooks":
		pattern, allowed = "/webhooks", "GET, POST"
	case len(seg) == 2 && seg[0] == "webhooks" && seg[1] != "":
		pattern, allowed = "/webhooks/{uuid}", "GET, PATCH, DELETE"
	default:
		return EndpointOther, "", ""
	}
	if len(seg) > 1 {
		var err error
		if uuid, err = url.PathUnescape(seg[1]); err != nil {
			return EndpointOther, "", ""
		}
	}
	return method + " " + pattern, uuid, allowed
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, path string) {
	key, uuid, allowed := route(r.Method, path)
	s.mu.Lock()
	s.stats.APIRequests++
	s.stats.Endpoints[key]++
	s.mu.Unlock()

	if !s.sleep(r.Context(), s.o.Latency) {
		s.dropUnlessGone(w, r)
		return
	}
	if f := s.pickFault(false); f != FaultNone {
		s.injectFault(w, r, f, false)
		return
	}
	if ok, desc := s.authorized(r); !ok {
		s.rateHeaders(w, false)
		h := `Bearer error="invalid_token"`
		if desc != "" {
			h += `, error_description="` + desc + `"`
		}
		w.Header().Set("WWW-Authenticate", h)
		s.count(func(st *Stats) { st.Unauthorized++ })
		writeProblem(w, http.StatusUnauthorized, "Invalid or missing bearer token.")
		return
	}
	if !s.rateHeaders(w, true) {
		s.count(func(st *Stats) { st.RateLimited++ })
		writeProblem(w, http.StatusTooManyRequests, "Rate limit exceeded. Wait for the next refill (x-ratelimit-reset).")
		return
	}
	switch {
	case path == "/me": // Askara serves /me whatever the sign-in
		s.serveMe(w, r)
	case allowed == "":
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("No route found for %q.", r.Method+" "+path))
	case !methodAllowed(allowed, r.Method):
		w.Header().Set("Allow", allowed)
		writeProblem(w, http.StatusMethodNotAllowed, fmt.Sprintf("No route found for %q: Method Not Allowed (Allow: %s).", r.Method+" "+path, allowed))
	case strings.HasSuffix(key, " /webhooks") || strings.HasSuffix(key, " /webhooks/{uuid}"):
		s.serveWebhooks(w, r, uuid)
	case key == EndpointNotes || key == EndpointNote:
		s.serveNotes(w, r, uuid) // notes.go
	case uuid == "":
		s.listDocuments(w, r)
	case r.Method == http.MethodGet:
		s.getDocument(w, r, uuid)
	default:
		s.postStatus(w, r, uuid)
	}
}

// methodAllowed reports whether method is in the comma-separated allowed.
func methodAllowed(allowed, method string) bool {
	for m := range strings.SplitSeq(allowed, ",") {
		if strings.TrimSpace(m) == method {
			return true
		}
	}
	return false
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// authorized checks the bearer token; when it is refused under
// Options.OAuth, desc is the WWW-Authenticate error_description.
func (s *Server) authorized(r *http.Request) (ok bool, desc string) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false, ""
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return false, ""
	}
	if s.o.OAuth {
		return s.checkAccessToken(tok)
	}
	s.mu.Lock()
	want := s.token
	s.mu.Unlock()
	return want == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(want)) == 1, ""
}

// rateHeaders sets the x-ratelimit-* headers, taking a token first when
// consume is set. It reports false (and sets Retry-After) when the bucket
// is empty.
func (s *Server) rateHeaders(w http.ResponseWriter, consume bool) bool {
	if s.o.RateLimit < 0 {
		return true
	}
	now := s.o.Now()
	s.mu.Lock()
	ok := true
	if consume {
		ok = s.bucket.take(now)
	} else {
		s.bucket.advance(now)
	}
	remaining, reset := s.bucket.tokens, s.bucket.reset()
	s.mu.Unlock()
	h := w.Header()
	h.Set("x-ratelimit-limit", strconv.Itoa(s.o.RateLimit))
	h.Set("x-ratelimit-remaining", strconv.Itoa(remaining))
	h.Set("x-ratelimit-reset", strconv.FormatInt(reset.Unix(), 10))
	if !ok && !s.o.OmitRetryAfter {
		secs := int64(math.Ceil(reset.Sub(now).Seconds()))
		h.Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
	return ok
}

func (s *Server) base(r *http.Request) string {
	s.mu.Lock()
	b := s.baseURL
	s.mu.Unlock()
	if b == "" {
		b = requestBase(r)
	}
	return b
}

// pageParams reads page and itemsPerPage as API Platform does, answering
// a 400 problem (and ok false) for values it refuses.
func (s *Server) pageParams(w http.ResponseWriter, q url.Values) (page, perPage int, ok bool) {
	page = 1
	if v := q.Get("page"); v != "" || q.Has("page") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeProblem(w, http.StatusBadRequest, "Page should not be less than 1.")
			return 0, 0, false
		}
		page = n
	}
	perPage = s.o.DefaultPageSize
	if q.Has("itemsPerPage") {
		n, err := strconv.Atoi(q.Get("itemsPerPage"))
		if err != nil || n < 0 {
			writeProblem(w, http.StatusBadRequest, "Item per page parameter should not be less than 0.")
			return 0, 0, false
		}
		if n > maxPageSize {
			writeProblem(w, http.StatusBadRequest, fmt.Sprintf("Item per page parameter should not be greater than %d.", maxPageSize))
			return 0, 0, false
		}
		perPage = n
	}
	return page, perPage, true
}

func (s *Server) listDocuments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, perPage, ok := s.pageParams(w, q)
	if !ok {
		return
	}
	var filter *bool
	switch q.Get("synchronized") {
	case "true", "1":
		t := true
		filter = &t
	case "false", "0":
		f := false
		filter = &f
	} // anything else is ignored, as API Platform's BooleanFilter does
	desc := strings.EqualFold(q.Get("order[createdAt]"), "desc")

	base := s.base(r)
	now := s.o.Now()
	s.mu.Lock()
	var match []*doc
	for _, d := range s.docs {
		if filter == nil || d.synced == *filter {
			match = append(match, d)
		}
	}
	total := len(match)
	if desc {
		for i, j := 0, len(match)-1; i < j; i, j = i+1, j-1 {
			match[i], match[j] = match[j], match[i]
		}
	}
	members := []wireDoc{}
	if perPage > 0 && page-1 < (total+perPage-1)/perPage {
		from := (page - 1) * perPage
		for _, d := range match[from:min(from+perPage, total)] {
			members = append(members, s.wireLocked(d, base, now, false))
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
	iri := func(p int) string { return pageIRI(r.URL.RawQuery, p) }
	var first, lastIRI, prev, next string
	first, lastIRI = iri(1), iri(last)
	if page > 1 {
		prev = iri(page - 1)
	}
	if page < last {
		next = iri(page + 1)
	}
	self := iri(page)
	if s.o.Format == FormatMember {
		writeJSON(w, http.StatusOK, s.contentType(), memberCollection{
			Context: "/contexts/Document", ID: "/documents", Type: "Collection",
			Member: members, TotalItems: total,
			View: memberView{ID: self, Type: "PartialCollectionView", First: first, Last: lastIRI, Previous: prev, Next: next},
		})
		return
	}
	writeJSON(w, http.StatusOK, s.contentType(), hydraCollection{
		Context: "/contexts/Document", ID: "/documents", Type: "hydra:Collection",
		Member: members, TotalItems: total,
		View: hydraView{ID: self, Type: "hydra:PartialCollectionView", First: first, Last: lastIRI, Previous: prev, Next: next},
	})
}

// pageIRI is the relative IRI of page p: the request's own query, in its
// own order and encoding, with page= replaced (appended last).
func pageIRI(rawQuery string, p int) string {
	var parts []string
	for _, kv := range strings.Split(rawQuery, "&") {
		if kv == "" {
			continue
		}
		k, _, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == "page" {
			continue
		}
		parts = append(parts, kv)
	}
	parts = append(parts, "page="+strconv.Itoa(p))
	return "/documents?" + strings.Join(parts, "&")
}

func (s *Server) getDocument(w http.ResponseWriter, r *http.Request, uuid string) {
	base := s.base(r)
	now := s.o.Now()
	s.mu.Lock()
	d := s.byUUID[uuid]
	var wd wireDoc
	if d != nil {
		wd = s.wireLocked(d, base, now, true)
	}
	s.mu.Unlock()
	if d == nil {
		writeProblem(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.contentType(), wd)
}

const maxStatusBody = 64 << 10

func (s *Server) postStatus(w http.ResponseWriter, r *http.Request, uuid string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxStatusBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeProblem(w, http.StatusRequestEntityTooLarge, "The request body is too large.")
		} else {
			writeProblem(w, http.StatusBadRequest, "The request body could not be read.")
		}
		return
	}
	call := StatusCall{UUID: uuid, Raw: body, Time: s.o.Now()}
	code, detail := http.StatusOK, ""
	s.mu.Lock()
	exists := s.byUUID[uuid] != nil
	s.mu.Unlock()
	if !exists {
		code, detail = http.StatusNotFound, "Not Found"
	} else {
		code, detail = decodeStatus(r.Header.Get("Content-Type"), body, &call.Status)
	}
	call.Code = code
	s.mu.Lock()
	d := s.byUUID[uuid]
	if code == http.StatusOK && call.Status.Success {
		d.synced = true
	}
	if code == http.StatusOK {
		s.touchLocked(d) // the outcome is recorded on the document
	}
	synced := d != nil && d.synced
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if code != http.StatusOK {
		writeProblem(w, code, detail)
		return
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"uuid": uuid, "success": call.Status.Success, "synchronized": synced,
	})
}

// decodeStatus validates a status body as API Platform's denormalizer
// would: JSON content type, a JSON object, "success" present and boolean,
// the other fields strings when present.
func decodeStatus(contentType string, body []byte, st *clinicsync.Status) (int, string) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/json" && mt != "application/ld+json" {
		return http.StatusUnsupportedMediaType, fmt.Sprintf(`The content-type %q is not supported. Supported MIME types are "application/ld+json", "application/json".`, contentType)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return http.StatusBadRequest, "Syntax error: the body is not a JSON object."
	}
	raw, ok := m["success"]
	if !ok || string(raw) == "null" {
		return http.StatusBadRequest, "success: This value should not be null."
	}
	if err := json.Unmarshal(raw, &st.Success); err != nil {
		return http.StatusBadRequest, fmt.Sprintf(`The type of the "success" attribute must be "bool", "%s" given.`, jsonType(raw))
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"directory", &st.Directory}, {"path", &st.Path}, {"error", &st.Error}} {
		raw, ok := m[f.name]
		if !ok || string(raw) == "null" {
			continue
		}
		if err := json.Unmarshal(raw, f.dst); err != nil {
			return http.StatusBadRequest, fmt.Sprintf(`The type of the "%s" attribute must be "string", "%s" given.`, f.name, jsonType(raw))
		}
	}
	return http.StatusOK, ""
}

func jsonType(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "array" // PHP's name for an object
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	if strings.ContainsAny(string(raw), ".eE") {
		return "float"
	}
	return "int"
}
