package engine

import (
	"context"
	"errors"
	"github.com/clinicsync/clinicsync/sync/clocktest"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/dest/desttest"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// Problems: a condition that stops documents is said once (an activity
// line, the snapshot's Problems, ProblemsChanged), after its delay for
// those that usually pass by themselves, never on each retry, and once
// more when it clears.

// problemRig is an engine over a desttest.Refusing, with a clock the test moves.
type problemRig struct {
	*rig
	dst    *desttest.Refusing
	events *events.Subscription
	*clocktest.Clock
}

func newProblemRig(t *testing.T, docs int) *problemRig {
	t.Helper()
	r := &problemRig{rig: newRig(t, sim.Options{Documents: docs, Patients: 1, Seed: 5}),
		Clock: clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))}
	r.dst = &desttest.Refusing{Layout: dest.Layout{Root: r.root, Template: dest.DefaultTemplate}}
	r.eng.Reconfigure(r.eng.Config(), r.dst)
	r.eng.Now = r.Now
	r.events = r.eng.Events().Subscribe(events.ProblemsChanged)
	t.Cleanup(r.events.Unsubscribe)
	return r
}

// passAt moves the clock by d and runs a pass, whatever its outcome.
func (r *problemRig) passAt(d time.Duration) error {
	r.Advance(d)
	_, err := r.eng.Pass(context.Background())
	return err
}

// lines are the activity lines written with key, oldest first.
func (r *problemRig) lines(key string) []string {
	r.t.Helper()
	entries, err := r.eng.Activity(context.Background(), LogQuery{Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Text.Key == key {
			out = append(out, entries[i].Message)
		}
	}
	return out
}

// said counts the ProblemsChanged events published so far.
func (r *problemRig) said() int {
	n := 0
	for {
		select {
		case <-r.events.C:
			n++
		default:
			return n
		}
	}
}

// kinds are the open problems' kinds, in the snapshot and in the store.
func (r *problemRig) kinds() string {
	r.t.Helper()
	var snap, kept []string
	for _, p := range r.eng.Snapshot().Problems {
		snap = append(snap, string(p.Kind))
	}
	ps, err := r.eng.Problems(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	for _, p := range ps {
		kept = append(kept, string(p.Kind))
	}
	if a, b := strings.Join(snap, ","), strings.Join(kept, ","); a != b {
		r.t.Fatalf("the snapshot has %q open, the store %q", a, b)
	}
	return strings.Join(snap, ",")
}

// A folder that refuses writes (here with the error dest makes of an
// "access denied", naming the patient's folder) is a problem at once,
// said once however often the documents are retried, and resolved once;
// its words name the documents folder, never the patient.
func TestPermissionDeniedIsSaidOnceAndResolvedOnce(t *testing.T) {
	r := newProblemRig(t, 2)
	r.dst.Set(func(dir string) error {
		return clinicsync.Retryablef(clinicsync.EPermission, fs.ErrPermission, "Clinic Sync may not write to %s.", dir)
	})
	if err := r.passAt(0); err != nil {
		t.Fatal(err)
	}
	if got := r.kinds(); got != "permission" {
		t.Fatalf("open problems %q, want permission", got)
	}
	st := r.eng.Snapshot()
	if st.Status != StatusAttention {
		t.Fatalf("status %s with a problem open", st.Status)
	}
	p := st.Problems[0]
	words := p.Title.String() + " " + p.Cause.String() + " " + p.Fix.String()
	if !strings.Contains(words, r.root) || !strings.Contains(words, "write access") {
		t.Fatalf("problem says %q", words)
	}
	docs, _ := r.eng.Documents(context.Background(), DocumentFilter{})
	for _, d := range docs {
		if d.Patient.LastName != "" && strings.Contains(strings.ToUpper(words), strings.ToUpper(d.Patient.LastName)) {
			t.Fatalf("the problem names the patient %s: %q", d.Patient.LastName, words)
		}
	}
	// Retried again and again: nothing more is said.
	for range 5 {
		if err := r.passAt(10 * time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.lines(activity.ProblemOpened)); n != 1 {
		t.Fatalf("%d problem lines after the retries, want 1", n)
	}
	if n := r.said(); n != 1 {
		t.Fatalf("%d ProblemsChanged events, want 1", n)
	}
	// Access given: the next retry writes, and the problem is resolved once.
	r.dst.Set(nil)
	for range 3 {
		if err := r.passAt(time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.kinds(); got != "" {
		t.Fatalf("open problems %q after the fix", got)
	}
	if got := r.lines(activity.ProblemResolved); len(got) != 1 || got[0] != "Resolved: permission denied." {
		t.Fatalf("resolved lines %q", got)
	}
	if n := r.said(); n != 1 {
		t.Fatalf("%d ProblemsChanged events for the resolution, want 1", n)
	}
	if st := r.eng.Snapshot(); st.Status != StatusIdle || st.Counts[clinicsync.StateConfirmed] != 2 {
		t.Fatalf("after the fix: %s, %v", st.Status, st.Counts)
	}
}

// On Windows the fix names Controlled folder access, which refuses
// unknown programs in Documents folders with a plain "access denied".
func TestPermissionFixNamesControlledFolderAccessOnWindows(t *testing.T) {
	defer func(g string) { goos = g }(goos)
	r := newProblemRig(t, 0)
	goos = "windows"
	if p := r.eng.docProblem(ProblemPermission, `C:\Users\nurse\Documents\Patients`); !strings.Contains(p.Fix.String(), "Ransomware protection") {
		t.Fatalf("windows fix: %q", p.Fix)
	}
	goos = "linux"
	if p := r.eng.docProblem(ProblemPermission, "/srv/Patients"); strings.Contains(p.Fix.String(), "Ransomware") {
		t.Fatalf("linux fix: %q", p.Fix)
	}
}

// A read-only folder is its own problem, with its own fix.
func TestReadOnlyFolderIsAProblem(t *testing.T) {
	r := newProblemRig(t, 1)
	r.dst.Set(func(dir string) error {
		return clinicsync.Retryablef(clinicsync.EReadOnly, nil, "The folder %s is on a read-only disk or share.", dir)
	})
	if err := r.passAt(0); err != nil {
		t.Fatal(err)
	}
	if got := r.kinds(); got != "read_only" {
		t.Fatalf("open problems %q", got)
	}
}

// A file held open is retried quietly for ten minutes, then said once.
func TestLockedFileIsSaidAfterTenMinutes(t *testing.T) {
	r := newProblemRig(t, 1)
	r.dst.Set(func(dir string) error {
		return clinicsync.Retryablef(clinicsync.EFileLocked, nil, "The file %s is open in another program.", "letter.pdf")
	})
	for _, at := range []time.Duration{0, 3 * time.Minute, 3 * time.Minute, 3 * time.Minute} {
		if err := r.passAt(at); err != nil {
			t.Fatal(err)
		}
		if got := r.kinds(); got != "" {
			t.Fatalf("open after %v: %q", r.Now().Sub(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), got)
		}
	}
	if err := r.passAt(2 * time.Minute); err != nil { // 11 minutes
		t.Fatal(err)
	}
	if got := r.kinds(); got != "file_locked" {
		t.Fatalf("after 11 minutes: %q", got)
	}
	r.passAt(5 * time.Minute)
	if n := len(r.lines(activity.ProblemOpened)); n != 1 {
		t.Fatalf("%d problem lines", n)
	}
	// Released within ten minutes next time: never said.
	r.dst.Set(nil)
	r.passAt(time.Hour)
	r.dst.Set(func(dir string) error { return clinicsync.Retryable(clinicsync.EFileLocked, "locked", nil) })
	r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{LastName: "Roux"}}})
	r.passAt(0)
	r.passAt(5 * time.Minute)
	r.dst.Set(nil)
	r.passAt(5 * time.Minute)
	if n := len(r.lines(activity.ProblemOpened)); n != 1 || r.kinds() != "" {
		t.Fatalf("a short lock was said: %d lines, open %q", n, r.kinds())
	}
	if n := len(r.lines(activity.ProblemResolved)); n != 1 {
		t.Fatalf("%d resolved lines", n)
	}
}

// The documents folder unreachable (its share disconnected) is said after
// ten minutes of failing passes, and resolved when it is back.
func TestUnreachableFolderIsSaidAfterTenMinutes(t *testing.T) {
	r := newProblemRig(t, 1)
	away := r.root + ".away"
	if err := os.Rename(r.root, away); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, 4 * time.Minute, 4 * time.Minute} {
		if err := r.passAt(at); clinicsync.ErrorCode(err) != clinicsync.EDestination {
			t.Fatalf("pass: %v", err)
		}
		if got := r.kinds(); got != "" {
			t.Fatalf("open after %v: %q", at, got)
		}
	}
	r.passAt(3 * time.Minute)
	if got := r.kinds(); got != "destination_unreachable" {
		t.Fatalf("after 11 minutes: %q", got)
	}
	os.Rename(away, r.root)
	if err := r.passAt(time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := r.kinds(); got != "" || len(r.lines(activity.ProblemResolved)) != 1 {
		t.Fatalf("back: open %q, resolved %q", got, r.lines(activity.ProblemResolved))
	}
}

// Askara unreachable is said after thirty minutes, with the failure's own
// advice as the fix.
func TestPlatformUnreachableIsSaidAfterThirtyMinutes(t *testing.T) {
	r := newProblemRig(t, 1)
	for range 40 {
		r.sim.QueueAPIFaults(sim.FaultReset)
	}
	unreachable := func() {
		t.Helper()
		if err := r.passAt(0); clinicsync.ErrorCode(err) != clinicsync.EUnavailable {
			t.Fatalf("pass: %v", err)
		}
	}
	unreachable()
	r.Advance(29 * time.Minute)
	unreachable()
	if got := r.kinds(); got != "" {
		t.Fatalf("after 29 minutes: %q", got)
	}
	r.Advance(2 * time.Minute)
	unreachable()
	if got := r.kinds(); got != "platform_unreachable" {
		t.Fatalf("after 31 minutes: %q", got)
	}
	if p := r.eng.Snapshot().Problems[0]; p.Fix.Key == "" || p.Fix.Key == p.Cause.Key {
		t.Fatalf("fix %+v", p.Fix)
	}
}

// Free space under the threshold, on the documents folder's disk or the
// data folder's, stops the pass before anything is written, and is said
// at once, naming the folder; enough space again resolves it.
func TestLowFreeSpaceStopsThePass(t *testing.T) {
	r := newProblemRig(t, 2)
	cfg := r.eng.Config()
	cfg.MinFree = 500 << 20
	r.eng.Reconfigure(cfg, r.dst)
	var mu sync.Mutex
	free := map[string]uint64{r.root: 120 << 20, r.dir: 10 << 30}
	r.eng.WatchSpace(r.dir, func(p string) (uint64, error) {
		mu.Lock()
		defer mu.Unlock()
		return free[p], nil
	})
	err := r.passAt(0)
	if clinicsync.ErrorCode(err) != clinicsync.EDiskFull || !strings.Contains(clinicsync.ErrorMessage(err), r.root) {
		t.Fatalf("pass: %v", err)
	}
	if got := r.kinds(); got != "disk_full" {
		t.Fatalf("open %q", got)
	}
	if n := len(files(t, r.root)); n != 0 {
		t.Fatalf("%d files written with the disk short of space", n)
	}
	for range 3 {
		r.passAt(time.Minute)
	}
	if n := len(r.lines(activity.ProblemOpened)); n != 1 || len(r.lines(activity.SyncFailed)) != 1 {
		t.Fatalf("%d problem lines, %d failed-pass lines: said more than once", n, len(r.lines(activity.SyncFailed)))
	}
	// The documents folder's disk freed, the data folder's now short.
	mu.Lock()
	free[r.root], free[r.dir] = 10<<30, 100<<20
	mu.Unlock()
	if err := r.passAt(time.Minute); clinicsync.ErrorCode(err) != clinicsync.EDiskFull || !strings.Contains(clinicsync.ErrorMessage(err), "data folder") {
		t.Fatalf("pass: %v", err)
	}
	mu.Lock()
	free[r.dir] = 10 << 30
	mu.Unlock()
	if err := r.passAt(time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := r.kinds(); got != "" || len(files(t, r.root)) != 2 || len(r.lines(activity.ProblemResolved)) != 1 {
		t.Fatalf("open %q, %d files, resolved %q", got, len(files(t, r.root)), r.lines(activity.ProblemResolved))
	}
}

// Signing out is a problem until someone signs in.
func TestSignedOutIsAProblemUntilSignedIn(t *testing.T) {
	r := newProblemRig(t, 0)
	r.eng.SetSignedOut(true, activity.SignedOutWait)
	if got := r.kinds(); got != "signed_out" {
		t.Fatalf("open %q", got)
	}
	r.eng.SetSignedOut(false, "")
	if got := r.kinds(); got != "" || len(r.lines(activity.ProblemResolved)) != 1 {
		t.Fatalf("signed in: open %q", got)
	}
}

// Open problems outlive the process: a new engine on the same store shows
// them from the start without saying them again, and its first good pass
// resolves them.
func TestOpenProblemsSurviveARestart(t *testing.T) {
	r := newProblemRig(t, 1)
	away := r.root + ".away"
	os.Rename(r.root, away)
	r.passAt(0)
	r.passAt(11 * time.Minute)
	if got := r.kinds(); got != "destination_unreachable" {
		t.Fatalf("open %q", got)
	}
	again := New(r.eng.Config(), r.store, r.client, r.dst, events.New(), nil)
	again.Now = r.Now
	if err := again.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ps := again.Snapshot().Problems; len(ps) != 1 || ps[0].Kind != ProblemUnreachable {
		t.Fatalf("after a restart: %+v", ps)
	}
	again.Pass(context.Background()) // still away: nothing new is said
	if n := len(r.lines(activity.ProblemOpened)); n != 1 {
		t.Fatalf("%d problem lines after the restart", n)
	}
	os.Rename(away, r.root)
	if _, err := again.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ps, _ := again.Problems(context.Background()); len(ps) != 0 || len(r.lines(activity.ProblemResolved)) != 1 {
		t.Fatalf("after the folder came back: %+v", ps)
	}
}

// An error a document meets once its pass is cancelled (the app quits) is
// the cancellation's doing, whatever it says: a SQLite statement
// interrupted ("interrupted (9)"), a transaction already rolled back, a
// request cut. The document is left to the next pass: not failed, and the
// platform is not told it failed.
func TestErrorsAfterCancelAreNotTheDocumentsFailure(t *testing.T) {
	r := newProblemRig(t, 6)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.dst.Set(func(string) error {
		cancel()
		return errors.New("interrupted (9)")
	})
	if _, err := r.eng.Pass(ctx); clinicsync.ErrorCode(err) != clinicsync.ECanceled {
		t.Fatalf("cancelled pass: %v", err)
	}
	counts, _ := r.store.Counts(context.Background())
	if counts[clinicsync.StateFailed] != 0 || counts[clinicsync.StateDownloading] != 0 {
		t.Fatalf("after the cancelled pass: %v; want none failed or downloading", counts)
	}
	for _, c := range r.sim.StatusCalls() {
		if !c.Status.Success {
			t.Fatalf("the platform was told %s failed: %+v", c.UUID, c.Status)
		}
	}
	r.dst.Set(nil)
	if err := r.passAt(time.Minute); err != nil {
		t.Fatal(err)
	}
	if counts, _ := r.store.Counts(context.Background()); counts[clinicsync.StateConfirmed] != 6 {
		t.Fatalf("after the next pass: %v; want 6 confirmed", counts)
	}
}
