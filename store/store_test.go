package store

import (
	"context"
	"errors"
	"fmt"
	"github.com/clinicsync/clinicsync/sync/clocktest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

func openTest(t *testing.T) (*Store, *clocktest.Clock) {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s.Now = c.Now
	return s, c
}

func doc(uuid string) clinicsync.Document {
	return clinicsync.Document{UUID: uuid, Type: "referral_letter",
		Patient: clinicsync.Patient{UUID: "p-" + uuid, FirstName: "John", LastName: "Doe"},
		PDF:     clinicsync.PDF{URL: "https://files.example/x?signature=secret", FileName: "referral_letter.pdf"}}
}

func TestOpenIsWALAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	for i := 0; i < 2; i++ {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var mode string
		if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" {
			t.Fatalf("journal_mode = %q, want wal", mode)
		}
		var n int
		if err := s.DB().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		ms, _ := migrations()
		if n != len(ms) {
			t.Fatalf("open %d: %d migrations recorded, want %d", i, n, len(ms))
		}
		if v, _ := s.SchemaVersion(context.Background()); v != len(ms) {
			t.Fatalf("schema version %d", v)
		}
		s.Close()
	}
}

func TestDocumentLifecycle(t *testing.T) {
	ctx := context.Background()
	s, c := openTest(t)
	it, created, err := s.Upsert(ctx, "askara", doc("a"))
	if err != nil || !created || it.State != clinicsync.StatePending {
		t.Fatalf("upsert: %+v created=%v err=%v", it, created, err)
	}
	// The pre-signed link is a credential: it must not be stored.
	var n int
	s.DB().QueryRow(`SELECT COUNT(*) FROM documents
		WHERE uuid||source||doc_type||file_name||final_path||temp_dir LIKE '%signature%'`).Scan(&n)
	if n != 0 {
		t.Fatal("the pre-signed URL reached the database")
	}
	if err := s.MarkDownloading(ctx, "a", "/tmp/x"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkConfirmed(ctx, "a"); err == nil {
		t.Fatal("confirming a document with no file must be refused")
	}
	if err := s.MarkSaved(ctx, "a", "/root/DOE_JOHN/referral_letter.pdf", 42, "abc"); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if err := s.MarkConfirmed(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	it, _ = s.Get(ctx, "a")
	if it.State != clinicsync.StateConfirmed || it.Size != 42 || it.SHA256 != "abc" || it.ConfirmedAt.IsZero() || it.TempDir != "" {
		t.Fatalf("after confirm: %+v", it)
	}
	// Re-listing keeps the state but refreshes metadata.
	d := doc("a")
	d.Patient.FirstName = "Jon"
	it, created, err = s.Upsert(ctx, "askara", d)
	if err != nil || created || it.State != clinicsync.StateConfirmed || it.Patient.FirstName != "Jon" {
		t.Fatalf("re-upsert: %+v created=%v err=%v", it, created, err)
	}
	if _, err := s.Get(ctx, "missing"); clinicsync.ErrorCode(err) != clinicsync.ENotFound {
		t.Fatalf("get missing: %v", err)
	}
}

func TestFailureReportedOncePerReason(t *testing.T) {
	ctx := context.Background()
	s, c := openTest(t)
	s.Upsert(ctx, "askara", doc("a"))
	next := c.Now().Add(time.Minute)
	if err := s.MarkFailed(ctx, "a", clinicsync.EUnavailable, clinicsync.NewText("The server is unreachable."), next); err != nil {
		t.Fatal(err)
	}
	s.MarkFailureReported(ctx, "a")
	s.MarkFailed(ctx, "a", clinicsync.EUnavailable, clinicsync.NewText("The server is unreachable."), next)
	it, _ := s.Get(ctx, "a")
	if !it.FailureReported || it.Attempts != 2 || !it.Retryable {
		t.Fatalf("same reason must keep the reported flag: %+v", it)
	}
	s.MarkFailed(ctx, "a", clinicsync.ENotPDF, clinicsync.NewText("The file is not a PDF."), time.Time{})
	it, _ = s.Get(ctx, "a")
	if it.FailureReported || it.Retryable || !it.NextAttemptAt.IsZero() {
		t.Fatalf("a new reason is a new failure: %+v", it)
	}
}

func TestDue(t *testing.T) {
	ctx := context.Background()
	s, c := openTest(t)
	for _, u := range []string{"pending", "saved", "soon", "later", "permanent", "done"} {
		s.Upsert(ctx, "askara", doc(u))
	}
	s.MarkSaved(ctx, "saved", "/p", 1, "x")
	s.MarkFailed(ctx, "soon", clinicsync.EUnavailable, clinicsync.NewText("x"), c.Now().Add(time.Second))
	s.MarkFailed(ctx, "later", clinicsync.EUnavailable, clinicsync.NewText("x"), c.Now().Add(time.Hour))
	s.MarkFailed(ctx, "permanent", clinicsync.ENotPDF, clinicsync.NewText("x"), time.Time{})
	s.MarkSaved(ctx, "done", "/p", 1, "x")
	s.MarkConfirmed(ctx, "done")
	due := func() string {
		items, err := s.Due(ctx, c.Now())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range items {
			ids = append(ids, it.UUID)
		}
		return strings.Join(ids, ",")
	}
	if got := due(); got != "pending,saved" {
		t.Fatalf("due now = %s", got)
	}
	c.Advance(2 * time.Second)
	if got := due(); got != "pending,saved,soon" {
		t.Fatalf("due later = %s", got)
	}
	if nd, _ := s.NextDue(ctx); !nd.Equal(c.Now().Add(-time.Second)) {
		t.Fatalf("next due %v", nd)
	}
	counts, _ := s.Counts(ctx)
	if counts[clinicsync.StateFailed] != 3 || counts[clinicsync.StateConfirmed] != 1 || counts[clinicsync.StateDownloading] != 0 {
		t.Fatalf("counts %v", counts)
	}
}

// A permanent failure waits for a person and is re-checked on a schedule:
// Due and NextDue include the re-check; it keeps when the permanent failure
// began; a success, a manual retry and a requeue end it.
func TestPermanentFailureRecheck(t *testing.T) {
	ctx := context.Background()
	s, c := openTest(t)
	for _, u := range []string{"a", "b", "c"} {
		s.Upsert(ctx, "askara", doc(u))
	}
	began := c.Now()
	if err := s.MarkFailedPermanently(ctx, "a", clinicsync.ENotPDF, clinicsync.NewText("The file is not a PDF."), began.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.MarkFailed(ctx, "b", clinicsync.EUnavailable, clinicsync.NewText("x"), began.Add(2*time.Hour))
	it, _ := s.Get(ctx, "a")
	if it.State != clinicsync.StateFailed || it.Retryable || !it.NextAttemptAt.IsZero() ||
		!it.RecheckAt.Equal(began.Add(time.Hour)) || !it.FailedSince.Equal(began) {
		t.Fatalf("permanent failure: %+v", it)
	}
	dueIDs := func() string {
		items, err := s.Due(ctx, c.Now())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range items {
			ids = append(ids, it.UUID)
		}
		return strings.Join(ids, ",")
	}
	if got := dueIDs(); got != "c" {
		t.Fatalf("due now = %s", got)
	}
	if nd, _ := s.NextDue(ctx); !nd.Equal(began.Add(time.Hour)) {
		t.Fatalf("next due %v, want the re-check", nd)
	}
	c.Advance(time.Hour)
	if got := dueIDs(); got != "a,c" {
		t.Fatalf("due after an hour = %s", got)
	}
	// Re-checked and failing again: the failure still began then, and the
	// report flag is kept for the same reason.
	s.MarkFailureReported(ctx, "a")
	s.MarkDownloading(ctx, "a", "/tmp")
	s.MarkFailedPermanently(ctx, "a", clinicsync.ENotPDF, clinicsync.NewText("The file is not a PDF."), c.Now().Add(time.Hour))
	if it, _ := s.Get(ctx, "a"); !it.FailedSince.Equal(began) || !it.FailureReported || it.Attempts != 2 || it.State != clinicsync.StateFailed {
		t.Fatalf("after a re-check: %+v", it)
	}
	if nd, _ := s.NextDue(ctx); !nd.Equal(c.Now().Add(time.Hour)) {
		t.Fatalf("next due %v, want the transient retry", nd)
	}
	// A transient failure in between keeps when the permanent one began.
	s.MarkFailed(ctx, "a", clinicsync.EUnavailable, clinicsync.NewText("x"), c.Now().Add(time.Minute))
	s.MarkFailedPermanently(ctx, "a", clinicsync.ENotPDF, clinicsync.NewText("The file is not a PDF."), c.Now().Add(time.Hour))
	if it, _ := s.Get(ctx, "a"); !it.FailedSince.Equal(began) {
		t.Fatalf("failed since %v, want %v", it.FailedSince, began)
	}
	// A manual retry ends it; so does a success.
	c.Advance(time.Minute)
	if _, err := s.ClaimManualRetry(ctx, "a", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if it, _ := s.Get(ctx, "a"); !it.RecheckAt.IsZero() || !it.FailedSince.IsZero() {
		t.Fatalf("after a manual retry: %+v", it)
	}
	s.MarkFailedPermanently(ctx, "a", clinicsync.ENotPDF, clinicsync.NewText("The file is not a PDF."), c.Now().Add(time.Hour))
	s.MarkSaved(ctx, "a", "/p", 1, "x")
	s.MarkConfirmed(ctx, "a")
	if it, _ := s.Get(ctx, "a"); !it.RecheckAt.IsZero() || !it.FailedSince.IsZero() {
		t.Fatalf("after a success: %+v", it)
	}
	// A requeue (a person asked for the document again in the platform)
	// also reopens the failure: its outcome is reported even if the same.
	s.MarkFailedPermanently(ctx, "c", clinicsync.ENotPDF, clinicsync.NewText("The file is not a PDF."), c.Now().Add(time.Hour))
	s.MarkFailureReported(ctx, "c")
	if err := s.Requeue(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if it, _ := s.Get(ctx, "c"); it.State != clinicsync.StatePending || !it.RecheckAt.IsZero() || !it.FailedSince.IsZero() ||
		it.FailureReported {
		t.Fatalf("after a requeue: %+v", it)
	}
}

// Relisted keeps what the list says about a document and re-opens a
// permanent failure when it changed: the document is due now and its
// outcome will be reported again. The first listing after a failure
// report takes updatedAt as it comes (the report itself may move it).
func TestRelistedReopensAChangedPermanentFailure(t *testing.T) {
	ctx := context.Background()
	s, c := openTest(t)
	s.Upsert(ctx, "askara", doc("a"))
	relisted := func(fp, upd string) bool {
		t.Helper()
		changed, err := s.Relisted(ctx, "a", fp, upd)
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
	if relisted("f1", "u1") || relisted("f1", "u1") {
		t.Fatal("a pending document is never reopened")
	}
	fail := func() {
		s.MarkFailedPermanently(ctx, "a", clinicsync.ENotPDF, clinicsync.NewText("The file is not a PDF."), c.Now().Add(time.Hour))
	}
	fail()
	if relisted("f1", "u1") {
		t.Fatal("unchanged listing reopened the failure")
	}
	s.MarkFailureReported(ctx, "a")
	// The listing after our report: a new updatedAt is taken as it is.
	if relisted("f1", "u2") || relisted("f1", "u2") {
		t.Fatal("the echo of our own report reopened the failure")
	}
	// Then a change of updatedAt reopens it.
	if !relisted("f1", "u3") {
		t.Fatal("a new updatedAt did not reopen the failure")
	}
	it, _ := s.Get(ctx, "a")
	if it.State != clinicsync.StatePending || it.FailureReported || !it.RecheckAt.IsZero() || !it.FailedSince.IsZero() ||
		it.LastError == "" {
		t.Fatalf("reopened: %+v", it)
	}
	if items, _ := s.Due(ctx, c.Now()); len(items) != 1 {
		t.Fatal("a reopened document is not due now")
	}
	// A change of file, link or pdf fields counts even right after a report.
	fail()
	s.MarkFailureReported(ctx, "a")
	if !relisted("f2", "u4") {
		t.Fatal("a new fingerprint right after a report did not reopen the failure")
	}
	// A transient failure is on its own schedule: the listing is only kept.
	s.MarkFailed(ctx, "a", clinicsync.EUnavailable, clinicsync.NewText("x"), c.Now().Add(time.Minute))
	if relisted("f3", "u5") {
		t.Fatal("a transient failure was reopened")
	}
	fail()
	if !relisted("f4", "u5") {
		t.Fatal("the listing kept during the transient failure is not the one compared")
	}
	if _, err := s.Relisted(ctx, "nope", "f", "u"); clinicsync.ErrorCode(err) != clinicsync.ENotFound {
		t.Fatalf("unknown document: %v", err)
	}
}

// Permanent failures recorded before re-checks existed are scheduled by
// the migration: an hour after their last attempt.
func TestMigrationSchedulesOldPermanentFailures(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Upsert(ctx, "askara", doc("old"))
	s.Upsert(ctx, "askara", doc("transient"))
	s.MarkFailed(ctx, "old", clinicsync.ENotPDF, clinicsync.NewText("The file is not a PDF."), time.Time{})
	s.MarkFailed(ctx, "transient", clinicsync.EUnavailable, clinicsync.NewText("x"), time.Now().Add(time.Minute))
	// Back to the schema before 0004.
	for _, q := range []string{`ALTER TABLE documents DROP COLUMN listed_fingerprint`,
		`ALTER TABLE documents DROP COLUMN listed_updated_at`, `ALTER TABLE documents DROP COLUMN recheck_at`,
		`ALTER TABLE documents DROP COLUMN failed_since`, `DELETE FROM schema_migrations WHERE version = 4`} {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var updated int64
	s.DB().QueryRow(`SELECT updated_at FROM documents WHERE uuid = 'old'`).Scan(&updated)
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old, _ := s.Get(ctx, "old")
	if !old.RecheckAt.Equal(time.UnixMilli(updated).Add(time.Hour)) || !old.FailedSince.Equal(time.UnixMilli(updated)) {
		t.Fatalf("old permanent failure: recheck %v since %v (updated %v)", old.RecheckAt, old.FailedSince, time.UnixMilli(updated))
	}
	if tr, _ := s.Get(ctx, "transient"); !tr.RecheckAt.IsZero() || !tr.FailedSince.IsZero() {
		t.Fatalf("transient failure: %+v", tr)
	}
}

func TestManualRetryWindow(t *testing.T) {
	ctx := context.Background()
	s, c := openTest(t)
	s.Upsert(ctx, "askara", doc("a"))
	s.MarkFailed(ctx, "a", clinicsync.ENotPDF, clinicsync.NewText("The file is not a PDF."), time.Time{})
	s.MarkFailureReported(ctx, "a")
	if _, err := s.ClaimManualRetry(ctx, "a", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	it, _ := s.Get(ctx, "a")
	if it.State != clinicsync.StatePending || it.FailureReported {
		t.Fatalf("a manual retry requeues and reopens reporting: %+v", it)
	}
	c.Advance(12 * time.Second)
	left, err := s.ClaimManualRetry(ctx, "a", 30*time.Second)
	if clinicsync.ErrorCode(err) != clinicsync.ETooSoon || left != 18*time.Second {
		t.Fatalf("second retry after 12 s: left=%v err=%v", left, err)
	}
	if !strings.Contains(clinicsync.ErrorMessage(err), "18 s") {
		t.Fatalf("message should give the seconds left: %q", clinicsync.ErrorMessage(err))
	}
	c.Advance(18 * time.Second)
	if _, err := s.ClaimManualRetry(ctx, "a", 30*time.Second); err != nil {
		t.Fatalf("after 30 s: %v", err)
	}
	if _, err := s.ClaimManualRetry(ctx, "nope", 30*time.Second); clinicsync.ErrorCode(err) != clinicsync.ENotFound {
		t.Fatalf("unknown: %v", err)
	}
}

func TestManualRetryRaceOneWins(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path) // a second process on the same file
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.Upsert(ctx, "askara", doc("x"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(s *Store) {
			defer wg.Done()
			if _, err := s.ClaimManualRetry(ctx, "x", 30*time.Second); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if clinicsync.ErrorCode(err) != clinicsync.ETooSoon {
				t.Error(err)
			}
		}([]*Store{a, b}[i%2])
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d manual retries passed, want exactly 1", wins)
	}
}

func TestInterrupted(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	s.Upsert(ctx, "askara", doc("a"))
	s.Upsert(ctx, "askara", doc("b"))
	s.MarkDownloading(ctx, "a", "/dest/DOE_JOHN")
	items, err := s.Interrupted(ctx)
	if err != nil || len(items) != 1 || items[0].UUID != "a" || items[0].TempDir != "/dest/DOE_JOHN" {
		t.Fatalf("interrupted: %+v %v", items, err)
	}
	it, _ := s.Get(ctx, "a")
	if it.State != clinicsync.StatePending {
		t.Fatalf("state %s", it.State)
	}
	s.ClearTempDir(ctx, "a")
	if it, _ := s.Get(ctx, "a"); it.TempDir != "" {
		t.Fatal("temp dir kept")
	}
}

func TestActivityPagingAndFilters(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	for i := 1; i <= 250; i++ {
		lvl := LevelInfo
		if i%10 == 0 {
			lvl = LevelError
		}
		if _, err := s.Log(ctx, lvl, fmt.Sprintf("doc-%d", i%7), fmt.Sprintf("message %d 100%%_done", i)); err != nil {
			t.Fatal(err)
		}
	}
	var all []Entry
	var before int64
	for {
		page, err := s.Activity(ctx, ActivityQuery{BeforeID: before, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		before = page[len(page)-1].ID
	}
	if len(all) != 250 || all[0].Message != "message 250 100%_done" || all[249].Message != "message 1 100%_done" {
		t.Fatalf("paging: %d entries, first %q", len(all), all[0].Message)
	}
	errs, _ := s.Activity(ctx, ActivityQuery{MinLevel: LevelWarn, Limit: 1000})
	if len(errs) != 25 {
		t.Fatalf("%d warn+ entries, want 25", len(errs))
	}
	// LIKE metacharacters are literal in a search.
	hits, _ := s.Activity(ctx, ActivityQuery{Search: "5 100%_", Limit: 1000})
	if len(hits) != 25 { // 5,15,...,245
		t.Fatalf("search found %d, want 25", len(hits))
	}
	none, _ := s.Activity(ctx, ActivityQuery{Search: "%", Limit: 1000})
	if len(none) != 250 {
		t.Fatalf("a literal %% matches every message: %d", len(none))
	}
	if _, err := s.DB().Exec(`UPDATE activity SET message = 'x'`); err == nil {
		t.Fatal("activity must be append-only")
	}
	if _, err := s.Log(ctx, "loud", "", "x"); err == nil {
		t.Fatal("unknown level accepted")
	}
}

func TestCursors(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if v, err := s.GetCursor(ctx, "notes"); v != "" || err != nil {
		t.Fatalf("unset cursor: %q %v", v, err)
	}
	s.SetCursor(ctx, "notes", "2026-03-02T09:00:00Z")
	s.SetCursor(ctx, "notes", "2026-03-03T09:00:00Z")
	if v, _ := s.GetCursor(ctx, "notes"); v != "2026-03-03T09:00:00Z" {
		t.Fatalf("cursor %q", v)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	err := s.MarkSaved(ctx, "ghost", "/x", 1, "y")
	var ce *clinicsync.Error
	if !errors.As(err, &ce) || ce.Code != clinicsync.ENotFound {
		t.Fatalf("mark on unknown doc: %v", err)
	}
	if _, _, err := s.Upsert(ctx, "askara", clinicsync.Document{}); clinicsync.ErrorCode(err) != clinicsync.EInvalid {
		t.Fatalf("empty uuid: %v", err)
	}
}

func TestInboxDurableDedupAndReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := &Delivery{Platform: "askara", Body: []byte(`{"events":[1]}`), Headers: map[string]string{"content-type": "application/json"}, Verified: "unverified"}
	b := &Delivery{Platform: "askara", Body: []byte(`{"events":[2]}`), DeliveryID: "msg_1", Verified: "standard-webhooks"}
	dup, err := s.InboxAdd(ctx, []*Delivery{a, b})
	if err != nil || dup[0] || dup[1] || a.ID == 0 || b.ID == 0 {
		t.Fatalf("add: %v %v %+v", dup, err, a)
	}
	// A retry: same body (Askara resends it), or same signed delivery id with another body.
	again := &Delivery{Platform: "askara", Body: []byte(`{"events":[1]}`)}
	sameID := &Delivery{Platform: "askara", Body: []byte(`{"events":[3]}`), DeliveryID: "msg_1"}
	other := &Delivery{Platform: "nabla", Body: []byte(`{"events":[1]}`)} // another platform: not a duplicate
	dup, err = s.InboxAdd(ctx, []*Delivery{again, sameID, other})
	if err != nil || !dup[0] || !dup[1] || dup[2] {
		t.Fatalf("duplicates %v %v", dup, err)
	}
	pending, err := s.InboxPending(ctx, 10)
	if err != nil || len(pending) != 3 || pending[0].ID != a.ID || string(pending[0].Body) != `{"events":[1]}` ||
		pending[0].Headers["content-type"] != "application/json" {
		t.Fatalf("pending %+v %v", pending, err)
	}
	if err := s.InboxDone(ctx, a.ID, InboxProcessed, "saved 1 document"); err != nil {
		t.Fatal(err)
	}
	if err := s.InboxDone(ctx, b.ID, InboxDeferred, "note kept for the notes pipeline"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.InboxGet(ctx, a.ID)
	if got.State != InboxProcessed || got.Body != nil || got.BodySHA256 == "" {
		t.Fatalf("processed delivery keeps its body: %+v", got)
	}
	if got, _ := s.InboxGet(ctx, b.ID); got.Body == nil {
		t.Fatal("a deferred delivery lost its body")
	}
	if pending, _ := s.InboxPending(ctx, 10); len(pending) != 1 || pending[0].Platform != "nabla" {
		t.Fatalf("pending after processing: %+v", pending)
	}
	// Reopening the file (a restart) finds the same inbox.
	s.Close()
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	st, err := s2.InboxStats(ctx)
	if err != nil || st.Counts[InboxReceived] != 1 || st.Counts[InboxProcessed] != 1 || st.LastReceived.IsZero() {
		t.Fatalf("stats %+v %v", st, err)
	}
	first, _ := s2.EventFirstSeen(ctx, "askara", "new_document:u1", 7)
	second, _ := s2.EventFirstSeen(ctx, "askara", "new_document:u1", 8)
	replay, _ := s2.EventFirstSeen(ctx, "askara", "new_document:u1", 7)
	if !first || second || !replay {
		t.Fatalf("event seen: %v, by another delivery %v, by the same delivery again %v", first, second, replay)
	}
	if !KeepHeader("Webhook-Id") || KeepHeader("Authorization") || KeepHeader("webhook-signature") {
		t.Fatal("header filter")
	}
}

// Retention: old activity lines and processed webhook bodies go; item
// states and deliveries still waiting to be processed stay.
func TestPruneKeepsStatesAndPendingDeliveries(t *testing.T) {
	s, clk := openTest(t)
	ctx := context.Background()
	if _, _, err := s.Upsert(ctx, "askara", doc("old-doc")); err != nil {
		t.Fatal(err)
	}
	s.Log(ctx, LevelInfo, "", "old line")
	old := []*Delivery{{Platform: "askara", Body: []byte("a")}, {Platform: "azodha", Body: []byte("b")}}
	if _, err := s.InboxAdd(ctx, old); err != nil {
		t.Fatal(err)
	}
	s.InboxDone(ctx, old[0].ID, InboxProcessed, "")
	s.InboxDone(ctx, old[1].ID, InboxDeferred, "")
	pending := []*Delivery{{Platform: "askara", Body: []byte("c")}}
	s.InboxAdd(ctx, pending)
	clk.Advance(100 * 24 * time.Hour)
	s.Log(ctx, LevelInfo, "", "new line")
	a, d, err := s.Prune(ctx, clk.Now().Add(-90*24*time.Hour))
	if err != nil || a != 1 || d != 2 {
		t.Fatalf("pruned %d lines, %d deliveries, %v", a, d, err)
	}
	if _, err := s.Get(ctx, "old-doc"); err != nil {
		t.Fatal("a document's state was pruned")
	}
	if p, _ := s.InboxPending(ctx, 10); len(p) != 1 {
		t.Fatal("a delivery waiting to be processed was pruned")
	}
	if e, _ := s.Activity(ctx, ActivityQuery{}); len(e) != 1 || e[0].Message != "new line" {
		t.Fatalf("activity after prune: %+v", e)
	}
}

// A "synchronize" that asks for a confirmation after time t requeues a
// document confirmed before t, and leaves one confirmed at or after t: a
// pass already answered it (a delivery processed again after a crash).
func TestRequeueConfirmedBefore(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	base := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	now := base
	s.Now = func() time.Time { return now }
	s.Upsert(ctx, "askara", clinicsync.Document{UUID: "u"})
	s.MarkSaved(ctx, "u", "/p", 1, "x")
	s.MarkConfirmed(ctx, "u") // confirmed at 9:00
	now = base.Add(time.Minute)
	if err := s.RequeueConfirmedBefore(ctx, "u", base); err != nil {
		t.Fatal(err)
	}
	if it, _ := s.Get(ctx, "u"); it.State != clinicsync.StateConfirmed {
		t.Fatalf("confirmed at the event's time, requeued: %s", it.State)
	}
	if err := s.RequeueConfirmedBefore(ctx, "u", base.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if it, _ := s.Get(ctx, "u"); it.State != clinicsync.StatePending {
		t.Fatalf("confirmed before the event, not requeued: %s", it.State)
	}
}

// A Batch is one write transaction: what its steps write lands together
// (one commit), and an error from any step leaves nothing of the others.
func TestBatchIsOneTransactionAllOrNothing(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Batch(ctx, func(tx *Tx) error {
		if _, _, err := tx.Upsert(ctx, "askara", doc("b-1")); err != nil {
			return err
		}
		if _, err := tx.LogText(ctx, LevelInfo, "b-1", clinicsync.NewText("new")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Batch = %v, want boom", err)
	}
	if _, err := s.Get(ctx, "b-1"); clinicsync.ErrorCode(err) != clinicsync.ENotFound {
		t.Fatalf("after a failed batch: Get = %v, want not found", err)
	}
	if es, err := s.Activity(ctx, ActivityQuery{Limit: 10}); err != nil || len(es) != 0 {
		t.Fatalf("after a failed batch: activity %v, %v", es, err)
	}

	t0 := Transactions()
	err = s.Batch(ctx, func(tx *Tx) error {
		for _, id := range []string{"b-1", "b-2", "b-3"} {
			it, created, _, err := tx.UpsertListed(ctx, "askara", doc(id), Listing{Fingerprint: "fp", UpdatedAt: "u"})
			if err != nil || !created || it.State != clinicsync.StatePending {
				return fmt.Errorf("upsert %s: %v %v %v", id, it.State, created, err)
			}
			if _, err := tx.LogText(ctx, LevelInfo, id, clinicsync.NewText("new")); err != nil {
				return err
			}
		}
		if err := tx.MarkSaved(ctx, "b-1", "/x/b-1.pdf", 3, "sha"); err != nil {
			return err
		}
		it, err := tx.Get(ctx, "b-1") // sees the batch's own writes
		if err != nil || it.State != clinicsync.StateSaved {
			return fmt.Errorf("get in batch: %v %v", it.State, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := Transactions() - t0; n != 1 {
		t.Errorf("a batch of 7 writes took %d transactions, want 1", n)
	}
	for _, id := range []string{"b-1", "b-2", "b-3"} {
		if _, err := s.Get(ctx, id); err != nil {
			t.Errorf("%s after the batch: %v", id, err)
		}
	}
	// The listing went in with the row: the same listing again is no change.
	if reopened, err := s.Relisted(ctx, "b-2", "fp", "u"); err != nil || reopened {
		t.Errorf("Relisted same listing = %v, %v", reopened, err)
	}
	if es, err := s.Activity(ctx, ActivityQuery{Limit: 10}); err != nil || len(es) != 3 {
		t.Fatalf("activity after the batch: %d lines, %v; want 3", len(es), err)
	}
}

// FailedCodes counts the failed documents per error code: what the
// engine's problems read to know whether a condition still stops one.
func TestFailedCodes(t *testing.T) {
	ctx := context.Background()
	s, c := openTest(t)
	for _, id := range []string{"a", "b", "c", "d"} {
		s.Upsert(ctx, "askara", doc(id))
	}
	next := c.Now().Add(time.Minute)
	s.MarkFailed(ctx, "a", clinicsync.EPermission, clinicsync.NewText("denied"), next)
	s.MarkFailed(ctx, "b", clinicsync.EPermission, clinicsync.NewText("denied"), next)
	s.MarkFailedPermanently(ctx, "c", clinicsync.ENotPDF, clinicsync.NewText("The file is not a PDF."), next)
	got, err := s.FailedCodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[clinicsync.EPermission] != 2 || got[clinicsync.ENotPDF] != 1 {
		t.Fatalf("failed codes %v", got)
	}
	s.MarkSaved(ctx, "a", "/x/a.pdf", 1, "")
	s.MarkConfirmed(ctx, "a")
	s.MarkSaved(ctx, "b", "/x/b.pdf", 1, "")
	if got, _ := s.FailedCodes(ctx); got[clinicsync.EPermission] != 0 {
		t.Fatalf("after b was saved: %v", got)
	}
}

// A statement first met inside a transaction is prepared in the
// background; Close ends and waits for that, so nothing opens the
// database (and makes its -shm file again) once it is closed. (A test's
// temporary folder could not be removed: "directory not empty".)
func TestCloseWaitsForBackgroundPrepares(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	beforeBackgroundPrepare = func(ctx context.Context) {
		close(started)
		select {
		case <-release: // only after Close returned: too late unless Close ended it
		case <-ctx.Done():
		}
		finished.Store(true)
	}
	defer func() { beforeBackgroundPrepare = nil }()
	ctx := context.Background()
	err = s.Batch(ctx, func(tx *Tx) error {
		_, err := tx.c.exec(ctx, `UPDATE cursors SET value = value WHERE name = 'background-prepare'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	s.Close()
	done := finished.Load()
	close(release)
	if !done {
		t.Fatal("Close returned while a background preparation was still running")
	}
}
