package askara

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

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/netclient"
	"github.com/clinicsync/clinicsync/sync/netclient/testproxy"
)

// The platform at a name nothing resolves: only the test proxy (or a
// test dialer) reaches it, as a clinic's proxy reaches Askara.
const netAPI = "https://api.askara.test"

// netPlatform is a TLS server for api.askara.test whose authority is in
// the returned ca_file, answering h.
func netPlatform(t *testing.T, h http.Handler) (addr, caFile string) {
	t.Helper()
	ca, err := testproxy.NewCA("Askara Test Root")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf("api.askara.test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(srv.URL, "https://"), caFile
}

func emptyList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/ld+json")
		io.WriteString(w, `{"hydra:member":[],"hydra:totalItems":0}`)
	})
}

// netOptions is a netclient on a PC with a network, no proxy variables
// and no system proxy, dialing names through hosts only.
func netOptions(hosts map[string]string) netclient.Options {
	return netclient.Options{
		Getenv: func(string) string { return "" },
		System: func() netclient.SystemSettings { return netclient.SystemSettings{} },
		Addrs: func() ([]net.Addr, error) {
			return []net.Addr{&net.IPNet{IP: net.IPv4(192, 0, 2, 10), Mask: net.CIDRMask(24, 32)}}, nil
		},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if to, ok := hosts[host]; ok {
				addr = to
			} else if net.ParseIP(host) == nil {
				return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
}

// listVia lists documents at base through a netclient built from o and
// returns the failure's sentence ("" on success).
func listVia(t *testing.T, base string, o netclient.Options) string {
	t.Helper()
	nc, err := netclient.New(o)
	if err != nil {
		t.Fatal(err)
	}
	c, _, _ := newTestClient(t, base, func(co *Options) { co.HTTPClient = nc.HTTP(); co.MaxAttempts = 1 })
	_, err = c.ListUnsynchronized(context.Background())
	if err != nil && clinicsync.ErrorCode(err) != clinicsync.EUnavailable {
		t.Errorf("%s: code %s, want %s (retryable)", base, clinicsync.ErrorCode(err), clinicsync.EUnavailable)
	}
	if strings.Contains(clinicsync.ErrorMessage(err), "s3cret") {
		t.Errorf("a proxy password in %q", clinicsync.ErrorMessage(err))
	}
	return clinicsync.ErrorMessage(err)
}

// A proxy that does not answer is named, with where it came from: the
// configuration, the environment, the system's manual proxy, its script.
func TestProxyDownNamesTheProxyAndItsSource(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nothing listens there any more: a real refusal
	tail := " does not answer: is it running, and is this PC on the clinic's network?"
	for _, c := range []struct {
		name string
		mod  func(*netclient.Options)
		want string
	}{
		{"config", func(o *netclient.Options) { o.Proxy = "http://" + down },
			"The proxy " + down + " (from the configuration file ([network] proxy))" + tail},
		{"environment", func(o *netclient.Options) {
			o.Getenv = func(k string) string {
				if k == "HTTPS_PROXY" {
					return "http://nurse:s3cret@" + down
				}
				return ""
			}
		}, "The proxy " + down + " (from the environment (HTTPS_PROXY))" + tail},
		{"system", func(o *netclient.Options) {
			o.System = func() netclient.SystemSettings {
				return netclient.SystemSettings{Manual: map[string]string{"": down}}
			}
		}, "The proxy " + down + " (from the system proxy settings)" + tail},
		{"pac", func(o *netclient.Options) {
			o.System = func() netclient.SystemSettings {
				return netclient.SystemSettings{Auto: true, PACURL: "http://wpad.clinic.lan/proxy.pac",
					FindProxy: func(string) string { return "PROXY " + down }}
			}
		}, "The proxy " + down + " (from the proxy script http://wpad.clinic.lan/proxy.pac)" + tail},
		{"wpad", func(o *netclient.Options) {
			o.System = func() netclient.SystemSettings {
				return netclient.SystemSettings{Auto: true, FindProxy: func(string) string { return down }}
			}
		}, "The proxy " + down + " (from the proxy script found by WPAD)" + tail},
	} {
		o := netOptions(nil)
		c.mod(&o)
		if got := listVia(t, netAPI, o); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

// A proxy's 407 says that it asks for a sign-in and where to enter it;
// a kept sign-in it refuses says so; with the right one the call works.
func TestProxySignInMessages(t *testing.T) {
	addr, caFile := netPlatform(t, emptyList())
	p, err := testproxy.Start(testproxy.Options{Basic: "nurse:s3cret", Hosts: map[string]string{"api.askara.test": addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	o := netOptions(nil)
	o.Proxy, o.CAFile = p.URL(), caFile
	want := "The proxy " + p.Addr + " asks for a sign-in: enter its user and password in Settings (Proxy sign-in), or run clinicsync proxy login."
	if got := listVia(t, netAPI, o); got != want {
		t.Errorf("no sign-in kept:\n got %q\nwant %q", got, want)
	}
	o.ProxyCredentials = func() (string, string, bool) { return "nurse", "wrong", true }
	want = "The proxy " + p.Addr + " refused the proxy sign-in: correct the user and password in Settings (Proxy sign-in), or run clinicsync proxy login."
	if got := listVia(t, netAPI, o); got != want {
		t.Errorf("wrong sign-in:\n got %q\nwant %q", got, want)
	}
	o.ProxyCredentials = func() (string, string, bool) { return "nurse", "s3cret", true }
	if got := listVia(t, netAPI, o); got != "" {
		t.Errorf("right sign-in: %q", got)
	}
}

// A name that cannot be found, a PC without a network, a platform down,
// a proxy that cannot reach the platform.
func TestNetworkCauses(t *testing.T) {
	if got, want := listVia(t, netAPI, netOptions(nil)),
		"The name api.askara.test could not be found (DNS): check the network connection and the address in the configuration file."; got != want {
		t.Errorf("DNS:\n got %q\nwant %q", got, want)
	}

	offline := netOptions(nil)
	offline.Addrs = func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(8, 32)},
			&net.IPNet{IP: net.ParseIP("fe80::1"), Mask: net.CIDRMask(64, 128)}}, nil
	}
	if got, want := listVia(t, netAPI, offline), "This PC has no network connection; Clinic Sync tries again when it is back."; got != want {
		t.Errorf("no network:\n got %q\nwant %q", got, want)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if got, want := listVia(t, netAPI, netOptions(map[string]string{"api.askara.test": closed})),
		"Askara does not answer at https://api.askara.test: "+downTail; got != want {
		t.Errorf("platform down (refused):\n got %q\nwant %q", got, want)
	}
	addr, caFile := netPlatform(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	o := netOptions(map[string]string{"api.askara.test": addr})
	o.CAFile = caFile
	if got, want := listVia(t, netAPI, o), "Askara is temporarily unavailable (HTTP 503)."; got != want {
		t.Errorf("platform down (503):\n got %q\nwant %q", got, want)
	}

	p, err := testproxy.Start(testproxy.Options{Hosts: map[string]string{"api.askara.test": closed}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	o = netOptions(nil)
	o.Proxy = p.URL()
	if got, want := listVia(t, netAPI, o), "The proxy "+p.Addr+" could not connect to https://api.askara.test (HTTP 502)."; got != want {
		t.Errorf("proxy cannot reach the platform:\n got %q\nwant %q", got, want)
	}
}

// A proxy that inspects TLS presents certificates of its own authority:
// without ca_file the sentence names that issuer; with its root in
// ca_file the call works through it.
func TestInspectingProxyWithAndWithoutCAFile(t *testing.T) {
	inspector, err := testproxy.NewCA("Clinic Firewall Inspection CA")
	if err != nil {
		t.Fatal(err)
	}
	// The proxy terminates TLS and forwards plain HTTP to the platform's
	// handler: a second, plain server with the same answers.
	plain := httptest.NewServer(emptyList())
	defer plain.Close()
	p, err := testproxy.Start(testproxy.Options{Inspect: inspector,
		Hosts: map[string]string{"api.askara.test": strings.TrimPrefix(plain.URL, "http://")}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	o := netOptions(nil)
	o.Proxy = p.URL()
	want := "The certificate of https://api.askara.test was issued by “Clinic Firewall Inspection CA”, which this PC does not trust: " +
		"a proxy or antivirus that inspects secure connections is probably in the way. Ask IT for its root certificate and set [network] ca_file."
	if got := listVia(t, netAPI, o); got != want {
		t.Errorf("without ca_file:\n got %q\nwant %q", got, want)
	}
	o.CAFile = filepath.Join(t.TempDir(), "inspector.pem")
	if err := os.WriteFile(o.CAFile, inspector.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := listVia(t, netAPI, o); got != "" {
		t.Errorf("with the inspector's root in ca_file: %q", got)
	}
	if seen := p.Seen(); len(seen) < 2 || seen[len(seen)-1].Status != http.StatusOK {
		t.Errorf("the proxy saw %+v", seen)
	}
}
