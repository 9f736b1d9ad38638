// Package engine is Clinic Sync's orchestrator: one reconcile pass lists the
// platform's unsynchronized documents, downloads each into the destination
// folder, records every step in the store and confirms the outcome to the
// platform. It runs passes on a timer and on demand, retries transient
// failures with capped backoff, enforces the 30-second manual-retry rule,
// and publishes typed events and snapshots for the UI and the CLI. It never
// imports Fyne.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/failpoint"
)

// Config is what the engine needs to know beyond its parts.
type Config struct {
	Source            string        // "askara"
	SoftwareID        string        // sent as "directory" in confirmations
	PollInterval      time.Duration // default 45 s
	Workers           int           // documents processed at once, default 4
	BackoffBase       time.Duration // first automatic retry delay, default 30 s
	BackoffMax        time.Duration // cap, default 30 min
	ManualRetryWindow time.Duration // default 30 s (the platform's limit)
	QuickRetryDelay   time.Duration // one quick in-pass retry of a transient failure, default 1 s
	// PushCallTimeout bounds each platform call a pushed document makes
	// (the GET when the event carries no link, the confirmation), default
	// 20 s: a platform that hangs leaves the document to polling instead of
	// holding the relay.
	PushCallTimeout time.Duration
}

func (c *Config) defaults() {
	if c.Source == "" {
		c.Source = "askara"
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 45 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 30 * time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Minute
	}
	if c.ManualRetryWindow <= 0 {
		c.ManualRetryWindow = 30 * time.Second
	}
	if c.QuickRetryDelay == 0 {
		c.QuickRetryDelay = time.Second
	}
	if c.PushCallTimeout <= 0 {
		c.PushCallTimeout = 20 * time.Second
	}
}

// Status is the engine's overall state, as the tray shows it.
type Status string

const (
	StatusIdle      Status = "idle"
	StatusSyncing   Status = "syncing"
	StatusAttention Status = "attention" // a document failed or the last pass failed
	StatusPaused    Status = "paused"
	StatusSignedOut Status = "signed_out"
)

// Snapshot is a consistent view of the engine for the UI and `status`.
type Snapshot struct {
	Status        Status                       `json:"status"`
	Paused        bool                         `json:"paused"`
	SignedOut     bool                         `json:"signed_out"`
	Syncing       bool                         `json:"syncing"`
	LastPassStart time.Time                    `json:"last_pass_start,omitzero"`
	LastPassEnd   time.Time                    `json:"last_pass_end,omitzero"`
	LastPassError string                       `json:"last_pass_error,omitempty"`
	LastPassCode  string                       `json:"last_pass_code,omitempty"` // clinicsync error code of LastPassError
	LastPassText  clinicsync.Text              `json:"-"`                        // LastPassError as a key and arguments, to translate it
	NextPass      time.Time                    `json:"next_pass,omitzero"`
	Counts        map[clinicsync.ItemState]int `json:"counts"`
	LastEventID   int64                        `json:"last_event_id"`
}

// PassResult counts what one pass did.
type PassResult struct {
	Listed         int // documents the platform listed
	Written        int // files written
	AlreadyPresent int // identical file already there: only confirmed
	Confirmed      int // success:true accepted
	Failed         int // documents that failed in this pass
	Reported       int // success:false sent
}

// Engine ties the store, the platform and the destination together.
type Engine struct {
	confMu sync.RWMutex // guards cfg and layout, which Reconfigure changes
	cfg    Config
	layout dest.Layout

	store  *store.Store
	remote clinicsync.Remote
	bus    *events.Bus
	log    *slog.Logger
	Now    func() time.Time

	passMu sync.Mutex // one pass at a time
	wake   chan struct{}
	// resumed says the PC woke from sleep or its network came back
	// (WakeOn); nil: never.
	resumed <-chan string

	linkMu sync.Mutex
	links  map[string]string // uuid -> pre-signed PDF link, memory only
	names  map[string]string // uuid -> file name when it must differ from the plain one

	mu         sync.Mutex
	snap       Snapshot
	lastStatus Status
	lastErrLog string // last pass error written to the activity log (rate limit)
	inflight   map[string]bool

	quickRetries atomic.Int64

	notes       notesState
	retention   atomic.Int64 // days of activity and webhook bodies kept (0: forever)
	lastPruneAt time.Time    // run loop only
}

// New builds an engine. It publishes on bus, which cmd (or a test rig)
// made and hands to the other parts too (nil: nothing is published). log
// receives debug lines without PHI or secrets.
func New(cfg Config, st *store.Store, remote clinicsync.Remote, layout dest.Layout, bus *events.Bus, log *slog.Logger) *Engine {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, store: st, remote: remote, layout: layout, bus: bus, log: log,
		Now: time.Now, wake: make(chan struct{}, 1), links: map[string]string{}}
	e.snap.Counts = map[clinicsync.ItemState]int{}
	e.inflight = map[string]bool{}
	return e
}

// Events is the bus the engine publishes on.
func (e *Engine) Events() *events.Bus { return e.bus }

// Config returns the engine's configuration (with defaults applied).
func (e *Engine) Config() Config {
	c, _ := e.conf()
	return c
}

// Layout returns the destination layout in use.
func (e *Engine) Layout() dest.Layout {
	_, l := e.conf()
	return l
}

// conf returns the configuration and layout as they are now; a pass or a
// delivery works with one copy from start to end.
func (e *Engine) conf() (Config, dest.Layout) {
	e.confMu.RLock()
	defer e.confMu.RUnlock()
	return e.cfg, e.layout
}

// Reconfigure applies new settings without a restart: the next document
// written uses the new layout and the run loop recomputes its next pass.
// Documents already written stay where they are.
func (e *Engine) Reconfigure(cfg Config, layout dest.Layout) {
	cfg.defaults()
	e.confMu.Lock()
	e.cfg, e.layout = cfg, layout
	e.confMu.Unlock()
	e.SyncNow()
}

// Snapshot returns the current state.
func (e *Engine) Snapshot() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.snap
	s.Counts = make(map[clinicsync.ItemState]int, len(e.snap.Counts))
	for k, v := range e.snap.Counts {
		s.Counts[k] = v
	}
	s.Status = e.statusLocked()
	s.LastEventID = e.bus.LastID()
	return s
}

func (e *Engine) statusLocked() Status {
	switch {
	case e.snap.SignedOut:
		return StatusSignedOut
	case e.snap.Paused:
		return StatusPaused
	case e.snap.Syncing:
		return StatusSyncing
	case e.snap.Counts[clinicsync.StateFailed] > 0 || e.snap.LastPassError != "":
		return StatusAttention
	}
	return StatusIdle
}

// update changes the snapshot under the lock and publishes StatusChanged
// only when the status really changed, SnapshotChanged when anything the
// snapshot shows did (f replaces Counts, never changes it in place).
func (e *Engine) update(f func(s *Snapshot)) {
	e.mu.Lock()
	before := e.snap
	f(&e.snap)
	st := e.statusLocked()
	changed := st != e.lastStatus
	e.lastStatus = st
	moved := changed || !reflect.DeepEqual(before, e.snap)
	e.mu.Unlock()
	if changed {
		e.bus.Publish(events.Event{Type: events.StatusChanged, Status: string(st), Message: string(st)})
	}
	if moved {
		e.bus.Publish(events.Event{Type: events.SnapshotChanged})
	}
}

func (e *Engine) refreshCounts(ctx context.Context) {
	counts, err := e.store.Counts(ctx)
	if err != nil {
		e.log.Debug("counts", "err", err)
		return
	}
	e.update(func(s *Snapshot) { s.Counts = counts })
}

// activity writes a line to the activity log, as a key of package
// activity and its arguments, and publishes it. Platform text in the
// arguments (names, reasons) is escaped for one line, for the bus's
// readers (the window, run's output) as for the store.
func (e *Engine) activity(ctx context.Context, level, item, key string, args ...any) {
	e.note(ctx, level, item, clinicsync.NewText(key, args...))
}

func (e *Engine) note(ctx context.Context, level, item string, t clinicsync.Text) {
	t = t.Clean()
	if _, err := e.store.LogText(context.WithoutCancel(ctx), level, item, t); err != nil {
		e.log.Warn("activity log write failed", "err", err)
	}
	e.bus.Publish(events.Event{Type: events.Activity, Item: item, Level: level, Message: clinicsync.CleanText(t.String()), Text: t})
}

func (e *Engine) itemChanged(uuid string, st clinicsync.ItemState, msg string) {
	e.bus.Publish(events.Event{Type: events.ItemChanged, Item: uuid, State: st, Message: msg})
}

// SyncNow asks the run loop for a pass as soon as possible.
func (e *Engine) SyncNow() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// WakeOn makes the run loop start a pass as soon as ch says the PC
// resumed from sleep or its network came back (sync/netclient's Watch),
// instead of waiting out the poll interval or a failure's backoff. Call it
// before Run.
func (e *Engine) WakeOn(ch <-chan string) { e.resumed = ch }

// Pause stops automatic passes until Resume.
func (e *Engine) Pause() {
	e.update(func(s *Snapshot) { s.Paused = true })
	e.activity(context.Background(), store.LevelInfo, "", activity.Paused)
}

// Resume restarts automatic passes and asks for one now.
func (e *Engine) Resume() {
	e.update(func(s *Snapshot) { s.Paused = false })
	e.activity(context.Background(), store.LevelInfo, "", activity.Resumed)
	e.SyncNow()
}

// SetSignedOut moves the engine to or from the signed-out state; reason
// (an activity key) is logged when it moves to it.
func (e *Engine) SetSignedOut(out bool, reason string) {
	e.update(func(s *Snapshot) { s.SignedOut = out })
	if out {
		e.activity(context.Background(), store.LevelError, "", reason)
	} else {
		e.SyncNow()
	}
}

// Recover finishes what a crash interrupted: documents left downloading go
// back to pending and their half-written temp files are removed. Saved but
// unconfirmed documents are confirmed by the next pass.
func (e *Engine) Recover(ctx context.Context) error {
	items, err := e.store.Interrupted(ctx)
	if err != nil {
		return fmt.Errorf("recover interrupted downloads: %w", err)
	}
	for _, it := range items {
		if it.TempDir != "" {
			n, err := dest.RemoveTemps(it.TempDir, it.UUID)
			if err != nil {
				e.log.Warn("remove temp files", "item", it.UUID, "err", err)
				continue
			}
			if n > 0 {
				e.log.Debug("removed interrupted temp files", "item", it.UUID, "n", n)
			}
		}
		if err := e.store.ClearTempDir(ctx, it.UUID); err != nil {
			return err
		}
	}
	if len(items) > 0 {
		e.activity(ctx, store.LevelInfo, "", activity.ResumedDownloads, len(items))
	}
	e.refreshCounts(ctx)
	return nil
}

// Pass runs one reconcile pass: list, then download, save and confirm every
// due document. An error is returned when the pass could not run at all
// (platform unreachable, signed out, destination unreachable); per-document
// failures are recorded on the documents and counted in the result.
func (e *Engine) Pass(ctx context.Context) (PassResult, error) {
	e.passMu.Lock()
	defer e.passMu.Unlock()
	start := e.Now()
	e.update(func(s *Snapshot) { s.Syncing = true; s.LastPassStart = start })
	e.bus.Publish(events.Event{Type: events.PassStarted})
	res, err := e.pass(ctx)
	end := e.Now()
	msg, code, text := "", "", clinicsync.Text{}
	if err != nil {
		msg, code, text = clinicsync.ErrorMessage(err), clinicsync.ErrorCode(err), clinicsync.ErrorText(err)
	}
	e.refreshCounts(ctx)
	e.update(func(s *Snapshot) {
		s.Syncing = false
		s.LastPassEnd = end
		s.LastPassError, s.LastPassCode, s.LastPassText = msg, code, text
		switch {
		case clinicsync.ErrorCode(err) == clinicsync.EUnauthorized || clinicsync.ErrorCode(err) == clinicsync.ESignedOut:
			s.SignedOut = true
		case err == nil:
			s.SignedOut = false // a new sign-in took effect
		}
	})
	e.mu.Lock()
	logIt := msg != e.lastErrLog
	e.lastErrLog = msg
	e.mu.Unlock()
	if err != nil && logIt && clinicsync.ErrorCode(err) != clinicsync.ECanceled {
		e.activity(ctx, store.LevelError, "", activity.SyncFailed, text)
	} else if err == nil && logIt {
		e.activity(ctx, store.LevelInfo, "", activity.SyncWorks)
	}
	if err == nil {
		_ = e.store.SetCursor(context.WithoutCancel(ctx), "last_pass_ok", end.UTC().Format(time.RFC3339))
	}
	e.bus.Publish(events.Event{Type: events.PassFinished, Message: msg})
	e.log.Debug("pass finished", "listed", res.Listed, "written", res.Written, "confirmed", res.Confirmed,
		"failed", res.Failed, "took", end.Sub(start), "err", err)
	return res, err
}

func (e *Engine) pass(ctx context.Context) (PassResult, error) {
	var res PassResult
	if err := e.checkDestination(); err != nil {
		return res, err
	}
	listedAt := e.store.Now() // the list is live: what it says is as of now
	docs, err := e.remote.ListUnsynchronized(ctx)
	if err != nil {
		return res, err
	}
	res.Listed = len(docs)
	for _, d := range docs {
		if d.UUID == "" {
			continue
		}
		if err := e.admit(ctx, d, listedAt); err != nil {
			return res, err
		}
		if err := e.relisted(ctx, d); err != nil {
			return res, err
		}
	}
	e.assignNames(docs)
	if err := e.reportPending(ctx, &res); err != nil {
		return res, err
	}
	due, err := e.store.Due(ctx, e.Now())
	if err != nil {
		return res, err
	}
	return res, e.work(ctx, due, &res)
}

// admit records a listed (or pushed) document and decides whether it needs
// work. asOf is when the platform said it was not synchronized (the list's
// time, the event's arrival): a document confirmed since is not done again.
func (e *Engine) admit(ctx context.Context, d clinicsync.Document, asOf time.Time) error {
	it, created, err := e.store.Upsert(ctx, e.Config().Source, d)
	if err != nil {
		return err
	}
	if d.PDF.URL != "" {
		e.linkMu.Lock()
		e.links[d.UUID] = d.PDF.URL
		e.linkMu.Unlock()
	}
	switch {
	case created:
		e.activity(ctx, store.LevelInfo, d.UUID, activity.NewDocument, describeFile(it), activity.Patient(it.Patient))
		e.itemChanged(d.UUID, clinicsync.StatePending, "")
	case it.State == clinicsync.StateConfirmed:
		// Listed again after we confirmed it (a person asked for a new
		// synchronisation in the platform): check the file, confirm again.
		if err := e.store.RequeueConfirmedBefore(ctx, d.UUID, asOf); err != nil {
			return err
		}
	}
	return nil
}

// relisted keeps what the list says about a document's file and re-checks
// a permanent failure at once when that changed: the platform may have
// fixed the file, or a person retried it there, which polling cannot see
// otherwise (the document was in the list all along). Only listed
// documents come here: a webhook's copy carries less (no updatedAt, no
// other pdf fields) and would look like a change.
func (e *Engine) relisted(ctx context.Context, d clinicsync.Document) error {
	reopened, err := e.store.Relisted(ctx, d.UUID, listingFingerprint(d), d.UpdatedAt)
	if err != nil || !reopened {
		return err
	}
	e.log.Debug("listing changed: re-checking a failed document", "item", d.UUID)
	e.itemChanged(d.UUID, clinicsync.StatePending, "")
	return nil
}

// listingFingerprint sums up what the list says about a document's file:
// its name, its link without the query (the signature and expiry in it
// change on every listing) and the pdf object's other fields.
func listingFingerprint(d clinicsync.Document) string {
	h := sha256.New()
	for _, s := range []string{d.PDF.FileName, clinicsync.LinkPath(d.PDF.URL), d.PDF.Extra} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// assignNames decides, over the whole listing, which of several documents
// that would get the same file in the same patient folder keeps the plain
// name: the first listed (the oldest). The others get the document-specific
// name at once, so concurrent workers never race for the plain name and the
// outcome does not depend on timing or crashes. dest.Save still checks the
// disk, which covers documents listed in different passes.
func (e *Engine) assignNames(docs []clinicsync.Document) {
	_, layout := e.conf()
	seen := make(map[string]bool, len(docs))
	names := make(map[string]string)
	for _, d := range docs {
		if d.UUID == "" {
			continue
		}
		name := dest.FileName(d)
		key := strings.ToLower(norm.NFC.String(filepath.Join(layout.PatientDir(d.Patient), name)))
		if seen[key] {
			names[d.UUID] = dest.DistinctName(name, d.UUID)
		}
		seen[key] = true
	}
	e.linkMu.Lock()
	e.names = names
	e.linkMu.Unlock()
}

// fileName is the name a document should be saved under.
func (e *Engine) fileName(it store.Item) string {
	e.linkMu.Lock()
	n := e.names[it.UUID]
	e.linkMu.Unlock()
	if n != "" {
		return n
	}
	return dest.FileName(it.Document())
}

// checkDestination refuses to start a pass when the root folder is not
// there, so one unplugged share does not fail every document.
func (e *Engine) checkDestination() error {
	_, layout := e.conf()
	fi, err := os.Stat(layout.Root)
	if err != nil || !fi.IsDir() {
		return clinicsync.Retryablef(clinicsync.EDestination, err, "Destination folder %s is not reachable.", layout.Root)
	}
	return nil
}

// work processes items with a bounded pool; one slow or failing document
// never holds back the others.
func (e *Engine) work(ctx context.Context, items []store.Item, res *PassResult) error {
	if len(items) == 0 {
		return nil
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		fatal    error
		ch       = make(chan store.Item)
		ctx2, cn = context.WithCancel(ctx)
	)
	defer cn()
	cfg, _ := e.conf()
	for i := 0; i < cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				var r PassResult
				err := e.process(ctx2, it, &r)
				mu.Lock()
				res.Written += r.Written
				res.AlreadyPresent += r.AlreadyPresent
				res.Confirmed += r.Confirmed
				res.Failed += r.Failed
				res.Reported += r.Reported
				if err != nil && fatal == nil {
					fatal = err
					cn()
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case ch <- it:
		case <-ctx2.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	if fatal != nil {
		return fatal
	}
	return ctx.Err()
}

// isFatal tells errors that stop the whole pass (no point trying the other
// documents) from errors of one document.
func isFatal(err error) bool {
	switch clinicsync.ErrorCode(err) {
	case clinicsync.EUnauthorized, clinicsync.ESignedOut, clinicsync.ECanceled:
		return true
	}
	return false
}

// process takes one document as far as it can go. It returns an error only
// when the whole pass must stop.
func (e *Engine) process(ctx context.Context, it store.Item, res *PassResult) error {
	// One worker per document at a time: a manual retry never races a
	// pass (or another retry) for the same document.
	if !e.claim(it.UUID) {
		return nil
	}
	defer e.unclaim(it.UUID)
	// it may be stale (a pass's list of due documents, a push racing a
	// pass): a document confirmed meanwhile is done.
	if cur, err := e.store.Get(ctx, it.UUID); err == nil {
		if cur.State == clinicsync.StateConfirmed {
			return nil
		}
		it = cur
	}
	err := e.deliver(ctx, it, res)
	var ce *confirmError
	if err != nil && !isFatal(err) && !(errors.As(err, &ce) && confirmWithin(ctx) > 0) {
		if ok, _ := clinicsync.IsRetryable(err); ok && e.Config().QuickRetryDelay > 0 {
			// One quick retry smooths over a dropped connection before the
			// document is called failed and the platform is told.
			e.quickRetries.Add(1)
			select {
			case <-time.After(e.Config().QuickRetryDelay):
			case <-ctx.Done():
				return ctx.Err()
			}
			if cur, gerr := e.store.Get(ctx, it.UUID); gerr == nil {
				it = cur
			}
			err = e.deliver(ctx, it, res)
		}
	}
	if err == nil {
		return nil
	}
	if isFatal(err) {
		// Not this document's fault: leave it to the next pass.
		if rerr := e.store.ReleaseDownloading(context.WithoutCancel(ctx), it.UUID); rerr != nil {
			e.log.Warn("release document", "item", it.UUID, "err", rerr)
		}
		return err
	}
	res.Failed++
	return e.fail(ctx, it, err, res)
}

// claim marks a document as being worked on; false if it already is.
func (e *Engine) claim(uuid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inflight[uuid] {
		return false
	}
	e.inflight[uuid] = true
	return true
}

func (e *Engine) unclaim(uuid string) {
	e.mu.Lock()
	delete(e.inflight, uuid)
	e.mu.Unlock()
}

// busy reports whether a document is being worked on now.
func (e *Engine) busy(uuid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inflight[uuid]
}

// deliver writes (unless already there) and confirms one document.
func (e *Engine) deliver(ctx context.Context, it store.Item, res *PassResult) error {
	if it.FinalPath != "" && e.fileIntact(it) {
		res.AlreadyPresent++
		return e.confirm(ctx, it, res)
	}
	url, err := e.link(ctx, it.UUID, false)
	if err != nil {
		return err
	}
	_, layout := e.conf()
	relDir := layout.PatientDir(it.Patient)
	absDir := filepath.Join(layout.Root, relDir)
	if err := e.store.MarkDownloading(ctx, it.UUID, absDir); err != nil {
		return err
	}
	failpoint.Hit(failpoint.EngineDownloading)
	e.itemChanged(it.UUID, clinicsync.StateDownloading, "")
	body, err := e.remote.OpenPDF(ctx, url)
	if clinicsync.ErrorCode(err) == clinicsync.ELinkExpired {
		// Pre-signed links live one hour: fetch the document again for a fresh one.
		e.log.Debug("link expired, fetching a fresh one", "item", it.UUID)
		if url, err = e.link(ctx, it.UUID, true); err == nil {
			body, err = e.remote.OpenPDF(ctx, url)
		}
	}
	if err != nil {
		return err
	}
	r, err := dest.Save(ctx, dest.SaveRequest{Root: layout.Root, RelDir: relDir,
		FileName: e.fileName(it), UUID: it.UUID, Body: body, Prev: it.FinalPath})
	body.Close()
	if err != nil {
		return err
	}
	failpoint.Hit(failpoint.EnginePublished)
	if err := e.store.MarkSaved(ctx, it.UUID, r.Path, r.Size, r.SHA256); err != nil {
		return err
	}
	failpoint.Hit(failpoint.EngineSaved)
	it.FinalPath, it.Size, it.SHA256 = r.Path, r.Size, r.SHA256
	if r.AlreadyPresent {
		res.AlreadyPresent++
		e.activity(ctx, store.LevelInfo, it.UUID, activity.AlreadyThere, describeFile(it), activity.Patient(it.Patient), r.Path)
	} else {
		res.Written++
		e.activity(ctx, store.LevelInfo, it.UUID, activity.Saved, describeFile(it), activity.Patient(it.Patient), r.Path)
	}
	e.itemChanged(it.UUID, clinicsync.StateSaved, r.Path)
	return e.confirm(ctx, it, res)
}

// fileIntact reports whether the recorded final file is on disk unchanged.
func (e *Engine) fileIntact(it store.Item) bool {
	sha, size, err := dest.HashFile(it.FinalPath)
	return err == nil && size == it.Size && sha == it.SHA256
}

// link returns the pre-signed PDF link for a document, fetching the
// document when none is known or fresh is asked for.
func (e *Engine) link(ctx context.Context, uuid string, fresh bool) (string, error) {
	e.linkMu.Lock()
	url := e.links[uuid]
	e.linkMu.Unlock()
	if url != "" && !fresh {
		return url, nil
	}
	d, err := e.remote.GetDocument(ctx, uuid)
	if err != nil {
		return "", err
	}
	if d.PDF.URL == "" {
		return "", clinicsync.Errorf(clinicsync.EInvalid, "The platform gave no download link for this document.")
	}
	e.linkMu.Lock()
	e.links[uuid] = d.PDF.URL
	e.linkMu.Unlock()
	return d.PDF.URL, nil
}

func (e *Engine) confirm(ctx context.Context, it store.Item, res *PassResult) error {
	cfg, _ := e.conf()
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if d := confirmWithin(ctx); d > 0 {
		cctx, cancel = context.WithTimeout(ctx, d)
	}
	err := e.remote.SetStatus(cctx, it.UUID, clinicsync.Status{Success: true,
		Directory: cfg.SoftwareID, Path: it.FinalPath})
	cancel()
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		// Our deadline, not a shutdown: the file is safe, a later pass confirms it.
		err = clinicsync.Retryable(clinicsync.EUnavailable, "The platform did not answer the confirmation in time.", err)
	}
	if err != nil {
		return &confirmError{err}
	}
	failpoint.Hit(failpoint.EngineConfirmSent)
	if err := e.store.MarkConfirmed(ctx, it.UUID); err != nil {
		return err
	}
	res.Confirmed++
	e.linkMu.Lock()
	delete(e.links, it.UUID)
	e.linkMu.Unlock()
	e.itemChanged(it.UUID, clinicsync.StateConfirmed, it.FinalPath)
	return nil
}

// confirmWithinKey carries, for a pushed document, how long its
// confirmation may take before it is left to the next pass.
type confirmWithinKey struct{}

func confirmWithin(ctx context.Context) time.Duration {
	d, _ := ctx.Value(confirmWithinKey{}).(time.Duration)
	return d
}

// confirmError marks a failure to confirm a file that is safely written:
// the document stays saved and the next pass confirms it.
type confirmError struct{ err error }

func (c *confirmError) Error() string { return c.err.Error() }
func (c *confirmError) Unwrap() error { return c.err }

// Re-checks of a permanent failure: hourly for the first day after it
// began, then daily. A proxy's or captive portal's error page is "not a
// PDF" too, and the platform may fix a file without telling us.
const (
	recheckEarly      = time.Hour
	recheckEarlyUntil = 24 * time.Hour
	recheckLate       = 24 * time.Hour
)

// recheckAt is when to re-check a permanent failure that began at since
// (zero: now).
func (e *Engine) recheckAt(since time.Time) time.Time {
	now := e.Now()
	if since.IsZero() || now.Sub(since) < recheckEarlyUntil {
		return now.Add(recheckEarly)
	}
	return now.Add(recheckLate)
}

// fail records a failed document, schedules its automatic retry when the
// failure is transient or its re-check when it is permanent, and tells the
// platform once per failure.
func (e *Engine) fail(ctx context.Context, it store.Item, err error, res *PassResult) error {
	ctx = context.WithoutCancel(ctx)
	code, reason := clinicsync.ErrorCode(err), clinicsync.ErrorText(err)
	var ce *confirmError
	if errors.As(err, &ce) {
		if ok, _ := clinicsync.IsRetryable(err); ok {
			// The file is safe on disk; only the confirmation is owed.
			e.log.Debug("confirmation deferred", "item", it.UUID, "code", code)
			return nil
		}
		reason = clinicsync.NewText(activity.ConfirmRefused, reason)
	}
	msg := reason.String()
	cur, gerr := e.store.Get(ctx, it.UUID)
	if gerr != nil {
		return gerr
	}
	retryable, after := clinicsync.IsRetryable(err)
	if !cur.Retryable && !cur.RecheckAt.IsZero() && (retryable || code == cur.ErrorCode && msg == cur.LastError) {
		// A re-check of a permanent failure that learnt nothing new (the
		// same failure, or a transient error on the way): the platform was
		// told and the log says it; only the next re-check is scheduled.
		if err := e.store.MarkFailedPermanently(ctx, it.UUID, cur.ErrorCode, cur.Reason(), e.recheckAt(cur.FailedSince)); err != nil {
			return err
		}
		e.log.Debug("re-check: no change", "item", it.UUID, "code", code)
		e.itemChanged(it.UUID, clinicsync.StateFailed, cur.LastError)
		return e.report(ctx, it.UUID, res) // only if an earlier report could not be sent
	}
	var next time.Time
	var merr error
	if retryable {
		next = e.Now().Add(e.backoff(cur.Attempts, after))
		merr = e.store.MarkFailed(ctx, it.UUID, code, reason, next)
	} else {
		merr = e.store.MarkFailedPermanently(ctx, it.UUID, code, reason, e.recheckAt(cur.FailedSince))
	}
	if merr != nil {
		return merr
	}
	e.log.Debug("document failed", "item", it.UUID, "code", code, "retry", retryable)
	if retryable {
		e.activity(ctx, store.LevelError, it.UUID, activity.FailedRetry, describeFile(cur), activity.Patient(cur.Patient),
			reason, next.Local().Format("15:04:05"))
	} else {
		e.activity(ctx, store.LevelError, it.UUID, activity.FailedRecheck, describeFile(cur), activity.Patient(cur.Patient), reason)
	}
	e.itemChanged(it.UUID, clinicsync.StateFailed, msg)
	return e.report(ctx, it.UUID, res)
}

// report sends success:false for a failure not yet reported.
func (e *Engine) report(ctx context.Context, uuid string, res *PassResult) error {
	it, err := e.store.Get(ctx, uuid)
	if err != nil {
		return err
	}
	if it.State != clinicsync.StateFailed || it.FailureReported {
		return nil
	}
	cfg, _ := e.conf()
	if err := e.remote.SetStatus(ctx, uuid, clinicsync.Status{Success: false, Error: it.LastError,
		Directory: cfg.SoftwareID}); err != nil {
		e.log.Debug("failure report deferred", "item", uuid, "code", clinicsync.ErrorCode(err))
		if isFatal(err) {
			return err
		}
		return nil // reported by a later pass
	}
	res.Reported++
	return e.store.MarkFailureReported(ctx, uuid)
}

// reportPending sends the failure reports an earlier pass could not send.
func (e *Engine) reportPending(ctx context.Context, res *PassResult) error {
	items, err := e.store.List(ctx, store.ItemFilter{States: []clinicsync.ItemState{clinicsync.StateFailed}, Limit: 1 << 30})
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.FailureReported {
			continue
		}
		if err := e.report(ctx, it.UUID, res); err != nil {
			return err
		}
	}
	return nil
}

// backoff is the delay before automatic attempt n+1: base doubling per
// attempt, capped, with ±20 % jitter, and never shorter than the server's
// Retry-After.
func (e *Engine) backoff(attempts int, after time.Duration) time.Duration {
	d := e.Config().BackoffBase
	for i := 0; i < attempts && d < e.Config().BackoffMax; i++ {
		d *= 2
	}
	d = min(d, e.Config().BackoffMax)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return max(d, after)
}

// Retry is a person's manual retry of one document. It is refused with an
// ETooSoon error (and the time left) when the previous manual retry of the
// same document was less than the window ago; otherwise the document is
// processed now with a fresh download link.
func (e *Engine) Retry(ctx context.Context, uuid string) (time.Duration, error) {
	if e.busy(uuid) {
		return 0, clinicsync.Errorf(clinicsync.EConflict, "This document is being synchronised right now.")
	}
	left, err := e.store.ClaimManualRetry(ctx, uuid, e.Config().ManualRetryWindow)
	if err != nil {
		return left, err
	}
	it, err := e.store.Get(ctx, uuid)
	if err != nil {
		return 0, err
	}
	e.activity(ctx, store.LevelInfo, uuid, activity.ManualRetry, describeFile(it), activity.Patient(it.Patient))
	if err := e.checkDestination(); err != nil {
		_ = e.store.MarkFailed(ctx, uuid, clinicsync.ErrorCode(err), clinicsync.ErrorText(err), e.Now().Add(e.Config().BackoffBase))
		e.refreshCounts(ctx)
		return 0, err
	}
	var res PassResult
	if it.FinalPath == "" || !e.fileIntact(it) {
		if _, err := e.link(ctx, uuid, true); err != nil && isFatal(err) {
			return 0, err
		}
	}
	err = e.process(ctx, it, &res)
	e.refreshCounts(ctx)
	if err != nil {
		return 0, err
	}
	if it, _ = e.store.Get(ctx, uuid); it.State != clinicsync.StateConfirmed {
		r := it.Reason()
		return 0, &clinicsync.Error{Code: it.ErrorCode, Message: it.LastError, Key: r.Key, Args: r.Args}
	}
	return 0, nil
}

// Run recovers interrupted work, then runs passes every poll interval, on
// SyncNow, and when a scheduled retry is due, until ctx ends. A failing pass
// backs off (doubling, capped at the poll interval × 8) instead of hammering.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.Recover(ctx); err != nil {
		return err
	}
	failures := 0
	for {
		e.mu.Lock()
		paused := e.snap.Paused
		e.mu.Unlock()
		cfg, _ := e.conf()
		wait := cfg.PollInterval
		// Signed out, passes go on at the poll interval: they cost no
		// request until a new sign-in appears in the keychain.
		if !paused {
			_, err := e.Pass(ctx)
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				e.PollNotes(ctx) // its problems are in the activity log; documents go on
			}
			if days := e.retention.Load(); days > 0 && e.Now().Sub(e.lastPruneAt) > 24*time.Hour {
				e.lastPruneAt = e.Now()
				if perr := e.Prune(ctx, int(days)); perr != nil {
					e.log.Warn("prune", "err", perr)
				}
			}
			if err != nil {
				failures++
				wait = min(cfg.PollInterval<<min(failures, 3), cfg.PollInterval*8)
				if ok, after := clinicsync.IsRetryable(err); ok && after > wait {
					wait = after
				}
			} else {
				failures = 0
				if nd, err := e.store.NextDue(ctx); err == nil && !nd.IsZero() {
					if d := nd.Sub(e.Now()); d < wait {
						wait = max(d, time.Second)
					}
				}
			}
		}
		next := e.Now().Add(wait)
		e.update(func(s *Snapshot) { s.NextPass = next })
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-e.wake:
			t.Stop()
		case why := <-e.resumed:
			t.Stop()
			e.log.Info("pass now", "why", why, "instead_of_waiting", wait.Round(time.Second))
		}
	}
}

// describeFile names a document in an activity line.
func describeFile(it store.Item) any { return activity.Document(it.FileName, it.DocType, it.UUID) }

// SetRetention sets how many days of activity log and webhook bodies are
// kept (0: forever); pruning runs at most once a day.
func (e *Engine) SetRetention(days int) { e.retention.Store(int64(days)) }

// Note adds a line to the activity log (for front ends and the relay:
// settings saved, signed in, ...), as a key of package activity and its
// arguments.
func (e *Engine) Note(ctx context.Context, level string, t clinicsync.Text) {
	e.note(ctx, level, "", t)
}

// Push processes one document now, from a webhook: with the metadata the
// event carried (its pdf link and patient), without listing. The event's
// action: "new_document" for an already delivered document does nothing;
// "document_synchronize" (a person asked for it again in the platform)
// re-checks the file and confirms it again, unless that was already done
// after the event arrived (a delivery processed again after a crash, when
// a pass got there first). The pdf link of an unverified event (no
// signature checked) is followed only when the API itself uses its origin
// (TrustsLink); otherwise the document is fetched from the API, so a web
// page cannot make Clinic Sync download a URL of its choice. Each platform
// call has Config.PushCallTimeout; a confirmation that takes longer is left
// to the next pass, and the answer says so. It returns what was done, in a
// few true words for the relay's record.
func (e *Engine) Push(ctx context.Context, ev clinicsync.DocumentEvent) (string, error) {
	d, action := ev.Document, ev.Action
	if d.UUID == "" {
		return "", clinicsync.Errorf(clinicsync.EInvalid, "The event named no document.")
	}
	if e.Snapshot().SignedOut {
		return "", clinicsync.Errorf(clinicsync.ESignedOut, "Signed out: the document waits for the next sign-in.")
	}
	if !ev.Verified && d.PDF.URL != "" && !e.trustsLink(d.PDF.URL) {
		e.log.Debug("unsigned event names a link the API does not use; fetching the document", "item", d.UUID)
		d = clinicsync.Document{UUID: d.UUID}
	}
	if d.PDF.URL == "" {
		// The event had no usable metadata: fetch the document.
		gctx, cancel := context.WithTimeout(ctx, e.Config().PushCallTimeout)
		full, err := e.remote.GetDocument(gctx, d.UUID)
		cancel()
		if err != nil {
			return "", err
		}
		d = full
	}
	if prev, err := e.store.Get(ctx, d.UUID); err == nil {
		switch {
		case prev.State == clinicsync.StateConfirmed && action != "document_synchronize":
			return "already delivered", nil
		case prev.State == clinicsync.StateFailed && action != "document_synchronize" && prev.NextAttemptAt.After(e.Now()):
			return "failed earlier; retried on schedule", nil
		}
	}
	if err := e.admit(ctx, d, ev.ReceivedAt); err != nil {
		return "", err
	}
	if action == "document_synchronize" {
		if err := e.store.RequeueConfirmedBefore(ctx, d.UUID, ev.ReceivedAt); err != nil {
			return "", err
		}
	}
	failpoint.Hit(failpoint.EngineAdmitted)
	if err := e.checkDestination(); err != nil {
		return "", err // recorded as pending; the next pass takes it
	}
	it, err := e.store.Get(ctx, d.UUID)
	if err != nil {
		return "", err
	}
	var res PassResult
	err = e.process(context.WithValue(ctx, confirmWithinKey{}, e.Config().PushCallTimeout), it, &res)
	e.refreshCounts(ctx)
	if err != nil {
		return "", err
	}
	it, _ = e.store.Get(ctx, d.UUID)
	switch {
	case res.Confirmed > 0 && res.Written > 0:
		return "saved and confirmed", nil
	case res.Confirmed > 0:
		return "already on disk; confirmed", nil
	case it.State == clinicsync.StateSaved:
		return "saved; confirmation deferred to the next pass (the platform did not answer in time)", nil
	case res.Failed > 0 || it.State == clinicsync.StateFailed:
		return "failed: " + it.LastError, nil
	case it.State == clinicsync.StateConfirmed:
		return "already delivered", nil
	}
	return "in progress elsewhere", nil
}

// trustsLink reports whether the remote's own answers use the link's
// origin (askara.Client.TrustsLink); a remote that cannot tell trusts none.
func (e *Engine) trustsLink(link string) bool {
	t, ok := e.remote.(interface{ TrustsLink(string) bool })
	return ok && t.TrustsLink(link)
}
