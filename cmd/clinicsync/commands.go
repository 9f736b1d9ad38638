package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/app/instance"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/events"
)

func cmdVersion(_ context.Context, e *env, args []string) error {
	if _, err := e.parse(e.flags("version"), args); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "clinicsync", version)
	return nil
}

func cmdSync(ctx context.Context, e *env, args []string) error {
	fs := e.flags("sync")
	quiet := fs.Bool("quiet", false, "print only problems (failures and errors), nothing on success")
	if _, err := e.start(fs, args); err != nil {
		return err
	}
	switch code, problem := e.checkRoot(ctx); code {
	case exitOK:
	case exitUnavailable:
		return exitf(code, "%s; nothing was done, try again later", problem)
	default:
		return exitf(code, "%s", problem)
	}
	eng, _, err := e.engine(ctx)
	if err != nil {
		return err
	}
	if err := eng.Recover(ctx); err != nil {
		return err
	}
	res, err := eng.Pass(ctx)
	// A pass that could not run has nothing to count: its error says why.
	if (!*quiet && (err == nil || res != engine.PassResult{})) || res.Failed > 0 {
		printPass(e, res)
	}
	if err == nil && eng.NotesEnabled() {
		// Notes too; a notes problem (a missing scope, say) is reported
		// but does not change the documents' exit code.
		n, nerr := eng.PollNotes(ctx)
		switch {
		case nerr != nil:
			fmt.Fprintf(e.stderr, "clinicsync: notes: %s\n", clinicsync.ErrorMessage(nerr))
		case !*quiet:
			fmt.Fprintf(e.stdout, "notes saved: %d\n", n)
		}
	}
	return passExit(ctx, eng, err)
}

func printPass(e *env, r engine.PassResult) {
	fmt.Fprintf(e.stdout, "listed %d, written %d, already present %d, confirmed %d, failed %d\n",
		r.Listed, r.Written, r.AlreadyPresent, r.Confirmed, r.Failed)
}

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := e.flags("run")
	if _, err := e.start(fs, args); err != nil {
		return err
	}
	// One engine per data folder, as for the tray app; quit (the
	// installer, before an upgrade) ends it like SIGTERM.
	if instance.Running(e.dataDir) {
		return exitf(exitConfig, "Clinic Sync already runs with the data folder %s", e.dataDir)
	}
	ctx, quit := context.WithCancel(ctx)
	defer quit()
	inst, err := instance.AcquireWith(e.dataDir, instance.Options{OnQuit: quit, Version: version})
	if err != nil {
		return exitf(exitConfig, "cannot start: %v", err)
	}
	defer inst.Close()
	eng, client, err := e.engine(ctx)
	if err != nil {
		return err
	}
	sub := e.events().Subscribe(events.Activity)
	defer sub.Unsubscribe()
	go func() {
		for ev := range sub.C {
			msg := ev.Message
			if ev.Text.Key != "" {
				msg = localText(ev.Text)
			}
			fmt.Fprintf(e.stdout, "%s %-5s %s\n", ev.Time.Local().Format("15:04:05"), ev.Level, msg)
		}
	}()
	fmt.Fprintf(e.stdout, "Clinic Sync %s: polling %s every %s into %s (Ctrl-C to stop)\n", version,
		e.cfg.Askara.APIURL, e.cfg.Askara.PollInterval.Duration, e.cfg.Destination.Root)
	if code, problem := e.checkRoot(ctx); code != exitOK { // the engine waits for it
		fmt.Fprintf(e.stderr, "clinicsync: %s; waiting for it\n", problem)
	}
	if e.cfg.Relay.Enabled {
		m := e.relay(eng, client)
		if err := m.Apply(ctx, e.runtime().Relay); err != nil {
			return exitf(exitConfig, "webhook relay: %s", clinicsync.ErrorMessage(err))
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			m.Close(cctx)
		}()
		st := m.Status(ctx)
		fmt.Fprintf(e.stdout, "Webhook relay on %s (%s)\n", st.Address, strings.Join(e.cfg.Relay.Platforms, ", "))
	}
	e.watch(ctx, e.nc, eng) // e.engine built e.nc
	return eng.Run(ctx)
}

// standingBy is the engine's sentence for a PC that stands by while
// another writes (translated).
const standingBy = "%s writes to this folder; this PC stands by."

// statusReport is what `status --json` prints; the fields are stable.
type statusReport struct {
	Version    string `json:"version"`
	Config     string `json:"config"`
	Configured bool   `json:"configured"`
	// ConfigProblem says why the configuration is not usable ("not
	// configured yet: ..."); status still shows the state.
	ConfigProblem string                       `json:"config_problem,omitempty"`
	DataDir       string                       `json:"data_dir"`
	APIURL        string                       `json:"api_url"`
	SignedIn      bool                         `json:"signed_in"`
	Account       string                       `json:"account,omitempty"`
	Root          string                       `json:"destination"`
	LastPassOK    string                       `json:"last_pass_ok,omitempty"`
	Counts        map[clinicsync.ItemState]int `json:"counts"`
	// Problems are the open problems that stop documents (the window's
	// banner), the longest-standing first.
	Problems []openProblem `json:"problems"`
	Failures []failure     `json:"failures"`
	// Sources says where each key's value came from: "default", "user
	// file", "policy" (the administrator's) or "environment".
	Sources map[string]config.Source `json:"sources"`
	// Locked are the keys the administrator locked; PolicyFrom where the
	// administrator set each key it sets or locks.
	Locked     []string          `json:"locked,omitempty"`
	PolicyFrom map[string]string `json:"policy_from,omitempty"`
	// Writer is who holds the documents folder's lease (several PCs
	// sharing one folder: one writes); absent when nobody does.
	Writer *writerReport `json:"writer,omitempty"`
}

// writerReport is the lease in the documents folder.
type writerReport struct {
	PC        string    `json:"pc"`
	User      string    `json:"user,omitempty"`
	Heartbeat time.Time `json:"heartbeat"`
	ThisPC    bool      `json:"this_pc"` // this installation holds it
	Stale     bool      `json:"stale"`   // its holder stopped renewing it
}

// openProblem is an open problem in English: what, since when, what to do.
type openProblem struct {
	Kind  string             `json:"kind"`
	Since time.Time          `json:"since"`
	Title string             `json:"title"`
	Cause string             `json:"cause"`
	Fix   string             `json:"fix"`
	texts [3]clinicsync.Text // title, cause and fix, for the text output
}

type failure struct {
	UUID      string          `json:"uuid"`
	File      string          `json:"file"`
	Patient   string          `json:"patient"`
	Error     string          `json:"error"`
	Attempts  int             `json:"attempts"`
	NextRetry time.Time       `json:"next_retry,omitzero"`
	reason    clinicsync.Text // Error as a key and arguments, for the text output
}

func cmdStatus(ctx context.Context, e *env, args []string) error {
	fs := e.flags("status")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	problem, err := e.setupToRead()
	if err != nil {
		return err
	}
	rep := statusReport{Version: version, Config: e.configPath, Configured: problem == nil, DataDir: e.dataDir,
		APIURL: e.cfg.Askara.APIURL, Root: e.cfg.Destination.Root, Counts: map[clinicsync.ItemState]int{},
		Problems: []openProblem{}, Failures: []failure{}, Sources: e.sources, Locked: e.policy.LockedKeys()}
	if problem != nil {
		rep.ConfigProblem = problem.Error()
	}
	for _, k := range append(e.policy.SetKeys(), rep.Locked...) {
		if rep.PolicyFrom == nil {
			rep.PolicyFrom = map[string]string{}
		}
		rep.PolicyFrom[k] = e.policy.Where(k)
	}
	var failed []engine.DocumentView
	if e.store != nil { // nil: nothing has run yet
		eng := e.reader()
		if rep.Counts, err = eng.Counts(ctx); err != nil {
			return err
		}
		rep.LastPassOK, _ = eng.LastGoodPass(ctx)
		ps, err := eng.Problems(ctx)
		if err != nil {
			return err
		}
		for _, p := range ps {
			rep.Problems = append(rep.Problems, openProblem{Kind: string(p.Kind), Since: p.Since, Title: p.Title.String(),
				Cause: clinicsync.CleanText(p.Cause.String()), Fix: clinicsync.CleanText(p.Fix.String()),
				texts: [3]clinicsync.Text{p.Title, p.Cause, p.Fix}})
		}
		failed, err = eng.Documents(ctx, engine.DocumentFilter{States: []clinicsync.ItemState{clinicsync.StateFailed}, Limit: 1000})
		if err != nil {
			return err
		}
		if l, mine, stale, err := eng.Writer(ctx); err == nil && l.ID != "" {
			rep.Writer = &writerReport{PC: clinicsync.CleanText(l.PC), User: clinicsync.CleanText(l.User),
				Heartbeat: l.Heartbeat, ThisPC: mine, Stale: stale}
		}
	}
	counts, last := rep.Counts, rep.LastPassOK
	signedIn := "not signed in (clinicsync login)"
	if os.Getenv("CLINICSYNC_ACCESS_TOKEN") != "" {
		rep.SignedIn, rep.Account, signedIn = true, "", "with the token in CLINICSYNC_ACCESS_TOKEN"
	} else if saved, err := e.keychain().Load(); err != nil {
		signedIn = clinicsync.ErrorMessage(err)
	} else if saved != nil {
		rep.SignedIn, rep.Account, signedIn = true, saved.Account, "as "+cmp.Or(saved.Account, "an Askara user")
	}
	for _, d := range failed { // the views are escaped for one line
		rep.Failures = append(rep.Failures, failure{UUID: d.UUID, File: docName(d), Patient: d.Patient.DisplayName(),
			Error: d.Reason, Attempts: d.Attempts, NextRetry: d.NextAttempt, reason: d.ReasonText})
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(e.stdout, "Clinic Sync %s\n", version)
	if problem != nil {
		fmt.Fprintln(e.stdout, problem)
	}
	fmt.Fprintf(e.stdout, "config:       %s\ndata folder:  %s\nplatform:     %s\nsigned in:    %s\ndestination:  %s\n",
		rep.Config, rep.DataDir, rep.APIURL, signedIn, cmp.Or(rep.Root, "(not set)"))
	if last == "" {
		last = "never"
	} else if t, err := time.Parse(time.RFC3339, last); err == nil {
		last = t.Local().Format("2006-01-02 15:04:05") + " (" + ago(time.Since(t)) + ")"
	}
	for _, k := range slices.Sorted(maps.Keys(rep.PolicyFrom)) {
		lock := ""
		if slices.Contains(rep.Locked, k) {
			lock = ", locked"
		}
		fmt.Fprintf(e.stdout, "set by IT:    %s (%s%s)\n", k, rep.PolicyFrom[k], lock)
	}
	if w := rep.Writer; w != nil {
		renewed := w.Heartbeat.Local().Format("15:04:05") + " (" + ago(time.Since(w.Heartbeat)) + ")"
		switch {
		case w.ThisPC:
			fmt.Fprintf(e.stdout, "writer:       this PC (lease renewed %s)\n", renewed)
		case w.Stale:
			fmt.Fprintf(e.stdout, "writer:       %s (%s) stopped renewing its lease at %s: a PC running Clinic Sync takes over\n", w.PC, w.User, renewed)
		default:
			fmt.Fprintf(e.stdout, "writer:       %s\n", localText(clinicsync.NewText(standingBy, w.PC+" ("+w.User+")")))
		}
	}
	fmt.Fprintf(e.stdout, "last good pass: %s\ndocuments:   ", last)
	for _, st := range clinicsync.States {
		fmt.Fprintf(e.stdout, " %s %d", st, counts[st])
	}
	fmt.Fprintln(e.stdout)
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "PROBLEM %s (since %s): %s %s\n", localText(p.texts[0]), p.Since.Local().Format("2006-01-02 15:04"),
			localText(p.texts[1]), localText(p.texts[2]))
	}
	for _, f := range rep.Failures {
		when := "waiting for a person (clinicsync retry " + f.UUID + ")"
		if !f.NextRetry.IsZero() {
			when = "automatic retry at " + f.NextRetry.Local().Format("15:04:05")
		}
		fmt.Fprintf(e.stdout, "FAILED %s  %s for %s: %s [%s]\n", f.UUID, f.File, f.Patient, localText(f.reason), when)
	}
	return nil
}

func cmdRetry(ctx context.Context, e *env, args []string) error {
	fs := e.flags("retry")
	pos, err := e.start(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return exitf(exitConfig, "usage: clinicsync retry UUID")
	}
	eng, _, err := e.engine(ctx)
	if err != nil {
		return err
	}
	if _, err := eng.Retry(ctx, pos[0]); err != nil {
		return passExit(ctx, eng, err)
	}
	d, err := eng.Document(ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %s (%s)\n", d.UUID, d.State, d.Path)
	return nil
}

func cmdLog(ctx context.Context, e *env, args []string) error {
	fs := e.flags("log")
	n := fs.Int("n", 50, "show the last `N` entries")
	asJSON := fs.Bool("json", false, "print JSON lines")
	level := fs.String("level", "", "only entries of this `LEVEL` or worse: info, warn, error")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	problem, err := e.setupToRead()
	if err != nil {
		return err
	}
	if problem != nil { // on standard error: the log itself stays clean for scripts
		fmt.Fprintln(e.stderr, "clinicsync:", problem)
	}
	if e.store == nil { // nothing has run yet
		return nil
	}
	entries, err := e.reader().Activity(ctx, engine.LogQuery{Limit: *n, MinLevel: *level})
	if err != nil {
		return exitf(exitConfig, "%v", err)
	}
	slices.Reverse(entries) // oldest first, like a log file
	enc := json.NewEncoder(e.stdout)
	for _, en := range entries {
		if *asJSON {
			if err := enc.Encode(en); err != nil {
				return err
			}
			continue
		}
		// Lines stored by versions before escaping may hold control
		// characters; lines stored before keys show their stored English.
		fmt.Fprintf(e.stdout, "%s %-5s %s\n", en.At.Local().Format("2006-01-02 15:04:05"), en.Level,
			clinicsync.CleanText(en.Render(logTranslate())))
	}
	return nil
}

// ago says how long d was, in words: "3 minutes ago".
func ago(d time.Duration) string {
	n, unit := 0, ""
	switch {
	case d < time.Minute:
		return "less than a minute ago"
	case d < time.Hour:
		n, unit = int(d/time.Minute), "minute"
	case d < 48*time.Hour:
		n, unit = int(d/time.Hour), "hour"
	default:
		n, unit = int(d/(24*time.Hour)), "day"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s ago", n, unit)
}
