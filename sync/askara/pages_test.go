package askara

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"golang.org/x/oauth2"
)

// ListUnsynchronizedPages hands each page over before it asks for the
// next (so that the engine's downloads start while the list goes on), each
// document once, and all of them together are what ListUnsynchronized
// returns.
func TestListPagesHandsEachPageOverBeforeTheNext(t *testing.T) {
	const total, per = 250, 100
	var requests atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		var items []string
		for i := (page - 1) * per; i < min(page*per, total); i++ {
			items = append(items, fmt.Sprintf(`{"uuid":"d%d","pdf":{"url":"https://f/x","fileName":"a.pdf"}}`, i))
		}
		fmt.Fprint(w, "["+strings.Join(items, ",")+"]")
	}))
	defer ts.Close()
	c, err := New(Options{BaseURL: ts.URL, TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var sizes []int
	err = c.ListUnsynchronizedPages(context.Background(), func(docs []clinicsync.Document) error {
		if got := int(requests.Load()); got != len(sizes)+1 {
			t.Errorf("page %d handed over after %d list requests: the next page was asked for first", len(sizes)+1, got)
		}
		sizes = append(sizes, len(docs))
		for _, d := range docs {
			if seen[d.UUID] {
				t.Errorf("%s handed over twice", d.UUID)
			}
			seen[d.UUID] = true
		}
		return nil
	})
	if err != nil || len(seen) != total || fmt.Sprint(sizes) != "[100 100 50]" {
		t.Fatalf("pages %v, %d documents, %v", sizes, len(seen), err)
	}
	// The callback's error ends the listing: no further page is asked for.
	requests.Store(0)
	stop := fmt.Errorf("stop")
	if err := c.ListUnsynchronizedPages(context.Background(), func([]clinicsync.Document) error { return stop }); err != stop {
		t.Fatalf("err = %v, want the callback's", err)
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("%d list requests after the callback refused the first page", n)
	}
}

// RequestBudget is what the server says remains, less the reserve the
// client keeps; unknown (-1) before any answer.
func TestRequestBudgetKeepsTheReserve(t *testing.T) {
	clock := newFakeClock()
	b := newBucketServer(t, clock, 5000, 5000, 500, 15*time.Minute, false)
	c, _, _ := newTestClient(t, b.URL, func(o *Options) { o.Now, o.Sleep = clock.Now, clock.Sleep })
	if n := c.RequestBudget(); n != -1 {
		t.Fatalf("budget before any answer = %d, want -1", n)
	}
	if err := c.SetStatus(context.Background(), "d1", clinicsync.Status{Success: true}); err != nil {
		t.Fatal(err)
	}
	// 4999 left, less the reserve of 100 (limit/50).
	if n := c.RequestBudget(); n != 4899 {
		t.Fatalf("budget = %d, want 4899", n)
	}
	clock.Sleep(context.Background(), 16*time.Minute)
	if n := c.RequestBudget(); n != -1 {
		t.Fatalf("budget after the window passed = %d, want -1", n)
	}
}
