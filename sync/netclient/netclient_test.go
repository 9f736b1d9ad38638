package netclient_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/sync/netclient"
	"github.com/clinicsync/clinicsync/sync/netclient/testproxy"
)

// The order of the proxy decision, per URL: the environment's variables,
// NO_PROXY alone, the configuration, the system's script, the system's
// manual proxy with its exceptions; loopback always direct.
func TestRouteOrder(t *testing.T) {
	pac := netclient.SystemSettings{Auto: true, PACURL: "http://wpad.clinic.lan/proxy.pac",
		FindProxy: func(u string) string {
			if strings.Contains(u, "files.example") {
				return "DIRECT"
			}
			return "PROXY pac.clinic.lan:8080; DIRECT"
		}}
	manual := netclient.SystemSettings{Manual: map[string]string{"": "ie.clinic.lan:3128"}, Bypass: "<local>,*.clinic.lan,10.*"}
	both := manual
	both.Auto, both.FindProxy = pac.Auto, pac.FindProxy
	for _, c := range []struct {
		name, url string
		env       map[string]string
		config    string
		sys       netclient.SystemSettings
		want      string
		source    netclient.Source
	}{
		{"nothing", "https://api.askara.ai", nil, "", netclient.SystemSettings{}, "", netclient.SourceNone},
		{"system manual", "https://api.askara.ai", nil, "", manual, "ie.clinic.lan:3128", netclient.SourceSystem},
		{"system bypass <local>", "http://printer/x", nil, "", manual, "", netclient.SourceSystem},
		{"system bypass wildcard", "https://files.clinic.lan", nil, "", manual, "", netclient.SourceSystem},
		{"system bypass ip wildcard", "http://10.1.2.3", nil, "", manual, "", netclient.SourceSystem},
		{"pac", "https://api.askara.ai", nil, "", pac, "pac.clinic.lan:8080", netclient.SourcePAC},
		{"pac direct then manual", "https://files.example/x.pdf", nil, "", both, "ie.clinic.lan:3128", netclient.SourceSystem},
		{"pac before manual", "https://api.askara.ai", nil, "", both, "pac.clinic.lan:8080", netclient.SourcePAC},
		{"config over system", "https://api.askara.ai", nil, "http://cfg.clinic.lan:8080", both, "cfg.clinic.lan:8080", netclient.SourceConfig},
		{"config direct over system", "https://api.askara.ai", nil, "direct", both, "", netclient.SourceConfig},
		{"environment over config", "https://api.askara.ai", map[string]string{"HTTPS_PROXY": "http://env.clinic.lan:3128"},
			"http://cfg.clinic.lan:8080", both, "env.clinic.lan:3128", netclient.SourceEnv},
		{"lower-case environment", "http://api.askara.ai", map[string]string{"http_proxy": "env.clinic.lan:3128"},
			"", both, "env.clinic.lan:3128", netclient.SourceEnv},
		{"NO_PROXY with the environment's proxy", "https://api.askara.ai", map[string]string{"HTTPS_PROXY": "http://env:1", "NO_PROXY": ".askara.ai"},
			"", both, "", netclient.SourceEnv},
		{"NO_PROXY alone over the system", "https://api.askara.ai", map[string]string{"NO_PROXY": "api.askara.ai"},
			"", both, "", netclient.SourceEnv},
		{"NO_PROXY alone, not matching", "https://api.askara.ai", map[string]string{"NO_PROXY": "other.org"},
			"", both, "pac.clinic.lan:8080", netclient.SourcePAC},
		{"loopback always direct", "http://127.0.0.1:8700", map[string]string{"HTTP_PROXY": "http://env:1"},
			"http://cfg:1", both, "", netclient.SourceNone},
	} {
		sys := c.sys
		cl := newClient(t, netclient.Options{Getenv: env(c.env), Proxy: c.config, System: func() netclient.SystemSettings { return sys }})
		r := cl.Route(c.url)
		if r.Host() != c.want || r.Source != c.source {
			t.Errorf("%s: %s gives %q from %q, want %q from %q", c.name, c.url, r.Host(), r.Source, c.want, c.source)
		}
		if strings.Contains(r.String(), "@") {
			t.Errorf("%s: description with credentials: %s", c.name, r)
		}
	}
	// Credentials in the environment's proxy URL are used, never described.
	cl := newClient(t, netclient.Options{Getenv: env(map[string]string{"HTTPS_PROXY": "http://nurse:s3cret@env.clinic.lan:3128"})})
	if d := cl.Route("https://api.askara.ai").String(); strings.Contains(d, "s3cret") || strings.Contains(d, "nurse") ||
		d != "http://env.clinic.lan:3128, from the environment (HTTPS_PROXY)" {
		t.Errorf("description: %q", d)
	}
}

// A proxy that asks for a Basic sign-in (407) gets the one kept in the
// keychain on a second try, for a tunnel (https) and for a forwarded
// request (http); later requests send it at once.
func TestBasicSignInAfter407(t *testing.T) {
	b := newBackend(t, nil)
	p := startProxy(t, b, testproxy.Options{Basic: "nurse:s3cret",
		Hosts: map[string]string{apiHost: hostOf(b.TLS.URL), "files.askara.test": hostOf(b.Plain.URL)}})
	reads := 0
	c := newClient(t, netclient.Options{Proxy: p.URL(), CAFile: b.CAFile,
		ProxyCredentials: func() (string, string, bool) { reads++; return "nurse", "s3cret", true }})
	for i := 0; i < 2; i++ {
		if body, err := get(t, c, "https://"+apiHost+"/me"); err != nil || body != "ok /me" {
			t.Fatalf("https through the proxy: %q, %v", body, err)
		}
	}
	if body, err := get(t, c, "http://files.askara.test/a.pdf"); err != nil || body != "ok /a.pdf" {
		t.Fatalf("http through the proxy: %q, %v", body, err)
	}
	var got []string
	for _, s := range p.Seen() {
		got = append(got, s.Method+" "+s.Auth+" "+http.StatusText(s.Status))
	}
	want := []string{"CONNECT  Proxy Authentication Required", "CONNECT Basic OK", "GET Basic OK"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the proxy saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if reads != 1 {
		t.Errorf("the keychain was read %d times, want once (at the 407)", reads)
	}

	// Without a sign-in kept: the 407 is an error that says so.
	p2 := startProxy(t, b, testproxy.Options{Basic: "nurse:s3cret"})
	c2 := newClient(t, netclient.Options{Proxy: p2.URL(), CAFile: b.CAFile})
	_, err := get(t, c2, "https://"+apiHost+"/me")
	var pa *netclient.ProxyAuthError
	if !errors.As(err, &pa) || pa.Refused || pa.Proxy != p2.Addr || strings.Join(pa.Schemes, ",") != "Basic" {
		t.Fatalf("no sign-in kept: %v (%+v)", err, pa)
	}
	// A wrong one: refused, tried once.
	c3 := newClient(t, netclient.Options{Proxy: p2.URL(), CAFile: b.CAFile,
		ProxyCredentials: func() (string, string, bool) { return "nurse", "wrong", true }})
	_, err = get(t, c3, "https://"+apiHost+"/me")
	if !errors.As(err, &pa) || !pa.Refused {
		t.Fatalf("wrong sign-in: %v (%+v)", err, pa)
	}
	if n := len(p2.Seen()); n != 3 {
		t.Errorf("the proxy saw %d requests, want 3 (one without, one without then one refused)", n)
	}
}

// A proxy that offers NTLM gets the three-message handshake on one
// connection (github.com/Azure/go-ntlmssp), then the tunnel.
func TestNTLMSignInAfter407(t *testing.T) {
	b := newBackend(t, nil)
	p := startProxy(t, b, testproxy.Options{NTLMUser: "nurse"})
	c := newClient(t, netclient.Options{Proxy: p.URL(), CAFile: b.CAFile,
		ProxyCredentials: func() (string, string, bool) { return `CLINIC\nurse`, "s3cret", true }})
	for i := 0; i < 2; i++ {
		if body, err := get(t, c, "https://"+apiHost+"/documents"); err != nil || body != "ok /documents" {
			t.Fatalf("through an NTLM proxy: %q, %v", body, err)
		}
	}
	var got []string
	for _, s := range p.Seen() {
		got = append(got, s.Method+" "+s.Auth+" "+http.StatusText(s.Status))
	}
	// The first CONNECT (no sign-in), then negotiate, authenticate; the
	// second request reuses the tunnel's connection.
	want := []string{"CONNECT  Proxy Authentication Required", "CONNECT NTLM Proxy Authentication Required", "CONNECT NTLM OK"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the proxy saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// NO_PROXY sends a host direct even with HTTPS_PROXY set.
func TestNoProxyGoesDirect(t *testing.T) {
	b := newBackend(t, nil)
	p := startProxy(t, b, testproxy.Options{})
	c := newClient(t, netclient.Options{CAFile: b.CAFile,
		Getenv:      env(map[string]string{"HTTPS_PROXY": p.URL(), "NO_PROXY": "localhost," + apiHost}),
		DialContext: mapDial(map[string]string{apiHost: hostOf(b.TLS.URL)})})
	if body, err := get(t, c, "https://"+apiHost+"/me"); err != nil || body != "ok /me" {
		t.Fatalf("direct: %q, %v", body, err)
	}
	if seen := p.Seen(); len(seen) != 0 {
		t.Errorf("the proxy was used: %+v", seen)
	}
	if r := c.Route("https://" + apiHost); !r.Direct() || r.String() != "direct, by the environment (NO_PROXY)" {
		t.Errorf("route: %s", r)
	}
	// Without NO_PROXY, the same client setup goes through the proxy.
	c = newClient(t, netclient.Options{CAFile: b.CAFile, Getenv: env(map[string]string{"HTTPS_PROXY": p.URL()})})
	if body, err := get(t, c, "https://"+apiHost+"/me"); err != nil || body != "ok /me" {
		t.Fatalf("through HTTPS_PROXY: %q, %v", body, err)
	}
	if seen := p.Seen(); len(seen) != 1 || seen[0].Target != apiHost+":443" {
		t.Errorf("the proxy saw %+v", seen)
	}
}

// A proxy script (PAC, or WPAD's) is run per URL through the same code
// path as on Windows, with the lookup injected: Linux has no WinHTTP.
func TestPACScriptThroughInjectedLookup(t *testing.T) {
	b := newBackend(t, nil)
	p := startProxy(t, b, testproxy.Options{})
	var mu sync.Mutex
	var asked []string
	sys := netclient.SystemSettings{Auto: true, PACURL: "http://wpad.clinic.lan/wpad.dat", FindProxy: func(u string) string {
		mu.Lock()
		asked = append(asked, u)
		mu.Unlock()
		return "PROXY " + p.Addr
	}}
	c := newClient(t, netclient.Options{CAFile: b.CAFile, System: func() netclient.SystemSettings { return sys }})
	if body, err := get(t, c, "https://"+apiHost+"/documents?page=2"); err != nil || body != "ok /documents" {
		t.Fatalf("through the script's proxy: %q, %v", body, err)
	}
	if len(p.Seen()) != 1 {
		t.Errorf("the proxy saw %+v", p.Seen())
	}
	mu.Lock()
	first := append([]string(nil), asked...)
	mu.Unlock()
	if len(first) == 0 || first[0] != "https://"+apiHost+"/documents?page=2" {
		t.Errorf("the script was asked %q", first)
	}
	if r := c.Route("https://" + apiHost); r.String() != "http://"+p.Addr+", from the proxy script http://wpad.clinic.lan/wpad.dat" {
		t.Errorf("route: %s", r)
	}
}

// A clock 3 minutes off the platform's Date header is said once, however
// many answers show it.
func TestClockSkewSaidOnce(t *testing.T) {
	b := newBackend(t, nil)
	var mu sync.Mutex
	var said []time.Duration
	c := newClient(t, netclient.Options{CAFile: b.CAFile, Now: func() time.Time { return time.Now().Add(3 * time.Minute) },
		DialContext: mapDial(map[string]string{apiHost: hostOf(b.TLS.URL)})})
	c.OnClockSkew(func(d time.Duration) { mu.Lock(); said = append(said, d); mu.Unlock() })
	for i := 0; i < 5; i++ {
		if _, err := get(t, c, "https://"+apiHost+"/documents"); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(said) != 1 || said[0] < 2*time.Minute+50*time.Second || said[0] > 3*time.Minute+10*time.Second {
		t.Fatalf("said %v, want once about 3m", said)
	}
	// A clock within 2 minutes says nothing.
	c2 := newClient(t, netclient.Options{CAFile: b.CAFile, Now: func() time.Time { return time.Now().Add(-90 * time.Second) },
		DialContext: mapDial(map[string]string{apiHost: hostOf(b.TLS.URL)})})
	n := 0
	c2.OnClockSkew(func(time.Duration) { n++ })
	if _, _, ok := c2.ClockOffset(); ok {
		t.Fatal("an offset before any answer")
	}
	if _, err := get(t, c2, "https://"+apiHost+"/"); err != nil || n != 0 {
		t.Fatalf("90 s off: said %d times, err %v", n, err)
	}
	// Whatever its size, the last offset is kept for the support bundle.
	if off, _, ok := c2.ClockOffset(); !ok || off > -80*time.Second || off < -100*time.Second {
		t.Fatalf("offset %v (%v)", off, ok)
	}
}

// Every call has deadlines: dial, TLS, response headers and, but for
// streaming downloads, the whole call. A server that accepts and never
// answers ends in a timeout error, not a hang.
func TestDeadlines(t *testing.T) {
	c := newClient(t, netclient.Options{})
	if c.HTTP().Timeout != netclient.CallTimeout || c.Streaming().Timeout != 0 {
		t.Errorf("timeouts %v and %v", c.HTTP().Timeout, c.Streaming().Timeout)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, conn) // read nothing, answer nothing
		}
	}()
	c = newClient(t, netclient.Options{HeaderTimeout: 300 * time.Millisecond})
	began := time.Now()
	_, err = c.Streaming().Get("http://" + ln.Addr().String() + "/")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a server that never answers: %v", err)
	}
	if took := time.Since(began); took > 20*time.Second {
		t.Errorf("took %v", took)
	}
}

// Settings apply a new proxy and ca_file without a restart.
func TestConfigureAppliesWithoutRestart(t *testing.T) {
	b := newBackend(t, nil)
	p := startProxy(t, b, testproxy.Options{})
	c := newClient(t, netclient.Options{DialContext: mapDial(map[string]string{apiHost: hostOf(b.TLS.URL)})})
	if _, err := get(t, c, "https://"+apiHost+"/"); err == nil {
		t.Fatal("the platform's certificate was trusted without its root")
	}
	if err := c.Configure("http://nurse:s3cret@proxy:1", ""); err == nil {
		t.Fatal("a proxy with credentials accepted")
	}
	if err := c.Configure(p.URL(), b.CAFile); err != nil {
		t.Fatal(err)
	}
	if body, err := get(t, c, "https://"+apiHost+"/x"); err != nil || body != "ok /x" || len(p.Seen()) != 1 {
		t.Fatalf("after Configure: %q %v, proxy saw %+v", body, err, p.Seen())
	}
	if r := c.Route("https://" + apiHost); r.Source != netclient.SourceConfig {
		t.Errorf("route %s", r)
	}
	if err := c.Configure("direct", b.CAFile); err != nil {
		t.Fatal(err)
	}
	if body, err := get(t, c, "https://"+apiHost+"/y"); err != nil || body != "ok /y" || len(p.Seen()) != 1 {
		t.Fatalf("direct: %q %v, proxy saw %+v", body, err, p.Seen())
	}
}
