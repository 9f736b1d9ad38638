package askara

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"

	"github.com/clinicsync/clinicsync"
)

// walkPages reads every page of the collection at u, in the shapes Askara
// may send (Hydra or un-prefixed next links, or a plain array paged with
// page=N, a server capping itemsPerPage included). decode reads one item
// and its id (an error: the item is skipped, counted and reported, see
// OnUnusable); add receives each
// id's item once, and flush (unless nil), after each page's items, may
// hand them on before the next page is asked for (its error ends the walk
// and is returned). The walk ends with the collection, on a page that repeats
// the previous one or brings nothing new, after maxPages (truncated), or
// when stop, asked whenever another page exists, says enough (truncated).
// Next links to another server are refused. o says which list it is, for
// the error sentences.
func walkPages[T any](ctx context.Context, c *Client, u *url.URL, o op,
	decode func(json.RawMessage) (T, string, error), add func(T), flush func() error, stop func() bool) (truncated bool, err error) {
	var (
		kind     = path.Base(u.Path) // "documents", "notes": for the debug log
		seen     = map[string]bool{}
		visited  = map[string]bool{u.String(): true}
		prevIDs  []string
		prevHash [sha256.Size]byte
		page     = 1
		firstLen int // size of the first page of a plain array
	)
	for n := 1; ; n++ {
		if n > c.maxPages {
			c.log.Warn("askara list truncated", "list", kind, "pages", c.maxPages)
			return true, nil
		}
		var (
			items []json.RawMessage
			next  string
			array bool
		)
		err := c.do(ctx, call{method: http.MethodGet, url: u, op: o, parse: func(b []byte) error {
			var err error
			items, next, array, err = decodeCollection(bytes.NewReader(b))
			return err
		}})
		if err != nil {
			return false, err
		}
		ids := make([]string, 0, len(items))
		fresh := 0
		h := sha256.New()
		for _, raw := range items {
			h.Write(raw)
			h.Write([]byte{0})
			v, id, err := decode(raw)
			if err != nil {
				c.nSkipped.Add(1)
				// The reason names a field, never a value.
				c.log.Debug("askara list item skipped", "list", kind, "page", n, "reason", err.Error())
				c.unusableItem(o, raw, err)
				continue
			}
			ids = append(ids, id)
			if !seen[id] {
				seen[id] = true
				fresh++
				add(v)
			}
		}
		if flush != nil {
			if err := flush(); err != nil {
				return false, err
			}
		}
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		switch {
		case len(items) == 0:
			return false, nil
		case n > 1 && (sum == prevHash || (len(ids) > 0 && slices.Equal(ids, prevIDs))):
			c.log.Debug("askara list: page repeats the previous one", "list", kind, "page", n)
			return false, nil
		case len(ids) > 0 && fresh == 0:
			c.log.Debug("askara list: page brings nothing new", "list", kind, "page", n)
			return false, nil
		}
		prevIDs, prevHash = ids, sum
		var nu *url.URL
		if array {
			// A short page is the last one, except that a server may cap
			// itemsPerPage below what was asked: a short first page sets
			// the real page size, and page 2 tells which case it is.
			if n == 1 {
				firstLen = len(items)
			}
			if n > 1 && len(items) < firstLen {
				return false, nil
			}
			page++
			q := u.Query()
			q.Set("page", strconv.Itoa(page))
			v := *u
			v.RawQuery = q.Encode()
			nu = &v
		} else {
			if next == "" {
				return false, nil
			}
			ref, err := url.Parse(next)
			if err != nil {
				return false, clinicsync.Permanent(clinicsync.EBadResponse, "Askara sent an unreadable link to the next page.", nil)
			}
			nu = u.ResolveReference(ref)
			nu.Fragment = ""
			if !sameOrigin(nu, c.base) || nu.User != nil {
				return false, clinicsync.Permanent(clinicsync.EBadResponse,
					"Askara sent a link to the next page on another server; it was not followed.", nil)
			}
			if visited[nu.String()] {
				return false, nil
			}
			visited[nu.String()] = true
		}
		if stop != nil && stop() {
			return true, nil
		}
		u = nu
	}
}
