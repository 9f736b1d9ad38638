package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cli/browser"
	"github.com/zalando/go-keyring"

	"github.com/clinicsync/clinicsync/sync/auth"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// `login --no-browser` against the simulator: the test reads the printed
// address, goes through the consent page with an HTTP client (as the
// browser would) to the loopback callback; then `sync` works with the
// tokens read back from the keychain (go-keyring's mock, in-process).
func TestLoginNoBrowserThenSync(t *testing.T) {
	keyring.MockInit()
	// Askara issued a client secret: it lives in the keychain, not the config.
	s := sim.New(sim.Options{Documents: 15, Patients: 3, Seed: 31, OAuth: true, ClientSecret: "issued-client-secret"})
	if err := auth.SetClientSecret("Clinic Sync", "clinicsync-desktop", "issued-client-secret"); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	s.SetBaseURL(ts.URL)
	dir := t.TempDir()
	root := filepath.Join(dir, "Patients")
	os.Mkdir(root, 0o755)
	cfg := config.Default()
	cfg.Askara.APIURL = ts.URL
	cfg.Askara.AuthorizeURL = ts.URL + "/authorize"
	cfg.Askara.TokenURL = ts.URL + "/oauth2/token"
	cfg.Askara.DeviceURL = ts.URL + "/oauth2/device"
	cfg.Askara.RevokeURL = ts.URL + "/oauth2/revoke"
	cfg.Askara.RedirectPort = 0
	cfg.Destination.Root = root
	cfgPath := filepath.Join(dir, "config.toml")
	if err := cfg.Save(cfgPath); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CLINICSYNC_ACCESS_TOKEN", "")
	common := []string{"--config", cfgPath, "--data-dir", filepath.Join(dir, "data")}

	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- realMain(append([]string{"login", "--no-browser"}, common...), pw, &stderr)
		pw.Close()
	}()
	var out bytes.Buffer
	sc := bufio.NewScanner(pr)
	var authURL string
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if m := regexp.MustCompile(`https?://\S+/authorize\?\S+`).FindString(sc.Text()); m != "" {
			authURL = m
			break
		}
	}
	if authURL == "" {
		t.Fatalf("no sign-in address printed:\n%s", out.String())
	}
	copied := make(chan struct{}) // the rest of the output is in out
	go func() { io.Copy(&out, pr); close(copied) }()
	// The consent page, then a click on Allow.
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := regexp.MustCompile(`name="request_id" value="([^"]+)"`).FindSubmatch(page)
	if id == nil {
		t.Fatalf("no consent form:\n%s", page)
	}
	resp, err = http.PostForm(ts.URL+"/authorize", url.Values{"request_id": {string(id[1])}, "action": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	final, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(final), "You can close this tab") {
		t.Fatalf("callback page:\n%s", final)
	}
	if c := <-code; c != 0 {
		t.Fatalf("login exit %d: %s", c, stderr.String())
	}
	<-copied
	if !strings.Contains(out.String(), "Signed in as Jane Doe") {
		t.Fatalf("login output:\n%s", out.String())
	}

	var o2, e2 bytes.Buffer
	if c := realMain(append([]string{"status"}, common...), &o2, &e2); c != 0 || !strings.Contains(o2.String(), "signed in:    as Jane Doe") {
		t.Fatalf("status %d:\n%s%s", c, o2.String(), e2.String())
	}
	o2.Reset()
	if c := realMain(append([]string{"sync"}, common...), &o2, &e2); c != 0 {
		t.Fatalf("sync with keychain tokens: %d %s %s", c, o2.String(), e2.String())
	}
	if len(s.StatusCalls()) != 15 {
		t.Fatalf("%d confirmations", len(s.StatusCalls()))
	}
	// Nothing token-like in the outputs, the config file or the database.
	saved, _ := keyring.Get("Clinic Sync", "askara:"+ts.URL)
	rt := regexp.MustCompile(`"refresh_token":"([^"]+)"`).FindStringSubmatch(saved)
	if rt == nil {
		t.Fatalf("keychain entry not found")
	}
	for _, f := range []string{cfgPath, filepath.Join(dir, "data", "state.db"), filepath.Join(dir, "data", "state.db-wal")} {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(rt[1])) || bytes.Contains(b, []byte("issued-client-secret")) {
			t.Fatalf("the refresh token reached %s", f)
		}
	}
	if strings.Contains(out.String()+o2.String()+e2.String()+stderr.String(), rt[1]) {
		t.Fatal("the refresh token was printed")
	}

	// logout revokes and deletes.
	o2.Reset()
	if c := realMain(append([]string{"logout"}, common...), &o2, &e2); c != 0 {
		t.Fatalf("logout %d %s", c, e2.String())
	}
	if _, err := keyring.Get("Clinic Sync", "askara:"+ts.URL); err == nil {
		t.Fatal("logout left the keychain entry")
	}
	if s.RevokedFamilies() != 1 {
		t.Fatalf("logout did not revoke the grant (%d families revoked)", s.RevokedFamilies())
	}
	if c := realMain(append([]string{"sync"}, common...), &o2, &e2); c != exitConfig || !strings.Contains(e2.String(), "clinicsync login") {
		t.Fatalf("sync after logout: %d %s", c, e2.String())
	}
}

// oauthSim is the simulator with OAuth behind a server that counts the
// requests to the sign-in endpoints, and a configuration pointing at it.
func oauthSim(t *testing.T) (paths func() map[string]int, common []string) {
	t.Helper()
	s := sim.New(sim.Options{Documents: 1, Seed: 5, OAuth: true, AutoApprove: true})
	var mu sync.Mutex
	seen := map[string]int{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		mu.Unlock()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	s.SetBaseURL(ts.URL)
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Askara.APIURL = ts.URL
	cfg.Askara.AuthorizeURL = ts.URL + "/authorize"
	cfg.Askara.TokenURL = ts.URL + "/oauth2/token"
	cfg.Askara.DeviceURL = ts.URL + "/oauth2/device"
	cfg.Askara.RedirectPort = 0
	cfg.Destination.Root = dir
	cfgPath := filepath.Join(dir, "config.toml")
	if err := cfg.Save(cfgPath); err != nil {
		t.Fatal(err)
	}
	return func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(seen)
	}, []string{"--config", cfgPath, "--data-dir", filepath.Join(dir, "data")}
}

// Without a usable keychain, `login` says so at once: no browser opens,
// no device code is asked for, Askara sees nothing (the browser used to
// show "Signed in" before the command failed with "No keychain").
func TestLoginWithoutKeychainFailsBeforeTheBrowser(t *testing.T) {
	keyring.MockInitWithError(errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	t.Cleanup(keyring.MockInit)
	var opened []string
	openBrowser = func(u string) error { // a browser: the simulator approves and redirects to the loopback
		opened = append(opened, u)
		go func() {
			if resp, err := http.Get(u); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		return nil
	}
	t.Cleanup(func() { openBrowser = browser.OpenURL })
	t.Setenv("CLINICSYNC_ACCESS_TOKEN", "")
	paths, common := oauthSim(t)
	for _, args := range [][]string{{"login", "--timeout", "10s"}, {"login", "--device"}} {
		var out, stderr bytes.Buffer
		code := realMain(append(args, common...), &out, &stderr)
		if code != exitConfig || !strings.Contains(stderr.String(), "No keychain is available on this computer") {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out.String(), stderr.String())
		}
		if strings.Contains(out.String(), "/authorize?") || strings.Contains(out.String(), "enter the code") {
			t.Fatalf("%v started a sign-in:\n%s", args, out.String())
		}
	}
	if len(opened) != 0 {
		t.Fatalf("the browser was opened: %v", opened)
	}
	for p, n := range paths() {
		if p == "/authorize" || strings.HasPrefix(p, "/oauth2/") {
			t.Errorf("%d requests reached %s", n, p)
		}
	}
}

// The real binary on Linux without a session bus (a service, ssh, cron):
// `login` says there is no keychain before it prints a sign-in address.
func TestLoginWithoutSessionBusSaysNoKeychainFirst(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Secret Service is Linux's keychain")
	}
	s := newSetup(t, sim.Options{Documents: 1, Seed: 2, OAuth: true})
	s.extraEnv = []string{"CLINICSYNC_ACCESS_TOKEN=", "DBUS_SESSION_BUS_ADDRESS=", "XDG_RUNTIME_DIR=" + t.TempDir()}
	out, errOut, code := s.run(t, "login", "--no-browser", "--timeout", "10s")
	if code != exitConfig || !strings.Contains(errOut, "No keychain is available on this computer (no Secret Service)") ||
		strings.Contains(out, "/authorize?") {
		t.Fatalf("login without a session bus: exit %d\n%s%s", code, out, errOut)
	}
}
