package sim

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

func TestDeterministic(t *testing.T) {
	a := New(Options{Documents: 40, Hostile: true, Seed: 7}).Expected()
	b := New(Options{Documents: 40, Hostile: true, Seed: 7}).Expected()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different documents")
	}
	c := New(Options{Documents: 40, Hostile: true, Seed: 8}).Expected()
	if a[0].UUID == c[0].UUID || a[0].SHA256 == c[0].SHA256 {
		t.Fatal("different seeds, same documents")
	}
	// Hostile fixtures do not move when Documents changes.
	d := New(Options{Documents: 3, Hostile: true, Seed: 7}).Expected()
	if a[len(a)-1].UUID != d[len(d)-1].UUID {
		t.Fatal("hostile UUIDs depend on Documents")
	}
	for _, e := range a {
		if len(e.UUID) != 36 || e.UUID[14] != '4' || !strings.ContainsRune("89ab", rune(e.UUID[19])) {
			t.Fatalf("UUID %q is not v4-shaped", e.UUID)
		}
	}
	// Generated documents: realistic, repeated file names within a patient.
	perPatient := map[string]map[string]int{}
	var apostrophe, accent, dated bool
	for _, e := range a[:40] {
		if e.Label != "" || !e.Land || e.Size < 1792 || e.Size > 2304 {
			t.Fatalf("generated document %+v", e)
		}
		if perPatient[e.Patient.UUID] == nil {
			perPatient[e.Patient.UUID] = map[string]int{}
		}
		perPatient[e.Patient.UUID][e.FileName]++
		n := e.Patient.FirstName + e.Patient.LastName
		apostrophe = apostrophe || strings.Contains(n, "'")
		accent = accent || strings.ContainsAny(n, "éëèïüñøÉ")
		dated = dated || strings.Contains(e.FileName, "_2026-")
	}
	repeated := false
	for _, names := range perPatient {
		for _, n := range names {
			repeated = repeated || n > 1
		}
	}
	if len(perPatient) != 10 || !repeated || !apostrophe || !accent || !dated {
		t.Fatalf("generated set lacks variety: %d patients, repeated %v, apostrophe %v, accent %v, dated %v",
			len(perPatient), repeated, apostrophe, accent, dated)
	}
}

func TestPagingCoversEveryDocumentOnce(t *testing.T) {
	for _, format := range []string{FormatHydra, FormatMember, FormatArray} {
		for _, perPage := range []int{100, 0, 7} {
			t.Run(format+"/"+strconv.Itoa(perPage), func(t *testing.T) {
				s := New(Options{Documents: 237, Hostile: true, Seed: 1, Format: format})
				c := start(t, s)
				query, size := "synchronized=false", 20 // default page size
				if perPage > 0 {
					query += "&itemsPerPage=" + strconv.Itoa(perPage)
					size = perPage
				}
				docs, _ := c.listAll(format, query, size)
				exp := s.Expected()
				if len(docs) != len(exp) {
					t.Fatalf("listed %d documents, want %d", len(docs), len(exp))
				}
				seen := map[string]bool{}
				for i, d := range docs {
					if seen[d.UUID] {
						t.Fatalf("%s listed twice", d.UUID)
					}
					seen[d.UUID] = true
					if d.UUID != exp[i].UUID { // creation order
						t.Fatalf("item %d is %s, want %s", i, d.UUID, exp[i].UUID)
					}
				}
				wantReq := (len(exp) + size - 1) / size
				if format == FormatArray && len(exp)%size == 0 {
					wantReq++
				}
				if got := s.Stats().Endpoints[EndpointList]; got != wantReq {
					t.Fatalf("%d list requests, want %d", got, wantReq)
				}
			})
		}
	}
}

func TestCollectionShape(t *testing.T) {
	s := New(Options{Documents: 5, Seed: 1})
	c := start(t, s)
	resp, b := c.do("GET", "/documents?synchronized=false&itemsPerPage=2&page=2", "")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/ld+json") {
		t.Fatalf("Content-Type %q", ct)
	}
	if !bytes.Contains(b, []byte(`"@id":"\/documents"`)) || !bytes.Contains(b, []byte(`"@type":"hydra:Collection"`)) {
		t.Fatalf("not PHP-escaped hydra: %s", b)
	}
	var col struct {
		Total int               `json:"hydra:totalItems"`
		View  map[string]string `json:"hydra:view"`
	}
	if err := json.Unmarshal(b, &col); err != nil {
		t.Fatal(err)
	}
	view := col.View
	want := map[string]string{
		"@id":            "/documents?synchronized=false&itemsPerPage=2&page=2",
		"@type":          "hydra:PartialCollectionView",
		"hydra:first":    "/documents?synchronized=false&itemsPerPage=2&page=1",
		"hydra:last":     "/documents?synchronized=false&itemsPerPage=2&page=3",
		"hydra:previous": "/documents?synchronized=false&itemsPerPage=2&page=1",
		"hydra:next":     "/documents?synchronized=false&itemsPerPage=2&page=3",
	}
	if col.Total != 5 || !reflect.DeepEqual(view, want) {
		t.Fatalf("total %d view %v", col.Total, view)
	}
	p := decodePage(t, FormatHydra, b)
	d, e := p.items[0], s.Expected()[2]
	if d.UUID != e.UUID || d.State != "verified" || d.Patient != e.Patient || d.PDF.FileName != e.FileName ||
		!strings.HasPrefix(d.PDF.URL, c.base+"/files/"+d.UUID+"/") || d.Type == "" {
		t.Fatalf("item %+v, expected %+v", d, e)
	}
	for _, k := range []string{"@id", "@type", "createdAt"} {
		if _, ok := p.raw[0][k]; !ok {
			t.Fatalf("item lacks %s", k)
		}
	}

	// The last page has no next.
	_, b = c.do("GET", "/documents?synchronized=false&itemsPerPage=2&page=3", "")
	if p := decodePage(t, FormatHydra, b); p.next != "" || len(p.items) != 1 {
		t.Fatalf("last page: next %q, %d items", p.next, len(p.items))
	}
	// itemsPerPage=0: no items, the total.
	_, b = c.do("GET", "/documents?itemsPerPage=0", "")
	if p := decodePage(t, FormatHydra, b); len(p.items) != 0 || p.total != 5 || p.next != "" {
		t.Fatalf("itemsPerPage=0: %+v", p)
	}
	// Beyond the last page: empty.
	_, b = c.do("GET", "/documents?page=99", "")
	if p := decodePage(t, FormatHydra, b); len(p.items) != 0 || p.total != 5 {
		t.Fatalf("page 99: %+v", p)
	}
	// Bad paging parameters.
	for _, q := range []string{"itemsPerPage=101", "itemsPerPage=-1", "itemsPerPage=abc", "itemsPerPage=", "page=0", "page=x"} {
		resp, b := c.do("GET", "/documents?"+q, "")
		var pr Problem
		if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/problem+json; charset=utf-8" ||
			json.Unmarshal(b, &pr) != nil || pr.Status != 400 || pr.Title == "" || pr.Detail == "" || pr.Type == "" {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, b)
		}
	}
	// Array format: plain JSON.
	sa := New(Options{Documents: 3, Seed: 1, Format: FormatArray})
	ca := start(t, sa)
	resp, b = ca.do("GET", "/documents", "")
	if resp.Header.Get("Content-Type") != "application/json; charset=utf-8" || b[0] != '[' || bytes.Contains(b, []byte("@id")) {
		t.Fatalf("array body: %s", b)
	}
}

func TestLiveFilter(t *testing.T) {
	s := New(Options{Documents: 30, Seed: 2})
	c := start(t, s)
	_, b := c.do("GET", "/documents?synchronized=false&itemsPerPage=10", "")
	p1 := decodePage(t, FormatHydra, b)
	for _, d := range p1.items {
		if code := c.status(d.UUID, clinicsync.Status{Success: true, Directory: "clinicsync", Path: `C:\x\` + d.PDF.FileName}); code != 200 {
			t.Fatalf("status: %d", code)
		}
	}
	// Page 2 after confirming page 1 skips documents 11-20.
	_, b = c.do("GET", "/documents?synchronized=false&itemsPerPage=10&page=2", "")
	p2 := decodePage(t, FormatHydra, b)
	exp := s.Expected()
	if p2.total != 20 || len(p2.items) != 10 || p2.items[0].UUID != exp[20].UUID || p2.next != "" {
		t.Fatalf("page 2 after confirming: total %d, first %s (want %s)", p2.total, p2.items[0].UUID, exp[20].UUID)
	}
	_, b = c.do("GET", "/documents?synchronized=true&itemsPerPage=100", "")
	if p := decodePage(t, FormatHydra, b); p.total != 10 || p.items[0].UUID != exp[0].UUID {
		t.Fatalf("synchronized=true: %d", p.total)
	}
	_, b = c.do("GET", "/documents?itemsPerPage=100", "")
	if p := decodePage(t, FormatHydra, b); p.total != 30 {
		t.Fatalf("no filter: %d", p.total)
	}
	_, b = c.do("GET", "/documents?synchronized=0&itemsPerPage=100&order%5BcreatedAt%5D=desc", "")
	if p := decodePage(t, FormatHydra, b); p.total != 20 || p.items[0].UUID != exp[29].UUID {
		t.Fatalf("synchronized=0, desc: total %d first %s", p.total, p.items[0].UUID)
	}
	if !s.Synchronized(exp[0].UUID) || s.Synchronized(exp[10].UUID) || s.Synchronized("nope") {
		t.Fatal("Synchronized disagrees")
	}
	// A failure leaves the document listed; a later failure does not
	// undo a success; Unsynchronize puts one back.
	if c.status(exp[10].UUID, clinicsync.Status{Error: "Failed to save document: disk full"}) != 200 || s.Synchronized(exp[10].UUID) {
		t.Fatal("success:false synchronized the document")
	}
	c.status(exp[0].UUID, clinicsync.Status{Error: "late failure"})
	if !s.Synchronized(exp[0].UUID) || !s.Unsynchronize(exp[0].UUID) || s.Synchronized(exp[0].UUID) {
		t.Fatal("late failure or Unsynchronize")
	}
	// A document added at run time comes last.
	added := s.AddDocument(Fixture{Doc: clinicsync.Document{Type: "prescription", PDF: clinicsync.PDF{FileName: "new.pdf"}}})
	if added.UUID == "" || added.Patient.UUID == "" || added.State != "verified" || !strings.Contains(added.PDF.URL, "/files/") {
		t.Fatalf("added %+v", added)
	}
	docs, _ := c.listAll(FormatHydra, "synchronized=false&itemsPerPage=100", 100)
	if docs[len(docs)-1].UUID != added.UUID {
		t.Fatal("added document is not last")
	}
	resp, body := c.do("GET", added.PDF.URL, "")
	if resp.StatusCode != 200 || !bytes.Equal(body, PDFBytes(2, added.UUID, s.Expected()[30].Size)) {
		t.Fatalf("added document's link: %d", resp.StatusCode)
	}
}

func TestStatusCalls(t *testing.T) {
	clock := newFakeClock()
	s := New(Options{Documents: 2, Seed: 3, Now: clock.Now})
	c := start(t, s)
	u := s.Expected()[0].UUID
	cases := []struct {
		body, ctype string
		code        int
	}{
		{`{"success":true,`, "application/json", 400},
		{`not json`, "application/json", 400},
		{`[]`, "application/json", 400},
		{`{}`, "application/json", 400},
		{`{"success":null}`, "application/json", 400},
		{`{"success":"true"}`, "application/json", 400},
		{`{"success":1}`, "application/json", 400},
		{`{"success":true,"path":5}`, "application/json", 400},
		{`{"success":true} trailing`, "application/json", 400},
		{`{"success":true}`, "text/plain", 415},
		{`{"success":true}`, "", 415},
		{`{"success":false,"error":"Failed to save document: Database connection timeout"}`, "application/json", 200},
		{`{"success":true,"directory":"your_software_id","path":"C:\\YourSoftware\\Documents\\document.pdf"}`, "application/ld+json; charset=utf-8", 200},
	}
	for i, tc := range cases {
		clock.Advance(time.Second)
		resp, b := c.do("POST", "/documents/"+u+"/status", tc.body, "Content-Type", tc.ctype)
		if resp.StatusCode != tc.code {
			t.Fatalf("%d %q (%s): %d %s", i, tc.body, tc.ctype, resp.StatusCode, b)
		}
		if tc.code != 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%q: error is not problem JSON", tc.body)
		}
		if tc.code == 200 && tc.body[12] == 'f' && s.Synchronized(u) {
			t.Fatal("synchronized before success:true")
		}
	}
	if !s.Synchronized(u) {
		t.Fatal("success:true not applied")
	}
	resp, _ := c.do("POST", "/documents/unknown-uuid/status", `{"success":true}`)
	if resp.StatusCode != 404 {
		t.Fatalf("unknown uuid: %d", resp.StatusCode)
	}
	calls := s.StatusCalls()
	if len(calls) != len(cases)+1 {
		t.Fatalf("%d calls recorded, want %d", len(calls), len(cases)+1)
	}
	fail, ok := calls[len(cases)-2], calls[len(cases)-1]
	if fail.Code != 200 || fail.Status.Success || fail.Status.Error != "Failed to save document: Database connection timeout" {
		t.Fatalf("failure call %+v", fail)
	}
	if ok.Status != (clinicsync.Status{Success: true, Directory: "your_software_id", Path: `C:\YourSoftware\Documents\document.pdf`}) ||
		string(ok.Raw) != cases[len(cases)-1].body || !ok.Time.Equal(clock.Now()) || ok.UUID != u {
		t.Fatalf("success call %+v", ok)
	}
	if calls[0].Code != 400 || calls[len(calls)-1].Code != 404 || calls[len(calls)-1].UUID != "unknown-uuid" {
		t.Fatal("codes not recorded")
	}
	// GET one document; unknown is 404; wrong methods are 405.
	resp, b := c.do("GET", "/documents/"+u, "")
	var one map[string]any
	json.Unmarshal(b, &one)
	if resp.StatusCode != 200 || one["uuid"] != u || one["@context"] != "/contexts/Document" {
		t.Fatalf("GET document: %d %s", resp.StatusCode, b)
	}
	if resp, _ := c.do("GET", "/documents/nope", ""); resp.StatusCode != 404 {
		t.Fatalf("unknown document: %d", resp.StatusCode)
	}
	if resp, _ := c.do("DELETE", "/documents/"+u, ""); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/nothing", ""); resp.StatusCode != 404 {
		t.Fatalf("unknown route: %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/healthz", "", "Authorization", ""); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	st := s.Stats()
	if st.Endpoints[EndpointStatus] != len(cases)+1 || st.Endpoints[EndpointGet] != 2 || st.Endpoints["DELETE /documents/{uuid}"] != 1 || st.Endpoints[EndpointOther] != 1 {
		t.Fatalf("endpoint counts %v", st.Endpoints)
	}
}

func TestAuth(t *testing.T) {
	s := New(Options{Documents: 1, Token: "secret"})
	c := start(t, s)
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic c2VjcmV0", "Bearer wrong"} {
		resp, b := c.do("GET", "/documents", "", "Authorization", h)
		var pr Problem
		if resp.StatusCode != 401 || json.Unmarshal(b, &pr) != nil || pr.Status != 401 || resp.Header.Get("WWW-Authenticate") == "" ||
			resp.Header.Get("x-ratelimit-remaining") != "5000" {
			t.Fatalf("%q: %d %s %v", h, resp.StatusCode, b, resp.Header)
		}
	}
	if resp, _ := c.do("GET", "/documents", "", "Authorization", "bearer secret"); resp.StatusCode != 200 {
		t.Fatalf("right token: %d", resp.StatusCode)
	}
	s.SetToken("")
	if resp, _ := c.do("GET", "/documents", "", "Authorization", "Bearer anything"); resp.StatusCode != 200 {
		t.Fatalf("any token: %d", resp.StatusCode)
	}
	if st := s.Stats(); st.Unauthorized != 5 || st.APIRequests != 7 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRateLimit(t *testing.T) {
	clock := newFakeClock()
	s := New(Options{Documents: 1, Seed: 4, RateLimit: 5, RateRefill: 2, RateRefillEvery: time.Minute, Now: clock.Now})
	c := start(t, s)
	reset := strconv.FormatInt(clock.Now().Add(time.Minute).Unix(), 10)
	var link string
	for i := 4; i >= 0; i-- {
		resp, b := c.do("GET", "/documents", "")
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("x-ratelimit-limit") != "5" || h.Get("x-ratelimit-remaining") != strconv.Itoa(i) || h.Get("x-ratelimit-reset") != reset {
			t.Fatalf("request %d: %d %v", 5-i, resp.StatusCode, h)
		}
		link = decodePage(t, FormatHydra, b).items[0].PDF.URL
	}
	clock.Advance(15 * time.Second)
	resp, b := c.do("GET", "/documents", "")
	var pr Problem
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "45" || resp.Header.Get("x-ratelimit-remaining") != "0" ||
		json.Unmarshal(b, &pr) != nil || pr.Status != 429 {
		t.Fatalf("empty bucket: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	// PDF downloads do not count.
	if resp, _ := c.do("GET", link, ""); resp.StatusCode != 200 {
		t.Fatalf("download while limited: %d", resp.StatusCode)
	}
	clock.Advance(46 * time.Second) // one refill: 2 tokens
	for i := 1; i >= 0; i-- {
		resp, _ := c.do("GET", "/documents", "")
		if resp.StatusCode != 200 || resp.Header.Get("x-ratelimit-remaining") != strconv.Itoa(i) {
			t.Fatalf("after refill: %d %v", resp.StatusCode, resp.Header)
		}
	}
	if resp, _ := c.do("GET", "/documents", ""); resp.StatusCode != 429 {
		t.Fatalf("bucket not empty again: %d", resp.StatusCode)
	}
	clock.Advance(time.Hour) // capped at the limit
	if resp, _ := c.do("GET", "/documents", ""); resp.StatusCode != 200 || resp.Header.Get("x-ratelimit-remaining") != "4" {
		t.Fatalf("after an hour: %v", resp.Header)
	}
	if st := s.Stats(); st.RateLimited != 2 {
		t.Fatalf("RateLimited = %d", st.RateLimited)
	}

	// Off: no headers. OmitRetryAfter: none on 429.
	c2 := start(t, New(Options{RateLimit: -1}))
	if resp, _ := c2.do("GET", "/documents", ""); resp.Header.Get("x-ratelimit-limit") != "" {
		t.Fatal("rate limit headers while off")
	}
	c3 := start(t, New(Options{RateLimit: 1, OmitRetryAfter: true}))
	c3.do("GET", "/documents", "")
	if resp, _ := c3.do("GET", "/documents", ""); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "" || resp.Header.Get("x-ratelimit-reset") == "" {
		t.Fatalf("OmitRetryAfter: %d %v", resp.StatusCode, resp.Header)
	}
}

// updatedAt is served on every document; it moves when the platform edits
// the document (Touch, SetFileName) and when a status call is recorded on
// it, and the list, the document and Expected show the change.
func TestUpdatedAtMovesOnEdits(t *testing.T) {
	clock := newFakeClock()
	s := New(Options{Documents: 2, Seed: 4, Now: clock.Now})
	c := start(t, s)
	u := s.Expected()[0].UUID
	listed := func() (clinicsync.Document, string) {
		t.Helper()
		docs, raws := c.listAll(FormatHydra, "synchronized=false&itemsPerPage=100", 100)
		for i, d := range docs {
			if d.UUID == u {
				var upd string
				if err := json.Unmarshal(raws[i]["updatedAt"], &upd); err != nil {
					t.Fatalf("updatedAt %s: %v", raws[i]["updatedAt"], err)
				}
				return d, upd
			}
		}
		t.Fatalf("%s not listed", u)
		return clinicsync.Document{}, ""
	}
	d0, upd0 := listed()
	if upd0 == "" {
		t.Fatal("no updatedAt")
	}
	if _, upd := listed(); upd != upd0 {
		t.Fatalf("updatedAt moved without an edit: %s, %s", upd0, upd)
	}
	// An edit in the same second still moves it.
	if !s.Touch(u) || s.Touch("nope") {
		t.Fatal("Touch")
	}
	_, upd1 := listed()
	if upd1 <= upd0 {
		t.Fatalf("after Touch: %s, before %s", upd1, upd0)
	}
	// A recorded status call moves it (the platform records the outcome
	// on the document); a refused one does not.
	if c.status(u, clinicsync.Status{Error: "Failed to save document: not a PDF"}) != 200 {
		t.Fatal("status")
	}
	_, upd2 := listed()
	if upd2 <= upd1 {
		t.Fatalf("after a status call: %s, before %s", upd2, upd1)
	}
	c.do("POST", "/documents/"+u+"/status", `{"success":"yes"}`)
	if _, upd := listed(); upd != upd2 {
		t.Fatalf("a refused status call moved updatedAt: %s", upd)
	}
	// A rename changes the file name, the link's path and updatedAt.
	clock.Advance(time.Minute)
	if !s.SetFileName(u, "corrected.pdf") || s.SetFileName("nope", "x.pdf") {
		t.Fatal("SetFileName")
	}
	d3, upd3 := listed()
	if upd3 <= upd2 || d3.PDF.FileName != "corrected.pdf" || !strings.Contains(d3.PDF.URL, "/corrected.pdf?") ||
		strings.Contains(d0.PDF.URL, "/corrected.pdf?") {
		t.Fatalf("after SetFileName: %s %+v", upd3, d3.PDF)
	}
	if e := s.Expected()[0]; e.FileName != "corrected.pdf" {
		t.Fatalf("Expected after SetFileName: %+v", e)
	}
	resp, body := c.do("GET", d3.PDF.URL, "")
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("%PDF-")) {
		t.Fatalf("renamed document's link: %d", resp.StatusCode)
	}
	_, b := c.do("GET", "/documents/"+u, "")
	var one map[string]any
	json.Unmarshal(b, &one)
	if one["updatedAt"] != upd3 {
		t.Fatalf("GET /documents/{uuid} updatedAt %v, want %s", one["updatedAt"], upd3)
	}
}
