package askara

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
)

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, base := range []string{"", "api.askara.ai", "ftp://api.askara.ai", "https://", "https://u:p@api.askara.ai",
		"https://api.askara.ai/?x=1"} {
		if _, err := New(Options{BaseURL: base}); clinicsync.ErrorCode(err) != clinicsync.EConfig {
			t.Errorf("New(%q): %v, want EConfig", base, err)
		}
	}
	if _, err := New(Options{BaseURL: "https://staging.askara.example/api/"}); err != nil {
		t.Fatal(err)
	}
}

func TestListAllShapesEveryPage(t *testing.T) {
	ids := uuids(250)
	for _, tc := range []struct {
		shape    string
		absolute bool
		requests int
	}{
		{"array", false, 3}, // 100, 100, 50: the short page is the last
		{"hydra", false, 3},
		{"hydra", true, 3},
		{"member", false, 3},
		{"member", true, 3},
	} {
		t.Run(fmt.Sprintf("%s/absolute=%v", tc.shape, tc.absolute), func(t *testing.T) {
			s := newListServer(t, tc.shape, tc.absolute, ids)
			c, _, _ := newTestClient(t, s.URL, nil)
			docs, err := c.ListUnsynchronized(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != len(ids) {
				t.Fatalf("%d documents, want %d", len(docs), len(ids))
			}
			for i, d := range docs {
				if d.UUID != ids[i] {
					t.Fatalf("document %d is %q, want %q (order kept)", i, d.UUID, ids[i])
				}
			}
			d := docs[7]
			want := clinicsync.Document{UUID: ids[7], Type: "referral_letter", State: "verified",
				Patient: clinicsync.Patient{UUID: "p-" + ids[7], ExternalID: "EXT-" + ids[7], FirstName: "Johnathan", LastName: "Doemann"},
				PDF:     clinicsync.PDF{URL: "https://files.example/" + ids[7] + ".pdf?X-Amz-Signature=sig-" + ids[7], FileName: "letter-" + ids[7] + ".pdf"}}
			if d != want {
				t.Fatalf("decoded\n%+v\nwant\n%+v", d, want)
			}
			q := s.Queries()
			if len(q) != tc.requests || c.Stats().APIRequests != int64(tc.requests) {
				t.Fatalf("queries %v (stats %d), want %d", q, c.Stats().APIRequests, tc.requests)
			}
			first, _ := url.ParseQuery(q[0])
			if first.Get("synchronized") != "false" || first.Get("itemsPerPage") != "100" || first.Get("page") != "1" {
				t.Fatalf("first query %q", q[0])
			}
			if last, _ := url.ParseQuery(q[len(q)-1]); last.Get("page") != "3" {
				t.Fatalf("last query %q", q[len(q)-1])
			}
		})
	}
}

func TestListArrayExactMultipleAsksOneEmptyPage(t *testing.T) {
	s := newListServer(t, "array", false, uuids(200))
	c, _, _ := newTestClient(t, s.URL, nil)
	docs, err := c.ListUnsynchronized(context.Background())
	if err != nil || len(docs) != 200 || len(s.Queries()) != 3 {
		t.Fatalf("%d docs, queries %v, %v", len(docs), s.Queries(), err)
	}
}

func TestListBaseURLWithPathPrefix(t *testing.T) {
	var got atomic.Value
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.URL.Path)
		fmt.Fprint(w, `{"member":[],"totalItems":0}`)
	}))
	defer ts.Close()
	c, _, _ := newTestClient(t, ts.URL+"/api/v1/", nil)
	if _, err := c.ListUnsynchronized(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.Load() != "/api/v1/documents" {
		t.Fatalf("path %v", got.Load())
	}
}

func TestListRefusesNextLinkToAnotherHost(t *testing.T) {
	var foreignHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		fmt.Fprint(w, `[]`)
	}))
	defer other.Close()
	otherURL, _ := url.Parse(other.URL)
	for name, next := range map[string]string{
		"absolute":        other.URL + "/documents?page=2",
		"scheme-relative": "//" + otherURL.Host + "/documents?page=2",
		"https-downgrade": "https://" + otherURL.Host + "/documents?page=2",
	} {
		t.Run(name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"hydra:member":[%s],"hydra:view":{"hydra:next":%q}}`, docJSON("a"), next)
			}))
			defer ts.Close()
			c, _, _ := newTestClient(t, ts.URL, nil)
			docs, err := c.ListUnsynchronized(context.Background())
			var e *clinicsync.Error
			if !errors.As(err, &e) || e.Code != clinicsync.EBadResponse || e.Retryable || docs != nil {
				t.Fatalf("got %v %+v, want a permanent EBadResponse", docs, err)
			}
		})
	}
	if n := foreignHits.Load(); n != 0 {
		t.Fatalf("the foreign host received %d requests", n)
	}
}

func TestListStopsAgainstHostilePaging(t *testing.T) {
	page := func(ids ...string) string {
		var items []string
		for _, id := range ids {
			items = append(items, docJSON(id))
		}
		return "[" + strings.Join(items, ",") + "]"
	}
	full := uuids(100)

	t.Run("array ignoring page", func(t *testing.T) {
		var n atomic.Int32
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			fmt.Fprint(w, page(full...))
		}))
		defer ts.Close()
		c, _, _ := newTestClient(t, ts.URL, nil)
		docs, err := c.ListUnsynchronized(context.Background())
		if err != nil || len(docs) != 100 || n.Load() != 2 {
			t.Fatalf("%d docs after %d requests: %v", len(docs), n.Load(), err)
		}
	})

	t.Run("array ignoring page with fresh links each time", func(t *testing.T) {
		// Same uuids, different bytes (a fresh signature per request).
		var n atomic.Int32
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := n.Add(1)
			fmt.Fprint(w, strings.ReplaceAll(page(full...), "sig-", fmt.Sprintf("sig%d-", k)))
		}))
		defer ts.Close()
		c, _, _ := newTestClient(t, ts.URL, nil)
		docs, err := c.ListUnsynchronized(context.Background())
		if err != nil || len(docs) != 100 || n.Load() != 2 {
			t.Fatalf("%d docs after %d requests: %v", len(docs), n.Load(), err)
		}
	})

	t.Run("alternating pages", func(t *testing.T) {
		var n atomic.Int32
		a, b := uuids(200)[:100], uuids(200)[100:]
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1)%2 == 1 {
				fmt.Fprint(w, page(a...))
			} else {
				fmt.Fprint(w, page(b...))
			}
		}))
		defer ts.Close()
		c, _, _ := newTestClient(t, ts.URL, nil)
		docs, err := c.ListUnsynchronized(context.Background())
		if err != nil || len(docs) != 200 || n.Load() != 3 {
			t.Fatalf("%d docs after %d requests: %v", len(docs), n.Load(), err)
		}
	})

	t.Run("endless new uuids stop at MaxPages", func(t *testing.T) {
		var n atomic.Int32
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := n.Add(1)
			ids := make([]string, 100)
			for i := range ids {
				ids[i] = fmt.Sprintf("gen-%d-%d", k, i)
			}
			fmt.Fprint(w, page(ids...))
		}))
		defer ts.Close()
		c, _, _ := newTestClient(t, ts.URL, func(o *Options) { o.MaxPages = 7 })
		docs, err := c.ListUnsynchronized(context.Background())
		if err != nil || len(docs) != 700 || n.Load() != 7 {
			t.Fatalf("%d docs after %d requests: %v", len(docs), n.Load(), err)
		}
	})

	t.Run("hydra next pointing to itself", func(t *testing.T) {
		var n atomic.Int32
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := n.Add(1)
			// New documents every time, so only the link loop can stop it.
			fmt.Fprintf(w, `{"hydra:member":[%s],"hydra:view":{"hydra:next":"/documents?page=2"}}`, docJSON(fmt.Sprint("x", k)))
		}))
		defer ts.Close()
		c, _, _ := newTestClient(t, ts.URL, nil)
		docs, err := c.ListUnsynchronized(context.Background())
		if err != nil || len(docs) != 2 || n.Load() != 2 {
			t.Fatalf("%d docs after %d requests: %v", len(docs), n.Load(), err)
		}
	})
}

func TestListDeduplicatesAndSkipsItemsWithoutUUID(t *testing.T) {
	pages := []string{
		`{"member":[` + docJSON("a") + `,` + docJSON("b") + `,{"type":"referral_letter","patient":{"lastName":"Secretname"}},` +
			`{"uuid":""},{"uuid":42},"just a string",null],"view":{"next":"/documents?page=2"}}`,
		`{"member":[` + docJSON("b") + `,` + docJSON("c") + `,` + docJSON("a") + `],"view":{"next":"/documents?page=3"}}`,
		`{"member":[` + docJSON("d") + `,{"uuid":"e","patient":"/patients/pe","pdf":"https://files.example/e.pdf","type":7}]}`,
	}
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, pages[n.Add(1)-1])
	}))
	defer ts.Close()
	c, _, logs := newTestClient(t, ts.URL, nil)
	docs, err := c.ListUnsynchronized(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.UUID)
	}
	if strings.Join(got, ",") != "a,b,c,d,e" {
		t.Fatalf("uuids %v", got)
	}
	if e := docs[4]; e.Patient.UUID != "pe" || e.PDF.URL != "https://files.example/e.pdf" || e.Type != "7" {
		t.Fatalf("lenient decoding: %+v", e)
	}
	if s := c.Stats().SkippedItems; s != 5 {
		t.Fatalf("skipped %d items, want 5", s)
	}
	if l := logs.String(); !strings.Contains(l, "skipped") || strings.Contains(l, "Secretname") {
		t.Fatalf("logs:\n%s", l)
	}
}

func TestGetDocument(t *testing.T) {
	var gotPath atomic.Value
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath.Store(r.URL.EscapedPath())
		switch r.URL.EscapedPath() {
		case "/documents/doc-1", "/documents/a%2Fb%20c":
			u, _ := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/documents/"))
			fmt.Fprint(w, docJSON(u))
		case "/documents/no-uuid":
			fmt.Fprint(w, `{"type":"referral_letter","pdf":{"url":"https://files.example/n.pdf"}}`)
		case "/documents/other":
			fmt.Fprint(w, docJSON("someone-else"))
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(404)
			fmt.Fprint(w, `{"title":"An error occurred","detail":"Not Found","status":404}`)
		}
	}))
	defer ts.Close()
	c, _, _ := newTestClient(t, ts.URL, nil)
	ctx := context.Background()

	d, err := c.GetDocument(ctx, "doc-1")
	if err != nil || d.UUID != "doc-1" || d.PDF.URL == "" || d.Patient.LastName != "Doemann" {
		t.Fatalf("%+v %v", d, err)
	}
	if d, err = c.GetDocument(ctx, "a/b c"); err != nil || d.UUID != "a/b c" || gotPath.Load() != "/documents/a%2Fb%20c" {
		t.Fatalf("escaped uuid: %+v %v (path %v)", d, err, gotPath.Load())
	}
	if d, err = c.GetDocument(ctx, "no-uuid"); err != nil || d.UUID != "no-uuid" || d.PDF.URL != "https://files.example/n.pdf" {
		t.Fatalf("document without uuid: %+v %v", d, err)
	}

	before := c.Stats().APIRequests
	_, err = c.GetDocument(ctx, "missing")
	if clinicsync.ErrorCode(err) != clinicsync.ENotFound || c.Stats().APIRequests-before != 1 {
		t.Fatalf("missing: %v after %d requests", err, c.Stats().APIRequests-before)
	}
	if ok, _ := clinicsync.IsRetryable(err); ok {
		t.Fatal("404 must be permanent")
	}

	before = c.Stats().APIRequests
	_, err = c.GetDocument(ctx, "other")
	if clinicsync.ErrorCode(err) != clinicsync.EBadResponse || c.Stats().APIRequests-before != 4 {
		t.Fatalf("another document: %v after %d requests", err, c.Stats().APIRequests-before)
	}

	before = c.Stats().APIRequests
	for _, bad := range []string{"", ".", ".."} {
		if _, err := c.GetDocument(ctx, bad); clinicsync.ErrorCode(err) != clinicsync.EInvalid {
			t.Fatalf("GetDocument(%q): %v", bad, err)
		}
	}
	if c.Stats().APIRequests != before {
		t.Fatal("an unusable uuid was sent")
	}
}

func TestSetStatusBodyAsTheSeedShows(t *testing.T) {
	var mu sync.Mutex
	var got []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.EscapedPath()+" "+r.Header.Get("Content-Type")+" "+
			r.Header.Get("Authorization")+" "+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ts.Close()
	c, _, _ := newTestClient(t, ts.URL, nil)
	ctx := context.Background()
	calls := []struct {
		uuid string
		st   clinicsync.Status
	}{
		{"d-1", clinicsync.Status{Success: true}},
		{"d-2", clinicsync.Status{Success: true, Directory: "your_software_id",
			Path: `C:\YourSoftware\Documents\Patients\DOE_JOHN\document.pdf`}},
		{"d-3", clinicsync.Status{Success: false, Error: "Failed to save document: Database connection timeout"}},
		{"a/b", clinicsync.Status{Success: false, Error: "The file is not a PDF (<html> & co)."}},
	}
	for _, cl := range calls {
		if err := c.SetStatus(ctx, cl.uuid, cl.st); err != nil {
			t.Fatal(err)
		}
	}
	auth := "Bearer " + testToken
	want := []string{
		`POST /documents/d-1/status application/json ` + auth + ` {"success":true}`,
		`POST /documents/d-2/status application/json ` + auth +
			` {"success":true,"directory":"your_software_id","path":"C:\\YourSoftware\\Documents\\Patients\\DOE_JOHN\\document.pdf"}`,
		`POST /documents/d-3/status application/json ` + auth +
			` {"success":false,"error":"Failed to save document: Database connection timeout"}`,
		`POST /documents/a%2Fb/status application/json ` + auth + ` {"success":false,"error":"The file is not a PDF (<html> & co)."}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		status    int
		body      string
		code      string
		retryable bool
		requests  int64
		message   string // exact, or a prefix ending in "*"
	}{
		{400, `{"title":"Bad Request","detail":"Invalid\u0007 status\n value.","status":400}`, clinicsync.EInvalid, false, 1,
			"Askara rejected the request for the document: Invalid status value."},
		{401, `{"detail":"Expired JWT Token"}`, clinicsync.EUnauthorized, false, 1, "Askara refused the access token; sign in again."},
		{403, ``, clinicsync.EForbidden, false, 1, "Askara refused the document: the sign-in lacks the read:documents scope; sign in again (the app asks for it)."},
		{404, ``, clinicsync.ENotFound, false, 1, "The document no longer exists on Askara."},
		{409, ``, clinicsync.EInvalid, false, 1, "Askara rejected the request for the document (HTTP 409)."},
		{422, `{"hydra:title":"An error occurred","hydra:description":"success: This value should not be null."}`,
			clinicsync.EInvalid, false, 1, "Askara rejected the request for the document: success: This value should not be null."},
		{500, `<html>oops</html>`, clinicsync.EUnavailable, true, 4, "Askara is temporarily unavailable (HTTP 500)."},
		{503, ``, clinicsync.EUnavailable, true, 4, "Askara is temporarily unavailable (HTTP 503)."},
		{200, `{"uuid":`, clinicsync.EBadResponse, true, 4, "Askara sent a response that could not be read."},
		{200, `<html>captive portal</html>`, clinicsync.EBadResponse, true, 4, "Askara sent a response that could not be read."},
		{302, ``, clinicsync.EBadResponse, false, 1, "Askara answered with an unexpected redirect."},
	} {
		t.Run(fmt.Sprint(tc.status, " ", tc.body), func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.status == 302 {
					w.Header().Set("Location", "https://elsewhere.example/login")
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer ts.Close()
			c, clock, _ := newTestClient(t, ts.URL, nil)
			_, err := c.GetDocument(context.Background(), "doc-1")
			var e *clinicsync.Error
			if !errors.As(err, &e) {
				t.Fatalf("%T %v", err, err)
			}
			if e.Code != tc.code || e.Retryable != tc.retryable || e.Message != tc.message {
				t.Fatalf("got %q retryable=%v %q", e.Code, e.Retryable, e.Message)
			}
			if n := c.Stats().APIRequests; n != tc.requests {
				t.Fatalf("%d requests, want %d", n, tc.requests)
			}
			sleeps := clock.Sleeps()
			if int64(len(sleeps)) != tc.requests-1 || c.Stats().Retries != tc.requests-1 {
				t.Fatalf("sleeps %v, retries %d", sleeps, c.Stats().Retries)
			}
			for i, d := range sleeps { // jittered 250 ms doubling, capped at 4 s
				hi := min(backoffBase<<i, backoffMax)
				if d < hi/2 || d > hi {
					t.Fatalf("backoff %d = %v, want within [%v, %v]", i, d, hi/2, hi)
				}
			}
		})
	}
}

func TestRetriesTransientFailuresThenSucceeds(t *testing.T) {
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.WriteHeader(503)
		case 2:
			// A dropped connection.
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case 3:
			w.WriteHeader(502)
		default:
			w.WriteHeader(200)
		}
	}))
	defer ts.Close()
	c, clock, _ := newTestClient(t, ts.URL, nil)
	if err := c.SetStatus(context.Background(), "d", clinicsync.Status{Success: true}); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.APIRequests != 4 || s.Retries != 3 || len(clock.Sleeps()) != 3 {
		t.Fatalf("%+v, sleeps %v", s, clock.Sleeps())
	}
}

func TestBodyTooLargeIsRefused(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"member":["`)
		chunk := strings.Repeat("x", 1<<20)
		for range MaxBodyBytes>>20 + 1 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		fmt.Fprint(w, `"]}`)
	}))
	defer ts.Close()
	c, _, _ := newTestClient(t, ts.URL, nil)
	_, err := c.ListUnsynchronized(context.Background())
	if clinicsync.ErrorCode(err) != clinicsync.EBadResponse || c.Stats().APIRequests != 1 {
		t.Fatalf("%v after %d requests", err, c.Stats().APIRequests)
	}
}

func TestTokenProblems(t *testing.T) {
	var auths []string
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer fresh" {
			w.WriteHeader(401)
			return
		}
		fmt.Fprint(w, `[]`)
	}))
	defer ts.Close()

	// A token rotated meanwhile: one more try with the new one.
	var calls atomic.Int32
	rotating := tokenFunc(func() (*oauth2.Token, error) {
		if calls.Add(1) == 1 {
			return &oauth2.Token{AccessToken: "stale"}, nil
		}
		return &oauth2.Token{AccessToken: "fresh"}, nil
	})
	c, _, _ := newTestClient(t, ts.URL, func(o *Options) { o.TokenSource = rotating })
	if _, err := c.ListUnsynchronized(context.Background()); err != nil {
		t.Fatal(err)
	}
	sent := func() string {
		mu.Lock()
		defer mu.Unlock()
		s := strings.Join(auths, ",")
		auths = nil
		return s
	}
	if s := sent(); s != "Bearer stale,Bearer fresh" {
		t.Fatalf("Authorization sent: %v", s)
	}

	// The same token refused: no second try.
	c, _, _ = newTestClient(t, ts.URL, nil)
	_, err := c.ListUnsynchronized(context.Background())
	if s := sent(); clinicsync.ErrorCode(err) != clinicsync.EUnauthorized || s != "Bearer "+testToken {
		t.Fatalf("%v after %v", err, s)
	}

	// No token at all: nothing is sent.
	for _, ts2 := range []oauth2.TokenSource{nil,
		tokenFunc(func() (*oauth2.Token, error) { return nil, errors.New("keychain locked") }),
		tokenFunc(func() (*oauth2.Token, error) { return &oauth2.Token{}, nil })} {
		c, _, _ = newTestClient(t, ts.URL, func(o *Options) { o.TokenSource = ts2 })
		err := c.SetStatus(context.Background(), "d", clinicsync.Status{Success: true})
		if ok, _ := clinicsync.IsRetryable(err); clinicsync.ErrorCode(err) != clinicsync.ESignedOut || ok {
			t.Fatalf("token source %v: %v", ts2, err)
		}
	}
	if s := sent(); s != "" {
		t.Fatalf("requests sent without a token: %v", s)
	}
}

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }

func TestCanceledWhileWaiting(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c, _, _ := newTestClient(t, ts.URL, func(o *Options) {
		o.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	})
	_, err := c.ListUnsynchronized(ctx)
	if clinicsync.ErrorCode(err) != clinicsync.ECanceled || !errors.Is(err, context.Canceled) || c.Stats().APIRequests != 1 {
		t.Fatalf("%v after %d requests", err, c.Stats().APIRequests)
	}
}

// The token and the query of a pre-signed link never show in an error
// string or a debug log line, whatever the servers echo.
func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := 400
		switch r.URL.Path {
		case "/documents/u401":
			status = 401
		case "/documents/u500":
			status = 500
		case "/documents":
			// A 2xx body that is not JSON, with the token in it.
			fmt.Fprintf(w, "not json %s", r.Header.Get("Authorization"))
			return
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"title":%q,"detail":"Token %s rejected; see https://files.example/x.pdf?X-Amz-Signature=topsecret"}`,
			r.Header.Get("Authorization"), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	defer echo.Close()
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/expired") {
			w.WriteHeader(403)
			fmt.Fprintf(w, "<Error>Request has expired: %s</Error>", r.URL.RawQuery)
			return
		}
		w.Header().Set("Content-Length", "1000")
		fmt.Fprint(w, "%PDF-1.7 short")
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer files.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	c, _, logs := newTestClient(t, echo.URL, nil)
	ctx := context.Background()
	var errs []error
	for _, u := range []string{"u400", "u401", "u500"} {
		_, err := c.GetDocument(ctx, u)
		errs = append(errs, err)
	}
	_, err := c.ListUnsynchronized(ctx)
	errs = append(errs, err)
	errs = append(errs, c.SetStatus(ctx, "u400", clinicsync.Status{Success: false, Error: "x"}))
	const sig = "?X-Amz-Signature=topsecret&X-Amz-Credential=AKIAEXAMPLE"
	for _, link := range []string{files.URL + "/f/expired" + sig, closedURL + "/f/gone.pdf" + sig, "::" + sig} {
		_, err := c.OpenPDF(ctx, link)
		errs = append(errs, err)
	}
	rc, err := c.OpenPDF(ctx, files.URL+"/f/cut.pdf"+sig)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d did not fail", i)
		}
		for _, s := range []string{err.Error(), clinicsync.ErrorMessage(err), fmt.Sprintf("%+v", err)} {
			if strings.Contains(s, testToken) || strings.Contains(s, "topsecret") || strings.Contains(s, "AKIAEXAMPLE") {
				t.Errorf("call %d leaks a secret: %s", i, s)
			}
			if strings.ContainsAny(s, "\x00\x07\n\r") {
				t.Errorf("call %d: control characters in %q", i, s)
			}
		}
	}
	if !strings.Contains(errs[0].Error(), "[redacted]") {
		t.Errorf("the echoed token was not visibly redacted: %v", errs[0])
	}
	l := logs.String()
	if l == "" {
		t.Fatal("no debug logs captured")
	}
	for _, s := range []string{testToken, "topsecret", "AKIAEXAMPLE", "Johnathan", "Doemann", "Bearer"} {
		if strings.Contains(l, s) {
			t.Errorf("the logs contain %q:\n%s", s, l)
		}
	}
}

// updatedAt and the pdf object's other fields are read leniently: they
// tell the engine that a listed file changed, and a value of an unexpected
// type never loses the document.
func TestDocumentUpdatedAtAndPDFExtras(t *testing.T) {
	for _, c := range []struct {
		item, updated, extra string
	}{
		{`{"uuid":"a","updatedAt":"2026-03-02T09:00:00+00:00","pdf":{"url":"https://f.example/a.pdf?sig=1","fileName":"a.pdf"}}`,
			"2026-03-02T09:00:00+00:00", ""},
		{`{"uuid":"a","updatedAt":1772442000,"pdf":{"fileName":"a.pdf","size": 2048, "checksum" :"ab", "url":"x"}}`,
			"1772442000", `{"checksum":"ab","size":2048}`},
		{`{"uuid":"a","updatedAt":{"date":"x"},"pdf":{"mime":{"b":1,  "a":[1, 2]}}}`, "", `{"mime":{"b":1,"a":[1,2]}}`},
		{`{"uuid":"a","updatedAt":null,"pdf":"https://f.example/a.pdf"}`, "", ""},
		{`{"uuid":"a"}`, "", ""},
		// What changes on every listing is left out: expiry and signature
		// fields, and the query of other links.
		{`{"uuid":"a","pdf":{"url":"u","expiresAt":"2026-03-02T10:00:00Z","signature":"s1","X-Amz-Expires":3600,` +
			`"thumbnail":"https://f.example/t.png?sig=2","pages":3}}`, "", `{"pages":3,"thumbnail":"https://f.example/t.png"}`},
	} {
		d, err := DecodeDocument(json.RawMessage(c.item))
		if err != nil || d.UUID != "a" || d.UpdatedAt != c.updated || d.PDF.Extra != c.extra {
			t.Errorf("%s: err %v updatedAt %q extra %q, want %q %q", c.item, err, d.UpdatedAt, d.PDF.Extra, c.updated, c.extra)
		}
	}
	// The same fields in another order and spacing read the same.
	a, _ := DecodeDocument(json.RawMessage(`{"uuid":"a","pdf":{"size":1,"kind":"scan"}}`))
	b, _ := DecodeDocument(json.RawMessage(`{"uuid":"a","pdf":{ "kind" : "scan" , "size" : 1 }}`))
	if a.PDF.Extra != b.PDF.Extra || a.PDF.Extra == "" {
		t.Errorf("extras %q and %q", a.PDF.Extra, b.PDF.Extra)
	}
}
