package relay

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// Every seed payload (verbatim where it is valid JSON, the notes package's
// repaired copy where the page printed it with comments), and the Nabla
// payloads built from its schema, go through the relay into a real engine:
// the files written are byte for byte the golden files of sync/notes.
func TestNotePayloadsThroughTheRelayMatchTheGoldenFiles(t *testing.T) {
	r := newEngineRig(t, engine.Config{}, nil, Options{AllowUnsigned: true, Enabled: []string{"askara", "nabla", "soapnoteapi"}})
	st, eng, root := r.st, r.eng, r.root

	cases := []struct{ platform, in, golden string }{
		{"askara", "askara-webhook-payload.json", "askara-webhook-payload.txt"},
		{"nabla", "nabla-generate-note-succeeded.json", "nabla-generate-note-succeeded.txt"},
		{"nabla", "nabla-transcribe-succeeded.json", "nabla-transcribe-succeeded.txt"},
		{"nabla", "nabla-generate-note-failed.json", ""}, // recorded, no file
		{"nabla", "nabla-transcribe-failed.json", ""},
		{"soapnoteapi", "soapnoteapi-note-generated.json", "soapnoteapi-note-generated.txt"},
		{"soapnoteapi", "soapnoteapi-note-failed.json", ""},
	}
	notesDir := filepath.Join("..", "notes", "testdata")
	for _, c := range cases {
		body, err := os.ReadFile(filepath.Join(notesDir, "in", c.in))
		if err != nil {
			t.Fatal(err)
		}
		if code, out := r.post("/webhooks/"+c.platform, body, nil); code != 200 {
			t.Fatalf("%s: %d %v", c.in, code, out)
		}
	}
	r.until("every delivery processed", func() bool {
		p, _ := st.InboxPending(context.Background(), 10)
		return len(p) == 0
	})
	written := map[string][]byte{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			written[filepath.Base(p)], _ = os.ReadFile(p)
		}
		return nil
	})
	want := 0
	for _, c := range cases {
		if c.golden == "" {
			continue
		}
		want++
		golden, err := os.ReadFile(filepath.Join(notesDir, "golden", c.golden))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for name, b := range written {
			if string(b) == string(golden) {
				found = true
				if !strings.HasSuffix(name, ".txt") {
					t.Errorf("%s written as %s", c.in, name)
				}
			}
		}
		if !found {
			t.Errorf("%s: no file matches %s byte for byte (written: %d files)", c.in, c.golden, len(written))
		}
	}
	if len(written) != want {
		t.Fatalf("%d files written, want %d", len(written), want)
	}
	// Notes with no patient are in the Inbox; failures are recorded with their error.
	views, _ := eng.Notes(context.Background(), false, 100)
	failed, inbox := 0, 0
	for _, v := range views {
		if v.State == "failed" && v.Error != "" {
			failed++
		}
		if v.Inbox && v.State == "saved" {
			inbox++
			if filepath.Base(filepath.Dir(v.Path)) != dest.InboxFolder {
				t.Errorf("inbox note at %s", v.Path)
			}
		}
	}
	// The seed's note.failed example reuses note.generated's note_id: that
	// note is already saved, so the failure is not recorded over it.
	if failed != 2 || inbox != 3 {
		t.Fatalf("%d failed, %d in the inbox: %+v", failed, inbox, views)
	}
	// The same deliveries again (a platform retry): nothing is written twice.
	before := len(written)
	body, _ := os.ReadFile(filepath.Join(notesDir, "in", "nabla-generate-note-succeeded.json"))
	if code, out := r.post("/webhooks/nabla", body, nil); code != 200 || out["status"] != "duplicate" {
		t.Fatalf("retry: %d %v", code, out)
	}
	time.Sleep(50 * time.Millisecond)
	n := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	if n != before {
		t.Fatalf("%d files after the retry, want %d", n, before)
	}
}

// Azodha events are logged and kept; only the events the user chose are
// also written, as the JSON received, to Inbox/Azodha.
func TestAzodhaEventsWrittenOnlyWhenChosen(t *testing.T) {
	r := newEngineRig(t, engine.Config{}, nil, Options{AllowUnsigned: true, Enabled: []string{"azodha"},
		AzodhaFiles: []string{"BookAppointment"}})
	st, root := r.st, r.root
	book := []byte(`{"eventName":"BookAppointment","id":"apt-1","data":{"date":"2026-03-02"}}`)
	count := []byte(`{"eventName":"HealthRecordCounter","id":"hrc-1","count":3}`)
	for _, b := range [][]byte{book, count} {
		if code, out := r.post("/webhooks/azodha", b, nil); code != 200 {
			t.Fatalf("%d %v", code, out)
		}
	}
	r.until("both processed", func() bool { p, _ := st.InboxPending(context.Background(), 10); return len(p) == 0 })
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 || filepath.Base(filepath.Dir(files[0])) != "Azodha" || !strings.Contains(files[0], "BookAppointment") {
		t.Fatalf("files %v", files)
	}
	if b, _ := os.ReadFile(files[0]); string(b) != string(book) {
		t.Fatalf("content %q", b)
	}
	entries, _ := st.Activity(context.Background(), store.ActivityQuery{Search: "Azodha", Limit: 10})
	if len(entries) != 2 || !strings.Contains(entries[0].Message+entries[1].Message, "hrc-1") {
		t.Fatalf("activity %+v", entries)
	}
}
