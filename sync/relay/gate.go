package relay

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// hostPort is a host (lower case, no trailing dot) and its port ("" when
// the Host header may leave it out).
type hostPort struct{ host, port string }

// SetPublicURL changes the public address whose host the relay answers to
// (Settings may change it without a restart).
func (s *Server) SetPublicURL(public string) {
	hp := hostPort{}
	if u, err := url.Parse(strings.TrimSpace(public)); err == nil && u.Hostname() != "" {
		hp.host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		hp.port = u.Port()
		if hp.port == "" {
			hp.port = map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
		}
	}
	s.public.Store(&hp)
}

// gate refuses what no platform's server sends, before anything else is
// read. A Host that does not name this relay is DNS rebinding: a web page
// whose own name now resolves to 127.0.0.1 posts "same-origin" to it (421).
// On the webhook paths, a browser's own headers (Origin, a Sec-Fetch-Site
// other than "none") mean a web page sent the request (403): servers that
// deliver webhooks send neither.
func (s *Server) gate(r *http.Request, hook bool) *refusal {
	if !s.hostAllowed(r.Host) {
		return &refusal{http.StatusMisdirectedRequest, "wrong_host",
			"the Host header (" + clean(r.Host) + ") does not name this relay; only its loopback address and the public URL's host are answered"}
	}
	if !hook {
		return nil
	}
	if len(r.Header.Values("Origin")) > 0 {
		return &refusal{http.StatusForbidden, "browser_request", "requests from a web page (with an Origin header) are refused"}
	}
	if v := r.Header.Get("Sec-Fetch-Site"); v != "" && v != "none" {
		return &refusal{http.StatusForbidden, "browser_request", "requests from a web page (Sec-Fetch-Site " + clean(v) + ") are refused"}
	}
	return nil
}

// hostAllowed reports whether a Host header names this relay: a loopback
// name or address with the relay's port, the listen address itself when it
// is not loopback (a LAN sender; every platform is signed there), any IP
// address with the relay's port when listening on all addresses (an IP
// literal cannot be rebound: the page's origin would be the relay), or the
// host of the public URL, with its port or none.
func (s *Server) hostAllowed(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), ""
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return false
	}
	if pub := s.public.Load(); pub != nil && pub.host != "" && host == pub.host && (port == "" || port == pub.port) {
		return true
	}
	if port == "" {
		port = "80"
	}
	if port != s.port {
		return false
	}
	ip := net.ParseIP(host)
	switch {
	case host == "localhost", ip != nil && ip.IsLoopback():
		return true
	case ip != nil && s.listenIP != nil:
		return ip.Equal(s.listenIP)
	case ip != nil:
		return !s.loopback // listening on every address
	}
	return false
}
