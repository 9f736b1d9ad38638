package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Item is one document as this PC knows it.
type Item struct {
	UUID            string
	Source          string
	DocType         string
	Patient         clinicsync.Patient
	FileName        string
	State           clinicsync.ItemState
	Attempts        int
	ErrorCode       string
	LastError       string          // in English
	LastErrorText   clinicsync.Text // LastError as a key and arguments; zero when unknown (see Reason)
	Retryable       bool            // the last failure will be retried automatically
	NextAttemptAt   time.Time       // zero: nothing scheduled
	FailureReported bool            // success:false was sent for the current failure
	ManualRetryAt   time.Time
	TempDir         string
	FinalPath       string
	Size            int64
	SHA256          string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	ConfirmedAt     time.Time
	// RecheckAt is the next automatic re-check of a permanent failure
	// (zero: none); FailedSince is when that permanent failure began.
	RecheckAt   time.Time
	FailedSince time.Time
}

// Reason is the last failure as a Text, to show it in the reader's
// language: its key and arguments when they were stored, else its English
// sentence as a key of its own (translated when a translation has it).
func (it Item) Reason() clinicsync.Text {
	if it.LastErrorText.Key != "" {
		return it.LastErrorText
	}
	return clinicsync.Text{Key: it.LastError}
}

// Document rebuilds the platform view of the item (without the PDF link,
// which is never stored: it is a short-lived credential).
func (it Item) Document() clinicsync.Document {
	return clinicsync.Document{UUID: it.UUID, Type: it.DocType, Patient: it.Patient,
		PDF: clinicsync.PDF{FileName: it.FileName}}
}

const itemColumns = `uuid, source, doc_type, patient_uuid, patient_external_id, patient_first_name,
	patient_last_name, patient_birth_date, file_name, state, attempts, error_code, last_error, retryable,
	next_attempt_at, failure_reported, manual_retry_at, temp_dir, final_path, size, sha256,
	created_at, updated_at, confirmed_at, recheck_at, failed_since, last_error_text`

type scanner interface{ Scan(...any) error }

func scanItem(r scanner) (Item, error) {
	var it Item
	var state string
	var retryable, reported int
	var next, manual, created, updated, confirmed, recheck, since int64
	var reason string
	err := r.Scan(&it.UUID, &it.Source, &it.DocType, &it.Patient.UUID, &it.Patient.ExternalID,
		&it.Patient.FirstName, &it.Patient.LastName, &it.Patient.DateOfBirth, &it.FileName, &state,
		&it.Attempts, &it.ErrorCode, &it.LastError, &retryable, &next, &reported, &manual, &it.TempDir,
		&it.FinalPath, &it.Size, &it.SHA256, &created, &updated, &confirmed, &recheck, &since, &reason)
	if err != nil {
		return Item{}, err
	}
	if reason != "" {
		// One that does not read back (a newer version's) leaves LastError.
		_ = json.Unmarshal([]byte(reason), &it.LastErrorText)
	}
	it.State = clinicsync.ItemState(state)
	it.Retryable = retryable != 0
	it.FailureReported = reported != 0
	it.NextAttemptAt = fromMS(next)
	it.ManualRetryAt = fromMS(manual)
	it.CreatedAt = fromMS(created)
	it.UpdatedAt = fromMS(updated)
	it.ConfirmedAt = fromMS(confirmed)
	it.RecheckAt = fromMS(recheck)
	it.FailedSince = fromMS(since)
	return it, nil
}

// Upsert records a document as listed by the platform. A new document starts
// pending; a known one gets its metadata refreshed and keeps its state.
// created reports whether the row is new.
func (s *Store) Upsert(ctx context.Context, source string, d clinicsync.Document) (it Item, created bool, err error) {
	return s.conn().upsert(ctx, source, d, nil)
}

// Upsert is Store.Upsert in the batch.
func (t *Tx) Upsert(ctx context.Context, source string, d clinicsync.Document) (it Item, created bool, err error) {
	return t.c.upsert(ctx, source, d, nil)
}

// Listing is what the platform's list says about a document's file, kept
// to notice that it changed (see Relisted).
type Listing struct {
	Fingerprint, UpdatedAt string
}

// UpsertListed is Upsert of a document as the list gave it, with Relisted:
// a new one is recorded with its listing at once, a known one is compared
// with it. The item is as it is after both.
func (t *Tx) UpsertListed(ctx context.Context, source string, d clinicsync.Document, l Listing) (it Item, created, reopened bool, err error) {
	it, created, err = t.c.upsert(ctx, source, d, &l)
	if err != nil || created {
		return it, created, false, err
	}
	if reopened, err = t.c.relisted(ctx, d.UUID, l.Fingerprint, l.UpdatedAt); err != nil || !reopened {
		return it, false, reopened, err
	}
	it, err = t.c.get(ctx, d.UUID)
	return it, false, true, err
}

func (c conn) upsert(ctx context.Context, source string, d clinicsync.Document, l *Listing) (it Item, created bool, err error) {
	if d.UUID == "" {
		return Item{}, false, clinicsync.Errorf(clinicsync.EInvalid, "A document without an id was skipped.")
	}
	now := c.s.now().UnixMilli()
	p := d.Patient
	var listed Listing
	if l != nil {
		listed = *l
	}
	res, err := c.exec(ctx, `INSERT INTO documents (uuid, source, doc_type, patient_uuid,
		patient_external_id, patient_first_name, patient_last_name, patient_birth_date, file_name,
		state, created_at, updated_at, listed_fingerprint, listed_updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT(uuid) DO NOTHING`,
		d.UUID, source, d.Type, p.UUID, p.ExternalID, p.FirstName, p.LastName, p.DateOfBirth,
		d.PDF.FileName, now, now, listed.Fingerprint, listed.UpdatedAt)
	if err != nil {
		return Item{}, false, fmt.Errorf("record document: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		// The row is what was just written: no need to read it back.
		return Item{UUID: d.UUID, Source: source, DocType: d.Type, Patient: p, FileName: d.PDF.FileName,
			State: clinicsync.StatePending, CreatedAt: fromMS(now), UpdatedAt: fromMS(now)}, true, nil
	}
	// Known: refresh what the platform may have corrected, keep the state.
	if _, err := c.exec(ctx, `UPDATE documents SET doc_type = ?, patient_uuid = ?,
		patient_external_id = ?, patient_first_name = ?, patient_last_name = ?, patient_birth_date = ?,
		file_name = ? WHERE uuid = ? AND (doc_type, patient_uuid, patient_external_id, patient_first_name,
		patient_last_name, patient_birth_date, file_name) IS NOT (?, ?, ?, ?, ?, ?, ?)`,
		d.Type, p.UUID, p.ExternalID, p.FirstName, p.LastName, p.DateOfBirth, d.PDF.FileName, d.UUID,
		d.Type, p.UUID, p.ExternalID, p.FirstName, p.LastName, p.DateOfBirth, d.PDF.FileName); err != nil {
		return Item{}, false, fmt.Errorf("update document: %w", err)
	}
	it, err = c.get(ctx, d.UUID)
	return it, false, err
}

// Get returns one item, or an ENotFound *clinicsync.Error.
func (s *Store) Get(ctx context.Context, uuid string) (Item, error) { return s.conn().get(ctx, uuid) }

// Get is Store.Get in the batch: it sees the batch's writes.
func (t *Tx) Get(ctx context.Context, uuid string) (Item, error) { return t.c.get(ctx, uuid) }

func (c conn) get(ctx context.Context, uuid string) (Item, error) {
	it, err := scanItem(c.queryRow(ctx, `SELECT `+itemColumns+` FROM documents WHERE uuid = ?`, uuid))
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, notFound(uuid)
	}
	return it, err
}

func notFound(uuid string) error {
	return &clinicsync.Error{Code: clinicsync.ENotFound,
		Message: fmt.Sprintf("No document %s is known on this computer.", uuid), Err: errNotFound}
}

// ItemFilter selects items for List.
type ItemFilter struct {
	States []clinicsync.ItemState // empty: all
	Search string                 // substring of patient name, file name, uuid or path
	Limit  int                    // 0: 100
	Offset int
}

// List returns items, most recently updated first.
func (s *Store) List(ctx context.Context, f ItemFilter) ([]Item, error) {
	var where []string
	var args []any
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			ph[i] = "?"
			args = append(args, string(st))
		}
		where = append(where, "state IN ("+strings.Join(ph, ",")+")")
	}
	if f.Search != "" {
		like := "%" + escapeLike(f.Search) + "%"
		where = append(where, `(patient_first_name LIKE ? ESCAPE '\' OR patient_last_name LIKE ? ESCAPE '\'
			OR file_name LIKE ? ESCAPE '\' OR uuid LIKE ? ESCAPE '\' OR final_path LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like, like, like)
	}
	q := `SELECT ` + itemColumns + ` FROM documents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += ` ORDER BY updated_at DESC, uuid LIMIT ? OFFSET ?`
	args = append(args, limit, f.Offset)
	return s.queryItems(ctx, q, args...)
}

func (s *Store) queryItems(ctx context.Context, q string, args ...any) ([]Item, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// Due returns the items the engine should work on now: pending ones, saved
// but unconfirmed ones, failed ones whose automatic retry time has come,
// and permanently failed ones whose re-check time has come.
func (s *Store) Due(ctx context.Context, now time.Time) ([]Item, error) {
	return s.queryItems(ctx, `SELECT `+itemColumns+` FROM documents
		WHERE state IN ('pending','saved')
		   OR (state = 'failed' AND retryable = 1 AND next_attempt_at <= ?)
		   OR (state = 'failed' AND retryable = 0 AND recheck_at <> 0 AND recheck_at <= ?)
		ORDER BY created_at, uuid`, now.UnixMilli(), now.UnixMilli())
}

// Due reports whether the engine should work on it now, by the rule of
// Store.Due: for a document the engine has in hand and need not read
// again.
func (it Item) Due(now time.Time) bool {
	switch it.State {
	case clinicsync.StatePending, clinicsync.StateSaved:
		return true
	case clinicsync.StateFailed:
		if it.Retryable {
			return !it.NextAttemptAt.After(now)
		}
		return !it.RecheckAt.IsZero() && !it.RecheckAt.After(now)
	}
	return false
}

// NextDue returns the earliest scheduled automatic retry or re-check, zero
// if none.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MIN(CASE WHEN retryable = 1 THEN next_attempt_at
		ELSE NULLIF(recheck_at, 0) END) FROM documents WHERE state = 'failed'`).Scan(&v)
	return fromMS(v.Int64), err
}

// Counts returns the number of items per state (every state present).
func (s *Store) Counts(ctx context.Context) (map[clinicsync.ItemState]int, error) {
	out := make(map[clinicsync.ItemState]int, len(clinicsync.States))
	for _, st := range clinicsync.States {
		out[st] = 0
	}
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM documents GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[clinicsync.ItemState(st)] = n
	}
	return out, rows.Err()
}

func (c conn) exec1(ctx context.Context, uuid, q string, args ...any) error {
	res, err := c.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		_, err := c.get(ctx, uuid)
		if err != nil {
			return err
		}
		return clinicsync.Errorf(clinicsync.EConflict, "Document %s is not in a state that allows this.", uuid)
	}
	return nil
}

// MarkDownloading records that a temp file may now exist in dir.
func (s *Store) MarkDownloading(ctx context.Context, uuid, dir string) error {
	return s.conn().exec1(ctx, uuid, `UPDATE documents SET state = 'downloading', temp_dir = ?, updated_at = ?
		WHERE uuid = ?`, dir, s.now().UnixMilli(), uuid)
}

// MarkSaved records the final file.
func (s *Store) MarkSaved(ctx context.Context, uuid, path string, size int64, sha string) error {
	return s.conn().markSaved(ctx, uuid, path, size, sha)
}

// MarkSaved is Store.MarkSaved in the batch.
func (t *Tx) MarkSaved(ctx context.Context, uuid, path string, size int64, sha string) error {
	return t.c.markSaved(ctx, uuid, path, size, sha)
}

func (c conn) markSaved(ctx context.Context, uuid, path string, size int64, sha string) error {
	return c.exec1(ctx, uuid, `UPDATE documents SET state = 'saved', temp_dir = '', final_path = ?,
		size = ?, sha256 = ?, updated_at = ? WHERE uuid = ?`, path, size, sha, c.s.now().UnixMilli(), uuid)
}

// MarkConfirmed records that the platform accepted success:true. The error
// fields are cleared: a confirmed document has no open failure.
func (s *Store) MarkConfirmed(ctx context.Context, uuid string) error {
	now := s.now().UnixMilli()
	return s.conn().exec1(ctx, uuid, `UPDATE documents SET state = 'confirmed', error_code = '', last_error = '', last_error_text = '',
		retryable = 0, next_attempt_at = 0, failure_reported = 0, recheck_at = 0, failed_since = 0,
		updated_at = ?, confirmed_at = ? WHERE uuid = ? AND final_path <> ''`, now, now, uuid)
}

// MarkFailed records a failed attempt. next is when to try again
// automatically; zero leaves the item for a person, with no re-check
// (MarkFailedPermanently schedules one). The failure_reported flag is kept
// when the reason is unchanged, so the platform is told once per failure,
// not once per retry. The reason is kept as its English sentence and as
// its key and arguments (clinicsync.ErrorText), to show it in the
// reader's language.
func (s *Store) MarkFailed(ctx context.Context, uuid, code string, reason clinicsync.Text, next time.Time) error {
	return s.markFailed(ctx, uuid, code, reason, next, time.Time{})
}

// MarkFailedPermanently records a failed attempt that no automatic retry
// can fix: it waits for a person, and is re-checked at recheck. When the
// permanent failure began is kept across re-checks (the schedule slows
// down after a day); the failure_reported flag as in MarkFailed.
func (s *Store) MarkFailedPermanently(ctx context.Context, uuid, code string, reason clinicsync.Text, recheck time.Time) error {
	return s.markFailed(ctx, uuid, code, reason, time.Time{}, recheck)
}

func (s *Store) markFailed(ctx context.Context, uuid, code string, reason clinicsync.Text, next, recheck time.Time) error {
	retry := 0
	if !next.IsZero() {
		retry = 1
	}
	message, text := reason.String(), ""
	if len(reason.Args) > 0 {
		b, err := json.Marshal(reason)
		if err != nil {
			return fmt.Errorf("failure reason: %w", err)
		}
		text = string(b)
	}
	now := s.now().UnixMilli()
	return s.conn().exec1(ctx, uuid, `UPDATE documents SET state = 'failed', attempts = attempts + 1,
		failure_reported = CASE WHEN error_code = ? AND last_error = ? THEN failure_reported ELSE 0 END,
		error_code = ?, last_error = ?, last_error_text = ?, retryable = ?, next_attempt_at = ?, recheck_at = ?,
		failed_since = CASE WHEN ? = 0 OR failed_since <> 0 THEN failed_since ELSE ? END,
		temp_dir = '', updated_at = ? WHERE uuid = ?`,
		code, message, code, message, text, retry, ms(next), ms(recheck), ms(recheck), now, now, uuid)
}

// MarkFailureReported records that success:false was sent for the current
// failure. The platform may record the report on the document and move
// its updatedAt: the next listing's updatedAt is taken as it comes
// (Relisted), so the echo of a report is never taken for a change.
func (s *Store) MarkFailureReported(ctx context.Context, uuid string) error {
	return s.conn().exec1(ctx, uuid, `UPDATE documents SET failure_reported = 1, listed_updated_at = '' WHERE uuid = ?`, uuid)
}

// Relisted keeps what the platform's list says about a document: fp, a
// fingerprint of its file name, link (without the query) and pdf fields,
// and updatedAt as sent. When the document failed permanently and either
// changed since the last listing (a value not known yet does not count),
// the failure is reopened: the document is pending again, due now, and
// its outcome will be reported even if it is the same failure (a person
// fixed or retried it in the platform and expects an answer). reopened
// says whether that happened.
func (s *Store) Relisted(ctx context.Context, uuid, fp, updatedAt string) (reopened bool, err error) {
	// Most listings change nothing: a read, without taking the write lock.
	var same bool
	if s.conn().queryRow(ctx, relistedSame, fp, updatedAt, uuid).Scan(&same) == nil && same {
		return false, nil
	}
	err = s.Batch(ctx, func(tx *Tx) error {
		reopened, err = tx.c.relisted(ctx, uuid, fp, updatedAt)
		return err
	})
	return reopened, err
}

// Relisted is Store.Relisted in the batch.
func (t *Tx) Relisted(ctx context.Context, uuid, fp, updatedAt string) (reopened bool, err error) {
	return t.c.relisted(ctx, uuid, fp, updatedAt)
}

const relistedSame = `SELECT listed_fingerprint = ? AND listed_updated_at = ? FROM documents WHERE uuid = ?`

func (c conn) relisted(ctx context.Context, uuid, fp, updatedAt string) (reopened bool, err error) {
	var state, oldFP, oldUpdated string
	var retryable int
	err = c.queryRow(ctx, `SELECT state, retryable, listed_fingerprint, listed_updated_at
		FROM documents WHERE uuid = ?`, uuid).Scan(&state, &retryable, &oldFP, &oldUpdated)
	if errors.Is(err, sql.ErrNoRows) {
		return false, notFound(uuid)
	}
	if err != nil {
		return false, err
	}
	if oldFP == fp && oldUpdated == updatedAt {
		return false, nil
	}
	reopened = state == string(clinicsync.StateFailed) && retryable == 0 &&
		((oldFP != "" && oldFP != fp) || (oldUpdated != "" && oldUpdated != updatedAt))
	if reopened {
		_, err = c.exec(ctx, `UPDATE documents SET listed_fingerprint = ?, listed_updated_at = ?, state = 'pending',
			failure_reported = 0, next_attempt_at = 0, recheck_at = 0, failed_since = 0, updated_at = ?
			WHERE uuid = ?`, fp, updatedAt, c.s.now().UnixMilli(), uuid)
	} else {
		_, err = c.exec(ctx, `UPDATE documents SET listed_fingerprint = ?, listed_updated_at = ? WHERE uuid = ?`,
			fp, updatedAt, uuid)
	}
	return reopened, err
}

// Requeue puts a confirmed or failed document back to work (re-listed by
// the platform, or retried by a person). Saved and in-flight items keep
// their state. A failure requeued is reopened: its outcome is reported
// even if it is the same (the person who asked expects an answer).
func (s *Store) Requeue(ctx context.Context, uuid string) error {
	return s.RequeueConfirmedBefore(ctx, uuid, time.Time{})
}

// RequeueConfirmedBefore is Requeue, except that a document confirmed at or
// after t keeps its state (zero t: any time): a platform's "synchronize"
// event asks for a confirmation after the event, and a pass may already
// have given one (the event's delivery processed again after a crash).
func (s *Store) RequeueConfirmedBefore(ctx context.Context, uuid string, t time.Time) error {
	return s.conn().requeueConfirmedBefore(ctx, uuid, t)
}

// RequeueConfirmedBefore is Store.RequeueConfirmedBefore in the batch.
func (t *Tx) RequeueConfirmedBefore(ctx context.Context, uuid string, before time.Time) error {
	return t.c.requeueConfirmedBefore(ctx, uuid, before)
}

func (c conn) requeueConfirmedBefore(ctx context.Context, uuid string, t time.Time) error {
	before := int64(math.MaxInt64)
	if !t.IsZero() {
		before = t.UnixMilli()
	}
	return c.exec1(ctx, uuid, `UPDATE documents SET
		state = CASE WHEN state = 'failed' OR (state = 'confirmed' AND confirmed_at < ?) THEN 'pending' ELSE state END,
		failure_reported = CASE WHEN state = 'failed' THEN 0 ELSE failure_reported END,
		next_attempt_at = 0, recheck_at = 0, failed_since = 0, updated_at = ? WHERE uuid = ?`, before, c.s.now().UnixMilli(), uuid)
}

// ClaimManualRetry enforces the platform's rule of at most one manual retry
// per document per window. It records the retry and requeues the item in
// one transaction, so two processes cannot both pass. When it is too soon it
// returns an ETooSoon *clinicsync.Error and the time left.
func (s *Store) ClaimManualRetry(ctx context.Context, uuid string, window time.Duration) (time.Duration, error) {
	tx, err := s.begin(s.db, ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	now := s.now()
	var last int64
	var state string
	err = tx.QueryRowContext(ctx, `SELECT manual_retry_at, state FROM documents WHERE uuid = ?`, uuid).Scan(&last, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound(uuid)
	}
	if err != nil {
		return 0, err
	}
	if last != 0 {
		if left := fromMS(last).Add(window).Sub(now); left > 0 {
			secs := int((left + time.Second - 1) / time.Second)
			return left, &clinicsync.Error{Code: clinicsync.ETooSoon,
				Message: fmt.Sprintf("This document was retried less than %d seconds ago; try again in %d s.",
					int(window/time.Second), secs)}
		}
	}
	if state == string(clinicsync.StateDownloading) {
		return 0, clinicsync.Errorf(clinicsync.EConflict, "This document is being downloaded right now.")
	}
	if _, err := tx.ExecContext(ctx, `UPDATE documents SET manual_retry_at = ?, next_attempt_at = 0,
		recheck_at = 0, failed_since = 0, failure_reported = 0, state = CASE WHEN state IN ('confirmed','failed') THEN 'pending' ELSE state END,
		updated_at = ? WHERE uuid = ?`, now.UnixMilli(), now.UnixMilli(), uuid); err != nil {
		return 0, err
	}
	return 0, tx.Commit()
}

// Interrupted returns items a crash left in 'downloading' and puts them
// back to pending. The caller removes their temp files from TempDir.
func (s *Store) Interrupted(ctx context.Context) ([]Item, error) {
	items, err := s.queryItems(ctx, `SELECT `+itemColumns+` FROM documents WHERE state = 'downloading'`)
	if err != nil || len(items) == 0 {
		return items, err
	}
	_, err = s.write(ctx, `UPDATE documents SET state = 'pending', updated_at = ?
		WHERE state = 'downloading'`, s.now().UnixMilli())
	return items, err
}

// ReleaseDownloading puts a document whose download was abandoned (the
// pass was cancelled or stopped) back to pending.
func (s *Store) ReleaseDownloading(ctx context.Context, uuid string) error {
	_, err := s.write(ctx, `UPDATE documents SET state = 'pending', temp_dir = '', updated_at = ?
		WHERE uuid = ? AND state = 'downloading'`, s.now().UnixMilli(), uuid)
	return err
}

// ClearTempDir forgets the temp folder once its temp files are gone.
func (s *Store) ClearTempDir(ctx context.Context, uuid string) error {
	_, err := s.write(ctx, `UPDATE documents SET temp_dir = '' WHERE uuid = ?`, uuid)
	return err
}

// FailedCodes counts the failed documents per error code.
func (s *Store) FailedCodes(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT error_code, COUNT(*) FROM documents WHERE state = 'failed' GROUP BY error_code`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var code string
		var n int
		if err := rows.Scan(&code, &n); err != nil {
			return nil, err
		}
		out[code] = n
	}
	return out, rows.Err()
}
