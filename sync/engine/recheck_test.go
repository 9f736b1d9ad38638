package engine

import (
	"context"
	"github.com/clinicsync/clinicsync/sync/clocktest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// Re-checks of permanent failures: a document that failed for good (here
// a proxy's HTML page served as the PDF) is tried again at once when the
// list says something about it changed, and otherwise hourly for a day,
// then daily. The platform hears each outcome once per change.

// recheckRig is a rig with one broken document and one settable clock
// for the engine and the store (the simulator keeps real time: its links
// stay valid).
type recheckRig struct {
	*rig
	bad   string
	began time.Time
	*clocktest.Clock
}

func newRecheckRig(t *testing.T) *recheckRig {
	t.Helper()
	r := &recheckRig{rig: newRig(t, sim.Options{Documents: 2, Seed: 21}),
		Clock: clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))}
	r.eng.Now, r.store.Now = r.Now, r.Now
	r.bad = r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{
		Patient: clinicsync.Patient{FirstName: "Élodie", LastName: "Martin"}, PDF: clinicsync.PDF{FileName: "lab_results.pdf"}},
		Content: sim.Content{Kind: sim.ContentHTML}}).UUID
	r.began = r.Now()
	res := r.pass()
	if res.Confirmed != 2 || res.Failed != 1 {
		t.Fatalf("first pass: %+v", res)
	}
	r.expect(clinicsync.StateFailed, 1, 0)
	return r
}

// reports counts the status calls the platform accepted for the broken document.
func (r *recheckRig) reports() (fails, oks int) {
	for _, c := range r.sim.StatusCalls() {
		if c.UUID != r.bad || c.Code != 200 {
			continue
		}
		if c.Status.Success {
			oks++
		} else {
			fails++
		}
	}
	return fails, oks
}

// failureLines counts the activity lines that say the broken document failed.
func (r *recheckRig) failureLines() int {
	entries, err := r.eng.Activity(context.Background(), LogQuery{Item: r.bad, MinLevel: LevelWarn, Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	return len(entries)
}

// expect checks the broken document's state and the reports sent for it.
func (r *recheckRig) expect(st clinicsync.ItemState, fails, oks int) DocumentView {
	r.t.Helper()
	v, err := r.eng.Document(context.Background(), r.bad)
	if err != nil {
		r.t.Fatal(err)
	}
	if f, o := r.reports(); v.State != st || f != fails || o != oks {
		r.t.Fatalf("state %s (%s), %d success:false and %d success:true; want %s, %d and %d",
			v.State, v.Reason, f, o, st, fails, oks)
	}
	return v
}

// (a) The platform fixes the file without any change to the listing:
// nothing happens before the hourly re-check, which delivers it.
func TestRecheckDeliversAfterTheHourWithoutAListingChange(t *testing.T) {
	r := newRecheckRig(t)
	v := r.expect(clinicsync.StateFailed, 1, 0)
	// Still "permanent" for the window and `status`: no automatic retry,
	// a re-check in an hour.
	if v.Retryable || !v.NextAttempt.IsZero() || !v.RecheckAt.Equal(r.began.Add(time.Hour)) {
		t.Fatalf("after the failure: retryable %v next %v recheck %v", v.Retryable, v.NextAttempt, v.RecheckAt)
	}
	if nd, _ := r.store.NextDue(context.Background()); !nd.Equal(v.RecheckAt) {
		t.Fatalf("next due %v, want the re-check at %v", nd, v.RecheckAt)
	}
	if line := r.lastLine(); !strings.Contains(line, "re-checked automatically") {
		t.Fatalf("activity line %q does not say it is re-checked", line)
	}
	r.sim.SetContent(r.bad, sim.ValidPDF(0))
	downloads := r.sim.Stats().PDFDownloads
	r.pass()
	r.Advance(59 * time.Minute)
	r.pass()
	r.expect(clinicsync.StateFailed, 1, 0)
	if n := r.sim.Stats().PDFDownloads; n != downloads {
		t.Fatalf("%d downloads before the re-check was due", n-downloads)
	}
	r.Advance(time.Minute)
	if res := r.pass(); res.Written != 1 || res.Confirmed != 1 {
		t.Fatalf("re-check pass: %+v", res)
	}
	r.expect(clinicsync.StateConfirmed, 1, 1)
	r.checkEndState(true)
	if v, _ := r.eng.Document(context.Background(), r.bad); !v.RecheckAt.IsZero() {
		t.Fatalf("a delivered document keeps a re-check at %v", v.RecheckAt)
	}
}

func (r *recheckRig) lastLine() string {
	entries, _ := r.eng.Activity(context.Background(), LogQuery{Item: r.bad, Limit: 1})
	if len(entries) == 0 {
		return ""
	}
	return entries[0].Message
}

// (b) The platform fixes the file and the listing shows it (a new
// updatedAt, or a corrected file name): the next pass delivers it at
// once.
func TestRecheckAtOnceWhenTheListingChanges(t *testing.T) {
	t.Run("updatedAt", func(t *testing.T) {
		r := newRecheckRig(t)
		// The platform records our report on the document, which moves
		// its updatedAt: that echo is not a change.
		if res := r.pass(); res.Written != 0 || res.Failed != 0 {
			t.Fatalf("the pass after the report: %+v", res)
		}
		r.expect(clinicsync.StateFailed, 1, 0)
		r.sim.SetContent(r.bad, sim.ValidPDF(0))
		r.sim.Touch(r.bad)
		if res := r.pass(); res.Written != 1 || res.Confirmed != 1 {
			t.Fatalf("the pass after the fix: %+v", res)
		}
		r.expect(clinicsync.StateConfirmed, 1, 1)
		r.checkEndState(true)
	})
	t.Run("fileName", func(t *testing.T) {
		r := newRecheckRig(t)
		r.sim.SetContent(r.bad, sim.ValidPDF(0))
		r.sim.SetFileName(r.bad, "lab_results_corrected.pdf")
		if res := r.pass(); res.Written != 1 || res.Confirmed != 1 {
			t.Fatalf("the pass after the fix: %+v", res)
		}
		r.expect(clinicsync.StateConfirmed, 1, 1)
		r.checkEndState(true)
		if it, _ := r.store.Get(context.Background(), r.bad); !strings.HasSuffix(it.FinalPath, "lab_results_corrected.pdf") {
			t.Fatalf("saved as %s", it.FinalPath)
		}
	})
}

// (c) A document that stays broken is re-checked hourly for a day, then
// daily; the platform is told once, and the activity log says it once.
func TestRecheckOfAnUnchangedFailureIsQuiet(t *testing.T) {
	r := newRecheckRig(t)
	ctx := context.Background()
	lines := r.failureLines()
	if lines != 1 {
		t.Fatalf("%d failure lines after the failure", lines)
	}
	var rechecks int
	for i := 0; i < 30; i++ {
		v, _ := r.eng.Document(ctx, r.bad)
		want := time.Hour
		if r.Now().Sub(r.began) >= 24*time.Hour {
			want = 24 * time.Hour
		}
		if got := v.RecheckAt.Sub(r.Now()); got != want {
			t.Fatalf("re-check %d: scheduled %v after the last attempt, want %v", i+1, got, want)
		}
		r.Advance(v.RecheckAt.Sub(r.Now()) - time.Second)
		r.pass() // not yet due
		r.Advance(time.Second)
		before := v.Attempts
		r.pass()
		v = r.expect(clinicsync.StateFailed, 1, 0)
		if v.Attempts != before+1 {
			t.Fatalf("re-check %d: attempts %d, want %d", i+1, v.Attempts, before+1)
		}
		rechecks++
	}
	// 24 hourly re-checks, then 6 daily ones.
	if d := r.Now().Sub(r.began); d != 7*24*time.Hour {
		t.Fatalf("30 re-checks took %v: the schedule never slowed down", d)
	}
	if n := r.failureLines(); n != 1 {
		t.Fatalf("%d failure lines after %d re-checks, want 1", n, rechecks)
	}
}

// (d) A listing change while the document stays broken is a new change:
// the platform hears the (same) outcome once more, then nothing.
func TestListingChangeWhileStillBrokenIsReportedOnce(t *testing.T) {
	r := newRecheckRig(t)
	r.pass() // the echo of the first report
	r.sim.Touch(r.bad)
	if res := r.pass(); res.Failed != 1 || res.Reported != 1 {
		t.Fatalf("the pass after the change: %+v", res)
	}
	r.expect(clinicsync.StateFailed, 2, 0)
	for i := 0; i < 3; i++ {
		r.pass()
	}
	r.Advance(time.Hour)
	r.pass() // the hourly re-check
	r.expect(clinicsync.StateFailed, 2, 0)
	r.sim.SetFileName(r.bad, "lab_results_v2.pdf")
	r.pass()
	r.pass()
	r.expect(clinicsync.StateFailed, 3, 0)
	if n := r.failureLines(); n != 3 {
		t.Fatalf("%d failure lines for 3 outcomes", n)
	}
}

// A transient error during a re-check says nothing new about the
// document: it stays a permanent failure, nothing is reported or logged,
// and the next re-check is scheduled.
func TestTransientErrorDuringARecheckIsQuiet(t *testing.T) {
	r := newRecheckRig(t)
	r.Advance(time.Hour)
	// Every attempt of the download and of its quick retry fails (the
	// client tries each download 4 times).
	faults := make([]sim.Fault, 8)
	for i := range faults {
		faults[i] = sim.Fault503
	}
	r.sim.QueuePDFFaults(faults...)
	if res := r.pass(); res.Failed != 1 || r.sim.Stats().PDFFaults != len(faults) {
		t.Fatalf("re-check pass %+v with %d faults, want all %d", res, r.sim.Stats().PDFFaults, len(faults))
	}
	v := r.expect(clinicsync.StateFailed, 1, 0)
	if v.Retryable || v.ErrorCode != clinicsync.ENotPDF || !v.RecheckAt.Equal(r.Now().Add(time.Hour)) {
		t.Fatalf("after a transient error: %+v", v)
	}
	if n := r.failureLines(); n != 1 {
		t.Fatalf("%d failure lines", n)
	}
}

// The run loop wakes for a re-check (not only at the next poll).
func TestRunWakesForARecheck(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 1, Seed: 22})
	var mu sync.Mutex
	var offset time.Duration
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	r.eng.Now, r.store.Now = clock, clock
	cfg := r.eng.Config()
	cfg.PollInterval = time.Hour
	r.eng.Reconfigure(cfg, r.eng.Destination())
	bad := r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{PDF: clinicsync.PDF{FileName: "x.pdf"}},
		Content: sim.Content{Kind: sim.ContentEmpty}}).UUID
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	state := func() clinicsync.ItemState {
		it, _ := r.store.Get(context.Background(), bad)
		return it.State
	}
	waitFor(t, "the failure", func() bool { return state() == clinicsync.StateFailed })
	r.sim.SetContent(bad, sim.ValidPDF(0))
	// Two seconds before the re-check: the loop, woken now, must come back
	// for it rather than sleep for the hour-long poll interval.
	it, _ := r.store.Get(context.Background(), bad)
	mu.Lock()
	offset = it.RecheckAt.Sub(time.Now()) - 2*time.Second
	mu.Unlock()
	r.eng.SyncNow()
	waitFor(t, "the re-check's delivery", func() bool { return state() == clinicsync.StateConfirmed })
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A person's "Synchronize" in the platform, arriving as a webhook, gets
// an answer even when the document fails the same way again.
func TestSynchronizeEventOfAFailedDocumentIsAnswered(t *testing.T) {
	r := newRecheckRig(t)
	d, err := r.client.GetDocument(context.Background(), r.bad)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.eng.Push(context.Background(), clinicsync.DocumentEvent{Document: d, Action: "document_synchronize", Verified: true})
	if err != nil || !strings.Contains(out, "not a PDF") {
		t.Fatalf("push: %q %v", out, err)
	}
	v := r.expect(clinicsync.StateFailed, 2, 0)
	if v.Retryable || v.RecheckAt.IsZero() {
		t.Fatalf("after the event: %+v", v)
	}
}
