// Package service is Clinic Sync as a front end sees it: the engine, the
// sign-in, the settings and the diagnostics behind one set of methods. The
// tray app (package app) talks only to this; cmd builds it from concrete
// parts. It imports no Fyne and builds without cgo.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/auth"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/netclient"
	"github.com/clinicsync/clinicsync/sync/relay"
	"github.com/clinicsync/clinicsync/sync/update"
)

// Parts are the concrete pieces cmd builds.
type Parts struct {
	Version    string
	ConfigPath string
	DataDir    string
	LogFile    string // the debug log file, "" if none
	Config     config.Config
	// Policy is the administrator's settings Config was layered with
	// (config.ReadPolicy): Apply refuses to change what it locks and
	// leaves what it gives out of the user's file.
	Policy config.Policy
	Engine *engine.Engine
	Client *askara.Client
	// Source is the keychain token source; nil when an access token from
	// the environment overrides sign-in (then Sign in/out are unavailable).
	Source   *auth.Source
	Keychain auth.TokenStore
	// AuthConfig gives the OAuth client (the client secret may come from
	// the keychain, so it is read when needed).
	AuthConfig func() auth.Config
	// OpenURL opens the browser for sign-in.
	OpenURL func(string) error
	// Autostart, when set, is switched on or off with the start-at-login setting.
	Autostart Autostart
	// Relay, when set, runs the webhook relay the settings ask for.
	Relay Relay
	// FirstRun, when set, asks for the window's first-run setup (the
	// configuration file is missing or has problems): the engine waits
	// until Apply saves a valid configuration. See NeedsFirstRun.
	FirstRun *FirstRun
	// Net is the one HTTP client of every platform call (sync/netclient);
	// nil: askara's default.
	Net *netclient.Client
	// Events is the bus cmd handed to the engine and the relay too: the
	// service publishes AccountChanged on it, front ends subscribe to it
	// (nil: the engine's).
	Events *events.Bus
	// Updates, when set, checks for signed updates while Run runs
	// (sync/update); the tray and Diagnostics offer what it verified.
	Updates *update.Updater
	Log     *slog.Logger
}

// FirstRun is what the first-run setup starts from.
type FirstRun struct {
	// Preset are the keys the configuration file sets (config.LoadFile):
	// an IT person's values, whose steps the setup skips when valid. Nil
	// when there is no file.
	Preset map[string]bool
	// FileError says the file could not be read. The setup cannot finish
	// until someone corrects it: it would overwrite an IT person's file
	// (a key this version does not know, a typo).
	FileError error
}

// NeedsFirstRun says whether the tray app opens its first-run setup for a
// configuration read by config.LoadFile: nil when the file reads, is valid
// and answers the setup's questions (where documents go, how patient
// folders are named: only the clinic knows). Settings writes every key; an
// IT person's file that sets the folder alone gets the setup's other
// steps.
func NeedsFirstRun(c config.Config, preset map[string]bool, loadErr error) *FirstRun {
	if loadErr == nil && preset["destination.root"] && preset["destination.patient_folder"] && len(c.Problems()) == 0 {
		return nil
	}
	return &FirstRun{Preset: preset, FileError: loadErr}
}

// SetupState is the first-run setup as the window shows it.
type SetupState struct {
	Needed     bool
	Preset     map[string]bool  // keys the configuration file sets
	FileError  string           // the file could not be read (a sentence)
	Problems   []config.Problem // invalid values of the configuration in use
	ConfigPath string
}

// Relay starts, stops and reports the webhook relay (*relay.Manager).
type Relay interface {
	Apply(ctx context.Context, c config.Relay) error
	ReprocessNotes(ctx context.Context) error
	Status(ctx context.Context) relay.Status
	Close(ctx context.Context) error
}

// Autostart switches start-at-login on and off (app/autostart implements it).
type Autostart interface {
	Enable() error
	Disable() error
}

// Account is who is signed in.
type Account struct {
	SignedIn     bool   `json:"signed_in"`
	Name         string `json:"name,omitempty"`  // "Jane Doe"
	Email        string `json:"email,omitempty"` // may be empty
	Organization string `json:"organization,omitempty"`
	// Managed: the credentials come from CLINICSYNC_ACCESS_TOKEN, not a
	// sign-in; the window cannot sign in or out.
	Managed bool `json:"managed,omitempty"`
}

// String is "Jane Doe <jane@x>" or the best there is.
func (a Account) String() string {
	switch {
	case a.Name != "" && a.Email != "":
		return a.Name + " <" + a.Email + ">"
	case a.Name != "":
		return a.Name
	case a.Email != "":
		return a.Email
	case a.SignedIn:
		return "Askara"
	}
	return ""
}

// Status is everything the window's header and the tray need.
type Status struct {
	engine.Snapshot
	Account     Account      `json:"account"`
	Destination string       `json:"destination"`
	Relay       relay.Status `json:"relay"`
	Version     string       `json:"version"`
	DataDir     string       `json:"data_dir"`
	ConfigPath  string       `json:"config_path"`
	LogFile     string       `json:"log_file,omitempty"`
	// SetupNeeded: the first-run setup is not finished; nothing syncs yet.
	SetupNeeded bool `json:"setup_needed,omitempty"`
	// Update is the new version downloaded and verified, ready to
	// install ("" when none), and when updates were last checked.
	Update        string    `json:"update,omitempty"`
	UpdateChecked time.Time `json:"update_checked,omitzero"`
	// UpdatesOn: updates are checked (on, with an address and a key).
	UpdatesOn bool `json:"updates_on,omitempty"`
}

// Service is the application behind the tray and the window.
type Service struct {
	p   Parts
	log *slog.Logger

	mu      sync.Mutex
	cfg     config.Config
	account Account
	signIn  context.CancelFunc // a sign-in in progress
	// firstRun is the setup still to finish (nil once done); configured
	// is closed then, and Run starts the engine.
	firstRun   *FirstRun
	configured chan struct{}
}

// New builds the service.
func New(p Parts) *Service {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if p.Events == nil {
		p.Events = p.Engine.Events()
	}
	s := &Service{p: p, log: log, cfg: p.Config, firstRun: p.FirstRun, configured: make(chan struct{})}
	if s.firstRun == nil {
		close(s.configured)
	}
	s.account.Managed = p.Source == nil
	s.account.SignedIn = p.Source == nil
	if p.Source != nil {
		if name := p.Source.Account(); name != "" {
			s.account = Account{SignedIn: true, Name: name}
		} else if saved, err := p.Keychain.Load(); err == nil && saved != nil {
			s.account = Account{SignedIn: true}
		}
	}
	return s
}

// Run runs the engine (and the relay, when enabled) until ctx ends,
// reading the account first. During the first-run setup it waits for the
// setup to save a configuration, then starts: no restart needed.
func (s *Service) Run(ctx context.Context) error {
	select {
	case <-s.configured:
	case <-ctx.Done():
		return nil
	}
	go s.RefreshAccount(ctx)
	if s.p.Updates != nil {
		// The window reads the status again after each check.
		go s.p.Updates.Loop(ctx, func() { s.p.Events.Publish(events.Event{Type: events.SnapshotChanged}) })
	}
	if s.p.Relay != nil {
		if err := s.p.Relay.Apply(ctx, s.Settings().Relay); err != nil {
			s.p.Engine.Note(ctx, engine.LevelError, clinicsync.NewText(activity.RelayNotStarted, err))
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			s.p.Relay.Close(cctx)
		}()
	}
	return s.p.Engine.Run(ctx)
}

// Events is the bus the engine, the relay and the sign-in publish on.
func (s *Service) Events() *events.Bus { return s.p.Events }

// Status returns the current state.
func (s *Service) Status() Status {
	s.mu.Lock()
	acct, root, setup := s.account, s.cfg.Destination.Root, s.firstRun != nil
	s.mu.Unlock()
	snap := s.p.Engine.Snapshot()
	if snap.SignedOut && !acct.Managed {
		acct = Account{}
	}
	st := Status{Snapshot: snap, Account: acct, Destination: root, Version: s.p.Version,
		DataDir: s.p.DataDir, ConfigPath: s.p.ConfigPath, LogFile: s.p.LogFile, SetupNeeded: setup}
	if s.p.Relay != nil {
		st.Relay = s.p.Relay.Status(context.Background())
	}
	if s.p.Updates != nil {
		of, checked := s.p.Updates.Offered()
		st.Update, st.UpdateChecked, st.UpdatesOn = of.Version, checked, s.p.Updates.On()
	}
	return st
}

// CheckForUpdates asks for an update check now (the tray, Diagnostics);
// the status shows its outcome.
func (s *Service) CheckForUpdates() {
	if s.p.Updates != nil {
		s.p.Updates.CheckSoon()
	}
}

// InstallUpdate verifies the offered update's file once more and runs it.
func (s *Service) InstallUpdate(ctx context.Context) error {
	if s.p.Updates == nil {
		return clinicsync.Errorf(clinicsync.EConfig, "No update is offered.")
	}
	err := s.p.Updates.Install(ctx)
	s.p.Events.Publish(events.Event{Type: events.SnapshotChanged})
	return err
}

// SyncNow asks for a pass now.
func (s *Service) SyncNow() { s.p.Engine.SyncNow() }

// Pause stops automatic passes.
func (s *Service) Pause() { s.p.Engine.Pause() }

// Resume restarts them.
func (s *Service) Resume() { s.p.Engine.Resume() }

// Retry retries one failed document by hand (30-second rule).
func (s *Service) Retry(ctx context.Context, uuid string) (time.Duration, error) {
	return s.p.Engine.Retry(ctx, uuid)
}

// Activity pages the activity log.
func (s *Service) Activity(ctx context.Context, q engine.LogQuery) ([]engine.LogEntry, error) {
	return s.p.Engine.Activity(ctx, q)
}

// Documents lists documents.
func (s *Service) Documents(ctx context.Context, f engine.DocumentFilter) ([]engine.DocumentView, error) {
	return s.p.Engine.Documents(ctx, f)
}

// Notes lists clinical notes, most recent first (inboxOnly: those with no patient).
func (s *Service) Notes(ctx context.Context, inboxOnly bool) ([]engine.NoteView, error) {
	return s.p.Engine.Notes(ctx, inboxOnly, 500)
}

// Document returns one document.
func (s *Service) Document(ctx context.Context, uuid string) (engine.DocumentView, error) {
	return s.p.Engine.Document(ctx, uuid)
}

// Settings returns the configuration in use.
func (s *Service) Settings() config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// Policy is the administrator's settings: what Settings shows read-only.
func (s *Service) Policy() config.Policy { return s.p.Policy }

// samplePatient is used for the preview when no document arrived yet.
var samplePatient = clinicsync.Patient{FirstName: "John", LastName: "Doe", ExternalID: "12345",
	DateOfBirth: "1980-04-02", UUID: "0b7c6f6e-1d2a-4c3b-9e8f-7a6b5c4d3e2f"}

// Preview is where the most recent document (or a sample one) would land
// with c's destination settings: a real path, for the settings window.
func (s *Service) Preview(ctx context.Context, c config.Config) (string, error) {
	if err := dest.ValidateTemplate(c.Destination.PatientFolder); err != nil {
		return "", err
	}
	p, name := samplePatient, "referral_letter.pdf"
	if docs, err := s.p.Engine.Documents(ctx, engine.DocumentFilter{Limit: 1}); err == nil && len(docs) == 1 {
		p = docs[0].Patient
		name = dest.FileName(clinicsync.Document{UUID: docs[0].UUID, Type: docs[0].Type,
			Patient: p, PDF: clinicsync.PDF{FileName: docs[0].FileName}})
	}
	l := dest.Layout{Root: c.Destination.Root, Template: c.Destination.PatientFolder}
	return filepath.Join(c.Destination.Root, l.PatientDir(p), name), nil
}

// Setup says whether the first-run setup is needed, and where to start it.
func (s *Service) Setup() SetupState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SetupState{Needed: s.firstRun != nil, ConfigPath: s.p.ConfigPath}
	if s.firstRun != nil {
		st.Preset = s.firstRun.Preset
		if s.firstRun.FileError != nil {
			st.FileError = clinicsync.ErrorMessage(s.firstRun.FileError)
		}
		st.Problems = s.cfg.Problems()
	}
	return st
}

// CheckFolder checks that path is a folder Clinic Sync can write in, with a
// real test write that leaves nothing behind (dest.CheckRoot).
func (s *Service) CheckFolder(path string) error { return dest.CheckRoot(path) }

// Apply validates c, saves it to the configuration file and applies it
// without a restart. Invalid values are returned as problems and nothing
// changes. The first time, it finishes the first-run setup: the engine
// starts.
func (s *Service) Apply(ctx context.Context, c config.Config) ([]config.Problem, error) {
	if ps := append(s.p.Policy.Refuse(c), c.Problems()...); len(ps) > 0 {
		return ps, nil
	}
	s.mu.Lock()
	old, first := s.cfg, s.firstRun
	s.mu.Unlock()
	if first != nil && first.FileError != nil {
		return nil, clinicsync.Permanent(clinicsync.EConfig,
			"The configuration file cannot be replaced while it cannot be read: "+clinicsync.ErrorMessage(first.FileError), first.FileError)
	}
	if err := c.SaveWithout(s.p.ConfigPath, s.p.Policy.Omit(c)); err != nil {
		return nil, clinicsync.Permanent(clinicsync.EConfig,
			fmt.Sprintf("The settings could not be saved to %s.", s.p.ConfigPath), err)
	}
	if s.p.Autostart != nil && c.App.StartAtLogin != old.App.StartAtLogin {
		var err error
		if c.App.StartAtLogin {
			err = s.p.Autostart.Enable()
		} else {
			err = s.p.Autostart.Disable()
		}
		if err != nil {
			s.log.Warn("start at login", "err", err)
		}
	}
	s.mu.Lock()
	s.cfg = c
	s.mu.Unlock()
	rt, was := RuntimeOf(c, s.p.Engine.Config()), RuntimeOf(old, s.p.Engine.Config())
	if s.p.Net != nil && rt.Network != was.Network {
		if err := s.p.Net.Configure(rt.Network.Proxy, rt.Network.CAFile); err != nil {
			s.log.Warn("network settings", "code", clinicsync.ErrorCode(err))
		}
	}
	s.p.Engine.EnableNotes(rt.Notes)
	s.p.Engine.SetRetention(rt.Retention)
	s.p.Engine.Reconfigure(rt.Engine, rt.Destination)
	if s.p.Updates != nil && rt.Updates != was.Updates {
		s.p.Updates.Reconfigure(rt.Updates.Enabled, rt.Updates.URL, rt.Updates.Pin)
		s.p.Updates.CheckSoon()
	}
	s.p.Engine.Note(ctx, engine.LevelInfo, clinicsync.NewText(activity.SettingsSaved))
	if first != nil {
		// Only now, with the engine set up from the saved file: Run starts
		// it (and the relay) when this closes.
		s.mu.Lock()
		if s.firstRun != nil {
			s.firstRun = nil
			close(s.configured)
		}
		s.mu.Unlock()
		return nil, nil
	}
	if s.p.Relay != nil && rt.Notes && !was.Notes {
		if err := s.p.Relay.ReprocessNotes(ctx); err != nil {
			s.log.Warn("reprocess notes", "err", err)
		}
	}
	if s.p.Relay != nil && !rt.Relay.Equal(was.Relay) {
		if err := s.p.Relay.Apply(ctx, rt.Relay); err != nil {
			return nil, clinicsync.Permanent(clinicsync.EConfig, "Settings saved, but the webhook relay: "+clinicsync.ErrorMessage(err), err)
		}
	}
	return nil, nil
}

// RefreshAccount reads who is signed in from the platform.
func (s *Service) RefreshAccount(ctx context.Context) {
	if s.p.Client == nil {
		return
	}
	me, err := s.p.Client.Me(ctx)
	if err != nil {
		s.log.Debug("me", "code", clinicsync.ErrorCode(err))
		return
	}
	s.setAccount(me, s.p.Source == nil)
}

func (s *Service) setAccount(me askara.Me, managed bool) {
	a := Account{SignedIn: true, Managed: managed, Email: me.Email}
	a.Name = trimJoin(me.FirstName, me.LastName)
	if o := me.Org(); o != nil {
		a.Organization = o.Name
	}
	s.setAccountTo(a)
}

// setAccountTo records who is signed in and tells front ends.
func (s *Service) setAccountTo(a Account) {
	s.mu.Lock()
	s.account = a
	s.mu.Unlock()
	s.p.Events.Publish(events.Event{Type: events.AccountChanged})
}

// SetWebhookSecret keeps a platform's signing secret (the keychain) and
// restarts the relay with it.
func (s *Service) SetWebhookSecret(ctx context.Context, platform, secret string) error {
	if err := auth.SetWebhookSecret(KeychainService, platform, secret); err != nil {
		return err
	}
	if s.p.Relay != nil {
		return s.p.Relay.Apply(ctx, s.Settings().Relay)
	}
	return nil
}

// KeychainService is the keychain service name every secret is kept under.
const KeychainService = "Clinic Sync"

func trimJoin(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

// SignInOptions choose how SignIn signs in and receive what the person
// must see while it waits.
type SignInOptions struct {
	// Code signs in with a code entered on any device (the device flow)
	// instead of this PC's browser.
	Code bool
	// Prompt, when set, is given what to show while the sign-in waits:
	// the browser's page (with whether the browser opened it), or the code
	// and where to enter it. It runs on SignIn's goroutine and must not
	// block.
	Prompt func(SignInPrompt)
}

// SignInPrompt is what a sign-in waiting for the person shows.
type SignInPrompt struct {
	// The browser sign-in: the page's address, and whether the browser
	// opened it (when not, the window shows it to copy into one).
	URL    string
	Opened bool
	// The code sign-in: the code, the page where it is entered (and the
	// same with the code filled in, "" if Askara gives none), and when the
	// code expires (zero if not said).
	Code            string
	CodeURL         string
	CodeURLComplete string
	Expires         time.Time
	// PortInUse is the sign-in port another program holds, when the code
	// sign-in replaced the browser's for that reason (0 otherwise).
	PortInUse int
}

// codeTimeout bounds a code sign-in; the code's own expiry (10 minutes at
// Askara's simulator) ends it sooner.
const codeTimeout = 15 * time.Minute

// SignIn signs in: it checks the keychain can keep the sign-in, then opens
// the platform's page in the browser and waits (up to 5 minutes, or until
// CancelSignIn) for the loopback redirect, or, with o.Code, shows a code to
// enter on any device and waits for its approval. When the browser's
// redirect port is held by another program (another user's Clinic Sync)
// and the platform accepts no other port, it signs in with a code instead:
// never a sentence that sends a front-desk person to a terminal.
func (s *Service) SignIn(ctx context.Context, o SignInOptions) error {
	if s.p.Source == nil {
		return clinicsync.Errorf(clinicsync.EConfig, "Credentials come from CLINICSYNC_ACCESS_TOKEN; unset it to sign in.")
	}
	// The sign-in is kept in the keychain: without one, say so before the
	// browser shows "Signed in" for a sign-in that cannot be kept.
	if err := s.p.Keychain.Check(); err != nil {
		return err
	}
	prompt := o.Prompt
	if prompt == nil {
		prompt = func(SignInPrompt) {}
	}
	ctx, cancel := context.WithTimeout(ctx, codeTimeout)
	s.mu.Lock()
	if s.signIn != nil {
		s.signIn()
	}
	s.signIn = cancel
	s.mu.Unlock()
	defer cancel()
	cfg := s.p.AuthConfig()
	ctx = auth.WithClient(ctx, s.httpClient())
	code := func(portInUse int) (*oauth2.Token, error) {
		return auth.LoginDevice(ctx, cfg, auth.DeviceOptions{Prompt: func(d auth.DeviceCode) {
			prompt(SignInPrompt{Code: d.Code, CodeURL: d.URL, CodeURLComplete: d.URLComplete, Expires: d.Expires, PortInUse: portInUse})
		}})
	}
	var tok *oauth2.Token
	var err error
	if o.Code {
		tok, err = code(0)
	} else {
		tok, err = auth.LoginBrowser(ctx, cfg, auth.BrowserOptions{Open: s.p.OpenURL, Out: io.Discard, Timeout: 5 * time.Minute,
			Prompt: func(url string, opened bool) { prompt(SignInPrompt{URL: url, Opened: opened}) }})
		if errors.Is(err, auth.ErrPortInUse) && cfg.DeviceURL != "" {
			s.log.Info("sign-in port in use: signing in with a code", "port", cfg.RedirectPort)
			tok, err = code(cfg.RedirectPort)
		}
	}
	if err != nil {
		return err
	}
	var me askara.Me
	client, err := askara.New(askara.Options{BaseURL: s.cfgAPI(), TokenSource: oauth2.StaticTokenSource(tok),
		UserAgent: "ClinicSync/" + s.p.Version, HTTPClient: s.httpClient()})
	if err == nil {
		me, err = client.Me(ctx)
	}
	name := ""
	if err == nil {
		name = me.String()
	}
	if err := s.p.Source.Adopt(tok, name); err != nil {
		return err
	}
	if name != "" {
		s.setAccount(me, false)
	} else {
		s.setAccountTo(Account{SignedIn: true})
	}
	s.p.Engine.Note(ctx, engine.LevelInfo, clinicsync.NewText(activity.SignedIn, s.Status().Account.String()))
	s.p.Engine.SetSignedOut(false, "")
	return nil
}

// CancelSignIn stops a sign-in that is waiting for the browser.
func (s *Service) CancelSignIn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signIn != nil {
		s.signIn()
		s.signIn = nil
	}
}

func (s *Service) cfgAPI() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Askara.APIURL
}

// SignOut revokes the grant (best effort), removes it from the keychain and
// moves the engine to signed out. Queued work is kept for the next sign-in.
func (s *Service) SignOut(ctx context.Context) error {
	if s.p.Source == nil {
		return clinicsync.Errorf(clinicsync.EConfig, "Credentials come from CLINICSYNC_ACCESS_TOKEN; there is no sign-in to end.")
	}
	saved, err := s.p.Keychain.Load()
	if err == nil && saved != nil {
		if rerr := auth.Revoke(auth.WithClient(ctx, s.httpClient()), s.p.AuthConfig(), saved.RefreshToken); rerr != nil {
			s.log.Debug("revoke", "code", clinicsync.ErrorCode(rerr))
		}
	}
	if err := s.p.Keychain.Delete(); err != nil {
		return err
	}
	s.p.Source.SignOut()
	s.setAccountTo(Account{})
	s.p.Engine.SetSignedOut(true, activity.SignedOutWait)
	return nil
}

// httpClient is the one client of platform calls (nil without Parts.Net:
// askara's and auth's defaults).
func (s *Service) httpClient() *http.Client {
	if s.p.Net == nil {
		return nil
	}
	return s.p.Net.HTTP()
}

// Proxy describes the way to the Askara API now: the proxy in effect for
// its URL and where it came from (the environment, the configuration
// file, the system's settings or its script), or direct. For Diagnostics
// and the support bundle; it never holds credentials. It may run the
// system's proxy script: call it off the UI goroutine.
func (s *Service) Proxy() string {
	if s.p.Net == nil {
		return ""
	}
	return s.p.Net.Route(s.cfgAPI()).String()
}

// SetProxyCredentials keeps the proxy sign-in (user and password) in the
// keychain, never in the settings file; an empty user removes it. A proxy
// that asks (407) gets it on its next request.
func (s *Service) SetProxyCredentials(user, password string) error {
	return auth.SetProxyCredentials(KeychainService, user, password)
}

// ProxySignedIn reports whether a proxy sign-in is kept (not what it is).
func (s *Service) ProxySignedIn() bool {
	_, _, ok := auth.ProxyCredentials(KeychainService)
	return ok
}
