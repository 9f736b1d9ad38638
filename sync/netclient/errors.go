package netclient

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// RouteError wraps every failed round trip of the client: the route the
// request took (the proxy and where it came from) and whether this PC had
// a network address at the time. sync/askara's errors.go turns it into a
// sentence; nothing else classifies network errors.
type RouteError struct {
	Route   Route
	Offline bool // no interface had an address other than loopback or link-local
	Err     error
}

func (e *RouteError) Error() string {
	if e.Route.Proxy != nil {
		return "via proxy " + e.Route.Proxy.Host + " (" + string(e.Route.Source) + "): " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *RouteError) Unwrap() error { return e.Err }

// Timeout reports a timeout underneath, so that *url.Error's Timeout
// still tells one.
func (e *RouteError) Timeout() bool {
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// ProxyAuthError is a proxy's 407: it asks for a sign-in, or refused
// the one it was given.
type ProxyAuthError struct {
	Proxy   string   // host:port
	Schemes []string // what the proxy offers: "Basic", "NTLM", "Negotiate"
	// Refused: the sign-in kept in the keychain was sent and refused.
	// Otherwise none is kept (or none for a scheme the proxy offers).
	Refused bool
}

func (e *ProxyAuthError) Error() string {
	if e.Refused {
		return fmt.Sprintf("proxy %s refused the proxy credentials (407; offers %s)", e.Proxy, strings.Join(e.Schemes, ", "))
	}
	return fmt.Sprintf("proxy %s requires authentication (407; offers %s)", e.Proxy, strings.Join(e.Schemes, ", "))
}

// ProxyStatusError is a proxy's refusal to open a tunnel (CONNECT) to the
// target: 502 when it could not reach it, 403 when its rules forbid it.
type ProxyStatusError struct {
	Proxy  string // host:port
	Target string // host:port asked
	Status int
}

func (e *ProxyStatusError) Error() string {
	return fmt.Sprintf("proxy %s answered HTTP %d to CONNECT %s", e.Proxy, e.Status, e.Target)
}
