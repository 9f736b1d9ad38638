package relay

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// A processed webhook body (note text) is dropped from the inbox, and
// within seconds it is gone from state.db, state.db-wal and state.db-shm
// too, while the app keeps running (issue 11, item 5): secure_delete zeroes
// what was deleted, and the relay empties the WAL after processing.
func TestProcessedNoteTextIsGoneFromTheDatabaseFiles(t *testing.T) {
	r := newEngineRig(t, engine.Config{}, nil, Options{AllowUnsigned: true, Enabled: []string{"nabla"}})
	raw, err := os.ReadFile(filepath.Join("..", "notes", "testdata", "in", "nabla-generate-note-succeeded.json"))
	if err != nil {
		t.Fatal(err)
	}
	// A marker long enough to cross SQLite's overflow pages, as a real
	// note does, and one short enough to stay in the row's own page.
	long := "PHI-MARKER-" + strings.Repeat("Sore throat and dry cough, patient Doe. ", 300)
	body := bytes.Replace(raw, []byte("Sore throat and dry cough for three days."), []byte(long), 1)
	body = bytes.Replace(body, []byte("No fever reported."), []byte("SHORT-PHI-MARKER-7f3a"), 1)
	if bytes.Equal(body, raw) {
		t.Fatal("the fixture changed: no section text replaced")
	}
	if code, out := r.post("/webhooks/nabla", body, nil); code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	ctx := context.Background()
	r.until("the note processed", func() bool {
		d, _ := r.st.InboxGet(ctx, 1)
		return d.State == store.InboxProcessed
	})
	markers := [][]byte{[]byte("PHI-MARKER-"), []byte("SHORT-PHI-MARKER-7f3a")}
	found := func() string {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(filepath.Join(r.dbDir, "state.db"+suffix))
			if err != nil && (suffix == "" || !os.IsNotExist(err)) {
				t.Fatal(err)
			}
			for _, m := range markers {
				if bytes.Contains(b, m) {
					return "state.db" + suffix + " holds " + string(m)
				}
			}
		}
		return ""
	}
	deadline := time.Now().Add(10 * time.Second)
	for where := found(); where != ""; where = found() {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after processing, %s", where)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The store is still open and working.
	if _, err := r.st.Log(ctx, store.LevelInfo, "", "still running"); err != nil {
		t.Fatal(err)
	}
}
