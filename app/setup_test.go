package app

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
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

// setupOpts describe the installation a setup test starts from.
type setupOpts struct {
	// file is the configuration file's text, "" for no file; $ROOT is
	// replaced by an existing, writable folder.
	file string
	// managed: credentials from a static token (CLINICSYNC_ACCESS_TOKEN),
	// so no sign-in step; else a browser sign-in against the simulator.
	managed bool
	// wrap, when set, stands between the window and the service (to inject
	// the OS's refusals, which root in CI never gets).
	wrap func(Backend) Backend
	docs int
}

// newSetupRig builds the tray app as cmd does when it starts: the file
// read with config.LoadFile, the first-run setup asked for when it is
// missing or has problems, the service running (its engine waiting for
// the setup), over the simulator, a real SQLite file and real folders.
// The build's defaults point at the simulator instead of Askara.
func newSetupRig(t *testing.T, o setupOpts) *uiRig {
	t.Helper()
	test.NewTempApp(t)
	if err := SetLanguage("en"); err != nil {
		t.Fatal(err)
	}
	const secret = "setup-client-secret-0123456789"
	s := sim.New(sim.Options{Documents: o.docs, Patients: 2, Seed: 31, OAuth: !o.managed, AutoApprove: true, ClientSecret: secret})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.SetBaseURL(ts.URL)
	dir := t.TempDir()
	root := filepath.Join(dir, "Patients")
	os.Mkdir(root, 0o755)
	path := filepath.Join(dir, "config.toml")
	if o.file != "" {
		text := strings.ReplaceAll(o.file, "$ROOT", filepath.ToSlash(root))
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, preset, loadErr := config.LoadFile(path)
	if !preset["askara.api_url"] {
		cfg.Askara.APIURL = ts.URL
	}
	cfg.Askara.AuthorizeURL, cfg.Askara.TokenURL, cfg.Askara.RevokeURL = ts.URL+"/authorize", ts.URL+"/oauth2/token", ts.URL+"/oauth2/revoke"
	cfg.Askara.RedirectPort = 0
	first := service.NeedsFirstRun(cfg, preset, loadErr)
	if first == nil {
		t.Fatal("the rig's configuration needs no setup")
	}
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ac := auth.Config{AuthorizeURL: cfg.Askara.AuthorizeURL, TokenURL: cfg.Askara.TokenURL, RevokeURL: cfg.Askara.RevokeURL,
		ClientID: cfg.Askara.ClientID, ClientSecret: secret, Scopes: cfg.Askara.Scopes}
	kc := auth.Keychain{Service: "Clinic Sync test", User: dir} // one per run: the mock keychain outlives a test
	var (
		src *auth.Source
		ts2 oauth2.TokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "setup-test-token"})
	)
	if !o.managed {
		src = auth.NewSource(context.Background(), ac, kc, nil)
		ts2 = src
	}
	client, err := askara.New(askara.Options{BaseURL: ts.URL, TokenSource: ts2})
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	eng := engine.New(engine.Config{SoftwareID: cfg.Destination.SoftwareID, PollInterval: time.Second, Workers: 1}, st, client,
		dest.Layout{Root: cfg.Destination.Root, Template: cfg.Destination.PatientFolder}, bus, nil)
	r := &uiRig{t: t, sim: s, eng: eng, dir: dir, root: root}
	r.svc = service.New(service.Parts{Version: "test", ConfigPath: path, DataDir: dir, Config: cfg, Engine: eng,
		Client: client, Source: src, Keychain: kc, AuthConfig: func() auth.Config { return ac }, FirstRun: first, Events: bus,
		OpenURL: func(u string) error {
			go func() { // the browser: the simulator approves and redirects to the loopback
				if resp, err := http.Get(u); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
			return nil
		}})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); r.svc.Run(ctx) }()
	var b Backend = r.svc
	if o.wrap != nil {
		b = o.wrap(b)
	}
	r.onUI(func() {
		r.ui = New(fyne.CurrentApp(), b, Options{do: r.onUI, OpenPath: func(string) error { return nil }})
		r.ui.Window().Resize(fyne.NewSize(980, 640))
	})
	t.Cleanup(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		r.ui.Close()
		cancel()
		<-ran
	})
	// The setup decides its steps off the UI goroutine first.
	r.until("the setup's first step", func() bool { return r.ui.setup != nil && r.ui.setup.steps != nil })
	return r
}

// steps names the setup's steps, for messages.
func (r *uiRig) steps() (names []string) {
	for _, s := range r.ui.setup.steps {
		names = append(names, []string{"sign in", "folder", "pattern", "done"}[s])
	}
	return names
}

// The tray app with no configuration file shows the setup, not the tabs:
// sign in (who is signed in is shown), the folder (checked), the pattern
// (previewed), done; Done writes a file config.Load accepts, the engine
// starts without a restart and documents land.
func TestSetupFromNothingToSyncing(t *testing.T) {
	r := newSetupRig(t, setupOpts{docs: 3})
	v := r.ui.setup
	r.onUI(func() {
		if r.ui.win.Content() == r.ui.tabs || !strings.Contains(strings.Join(r.steps(), ","), "sign in,folder,pattern,done") {
			t.Fatalf("steps %v", r.steps())
		}
		if v.step() != stepSignIn || v.next.Text != "Skip for now" || v.next.Disabled() || v.who.Text != "Not signed in" {
			t.Fatalf("first step %d, next %q, who %q", v.step(), v.next.Text, v.who.Text)
		}
		if got := statusText(r.svc.Status()); got != "Setup needed: open Clinic Sync" {
			t.Fatalf("tray status %q", got)
		}
		test.Tap(v.panel.signIn)
	})
	r.until("signed in", func() bool { return strings.HasPrefix(v.who.Text, "Signed in as ") && v.next.Text == "Next" })

	r.onUI(func() {
		test.Tap(v.next)
		if v.step() != stepFolder || !v.next.Disabled() {
			t.Fatalf("step %d, next disabled %v", v.step(), v.next.Disabled())
		}
		v.root.SetText(filepath.Join(r.dir, "nope"))
	})
	r.until("the missing folder said", func() bool { return strings.Contains(v.folderMsg.Text, "does not exist") && v.next.Disabled() })
	file := filepath.Join(r.dir, "a-file.txt")
	os.WriteFile(file, []byte("x"), 0o600)
	r.onUI(func() { v.root.SetText(file) })
	r.until("a file said", func() bool { return strings.Contains(v.folderMsg.Text, "is a file, not a folder") && v.next.Disabled() })
	r.onUI(func() { v.root.SetText("relative/folder") })
	r.until("a relative path said", func() bool { return strings.Contains(v.folderMsg.Text, "absolute path") })
	r.onUI(func() { v.root.SetText(r.root) })
	r.until("the folder checked", func() bool { return v.folderMsg.Text == "Clinic Sync can write in this folder." && !v.next.Disabled() })
	if left, _ := os.ReadDir(r.root); len(left) != 0 {
		t.Fatalf("the test write left %v", left)
	}

	r.onUI(func() {
		test.Tap(v.next)
		if v.step() != stepPattern {
			t.Fatalf("step %d", v.step())
		}
		if want := "Example: " + filepath.Join(r.root, "DOE_JOHN", "referral_letter.pdf"); v.preview.Text != want {
			t.Fatalf("preview %q, want %q", v.preview.Text, want)
		}
		v.pattern.SetSelected(v.pattern.Options[1])
		if want := filepath.Join(r.root, "12345", "referral_letter.pdf"); !strings.HasSuffix(v.preview.Text, want) {
			t.Fatalf("{EXTERNALID} preview %q", v.preview.Text)
		}
		v.pattern.SetSelected(v.pattern.Options[3])
		v.custom.SetText("")
		test.Type(v.custom, "{LASTNAME")
		if v.patternMsg.Hidden || !v.next.Disabled() || v.preview.Text != "" {
			t.Fatalf("a broken pattern: problem %q hidden %v, next disabled %v, preview %q",
				v.patternMsg.Text, v.patternMsg.Hidden, v.next.Disabled(), v.preview.Text)
		}
		test.Type(v.custom, "} {FIRSTNAME}")
		if want := filepath.Join(r.root, "DOE JOHN", "referral_letter.pdf"); !strings.HasSuffix(v.preview.Text, want) || v.next.Disabled() {
			t.Fatalf("free pattern preview %q", v.preview.Text)
		}
		v.pattern.SetSelected(v.pattern.Options[2]) // {LASTNAME}/{FIRSTNAME}
		test.Tap(v.next)
		if v.step() != stepDone || v.next.Text != "Finish and start syncing" || v.next.Disabled() {
			t.Fatalf("step %d, next %q", v.step(), v.next.Text)
		}
		if v.sumRoot.Text != r.root || v.sumPat.Text != "{LASTNAME}/{FIRSTNAME}" || !strings.HasPrefix(v.sumWho.Text, "Signed in as") {
			t.Fatalf("summary %q %q %q", v.sumRoot.Text, v.sumPat.Text, v.sumWho.Text)
		}
		if _, err := os.Stat(filepath.Join(r.dir, "config.toml")); !os.IsNotExist(err) {
			t.Fatal("the file was written before Finish")
		}
		test.Tap(v.next)
	})
	r.until("the usual window", func() bool {
		return r.ui.setup == nil && r.ui.win.Content() != nil && r.ui.tabs.SelectedIndex() == tabActivity
	})
	c, err := config.Load(filepath.Join(r.dir, "config.toml"))
	if err != nil || c.Validate() != nil || c.Destination.Root != r.root || c.Destination.PatientFolder != "{LASTNAME}/{FIRSTNAME}" {
		t.Fatalf("saved %+v: %v", c.Destination, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for countFiles(r.root) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d documents landed, want 3", countFiles(r.root))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.svc.Status().SetupNeeded {
		t.Fatal("setup still needed")
	}
}

func countFiles(root string) int {
	n := 0
	filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// folderFails is the service with the OS refusing writes in one folder:
// root in CI may write anywhere, so permission and read-only refusals are
// injected where the folder check answers.
type folderFails struct {
	Backend
	path string
	err  error
}

func (f folderFails) CheckFolder(p string) error {
	if p == f.path {
		return f.err
	}
	return f.Backend.CheckFolder(p)
}

// Each refusal of the folder's test write is said in its own words, and
// Next stays disabled.
func TestSetupFolderRefusals(t *testing.T) {
	denied := t.TempDir()
	r := newSetupRig(t, setupOpts{managed: true, wrap: func(b Backend) Backend {
		return folderFails{Backend: b, path: denied, err: clinicsync.Permanent(clinicsync.EPermission, "denied",
			errors.Join(dest.ErrFolderDenied, &fs.PathError{Op: "open", Path: denied, Err: syscall.EACCES}))}
	}})
	v := r.ui.setup
	r.onUI(func() {
		if v.step() != stepFolder {
			t.Fatalf("steps %v, at %d: signed in by token, the setup starts at the folder", r.steps(), v.at)
		}
		v.root.SetText(denied)
	})
	r.until("permission denied said", func() bool {
		return strings.Contains(v.folderMsg.Text, "Permission denied") && strings.Contains(v.folderMsg.Text, denied) && v.next.Disabled()
	})
	// A read-only folder, for real where the test is not root.
	if os.Geteuid() != 0 {
		ro := filepath.Join(r.dir, "read-only")
		os.Mkdir(ro, 0o555)
		r.onUI(func() { v.root.SetText(ro) })
		r.until("a 0555 folder refused", func() bool { return strings.Contains(v.folderMsg.Text, "Permission denied") && v.next.Disabled() })
	}
	r.onUI(func() { v.root.SetText(r.root) })
	r.until("a writable folder accepted", func() bool { return !v.next.Disabled() })
	if got := folderProblem("/mnt/cd", clinicsync.Permanent(clinicsync.EPermission, "ro", dest.ErrFolderReadOnly)); !strings.Contains(got, "read-only") {
		t.Fatalf("read-only: %q", got)
	}
}

// An IT-preset file that sets a valid, writable folder skips the folder
// step; one that sets the pattern skips the pattern step. (One that sets
// both, validly, needs no setup: service.NeedsFirstRun.)
// (Each rig in a subtest: its window is closed before the next is built.)
func TestSetupSkipsWhatITPreset(t *testing.T) {
	t.Run("folder", func(t *testing.T) {
		r := newSetupRig(t, setupOpts{managed: true, file: "[destination]\nroot = \"$ROOT\"\n"})
		r.onUI(func() {
			if got := strings.Join(r.steps(), ","); got != "pattern,done" {
				t.Fatalf("steps %s", got)
			}
			if r.ui.setup.step() != stepPattern {
				t.Fatalf("opens at %d", r.ui.setup.step())
			}
		})
	})
	t.Run("pattern", func(t *testing.T) {
		r := newSetupRig(t, setupOpts{file: "[destination]\npatient_folder = \"{EXTERNALID}\"\n"})
		r.onUI(func() {
			if got := strings.Join(r.steps(), ","); got != "sign in,folder,done" {
				t.Fatalf("steps %s", got)
			}
			if v := r.ui.setup; v.template() != "{EXTERNALID}" || v.step() != stepSignIn {
				t.Fatalf("pattern %q, opens at %d", v.template(), v.step())
			}
		})
	})
}

// A file with a problem opens the setup at the problem's step, the
// problem said under its field.
func TestSetupOpensAtTheProblem(t *testing.T) {
	t.Run("relative folder", func(t *testing.T) {
		r := newSetupRig(t, setupOpts{file: "[destination]\nroot = \"relative/Patients\"\n"})
		v := r.ui.setup
		r.until("the folder step with the problem", func() bool {
			return v.step() == stepFolder && strings.Contains(v.folderMsg.Text, "must be an absolute path") && v.next.Disabled()
		})
		r.onUI(func() {
			if v.steps[0] != stepSignIn || v.back.Hidden {
				t.Fatalf("steps %v: sign-in stays one Back away", r.steps())
			}
		})
	})
	t.Run("missing folder", func(t *testing.T) {
		r := newSetupRig(t, setupOpts{managed: true, file: "[destination]\nroot = \"$ROOT/Missing\"\n"})
		v := r.ui.setup
		r.until("the folder step with the missing folder", func() bool {
			return v.step() == stepFolder && strings.Contains(v.folderMsg.Text, "does not exist")
		})
	})
	t.Run("bad pattern", func(t *testing.T) {
		r := newSetupRig(t, setupOpts{managed: true, file: "[destination]\nroot = \"$ROOT\"\npatient_folder = \"{NOPE}\"\n"})
		v := r.ui.setup
		r.onUI(func() {
			if v.step() != stepPattern || v.patternMsg.Hidden || !strings.Contains(v.patternMsg.Text, "NOPE") || !v.next.Disabled() {
				t.Fatalf("step %d, problem %q hidden %v", v.step(), v.patternMsg.Text, v.patternMsg.Hidden)
			}
			if v.pattern.Selected != v.pattern.Options[3] || v.custom.Text != "{NOPE}" {
				t.Fatalf("the file's pattern is not in the free entry: %q %q", v.pattern.Selected, v.custom.Text)
			}
			v.pattern.SetSelected(v.pattern.Options[0])
			if v.next.Disabled() {
				t.Fatal("a valid pattern left Next disabled")
			}
		})
	})
}

// What the setup cannot correct (a value it does not ask for, a file it
// cannot read) is said on every step, and Finish stays disabled: the
// setup never overwrites an IT person's file.
func TestSetupSaysWhatOnlyTheFileCanCorrect(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"[askara]\npoll_interval = \"5s\"\n[destination]\nroot = \"$ROOT\"\n", "askara.poll_interval: 5s must be between 10s and 1h"},
		{"[destination]\nrooot = \"$ROOT\"\n", "unknown keys: destination.rooot"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			r := newSetupRig(t, setupOpts{managed: true, file: tc.file})
			v := r.ui.setup
			r.onUI(func() {
				if v.banner.Hidden || !strings.Contains(v.banner.Text, tc.want) || !strings.Contains(v.banner.Text, "config.toml") {
					t.Fatalf("banner %q hidden %v", v.banner.Text, v.banner.Hidden)
				}
				v.root.SetText(r.root)
			})
			r.until("the folder accepted", func() bool { return v.folderOK })
			r.onUI(func() {
				v.show(len(v.steps) - 1)
				if v.step() != stepDone || !v.next.Disabled() {
					t.Fatalf("step %d: Finish enabled %v", v.step(), !v.next.Disabled())
				}
			})
		})
	}
}
