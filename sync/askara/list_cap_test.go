package askara

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// A plain-array server that caps itemsPerPage below the 100 asked for:
// short pages are not the last page, and every document is still listed.
func TestArrayServerCappingPageSize(t *testing.T) {
	for _, total := range []int{0, 7, 30, 75, 90} {
		requests := 0
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests++
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			var items []string
			for i := (page - 1) * 30; i < min(page*30, total); i++ {
				items = append(items, fmt.Sprintf(`{"uuid":"d%d","pdf":{"url":"https://f/x","fileName":"a.pdf"}}`, i))
			}
			fmt.Fprint(w, "["+strings.Join(items, ",")+"]")
		}))
		c, err := New(Options{BaseURL: ts.URL, TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})})
		if err != nil {
			t.Fatal(err)
		}
		docs, err := c.ListUnsynchronized(context.Background())
		ts.Close()
		if err != nil || len(docs) != total {
			t.Fatalf("total %d: listed %d, %v", total, len(docs), err)
		}
		// One request per page, plus at most one to find the end.
		if requests > total/30+2 {
			t.Fatalf("total %d: %d requests", total, requests)
		}
	}
}
