package app

import (
	"archive/zip"
	"context"
	"flag"
	"image/png"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/notes"
	"github.com/clinicsync/clinicsync/sync/service"
	"github.com/clinicsync/clinicsync/sync/sim"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// uiRig is the real window over the real service, engine, SQLite file and
// simulator (credentials from a static token, as CLINICSYNC_ACCESS_TOKEN
// gives them), rendered by Fyne's test driver.
type uiRig struct {
	t      *testing.T
	sim    *sim.Server
	eng    *engine.Engine
	st     *store.Store
	svc    *service.Service
	ui     *UI
	dir    string
	root   string
	broken string // a document whose link serves an HTML page
	opened []string
	// mu stands for the UI goroutine: Fyne's test driver runs fyne.Do
	// functions on the calling goroutine, so the rig serialises them and
	// the test's own widget access with one lock.
	mu     sync.Mutex
	closed bool // the test ended: late UI work from its goroutines is dropped
}

// onUI runs f as the UI goroutine would.
func (r *uiRig) onUI(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		f()
	}
}

// until polls cond on the UI goroutine for up to 5 s.
func (r *uiRig) until(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var ok bool
		r.onUI(func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newUIRig(t *testing.T, docs int) *uiRig { t.Helper(); return newUIRigWith(t, docs, nil) }

// newUIRigWith is newUIRig with the service's parts changed by tune
// (given the simulator's URL) before the service is built.
func newUIRigWith(t *testing.T, docs int, tune func(p *service.Parts, simURL string)) *uiRig {
	t.Helper()
	test.NewTempApp(t)
	if err := SetLanguage("en"); err != nil {
		t.Fatal(err)
	}
	s := sim.New(sim.Options{Documents: docs, Patients: 3, Seed: 11})
	broken := s.AddDocument(sim.Fixture{Doc: clinicsync.Document{UUID: "00000000-0000-4000-8000-00000000b0b0",
		Patient: clinicsync.Patient{FirstName: "Élodie", LastName: "Martin"}, PDF: clinicsync.PDF{FileName: "lab_results.pdf"}},
		Content: sim.Content{Kind: sim.ContentHTML}})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.SetBaseURL(ts.URL)
	dir := t.TempDir()
	root := filepath.Join(dir, "Patients")
	os.Mkdir(root, 0o755)
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	client, err := askara.New(askara.Options{BaseURL: ts.URL,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ui-test-token"})})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Askara.APIURL = ts.URL
	cfg.Destination.Root = root
	bus := events.New()
	eng := engine.New(engine.Config{SoftwareID: cfg.Destination.SoftwareID, QuickRetryDelay: time.Millisecond, Workers: 1}, st, client,
		dest.Layout{Root: root, Template: cfg.Destination.PatientFolder}, bus, nil)
	r := &uiRig{t: t, sim: s, eng: eng, st: st, dir: dir, root: root, broken: broken.UUID}
	parts := service.Parts{Version: "test", ConfigPath: filepath.Join(dir, "config.toml"), DataDir: dir,
		Config: cfg, Engine: eng, Client: client, Events: bus}
	if tune != nil {
		tune(&parts, ts.URL)
	}
	r.svc = service.New(parts)
	r.svc.RefreshAccount(context.Background())
	r.onUI(func() {
		r.ui = New(fyne.CurrentApp(), r.svc, Options{do: r.onUI,
			OpenPath: func(p string) error { r.opened = append(r.opened, p); return nil }})
		r.ui.Window().Resize(fyne.NewSize(980, 640))
	})
	t.Cleanup(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		r.ui.Close()
	})
	return r
}

func (r *uiRig) pass() {
	r.t.Helper()
	if _, err := r.eng.Pass(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	r.onUI(func() { r.ui.apply(r.svc.Status()) })
}

// selectDoc selects a document in the Documents list.
func (r *uiRig) selectDoc(uuid string) {
	r.t.Helper()
	v := r.ui.docs
	r.onUI(v.reload)
	r.until("the document in the list", func() bool {
		for i, d := range v.items {
			if d.UUID == uuid {
				v.list.Select(i)
				return v.selected.UUID == uuid
			}
		}
		v.reload()
		return false
	})
}

func TestRetryButtonCountsDownAndReenables(t *testing.T) {
	r := newUIRig(t, 2)
	r.pass()
	v := r.ui.docs
	now := time.Now()
	r.onUI(func() { v.now = func() time.Time { return now } })
	r.selectDoc(r.broken)
	r.mu.Lock() // the test is the UI goroutine, but while it waits
	defer r.mu.Unlock()
	if v.retry.Hidden || v.retry.Disabled() || v.retry.Text != "Retry" {
		t.Fatalf("retry button: hidden %v disabled %v %q", v.retry.Hidden, v.retry.Disabled(), v.retry.Text)
	}
	if v.reason.Hidden || v.reason.Text != "The file is not a PDF." {
		t.Fatalf("reason %q hidden %v", v.reason.Text, v.reason.Hidden)
	}
	before := len(r.sim.StatusCalls())

	test.Tap(v.retry)
	if !v.retry.Disabled() {
		t.Fatal("the button stays enabled while the retry runs")
	}
	r.wait("the retry's answer", func() bool { return v.retryMsg.Text != "" })
	// The command reached the engine: the document was fetched again and
	// failed again (the file is still broken), and Askara was told once more.
	if !strings.Contains(v.retryMsg.Text, "not a PDF") {
		t.Fatalf("message %q", v.retryMsg.Text)
	}
	if d, _ := r.svc.Document(context.Background(), r.broken); d.Attempts != 2 {
		t.Fatalf("attempts %d, want 2", d.Attempts)
	}
	if len(r.sim.StatusCalls()) != before+1 {
		t.Fatalf("status calls %d, want %d", len(r.sim.StatusCalls()), before+1)
	}
	if !v.retry.Disabled() || v.retry.Text != "Retry (30 s)" {
		t.Fatalf("after the retry: disabled %v %q", v.retry.Disabled(), v.retry.Text)
	}
	now = now.Add(12 * time.Second)
	v.tick()
	if !v.retry.Disabled() || v.retry.Text != "Retry (18 s)" {
		t.Fatalf("12 s later: %q", v.retry.Text)
	}
	test.Tap(v.retry) // disabled: nothing is sent
	if v.inFlight {
		t.Fatal("a tap on the disabled button sent a retry")
	}
	now = now.Add(18 * time.Second)
	v.tick()
	if v.retry.Disabled() || v.retry.Text != "Retry" {
		t.Fatalf("30 s later: disabled %v %q", v.retry.Disabled(), v.retry.Text)
	}

	// The platform fixed the file; the engine's own clock still has 30
	// real seconds to run, so the next tap is refused by the engine and the
	// button shows the engine's remaining time rather than trusting its own.
	r.sim.SetContent(r.broken, sim.Content{Kind: sim.ContentPDF})
	test.Tap(v.retry)
	r.wait("the refusal", func() bool { return v.retryMsg.Text != "" })
	if !strings.Contains(v.retryMsg.Text, "30 seconds") && !strings.Contains(v.retryMsg.Text, "wait") {
		t.Fatalf("refusal message %q", v.retryMsg.Text)
	}
	if !v.retry.Disabled() {
		t.Fatal("the button is enabled while the engine refuses")
	}
}

func TestRetryDeliversOnceTheCauseIsFixed(t *testing.T) {
	r := newUIRig(t, 1)
	r.pass()
	r.sim.SetContent(r.broken, sim.Content{Kind: sim.ContentPDF})
	r.selectDoc(r.broken)
	v := r.ui.docs
	r.mu.Lock()
	defer r.mu.Unlock()
	if v.retry.Disabled() || v.retry.Hidden {
		t.Fatalf("retry disabled %v hidden %v", v.retry.Disabled(), v.retry.Hidden)
	}
	test.Tap(v.retry)
	if !v.inFlight {
		t.Fatal("the tap sent nothing")
	}
	r.wait("delivery", func() bool { return v.retryMsg.Text != "" })
	if v.retryMsg.Text != "Delivered." || !v.retry.Hidden {
		t.Fatalf("after retry: %q, retry hidden %v", v.retryMsg.Text, v.retry.Hidden)
	}
	want := filepath.Join(r.root, "MARTIN_ÉLODIE", "lab_results.pdf")
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("file not on disk: %v", err)
	}
	if v.path.Text != want {
		t.Fatalf("path shown %q", v.path.Text)
	}
	test.Tap(v.openDir)
	if len(r.opened) != 1 || r.opened[0] != filepath.Dir(want) {
		t.Fatalf("opened %v", r.opened)
	}
}

func TestTemplatePreviewFollowsTyping(t *testing.T) {
	r := newUIRig(t, 0)
	s := r.ui.settings
	r.mu.Lock()
	defer r.mu.Unlock()
	s.template.SetText("")
	test.Type(s.template, "{LASTNAME}")
	want := "Example: " + filepath.Join(r.root, "DOE", "referral_letter.pdf")
	if s.preview.Text != want {
		t.Fatalf("preview %q, want %q", s.preview.Text, want)
	}
	test.Type(s.template, "/{FIRSTNAME}")
	if want := "Example: " + filepath.Join(r.root, "DOE", "JOHN", "referral_letter.pdf"); s.preview.Text != want {
		t.Fatalf("preview %q, want %q", s.preview.Text, want)
	}
	// Once a document arrived, the preview uses it: a real path.
	if _, err := r.eng.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.check()
	if !strings.Contains(s.preview.Text, "MARTIN"+string(filepath.Separator)+"ÉLODIE") {
		t.Fatalf("preview %q does not use the latest document", s.preview.Text)
	}
}

func TestSettingsValidationShowsInPlace(t *testing.T) {
	r := newUIRig(t, 0)
	s := r.ui.settings
	r.mu.Lock()
	defer r.mu.Unlock()
	s.root.SetText("relative/folder")
	p := s.problems["destination.root"]
	if p.Hidden || !strings.Contains(p.Text, "absolute path") {
		t.Fatalf("root problem %q hidden %v", p.Text, p.Hidden)
	}
	if !s.save.Disabled() {
		t.Fatal("Save enabled with an invalid folder")
	}
	s.poll.SetText("soon")
	if pp := s.problems["askara.poll_interval"]; pp.Hidden || !strings.Contains(pp.Text, "not a duration") {
		t.Fatalf("poll problem %q", pp.Text)
	}
	s.template.SetText("{LASTNAME")
	if pt := s.problems["destination.patient_folder"]; pt.Hidden {
		t.Fatal("template problem not shown")
	}
	s.proxy.SetText("http://nurse:s3cret@proxy.clinic.lan:3128")
	if pp := s.problems["network.proxy"]; pp.Hidden || !strings.Contains(pp.Text, "without a user name or password") ||
		strings.Contains(pp.Text, "s3cret") {
		t.Fatalf("proxy problem %q hidden %v", pp.Text, pp.Hidden)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "config.toml")); !os.IsNotExist(err) {
		t.Fatal("configuration written while invalid")
	}

	// Corrected, saved, applied without a restart.
	other := filepath.Join(r.dir, "Other")
	os.Mkdir(other, 0o755)
	s.root.SetText(other)
	s.poll.SetText("2m")
	s.template.SetText("{LASTNAME}")
	s.proxy.SetText("proxy.clinic.lan:3128")
	for k, l := range s.problems {
		if !l.Hidden {
			t.Fatalf("problem left on %s: %q", k, l.Text)
		}
	}
	test.Tap(s.save)
	r.wait("the save", func() bool { return s.result.Text == "Saved and applied." })
	c, err := config.Load(filepath.Join(r.dir, "config.toml"))
	if err != nil || c.Destination.Root != other || c.Askara.PollInterval.Duration != 2*time.Minute || c.Network.Proxy != "proxy.clinic.lan:3128" {
		t.Fatalf("saved %+v %v", c.Destination, err)
	}
	if l, _ := r.eng.Destination().(dest.Layout); l.Root != other || r.eng.Config().PollInterval != 2*time.Minute {
		t.Fatal("the engine did not get the new settings")
	}
}

func TestTrayMenuFollowsStatus(t *testing.T) {
	r := newUIRig(t, 0)
	r.mu.Lock()
	defer r.mu.Unlock()
	labels := func(m *fyne.Menu) (out []string) {
		for _, it := range m.Items {
			if !it.IsSeparator {
				l := it.Label
				if it.Disabled {
					l = "(" + l + ")"
				}
				out = append(out, l)
			}
		}
		return out
	}
	st := service.Status{Snapshot: engine.Snapshot{Status: engine.StatusIdle},
		Account: service.Account{SignedIn: true, Name: "Jane Doe"}}
	got := strings.Join(labels(r.ui.trayMenu(st)), "|")
	if got != "Open Clinic Sync|(Up to date)|Sync now|Pause|Open documents folder|Sign out (Jane Doe)|Quit" {
		t.Fatalf("idle menu: %s", got)
	}
	st.Paused, st.Status = true, engine.StatusPaused
	if got := strings.Join(labels(r.ui.trayMenu(st)), "|"); !strings.Contains(got, "(Sync now)|Resume") {
		t.Fatalf("paused menu: %s", got)
	}
	st = service.Status{Snapshot: engine.Snapshot{Status: engine.StatusSignedOut, SignedOut: true}}
	if got := strings.Join(labels(r.ui.trayMenu(st)), "|"); !strings.Contains(got, "Sign in…") || strings.Contains(got, "Sign out") {
		t.Fatalf("signed-out menu: %s", got)
	}
	m := r.ui.trayMenu(st)
	if q := m.Items[len(m.Items)-1]; !q.IsQuit || q.Label != "Quit" {
		t.Fatal("the last item is not Quit")
	}
	if trayIcon(engine.StatusAttention) == trayIcon(engine.StatusIdle) {
		t.Fatal("attention and idle share an icon")
	}
}

func TestNotificationsOncePerProblem(t *testing.T) {
	var sent []string
	n := notifier{send: func(title, body string) { sent = append(sent, title) }, names: func() bool { return false }}
	failed := engine.DocumentView{UUID: "d1", FileName: "a.pdf", Reason: "The file is not a PDF."}
	n.observe(statusWith(), []engine.DocumentView{failed}, false)
	n.observe(statusWith(), []engine.DocumentView{failed}, false) // the same failure again (a retry)
	unreachable := engine.Problem{Kind: engine.ProblemUnreachable, Open: true, Title: clinicsync.NewText("documents folder unreachable"),
		Cause: clinicsync.NewText("The documents folder %s has not been reachable for more than 10 minutes.", "/srv/P"),
		Fix:   clinicsync.NewText("Connect its drive or network share, or correct the folder in Settings.")}
	n.observe(statusWith(unreachable), nil, false)
	n.observe(statusWith(unreachable), nil, false) // still unreachable: no second notification
	n.observe(statusWith(), nil, false)
	signedOut := engine.Problem{Kind: engine.ProblemSignedOut, Open: true, Title: clinicsync.NewText("signed out"),
		Cause: clinicsync.NewText("Clinic Sync is signed out of Askara: new documents wait there."),
		Fix:   clinicsync.NewText("Open Clinic Sync and sign in on the Account tab.")}
	n.observe(statusWith(signedOut), nil, true) // the user signed out: nothing to say
	n.observe(statusWith(), nil, false)
	n.observe(statusWith(signedOut), nil, false) // the platform ended the sign-in
	n.observe(statusWith(unreachable, signedOut), nil, false)
	want := "Clinic Sync: a document could not be saved|Clinic Sync: documents folder unreachable|Clinic Sync: signed out|" +
		"Clinic Sync: documents folder unreachable"
	if got := strings.Join(sent, "|"); got != want {
		t.Fatalf("notifications:\n%s\nwant\n%s", got, want)
	}
}

// Golden markup of the main screens, with the parts that change from run
// to run (temporary folders, clock times) replaced.
func TestGoldenScreens(t *testing.T) {
	// One document at a time, so that every order is deterministic.
	r := newUIRig(t, 0)
	r.pass()
	for _, p := range []clinicsync.Patient{{FirstName: "Jean", LastName: "Dupont"}, {FirstName: "Amira", LastName: "Haddad"}} {
		time.Sleep(5 * time.Millisecond)
		r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: p, PDF: clinicsync.PDF{FileName: "referral_letter.pdf"}}})
		r.pass()
	}
	r.onUI(r.ui.activity.reload)
	w := r.ui.Window()
	norm := func(s string) string {
		// Text sizes depend on the temporary folder's name: drop them there.
		s = regexp.MustCompile(`(?m)^(.*) size="\d+x\d+"(.*`+regexp.QuoteMeta(r.dir)+`)`).ReplaceAllString(s, "$1$2")
		s = strings.ReplaceAll(s, r.dir, "$DIR")
		s = regexp.MustCompile(`\$DIR/[^<]*…`).ReplaceAllString(s, "$$DIR/…") // truncation point
		s = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`).ReplaceAllString(s, "TIME")
		s = regexp.MustCompile(`automatically at \d\d:\d\d`).ReplaceAllString(s, "automatically at HH:MM")
		s = regexp.MustCompile(`http://127\.0\.0\.1:\d+`).ReplaceAllString(s, "$$SIM")
		// The last pass is seconds old by the last tab under -race on a
		// busy machine ("12 s ago" instead of "just now").
		s = regexp.MustCompile(`Last sync: (just now|\d+ s ago)`).ReplaceAllString(s, "Last sync: RECENT")
		return s
	}
	for i, name := range []string{"activity", "documents", "notes", "settings", "account", "diagnostics"} {
		r.onUI(func() { r.ui.tabs.SelectIndex(i) })
		if name == "documents" {
			r.selectDoc(r.broken)
		}
		if name == "activity" {
			r.until("activity rows", func() bool { return r.ui.activity.loaded() > 3 })
		}
		r.onUI(func() {
			r.ui.tabs.SelectIndex(i)
			r.ui.header.set(r.svc.Status()) // "just now" relative to now
			settle(w)                       // as the window's next frames would
			checkGolden(t, name+".xml", norm(test.RenderToMarkup(w.Canvas())))
		})
	}
	r.onUI(func() {
		menu := test.NewWindow(newMenuWidget(r.ui.trayMenu(r.svc.Status())))
		defer menu.Close()
		checkGolden(t, "tray-menu.xml", norm(test.RenderToMarkup(menu.Canvas())))
	})
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./app -run Golden -update to create it)", err)
	}
	if string(want) != got {
		os.WriteFile(path+".got", []byte(got), 0o644)
		t.Errorf("%s differs from the golden file; see %s.got (go test ./app -run Golden -update accepts it)", name, path)
	}
}

// wait, called with r.mu held (the test acting as the UI goroutine),
// lets go of it until cond holds, so the retry's answer can come in.
func (r *uiRig) wait(what string, cond func() bool) {
	r.t.Helper()
	r.mu.Unlock()
	defer r.mu.Lock()
	r.until(what, cond)
}

func newMenuWidget(m *fyne.Menu) fyne.CanvasObject { return widget.NewMenu(m) }

// The header's Show button leads from "1 document needs attention" to
// the failed document, selected, with its reason and Retry.
func TestHeaderLeadsToTheFailure(t *testing.T) {
	r := newUIRig(t, 2)
	r.pass()
	r.onUI(func() {
		if r.ui.header.failed.Hidden {
			t.Fatal("no Show button with a failed document")
		}
		test.Tap(r.ui.header.failed)
	})
	r.until("the failed document selected", func() bool { return r.ui.docs.selected.UUID == r.broken })
	r.onUI(func() {
		v := r.ui.docs
		if r.ui.tabs.SelectedIndex() != tabDocuments || len(v.items) != 1 || v.retry.Hidden || v.reason.Text == "" {
			t.Fatalf("tab %d, %d items, retry hidden %v, reason %q", r.ui.tabs.SelectedIndex(), len(v.items), v.retry.Hidden, v.reason.Text)
		}
	})
}

// The tray menu as Fyne draws it, written as a PNG when SCREENSHOTS_DIR
// is set (make screenshots): Xvfb has no tray host to photograph.
func TestTrayMenuImage(t *testing.T) {
	r := newUIRig(t, 1)
	r.pass()
	r.onUI(func() {
		w := test.NewWindow(newMenuWidget(r.ui.trayMenu(r.svc.Status())))
		defer w.Close()
		w.Resize(fyne.NewSize(300, 300))
		img := w.Canvas().Capture()
		if img.Bounds().Dx() < 100 {
			t.Fatalf("capture %v", img.Bounds())
		}
		if dir := os.Getenv("SCREENSHOTS_DIR"); dir != "" {
			f, err := os.Create(filepath.Join(dir, "tray-menu.png"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// The view-model goroutine alone keeps the window current: engine events
// in, one coalesced refresh out, through fyne.Do.
func TestViewModelFollowsEngineEvents(t *testing.T) {
	r := newUIRig(t, 5)
	var notes []string
	r.onUI(func() {
		r.ui.notifier.send = func(title, body string) { notes = append(notes, title) }
		r.ui.Start()
	})
	go r.eng.Run(r.ui.ctx)
	r.until("the header to show the failure", func() bool {
		return r.ui.header.state.Text == "1 document needs attention" && !r.ui.header.failed.Hidden
	})
	r.until("the documents list", func() bool { return len(r.ui.docs.items) == 6 })
	r.until("the activity log", func() bool { return r.ui.activity.loaded() >= 6 })
	r.until("one notification", func() bool { return len(notes) == 1 })
	r.onUI(func() {
		if notes[0] != "Clinic Sync: a document could not be saved" {
			t.Fatalf("notification %q", notes[0])
		}
		test.Tap(r.ui.header.pause)
	})
	r.until("paused", func() bool { return r.ui.header.pause.Text == "Resume" && r.ui.header.state.Text == "Paused" })
}

// statusCounter counts the window's status reads (each queries SQLite).
type statusCounter struct {
	Backend
	reads atomic.Int64
}

func (c *statusCounter) Status() service.Status {
	c.reads.Add(1)
	return c.Backend.Status()
}

// The window reads the status when an event says it changed, never on a
// timer: its clock only redraws the texts relative to now ("3 s ago") from
// the status it has. An account read from the platform is such an event.
func TestWindowReadsStatusOnEventsOnly(t *testing.T) {
	r := newUIRig(t, 0)
	b := &statusCounter{Backend: r.svc}
	var redraws atomic.Int64
	var u *UI
	r.onUI(func() {
		u = New(fyne.CurrentApp(), b, Options{clock: 5 * time.Millisecond,
			do: func(f func()) { redraws.Add(1); r.onUI(f) }})
		u.Start()
	})
	t.Cleanup(u.Close)
	before := b.reads.Load()
	deadline := time.Now().Add(20 * time.Second)
	for redraws.Load() < 30 {
		if time.Now().After(deadline) {
			t.Fatalf("the clock redrew %d times in 20 s", redraws.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := b.reads.Load() - before; n != 0 {
		t.Fatalf("with no event, the window read the status %d times in %d redraws", n, redraws.Load())
	}
	r.svc.RefreshAccount(context.Background())
	for b.reads.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("the account read from the platform did not refresh the window")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Diagnostics: the support bundle the button writes is a zip with the
// status and the log, and without the token.
func TestSupportBundleFromDiagnostics(t *testing.T) {
	r := newUIRig(t, 2)
	r.pass()
	var path string
	var err error
	r.onUI(func() { path, err = r.ui.diag.exportTo(context.Background(), r.dir) })
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if strings.Contains(string(b), "ui-test-token") {
			t.Fatalf("%s holds the access token", f.Name)
		}
	}
	if !names["status.json"] || !names["activity.log"] || !names["documents.csv"] {
		t.Fatalf("bundle holds %v", names)
	}
	if !strings.HasPrefix(filepath.Base(path), "clinicsync-support-") {
		t.Fatalf("bundle name %s", path)
	}
}

// The Notes tab lists the notes written, and the Inbox filter shows those
// that came with no patient.
func TestNotesTabAndInbox(t *testing.T) {
	r := newUIRig(t, 0)
	ctx := context.Background()
	r.eng.SetNotes(nil, true)
	for _, n := range []notes.Note{
		{Source: "askara", ID: "n-1", Kind: notes.KindNote, Type: "consultation_summary", CreatedAt: time.Now(),
			Patient: &clinicsync.Patient{FirstName: "Jean", LastName: "Dupont"}, Sections: []notes.Section{{Text: "Seen today."}}},
		{Source: "soapnoteapi", ID: "n-2", CorrelationID: "n-2", Kind: notes.KindNote, Type: "soap_note", CreatedAt: time.Now(),
			Sections: []notes.Section{{Key: "PLAN", Title: "Plan", Text: "Rest."}}},
	} {
		if _, err := r.eng.SaveNote(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	v := r.ui.notes
	r.onUI(v.reload)
	r.until("two notes", func() bool { return len(v.items) == 2 })
	r.onUI(func() { v.filter.SetSelectedIndex(1) })
	r.until("the inbox", func() bool { return len(v.items) == 1 && v.items[0].Inbox })
	r.onUI(func() {
		v.list.Select(0)
		if !strings.Contains(v.detail.Text, filepath.Join(r.root, "Inbox")) || v.open.Disabled() {
			t.Fatalf("detail %q", v.detail.Text)
		}
		test.Tap(v.open)
	})
	if len(r.opened) != 1 || filepath.Dir(r.opened[0]) != filepath.Join(r.root, "Inbox") {
		t.Fatalf("opened %v", r.opened)
	}
}

// quitApp records Quit instead of stopping the test app.
type quitApp struct {
	fyne.App
	quits atomic.Int32
}

// quitDriver counts the driver's Quit, which ends Fyne's loop.
type quitDriver struct {
	fyne.Driver
	quits *atomic.Int32
}

func (d quitDriver) Quit() { d.quits.Add(1) }

func (a *quitApp) Driver() fyne.Driver { return quitDriver{a.App.Driver(), &a.quits} }

// Quit is the app's: it closes every window, which panics once Fyne's loop
// has stopped (after a SIGTERM Fyne handles itself); UI.Quit must not use it.
func (a *quitApp) Quit() { panic("UI.Quit called the app's Quit") }

// Quit hides the window, quits the app once after the drain, and from then
// on drops UI work; Fyne's exit-time preferences save (which races its
// own shutdown) is not queued.
func TestQuitDrainsThenQuitsOnce(t *testing.T) {
	r := newUIRig(t, 1)
	a := &quitApp{App: fyne.CurrentApp()}
	l := a.Lifecycle().(interface {
		SetOnStoppedHookExecuted(func())
		OnStopped() func()
	})
	l.SetOnStoppedHookExecuted(func() {})
	var u *UI
	r.onUI(func() {
		u = New(a, r.svc, Options{do: r.onUI})
		u.Show()
	})
	if l.OnStopped() != nil {
		t.Fatal("Fyne's exit-time hook is still set: its shutdown race stays")
	}
	start := time.Now()
	r.onUI(func() { u.Quit(); u.Quit() })
	if n := a.quits.Load(); n != 0 {
		t.Fatalf("quit %d times before the drain", n)
	}
	for a.quits.Load() == 0 && time.Since(start) < 5*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if d := time.Since(start); d < quitDrain {
		t.Fatalf("quit after %v, before the %v drain", d, quitDrain)
	}
	time.Sleep(2 * quitDrain)
	if n := a.quits.Load(); n != 1 {
		t.Fatalf("quit %d times, want 1", n)
	}
	ran := false
	u.do(func() { ran = true })
	if ran {
		t.Fatal("UI work ran after Quit")
	}
}

// findIn walks o's widget tree (as rendered) for the first T that matches.
func findIn[T fyne.CanvasObject](o fyne.CanvasObject, match func(T) bool) (T, bool) {
	if t, ok := o.(T); ok && match(t) {
		return t, true
	}
	var kids []fyne.CanvasObject
	switch c := o.(type) {
	case *fyne.Container:
		kids = c.Objects
	case fyne.Widget:
		kids = test.WidgetRenderer(c).Objects()
	}
	for _, k := range kids {
		if t, ok := findIn(k, match); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// Settings → Azodha files… picks the Azodha events written as files; the
// choice is saved with the form and reaches the configuration file.
func TestSettingsChoosesAzodhaFiles(t *testing.T) {
	r := newUIRig(t, 0)
	s := r.ui.settings
	r.mu.Lock()
	defer r.mu.Unlock()
	s.relay.SetChecked(false)
	if !s.azodha.Disabled() {
		t.Fatal("Azodha files… enabled with the relay off")
	}
	s.relay.SetChecked(true)
	s.platforms.SetSelected([]string{"askara"})
	if !s.azodha.Disabled() {
		t.Fatal("Azodha files… enabled without the Azodha platform")
	}
	s.platforms.SetSelected([]string{"askara", "azodha"})
	if s.azodha.Disabled() {
		t.Fatal("Azodha files… disabled with the relay on for Azodha")
	}
	test.Tap(s.azodha)
	top := r.ui.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog")
	}
	group, ok := findIn(top, func(*widget.CheckGroup) bool { return true })
	if !ok || len(group.Options) != len(config.AzodhaEvents) {
		t.Fatalf("the dialog lists %v", group)
	}
	group.SetSelected([]string{"SurveyAssessment", "InferenceToKeyFindings"})
	okButton, found := findIn(top, func(b *widget.Button) bool { return b.Text == "OK" })
	if !found {
		t.Fatal("no OK button")
	}
	test.Tap(okButton)
	if s.result.Text != "Press Save to apply." {
		t.Fatalf("result %q", s.result.Text)
	}
	test.Tap(s.save)
	r.wait("the save", func() bool { return s.result.Text == "Saved and applied." })
	c, err := config.Load(filepath.Join(r.dir, "config.toml"))
	if err != nil || !slices.Equal(c.Relay.AzodhaFiles, []string{"SurveyAssessment", "InferenceToKeyFindings"}) {
		t.Fatalf("saved azodha_files %v, %v", c.Relay.AzodhaFiles, err)
	}
}
