package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/notes"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// rig is a real engine against the real simulator over HTTP, with a real
// SQLite file and a real destination folder.
type rig struct {
	t      *testing.T
	sim    *sim.Server
	client *askara.Client
	store  *store.Store
	eng    *Engine
	root   string
	dir    string
	url    string // the simulator's
}

const softwareID = "test_software"

func newRig(t *testing.T, o sim.Options) *rig {
	t.Helper()
	s := sim.New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.SetBaseURL(ts.URL)
	dir := t.TempDir()
	root := filepath.Join(dir, "Patients")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	client, err := askara.New(askara.Options{BaseURL: ts.URL,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "test-token"})})
	if err != nil {
		t.Fatal(err)
	}
	eng := New(Config{SoftwareID: softwareID, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond,
		QuickRetryDelay: time.Millisecond},
		st, client, dest.Layout{Root: root, Template: dest.DefaultTemplate}, events.New(), nil)
	return &rig{t: t, sim: s, client: client, store: st, eng: eng, root: root, dir: dir, url: ts.URL}
}

func (r *rig) pass() PassResult {
	r.t.Helper()
	res, err := r.eng.Pass(context.Background())
	if err != nil {
		r.t.Fatalf("pass: %v", err)
	}
	return res
}

// files lists every regular file below dir, relative, with its SHA-256.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			io.Copy(h, f)
			f.Close()
			rel, _ := filepath.Rel(dir, p)
			out[rel] = hex.EncodeToString(h.Sum(nil))
		} else if !d.IsDir() {
			t.Errorf("unexpected non-regular file %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// emptyDirs lists the empty folders below root (root itself excluded).
func emptyDirs(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == root {
			return err
		}
		if entries, err := os.ReadDir(p); err == nil && len(entries) == 0 {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkEndState asserts what every complete sync must leave behind: each
// document that should land is on disk once with the right bytes inside the
// root and confirmed with its path; each that should not is failed and was
// reported with a reason; nothing else is on disk.
func (r *rig) checkEndState(exactlyOnce bool) {
	t := r.t
	t.Helper()
	ctx := context.Background()
	onDisk := files(t, r.root)
	for rel := range onDisk {
		if strings.HasSuffix(rel, ".part") || strings.Contains(filepath.Base(rel), ".clinicsync-") {
			t.Errorf("temp file left behind: %s", rel)
		}
	}
	calls := map[string][]sim.StatusCall{}
	for _, c := range r.sim.StatusCalls() {
		if c.Code == 200 {
			calls[c.UUID] = append(calls[c.UUID], c)
		}
	}
	landed := 0
	paths := map[string]string{}
	for _, x := range r.sim.Expected() {
		it, err := r.store.Get(ctx, x.UUID)
		if err != nil {
			t.Errorf("%s (%s) unknown to the store: %v", x.UUID, x.Label, err)
			continue
		}
		if !x.Land {
			if it.State != clinicsync.StateFailed || it.LastError == "" {
				t.Errorf("%s (%s) should have failed with a reason: %s %q", x.UUID, x.Reason, it.State, it.LastError)
			}
			var fails int
			for _, c := range calls[x.UUID] {
				if c.Status.Success {
					t.Errorf("%s (%s) confirmed with success:true", x.UUID, x.Reason)
				} else if c.Status.Error != "" {
					fails++
				}
			}
			if fails == 0 || (exactlyOnce && fails != 1) {
				t.Errorf("%s (%s): %d success:false reports with a reason, want 1", x.UUID, x.Reason, fails)
			}
			continue
		}
		landed++
		if it.State != clinicsync.StateConfirmed {
			t.Errorf("%s (%s %q) state %s: %s", x.UUID, x.Label, x.FileName, it.State, it.LastError)
			continue
		}
		rel, err := filepath.Rel(r.root, it.FinalPath)
		if err != nil || !filepath.IsLocal(rel) {
			t.Errorf("%s written outside the root: %s", x.UUID, it.FinalPath)
			continue
		}
		if onDisk[rel] != x.SHA256 {
			t.Errorf("%s: %s has sha %s, want %s", x.UUID, rel, onDisk[rel], x.SHA256)
		}
		if other, dup := paths[rel]; dup {
			t.Errorf("%s and %s share %s", other, x.UUID, rel)
		}
		paths[rel] = x.UUID
		var oks int
		for _, c := range calls[x.UUID] {
			if c.Status.Success {
				oks++
				if c.Status.Path != it.FinalPath || c.Status.Directory != softwareID {
					t.Errorf("%s confirmed with %+v, want path %s", x.UUID, c.Status, it.FinalPath)
				}
			}
		}
		if oks == 0 || (exactlyOnce && oks != 1) {
			t.Errorf("%s confirmed %d times", x.UUID, oks)
		}
		if !r.sim.Synchronized(x.UUID) {
			t.Errorf("%s not synchronized on the server", x.UUID)
		}
	}
	if len(onDisk) != landed {
		t.Errorf("%d files on disk, %d documents should have landed", len(onDisk), landed)
	}
	for _, d := range emptyDirs(t, r.root) {
		t.Errorf("empty folder left behind: %s", d)
	}
	// Nothing outside the root: the rig folder holds only the root and the database.
	entries, _ := os.ReadDir(r.dir)
	for _, e := range entries {
		if n := e.Name(); n != "Patients" && !strings.HasPrefix(n, "state.db") {
			t.Errorf("something was written outside the root: %s", n)
		}
	}
	if st := r.sim.Stats(); st.PDFAuthorization != 0 || st.RateLimited != 0 {
		t.Errorf("token sent to the file host %d times; %d requests rate-limited", st.PDFAuthorization, st.RateLimited)
	}
}

func TestEndToEnd500DocumentsWithHostileFixtures(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 500, Patients: 50, Hostile: true, Seed: 42})
	if err := r.eng.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := r.pass()
	r.checkEndState(true)
	if res.Listed != len(r.sim.Expected()) {
		t.Errorf("listed %d of %d", res.Listed, len(r.sim.Expected()))
	}
	// The list embeds pdf and patient data: a per-document GET only for
	// the documents listed without a link.
	st := r.sim.Stats()
	noLink := 0
	for _, x := range r.sim.Expected() {
		if x.Content.Kind == sim.ContentNoURL || x.Content.Kind == sim.ContentNoPDF {
			noLink++
		}
	}
	if n := st.Endpoints["GET /documents/{uuid}"]; n != noLink {
		t.Errorf("%d per-document GETs, want %d (endpoints: %v)", n, noLink, st.Endpoints)
	}
	t.Logf("API requests %d for %d documents (%.3f per document)", st.APIRequests, res.Listed,
		float64(st.APIRequests)/float64(res.Listed))

	// A second pass sends nothing new: confirmed documents left the list and
	// permanent failures wait for a person.
	before := len(r.sim.StatusCalls())
	res2 := r.pass()
	if got := len(r.sim.StatusCalls()); got != before || res2.Written != 0 {
		t.Errorf("second pass: %d new status calls, %d written", got-before, res2.Written)
	}
	r.checkEndState(true)
	if snap := r.eng.Snapshot(); snap.Status != StatusAttention || snap.Counts[clinicsync.StateFailed] == 0 {
		t.Errorf("failed documents must show attention: %+v", snap)
	}
}

func TestCollectionFormats(t *testing.T) {
	for _, f := range []string{sim.FormatHydra, sim.FormatMember, sim.FormatArray} {
		t.Run(f, func(t *testing.T) {
			r := newRig(t, sim.Options{Documents: 230, Patients: 7, Seed: 3, Format: f})
			res := r.pass()
			if res.Listed != 230 || res.Confirmed != 230 {
				t.Fatalf("%+v", res)
			}
			r.checkEndState(true)
		})
	}
}

// A second workstation (its own database) on the same share finds every
// file already there: it writes nothing and only confirms.
func TestSecondWorkstationWritesNothingTwice(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 60, Patients: 5, Hostile: true, Seed: 9})
	r.pass()
	before := files(t, r.root)
	mtimes := map[string]time.Time{}
	for rel := range before {
		fi, _ := os.Stat(filepath.Join(r.root, rel))
		mtimes[rel] = fi.ModTime()
	}
	for _, x := range r.sim.Expected() {
		r.sim.Unsynchronize(x.UUID) // a clinician clicks "Synchronize" again
	}
	st2, err := store.Open(filepath.Join(t.TempDir(), "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	other := New(Config{SoftwareID: softwareID}, st2, r.client, dest.Layout{Root: r.root}, nil, nil)
	res, err := other.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 0 || res.AlreadyPresent == 0 {
		t.Fatalf("second workstation: %+v", res)
	}
	after := files(t, r.root)
	if len(after) != len(before) {
		t.Fatalf("%d files before, %d after", len(before), len(after))
	}
	for rel, sha := range before {
		fi, _ := os.Stat(filepath.Join(r.root, rel))
		if after[rel] != sha || !fi.ModTime().Equal(mtimes[rel]) {
			t.Errorf("%s was rewritten", rel)
		}
	}
	// And the first workstation, seeing them re-listed, only confirms too.
	for _, x := range r.sim.Expected() {
		r.sim.Unsynchronize(x.UUID)
	}
	res = r.pass()
	if res.Written != 0 || res.Confirmed == 0 || r.sim.Stats().PDFDownloads == 0 {
		t.Fatalf("re-listed on the first workstation: %+v", res)
	}
	r.checkEndState(false)
}

// expireAfterList expires every link between the list and the downloads.
type expireAfterList struct {
	clinicsync.Remote
	sim *sim.Server
}

func (x expireAfterList) ListUnsynchronized(ctx context.Context) ([]clinicsync.Document, error) {
	docs, err := x.Remote.ListUnsynchronized(ctx)
	x.sim.ExpireLinks()
	return docs, err
}

func TestExpiredLinksAreFetchedAgain(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 40, Patients: 4, Seed: 5})
	s := r.sim
	r.eng.remote = expireAfterList{Remote: r.client, sim: s}
	res := r.pass()
	if res.Confirmed != 40 {
		t.Fatalf("%+v", res)
	}
	st := s.Stats()
	if st.ExpiredLinks != 40 || st.Endpoints["GET /documents/{uuid}"] != 40 {
		t.Fatalf("expired %d, per-document GETs %d", st.ExpiredLinks, st.Endpoints["GET /documents/{uuid}"])
	}
	r.checkEndState(true)
}

// With a fifth of API calls and PDF downloads failing, every valid document
// still ends confirmed, and the client never provokes a 429.
func TestFaultsEveryValidDocumentEndsConfirmed(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 150, Patients: 15, Hostile: true, Seed: 11,
		FaultRate: 0.2, PDFFaultRate: 0.2, FaultStall: 50 * time.Millisecond})
	ctx := context.Background()
	expiring := expireAfterList{Remote: r.client, sim: r.sim}
	var lastErr error
	for i := 0; i < 40; i++ {
		// Every other pass, the links expire between the list and the downloads.
		r.eng.remote = r.client
		if i%2 == 0 {
			r.eng.remote = expiring
		}
		_, lastErr = r.eng.Pass(ctx)
		if lastErr == nil && r.allLanded() {
			break
		}
		time.Sleep(15 * time.Millisecond) // let the (millisecond) backoff expire
	}
	if !r.allLanded() {
		for _, x := range r.sim.Expected() {
			it, _ := r.store.Get(ctx, x.UUID)
			if (x.Land && it.State != clinicsync.StateConfirmed) || (!x.Land && !it.FailureReported) {
				t.Errorf("%s land=%v synchronized=%v: %s %s %q next %v reported %v", x.UUID, x.Land,
					r.sim.Synchronized(x.UUID), it.State, it.ErrorCode, it.LastError, it.NextAttemptAt, it.FailureReported)
			}
		}
		t.Fatalf("not every valid document landed; last pass error: %v", lastErr)
	}
	r.checkEndState(false)
	st := r.sim.Stats()
	if st.Faults == 0 || st.PDFFaults == 0 || st.ExpiredLinks == 0 {
		t.Fatalf("no faults were injected: %+v", st)
	}
	t.Logf("faults injected: %d API, %d PDF; expired links met: %d; 429s: %d", st.Faults, st.PDFFaults, st.ExpiredLinks, st.RateLimited)
}

// allLanded reports whether every valid document is confirmed and every
// invalid one's failure has been reported.
func (r *rig) allLanded() bool {
	for _, x := range r.sim.Expected() {
		if it, err := r.store.Get(context.Background(), x.UUID); !x.Land && (err != nil || !it.FailureReported) {
			return false
		}
		if x.Land && !r.sim.Synchronized(x.UUID) {
			return false
		}
		if it, err := r.store.Get(context.Background(), x.UUID); x.Land && (err != nil || it.State != clinicsync.StateConfirmed) {
			return false
		}
	}
	return true
}

func TestManualRetryWindow(t *testing.T) {
	r := newRig(t, sim.Options{Hostile: true, Seed: 1})
	var mu sync.Mutex
	now := time.Now().Truncate(time.Millisecond)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r.store.Now = clock
	r.pass()
	var bad string
	for _, x := range r.sim.Expected() {
		if x.Content.Kind == sim.ContentHTML {
			bad = x.UUID
		}
	}
	reports := func() int {
		n := 0
		for _, c := range r.sim.StatusCalls() {
			if c.UUID == bad && !c.Status.Success {
				n++
			}
		}
		return n
	}
	if reports() != 1 {
		t.Fatalf("%d failure reports before the retry", reports())
	}
	ctx := context.Background()
	_, err := r.eng.Retry(ctx, bad)
	if clinicsync.ErrorCode(err) != clinicsync.ENotPDF {
		t.Fatalf("first manual retry: %v", err)
	}
	if reports() != 2 {
		t.Fatalf("a manual retry that fails again is reported again: %d reports", reports())
	}
	mu.Lock()
	now = now.Add(20 * time.Second)
	mu.Unlock()
	if in, _ := r.eng.RetryAvailableIn(ctx, bad); in != 10*time.Second {
		t.Fatalf("countdown %v, want 10s", in)
	}
	left, err := r.eng.Retry(ctx, bad)
	if clinicsync.ErrorCode(err) != clinicsync.ETooSoon || left != 10*time.Second {
		t.Fatalf("retry after 20 s: left %v, %v", left, err)
	}
	if reports() != 2 {
		t.Fatal("a refused retry must not reach the platform")
	}
	mu.Lock()
	now = now.Add(10 * time.Second)
	mu.Unlock()
	if in, _ := r.eng.RetryAvailableIn(ctx, bad); in != 0 {
		t.Fatalf("countdown after 30 s: %v", in)
	}
	if _, err := r.eng.Retry(ctx, bad); clinicsync.ErrorCode(err) != clinicsync.ENotPDF {
		t.Fatalf("retry after 30 s: %v", err)
	}
}

func TestManualRetryDeliversAfterTheCauseIsFixed(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 3, Seed: 2})
	// The destination disappears (an unplugged share): nothing is touched.
	hidden := r.root + ".away"
	os.Rename(r.root, hidden)
	_, err := r.eng.Pass(context.Background())
	if clinicsync.ErrorCode(err) != clinicsync.EDestination || !strings.Contains(clinicsync.ErrorMessage(err), "not reachable") {
		t.Fatalf("unreachable destination: %v", err)
	}
	if _, statErr := os.Stat(r.root); statErr == nil {
		t.Fatal("the root was re-created locally")
	}
	if n := len(r.sim.StatusCalls()); n != 0 {
		t.Fatalf("%d status calls while the destination was away", n)
	}
	if r.eng.Snapshot().Status != StatusAttention {
		t.Fatal("a failed pass must show attention")
	}
	os.Rename(hidden, r.root)
	res := r.pass()
	if res.Confirmed != 3 {
		t.Fatalf("after the share returns: %+v", res)
	}
	if r.eng.Snapshot().Status != StatusIdle {
		t.Fatalf("status %s after a good pass", r.eng.Snapshot().Status)
	}
}

func TestRevokedTokenSignsOut(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 5, Seed: 2})
	r.sim.SetToken("another-token")
	_, err := r.eng.Pass(context.Background())
	if clinicsync.ErrorCode(err) != clinicsync.EUnauthorized {
		t.Fatalf("pass with a refused token: %v", err)
	}
	snap := r.eng.Snapshot()
	if snap.Status != StatusSignedOut || !snap.SignedOut {
		t.Fatalf("snapshot %+v", snap)
	}
	if strings.Contains(snap.LastPassError, "test-token") {
		t.Fatal("token in the error")
	}
	counts, _ := r.store.Counts(context.Background())
	if counts[clinicsync.StateFailed] != 0 {
		t.Fatal("documents must not be failed for a sign-in problem")
	}
}

func TestRecoverRemovesInterruptedTempFiles(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 2, Seed: 4})
	ctx := context.Background()
	docs, err := r.client.ListUnsynchronized(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := docs[0]
	if _, _, err := r.store.Upsert(ctx, "askara", d); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(r.root, dest.Layout{Root: r.root}.PatientDir(d.Patient))
	os.MkdirAll(dir, 0o755)
	tmp := filepath.Join(dir, ".clinicsync-"+d.UUID+"-123.part")
	os.WriteFile(tmp, []byte("%PDF-half"), 0o644)
	r.store.MarkDownloading(ctx, d.UUID, dir)

	if err := r.eng.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatal("temp file survived recovery")
	}
	if it, _ := r.store.Get(ctx, d.UUID); it.State != clinicsync.StatePending {
		t.Fatalf("state %s after recovery", it.State)
	}
	r.pass()
	r.checkEndState(true)
}

func TestFailedDocumentLeavesNoEmptyFolder(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 4, Patients: 2, Seed: 8})
	ctx := context.Background()
	cfg, _ := r.eng.conf()
	r.eng.Reconfigure(cfg, dest.Layout{Root: r.root, Template: "{LASTNAME}/{FIRSTNAME}"})
	add := func(first, last string, c sim.Content) {
		r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Type: "referral_letter",
			Patient: clinicsync.Patient{FirstName: first, LastName: last},
			PDF:     clinicsync.PDF{FileName: "letter.pdf"}}, Content: c})
	}
	// Patients whose only document fails: nothing of theirs on disk.
	add("Fiona", "Failing", sim.Content{Kind: sim.ContentHTML})
	add("Ed", "Empty", sim.Content{Kind: sim.ContentEmpty})
	// A patient named Inbox lands beside the notes' Inbox, not in it.
	add("Ann", "inbox", sim.ValidPDF(0))
	r.pass()
	r.checkEndState(true) // no empty folder either
	for _, p := range []string{"FAILING", "EMPTY"} {
		if _, err := os.Stat(filepath.Join(r.root, p)); !os.IsNotExist(err) {
			t.Errorf("folder %s of a failed document: %v", p, err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(r.root, "INBOX_", "ANN", "letter*.pdf")); len(m) != 1 {
		t.Errorf("the Inbox patient's letter: %v (tree %v)", m, files(t, r.root))
	}
	if _, err := r.eng.SaveNote(ctx, notes.Note{Source: "askara", ID: "n-1", Kind: notes.KindNote,
		Sections: []notes.Section{{Text: "No patient."}}}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(r.root, dest.InboxFolder))
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".txt") {
		t.Errorf("the Inbox holds %v, want only the note", entries)
	}
}

func TestEventsAndSnapshot(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 10, Seed: 6})
	sub := r.eng.Events().Subscribe(events.PassStarted | events.PassFinished | events.ItemChanged | events.StatusChanged)
	defer sub.Unsubscribe()
	r.pass()
	seen := map[events.Type]int{}
	confirmed := 0
	for len(sub.C) > 0 {
		ev := <-sub.C
		seen[ev.Type]++
		if ev.Type == events.ItemChanged && ev.State == clinicsync.StateConfirmed {
			confirmed++
		}
	}
	if seen[events.PassStarted] != 1 || seen[events.PassFinished] != 1 || confirmed != 10 || seen[events.StatusChanged] < 2 {
		t.Fatalf("events %v, confirmed %d", seen, confirmed)
	}
	snap := r.eng.Snapshot()
	if snap.Counts[clinicsync.StateConfirmed] != 10 || snap.LastPassEnd.IsZero() || snap.Syncing {
		t.Fatalf("snapshot %+v", snap)
	}
	entries, _ := r.store.Activity(context.Background(), store.ActivityQuery{Limit: 100})
	if len(entries) < 20 {
		t.Fatalf("activity log has %d entries for 10 documents", len(entries))
	}
}

// A front end refreshes on events only: every change of what the snapshot
// shows is published, the next pass's time included, which the run loop
// sets after the pass has ended and which no other event announces.
func TestSnapshotChangesArePublished(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 2, Seed: 6})
	sub := r.eng.Events().Subscribe(events.SnapshotChanged)
	defer sub.Unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case <-sub.C:
			if s := r.eng.Snapshot(); !s.NextPass.IsZero() && s.Counts[clinicsync.StateConfirmed] == 2 {
				return
			}
		case <-deadline:
			t.Fatalf("no SnapshotChanged announced the next pass; snapshot %+v", r.eng.Snapshot())
		}
	}
}

// A pass cancelled in the middle (Quit, shutdown) leaves no document stuck
// in "downloading" and no temp file; the next pass finishes the job.
func TestCancelledPassLeavesNothingHalfDone(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 80, Patients: 8, Seed: 13, PDFSize: 256 << 10})
	// The pass is cancelled when the 10th download starts, and the
	// downloads after it wait for that: the cancel lands in the middle of
	// the pass however fast or busy the machine is.
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	var hold atomic.Bool
	hold.Store(true)
	hc := &http.Client{Transport: roundTrip(func(req *http.Request) (*http.Response, error) {
		if hold.Load() && strings.HasPrefix(req.URL.Path, "/files/") {
			if n := started.Add(1); n == 10 {
				cancel()
			} else if n > 10 {
				<-req.Context().Done()
				return nil, req.Context().Err()
			}
		}
		return http.DefaultTransport.RoundTrip(req)
	})}
	client, err := askara.New(askara.Options{BaseURL: r.url, HTTPClient: hc,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "test-token"})})
	if err != nil {
		t.Fatal(err)
	}
	r.eng = New(r.eng.Config(), r.store, client, r.eng.Destination(), events.New(), nil)
	_, err = r.eng.Pass(ctx)
	if clinicsync.ErrorCode(err) != clinicsync.ECanceled {
		t.Fatalf("cancelled pass: %v", err)
	}
	counts, _ := r.store.Counts(context.Background())
	if counts[clinicsync.StateDownloading] != 0 || counts[clinicsync.StateFailed] != 0 {
		t.Fatalf("after cancel: %v", counts)
	}
	if counts[clinicsync.StateConfirmed] == 80 {
		t.Fatal("the pass was not cancelled in the middle")
	}
	hold.Store(false)
	r.pass()
	r.checkEndState(false)
}

// roundTrip is an http.RoundTripper from a function.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// A manual retry never works on a document a pass is working on, so the
// two never write or confirm it twice.
func TestRetryAndPassNeverShareADocument(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 2, Seed: 17})
	ctx := context.Background()
	docs, _ := r.client.ListUnsynchronized(ctx)
	for _, d := range docs {
		r.store.Upsert(ctx, "askara", d)
	}
	u := docs[0].UUID
	if !r.eng.claim(u) { // a pass is on it
		t.Fatal("claim")
	}
	if _, err := r.eng.Retry(ctx, u); clinicsync.ErrorCode(err) != clinicsync.EConflict {
		t.Fatalf("retry during a pass: %v", err)
	}
	it, _ := r.store.Get(ctx, u)
	var res PassResult
	if err := r.eng.process(ctx, it, &res); err != nil || res.Confirmed != 0 || len(r.sim.StatusCalls()) != 0 {
		t.Fatalf("a second worker on the same document: %+v %v", res, err)
	}
	r.eng.unclaim(u)
	if _, err := r.eng.Retry(ctx, u); err != nil {
		t.Fatalf("retry after the pass: %v", err)
	}
	if n := len(r.sim.StatusCalls()); n != 1 {
		t.Fatalf("%d status calls", n)
	}
}

// Settings changed in the window apply to the next document without a
// restart; what was written before stays where it is.
func TestReconfigureAppliesToTheNextDocument(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 3, Patients: 1, Seed: 3})
	r.pass()
	before := files(t, r.root)
	if len(before) != 3 {
		t.Fatalf("first root has %d files, want 3", len(before))
	}
	root2 := filepath.Join(r.dir, "Other")
	if err := os.Mkdir(root2, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := r.eng.Config()
	cfg.SoftwareID = "other_software"
	r.eng.Reconfigure(cfg, dest.Layout{Root: root2, Template: "{LASTNAME}"})
	uuid := r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{
		Patient: clinicsync.Patient{FirstName: "Ada", LastName: "Lovelace"}, PDF: clinicsync.PDF{FileName: "letter.pdf"}}}).UUID
	r.pass()
	got := files(t, root2)
	if _, ok := got[filepath.Join("LOVELACE", "letter.pdf")]; !ok || len(got) != 1 {
		t.Fatalf("second root: %v", got)
	}
	if len(files(t, r.root)) != 3 {
		t.Fatal("files under the first root changed")
	}
	v, err := r.eng.Document(context.Background(), uuid)
	if err != nil || v.State != clinicsync.StateConfirmed || v.Folder != filepath.Join(root2, "LOVELACE") {
		t.Fatalf("document view %+v, %v", v, err)
	}
	var dir string
	for _, c := range r.sim.StatusCalls() {
		if c.UUID == uuid {
			dir = c.Status.Directory
		}
	}
	if dir != "other_software" {
		t.Fatalf("confirmation directory %q, want the new software id", dir)
	}
}

// A webhook's document is processed at once from the event's metadata;
// a retry of the event does nothing more; a "Synchronize" click in the
// platform re-checks the file and confirms it again, without a second copy.
func TestPushFromAnEvent(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 0, Seed: 5})
	ctx := context.Background()
	d := r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{FirstName: "Ada", LastName: "Lovelace"},
		PDF: clinicsync.PDF{FileName: "letter.pdf"}}})
	before := r.sim.Stats().APIRequests
	out, err := r.eng.Push(ctx, clinicsync.DocumentEvent{Document: d, Action: "new_document", Verified: true})
	if err != nil || out != "saved and confirmed" {
		t.Fatalf("push: %q %v", out, err)
	}
	st := r.sim.Stats()
	if st.APIRequests-before != 1 { // the status call only: no list, no GET
		t.Fatalf("%d API requests for a pushed document, want 1", st.APIRequests-before)
	}
	if out, _ := r.eng.Push(ctx, clinicsync.DocumentEvent{Document: d, Action: "new_document", Verified: true}); out != "already delivered" {
		t.Fatalf("second push: %q", out)
	}
	out, err = r.eng.Push(ctx, clinicsync.DocumentEvent{Document: d, Action: "document_synchronize", Verified: true})
	if err != nil || out != "already on disk; confirmed" {
		t.Fatalf("synchronize: %q %v", out, err)
	}
	if got := files(t, r.root); len(got) != 1 {
		t.Fatalf("files %v", got)
	}
	// An event without metadata: the document is fetched.
	d2 := r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{LastName: "Hopper"},
		PDF: clinicsync.PDF{FileName: "b.pdf"}}})
	if out, err := r.eng.Push(ctx, clinicsync.DocumentEvent{Document: clinicsync.Document{UUID: d2.UUID}, Action: "new_document", Verified: true}); err != nil || out != "saved and confirmed" {
		t.Fatalf("push without metadata: %q %v", out, err)
	}
	if res := r.pass(); res.Written != 0 || res.Confirmed != 0 {
		t.Fatalf("the next pass did pushed documents again: %+v", res)
	}
}

// Polling Askara's notes: 300 notes, several sharing one createdAt second,
// across pages; every note is written exactly once, a second poll writes
// nothing, and an updated note replaces its file and says so.
func TestPollNotesEveryNoteOnce(t *testing.T) {
	r := newRig(t, sim.Options{Notes: 300, Patients: 7, Seed: 13})
	ctx := context.Background()
	src := &askara.NoteSource{Client: r.client}
	r.eng.SetNotes(src, true)
	// The first poll looks 7 days back: put the clock just after the
	// simulator's generated notes (they start on 2026-01-05).
	r.eng.Now = func() time.Time { return time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC) }
	saved, err := r.eng.PollNotes(ctx)
	if err != nil || saved != 300 {
		t.Fatalf("first poll: %d saved, %v", saved, err)
	}
	var txt []string
	filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".txt") {
			txt = append(txt, p)
		}
		return nil
	})
	if len(txt) != 300 {
		t.Fatalf("%d note files, want 300", len(txt))
	}
	if saved, err := r.eng.PollNotes(ctx); err != nil || saved != 0 {
		t.Fatalf("second poll: %d saved, %v", saved, err)
	}
	notes := r.sim.Notes()
	last := notes[len(notes)-1]
	if !r.sim.UpdateNote(last.UUID, "Amended: patient called back.") {
		t.Fatal("update")
	}
	if saved, err := r.eng.PollNotes(ctx); err != nil || saved != 1 {
		t.Fatalf("poll after an update: %d saved, %v", saved, err)
	}
	views, _ := r.eng.Notes(ctx, false, 1000)
	var path string
	for _, v := range views {
		if v.ID == last.UUID {
			path = v.Path
		}
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "Amended: patient called back.") {
		t.Fatalf("the updated note's file was not replaced: %s", path)
	}
	entries, _ := r.store.Activity(ctx, store.ActivityQuery{Search: "Updated note", Limit: 10})
	if len(entries) != 1 {
		t.Fatalf("activity says %d updates", len(entries))
	}
	if len(views) != 300 {
		t.Fatalf("%d notes recorded", len(views))
	}
}

type refusingLister struct{ calls int }

func (l *refusingLister) ListNotes(ctx context.Context, after time.Time) ([]notes.Note, error) {
	l.calls++
	return nil, clinicsync.Errorf(clinicsync.EForbidden, "Askara refused the notes list: the sign-in lacks the read:notes scope; sign in again (the app asks for it).")
}

// A missing read:notes scope is said once, clearly, not at every poll.
func TestNotesScopeMissingSaidOnce(t *testing.T) {
	r := newRig(t, sim.Options{Seed: 1})
	l := &refusingLister{}
	r.eng.SetNotes(l, true)
	for i := 0; i < 3; i++ {
		if _, err := r.eng.PollNotes(context.Background()); clinicsync.ErrorCode(err) != clinicsync.EForbidden {
			t.Fatalf("poll: %v", err)
		}
	}
	entries, _ := r.store.Activity(context.Background(), store.ActivityQuery{Search: "read:notes", Limit: 10})
	if l.calls != 3 || len(entries) != 1 || entries[0].Level != store.LevelError {
		t.Fatalf("%d polls, activity %+v", l.calls, entries)
	}
	r.eng.EnableNotes(false)
	if _, err := r.eng.PollNotes(context.Background()); err != nil || l.calls != 3 {
		t.Fatal("polled with notes off")
	}
}
