package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/auth"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/netclient"
	"github.com/clinicsync/clinicsync/sync/relay"
	"github.com/clinicsync/clinicsync/sync/service"
	selfupdate "github.com/clinicsync/clinicsync/sync/update"
)

// env is what every command shares: flags, configuration, and the parts
// built from them, closed when the command ends.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	configPath     string
	dataDir        string
	cfg            config.Config
	log            *slog.Logger
	store          *store.Store
	logFile        string
	closers        []func()
	// firstRun: a missing or invalid configuration file opens the tray
	// app's first-run setup (setupNeed) instead of ending the command.
	firstRun  bool
	setupNeed *service.FirstRun
	// nc is the one HTTP client of every platform call (net).
	nc *netclient.Client
	// bus is the one event bus of the parts this command builds (events).
	bus *events.Bus
	// httpWrap, when set (tests), wraps every platform call's round trip.
	httpWrap func(http.RoundTripper) http.RoundTripper
	// policy is the administrator's settings cfg is layered with, and
	// sources where each of cfg's values came from (loadConfig).
	policy  config.Policy
	sources map[string]config.Source
	// updateKey is the key updates must be signed with: update.PublicKey
	// (the release's) unless the demo trusts the simulator's demo key.
	updateKey string
}

func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

// flags returns a FlagSet with the common flags bound to e. A command's
// usage is printed by parse: on standard output for --help, on standard
// error after a wrong flag.
func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {}
	fs.StringVar(&e.configPath, "config", os.Getenv("CLINICSYNC_CONFIG"), "configuration `FILE` (env CLINICSYNC_CONFIG)")
	fs.StringVar(&e.dataDir, "data-dir", os.Getenv("CLINICSYNC_DATA_DIR"), "data folder `DIR` holding state.db (env CLINICSYNC_DATA_DIR)")
	return fs
}

// parse parses args, allowing flags after positional arguments too.
// --help (or -h) prints the command's usage and ends it with exit 0.
func (e *env) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				commandUsage(e.stdout, fs)
				return nil, &exitError{code: exitOK, err: errors.New("")}
			}
			commandUsage(e.stderr, fs) // after the flag package's line saying what was wrong
			return nil, &exitError{code: exitConfig, err: errors.New("")}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// start parses a command's flags, then loads the configuration and opens
// the store; it returns the positional arguments.
func (e *env) start(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := e.parse(fs, args)
	if err != nil {
		return nil, err
	}
	return pos, e.setup()
}

// setup loads the configuration and opens the store.
func (e *env) setup() error {
	if err := e.locate(); err != nil {
		return err
	}
	if err := e.loadConfig(); err != nil {
		return exitf(exitConfig, "%s", err)
	}
	// A share is refused before anything is made on it, with the reason,
	// also when it cannot be reached (\\server\share).
	if err := store.CheckLocal(e.dataDir); err != nil {
		return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	if err := os.MkdirAll(e.dataDir, 0o700); err != nil {
		return exitf(exitConfig, "cannot create the data folder %s: %v", e.dataDir, err)
	}
	return e.openStore()
}

// setupToRead is setup for the commands that only read state (status,
// log): they work before any configuration exists, or with one that has a
// problem, which it returns to be shown. It creates nothing: without a
// state database e.store stays nil.
func (e *env) setupToRead() (problem error, err error) {
	if err := e.locate(); err != nil {
		return nil, err
	}
	problem = e.loadConfig()
	if _, err := os.Stat(filepath.Join(e.dataDir, "state.db")); err != nil {
		return problem, nil
	}
	return problem, e.openStore()
}

// locate sets up the debug log and the configuration and data paths.
func (e *env) locate() error {
	level := slog.LevelWarn
	if strings.EqualFold(os.Getenv("CLINICSYNC_LOG"), "debug") {
		level = slog.LevelDebug
	}
	e.log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	defCfg, defData, err := config.DefaultDirs()
	if err != nil && (e.configPath == "" || e.dataDir == "") {
		return exitf(exitConfig, "cannot find the user's folders: %v; give --config and --data-dir", err)
	}
	if e.configPath == "" {
		e.configPath = defCfg
	}
	if e.dataDir == "" {
		e.dataDir = moveRoamingState(roamingDataDir(), defData, e.stderr)
	}
	return nil
}

// roamingDataDir is where earlier versions kept the data folder
// (config.RoamingDataDir); tests point it elsewhere.
var roamingDataDir = config.RoamingDataDir

// loadConfig reads and checks the configuration file. Without one (the
// installer writes none; the window's first-run setup does) it says how to
// make one rather than naming the first missing value. The tray app
// (firstRun) never stops here: what is missing or wrong opens the setup.
func (e *env) loadConfig() error {
	user, preset, err := config.LoadFile(e.configPath)
	pol, perr := config.ReadPolicy(policySources())
	if err == nil {
		err = perr
	}
	e.policy = pol
	e.cfg, e.sources = pol.Apply(user, preset)
	if netclient.EnvProxySet(os.Getenv) {
		e.sources["network.proxy"] = config.FromEnv
	}
	// What the administrator presets answers the setup's questions too.
	for _, k := range pol.SetKeys() {
		if preset == nil {
			preset = map[string]bool{}
		}
		preset[k] = true
	}
	if e.firstRun {
		e.setupNeed = service.NeedsFirstRun(e.cfg, preset, err)
		return nil
	}
	if err != nil {
		return errors.New(clinicsync.ErrorMessage(err))
	}
	if err := e.cfg.Validate(); err != nil {
		if _, serr := os.Stat(e.configPath); errors.Is(serr, os.ErrNotExist) {
			return fmt.Errorf("not configured yet: open Clinic Sync, or create %s", e.configPath)
		}
		return fmt.Errorf("%s (file: %s)", clinicsync.ErrorMessage(err), e.configPath)
	}
	return nil
}

// policySources are where the administrator's settings are read from: the
// system's places (config.SystemPolicy), then the file CLINICSYNC_POLICY
// names, if any, with the lowest precedence (to try a policy file before
// deploying it; it can add settings and locks, never lift the system's).
func policySources() []config.PolicySource {
	src := config.SystemPolicy()
	if f := os.Getenv("CLINICSYNC_POLICY"); f != "" {
		src = append(src, config.PolicyFile(f))
	}
	return src
}

func (e *env) openStore() error {
	var err error
	e.store, err = store.Open(filepath.Join(e.dataDir, "state.db"))
	if err != nil {
		return exitf(exitConfig, "cannot open the state database in %s: %v", e.dataDir, err)
	}
	e.closers = append(e.closers, func() { e.store.Close() })
	return nil
}

// openEmptyStore opens a state database made for this command alone, in a
// temporary folder removed when it ends: a command that reads state where
// none exists yet leaves the data folder untouched (support-bundle).
func (e *env) openEmptyStore() error {
	tmp, err := os.MkdirTemp("", "clinicsync-empty-")
	if err != nil {
		return err
	}
	e.closers = append(e.closers, func() { os.RemoveAll(tmp) })
	if e.store, err = store.Open(filepath.Join(tmp, "state.db")); err != nil {
		return err
	}
	e.closers = append(e.closers, func() { e.store.Close() })
	return nil
}

// runtime is the configuration as the parts take it (service.RuntimeOf:
// the one mapping, which Settings' Save uses too).
func (e *env) runtime() service.Runtime { return service.RuntimeOf(e.cfg, engine.Config{}) }

// events is the bus the engine, the relay and the sign-in publish on, and
// the window and `run` read: one per command, made here and handed to each.
func (e *env) events() *events.Bus {
	if e.bus == nil {
		e.bus = events.New()
	}
	return e.bus
}

// keychain is where this installation's sign-in lives: one entry per API.
func (e *env) keychain() auth.Keychain {
	return auth.Keychain{Service: keychainService, User: "askara:" + e.runtime().API}
}

const keychainService = "Clinic Sync"

// authConfig is the OAuth client from the configuration.
func (e *env) authConfig() auth.Config {
	a := e.runtime().Auth
	// The client secret, where Askara issued one: the environment, then
	// the keychain (`clinicsync login --client-secret-stdin` puts it
	// there, read only when the environment has none), then the
	// configuration file (RuntimeOf put it in a).
	if secret := os.Getenv("CLINICSYNC_CLIENT_SECRET"); secret != "" {
		a.ClientSecret = secret
	} else if secret := auth.ClientSecret(keychainService, a.ClientID); secret != "" {
		a.ClientSecret = secret
	}
	return a
}

// net is the one HTTP client of every platform call (sync/netclient): the
// API, PDF links, the sign-in and its refresh, revocation, webhook
// registration. It follows [network] proxy and ca_file, the environment's
// and the system's proxy settings, and the proxy sign-in in the keychain.
// The first-run setup, with a [network] value to correct, gets one
// without them (the setup shows the problem).
func (e *env) net() (*netclient.Client, error) {
	if e.nc != nil {
		return e.nc, nil
	}
	n := e.runtime().Network
	o := netclient.Options{Proxy: n.Proxy, CAFile: n.CAFile, Logger: e.log, Wrap: e.httpWrap,
		ProxyCredentials: func() (string, string, bool) { return auth.ProxyCredentials(keychainService) }}
	nc, err := netclient.New(o)
	if err != nil && e.setupNeed != nil {
		o.Proxy, o.CAFile = "", ""
		nc, err = netclient.New(o)
	}
	if err != nil {
		return nil, exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	e.nc = nc
	return nc, nil
}

// withNet is ctx carrying the one client for the sign-in calls.
func (e *env) withNet(ctx context.Context) (context.Context, *netclient.Client, error) {
	nc, err := e.net()
	if err != nil {
		return ctx, nil, err
	}
	return auth.WithClient(ctx, nc.HTTP()), nc, nil
}

// sayClockSkew writes, once, that this PC's clock is off the platform's
// (its Date header) by more than two minutes.
func sayClockSkew(nc *netclient.Client, eng *engine.Engine) {
	nc.OnClockSkew(func(d time.Duration) {
		key := activity.ClockAhead
		if d < 0 {
			key, d = activity.ClockBehind, -d
		}
		eng.Note(context.Background(), engine.LevelWarn, clinicsync.NewText(key, int((d+30*time.Second)/time.Minute)))
	})
}

// watch makes eng pass at once when the PC resumes from sleep or its
// network comes back (then the system's proxy settings are read again).
func (e *env) watch(ctx context.Context, nc *netclient.Client, eng *engine.Engine) {
	wake := make(chan string, 1)
	eng.WakeOn(wake)
	go netclient.Watch(ctx, netclient.WatchOptions{Logger: e.log, OnNetwork: nc.Reload}, wake)
}

// tokenSource gives the API credentials: CLINICSYNC_ACCESS_TOKEN when set
// (automation; never stored, as gh does with GH_TOKEN), else the sign-in
// kept in the OS keychain, refreshed as needed.
func (e *env) tokenSource(ctx context.Context) (oauth2.TokenSource, error) {
	if tok := strings.TrimSpace(os.Getenv("CLINICSYNC_ACCESS_TOKEN")); tok != "" {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"}), nil
	}
	saved, err := e.keychain().Load()
	if err != nil {
		return nil, exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	if saved == nil {
		return nil, exitf(exitConfig, "not signed in: run `clinicsync login` (or set CLINICSYNC_ACCESS_TOKEN for automation)")
	}
	ctx, _, err = e.withNet(ctx)
	if err != nil {
		return nil, err
	}
	return auth.NewSource(ctx, e.authConfig(), e.keychain(), e.log), nil
}

// reader is the engine over the state database alone, with no platform
// behind it: the commands that only read state or add a line to the
// activity log (status, log, login) see it through the engine's queries
// and view types, as the window does, never through the store. Nothing
// that needs the platform may be called on it. e.store must be open.
func (e *env) reader() *engine.Engine {
	rt := e.runtime()
	return engine.New(rt.Engine, e.store, nil, rt.Destination, e.events(), e.log)
}

// engine builds the API client and the engine from the configuration.
func (e *env) engine(ctx context.Context) (*engine.Engine, *askara.Client, error) {
	nc, err := e.net()
	if err != nil {
		return nil, nil, err
	}
	ts, err := e.tokenSource(ctx)
	if err != nil {
		return nil, nil, err
	}
	client, err := askara.New(askara.Options{BaseURL: e.runtime().API, TokenSource: ts,
		UserAgent: "ClinicSync/" + version, Logger: e.log, HTTPClient: nc.HTTP()})
	if err != nil {
		return nil, nil, exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	eng := e.newEngine(client)
	sayClockSkew(nc, eng)
	return eng, client, nil
}

// newEngine builds the engine on client from the configuration, notes and
// retention included.
func (e *env) newEngine(client *askara.Client) *engine.Engine {
	rt := e.runtime()
	eng := engine.New(rt.Engine, e.store, client, rt.Destination, e.events(), e.log)
	eng.SetNotes(&askara.NoteSource{Client: client}, rt.Notes)
	eng.SetRetention(rt.Retention)
	eng.WatchSpace(e.dataDir, dest.FreeSpace) // [sync] min_free_mb, on the documents and data folders' disks
	// A listed document or note that cannot be used is said, not dropped.
	client.OnUnusable(func(t clinicsync.Text) { eng.Note(context.Background(), engine.LevelWarn, t) })
	return eng
}

// checkRoot tells, before a pass, a documents folder that does not exist
// (a configuration problem) from one that is not reachable right now (a
// drive or network share not connected, which the engine waits for). The
// folder is never created: an unplugged share must not become an empty
// local folder. It counts as not reachable when documents were saved in it
// before, when the drive or share holding it is missing (Windows: Z:\ or
// \\server\share), or when the OS says something other than "no such
// file".
func (e *env) checkRoot(ctx context.Context) (code int, problem string) {
	root := e.cfg.Destination.Root
	fi, err := os.Stat(root)
	switch {
	case err == nil && fi.IsDir():
		return exitOK, ""
	case err == nil:
		return exitConfig, fmt.Sprintf("the documents folder %s is a file, not a folder: fix [destination] root in %s", root, e.configPath)
	case !errors.Is(err, os.ErrNotExist) || e.savedIn(ctx, root) || !volumeExists(root):
		return exitUnavailable, fmt.Sprintf("Destination folder %s is not reachable (is its drive or network share connected?)", root)
	}
	return exitConfig, fmt.Sprintf("the documents folder %s does not exist: create it, or set [destination] root in %s "+
		"to the practice software's patients folder", root, e.configPath)
}

// savedIn reports whether a document was saved below root before.
func (e *env) savedIn(ctx context.Context, root string) bool {
	docs, err := e.reader().Documents(ctx, engine.DocumentFilter{Search: root, Limit: 20,
		States: []clinicsync.ItemState{clinicsync.StateConfirmed, clinicsync.StateSaved}})
	for _, d := range docs {
		if err == nil && strings.HasPrefix(d.Path, filepath.Clean(root)+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// volumeExists reports whether the drive or share of path is there (always
// true where paths have no volume name).
func volumeExists(path string) bool {
	v := filepath.VolumeName(path)
	if v == "" {
		return true
	}
	_, err := os.Stat(v + string(filepath.Separator))
	return err == nil
}

// passExit maps a pass outcome to the documented exit codes.
func passExit(ctx context.Context, eng *engine.Engine, err error) error {
	if err != nil {
		switch clinicsync.ErrorCode(err) {
		case clinicsync.EUnauthorized, clinicsync.ESignedOut, clinicsync.EConfig, clinicsync.EForbidden:
			return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
		case clinicsync.ECanceled:
			return exitf(exitFailing, "interrupted")
		case clinicsync.EUnavailable, clinicsync.ERateLimited, clinicsync.EDestination, clinicsync.EStandby:
			// The pass (or the retry) could not run: nothing is failing
			// for good, and nothing was changed.
			return exitf(exitUnavailable, "%s Nothing was done; try again later.", clinicsync.ErrorMessage(err))
		}
		return exitf(exitFailing, "%s", clinicsync.ErrorMessage(err))
	}
	counts, cerr := eng.Counts(ctx)
	if cerr != nil {
		return cerr
	}
	if n := counts[clinicsync.StateFailed] + counts[clinicsync.StateSaved] + counts[clinicsync.StatePending]; n > 0 {
		return exitf(exitFailing, "%d document(s) still need attention (see: clinicsync status)", n)
	}
	return nil
}

// service builds the whole application for the window: unlike engine, it
// starts even when nobody is signed in (the window offers Sign in).
func (e *env) service(ctx context.Context, auto service.Autostart) (*service.Service, error) {
	var (
		ts  oauth2.TokenSource
		src *auth.Source
	)
	netCtx, nc, err := e.withNet(ctx)
	if err != nil {
		return nil, err
	}
	if tok := strings.TrimSpace(os.Getenv("CLINICSYNC_ACCESS_TOKEN")); tok != "" {
		ts = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"})
	} else {
		src = auth.NewSource(netCtx, e.authConfig(), e.keychain(), e.log)
		ts = src
	}
	client, err := askara.New(askara.Options{BaseURL: e.runtime().API, TokenSource: ts,
		UserAgent: "ClinicSync/" + version, Logger: e.log, HTTPClient: nc.HTTP()})
	if err != nil && e.setupNeed != nil {
		// The setup shows the address's problem and cannot finish until
		// the file is corrected: the engine never runs with this client.
		client, err = askara.New(askara.Options{BaseURL: config.Default().Askara.APIURL, TokenSource: ts,
			UserAgent: "ClinicSync/" + version, Logger: e.log, HTTPClient: nc.HTTP()})
	}
	if err != nil {
		return nil, exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	eng := e.newEngine(client)
	sayClockSkew(nc, eng)
	e.watch(ctx, nc, eng)
	return service.New(service.Parts{Version: version, ConfigPath: e.configPath, DataDir: e.dataDir,
		LogFile: e.logFile, Config: e.cfg, Policy: e.policy, Engine: eng, Client: client, Source: src, Keychain: e.keychain(), Net: nc,
		AuthConfig: e.authConfig, OpenURL: openBrowser, Autostart: auto, Relay: e.relay(eng, client),
		FirstRun: e.setupNeed, Events: e.events(), Updates: e.updater(nc), Log: e.log}), nil
}

// updater checks for signed updates as [updates] says; downloads go to
// the data folder.
func (e *env) updater(nc *netclient.Client) *selfupdate.Updater {
	return selfupdate.New(selfupdate.Options{Enabled: e.cfg.Updates.Enabled, URL: e.cfg.Updates.URL, Pin: e.cfg.Updates.Pin,
		Current: version, Key: cmp.Or(e.updateKey, selfupdate.PublicKey), Dir: filepath.Join(e.dataDir, "updates"),
		Client: nc.HTTP(), Log: e.log})
}

// relay is the webhook relay manager: it runs the relay the settings ask
// for, with the signing secrets from the environment or the keychain.
func (e *env) relay(eng *engine.Engine, client *askara.Client) *relay.Manager {
	return &relay.Manager{Store: e.store, Sink: eng, Registrar: client, Log: e.log, Events: e.events(),
		Secret: func(p string) string { return auth.WebhookSecret(keychainService, p) }}
}

// logToFile sends the debug log to a file in the data folder (the window
// has no terminal): clinicsync.log, rotated to clinicsync.log.1 past 10 MiB.
func (e *env) logToFile() error {
	e.logFile = filepath.Join(e.dataDir, "clinicsync.log")
	f, err := openRotating(e.logFile, logFileMax)
	if err != nil {
		return err
	}
	e.closers = append(e.closers, func() { f.Close() })
	level := slog.LevelInfo
	if strings.EqualFold(os.Getenv("CLINICSYNC_LOG"), "debug") {
		level = slog.LevelDebug
	}
	e.log = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: level}))
	return nil
}

// logFileMax is the size at which the log file is rotated.
const logFileMax = 10 << 20
