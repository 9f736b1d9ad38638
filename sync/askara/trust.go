package askara

import (
	"net/url"
	"strings"
	"sync"

	"github.com/clinicsync/clinicsync"
)

// linkOrigins remembers where the API's own answers (the list and GET of
// documents) have pointed PDF links: its own origin and the pre-signed
// storage it uses. A webhook body that nobody signed may name any URL; the
// engine follows such a link only when TrustsLink says the API itself uses
// that origin, so a local web page cannot make Clinic Sync fetch a URL of
// its choice (a router's page, another local service) and file the answer
// as a patient's PDF.
type linkOrigins struct {
	mu sync.Mutex
	m  map[string]bool
}

// origin is scheme://host:port in lower case, "" for a URL that is not an
// absolute http(s) URL.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")) + ":" + port(u)
}

func (o *linkOrigins) add(raw string) {
	k := origin(raw)
	if k == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]bool{}
	}
	if len(o.m) < 64 { // a handful in practice; a flood of origins is not remembered
		o.m[k] = true
	}
}

func (o *linkOrigins) has(k string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[k]
}

// noteLinks records the origins of the PDF links in the API's answers.
func (c *Client) noteLinks(ds ...clinicsync.Document) {
	for _, d := range ds {
		if d.PDF.URL != "" {
			c.links.add(d.PDF.URL)
		}
	}
}

// TrustsLink reports whether a PDF link points at the API's own origin or
// at an origin the API's list or GET answers have used for PDF links.
func (c *Client) TrustsLink(link string) bool {
	k := origin(link)
	if k == "" {
		return false
	}
	return k == origin(c.base.String()) || c.links.has(k)
}
