package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/notes"
	"github.com/clinicsync/clinicsync/sync/platforms"
)

// Clinical notes: each note becomes a text file in its patient's folder
// (the documents' template and sanitising), or in the Inbox folder under
// the root when the platform sends no patient (Nabla, SOAPNoteAPI). Notes
// come from Askara's notes list (polled with a cursor) and from webhooks.

// NoteLister lists Askara notes created at or after a time, oldest first
// (cmd adapts *askara.Client).
type NoteLister interface {
	ListNotes(ctx context.Context, after time.Time) ([]notes.Note, error)
}

// notesState is the notes side of the engine.
type notesState struct {
	mu      sync.Mutex
	lister  NoteLister
	enabled bool
	lastErr string // last polling error logged (said once)
}

// noteOverlap is how far before the cursor each poll starts again: notes
// sharing a timestamp (or arriving late with an earlier one) are not
// missed; those already saved are recognised by their id.
const noteOverlap = 2 * time.Minute

// firstNotesWindow is how far back the first poll looks.
const firstNotesWindow = 7 * 24 * time.Hour

const notesCursor = "notes.askara.created_after"

// SetNotes turns the notes pipeline on or off and gives it Askara's notes list.
func (e *Engine) SetNotes(l NoteLister, enabled bool) {
	e.notes.mu.Lock()
	defer e.notes.mu.Unlock()
	e.notes.lister, e.notes.enabled = l, enabled
}

// NotesEnabled reports whether notes are synchronised.
func (e *Engine) NotesEnabled() bool {
	e.notes.mu.Lock()
	defer e.notes.mu.Unlock()
	return e.notes.enabled
}

// noteKey is a short stable identifier for a note's temp file and
// distinct name.
func noteKey(n notes.Note) string {
	sum := sha256.Sum256([]byte(n.Source + ":" + n.ID))
	return hex.EncodeToString(sum[:8])
}

// SaveNote writes one note (or records a failed one). A note already saved
// is left alone unless it was updated since (updatedAt newer): then its
// file is replaced and the log says so. It returns what was done.
func (e *Engine) SaveNote(ctx context.Context, n notes.Note) (string, error) {
	if n.ID == "" {
		return "", clinicsync.Errorf(clinicsync.EInvalid, "The note has no identifier.")
	}
	prev, seen, err := e.store.NoteGet(ctx, n.Source, n.ID)
	if err != nil {
		return "", err
	}
	who := activity.NotePatient(n.Patient)
	row := store.NoteRow{Source: n.Source, ID: n.ID, CorrelationID: n.CorrelationID, Kind: string(n.Kind), Type: n.Type,
		Inbox: n.Patient == nil, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
	if n.Patient != nil {
		row.PatientName = n.Patient.DisplayName()
	}
	if n.Kind == "failed" {
		if seen {
			return "already recorded", nil
		}
		row.State, row.Error = "failed", n.Error
		if err := e.store.NotePut(ctx, row); err != nil {
			return "", err
		}
		e.activity(ctx, store.LevelWarn, "", activity.NoteNotProduced, platforms.DisplayName(n.Source), n.ID, n.Error)
		return "failure recorded", nil
	}
	updated := seen && prev.State == "saved" && n.UpdatedAt.After(prev.UpdatedAt)
	if err := e.mayWrite(ctx); err != nil {
		return "", err // another PC writes: the note is left to it
	}
	_, dst := e.conf()
	if seen && prev.State == "saved" && !updated {
		if dst.Intact(prev.Path, prev.Size, "") { // the size only
			return "already saved", nil
		}
	}
	r, err := dst.SaveNote(ctx, clinicsync.NoteFile{Patient: n.Patient, Name: notes.FileName(n), Key: noteKey(n),
		Body: notes.Render(n), Prev: prev.Path})
	if err != nil {
		row.State, row.Error, row.Path = "failed", clinicsync.ErrorMessage(err), prev.Path
		if perr := e.store.NotePut(ctx, row); perr != nil {
			return "", perr
		}
		e.activity(ctx, store.LevelError, "", activity.NoteNotSaved, n.ID, who, err)
		return "", err
	}
	row.State, row.Path, row.SHA256, row.Size, row.WrittenAt = "saved", r.Path, r.SHA256, r.Size, e.Now()
	if err := e.store.NotePut(ctx, row); err != nil {
		return "", err
	}
	switch {
	case updated:
		e.activity(ctx, store.LevelInfo, "", activity.NoteUpdated, filepath.Base(r.Path), who, r.Path, platforms.DisplayName(n.Source))
		return "updated", nil
	case r.AlreadyPresent:
		return "already on disk", nil
	}
	e.activity(ctx, store.LevelInfo, "", activity.NoteSaved, filepath.Base(r.Path), who, r.Path)
	return "saved", nil
}

// PollNotes lists Askara's notes since the cursor (less an overlap) and
// saves those not yet saved or updated since. It moves the cursor to the
// newest createdAt seen.
func (e *Engine) PollNotes(ctx context.Context) (saved int, err error) {
	e.notes.mu.Lock()
	l, on := e.notes.lister, e.notes.enabled
	e.notes.mu.Unlock()
	if !on || l == nil {
		return 0, nil
	}
	after := e.Now().Add(-firstNotesWindow)
	if v, _ := e.store.GetCursor(ctx, notesCursor); v != "" {
		if t, perr := time.Parse(time.RFC3339Nano, v); perr == nil {
			after = t.Add(-noteOverlap)
		}
	}
	list, err := l.ListNotes(ctx, after)
	if err != nil && len(list) == 0 {
		e.noteError(ctx, err)
		return 0, err
	}
	// A list cut short (more notes than one call reads) still comes with
	// its oldest notes: save them, move the cursor, the next poll goes on.
	e.noteError(ctx, nil)
	newest := time.Time{}
	for _, n := range list {
		out, err := e.SaveNote(ctx, n)
		if err != nil {
			if c := clinicsync.ErrorCode(err); clinicsync.IsFatal(err) || c == clinicsync.EDestination || c == clinicsync.EStandby {
				return saved, err // the cursor stays: the next poll tries again
			}
			continue
		}
		if out == "saved" || out == "updated" {
			saved++
		}
		if n.CreatedAt.After(newest) {
			newest = n.CreatedAt
		}
	}
	if !newest.IsZero() {
		if err := e.store.SetCursor(ctx, notesCursor, newest.UTC().Format(time.RFC3339Nano)); err != nil {
			return saved, err
		}
	}
	return saved, err
}

// noteError writes a polling problem to the activity log once, not at
// every poll (a missing read:notes scope would otherwise fill it).
func (e *Engine) noteError(ctx context.Context, err error) {
	msg := ""
	if err != nil {
		msg = clinicsync.ErrorMessage(err)
	}
	e.notes.mu.Lock()
	same := msg == e.notes.lastErr
	e.notes.lastErr = msg
	e.notes.mu.Unlock()
	if same || msg == "" {
		return
	}
	e.activity(ctx, store.LevelError, "", activity.NotesFailed, err)
}

// NoteView is one note as the window lists it.
type NoteView struct {
	Source        string    `json:"source"`
	ID            string    `json:"id"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	Type          string    `json:"type,omitempty"`
	Patient       string    `json:"patient,omitempty"`
	Inbox         bool      `json:"inbox"`
	CreatedAt     time.Time `json:"created_at,omitzero"`
	Path          string    `json:"path,omitempty"`
	State         string    `json:"state"`
	Error         string    `json:"error,omitempty"`
}

// Notes lists saved and failed notes, most recent first.
func (e *Engine) Notes(ctx context.Context, inboxOnly bool, limit int) ([]NoteView, error) {
	rows, err := e.store.Notes(ctx, store.NoteFilter{InboxOnly: inboxOnly, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]NoteView, len(rows))
	for i, r := range rows {
		out[i] = NoteView{Source: r.Source, ID: r.ID, CorrelationID: r.CorrelationID, Type: r.Type, Patient: r.PatientName,
			Inbox: r.Inbox, CreatedAt: r.CreatedAt, Path: r.Path, State: r.State, Error: r.Error}
	}
	return out, nil
}

// Prune removes activity lines and processed webhook bodies older than the
// retention period; document and note states are kept.
func (e *Engine) Prune(ctx context.Context, days int) error {
	if days <= 0 {
		return nil
	}
	a, d, err := e.store.Prune(ctx, e.Now().Add(-time.Duration(days)*24*time.Hour))
	if err != nil {
		return err
	}
	if a+d > 0 {
		e.log.Debug("pruned", "activity", a, "deliveries", d)
	}
	return nil
}

// EnableNotes switches the notes pipeline on or off (Settings), keeping its lister.
func (e *Engine) EnableNotes(on bool) {
	e.notes.mu.Lock()
	defer e.notes.mu.Unlock()
	e.notes.enabled = on
}

// SaveEventFile writes an event's JSON, as received, to the destination
// (the folder: Inbox/<Platform> below the root), named from the date (the
// clinic PC's, as a note's), the event and a short id.
func (e *Engine) SaveEventFile(ctx context.Context, platform, event, id string, body []byte) (string, error) {
	if err := e.mayWrite(ctx); err != nil {
		return "", err
	}
	_, dst := e.conf()
	sum := sha256.Sum256(append([]byte(platform+":"+id+":"), body...))
	key := hex.EncodeToString(sum[:8])
	name := fmt.Sprintf("%s_%s_%s.json", e.Now().Local().Format("2006-01-02"), event, key[:8])
	return dst.SaveEvent(ctx, clinicsync.EventFile{Platform: platforms.DisplayName(platform), Name: name, Key: key, Body: body})
}
