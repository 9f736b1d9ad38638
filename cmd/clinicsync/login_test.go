package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
	go io.Copy(&out, pr)
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
