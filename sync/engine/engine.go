// Package engine is Clinic Sync's orchestrator: one reconcile pass lists the
// platform's unsynchronized documents, downloads each into the destination
// (a clinicsync.Destination: the practice software's folder), records every
// step in the store and confirms the outcome to the platform. It runs passes on a timer and on demand, retries transient
// failures with capped backoff, enforces the 30-second manual-retry rule,
// and publishes typed events and snapshots for the UI and the CLI. It never
// imports Fyne.
package engine

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/events"
)

// Engine ties the store, the platform and the destination together.
type Engine struct {
	confMu sync.RWMutex // guards cfg and dst, which Reconfigure changes
	cfg    Config
	dst    clinicsync.Destination

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
	lastPace   [2]paceStats // the last pass's pacers: downloads, confirmations

	quickRetries atomic.Int64

	lease leaseState // one writer per shared destination (lease.go)

	// The problems (problems.go): their state, and the free-space check.
	probMu    sync.Mutex
	probs     problemState
	dataDir   string        // confMu
	freeSpace FreeSpaceFunc // confMu

	notes       notesState
	retention   atomic.Int64 // days of activity and webhook bodies kept (0: forever)
	lastPruneAt time.Time    // run loop only
}

// New builds an engine that writes to dst (for the practice software's
// folder, a dest.Layout). It publishes on bus, which cmd (or a test rig)
// made and hands to the other parts too (nil: nothing is published). log
// receives debug lines without PHI or secrets.
func New(cfg Config, st *store.Store, remote clinicsync.Remote, dst clinicsync.Destination, bus *events.Bus, log *slog.Logger) *Engine {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, store: st, remote: remote, dst: dst, bus: bus, log: log,
		Now: time.Now, wake: make(chan struct{}, 1), links: map[string]string{}}
	e.snap.Counts = map[clinicsync.ItemState]int{}
	e.inflight = map[string]bool{}
	return e
}

// Events is the bus the engine publishes on.
func (e *Engine) Events() *events.Bus { return e.bus }

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
	e.signedOutProblem(out)
	e.checkProblems(context.Background())
}

// SetRetention sets how many days of activity log and webhook bodies are
// kept (0: forever); pruning runs at most once a day.
func (e *Engine) SetRetention(days int) { e.retention.Store(int64(days)) }

// Note adds a line to the activity log (for front ends and the relay:
// settings saved, signed in, ...), as a key of package activity and its
// arguments.
func (e *Engine) Note(ctx context.Context, level string, t clinicsync.Text) {
	e.note(ctx, level, "", t)
}
