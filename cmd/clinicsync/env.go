package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// env is what every command shares: flags, configuration, and the parts
// built from them, closed when the command ends.
type env struct {
	stdout, stderr io.Writer
	configPath     string
	dataDir        string
	cfg            config.Config
	log            *slog.Logger
	store          *store.Store
	closers        []func()
}

func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

// flags returns a FlagSet with the common flags bound to e.
func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&e.configPath, "config", os.Getenv("CLINICSYNC_CONFIG"), "configuration file (env CLINICSYNC_CONFIG)")
	fs.StringVar(&e.dataDir, "data-dir", os.Getenv("CLINICSYNC_DATA_DIR"), "data folder holding state.db (env CLINICSYNC_DATA_DIR)")
	return fs
}

// parse parses args, allowing flags after positional arguments too.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &exitError{code: exitConfig, err: fmt.Errorf("")}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// setup loads the configuration and opens the store.
func (e *env) setup() error {
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
		e.dataDir = defData
	}
	e.cfg, err = config.Load(e.configPath)
	if err != nil {
		return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	if err := e.cfg.Validate(); err != nil {
		return exitf(exitConfig, "%s (file: %s)", clinicsync.ErrorMessage(err), e.configPath)
	}
	if err := os.MkdirAll(e.dataDir, 0o700); err != nil {
		return exitf(exitConfig, "cannot create the data folder %s: %v", e.dataDir, err)
	}
	e.store, err = store.Open(filepath.Join(e.dataDir, "state.db"))
	if err != nil {
		return exitf(exitConfig, "cannot open the state database in %s: %v", e.dataDir, err)
	}
	e.closers = append(e.closers, func() { e.store.Close() })
	return nil
}

// tokenSource gives the API credentials. Until browser sign-in lands, the
// token comes only from the environment, as gh does with GH_TOKEN; it is
// never written anywhere.
func tokenSource() (oauth2.TokenSource, error) {
	tok := strings.TrimSpace(os.Getenv("CLINICSYNC_ACCESS_TOKEN"))
	if tok == "" {
		return nil, exitf(exitConfig, "not signed in: set CLINICSYNC_ACCESS_TOKEN to an Askara access token")
	}
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"}), nil
}

// engine builds the API client and the engine from the configuration.
func (e *env) engine() (*engine.Engine, *askara.Client, error) {
	ts, err := tokenSource()
	if err != nil {
		return nil, nil, err
	}
	client, err := askara.New(askara.Options{BaseURL: e.cfg.Askara.APIURL, TokenSource: ts,
		UserAgent: "ClinicSync/" + version, Logger: e.log})
	if err != nil {
		return nil, nil, exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	eng := engine.New(engine.Config{
		SoftwareID:   e.cfg.Destination.SoftwareID,
		PollInterval: e.cfg.Askara.PollInterval.Duration,
		Workers:      e.cfg.Sync.Workers,
	}, e.store, client, dest.Layout{Root: e.cfg.Destination.Root, Template: e.cfg.Destination.PatientFolder}, e.log)
	return eng, client, nil
}

// passExit maps a pass outcome to the documented exit codes.
func passExit(ctx context.Context, e *env, err error) error {
	if err != nil {
		switch clinicsync.ErrorCode(err) {
		case clinicsync.EUnauthorized, clinicsync.ESignedOut, clinicsync.EConfig, clinicsync.EForbidden:
			return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
		case clinicsync.ECanceled:
			return exitf(exitFailing, "interrupted")
		}
		return exitf(exitFailing, "%s", clinicsync.ErrorMessage(err))
	}
	counts, cerr := e.store.Counts(ctx)
	if cerr != nil {
		return cerr
	}
	if n := counts[clinicsync.StateFailed] + counts[clinicsync.StateSaved] + counts[clinicsync.StatePending]; n > 0 {
		return exitf(exitFailing, "%d document(s) still need attention (see: clinicsync status)", n)
	}
	return nil
}
