package askara

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
)

const secretToken = "tok-SECRET-0123456789"

type fakeSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeSleep) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	return ctx.Err()
}

func newClient(t *testing.T, url string, mod func(*Options)) (*Client, *fakeSleep, *bytes.Buffer) {
	t.Helper()
	fs := &fakeSleep{}
	var logs bytes.Buffer
	o := Options{BaseURL: url, TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: secretToken}),
		Sleep: fs.Sleep, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, fs, &logs
}

func docJSON(i int) string {
	return fmt.Sprintf(`{"uuid":"u%03d","type":"referral_letter","state":"verified","patient":{"uuid":"p%d","firstName":"John","lastName":"Doe"},"pdf":{"url":"https://files.example/u%03d?signature=abc","fileName":"r%d.pdf"}}`, i, i%3, i, i)
}

// pagedServer serves n documents in pages of size in one of three shapes.
func pagedServer(t *testing.T, n, size int, shape string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+secretToken {
			w.WriteHeader(401)
			return
		}
		if r.URL.Query().Get("synchronized") != "false" {
			t.Errorf("list without synchronized=false: %s", r.URL)
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page < 1 {
			page = 1
		}
		var items []string
		for i := (page - 1) * size; i < min(page*size, n); i++ {
			items = append(items, docJSON(i))
		}
		list := "[" + strings.Join(items, ",") + "]"
		next := ""
		if page*size < n {
			next = fmt.Sprintf("/documents?synchronized=false&itemsPerPage=%d&page=%d", size, page+1)
		}
		switch shape {
		case "array":
			fmt.Fprint(w, list)
		case "hydra":
			view := `{"@id":"x"}`
			if next != "" {
				view = fmt.Sprintf(`{"@id":"x","hydra:next":%q}`, next)
			}
			fmt.Fprintf(w, `{"@context":"/contexts/Document","hydra:member":%s,"hydra:totalItems":%d,"hydra:view":%s}`, list, n, view)
		case "member":
			view := `{}`
			if next != "" {
				view = fmt.Sprintf(`{"next":%q}`, "http://"+r.Host+next) // absolute this time
			}
			fmt.Fprintf(w, `{"member":%s,"totalItems":%d,"view":%s}`, list, n, view)
		}
	}))
}

func TestListAllShapesAllPages(t *testing.T) {
	for _, shape := range []string{"array", "hydra", "member"} {
		t.Run(shape, func(t *testing.T) {
			ts := pagedServer(t, 250, 100, shape)
			defer ts.Close()
			c, _, _ := newClient(t, ts.URL, nil)
			docs, err := c.ListUnsynchronized(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != 250 {
				t.Fatalf("%d documents, want 250", len(docs))
			}
			seen := map[string]bool{}
			for _, d := range docs {
				if seen[d.UUID] || d.PDF.URL == "" || d.Patient.LastName != "Doe" {
					t.Fatalf("bad or duplicate document %+v", d)
				}
				seen[d.UUID] = true
			}
			if got := c.Stats().APIRequests; got != 3 {
				t.Fatalf("%d requests for 3 pages", got)
			}
		})
	}
}

func TestListStopsOnHostilePaging(t *testing.T) {
	// An array server that ignores page= (always the same full page).
	same := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var items []string
		for i := 0; i < 100; i++ {
			items = append(items, docJSON(i))
		}
		fmt.Fprint(w, "["+strings.Join(items, ",")+"]")
	}))
	defer same.Close()
	c, _, _ := newClient(t, same.URL, nil)
	docs, err := c.ListUnsynchronized(context.Background())
	if err != nil || len(docs) != 100 || c.Stats().APIRequests != 2 {
		t.Fatalf("ignoring page=: %d docs, %d requests, %v", len(docs), c.Stats().APIRequests, err)
	}

	// A Hydra next link to another host is not followed with the token.
	var leaked bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("Authorization") != ""
		fmt.Fprint(w, `[]`)
	}))
	defer other.Close()
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"hydra:member":[%s],"hydra:view":{"hydra:next":%q}}`, docJSON(1), other.URL+"/documents?page=2")
	}))
	defer foreign.Close()
	c, _, _ = newClient(t, foreign.URL, nil)
	_, err = c.ListUnsynchronized(context.Background())
	if clinicsync.ErrorCode(err) != clinicsync.EBadResponse || leaked {
		t.Fatalf("foreign next link: %v (token leaked: %v)", err, leaked)
	}

	// A body that is neither an array nor a collection.
	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"title":"oops"}`)
	}))
	defer junk.Close()
	c, _, _ = newClient(t, junk.URL, func(o *Options) { o.MaxAttempts = 1 })
	if _, err := c.ListUnsynchronized(context.Background()); clinicsync.ErrorCode(err) != clinicsync.EBadResponse {
		t.Fatalf("junk body: %v", err)
	}
}

func TestSetStatusBody(t *testing.T) {
	var got []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+string(b))
		fmt.Fprint(w, `{"success":true}`)
	}))
	defer ts.Close()
	c, _, _ := newClient(t, ts.URL, nil)
	ctx := context.Background()
	if err := c.SetStatus(ctx, "a/b", clinicsync.Status{Success: true, Directory: "your_software_id",
		Path: `C:\YourSoftware\Documents\Patients\DOE_JOHN\document.pdf`}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(ctx, "x", clinicsync.Status{Success: false, Error: "The file is not a PDF."}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`POST /documents/a%2Fb/status application/json {"success":true,"directory":"your_software_id","path":"C:\\YourSoftware\\Documents\\Patients\\DOE_JOHN\\document.pdf"}`,
		`POST /documents/x/status application/json {"success":false,"error":"The file is not a PDF."}`,
	}
	// The server sees the escaped path as Path "/documents/a/b/status" unless RawPath is kept; compare loosely.
	if len(got) != 2 || !strings.HasSuffix(got[0], want[0][strings.Index(want[0], " application"):]) || got[1] != want[1] {
		t.Fatalf("status calls:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestErrorClassesAndRetries(t *testing.T) {
	var mu sync.Mutex
	script := []int{503, 502, 200}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		code := 200
		if len(script) > 0 {
			code, script = script[0], script[1:]
		}
		mu.Unlock()
		switch r.URL.Path {
		case "/documents/gone":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(404)
			fmt.Fprint(w, `{"title":"Not Found","detail":"Document \u0007not found\n"}`)
			return
		case "/documents/denied":
			w.WriteHeader(403)
			return
		case "/documents/revoked":
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(code)
		fmt.Fprint(w, `{"uuid":"ok","pdf":{"url":"https://f/x"}}`)
	}))
	defer ts.Close()
	c, fs, logs := newClient(t, ts.URL, nil)
	ctx := context.Background()
	d, err := c.GetDocument(ctx, "ok")
	if err != nil || d.UUID != "ok" || c.Stats().Retries != 2 || len(fs.waits) != 2 {
		t.Fatalf("5xx then 200: %+v %v, stats %+v, waits %v", d, err, c.Stats(), fs.waits)
	}
	_, err = c.GetDocument(ctx, "gone")
	if clinicsync.ErrorCode(err) != clinicsync.ENotFound || strings.ContainsAny(clinicsync.ErrorMessage(err), "\a\n") {
		t.Fatalf("404: %q", clinicsync.ErrorMessage(err))
	}
	if ok, _ := clinicsync.IsRetryable(err); ok {
		t.Fatal("404 must be permanent")
	}
	if _, err = c.GetDocument(ctx, "denied"); clinicsync.ErrorCode(err) != clinicsync.EForbidden {
		t.Fatalf("403: %v", err)
	}
	if _, err = c.GetDocument(ctx, "revoked"); clinicsync.ErrorCode(err) != clinicsync.EUnauthorized {
		t.Fatalf("401: %v", err)
	}
	if strings.Contains(logs.String(), secretToken) || strings.Contains(fmt.Sprint(err), secretToken) {
		t.Fatal("the token reached a log or an error")
	}

	dead := httptest.NewServer(nil)
	dead.Close()
	c, _, _ = newClient(t, dead.URL, nil)
	_, err = c.GetDocument(ctx, "x")
	if ok, _ := clinicsync.IsRetryable(err); !ok || clinicsync.ErrorCode(err) != clinicsync.EUnavailable {
		t.Fatalf("unreachable: %v", err)
	}
	if c.Stats().APIRequests != 4 {
		t.Fatalf("%d attempts, want 4", c.Stats().APIRequests)
	}
}

func Test429HonoursRetryAfter(t *testing.T) {
	n := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
			return
		}
		fmt.Fprint(w, `[]`)
	}))
	defer ts.Close()
	c, fs, _ := newClient(t, ts.URL, nil)
	if _, err := c.ListUnsynchronized(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(fs.waits) != 1 || fs.waits[0] != 7*time.Second || c.Stats().Throttled429 != 1 {
		t.Fatalf("waits %v, stats %+v", fs.waits, c.Stats())
	}
}

// A bucket server that answers 429 when empty and refills with the fake
// clock: a client that reads the headers never meets a 429.
func TestPacingNeverProvokes429(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tokens, limit, refill, every := 30, 30, 10, time.Minute
	lastRefill := now
	over := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		for now.Sub(lastRefill) >= every {
			tokens = min(limit, tokens+refill)
			lastRefill = lastRefill.Add(every)
		}
		w.Header().Set("x-ratelimit-limit", strconv.Itoa(limit))
		w.Header().Set("x-ratelimit-reset", strconv.FormatInt(lastRefill.Add(every).Unix(), 10))
		if tokens == 0 {
			over++
			w.Header().Set("x-ratelimit-remaining", "0")
			w.WriteHeader(429)
			return
		}
		tokens--
		w.Header().Set("x-ratelimit-remaining", strconv.Itoa(tokens))
		fmt.Fprint(w, `{"success":true}`)
	}))
	defer ts.Close()
	c, _, _ := newClient(t, ts.URL, func(o *Options) {
		o.Now = clock
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			now = now.Add(d)
			mu.Unlock()
			return nil
		}
	})
	for i := 0; i < 100; i++ {
		if err := c.SetStatus(context.Background(), fmt.Sprint(i), clinicsync.Status{Success: true}); err != nil {
			t.Fatal(err)
		}
	}
	if over != 0 || c.Stats().RateLimitWaits == 0 {
		t.Fatalf("%d requests met an empty bucket; %d pacing waits", over, c.Stats().RateLimitWaits)
	}
}

func TestOpenPDF(t *testing.T) {
	var auth []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "%PDF-1.7 body")
		case "/expired":
			w.WriteHeader(403)
			fmt.Fprint(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
		case "/missing":
			w.WriteHeader(404)
		case "/stall":
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			fmt.Fprint(w, "%PDF-")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	defer ts.Close()
	c, _, _ := newClient(t, "https://api.example", func(o *Options) { o.StallAfter = 100 * time.Millisecond })
	ctx := context.Background()
	rc, err := c.OpenPDF(ctx, ts.URL+"/ok?signature=s3cr3t")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "%PDF-1.7 body" {
		t.Fatalf("body %q", b)
	}
	_, err = c.OpenPDF(ctx, ts.URL+"/expired?signature=s3cr3t")
	if clinicsync.ErrorCode(err) != clinicsync.ELinkExpired || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("expired: %v", err)
	}
	if _, err = c.OpenPDF(ctx, ts.URL+"/missing"); clinicsync.ErrorCode(err) != clinicsync.ENotFound {
		t.Fatalf("missing: %v", err)
	}
	rc, err = c.OpenPDF(ctx, ts.URL+"/stall?signature=s3cr3t")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(rc); done <- err }()
	select {
	case err := <-done:
		if ok, _ := clinicsync.IsRetryable(err); !ok || !strings.Contains(clinicsync.ErrorMessage(err), "stalled") ||
			strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("stalled body: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stalled download hung")
	}
	rc.Close()
	for _, a := range auth {
		if a != "" {
			t.Fatal("the API token was sent to the file host")
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	ts := pagedServer(t, 120, 50, "hydra")
	defer ts.Close()
	c, _, _ := newClient(t, ts.URL, nil)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			docs, err := c.ListUnsynchronized(context.Background())
			if err != nil || len(docs) != 120 {
				t.Errorf("%d docs, %v", len(docs), err)
			}
		}()
	}
	wg.Wait()
}

func FuzzDecodeCollection(f *testing.F) {
	for _, s := range []string{`[]`, `[{"uuid":"a"}]`, `{"hydra:member":[],"hydra:view":{"hydra:next":"/d?page=2"}}`,
		`{"member":[{"uuid":"x"}],"view":{"next":"/n"}}`, `{"hydra:member":null}`, `null`, `"x"`, `{`, `[1,2`,
		` [ {"uuid": 1} ] `, `{"member":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		items, next, err := DecodeCollection(bytes.NewReader(b))
		if err != nil && (items != nil || next != "") {
			t.Fatalf("error with results: %v %d %q", err, len(items), next)
		}
		for _, it := range items {
			if !json.Valid(it) {
				t.Fatalf("invalid item %q", it)
			}
		}
	})
}
