//go:build wine

// The Windows proxy test: clinicsync.exe (headless, no cgo) under Wine,
// with no proxy variable set, reads the user's Internet Options from the
// registry (HKCU\...\Internet Settings: ProxyEnable=1, ProxyServer) through
// github.com/mattn/go-ieproxy and reaches the simulator only through a
// test proxy: the API is at https://api.askara.test, a name that only the
// proxy resolves (nothing else does), with a certificate from a test
// authority given as [network] ca_file. Every document is confirmed. With
// the proxy stopped, the message names the proxy and where it came from.
// Then the same with an automatic configuration script (AutoConfigURL)
// that Wine's WinHTTP runs.
//
// packaging/windows/wine/smoke.sh prepares the prefix and runs it.

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/sync/netclient/testproxy"
	"github.com/clinicsync/clinicsync/sync/sim"
)

const internetSettings = `HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings`

// wineCmd runs a Wine program with no proxy variable in its environment.
func wineCmd(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, wineLoader(), args...)
	c.Dir = dir
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "CLINICSYNC_ACCESS_TOKEN":
			continue
		}
		c.Env = append(c.Env, kv)
	}
	c.Env = append(c.Env, "CLINICSYNC_ACCESS_TOKEN="+wineToken, "WINEDEBUG=-all", "LC_ALL=C.UTF-8")
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("wine %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func TestWineSystemProxy(t *testing.T) {
	prefix := os.Getenv("WINEPREFIX")
	if prefix == "" {
		t.Fatal("WINEPREFIX is not set: run packaging/windows/wine/smoke.sh")
	}
	exe := filepath.Join(t.TempDir(), "clinicsync.exe")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows build: %v\n%s", err, out)
	}

	// The platform: the simulator over TLS as api.askara.test.
	ca, err := testproxy.NewCA("Askara Wine Test Root")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf("api.askara.test")
	if err != nil {
		t.Fatal(err)
	}
	s := sim.New(sim.Options{Documents: 12, Patients: 3, Seed: 14})
	srv := httptest.NewUnstartedServer(s)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.StartTLS()
	defer srv.Close()
	s.SetBaseURL("https://api.askara.test") // PDF links too go through the proxy
	p, err := testproxy.Start(testproxy.Options{Hosts: map[string]string{"api.askara.test": strings.TrimPrefix(srv.URL, "https://")}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			p.Close()
		}
	}()

	// The user's Internet Options: a manual proxy, switched on.
	dir := filepath.Dir(exe)
	for _, args := range [][]string{
		{"reg", "add", internetSettings, "/v", "ProxyEnable", "/t", "REG_DWORD", "/d", "1", "/f"},
		{"reg", "add", internetSettings, "/v", "ProxyServer", "/t", "REG_SZ", "/d", p.Addr, "/f"},
	} {
		if out, errOut, code := wineCmd(t, dir, args...); code != 0 {
			t.Fatalf("wine %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	defer wineCmd(t, dir, "reg", "add", internetSettings, "/v", "ProxyEnable", "/t", "REG_DWORD", "/d", "0", "/f")

	const (
		root   = `C:\ProxyClinic\Patients`
		config = `C:\ProxyClinic\config.toml`
		data   = `C:\ProxyClinic\data`
		caFile = `C:\ProxyClinic\askara-ca.pem`
	)
	if err := os.MkdirAll(wineHost(t, prefix, root), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wineHost(t, prefix, caFile), ca.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "[askara]\napi_url = \"https://api.askara.test\"\n\n[destination]\nroot = '" + root + "'\n\n[network]\nca_file = '" + caFile + "'\n"
	if err := os.WriteFile(wineHost(t, prefix, config), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := wineCmd(t, dir, exe, "sync", "--config", config, "--data-dir", data)
	t.Logf("sync under Wine through the system proxy: exit %d\n%s%s", code, out, errOut)
	if code != 0 {
		t.Fatalf("sync: exit %d, want 0\n%s%s", code, out, errOut)
	}
	confirmed := 0
	for _, c := range s.StatusCalls() {
		if c.Status.Success && strings.HasPrefix(c.Status.Path, root+`\`) {
			confirmed++
		}
	}
	if want := len(s.Expected()); confirmed != want {
		t.Errorf("%d documents confirmed, want %d", confirmed, want)
	}
	tunnels := 0
	for _, seen := range p.Seen() {
		if seen.Method == "CONNECT" && seen.Target == "api.askara.test:443" && seen.Status == 200 {
			tunnels++
		}
	}
	if tunnels == 0 {
		t.Errorf("the proxy opened no tunnel to api.askara.test: %+v", p.Seen())
	}
	t.Logf("the proxy at %s opened %d tunnels to api.askara.test:443", p.Addr, tunnels)

	// The proxy stops: the next sync says so, naming it and where it came from.
	p.Close()
	stopped = true
	s.AddDocument(sim.Fixture{})
	out, errOut, code = wineCmd(t, dir, exe, "sync", "--config", config, "--data-dir", data)
	want := "The proxy " + p.Addr + " (from the system proxy settings) does not answer"
	t.Logf("sync with the proxy stopped: exit %d\n%s%s", code, out, errOut)
	if code != exitUnavailable || !strings.Contains(errOut, want) {
		t.Fatalf("with the proxy stopped: exit %d, want %d and %q\n%s%s", code, exitUnavailable, want, out, errOut)
	}

	// An automatic configuration script instead (AutoConfigURL; the
	// manual proxy off): Wine's WinHTTP fetches and runs it
	// (WinHttpGetProxyForUrl), and it names a second proxy.
	p2, err := testproxy.Start(testproxy.Options{Hosts: map[string]string{"api.askara.test": strings.TrimPrefix(srv.URL, "https://")}})
	if err != nil {
		t.Fatal(err)
	}
	pac := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ns-proxy-autoconfig")
		fmt.Fprintf(w, "function FindProxyForURL(url, host) {\n"+
			"  if (shExpMatch(host, \"*.askara.test\")) return \"PROXY %s\";\n  return \"DIRECT\";\n}\n", p2.Addr)
	}))
	defer pac.Close()
	script := pac.URL + "/proxy.pac"
	for _, args := range [][]string{
		{"reg", "add", internetSettings, "/v", "ProxyEnable", "/t", "REG_DWORD", "/d", "0", "/f"},
		{"reg", "add", internetSettings, "/v", "AutoConfigURL", "/t", "REG_SZ", "/d", script, "/f"},
	} {
		if out, errOut, code := wineCmd(t, dir, args...); code != 0 {
			t.Fatalf("wine %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	defer wineCmd(t, dir, "reg", "delete", internetSettings, "/v", "AutoConfigURL", "/f")
	before := len(s.StatusCalls())
	out, errOut, code = wineCmd(t, dir, exe, "sync", "--config", config, "--data-dir", data)
	t.Logf("sync under Wine through the script's proxy: exit %d\n%s%s", code, out, errOut)
	if code != 0 || len(s.StatusCalls()) == before {
		t.Fatalf("sync through the script's proxy: exit %d, %d new confirmations\n%s%s", code, len(s.StatusCalls())-before, out, errOut)
	}
	if seen := p2.Seen(); len(seen) == 0 || seen[0].Target != "api.askara.test:443" {
		t.Fatalf("the script's proxy saw %+v", seen)
	}
	p2.Close()
	s.AddDocument(sim.Fixture{})
	out, errOut, code = wineCmd(t, dir, exe, "sync", "--config", config, "--data-dir", data)
	want = "The proxy " + p2.Addr + " (from the proxy script " + script + ") does not answer"
	t.Logf("sync with the script's proxy stopped: exit %d\n%s%s", code, out, errOut)
	if code != exitUnavailable || !strings.Contains(errOut, want) {
		t.Fatalf("with the script's proxy stopped: exit %d, want %d and %q\n%s%s", code, exitUnavailable, want, out, errOut)
	}
}
