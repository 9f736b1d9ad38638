package auth_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/auth"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/sim"
)

type world struct {
	sim *sim.Server
	url string
	cfg auth.Config
	kc  auth.Keychain
}

func newWorld(t *testing.T, o sim.Options) *world {
	t.Helper()
	o.OAuth = true
	s := sim.New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.SetBaseURL(ts.URL)
	return &world{sim: s, url: ts.URL,
		cfg: auth.Config{AuthorizeURL: ts.URL + "/authorize", TokenURL: ts.URL + "/oauth2/token",
			DeviceURL: ts.URL + "/oauth2/device", RevokeURL: ts.URL + "/oauth2/revoke", ClientID: "clinicsync-desktop",
			Scopes: []string{"profile", "organization", "read:documents", "write:document_integrations"}},
		kc: auth.Keychain{Service: "Clinic Sync e2e", User: t.Name()}}
}

// signIn runs the real browser flow, the "browser" being an HTTP client
// that follows the auto-approved authorization to the loopback callback.
func (w *world) signIn(t *testing.T) *auth.Source {
	t.Helper()
	open := func(u string) error {
		go func() {
			resp, err := http.Get(u)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
		return nil
	}
	tok, err := auth.LoginBrowser(context.Background(), w.cfg, auth.BrowserOptions{Open: open, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	src := auth.NewSource(context.Background(), w.cfg, w.kc, nil)
	if err := src.Adopt(tok, "test"); err != nil {
		t.Fatal(err)
	}
	return src
}

// 50 goroutines meet an expired access token at once: exactly one refresh
// reaches the server and all 50 calls succeed.
func TestFiftyCallersOneRefresh(t *testing.T) {
	w := newWorld(t, sim.Options{Documents: 5, AutoApprove: true, TokenLength: 4096})
	src := w.signIn(t)
	client, err := askara.New(askara.Options{BaseURL: w.url, TokenSource: src})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := client.Me(ctx); err != nil {
		t.Fatalf("with a fresh 4 KB token: %v", err)
	}
	w.sim.ExpireAccessTokens()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := client.ListUnsynchronized(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := w.sim.RefreshCount(); n != 1 {
		t.Fatalf("%d refreshes reached the server, want 1", n)
	}
	if w.sim.RevokedFamilies() != 0 {
		t.Fatal("a refresh token was reused")
	}
}

// The device flow: the code is shown, the user approves elsewhere, tokens come.
func TestDeviceLogin(t *testing.T) {
	w := newWorld(t, sim.Options{DeviceInterval: time.Second})
	pr, pw := io.Pipe()
	go func() {
		re := regexp.MustCompile(`\b[A-Z0-9]{4}-[A-Z0-9]{4}\b`)
		var seen bytes.Buffer
		buf := make([]byte, 512)
		for {
			n, err := pr.Read(buf)
			seen.Write(buf[:n])
			if code := re.FindString(seen.String()); code != "" {
				time.Sleep(1500 * time.Millisecond) // the client polls and waits meanwhile
				if err := w.sim.ApproveDevice(code); err != nil {
					t.Error(err)
				}
				io.Copy(io.Discard, pr)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := auth.LoginDevice(ctx, w.cfg, auth.DeviceOptions{Out: pw})
	pw.Close()
	if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("device login: %v", err)
	}
}

func TestDeviceLoginDenied(t *testing.T) {
	w := newWorld(t, sim.Options{DeviceInterval: time.Second})
	var out bytes.Buffer
	var mu sync.Mutex
	go func() {
		re := regexp.MustCompile(`\b[A-Z0-9]{4}-[A-Z0-9]{4}\b`)
		for i := 0; i < 100; i++ {
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			code := re.FindString(out.String())
			mu.Unlock()
			if code != "" {
				w.sim.DenyDevice(code)
				return
			}
		}
	}()
	_, err := auth.LoginDevice(context.Background(), w.cfg, auth.DeviceOptions{Out: lockedWriter{&out, &mu}})
	if !strings.Contains(clinicsync.ErrorMessage(err), "denied") {
		t.Fatalf("denied: %v", err)
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// A revoked grant moves the engine to "signed out" without failing any
// document; after a new sign-in the queued work is done.
func TestRevokedGrantSignsOutAndResumes(t *testing.T) {
	w := newWorld(t, sim.Options{Documents: 12, Patients: 2, AutoApprove: true})
	src := w.signIn(t)
	client, _ := askara.New(askara.Options{BaseURL: w.url, TokenSource: src})
	dir := t.TempDir()
	root := filepath.Join(dir, "Patients")
	os.Mkdir(root, 0o755)
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := engine.New(engine.Config{SoftwareID: "x"}, st, client, dest.Layout{Root: root}, nil, nil)

	// Someone reuses the refresh token: the server revokes the whole family.
	saved, _ := w.kc.Load()
	form := strings.NewReader("grant_type=refresh_token&client_id=clinicsync-desktop&refresh_token=" + saved.RefreshToken)
	for range 2 {
		form.Seek(0, io.SeekStart)
		resp, err := http.Post(w.url+"/oauth2/token", "application/x-www-form-urlencoded", form)
		if err == nil {
			resp.Body.Close()
		}
	}
	if w.sim.RevokedFamilies() == 0 {
		t.Fatal("the simulator did not revoke the family")
	}
	_, err = eng.Pass(context.Background())
	if code := clinicsync.ErrorCode(err); code != clinicsync.ESignedOut && code != clinicsync.EUnauthorized {
		t.Fatalf("pass after revocation: %v", err)
	}
	snap := eng.Snapshot()
	if snap.Status != engine.StatusSignedOut || snap.Counts[clinicsync.StateFailed] != 0 {
		t.Fatalf("snapshot %+v", snap)
	}
	if !strings.Contains(snap.LastPassError, "sign in") {
		t.Fatalf("no clear message: %q", snap.LastPassError)
	}

	// Sign in again; the same engine and client carry on.
	src2 := w.signIn(t)
	tok, _ := src2.Token()
	saved2, _ := w.kc.Load()
	if err := src.Adopt(tok, "again"); err != nil || saved2 == nil {
		t.Fatal(err)
	}
	eng.SetSignedOut(false, "")
	res, err := eng.Pass(context.Background())
	if err != nil || res.Confirmed != 12 {
		t.Fatalf("after sign-in: %+v %v", res, err)
	}
}

// holdPort listens on a free loopback port and keeps it for the test: the
// sign-in port another program (another user's Clinic Sync) holds.
func holdPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// The redirect port is taken: where the platform accepts any loopback port
// (AnyPort), the sign-in completes on another free one and says which
// address it waits on; where it does not, it stops before the browser with
// ErrPortInUse and a sentence that names no command.
func TestBrowserSignInWithThePortTaken(t *testing.T) {
	w := newWorld(t, sim.Options{AutoApprove: true})
	w.cfg.RedirectPort = holdPort(t)
	opened := 0
	open := func(u string) error {
		opened++
		go func() {
			if resp, err := http.Get(u); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		return nil
	}
	_, err := auth.LoginBrowser(context.Background(), w.cfg, auth.BrowserOptions{Open: open, Timeout: 20 * time.Second})
	if !errors.Is(err, auth.ErrPortInUse) || opened != 0 {
		t.Fatalf("fixed port taken: %v (browser opened %d times)", err, opened)
	}
	if msg := clinicsync.ErrorMessage(err); !strings.Contains(msg, strconv.Itoa(w.cfg.RedirectPort)) || strings.Contains(msg, "clinicsync") {
		t.Errorf("message %q", msg)
	}

	w.cfg.AnyPort = true
	var prompted string
	tok, err := auth.LoginBrowser(context.Background(), w.cfg, auth.BrowserOptions{Open: open, Timeout: 20 * time.Second,
		Prompt: func(u string, ok bool) { prompted = u }})
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("any loopback port: %v", err)
	}
	q, _ := url.Parse(prompted)
	redirect, _ := url.Parse(q.Query().Get("redirect_uri"))
	if redirect == nil || redirect.Hostname() != "127.0.0.1" || redirect.Port() == "" || redirect.Port() == strconv.Itoa(w.cfg.RedirectPort) {
		t.Fatalf("prompted %q: want a redirect to another loopback port", prompted)
	}
}

// The browser cannot be opened: the prompt carries the address to copy
// and the sign-in waits for the callback; a person pasting it completes it.
func TestBrowserSignInWithoutABrowserPromptsTheAddress(t *testing.T) {
	w := newWorld(t, sim.Options{AutoApprove: true})
	w.cfg.RedirectPort = 0
	got := make(chan string, 1)
	prompt := func(u string, opened bool) {
		if opened {
			t.Error("the prompt says the browser opened")
		}
		got <- u
	}
	go func() {
		u := <-got // the person copies the address into a browser
		if resp, err := http.Get(u); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	tok, err := auth.LoginBrowser(context.Background(), w.cfg, auth.BrowserOptions{Timeout: 20 * time.Second,
		Open: func(string) error { return errors.New("no browser") }, Prompt: prompt})
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("sign-in: %v", err)
	}
}

// The code flow hands the code, the page and the expiry to the prompt.
func TestDeviceSignInPromptsTheCode(t *testing.T) {
	w := newWorld(t, sim.Options{DeviceInterval: time.Millisecond})
	var dc auth.DeviceCode
	prompt := func(d auth.DeviceCode) {
		dc = d
		if err := w.sim.ApproveDevice(d.Code); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := auth.LoginDevice(ctx, w.cfg, auth.DeviceOptions{Prompt: prompt})
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("device sign-in: %v", err)
	}
	if dc.Code == "" || !strings.HasPrefix(dc.URL, w.url+"/device") || !strings.Contains(dc.URLComplete, "user_code=") ||
		time.Until(dc.Expires) < 5*time.Minute || time.Until(dc.Expires) > 11*time.Minute {
		t.Fatalf("prompt %+v", dc)
	}
}
