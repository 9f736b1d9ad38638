package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

// frenchFor is a small French table, as the front ends pass one.
func frenchFor(table map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := table[k]; ok {
			return v
		}
		return k
	}
}

// A line written as a key and arguments is stored with its English
// message (search reads it) and reads back as the same Text, in any
// language; platform text in its arguments is escaped at every depth as a
// message is; a line written as plain text (as every line was before
// migration 0006) shows its message in any language; the log stays
// append-only with its new columns.
func TestActivityKeysArgumentsAndOldLines(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// A line from before keys: the schema without the new columns.
	for _, q := range []string{`ALTER TABLE activity DROP COLUMN code`, `ALTER TABLE activity DROP COLUMN args`,
		`ALTER TABLE documents DROP COLUMN last_error_text`, `DELETE FROM schema_migrations WHERE version = 6`,
		`INSERT INTO activity(at, level, item, message) VALUES (1, 'info', '', 'Saved old.pdf for Jean Dupont to C:\Patients.')`} {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	forged := "Jean\r\n12:00:00 error Synchronisation failed\u202e"
	reason := clinicsync.Retryablef(clinicsync.EPermission, nil, "Clinic Sync may not write to %s.", "C:\\Patients\n\\x")
	line := clinicsync.NewText("%s for %s failed: %s Retrying automatically at %s.", "a.pdf", forged, reason, "10:00:00")
	if _, err := s.LogText(ctx, LevelError, "doc-1", line); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Log(ctx, LevelInfo, "", "plain\nline"); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Activity(ctx, ActivityQuery{Limit: 10})
	if err != nil || len(rows) != 3 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	fr := frenchFor(map[string]string{
		"%s for %s failed: %s Retrying automatically at %s.": "Échec pour %s (%s) : %s Nouvel essai automatique à %s.",
		"Clinic Sync may not write to %s.":                   "Clinic Sync n'a pas le droit d'écrire dans %s.",
		"Saved old.pdf for Jean Dupont to C:\\Patients.":     "never used: a line without a key is not translated",
	})
	plain, keyed, old := rows[0], rows[1], rows[2]
	wantEN := `a.pdf for Jean\r\n12:00:00 error Synchronisation failed\u202E failed: Clinic Sync may not write to C:\Patients\n\x. Retrying automatically at 10:00:00.`
	wantFR := `Échec pour a.pdf (Jean\r\n12:00:00 error Synchronisation failed\u202E) : Clinic Sync n'a pas le droit d'écrire dans C:\Patients\n\x. Nouvel essai automatique à 10:00:00.`
	if keyed.Message != wantEN || keyed.Render(nil) != wantEN || keyed.Text.String() != wantEN {
		t.Errorf("English:\n%q\n%q\nwant %q", keyed.Message, keyed.Render(nil), wantEN)
	}
	if got := keyed.Render(fr); got != wantFR {
		t.Errorf("French:\n%q\nwant %q", got, wantFR)
	}
	if keyed.Text.Key != line.Key || len(keyed.Text.Args) != 4 {
		t.Fatalf("read back as %#v", keyed.Text)
	}
	// Escaped in the arguments as stored, not only when rendered: a front
	// end may render them its own way.
	if name, _ := keyed.Text.Args[1].(string); name != `Jean\r\n12:00:00 error Synchronisation failed\u202E` {
		t.Errorf("name argument %q", name)
	}
	if r, _ := keyed.Text.Args[2].(clinicsync.Text); len(r.Args) != 1 || r.Args[0] != `C:\Patients\n\x` {
		t.Errorf("reason argument %#v", keyed.Text.Args[2])
	}
	if plain.Text.Key != "" || plain.Render(fr) != `plain\nline` {
		t.Errorf("plain line: %#v", plain)
	}
	if old.Text.Key != "" || old.Render(fr) != `Saved old.pdf for Jean Dupont to C:\Patients.` {
		t.Errorf("line from before keys: %#v", old)
	}
	// Search reads the stored English.
	if hits, _ := s.Activity(ctx, ActivityQuery{Search: "may not write", Limit: 10}); len(hits) != 1 {
		t.Errorf("search in English: %d hits", len(hits))
	}
	if hits, _ := s.Activity(ctx, ActivityQuery{Search: "droit d'écrire", Limit: 10}); len(hits) != 0 {
		t.Errorf("search in French: %d hits (only English is stored)", len(hits))
	}
	for _, q := range []string{`UPDATE activity SET code = ''`, `UPDATE activity SET args = '[]'`} {
		if _, err := s.DB().Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// A document's failure keeps its reason as a key and arguments next to
// the English; a confirmation clears both.
func TestFailureReasonText(t *testing.T) {
	ctx := context.Background()
	s, c := openTest(t)
	s.Upsert(ctx, "askara", doc("a"))
	reason := clinicsync.ErrorText(clinicsync.Retryablef(clinicsync.EFileLocked, nil, "The file %s is open in another program.", "a.pdf"))
	if err := s.MarkFailed(ctx, "a", clinicsync.EFileLocked, reason, c.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	it, _ := s.Get(ctx, "a")
	if it.LastError != "The file a.pdf is open in another program." || it.Reason().Key != reason.Key ||
		it.Reason().String() != it.LastError {
		t.Fatalf("%q %#v", it.LastError, it.LastErrorText)
	}
	fr := frenchFor(map[string]string{reason.Key: "Le fichier %s est ouvert dans un autre programme."})
	if got := it.Reason().Render(fr); got != "Le fichier a.pdf est ouvert dans un autre programme." {
		t.Fatalf("French %q", got)
	}
	// A sentence with no arguments is its own key.
	s.MarkFailedPermanently(ctx, "a", clinicsync.ENotPDF, clinicsync.NewText("The file is not a PDF."), c.Now().Add(time.Hour))
	if it, _ = s.Get(ctx, "a"); it.LastErrorText.Key != "" || it.Reason().Key != "The file is not a PDF." {
		t.Fatalf("no arguments: %#v %#v", it.LastErrorText, it.Reason())
	}
	s.MarkFailed(ctx, "a", clinicsync.EFileLocked, reason, c.Now().Add(time.Minute))
	s.MarkDownloading(ctx, "a", "/tmp")
	s.MarkSaved(ctx, "a", "/tmp/a.pdf", 1, "00")
	s.MarkConfirmed(ctx, "a")
	if it, _ = s.Get(ctx, "a"); it.LastError != "" || !it.LastErrorText.IsZero() {
		t.Fatalf("confirmed: %q %#v", it.LastError, it.LastErrorText)
	}
}
