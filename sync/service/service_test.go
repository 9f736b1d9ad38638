package service

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/auth"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/netclient"
	"github.com/clinicsync/clinicsync/sync/sim"
)

func TestMain(m *testing.M) {
	keyring.MockInit() // the real keychain is tested in sync/auth
	os.Exit(m.Run())
}

// rig is the service as cmd builds it, against the simulator with OAuth:
// real SQLite, real folders, real HTTP, the keychain mocked in-process.
type rig struct {
	t      *testing.T
	sim    *sim.Server
	svc    *Service
	eng    *engine.Engine
	cfg    config.Config
	dir    string
	auto   *fakeAutostart
	opened []string
}

type fakeAutostart struct{ enabled, calls int }

func (f *fakeAutostart) Enable() error  { f.enabled, f.calls = 1, f.calls+1; return nil }
func (f *fakeAutostart) Disable() error { f.enabled, f.calls = 0, f.calls+1; return nil }

const clientSecret = "issued-client-secret-0123456789"

func newRig(t *testing.T, o sim.Options) *rig {
	t.Helper()
	return newRigWith(t, o, nil)
}

// newRigWith is newRig with the service's parts changed by edit first.
func newRigWith(t *testing.T, o sim.Options, edit func(*Parts)) *rig {
	t.Helper()
	o.OAuth, o.AutoApprove, o.ClientSecret = true, true, clientSecret
	s := sim.New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.SetBaseURL(ts.URL)
	dir := t.TempDir()
	root := filepath.Join(dir, "Patients")
	os.Mkdir(root, 0o755)
	cfg := config.Default()
	cfg.Askara.APIURL = ts.URL
	cfg.Askara.AuthorizeURL = ts.URL + "/authorize"
	cfg.Askara.TokenURL = ts.URL + "/oauth2/token"
	cfg.Askara.RevokeURL = ts.URL + "/oauth2/revoke"
	cfg.Askara.RedirectPort = 0
	cfg.Askara.ClientSecret = clientSecret
	cfg.Destination.Root = root
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ac := auth.Config{AuthorizeURL: cfg.Askara.AuthorizeURL, TokenURL: cfg.Askara.TokenURL,
		RevokeURL: cfg.Askara.RevokeURL, ClientID: cfg.Askara.ClientID, ClientSecret: clientSecret,
		Scopes: cfg.Askara.Scopes}
	kc := auth.Keychain{Service: "Clinic Sync test", User: t.Name()}
	src := auth.NewSource(context.Background(), ac, kc, nil)
	client, err := askara.New(askara.Options{BaseURL: ts.URL, TokenSource: src})
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	eng := engine.New(engine.Config{SoftwareID: cfg.Destination.SoftwareID}, st, client,
		dest.Layout{Root: root, Template: cfg.Destination.PatientFolder}, bus, nil)
	r := &rig{t: t, sim: s, eng: eng, cfg: cfg, dir: dir, auto: &fakeAutostart{}}
	parts := Parts{Version: "test", ConfigPath: filepath.Join(dir, "config.toml"), DataDir: dir,
		LogFile: filepath.Join(dir, "debug.log"), Config: cfg, Engine: eng, Client: client, Source: src,
		Keychain: kc, AuthConfig: func() auth.Config { return ac }, Autostart: r.auto, Events: bus,
		OpenURL: func(u string) error {
			r.opened = append(r.opened, u)
			go func() { // the browser: the simulator approves and redirects to the loopback
				if resp, err := http.Get(u); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
			return nil
		}}
	if edit != nil {
		edit(&parts)
	}
	r.svc = New(parts)
	return r
}

func (r *rig) signIn() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.svc.SignIn(ctx, SignInOptions{}); err != nil {
		r.t.Fatalf("sign in: %v", err)
	}
}

func TestSignInSyncSignOut(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 6, Patients: 2, Seed: 5})
	if st := r.svc.Status(); st.Account.SignedIn {
		t.Fatalf("signed in before any sign-in: %+v", st.Account)
	}
	// Signed out, a pass costs nothing and leaves the engine signed out.
	if _, err := r.eng.Pass(context.Background()); clinicsync.ErrorCode(err) != clinicsync.ESignedOut {
		t.Fatalf("pass before sign-in: %v", err)
	}
	if st := r.svc.Status(); st.Status != engine.StatusSignedOut {
		t.Fatalf("status %s, want signed_out", st.Status)
	}
	r.signIn()
	if len(r.opened) != 1 || !strings.Contains(r.opened[0], "code_challenge=") {
		t.Fatalf("browser opened %v", r.opened)
	}
	st := r.svc.Status()
	if !st.Account.SignedIn || st.Account.Name == "" || st.Account.Organization == "" || st.Status == engine.StatusSignedOut {
		t.Fatalf("after sign-in: %+v, status %s", st.Account, st.Status)
	}
	if _, err := r.eng.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := r.svc.Status().Counts[clinicsync.StateConfirmed]; n != 6 {
		t.Fatalf("%d confirmed, want 6", n)
	}
	if err := r.svc.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.sim.RevokedFamilies() != 1 {
		t.Fatalf("revoked families %v, want the one grant", r.sim.RevokedFamilies())
	}
	st = r.svc.Status()
	if st.Account.SignedIn || st.Status != engine.StatusSignedOut {
		t.Fatalf("after sign-out: %+v %s", st.Account, st.Status)
	}
	// The in-memory token is gone at once: a pass is refused without a request.
	before := r.sim.Stats().APIRequests
	if _, err := r.eng.Pass(context.Background()); clinicsync.ErrorCode(err) != clinicsync.ESignedOut {
		t.Fatalf("pass after sign-out: %v", err)
	}
	if r.sim.Stats().APIRequests != before {
		t.Fatal("a signed-out pass reached the API")
	}
}

// Who is signed in reaches the window by an event, as every change it
// shows does: signing in, reading the account from the platform, signing
// out each publish AccountChanged on the bus cmd handed the service, once
// Status shows the change.
func TestAccountChangesArePublished(t *testing.T) {
	r := newRig(t, sim.Options{Seed: 5})
	sub := r.svc.Events().Subscribe(events.AccountChanged)
	defer sub.Unsubscribe()
	published := func(what string, signedIn bool) {
		t.Helper()
		select {
		case <-sub.C:
		default:
			t.Fatalf("%s published no AccountChanged", what)
		}
		if a := r.svc.Status().Account; a.SignedIn != signedIn {
			t.Fatalf("after %s the status shows %+v", what, a)
		}
	}
	r.signIn()
	published("signing in", true)
	r.svc.RefreshAccount(context.Background())
	published("reading the account", true)
	if err := r.svc.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	published("signing out", false)
}

func TestApplyValidatesSavesAndReconfigures(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 2, Patients: 1, Seed: 9})
	bad := r.svc.Settings()
	bad.Destination.Root = "relative/path"
	bad.Destination.PatientFolder = "{NOPE}"
	ps, err := r.svc.Apply(context.Background(), bad)
	if err != nil || len(ps) != 2 || ps[0].Key != "destination.root" || ps[1].Key != "destination.patient_folder" {
		t.Fatalf("problems %+v, err %v", ps, err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "config.toml")); !os.IsNotExist(err) {
		t.Fatal("an invalid configuration was saved")
	}

	good := r.svc.Settings()
	root2 := filepath.Join(r.dir, "Other")
	os.Mkdir(root2, 0o755)
	good.Destination.Root = root2
	good.Destination.SoftwareID = "pms_two"
	good.Askara.PollInterval = config.Duration{Duration: 20 * time.Second}
	good.App.StartAtLogin = false
	if ps, err := r.svc.Apply(context.Background(), good); err != nil || ps != nil {
		t.Fatalf("apply: %v %v", ps, err)
	}
	saved, err := config.Load(filepath.Join(r.dir, "config.toml"))
	if err != nil || saved.Destination.Root != root2 || saved.Askara.PollInterval.Duration != 20*time.Second {
		t.Fatalf("saved %+v, %v", saved.Destination, err)
	}
	if ec, l := r.eng.Config(), r.eng.Destination(); ec.SoftwareID != "pms_two" || ec.PollInterval != 20*time.Second || l.(dest.Layout).Root != root2 {
		t.Fatalf("engine not reconfigured: %+v %+v", ec, l)
	}
	if r.auto.calls != 1 || r.auto.enabled != 0 {
		t.Fatalf("autostart calls %d, enabled %d", r.auto.calls, r.auto.enabled)
	}
	// The secret stays out of the file... unless the user put it there:
	// this rig did (config.Default has none), so check the saved one is the
	// rig's, not something the service invented.
	if saved.Askara.ClientSecret != clientSecret {
		t.Fatal("client secret changed on save")
	}
}

func TestPreviewUsesTheLatestDocument(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 0, Seed: 1})
	c := r.svc.Settings()
	c.Destination.PatientFolder = "{LASTNAME}_{FIRSTNAME}"
	p, err := r.svc.Preview(context.Background(), c)
	if want := filepath.Join(c.Destination.Root, "DOE_JOHN", "referral_letter.pdf"); err != nil || p != want {
		t.Fatalf("sample preview %q, %v; want %q", p, err, want)
	}
	r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{FirstName: "Élodie", LastName: "Martin"},
		PDF: clinicsync.PDF{FileName: "courrier.pdf"}}})
	r.signIn()
	if _, err := r.eng.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, err = r.svc.Preview(context.Background(), c)
	if want := filepath.Join(c.Destination.Root, "MARTIN_ÉLODIE", "courrier.pdf"); err != nil || p != want {
		t.Fatalf("preview %q, %v; want %q", p, err, want)
	}
	c.Destination.PatientFolder = "{LASTNAME"
	if _, err := r.svc.Preview(context.Background(), c); err == nil {
		t.Fatal("a broken template previewed")
	}
}

func TestBundleHasNoSecrets(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 4, Patients: 2, Seed: 2, Hostile: true})
	r.signIn()
	r.eng.Pass(context.Background())
	os.WriteFile(filepath.Join(r.dir, "debug.log"), []byte("level=DEBUG msg=x Authorization: Bearer abcdef0123456789\n"), 0o600)
	var buf bytes.Buffer
	if err := r.svc.ExportBundle(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	saved, _ := auth.Keychain{Service: "Clinic Sync test", User: t.Name()}.Load()
	if saved == nil || saved.RefreshToken == "" {
		t.Fatal("no refresh token to look for")
	}
	names := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		names[f.Name] = string(b)
		for _, secret := range []string{clientSecret, saved.RefreshToken, "abcdef0123456789"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s holds a secret", f.Name)
			}
		}
	}
	for _, want := range []string{"README.txt", "version.txt", "status.json", "config.toml", "activity.log", "documents.csv", "debug.log"} {
		if _, ok := names[want]; !ok {
			t.Errorf("bundle lacks %s", want)
		}
	}
	if !strings.Contains(names["documents.csv"], "failed") || !strings.Contains(names["activity.log"], "Saved ") {
		t.Errorf("bundle does not show what happened:\n%s", names["documents.csv"])
	}
	if !strings.Contains(names["debug.log"], "Bearer [redacted]") {
		t.Errorf("debug log not redacted: %q", names["debug.log"])
	}
}

// Without a usable keychain, Sign in fails at once with the keychain's
// sentence: no browser opens, Askara sees no sign-in, and nobody is told
// "Signed in" by a browser for a sign-in that cannot be kept.
func TestSignInWithoutKeychainFailsBeforeTheBrowser(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 1, Seed: 3})
	keyring.MockInitWithError(errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	t.Cleanup(keyring.MockInit)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := r.svc.SignIn(ctx, SignInOptions{})
	if !errors.Is(err, auth.ErrNoKeychain) ||
		!strings.HasPrefix(clinicsync.ErrorMessage(err), "No keychain is available on this computer") {
		t.Fatalf("sign in without a keychain: %v", err)
	}
	if len(r.opened) != 0 || len(r.sim.TokenRequests()) != 0 {
		t.Fatalf("the browser opened %v; %d token requests", r.opened, len(r.sim.TokenRequests()))
	}
	if st := r.svc.Status(); st.Account.SignedIn {
		t.Fatalf("signed in: %+v", st.Account)
	}
}

// The first-run setup: the engine waits until the setup saves a valid
// configuration, then starts without a restart.
func TestFirstRunStartsTheEngineOnceConfigured(t *testing.T) {
	var first *FirstRun
	r := newRigWith(t, sim.Options{Documents: 3, Patients: 1, Seed: 12}, func(p *Parts) {
		p.Config.Destination.Root = ""
		first = NeedsFirstRun(p.Config, nil, nil)
		p.FirstRun = first
	})
	if first == nil {
		t.Fatal("no setup asked for a missing file")
	}
	st := r.svc.Setup()
	if !st.Needed || !r.svc.Status().SetupNeeded || len(st.Problems) != 1 || st.Problems[0].Key != "destination.root" {
		t.Fatalf("setup %+v", st)
	}
	r.signIn()
	// The engine as cmd builds it from the file: a folder that is not there
	// (a pass now would fail every document and tell the platform).
	r.eng.Reconfigure(r.eng.Config(), dest.Layout{Root: filepath.Join(r.dir, "not-yet")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if !r.eng.Snapshot().LastPassStart.IsZero() {
		t.Fatal("the engine ran before the setup finished")
	}
	c := r.svc.Settings()
	c.Destination.Root = filepath.Join(r.dir, "Patients")
	if ps, err := r.svc.Apply(context.Background(), c); err != nil || ps != nil {
		t.Fatalf("apply: %v %v", ps, err)
	}
	if r.svc.Setup().Needed || r.svc.Status().SetupNeeded {
		t.Fatal("setup still needed after a valid configuration was saved")
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(r.sim.StatusCalls()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d documents confirmed after the setup, want 3", len(r.sim.StatusCalls()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range r.sim.StatusCalls() {
		if !c.Status.Success {
			t.Fatalf("a document failed: the engine ran before the setup finished: %+v", c)
		}
	}
	if errs, _ := r.svc.Activity(context.Background(), engine.LogQuery{MinLevel: engine.LevelWarn}); len(errs) > 0 {
		t.Fatalf("the engine ran before the setup finished: %q", errs[0].Message)
	}
	if _, err := config.Load(filepath.Join(r.dir, "config.toml")); err != nil {
		t.Fatal(err)
	}
}

// A configuration file that cannot be read is never overwritten by the
// setup (an IT person's file with a typo or a newer version's key).
func TestFirstRunKeepsAnUnreadableFile(t *testing.T) {
	path := ""
	r := newRigWith(t, sim.Options{Seed: 13}, func(p *Parts) {
		path = p.ConfigPath
		os.WriteFile(path, []byte("[destination]\nrooot = 1\n"), 0o600)
		c, set, err := config.LoadFile(path)
		p.FirstRun = NeedsFirstRun(c, set, err)
	})
	st := r.svc.Setup()
	if !st.Needed || !strings.Contains(st.FileError, "unknown keys") {
		t.Fatalf("setup %+v", st)
	}
	if _, err := r.svc.Apply(context.Background(), r.svc.Settings()); err == nil {
		t.Fatal("the unreadable file was replaced")
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "rooot") {
		t.Fatalf("file now %q", b)
	}
	// A valid file that answers the setup's questions needs no setup; one
	// that leaves the pattern to the defaults, or has a problem, does.
	c := config.Default()
	c.Destination.Root = r.dir
	both := map[string]bool{"destination.root": true, "destination.patient_folder": true}
	if NeedsFirstRun(c, both, nil) != nil {
		t.Fatal("setup asked for a valid file")
	}
	if NeedsFirstRun(c, map[string]bool{"destination.root": true}, nil) == nil {
		t.Fatal("no setup for a file that does not set the pattern")
	}
	c.Destination.PatientFolder = "{NOPE}"
	if NeedsFirstRun(c, both, nil) == nil {
		t.Fatal("no setup for a file with a problem")
	}
}

// Diagnostics and the support bundle say which proxy reaches Askara and
// where it came from, never its password nor the proxy sign-in kept.
func TestBundleSaysTheProxyWithoutCredentials(t *testing.T) {
	nc, err := netclient.New(netclient.Options{System: func() netclient.SystemSettings { return netclient.SystemSettings{} },
		Getenv: func(k string) string {
			if k == "HTTPS_PROXY" {
				return "http://nurse:s3cret@proxy.clinic.lan:3128"
			}
			return ""
		}})
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, sim.Options{Documents: 1, Seed: 3}, func(p *Parts) { p.Net = nc; p.Config.Askara.APIURL = "https://api.askara.ai" })
	if err := r.svc.SetProxyCredentials(`CLINIC\nurse`, "kept-pa55word"); err != nil {
		t.Fatal(err)
	}
	defer r.svc.SetProxyCredentials("", "")
	want := "http://proxy.clinic.lan:3128, from the environment (HTTPS_PROXY)"
	if got := r.svc.Proxy(); got != want {
		t.Errorf("Proxy() = %q, want %q", got, want)
	}
	var buf bytes.Buffer
	if err := r.svc.ExportBundle(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	network := ""
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		for _, secret := range []string{"s3cret", "kept-pa55word"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s holds a proxy password", f.Name)
			}
		}
		if f.Name == "network.txt" {
			network = string(b)
		}
	}
	for _, line := range []string{"API https://api.askara.ai: " + want, "Proxy sign-in kept in the keychain: true"} {
		if !strings.Contains(network, line) {
			t.Errorf("network.txt lacks %q:\n%s", line, network)
		}
	}
}

// Saving cannot change a value the administrator locked, and does not
// copy the administrator's presets into the user's file.
func TestApplyKeepsWhatTheAdministratorLocked(t *testing.T) {
	var locked string
	r := newRigWith(t, sim.Options{Seed: 3}, func(p *Parts) {
		locked = p.Config.Destination.Root
		pol, err := config.ReadPolicy([]config.PolicySource{{Where: `HKLM\Software\Policies\ClinicSync`,
			Read: func() (map[string]string, error) {
				return map[string]string{"DESTINATION_ROOT": locked, "SOFTWARE_ID": "pms_it", "LOCK": "DESTINATION_ROOT"}, nil
			}}})
		if err != nil {
			t.Fatal(err)
		}
		p.Policy = pol
		p.Config, _ = pol.Apply(p.Config, nil)
	})
	if !r.svc.Policy().Locked("destination.root") || r.svc.Settings().Destination.SoftwareID != "pms_it" {
		t.Fatal("the service does not carry the policy")
	}
	c := r.svc.Settings()
	c.Destination.Root = filepath.Join(r.dir, "Mine")
	os.Mkdir(c.Destination.Root, 0o755)
	ps, err := r.svc.Apply(context.Background(), c)
	if err != nil || len(ps) != 1 || ps[0].Key != "destination.root" || !strings.Contains(ps[0].Message, "IT administrator") {
		t.Fatalf("problems %+v, %v", ps, err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "config.toml")); !os.IsNotExist(err) {
		t.Fatal("saved over a locked value")
	}
	c = r.svc.Settings()
	c.Askara.PollInterval = config.Duration{Duration: time.Minute}
	if ps, err := r.svc.Apply(context.Background(), c); err != nil || ps != nil {
		t.Fatalf("apply: %v %v", ps, err)
	}
	b, _ := os.ReadFile(filepath.Join(r.dir, "config.toml"))
	if strings.Contains(string(b), "root =") || strings.Contains(string(b), "pms_it") || !strings.Contains(string(b), `poll_interval = "1m0s"`) {
		t.Fatalf("the user's file:\n%s", b)
	}
	if l := r.eng.Destination().(dest.Layout); l.Root != locked || r.eng.Config().SoftwareID != "pms_it" {
		t.Fatalf("engine: %+v %q", l, r.eng.Config().SoftwareID)
	}
}

// bundleFiles exports a bundle with o and returns its files.
func bundleFiles(t *testing.T, svc *Service, o BundleOptions) map[string]string {
	t.Helper()
	var buf bytes.Buffer
	if err := svc.ExportBundleWith(context.Background(), &buf, o); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	return files
}

// The bundle says what support asks first (the system, free disk, a write
// test of the documents folder, the clock against Askara's, versions), and
// --redact-names leaves no patient's name in any file: the same stable
// token stands for the same name in the activity log and the paths.
func TestBundleRedactsNamesAndSaysTheSystem(t *testing.T) {
	nc, err := netclient.New(netclient.Options{System: func() netclient.SystemSettings { return netclient.SystemSettings{} },
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, sim.Options{Documents: 3, Patients: 2, Seed: 5}, func(p *Parts) { p.Net = nc })
	r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{FirstName: "Élodie", LastName: "Martin-Dubois"},
		PDF: clinicsync.PDF{FileName: "courrier_martin.pdf"}}})
	r.signIn()
	if _, err := r.eng.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	docs, _ := r.eng.Documents(context.Background(), engine.DocumentFilter{Limit: 100})
	plain := bundleFiles(t, r.svc, BundleOptions{})
	if !strings.Contains(plain["documents.csv"], "MARTIN-DUBOIS_ÉLODIE") || !strings.Contains(plain["activity.log"], "Martin") {
		t.Fatalf("the plain bundle names nobody:\n%s", plain["activity.log"])
	}
	sys := plain["system.txt"]
	for _, want := range []string{"Operating system: ", "Data folder " + r.dir + ": ", " GB free",
		"Write test of the documents folder: ok", "answered HTTP ", "this PC's clock is ", "Settings set by the IT administrator: none"} {
		if !strings.Contains(sys, want) {
			t.Errorf("system.txt lacks %q:\n%s", want, sys)
		}
	}
	// The modules' versions are in a built binary only (cmd's test).
	if !strings.Contains(plain["version.txt"], "clinicsync test\ngo1.") {
		t.Errorf("version.txt:\n%s", plain["version.txt"])
	}

	red := bundleFiles(t, r.svc, BundleOptions{RedactNames: true})
	for name, body := range red {
		low := strings.ToLower(body)
		for _, d := range docs {
			for _, part := range []string{d.Patient.FirstName, d.Patient.LastName} {
				for _, w := range nameWords(part) {
					if strings.Contains(low, strings.ToLower(w)) {
						t.Errorf("%s still holds %q", name, w)
					}
				}
			}
		}
	}
	tok := regexp.MustCompile(`name-[0-9a-f]{8}`)
	martin := ""
	for _, line := range strings.Split(red["documents.csv"], "\n") {
		if strings.Contains(line, "courrier_") {
			martin = tok.FindString(line)
		}
	}
	if martin == "" || !strings.Contains(red["activity.log"], martin) {
		t.Fatalf("no shared token for Martin:\n%s\n%s", red["documents.csv"], red["activity.log"])
	}
	if again := bundleFiles(t, r.svc, BundleOptions{RedactNames: true}); again["documents.csv"] != red["documents.csv"] {
		t.Fatal("the tokens changed from one bundle to the next")
	}
}

// The sign-in port is held by another program (another user's Clinic Sync
// on a terminal server) and Askara wants its registered port: the window's
// Sign in becomes a code sign-in, says why, and completes once the code is
// approved; no browser opened on a port that could not answer. Asked for
// directly, the code sign-in needs no port at all.
func TestSignInFallsBackToACodeWhenThePortIsTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	var url string
	r := newRigWith(t, sim.Options{Documents: 1, Seed: 3, DeviceInterval: time.Millisecond}, func(p *Parts) {
		ac := p.AuthConfig()
		ac.RedirectPort, ac.DeviceURL = port, strings.TrimSuffix(ac.TokenURL, "/token")+"/device"
		url = ac.DeviceURL
		p.AuthConfig = func() auth.Config { return ac }
	})
	for _, code := range []bool{false, true} {
		var prompts []SignInPrompt
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := r.svc.SignIn(ctx, SignInOptions{Code: code, Prompt: func(p SignInPrompt) {
			prompts = append(prompts, p)
			if err := r.sim.ApproveDevice(p.Code); err != nil {
				t.Error(err)
			}
		}})
		cancel()
		if err != nil {
			t.Fatalf("code %v: %v", code, err)
		}
		want := port
		if code {
			want = 0
		}
		if len(prompts) != 1 || prompts[0].Code == "" || prompts[0].URL != "" || prompts[0].PortInUse != want ||
			!strings.HasPrefix(prompts[0].CodeURL, strings.TrimSuffix(url, "/oauth2/device")) || prompts[0].Expires.IsZero() {
			t.Fatalf("code %v: prompts %+v", code, prompts)
		}
		if len(r.opened) != 0 {
			t.Fatalf("the browser opened %v", r.opened)
		}
		if st := r.svc.Status(); !st.Account.SignedIn || st.Account.Name != "Jane Doe" {
			t.Fatalf("code %v: account %+v", code, st.Account)
		}
	}
}

// The support bundle lists the open problems: problems.txt says each in
// words (since when, what, what to do), status.json carries them too.
func TestBundleListsOpenProblems(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 1, Seed: 2})
	r.signIn()
	r.eng.SetSignedOut(true, "Signed out.")
	var buf bytes.Buffer
	if err := r.svc.ExportBundle(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		names[f.Name] = string(b)
	}
	if p := names["problems.txt"]; !strings.Contains(p, "signed out") || !strings.Contains(p, "sign in on the Account tab") {
		t.Fatalf("problems.txt:\n%s", p)
	}
	if !strings.Contains(names["status.json"], `"kind": "signed_out"`) {
		t.Fatalf("status.json lacks the problem:\n%s", names["status.json"])
	}
	r.eng.SetSignedOut(false, "")
	buf.Reset()
	r.svc.ExportBundle(context.Background(), &buf)
	zr, _ = zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	for _, f := range zr.File {
		if f.Name == "problems.txt" {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != "No open problem.\n" {
				t.Fatalf("problems.txt with none open: %q", b)
			}
		}
	}
}
