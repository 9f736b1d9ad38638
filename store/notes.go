package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// NoteRow is one clinical note written (or not) to the destination.
type NoteRow struct {
	Source        string
	ID            string
	CorrelationID string
	Kind          string
	Type          string
	PatientName   string
	Inbox         bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Path          string
	SHA256        string
	Size          int64
	State         string // saved, failed
	Error         string
	FirstSeen     time.Time
	WrittenAt     time.Time
}

const noteColumns = `source, id, correlation_id, kind, note_type, patient_name, inbox, created_at, updated_at,
	path, sha256, size, state, error, first_seen, written_at`

func scanNote(sc interface{ Scan(...any) error }) (NoteRow, error) {
	var n NoteRow
	var inbox int
	var created, updated, first, written int64
	err := sc.Scan(&n.Source, &n.ID, &n.CorrelationID, &n.Kind, &n.Type, &n.PatientName, &inbox, &created, &updated,
		&n.Path, &n.SHA256, &n.Size, &n.State, &n.Error, &first, &written)
	n.Inbox = inbox != 0
	n.CreatedAt, n.UpdatedAt, n.FirstSeen, n.WrittenAt = fromMS(created), fromMS(updated), fromMS(first), fromMS(written)
	return n, err
}

// NoteGet returns a note's row; ok is false when it was never seen.
func (s *Store) NoteGet(ctx context.Context, source, id string) (NoteRow, bool, error) {
	n, err := scanNote(s.db.QueryRowContext(ctx, `SELECT `+noteColumns+` FROM notes WHERE source = ? AND id = ?`, source, id))
	if errors.Is(err, sql.ErrNoRows) {
		return NoteRow{}, false, nil
	}
	return n, err == nil, err
}

// NotePut records a note's outcome (insert or update).
func (s *Store) NotePut(ctx context.Context, n NoteRow) error {
	now := s.now().UnixMilli()
	inbox := 0
	if n.Inbox {
		inbox = 1
	}
	_, err := s.write(ctx, `INSERT INTO notes(`+noteColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(source, id) DO UPDATE SET correlation_id = excluded.correlation_id, kind = excluded.kind,
		note_type = excluded.note_type, patient_name = excluded.patient_name, inbox = excluded.inbox,
		created_at = excluded.created_at, updated_at = excluded.updated_at, path = excluded.path,
		sha256 = excluded.sha256, size = excluded.size, state = excluded.state, error = excluded.error,
		written_at = excluded.written_at`,
		n.Source, n.ID, n.CorrelationID, n.Kind, n.Type, n.PatientName, inbox, ms(n.CreatedAt), ms(n.UpdatedAt),
		n.Path, n.SHA256, n.Size, n.State, n.Error, now, ms(n.WrittenAt))
	return err
}

// NoteFilter selects notes for the window.
type NoteFilter struct {
	InboxOnly bool
	Limit     int // 0: 200
	Offset    int
}

// Notes lists notes, most recently written first.
func (s *Store) Notes(ctx context.Context, f NoteFilter) ([]NoteRow, error) {
	if f.Limit <= 0 {
		f.Limit = 200
	}
	q := `SELECT ` + noteColumns + ` FROM notes`
	if f.InboxOnly {
		q += ` WHERE inbox = 1`
	}
	q += ` ORDER BY written_at DESC, first_seen DESC LIMIT ? OFFSET ?`
	rows, err := s.db.QueryContext(ctx, q, f.Limit, f.Offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []NoteRow
	for rows.Next() {
		n, err := scanNote(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Prune deletes activity lines and processed webhook bodies older than
// before (deferred deliveries waiting for a pipeline, and every item's
// state, are kept). It returns how many activity lines and deliveries went.
func (s *Store) Prune(ctx context.Context, before time.Time) (activity, deliveries int64, err error) {
	cut := before.UnixMilli()
	res, err := s.write(ctx, `DELETE FROM activity WHERE at < ?`, cut)
	if err != nil {
		return 0, 0, err
	}
	activity, _ = res.RowsAffected()
	res, err = s.write(ctx, `DELETE FROM webhook_inbox WHERE received_at < ? AND state <> ?`, cut, InboxReceived)
	if err != nil {
		return activity, 0, err
	}
	deliveries, _ = res.RowsAffected()
	s.write(ctx, `DELETE FROM webhook_events WHERE first_seen < ?`, cut)
	return activity, deliveries, nil
}
