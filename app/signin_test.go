package app

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/auth"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/service"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// signInRig is the window over the real service, signed out, against the
// simulator's OAuth server (browser and device grants): a front-desk PC
// where the browser cannot be opened (the opener fails, as on a locked-down
// PC or a remote session) and, when port is set, the sign-in port is held
// by another program.
type signInRig struct {
	*uiRig
	opens atomic.Int32 // calls of the failing browser opener
}

func newSignInRig(t *testing.T, port int) *signInRig {
	t.Helper()
	test.NewTempApp(t)
	s := sim.New(sim.Options{Documents: 2, Patients: 1, Seed: 7, OAuth: true, AutoApprove: true, DeviceInterval: time.Millisecond})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.SetBaseURL(ts.URL)
	dir := t.TempDir()
	root := filepath.Join(dir, "Patients")
	os.Mkdir(root, 0o755)
	cfg := config.Default()
	cfg.Askara.APIURL = ts.URL
	cfg.Askara.AuthorizeURL, cfg.Askara.TokenURL = ts.URL+"/authorize", ts.URL+"/oauth2/token"
	cfg.Askara.DeviceURL, cfg.Askara.RevokeURL = ts.URL+"/oauth2/device", ts.URL+"/oauth2/revoke"
	cfg.Askara.RedirectPort = port
	cfg.Destination.Root = root
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ac := service.RuntimeOf(cfg, engine.Config{}).Auth
	kc := auth.Keychain{Service: "Clinic Sync test", User: dir}
	src := auth.NewSource(context.Background(), ac, kc, nil)
	client, err := askara.New(askara.Options{BaseURL: ts.URL, TokenSource: src})
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	eng := engine.New(engine.Config{SoftwareID: cfg.Destination.SoftwareID, Workers: 1}, st, client,
		dest.Layout{Root: root, Template: cfg.Destination.PatientFolder}, bus, nil)
	r := &signInRig{uiRig: &uiRig{t: t, sim: s, eng: eng, st: st, dir: dir, root: root}}
	r.svc = service.New(service.Parts{Version: "test", ConfigPath: filepath.Join(dir, "config.toml"), DataDir: dir,
		Config: cfg, Engine: eng, Client: client, Source: src, Keychain: kc, Events: bus,
		AuthConfig: func() auth.Config { return ac },
		OpenURL: func(string) error {
			r.opens.Add(1)
			return errors.New("no browser can be started on this PC")
		}})
	r.onUI(func() {
		r.ui = New(fyne.CurrentApp(), r.svc, Options{do: r.onUI, OpenPath: func(string) error { return nil }})
		r.ui.Window().Resize(fyne.NewSize(980, 640))
		r.ui.ShowTab(tabAccount)
	})
	t.Cleanup(func() {
		r.onUI(func() { r.ui.b.CancelSignIn() })
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		r.ui.Close()
	})
	return r
}

// waitFor polls cond on the UI goroutine for up to 20 s (a code sign-in
// polls Askara every second).
func (r *signInRig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		r.onUI(func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var msg string
			r.onUI(func() { msg = r.ui.account.panel.msg.Text })
			r.t.Fatalf("timed out waiting for %s (the panel says %q)", what, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// signedIn: the Account tab shows the simulator's user and the panel says so.
func (r *signInRig) signedIn() bool {
	v := r.ui.account
	return v.who.Text == "Jane Doe" && v.panel.msg.Text == "Signed in." && !v.panel.busy && v.signOut.Visible() &&
		!v.panel.signIn.Visible() && r.svc.Status().Account.SignedIn
}

// texts is every text the window shows now: labels, buttons, text blocks.
func texts(o fyne.CanvasObject) []string {
	var out []string
	walk(o, func(o fyne.CanvasObject) {
		if !o.Visible() {
			return
		}
		switch w := o.(type) {
		case *widget.Label:
			out = append(out, w.Text)
		case *widget.Button:
			out = append(out, w.Text)
		case *textBlock:
			out = append(out, w.Text)
		}
	})
	return out
}

// walk calls f for o and everything inside it, widgets' parts included.
func walk(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	f(o)
	switch c := o.(type) {
	case *fyne.Container:
		for _, child := range c.Objects {
			walk(child, f)
		}
	case fyne.Widget:
		if _, ok := o.(*textBlock); ok {
			return
		}
		for _, child := range test.WidgetRenderer(c).Objects() {
			walk(child, f)
		}
	}
}

// noTerminal fails when the window tells the person to use a command.
func noTerminal(t *testing.T, shown []string) {
	t.Helper()
	for _, s := range shown {
		l := strings.ToLower(s)
		for _, bad := range []string{"clinicsync login", "command line", "terminal", "--device"} {
			if strings.Contains(l, bad) {
				t.Errorf("the window says %q", s)
			}
		}
	}
}

// The acceptance test of issue 15's sign-in: with the browser opener
// failing and the sign-in port held by another program, "Sign in…" in the
// Account tab becomes a code sign-in in the window (the code, the page, a
// countdown, why) and completes once the code is approved on another device.
func TestAccountSignInWithACodeWhenTheBrowserFailsAndThePortIsHeld(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	r := newSignInRig(t, port)
	p := r.ui.account.panel
	r.onUI(func() {
		if r.ui.tabs.SelectedIndex() != tabAccount || !p.signIn.Visible() || !p.code.Visible() || r.ui.account.signOut.Visible() {
			t.Fatalf("Account tab: sign in %v, code %v, sign out %v", p.signIn.Visible(), p.code.Visible(), r.ui.account.signOut.Visible())
		}
		test.Tap(p.signIn)
	})
	var code string
	r.waitFor("the code", func() bool {
		code = p.codeText.Text
		return code != "" && p.codeRow.Visible()
	})
	r.onUI(func() {
		if !strings.Contains(p.msg.Text, "Port "+strconv.Itoa(port)+" on this computer is in use") ||
			!strings.Contains(p.msg.Text, "enter the code") {
			t.Errorf("message %q", p.msg.Text)
		}
		if !p.linkRow.Visible() || !strings.HasSuffix(p.link.Text, "/device") || !p.openLink.Visible() {
			t.Errorf("the code's page: shown %v, %q", p.linkRow.Visible(), p.link.Text)
		}
		if !p.countdown.Visible() || !strings.HasPrefix(p.countdown.Text, "The code expires in 9:") && !strings.HasPrefix(p.countdown.Text, "The code expires in 10:") {
			t.Errorf("countdown %q", p.countdown.Text)
		}
		if !p.cancel.Visible() || !p.signIn.Disabled() || !p.code.Disabled() {
			t.Error("the sign-in buttons stay usable while one waits")
		}
		test.Tap(p.copyCode)
		if got := fyne.CurrentApp().Clipboard().Content(); got != code {
			t.Errorf("Copy code copied %q, want %q", got, code)
		}
		// The countdown follows the clock.
		now := time.Now
		p.now = func() time.Time { return now().Add(4 * time.Minute) }
		p.tick()
		if !strings.HasPrefix(p.countdown.Text, "The code expires in 5:") && !strings.HasPrefix(p.countdown.Text, "The code expires in 6:") {
			t.Errorf("4 minutes later: %q", p.countdown.Text)
		}
		p.now = func() time.Time { return now().Add(11 * time.Minute) }
		p.tick()
		if !strings.HasPrefix(p.countdown.Text, "The code has expired") {
			t.Errorf("11 minutes later: %q", p.countdown.Text)
		}
		p.now = now
		noTerminal(t, texts(r.ui.win.Content()))
	})
	// Someone approves the code on their phone.
	if err := r.sim.ApproveDevice(code); err != nil {
		t.Fatal(err)
	}
	r.waitFor("signed in", r.signedIn)
	r.onUI(func() {
		if p.codeRow.Visible() || p.linkRow.Visible() || p.countdown.Visible() || p.cancel.Visible() {
			t.Error("the code stays on screen after the sign-in")
		}
		noTerminal(t, texts(r.ui.win.Content()))
	})
	if n := r.opens.Load(); n != 0 {
		t.Errorf("the browser was asked to open %d times for a port that could not answer", n)
	}
	// Signed in for real: a pass confirms the documents with the new sign-in.
	if _, err := r.eng.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.sim.StatusCalls()); n != 2 {
		t.Fatalf("%d documents confirmed after the sign-in, want 2", n)
	}
}

// The browser cannot be opened but the port is free: the Account tab shows
// the sign-in page's address with Copy and waits for the callback; pasted
// into a browser, it completes the sign-in.
func TestAccountSignInShowsTheAddressWhenTheBrowserFails(t *testing.T) {
	r := newSignInRig(t, 0)
	p := r.ui.account.panel
	r.onUI(func() { test.Tap(p.signIn) })
	r.waitFor("the address", func() bool { return p.linkRow.Visible() && p.link.Text != "" })
	var link string
	r.onUI(func() {
		if !strings.HasPrefix(p.msg.Text, "The browser could not be opened.") || p.codeRow.Visible() || p.openLink.Visible() {
			t.Errorf("message %q, code shown %v, Open shown %v", p.msg.Text, p.codeRow.Visible(), p.openLink.Visible())
		}
		test.Tap(p.copyLink)
		link = fyne.CurrentApp().Clipboard().Content()
		if link != p.link.Text || !strings.Contains(link, "/authorize?") || !strings.Contains(link, "redirect_uri=http%3A%2F%2F127.0.0.1%3A") {
			t.Errorf("copied %q", link)
		}
		noTerminal(t, texts(r.ui.win.Content()))
	})
	if n := r.opens.Load(); n != 1 {
		t.Errorf("opener called %d times, want 1", n)
	}
	// The person pastes it into a browser: the simulator approves and
	// redirects to the window's loopback listener.
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Signed in") {
		t.Fatalf("the browser shows %q", body)
	}
	r.waitFor("signed in", r.signedIn)
}

// "Sign in with a code" asks for a code directly; Cancel ends the wait
// quietly and the buttons come back.
func TestAccountSignInWithACodeAndCancel(t *testing.T) {
	r := newSignInRig(t, 0)
	p := r.ui.account.panel
	r.onUI(func() { test.Tap(p.code) })
	r.waitFor("the code", func() bool { return p.codeRow.Visible() })
	r.onUI(func() {
		if strings.Contains(p.msg.Text, "Port") || !strings.HasPrefix(p.msg.Text, "On any computer or phone") {
			t.Errorf("message %q", p.msg.Text)
		}
		test.Tap(p.cancel)
	})
	r.waitFor("the sign-in ended", func() bool { return !p.busy })
	r.onUI(func() {
		if p.msg.Visible() || p.codeRow.Visible() || p.cancel.Visible() || p.signIn.Disabled() || p.code.Disabled() {
			t.Errorf("after Cancel: message %v %q, code %v, cancel %v", p.msg.Visible(), p.msg.Text, p.codeRow.Visible(), p.cancel.Visible())
		}
	})
	if r.opens.Load() != 0 {
		t.Error("a code sign-in opened the browser")
	}
	// The tray's Sign in… leads to the Account tab's panel too.
	r.onUI(func() {
		r.ui.tabs.SelectIndex(tabActivity)
		r.ui.signIn()
		if r.ui.tabs.SelectedIndex() != tabAccount || !p.busy {
			t.Errorf("tray sign-in: tab %d, busy %v", r.ui.tabs.SelectedIndex(), p.busy)
		}
	})
	r.waitFor("the address", func() bool { return p.linkRow.Visible() })
}
