package netclient_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync/sync/netclient"
	"github.com/clinicsync/clinicsync/sync/netclient/testproxy"
)

// apiHost is a name nothing resolves: only the test proxy (its Hosts
// map) or a test dialer (mapDial) reaches it.
const apiHost = "api.askara.test"

// backend is the platform for a test: a TLS server for apiHost, with a
// certificate from its own authority (trusted through ca_file), and the
// same handler over plain HTTP.
type backend struct {
	TLS, Plain *httptest.Server
	CA         *testproxy.CA
	CAFile     string
}

func newBackend(t *testing.T, h http.Handler) *backend {
	t.Helper()
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok "+r.URL.Path) })
	}
	ca, err := testproxy.NewCA("Askara Test Root")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf(apiHost)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{CA: ca, TLS: httptest.NewUnstartedServer(h), Plain: httptest.NewServer(h)}
	b.TLS.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	b.TLS.StartTLS()
	t.Cleanup(b.TLS.Close)
	t.Cleanup(b.Plain.Close)
	b.CAFile = filepath.Join(t.TempDir(), "askara-ca.pem")
	if err := os.WriteFile(b.CAFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func hostOf(u string) string { return strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://") }

// startProxy starts a test proxy that resolves apiHost to the backend
// (TLS for CONNECT, plain for forwarded http://).
func startProxy(t *testing.T, b *backend, o testproxy.Options) *testproxy.Proxy {
	t.Helper()
	if o.Hosts == nil {
		o.Hosts = map[string]string{apiHost: hostOf(b.TLS.URL)}
	}
	p, err := testproxy.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// noEnv is an environment without proxy variables.
func noEnv(string) string { return "" }

// env is an environment with these variables.
func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// noSystem is a PC without system proxy settings.
func noSystem() netclient.SystemSettings { return netclient.SystemSettings{} }

// online is a PC with a network address.
func online() ([]net.Addr, error) {
	return []net.Addr{&net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(8, 32)},
		&net.IPNet{IP: net.IPv4(192, 0, 2, 10), Mask: net.CIDRMask(24, 32)}}, nil
}

// mapDial dials names as the map says (a test's DNS), and refuses the rest
// as the real resolver does for a name it cannot find.
func mapDial(hosts map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if to, ok := hosts[host]; ok {
			addr = to
		} else if net.ParseIP(host) == nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
}

func newClient(t *testing.T, o netclient.Options) *netclient.Client {
	t.Helper()
	if o.Getenv == nil {
		o.Getenv = noEnv
	}
	if o.System == nil {
		o.System = noSystem
	}
	if o.Addrs == nil {
		o.Addrs = online
	}
	if o.DialContext == nil {
		o.DialContext = mapDial(nil)
	}
	c, err := netclient.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, c *netclient.Client, u string) (string, error) {
	t.Helper()
	resp, err := c.HTTP().Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
