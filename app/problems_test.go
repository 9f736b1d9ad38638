package app

import (
	"context"
	"github.com/clinicsync/clinicsync/sync/clocktest"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/dest/desttest"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/service"
)

// Issue 15: each condition that stops documents becomes the tray's
// attention state, a banner naming the cause and the fix, and ONE
// notification; one "resolved" line when it clears; nothing on each
// retry; never a patient's name in a notification. These drive the real
// window's view-model (engine events in, notifications out) over the real
// service, engine, SQLite file and simulator; the engine's clock is the
// test's.

// escalationRig is the window's rig with the view-model running, the
// notifications recorded, a settable engine clock and destination.
type escalationRig struct {
	*uiRig
	dst  *desttest.Refusing
	nmu  sync.Mutex
	sent []string // "title | body"
	*clocktest.Clock
	names []string // every patient's name the simulator holds
}

func newEscalationRig(t *testing.T, docs int) *escalationRig {
	t.Helper()
	r := &escalationRig{uiRig: newUIRig(t, docs), Clock: clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))}
	r.dst = &desttest.Refusing{Layout: r.eng.Destination().(dest.Layout)}
	r.eng.Reconfigure(r.eng.Config(), r.dst)
	r.eng.Now = r.Now
	r.onUI(func() {
		r.ui.notifier.send = func(title, body string) {
			r.nmu.Lock()
			r.sent = append(r.sent, title+" | "+body)
			r.nmu.Unlock()
		}
		r.ui.Start()
	})
	for _, x := range r.sim.Expected() {
		r.names = append(r.names, x.Patient.FirstName, x.Patient.LastName)
	}
	return r
}

// passAt moves the engine's clock by d, runs a pass (whatever its
// outcome) and waits until the window has taken its status in: the
// notifications it causes are decided by then.
func (r *escalationRig) passAt(d time.Duration) {
	r.t.Helper()
	r.Advance(d)
	r.eng.Pass(context.Background())
	want := r.eng.Snapshot()
	r.until("the window to take the pass in", func() bool {
		got := r.ui.status()
		return got.LastPassEnd.Equal(want.LastPassEnd) && len(got.Problems) == len(want.Problems)
	})
}

func (r *escalationRig) notifications() []string {
	r.nmu.Lock()
	defer r.nmu.Unlock()
	return append([]string(nil), r.sent...)
}

// about are the notifications whose title names the problem.
func (r *escalationRig) about(title string) []string {
	var out []string
	for _, n := range r.notifications() {
		if strings.HasPrefix(n, "Clinic Sync: "+title+" |") {
			out = append(out, n)
		}
	}
	return out
}

// noPatientNames fails if a notification names a patient.
func (r *escalationRig) noPatientNames() {
	r.t.Helper()
	for _, n := range r.notifications() {
		for _, name := range r.names {
			if len(name) > 2 && strings.Contains(strings.ToUpper(n), strings.ToUpper(name)) {
				r.t.Errorf("a notification names the patient %q: %s", name, n)
			}
		}
	}
}

// banner is the text of the window's banner as shown (UI goroutine).
func (r *escalationRig) banner() string {
	var parts []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch c := o.(type) {
		case *textBlock:
			if c.Visible() {
				parts = append(parts, c.Text)
			}
		case *fyne.Container:
			if c.Visible() {
				for _, k := range c.Objects {
					walk(k)
				}
			}
		}
	}
	walk(r.ui.header.banner)
	return strings.Join(parts, " ")
}

// resolved counts the "Resolved" lines of the activity log.
func (r *escalationRig) resolved() int {
	entries, err := r.svc.Activity(context.Background(), engine.LogQuery{Search: "Resolved:"})
	if err != nil {
		r.t.Fatal(err)
	}
	return len(entries)
}

// escalates checks what one problem does, from its first pass on: the
// attention state, the banner naming the cause and the fix, one
// notification naming the cause (and the documents folder), none on later
// retries; after fix, one resolved line and the banner gone.
func (r *escalationRig) escalates(title, cause string, retries int, fix func()) {
	r.t.Helper()
	if got := r.about(title); len(got) != 1 {
		r.t.Fatalf("%d notifications about %q, want 1: %q", len(got), title, r.notifications())
	}
	n := r.about(title)[0]
	if !strings.Contains(n, cause) || !strings.Contains(n, r.root) {
		r.t.Fatalf("the notification does not name the cause %q in %s: %s", cause, r.root, n)
	}
	r.onUI(func() {
		st := r.ui.status()
		if st.Status != engine.StatusAttention {
			r.t.Errorf("tray state %s, want attention", st.Status)
		}
		if b := r.banner(); !strings.Contains(b, title) || !strings.Contains(b, cause) {
			r.t.Errorf("banner %q does not name %q and %q", b, title, cause)
		}
		if !strings.Contains(statusText(st), title) {
			r.t.Errorf("tray status %q does not name the problem", statusText(st))
		}
	})
	before := len(r.notifications())
	for range retries {
		r.passAt(10 * time.Minute)
	}
	if got := r.notifications(); len(got) != before {
		r.t.Fatalf("notifications on later retries: %q", got[before:])
	}
	fix()
	r.passAt(time.Hour)
	r.passAt(time.Hour)
	if got := r.resolved(); got != 1 {
		r.t.Fatalf("%d resolved lines, want 1", got)
	}
	r.onUI(func() {
		if b := r.banner(); b != "" {
			r.t.Errorf("banner left after the fix: %q", b)
		}
	})
	if got := r.about(title); len(got) != 1 {
		r.t.Fatalf("notifications about %q after the fix: %q", title, got)
	}
	r.noPatientNames()
}

// Permission denied, injected as the error dest makes of an "access
// denied" (it names the patient's folder, which the notification must not).
func TestEscalationPermissionDenied(t *testing.T) {
	r := newEscalationRig(t, 2)
	r.dst.Set(func(dir string) error {
		return clinicsync.Retryablef(clinicsync.EPermission, fs.ErrPermission, "Clinic Sync may not write to %s.", dir)
	})
	r.passAt(0)
	r.escalates("permission denied", "may not write in the documents folder", 4, func() { r.dst.Set(nil) })
	if d, _ := r.svc.Documents(context.Background(), engine.DocumentFilter{States: []clinicsync.ItemState{clinicsync.StateConfirmed}}); len(d) != 2 {
		t.Fatalf("%d documents delivered after the fix, want 2", len(d))
	}
}

// A file held open, through dest's lock hook: the practice software keeps
// a delivered document's file open while the platform sends a new version.
// Quiet for ten minutes, then said once.
func TestEscalationLockedFile(t *testing.T) {
	r := newEscalationRig(t, 1)
	r.passAt(0)
	docs, _ := r.svc.Documents(context.Background(), engine.DocumentFilter{States: []clinicsync.ItemState{clinicsync.StateConfirmed}})
	if len(docs) != 1 {
		t.Fatalf("%d documents delivered", len(docs))
	}
	held := docs[0].Path
	f, err := os.OpenFile(held, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("changed on disk") // no longer intact: it is written again
	f.Close()
	if !r.sim.Unsynchronize(docs[0].UUID) {
		t.Fatal("the simulator did not take the document back")
	}
	release := dest.HoldOpenForTest(func(p string) bool { return p == held })
	defer release()
	r.passAt(0)
	if d, _ := r.svc.Document(context.Background(), docs[0].UUID); d.ErrorCode != clinicsync.EFileLocked {
		t.Fatalf("the held file gave %q (%s)", d.ErrorCode, d.Reason)
	}
	before := len(r.notifications())
	r.passAt(4 * time.Minute)
	r.passAt(4 * time.Minute)
	if got := r.notifications(); len(got) != before {
		t.Fatalf("notified within ten minutes: %q", got[before:])
	}
	r.passAt(3 * time.Minute)
	r.escalates("file locked", "open in another program for more than 10 minutes", 3, release)
	if b, _ := os.ReadFile(held); strings.HasSuffix(string(b), "changed on disk") {
		t.Fatal("the file was not replaced once released")
	}
}

// Disk full, through an injected free-space reading of the documents
// folder's disk: the pass stops before writing anything.
func TestEscalationDiskFull(t *testing.T) {
	r := newEscalationRig(t, 2)
	cfg := r.eng.Config()
	cfg.MinFree = 500 << 20
	r.eng.Reconfigure(cfg, r.dst)
	var mu sync.Mutex
	free := uint64(120 << 20)
	r.eng.WatchSpace(r.dir, func(string) (uint64, error) {
		mu.Lock()
		defer mu.Unlock()
		return free, nil
	})
	r.passAt(0)
	if d, _ := r.svc.Documents(context.Background(), engine.DocumentFilter{}); len(d) != 0 {
		t.Fatalf("%d documents taken in with the disk short of space", len(d))
	}
	r.escalates("disk full", "less than 500 MB free", 4, func() {
		mu.Lock()
		free = 20 << 30
		mu.Unlock()
	})
}

// The notifications in French, as the window speaks.
func TestEscalationNotificationInFrench(t *testing.T) {
	r := newEscalationRig(t, 1)
	defer SetLanguage("en")
	SetLanguage("fr")
	r.dst.Set(func(dir string) error {
		return clinicsync.Retryablef(clinicsync.EPermission, fs.ErrPermission, "Clinic Sync may not write to %s.", dir)
	})
	r.passAt(0)
	got := r.notifications()
	var found bool
	for _, n := range got {
		found = found || strings.HasPrefix(n, "Clinic Sync : accès refusé |") && strings.Contains(n, "n'a pas le droit d'écrire")
	}
	if !found {
		t.Fatalf("no French notification: %q", got)
	}
}

// A document that failed for good is one notification without the
// patient's name by default; the setting allows the name.
func TestFailedDocumentNotificationNamesNoPatient(t *testing.T) {
	var sent []string
	names := false
	n := notifier{send: func(title, body string) { sent = append(sent, title+" | "+body) }, names: func() bool { return names }}
	d := engine.DocumentView{UUID: "d1", FileName: "lab_results.pdf", Patient: clinicsync.Patient{FirstName: "Élodie", LastName: "Martin"},
		Reason: "The file is not a PDF."}
	n.observe(statusWith(), []engine.DocumentView{d}, false)
	names = true
	d.UUID = "d2"
	n.observe(statusWith(), []engine.DocumentView{d}, false)
	if len(sent) != 2 || strings.Contains(sent[0], "Martin") || !strings.Contains(sent[0], "1 document needs attention") ||
		!strings.Contains(sent[1], "Élodie Martin") {
		t.Fatalf("notifications %q", sent)
	}
}

func statusWith(ps ...engine.Problem) service.Status {
	return service.Status{Snapshot: engine.Snapshot{Problems: ps}}
}

// Settings: the free space to keep (MB, checked as typed) and whether
// notifications may name patients; both saved and applied.
func TestSettingsFreeSpaceAndPatientNames(t *testing.T) {
	r := newUIRig(t, 0)
	s := r.ui.settings
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.minFree.Text != "500" || s.notifyNames.Checked {
		t.Fatalf("form starts with %q, names %v", s.minFree.Text, s.notifyNames.Checked)
	}
	s.minFree.SetText("lots")
	if p := s.problems["sync.min_free_mb"]; p.Hidden || !s.save.Disabled() {
		t.Fatalf("a free space that is no number: problem hidden %v, save disabled %v", p.Hidden, s.save.Disabled())
	}
	s.minFree.SetText("2000")
	s.notifyNames.SetChecked(true)
	test.Tap(s.save)
	r.wait("the save", func() bool { return s.result.Text == "Saved and applied." })
	c, err := config.Load(filepath.Join(r.dir, "config.toml"))
	if err != nil || c.Sync.MinFreeMB != 2000 || !c.App.NotifyPatientNames {
		t.Fatalf("saved %+v %+v, %v", c.Sync, c.App, err)
	}
	if got := r.eng.Config().MinFree; got != 2000<<20 {
		t.Fatalf("the engine keeps %d bytes free, want 2000 MB", got)
	}
	if !r.ui.notifier.names() {
		t.Fatal("the notifications do not follow the setting")
	}
}
