package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// A patient name, file name or type with CR/LF, escape sequences or bidi
// overrides cannot split or forge a line of the activity log, the bus that
// run prints, or the views the window shows (issue 11, item 4).
func TestPlatformTextCannotForgeLogLines(t *testing.T) {
	r := newRig(t, sim.Options{})
	forged := "Jean\r\n2026-11-30 12:00:00 error Forged line"
	r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Type: "letter\x1b[2K",
		Patient: clinicsync.Patient{FirstName: forged, LastName: "Dupont\u202Efdp"},
		PDF:     clinicsync.PDF{FileName: "ok.pdf"}}, Content: sim.ValidPDF(0)})
	bad := r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{
		Patient: clinicsync.Patient{FirstName: forged, LastName: "Martin\u2028x"},
		PDF:     clinicsync.PDF{FileName: "broken\n.pdf"}}, Content: sim.Content{Kind: sim.ContentHTML}})
	sub := r.eng.Events().Subscribe(events.Activity)
	defer sub.Unsubscribe()
	r.pass()

	clean := func(where, s string) {
		t.Helper()
		if strings.ContainsAny(s, "\r\n\x1b\u202e\u2028") {
			t.Errorf("%s holds a control character: %q", where, s)
		}
	}
	entries, err := r.store.Activity(context.Background(), store.ActivityQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	sawEscaped := false
	for _, en := range entries {
		clean("activity line", en.Message)
		sawEscaped = sawEscaped || strings.Contains(en.Message, `Jean\r\n2026-11-30`)
	}
	if !sawEscaped {
		t.Errorf("the name is not shown escaped in the activity log: %v", entries)
	}
	for n := len(sub.C); n > 0; n-- {
		ev := <-sub.C
		clean("bus event", ev.Message)
	}
	views, err := r.eng.Documents(context.Background(), DocumentFilter{})
	if err != nil || len(views) != 2 {
		t.Fatalf("views %d, %v", len(views), err)
	}
	for _, v := range views {
		clean("view patient", v.Patient.DisplayName())
		clean("view file", v.FileName)
		clean("view reason", v.Reason)
	}
	if v, _ := r.eng.Document(context.Background(), bad.UUID); v.State != clinicsync.StateFailed {
		t.Fatalf("the broken document is %s", v.State)
	}
}

// Lines stored by an earlier version, before escaping, come out escaped.
func TestActivityViewEscapesOldLines(t *testing.T) {
	r := newRig(t, sim.Options{})
	if _, err := r.store.DB().Exec(`INSERT INTO activity(at, level, item, message) VALUES (1, 'info', '', ?)`,
		"Saved a.pdf for Jean\n12:00:00 error forged"); err != nil {
		t.Fatal(err)
	}
	got, err := r.eng.Activity(context.Background(), LogQuery{})
	if err != nil || len(got) != 1 || got[0].Message != `Saved a.pdf for Jean\n12:00:00 error forged` {
		t.Fatalf("%v %v", got, err)
	}
}
