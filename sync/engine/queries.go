package engine

import (
	"context"
	"path/filepath"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
)

// Queries for the UI and the CLI. They read through the engine, which owns
// the store, and answer in the engine's own view types so that front ends
// (app, cmd) never import store.

// Activity levels, lowest first.
const (
	LevelDebug = store.LevelDebug
	LevelInfo  = store.LevelInfo
	LevelWarn  = store.LevelWarn
	LevelError = store.LevelError
)

// LogEntry is one line of the activity log.
type LogEntry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Level   string    `json:"level"`
	Item    string    `json:"item,omitempty"` // document uuid
	Message string    `json:"message"`        // in English
	// Text is the line as a key and arguments, to show it in the reader's
	// language (Render); zero for lines stored as plain text.
	Text clinicsync.Text `json:"text,omitzero"`
}

// Render is the line in a language: tr gives a key's translation (see
// clinicsync.Text.Render); a line without a Text is its message.
func (e LogEntry) Render(tr func(string) string) string { return store.Entry(e).Render(tr) }

// LogQuery selects a page of the activity log, newest first.
type LogQuery struct {
	MinLevel string // "" = all; "warn" = warnings and errors
	Item     string // only this document
	Search   string // substring of the message or document uuid
	BeforeID int64  // 0 = from the newest; else the ID of the last entry of the previous page
	Limit    int    // 0 = 100
}

// Activity pages the activity log, newest first (keyset paging: page N of
// a million rows costs what page 1 costs).
func (e *Engine) Activity(ctx context.Context, q LogQuery) ([]LogEntry, error) {
	rows, err := e.store.Activity(ctx, store.ActivityQuery{MinLevel: q.MinLevel, Item: q.Item,
		Search: q.Search, BeforeID: q.BeforeID, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]LogEntry, len(rows))
	for i, r := range rows {
		out[i] = LogEntry(r)
		out[i].Message = clinicsync.CleanText(r.Message) // lines stored before escaping existed
	}
	return out, nil
}

// DocumentView is one document as a person sees it.
type DocumentView struct {
	UUID        string               `json:"uuid"`
	Type        string               `json:"type,omitempty"`
	Patient     clinicsync.Patient   `json:"patient"`
	FileName    string               `json:"file_name,omitempty"`
	State       clinicsync.ItemState `json:"state"`
	Attempts    int                  `json:"attempts"`
	ErrorCode   string               `json:"error_code,omitempty"`
	Reason      string               `json:"reason,omitempty"`    // the last failure, in plain words (English)
	ReasonText  clinicsync.Text      `json:"-"`                   // Reason as a key and arguments, to translate it
	Retryable   bool                 `json:"retryable,omitempty"` // retried automatically
	NextAttempt time.Time            `json:"next_attempt,omitzero"`
	Path        string               `json:"path,omitempty"` // the file, once written
	Folder      string               `json:"folder,omitempty"`
	Size        int64                `json:"size,omitempty"`
	UpdatedAt   time.Time            `json:"updated_at"`
	ConfirmedAt time.Time            `json:"confirmed_at,omitzero"`
	// RetryIn is how long until a person may retry by hand (0: now).
	RetryIn time.Duration `json:"retry_in,omitempty"`
	// RecheckAt is the next automatic re-check of a permanent failure
	// (zero: none). The failure stays permanent (not Retryable): it waits
	// for a person, and is re-checked in case the platform fixed it.
	RecheckAt time.Time `json:"recheck_at,omitzero"`
}

// DocumentFilter selects documents, most recently changed first.
type DocumentFilter struct {
	States []clinicsync.ItemState // empty: all
	Search string                 // substring of patient name, file name, uuid or path
	Limit  int                    // 0: 100
	Offset int
}

func (e *Engine) view(it store.Item) DocumentView {
	v := DocumentView{UUID: it.UUID, Type: it.DocType, Patient: it.Patient, FileName: it.FileName,
		State: it.State, Attempts: it.Attempts, ErrorCode: it.ErrorCode, Reason: it.LastError,
		Retryable: it.Retryable, NextAttempt: it.NextAttemptAt, Path: it.FinalPath, Folder: it.TempDir,
		Size: it.Size, UpdatedAt: it.UpdatedAt, ConfirmedAt: it.ConfirmedAt, RecheckAt: it.RecheckAt}
	if it.FinalPath != "" {
		v.Folder = filepath.Dir(it.FinalPath)
	}
	// Shown on one line in labels, the CLI and notifications.
	v.Patient, v.FileName, v.Reason = it.Patient.Clean(), clinicsync.CleanText(v.FileName), clinicsync.CleanText(v.Reason)
	if it.LastError != "" {
		v.ReasonText = it.Reason().Clean()
	}
	if !it.ManualRetryAt.IsZero() {
		v.RetryIn = max(it.ManualRetryAt.Add(e.Config().ManualRetryWindow).Sub(e.store.Now()), 0)
	}
	return v
}

// Documents lists documents, most recently changed first.
func (e *Engine) Documents(ctx context.Context, f DocumentFilter) ([]DocumentView, error) {
	items, err := e.store.List(ctx, store.ItemFilter(f))
	if err != nil {
		return nil, err
	}
	out := make([]DocumentView, len(items))
	for i, it := range items {
		out[i] = e.view(it)
	}
	return out, nil
}

// Document returns one document.
func (e *Engine) Document(ctx context.Context, uuid string) (DocumentView, error) {
	it, err := e.store.Get(ctx, uuid)
	if err != nil {
		return DocumentView{}, err
	}
	return e.view(it), nil
}

// RetryAvailableIn is how long until a person may retry the document by
// hand again (0: now), for the Retry button's countdown.
func (e *Engine) RetryAvailableIn(ctx context.Context, uuid string) (time.Duration, error) {
	v, err := e.Document(ctx, uuid)
	return v.RetryIn, err
}

// Counts is how many documents are in each state, read from the store now
// (the snapshot's counts are those of the engine's last change): for a
// front end that runs no pass, such as `clinicsync status`.
func (e *Engine) Counts(ctx context.Context) (map[clinicsync.ItemState]int, error) {
	return e.store.Counts(ctx)
}

// lastPassOK is the cursor Pass stores the end of a good pass under.
const lastPassOK = "last_pass_ok"

// LastGoodPass is when a pass last succeeded, in RFC 3339 as Pass stored
// it ("" never), in this process or an earlier one.
func (e *Engine) LastGoodPass(ctx context.Context) (string, error) {
	return e.store.GetCursor(ctx, lastPassOK)
}
