package askara

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// testToken is the access token of every test client; it must never show
// in an error or a log line.
const testToken = "tok-SECRET-9f8e7d6c5b4a"

// fakeClock is the Now and Sleep of a client under test: Sleep records the
// duration and moves the clock forward, at once.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.sleeps = append(f.sleeps, d)
	f.now = f.now.Add(d)
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestClient is a client of base with the fake clock and debug logs
// captured; mod changes the options before New.
func newTestClient(t *testing.T, base string, mod func(*Options)) (*Client, *fakeClock, *lockedBuffer) {
	t.Helper()
	clock := newFakeClock()
	logs := &lockedBuffer{}
	o := Options{
		BaseURL:     base,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken}),
		Now:         clock.Now,
		Sleep:       clock.Sleep,
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, clock, logs
}

// docJSON is a listed document with patient data and a pre-signed link.
func docJSON(uuid string) string {
	return fmt.Sprintf(`{"@id":"/documents/%[1]s","uuid":%[1]q,"type":"referral_letter","state":"verified",`+
		`"patient":{"uuid":"p-%[1]s","externalId":"EXT-%[1]s","firstName":"Johnathan","lastName":"Doemann"},`+
		`"pdf":{"url":"https://files.example/%[1]s.pdf?X-Amz-Signature=sig-%[1]s","fileName":"letter-%[1]s.pdf"},`+
		`"someFutureField":{"nested":[1,2,3]}}`, uuid)
}

func uuids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("doc-%04d", i)
	}
	return out
}

// listServer serves the given documents as GET /documents in one shape
// ("array", "hydra", "member"), honouring page and itemsPerPage, with next
// links relative or absolute. It checks the token and the Accept header.
type listServer struct {
	*httptest.Server
	t        *testing.T
	shape    string
	absolute bool
	mu       sync.Mutex
	docs     []string
	queries  []string
}

func newListServer(t *testing.T, shape string, absolute bool, ids []string) *listServer {
	s := &listServer{t: t, shape: shape, absolute: absolute, docs: ids}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *listServer) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

func (s *listServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		s.t.Errorf("list request without the token: %q", r.Header.Get("Authorization"))
		w.WriteHeader(401)
		return
	}
	if a := r.Header.Get("Accept"); !strings.Contains(a, "application/ld+json") || !strings.Contains(a, "application/json") {
		s.t.Errorf("Accept %q", a)
	}
	if r.Method != http.MethodGet || r.URL.Path != "/documents" {
		s.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		w.WriteHeader(404)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	s.queries = append(s.queries, r.URL.RawQuery)
	docs := s.docs
	s.mu.Unlock()
	page, _ := strconv.Atoi(q.Get("page"))
	per, _ := strconv.Atoi(q.Get("itemsPerPage"))
	if page < 1 {
		page = 1
	}
	if per < 1 || per > 100 {
		per = 20
	}
	var items []string
	for i := (page - 1) * per; i < min(page*per, len(docs)); i++ {
		items = append(items, docJSON(docs[i]))
	}
	list := "[" + strings.Join(items, ",") + "]"
	next := ""
	if page*per < len(docs) {
		next = fmt.Sprintf("/documents?synchronized=false&itemsPerPage=%d&page=%d", per, page+1)
		if s.absolute {
			next = "http://" + r.Host + next
		}
	}
	w.Header().Set("Content-Type", "application/ld+json; charset=utf-8")
	switch s.shape {
	case "array":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, list)
	case "hydra":
		view := `{"@id":"/documents?page=1","@type":"hydra:PartialCollectionView"}`
		if next != "" {
			view = fmt.Sprintf(`{"@id":"x","@type":"hydra:PartialCollectionView","hydra:first":"/documents?page=1","hydra:next":%q}`, next)
		}
		fmt.Fprintf(w, `{"@context":"/contexts/Document","@id":"/documents","@type":"hydra:Collection",`+
			`"hydra:member":%s,"hydra:totalItems":%d,"hydra:view":%s}`, list, len(docs), view)
	case "member":
		view := `{"@id":"x"}`
		if next != "" {
			view = fmt.Sprintf(`{"@id":"x","next":%q}`, next)
		}
		fmt.Fprintf(w, `{"@context":"/contexts/Document","member":%s,"totalItems":%d,"view":%s}`, list, len(docs), view)
	}
}
