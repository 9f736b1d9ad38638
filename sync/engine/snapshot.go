package engine

import (
	"context"
	"reflect"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/events"
)

// Status is the engine's overall state, as the tray shows it.
type Status string

const (
	StatusIdle      Status = "idle"
	StatusSyncing   Status = "syncing"
	StatusAttention Status = "attention" // a document failed, the last pass failed, or a problem is open
	StatusPaused    Status = "paused"
	StatusSignedOut Status = "signed_out"
	// StatusStandby: another PC holds the shared destination's lease and
	// writes; this one stands by (Snapshot.StandbyFor names it).
	StatusStandby Status = "standby"
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
	// StandbyFor names the PC that writes to the shared destination while
	// this one stands by ("" while this one writes).
	StandbyFor string `json:"standby_for,omitempty"`
	// LeaseProblem says why the destination cannot keep the writer's
	// lease ("" when it can); this PC writes anyway.
	LeaseProblem     string          `json:"lease_problem,omitempty"`
	LeaseProblemText clinicsync.Text `json:"-"`
	// Problems are the open problems (conditions that stop documents),
	// the banner's lines; f replaces the slice, never changes it.
	Problems []Problem `json:"problems"`
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
	case e.snap.StandbyFor != "":
		return StatusStandby
	case e.snap.Syncing:
		return StatusSyncing
	case e.snap.Counts[clinicsync.StateFailed] > 0 || e.snap.LastPassError != "" || e.snap.LeaseProblem != "" || len(e.snap.Problems) > 0:
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
	e.published(line{level, item, t})
}

// line is an activity line written in a batch with the step it tells of
// (store.Batch), and published once the batch is committed.
type line struct {
	level, item string
	text        clinicsync.Text
}

func newLine(level, item, key string, args ...any) line {
	return line{level, item, clinicsync.NewText(key, args...).Clean()}
}

// write adds the line to tx's batch.
func (l line) write(ctx context.Context, tx *store.Tx) error {
	_, err := tx.LogText(ctx, l.level, l.item, l.text)
	return err
}

// published tells the bus's readers of a line the log holds.
func (e *Engine) published(l line) {
	e.bus.Publish(events.Event{Type: events.Activity, Item: l.item, Level: l.level,
		Message: clinicsync.CleanText(l.text.String()), Text: l.text})
}

func (e *Engine) itemChanged(uuid string, st clinicsync.ItemState, msg string) {
	e.bus.Publish(events.Event{Type: events.ItemChanged, Item: uuid, State: st, Message: msg})
}

// describeFile names a document in an activity line.
func describeFile(it store.Item) any { return activity.Document(it.FileName, it.DocType, it.UUID) }
