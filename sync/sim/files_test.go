package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

func TestLinks(t *testing.T) {
	clock := newFakeClock()
	s := New(Options{Documents: 3, Seed: 5, Now: clock.Now, LinkTTL: 10 * time.Minute})
	c := start(t, s)
	exp := s.Expected()
	_, b := c.do("GET", "/documents", "")
	link := decodePage(t, FormatHydra, b).items[0].PDF.URL

	resp, body := c.do("GET", link, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" ||
		resp.ContentLength != exp[0].Size || !bytes.Equal(body, PDFBytes(5, exp[0].UUID, exp[0].Size)) {
		t.Fatalf("download: %d %v, %d bytes", resp.StatusCode, resp.Header, len(body))
	}
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != exp[0].SHA256 {
		t.Fatal("Expected SHA-256 differs from the bytes served")
	}
	if resp, _ := c.do("HEAD", link, ""); resp.StatusCode != 200 || resp.ContentLength != exp[0].Size {
		t.Fatalf("HEAD: %d %d", resp.StatusCode, resp.ContentLength)
	}
	// A bearer token sent to the file host is served but counted.
	c.do("GET", link, "", "Authorization", "Bearer test-token")
	if st := s.Stats(); st.PDFAuthorization != 1 || st.PDFDownloads != 3 || st.PDFBytes != 2*exp[0].Size {
		t.Fatalf("stats %+v", st)
	}

	expired := func(u string) {
		t.Helper()
		resp, body := c.do("GET", u, "")
		if resp.StatusCode != 403 || !bytes.Contains(body, []byte("<Message>Request has expired</Message>")) ||
			resp.Header.Get("Content-Type") != "application/xml" {
			t.Fatalf("want expired, got %d %s", resp.StatusCode, body)
		}
	}
	clock.Advance(10*time.Minute - time.Second)
	if resp, _ := c.do("GET", link, ""); resp.StatusCode != 200 {
		t.Fatalf("link refused before expiry: %d", resp.StatusCode)
	}
	clock.Advance(time.Second)
	expired(link)
	// GET /documents/{uuid} signs a fresh link.
	_, b = c.do("GET", "/documents/"+exp[0].UUID, "")
	var d clinicsync.Document
	json.Unmarshal(b, &d)
	if d.PDF.URL == link {
		t.Fatal("link not renewed")
	}
	if resp, _ := c.do("GET", d.PDF.URL, ""); resp.StatusCode != 200 {
		t.Fatalf("fresh link: %d", resp.StatusCode)
	}
	// ExpireLinks: every link so far expires, new ones work.
	s.ExpireLinks()
	expired(d.PDF.URL)
	_, b = c.do("GET", "/documents/"+exp[0].UUID, "")
	json.Unmarshal(b, &d)
	if resp, _ := c.do("GET", d.PDF.URL, ""); resp.StatusCode != 200 {
		t.Fatalf("link after ExpireLinks: %d", resp.StatusCode)
	}
	if st := s.Stats(); st.ExpiredLinks != 2 {
		t.Fatalf("ExpiredLinks = %d", st.ExpiredLinks)
	}
	// Tampering.
	for _, u := range []string{
		strings.Replace(d.PDF.URL, "signature=", "signature=0", 1),
		strings.Replace(d.PDF.URL, "expires=", "expires=9", 1),
		strings.Replace(d.PDF.URL, exp[0].UUID, exp[1].UUID, 1),
		strings.Split(d.PDF.URL, "?")[0],
	} {
		resp, body := c.do("GET", u, "")
		if resp.StatusCode != 403 || !bytes.Contains(body, []byte("<Error><Code>")) {
			t.Fatalf("tampered link %s: %d", u, resp.StatusCode)
		}
	}
	if st := s.Stats(); st.BadLinks != 4 {
		t.Fatalf("BadLinks = %d", st.BadLinks)
	}
}

// TestHostile checks the hostile fixtures are listed as they are (nothing
// cleaned by the simulator) and that each serves what Expected says.
func TestHostile(t *testing.T) {
	s := New(Options{Hostile: true, Seed: 6})
	c := start(t, s)
	docs, raws := c.listAll(FormatHydra, "synchronized=false&itemsPerPage=100", 100)
	exp := s.Expected()
	if len(docs) != len(exp) || len(exp) < 40 {
		t.Fatalf("%d listed, %d expected", len(docs), len(exp))
	}
	files := map[string]int{}
	lastNames, firstNames := map[string]bool{}, map[string]bool{}
	for _, d := range docs {
		files[d.PDF.FileName]++
		lastNames[d.Patient.LastName] = true
		firstNames[d.Patient.FirstName] = true
	}
	for _, f := range []string{"../../evil.pdf", `C:\Windows\System32\evil.pdf`, "/etc/passwd", "NUL.pdf", "com1.pdf", "LPT9.txt",
		"report. . ", "Report.pdf", "report.pdf", "-rf.pdf", "scan_result", "invoice\u202Efdp.exe", "ctl\x1f\x00na\tme\n.pdf",
		`a<b>c:d"e|f?g*h.pdf`, "r\u00e9sum\u00e9.pdf", "re\u0301sume\u0301.pdf", strings.Repeat("x", 296) + ".pdf"} {
		if files[f] == 0 {
			t.Errorf("no document with file name %q", f)
		}
	}
	if files["referral_letter.pdf"] < 2 || files[""] < 1 {
		t.Error("missing duplicate or empty file names")
	}
	for _, n := range []string{"../../etc", "CON", `A<>:"/\|?*B`, "Nul\x00Byte\x1f", "Dupont. . ", "Zo\u00eb", "Zoe\u0308", "-rf"} {
		if !lastNames[n] {
			t.Errorf("no patient with last name %q", n)
		}
	}
	for _, n := range []string{"..", "PRN", "\u00c9lodie", "Jose\u0301", "Tab\tNew\nLine"} {
		if !firstNames[n] {
			t.Errorf("no patient with first name %q", n)
		}
	}
	var long, onlyExt, onlyUUID, noURL, noPDF bool
	for i, d := range docs {
		p := d.Patient
		long = long || len([]rune(p.LastName)) == 300
		onlyExt = onlyExt || (p.FirstName == "" && p.LastName == "" && p.ExternalID == "EXT-ONLY-42")
		if p.FirstName == "" && p.LastName == "" && p.ExternalID == "" && p.UUID != "" {
			var pm map[string]json.RawMessage
			json.Unmarshal(raws[i]["patient"], &pm)
			_, hasFirst := pm["firstName"]
			onlyUUID = !hasFirst
		}
		if _, ok := raws[i]["pdf"]; !ok {
			noPDF = true
		} else if d.PDF.URL == "" {
			noURL = d.PDF.FileName == "no_url.pdf"
		}
	}
	if !long || !onlyExt || !onlyUUID || !noURL || !noPDF {
		t.Fatalf("long %v onlyExt %v onlyUUID %v noURL %v noPDF %v", long, onlyExt, onlyUUID, noURL, noPDF)
	}

	// What each link serves matches Expected; exactly the five bad
	// contents should not land.
	bad := 0
	for i, e := range exp {
		if e.Label == "" {
			t.Fatalf("hostile fixture %d has no label", i)
		}
		if !e.Land {
			bad++
			if e.Reason == "" {
				t.Fatalf("%s: no reason", e.Label)
			}
		}
		u := docs[i].PDF.URL
		if u == "" {
			if e.Content.Kind != ContentNoURL && e.Content.Kind != ContentNoPDF {
				t.Fatalf("%s: no link", e.Label)
			}
			continue
		}
		resp, body := c.do("GET", u, "")
		sum := sha256.Sum256(body)
		switch {
		case e.Content.Kind == ContentNotFound:
			if resp.StatusCode != 404 || !bytes.Contains(body, []byte("NoSuchKey")) {
				t.Fatalf("%s: %d", e.Label, resp.StatusCode)
			}
		case resp.StatusCode != 200 || int64(len(body)) != e.Size || hex.EncodeToString(sum[:]) != e.SHA256 ||
			resp.Header.Get("Content-Type") != "application/pdf":
			t.Fatalf("%s: %d, %d bytes, want %d", e.Label, resp.StatusCode, len(body), e.Size)
		case e.Land != bytes.HasPrefix(body, []byte("%PDF-")):
			t.Fatalf("%s: Land %v but body %q", e.Label, e.Land, body[:min(len(body), 10)])
		}
	}
	if bad != 5 {
		t.Fatalf("%d fixtures should not land, want 5", bad)
	}

	// A client that decodes %2F (or cleans the path) is refused.
	var evil string
	for _, d := range docs {
		if d.PDF.FileName == "../../evil.pdf" {
			evil = d.PDF.URL
		}
	}
	if !strings.Contains(evil, "/..%2F..%2Fevil.pdf?") {
		t.Fatalf("evil link %s", evil)
	}
	if resp, _ := c.do("GET", strings.Replace(evil, "%2F", "/", -1), ""); resp.StatusCode != 403 {
		t.Fatalf("decoded path: %d", resp.StatusCode)
	}
}

func TestPHPJSON(t *testing.T) {
	in := map[string]string{"a": "../x/\\y", "b": "Zoë Zoe\u0308 😀 \u202e \x00\x1f\t\n <>&\""}
	b := phpJSON(in)
	for _, c := range b {
		if c >= 0x80 {
			t.Fatalf("non-ASCII byte in %s", b)
		}
	}
	if !bytes.Contains(b, []byte(`\u00eb`)) || !bytes.Contains(b, []byte(`\ud83d\ude00`)) || !bytes.Contains(b, []byte(`..\/x\/\\y`)) {
		t.Fatalf("escaping: %s", b)
	}
	var out map[string]string
	if err := json.Unmarshal(b, &out); err != nil || out["a"] != in["a"] || out["b"] != in["b"] {
		t.Fatalf("round trip: %v %q", err, out)
	}
}

// TestFaults checks every kind of fault, injected before the request has
// any effect.
func TestFaults(t *testing.T) {
	s := New(Options{Documents: 2, Seed: 7, FaultStall: 300 * time.Millisecond})
	c := start(t, s)
	c.hc.Transport.(*http.Transport).DisableKeepAlives = true // no transparent retry on a reused connection
	u := s.Expected()[0].UUID
	body := `{"success":true}`

	s.QueueAPIFaults(Fault500, Fault502, Fault503)
	for _, want := range []int{500, 502, 503} {
		resp, b := c.do("POST", "/documents/"+u+"/status", body)
		if resp.StatusCode != want {
			t.Fatalf("want %d, got %d %s", want, resp.StatusCode, b)
		}
		if want != 500 && (resp.Header.Get("x-ratelimit-remaining") != "" || !bytes.HasPrefix(b, []byte("<html>"))) {
			t.Fatalf("gateway %d: %v %s", want, resp.Header, b)
		}
	}
	s.QueueAPIFaults(FaultReset)
	if _, _, err := c.try("POST", "/documents/"+u+"/status", body); err == nil {
		t.Fatal("reset: no error")
	}
	// A stall makes a client with a timeout give up; one without gets a 504.
	s.QueueAPIFaults(FaultStall, FaultStall)
	impatient := &tclient{t: t, base: c.base, hc: &http.Client{Timeout: 50 * time.Millisecond}, token: "x"}
	if _, _, err := impatient.try("POST", "/documents/"+u+"/status", body); err == nil {
		t.Fatal("stall: no timeout")
	}
	if resp, _ := c.do("POST", "/documents/"+u+"/status", body); resp.StatusCode != 504 {
		t.Fatalf("stall: %d", resp.StatusCode)
	}
	time.Sleep(350 * time.Millisecond) // the abandoned stall has ended
	if s.Synchronized(u) || len(s.StatusCalls()) != 0 {
		t.Fatalf("a faulted status call had an effect: %+v", s.StatusCalls())
	}
	st := s.Stats()
	if st.Faults != 6 || st.FaultKinds[FaultStall] != 2 || st.RateLimited != 0 || st.Endpoints[EndpointStatus] != 6 {
		t.Fatalf("stats %+v", st)
	}
	if resp, _ := c.do("POST", "/documents/"+u+"/status", body); resp.StatusCode != 200 || !s.Synchronized(u) {
		t.Fatalf("clean call: %d", resp.StatusCode)
	}
	if r := resp(c, "GET", "/documents"); r.Header.Get("x-ratelimit-remaining") != "4998" {
		t.Fatalf("faults consumed rate tokens: %v", r.Header)
	}

	// PDF faults: truncation (full Content-Length, half the body), reset, 500.
	e := s.Expected()[1]
	_, b := c.do("GET", "/documents/"+e.UUID, "")
	var d clinicsync.Document
	json.Unmarshal(b, &d)
	s.QueuePDFFaults(FaultTruncate, FaultReset, Fault500, Fault503)
	r, err := c.hc.Get(d.PDF.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	r.Body.Close()
	if r.ContentLength != e.Size || !errors.Is(err, io.ErrUnexpectedEOF) || int64(len(got)) != e.Size/2 {
		t.Fatalf("truncate: length %d, read %d, err %v", r.ContentLength, len(got), err)
	}
	if _, _, err := c.try("GET", d.PDF.URL, ""); err == nil {
		t.Fatal("PDF reset: no error")
	}
	for _, want := range []int{500, 503} {
		if resp, _ := c.do("GET", d.PDF.URL, ""); resp.StatusCode != want {
			t.Fatalf("PDF fault: %d, want %d", resp.StatusCode, want)
		}
	}
	if resp, got := c.do("GET", d.PDF.URL, ""); resp.StatusCode != 200 || int64(len(got)) != e.Size {
		t.Fatal("clean download failed")
	}
	if st := s.Stats(); st.PDFFaults != 4 || st.Faults != 6 {
		t.Fatalf("stats %+v", st)
	}
}

func resp(c *tclient, method, target string) *http.Response {
	r, _ := c.do(method, target, "")
	return r
}

// TestFaultRate checks random faults: about the rate asked, deterministic
// for a sequential client, and never applied.
func TestFaultRate(t *testing.T) {
	run := func() ([]int, Stats, *Server) {
		s := New(Options{Documents: 150, Seed: 8, FaultRate: 0.3, FaultStall: time.Millisecond})
		c := start(t, s)
		c.hc.Transport.(*http.Transport).DisableKeepAlives = true
		var codes []int
		for _, e := range s.Expected() {
			r, _, err := c.try("POST", "/documents/"+e.UUID+"/status", `{"success":true}`)
			code := 0
			if err == nil {
				code = r.StatusCode
			}
			codes = append(codes, code)
		}
		return codes, s.Stats(), s
	}
	codes, st, s := run()
	codes2, st2, _ := run()
	if !equalInts(codes, codes2) || st.Faults != st2.Faults {
		t.Fatal("faults are not deterministic for a sequential client")
	}
	if st.Faults < 25 || st.Faults > 75 {
		t.Fatalf("%d faults in 150 calls at rate 0.3", st.Faults)
	}
	for _, k := range apiFaults {
		if st.FaultKinds[k] == 0 {
			t.Errorf("no %s fault", k)
		}
	}
	applied := 0
	for i, e := range s.Expected() {
		if s.Synchronized(e.UUID) != (codes[i] == 200) {
			t.Fatalf("call %d answered %d but synchronized=%v", i, codes[i], s.Synchronized(e.UUID))
		}
		if codes[i] == 200 {
			applied++
		}
	}
	if applied != 150-st.Faults || len(s.StatusCalls()) != applied {
		t.Fatalf("%d applied, %d calls recorded, %d faults", applied, len(s.StatusCalls()), st.Faults)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// countingWriter is a ResponseWriter that keeps only the size, the head
// and the tail of what it is sent.
type countingWriter struct {
	h          http.Header
	code       int
	n          int64
	head, tail []byte
}

func (w *countingWriter) Header() http.Header { return w.h }
func (w *countingWriter) WriteHeader(c int)   { w.code = c }
func (w *countingWriter) Write(p []byte) (int, error) {
	if len(w.head) < 16 {
		w.head = append(w.head, p[:min(len(p), 16-len(w.head))]...)
	}
	if len(p) >= 16 {
		copy(w.tail, p[len(p)-16:])
	}
	w.n += int64(len(p))
	return len(p), nil
}

// TestLargePDFBoundedMemory streams a 1 GiB document and checks the
// allocations do not grow with its size.
func TestLargePDFBoundedMemory(t *testing.T) {
	const size = 1 << 30
	s := New(Options{Seed: 9})
	d := s.AddDocument(Fixture{Doc: clinicsync.Document{PDF: clinicsync.PDF{FileName: "big.pdf"}}, Content: ValidPDF(size)})
	req := httptest.NewRequest("GET", d.PDF.URL, nil)
	w := &countingWriter{h: http.Header{}, tail: make([]byte, 16)}
	s.ServeHTTP(w, req) // warm the buffer pool
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w = &countingWriter{h: http.Header{}, tail: make([]byte, 16)}
	s.ServeHTTP(w, req)
	runtime.ReadMemStats(&after)
	if w.code != 200 || w.n != size || w.h.Get("Content-Length") != "1073741824" ||
		string(w.head[:9]) != "%PDF-1.7\n" || !bytes.HasSuffix(w.tail, []byte("%%EOF\n")) {
		t.Fatalf("code %d, %d bytes, head %q tail %q", w.code, w.n, w.head, w.tail)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("serving 1 GiB allocated %d bytes", alloc)
	}
}

// TestMediumPDFOverHTTP downloads 48 MiB and checks the SHA-256 against
// Expected, which hashes by streaming the generator.
func TestMediumPDFOverHTTP(t *testing.T) {
	s := New(Options{Seed: 10, PDFSize: 48 << 20, Documents: 1})
	c := start(t, s)
	_, b := c.do("GET", "/documents", "")
	u := decodePage(t, FormatHydra, b).items[0].PDF.URL
	r, err := c.hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	e := s.Expected()[0]
	if err != nil || n != 48<<20 || e.Size != n || hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		t.Fatalf("%d bytes, err %v, sha mismatch %v", n, err, hex.EncodeToString(h.Sum(nil)) != e.SHA256)
	}
}

// TestConcurrentClients runs 50 clients at once with faults: each lists
// everything, downloads and confirms its share, and retries what failed.
func TestConcurrentClients(t *testing.T) {
	s := New(Options{Documents: 300, Hostile: true, Seed: 11, FaultRate: 0.05, PDFFaultRate: 0.05,
		FaultStall: time.Millisecond, Format: FormatMember})
	c := start(t, s)
	exp := s.Expected()
	want := map[string]Expectation{}
	for _, e := range exp {
		want[e.UUID] = e
	}
	const workers = 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	// Readers of the server's state run alongside the clients.
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = s.Stats()
			_ = s.StatusCalls()
			_ = s.Synchronized(exp[0].UUID)
			_ = s.Expected()
			time.Sleep(time.Millisecond)
		}
	}()
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &tclient{t: t, base: c.base, hc: c.hc, token: "w"}
			for round := 0; round < 40; round++ {
				var docs []clinicsync.Document
				target := "/documents?synchronized=false&itemsPerPage=100"
				for target != "" {
					r, b, err := cl.try("GET", target, "")
					if err != nil || r.StatusCode != 200 {
						continue // fault: retry this page
					}
					var p struct {
						Member []clinicsync.Document `json:"member"`
						View   struct{ Next string } `json:"view"`
					}
					if err := json.Unmarshal(b, &p); err != nil {
						errs <- err
						return
					}
					docs = append(docs, p.Member...)
					target = p.View.Next
				}
				mine := 0
				for i, d := range docs {
					if i%workers != g {
						continue
					}
					mine++
					e := want[d.UUID]
					st := clinicsync.Status{Success: true}
					if d.PDF.URL == "" {
						st = clinicsync.Status{Error: "no link"}
					} else {
						r, b, err := cl.try("GET", d.PDF.URL, "")
						if err != nil || r.StatusCode >= 500 {
							continue
						}
						sum := sha256.Sum256(b)
						if e.Land && (r.StatusCode != 200 || hex.EncodeToString(sum[:]) != e.SHA256) {
							errs <- errors.New("wrong bytes for " + d.UUID)
							return
						}
						if !e.Land {
							st = clinicsync.Status{Error: "not a PDF"}
						}
					}
					raw, _ := json.Marshal(st)
					cl.try("POST", "/documents/"+d.UUID+"/status", string(raw))
				}
				if mine == 0 && len(docs) < workers {
					// Unlanded documents stay listed; stop when only those remain.
					allBad := true
					for _, d := range docs {
						allBad = allBad && !want[d.UUID].Land
					}
					if allBad {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-readerDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, e := range exp {
		if s.Synchronized(e.UUID) != e.Land {
			t.Fatalf("%s (%s): synchronized %v, land %v", e.UUID, e.Label, s.Synchronized(e.UUID), e.Land)
		}
	}
	st := s.Stats()
	if st.Faults == 0 || st.PDFFaults == 0 || len(s.StatusCalls()) < len(exp) {
		t.Fatalf("stats %+v, %d calls", st, len(s.StatusCalls()))
	}
}
