package sim

import (
	"encoding/json"
	"github.com/clinicsync/clinicsync/sync/clocktest"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

func newFakeClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
}

type tclient struct {
	t     testing.TB
	base  string
	hc    *http.Client
	token string
}

// start serves s on an httptest server and returns a client for it.
func start(t testing.TB, s *Server) *tclient {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	s.SetBaseURL(ts.URL)
	return &tclient{t: t, base: ts.URL, hc: ts.Client(), token: "test-token"}
}

// do sends a request; target is a path (API) or an absolute URL (links).
// hdr is name, value pairs. A nil error is required unless the caller uses
// try.
func (c *tclient) do(method, target, body string, hdr ...string) (*http.Response, []byte) {
	c.t.Helper()
	resp, b, err := c.try(method, target, body, hdr...)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, target, err)
	}
	return resp, b
}

func (c *tclient) try(method, target, body string, hdr ...string) (*http.Response, []byte, error) {
	u := target
	if strings.HasPrefix(target, "/") {
		u = c.base + target
	}
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rb)
	if err != nil {
		return nil, nil, err
	}
	if strings.HasPrefix(target, "/") && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func (c *tclient) status(uuid string, st clinicsync.Status) int {
	c.t.Helper()
	b, _ := json.Marshal(st)
	resp, _ := c.do("POST", "/documents/"+uuid+"/status", string(b))
	return resp.StatusCode
}

// page is a decoded collection page in any of the three formats.
type page struct {
	items []clinicsync.Document
	raw   []map[string]json.RawMessage
	total int
	next  string
}

func decodePage(t testing.TB, format string, b []byte) page {
	t.Helper()
	var p page
	rawItems, total, next := decodeCollectionBody(t, format, b)
	p.total, p.next = total, next
	for _, ri := range rawItems {
		var d clinicsync.Document
		var m map[string]json.RawMessage
		if err := json.Unmarshal(ri, &d); err != nil {
			t.Fatalf("item: %v: %s", err, ri)
		}
		json.Unmarshal(ri, &m)
		p.items = append(p.items, d)
		p.raw = append(p.raw, m)
	}
	return p
}

// listAll collects every document of a listing the way a client must:
// following next links, or asking page=N+1 until a short page.
func (c *tclient) listAll(format, query string, perPage int) ([]clinicsync.Document, []map[string]json.RawMessage) {
	c.t.Helper()
	var docs []clinicsync.Document
	var raws []map[string]json.RawMessage
	target := "/documents?" + query
	for pageNo := 1; pageNo < 10000; pageNo++ {
		resp, b := c.do("GET", target, "")
		if resp.StatusCode != 200 {
			c.t.Fatalf("GET %s: %d %s", target, resp.StatusCode, b)
		}
		p := decodePage(c.t, format, b)
		docs = append(docs, p.items...)
		raws = append(raws, p.raw...)
		if format == FormatArray {
			if len(p.items) < perPage || len(p.items) == 0 {
				return docs, raws
			}
			target = "/documents?" + query + "&page=" + strconv.Itoa(pageNo+1)
			continue
		}
		if p.next == "" {
			return docs, raws
		}
		target = p.next
	}
	c.t.Fatal("paging does not end")
	return nil, nil
}

// decodeCollectionBody splits a collection body in any of the three
// formats into its raw items, total (-1 for a plain array) and next link.
func decodeCollectionBody(t testing.TB, format string, b []byte) (rawItems []json.RawMessage, total int, next string) {
	t.Helper()
	var p struct {
		total int
		next  string
	}
	switch format {
	case FormatArray:
		if err := json.Unmarshal(b, &rawItems); err != nil {
			t.Fatalf("array body: %v: %s", err, b)
		}
		p.total = -1
	case FormatMember:
		var c struct {
			Member     []json.RawMessage `json:"member"`
			TotalItems int               `json:"totalItems"`
			View       struct {
				Next string `json:"next"`
			} `json:"view"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("member body: %v: %s", err, b)
		}
		rawItems, p.total, p.next = c.Member, c.TotalItems, c.View.Next
	default:
		var c struct {
			Member     []json.RawMessage `json:"hydra:member"`
			TotalItems int               `json:"hydra:totalItems"`
			View       struct {
				Next string `json:"hydra:next"`
			} `json:"hydra:view"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("hydra body: %v: %s", err, b)
		}
		rawItems, p.total, p.next = c.Member, c.TotalItems, c.View.Next
	}
	return rawItems, p.total, p.next
}
