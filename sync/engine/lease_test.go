package engine

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// frontDesk is one PC of the organisation: its own data folder (state
// database), its own engine, the shared documents folder.
type frontDesk struct {
	t     *testing.T
	name  string
	store *store.Store
	url   string
	root  string
	poll  time.Duration

	eng    *Engine
	cancel context.CancelFunc
	done   chan struct{}
}

func newFrontDesk(t *testing.T, name, url, root string, poll time.Duration) *frontDesk {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &frontDesk{t: t, name: name, store: st, url: url, root: root, poll: poll}
}

// start runs a new engine on the PC's data folder (a restart keeps the
// installation's holder id: it is in the store).
func (f *frontDesk) start() {
	f.t.Helper()
	client, err := askara.New(askara.Options{BaseURL: f.url,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "test-token"})})
	if err != nil {
		f.t.Fatal(err)
	}
	f.eng = New(Config{SoftwareID: softwareID, PollInterval: f.poll, BackoffBase: 10 * time.Millisecond,
		BackoffMax: 50 * time.Millisecond, QuickRetryDelay: time.Millisecond},
		f.store, client, dest.Layout{Root: f.root, Template: dest.DefaultTemplate}, events.New(), nil)
	f.eng.lease.pc, f.eng.lease.user = f.name, "reception"
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	eng := f.eng
	go func() {
		defer close(f.done)
		eng.Run(ctx)
	}()
	f.t.Cleanup(f.stop)
}

// stop ends the engine: cleanly (the lease is removed), or as a crash
// does (it stays, and goes stale).
func (f *frontDesk) stop() { f.kill(false) }

func (f *frontDesk) kill(crash bool) {
	if f.cancel == nil {
		return
	}
	f.eng.lease.mu.Lock()
	f.eng.lease.keepOnStop = crash
	f.eng.lease.mu.Unlock()
	f.cancel()
	<-f.done
	f.cancel = nil
}

func (f *frontDesk) writes() bool { return f.cancel != nil && f.eng.writing() }

func (f *frontDesk) standsByFor(writer string) bool {
	if f.cancel == nil {
		return false
	}
	s := f.eng.Snapshot()
	return s.StandbyFor == writer && s.Status == StatusStandby && !f.eng.writing()
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// Two front-desk PCs, one shared documents folder, one platform: exactly
// one writes and the other stands by, naming it; when the writer is
// killed (its engine's context ends and, as in a crash, its lease stays
// behind) the other writes within three poll intervals. Five such
// handovers, then one after a clean stop (the lease is removed: at once);
// with documents arriving all the while, every document lands once: none
// twice, none lost.
func TestOneWriterPerSharedFolderAcrossHandovers(t *testing.T) {
	const poll = 2 * time.Second // the handover takes up to 2.3 polls: 1.4 s of slack for a busy machine
	s := sim.New(sim.Options{Seed: 16, Patients: 4})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.SetBaseURL(ts.URL)
	root := filepath.Join(t.TempDir(), "Patients")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	pcs := []*frontDesk{newFrontDesk(t, "FRONTDESK-1", ts.URL, root, poll), newFrontDesk(t, "FRONTDESK-2", ts.URL, root, poll)}

	// Documents keep arriving, some with the same file name for one
	// patient (a second referral letter).
	feed, stopFeed := context.WithCancel(context.Background())
	var fed sync.WaitGroup
	fed.Add(1)
	go func() {
		defer fed.Done()
		patients := []clinicsync.Patient{{FirstName: "Jean", LastName: "Dupont"}, {FirstName: "Amira", LastName: "Haddad"},
			{FirstName: "Chloé", LastName: "Lefèvre"}}
		for i := 0; ; i++ {
			s.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: patients[i%len(patients)],
				PDF: clinicsync.PDF{FileName: fmt.Sprintf("letter_%d.pdf", i%7)}}})
			select {
			case <-feed.Done():
				return
			case <-time.After(poll / 25): // about 25 documents a poll interval
			}
		}
	}()
	defer func() { stopFeed(); fed.Wait() }()

	pcs[0].start()
	pcs[1].start()
	var writer, other *frontDesk
	waitUntil(t, "one writer", 10*time.Second, func() bool {
		switch {
		case pcs[0].writes() && pcs[1].standsByFor(pcs[0].name):
			writer, other = pcs[0], pcs[1]
		case pcs[1].writes() && pcs[0].standsByFor(pcs[1].name):
			writer, other = pcs[1], pcs[0]
		}
		return writer != nil
	})
	lease, err := dest.Layout{Root: root}.ReadLease()
	if err != nil || lease.PC != writer.name || lease.User != "reception" || lease.Heartbeat.IsZero() {
		t.Fatalf("the lease in the folder: %+v, %v", lease, err)
	}
	if err := other.eng.mayWrite(context.Background()); clinicsync.ErrorCode(err) != clinicsync.EStandby ||
		!strings.Contains(clinicsync.ErrorMessage(err), writer.name+" writes to this folder") {
		t.Fatalf("the PC standing by may write: %v", err)
	}

	const kills = 5
	for round := 1; round <= kills+1; round++ {
		// Let the writer write for a moment, then kill it (its lease stays
		// and must go stale); the last round stops it cleanly.
		before := len(s.StatusCalls())
		waitUntil(t, "documents written", 10*time.Second, func() bool { return len(s.StatusCalls()) > before+3 })
		crash := round <= kills
		last, err := dest.Layout{Root: root}.ReadLease() // renewed at this time or later
		if err != nil || last.PC != writer.name {
			t.Fatalf("round %d: the lease is %+v, %v", round, last, err)
		}
		writer.kill(crash)
		took := waitUntil(t, fmt.Sprintf("round %d: %s takes over", round, other.name), 10*poll, other.writes)
		t.Logf("round %d (crash %v): %s writes %v after %s stopped", round, crash, other.name, took.Round(time.Millisecond), writer.name)
		if took > 3*poll {
			t.Errorf("round %d: the handover took %v, more than 3 poll intervals (%v)", round, took, 3*poll)
		}
		// A crashed writer's lease is taken only once it stayed the same
		// for 2 poll intervals.
		if unchanged := time.Since(last.Heartbeat); crash && unchanged < 2*poll-time.Millisecond {
			t.Errorf("round %d: a lease renewed %v ago was taken: not stale yet", round, unchanged)
		}
		// The stopped PC starts again, and stands by for the new writer.
		writer.start()
		waitUntil(t, fmt.Sprintf("round %d: %s stands by", round, writer.name), 10*time.Second,
			func() bool { return writer.standsByFor(other.name) && other.writes() })
		writer, other = other, writer
	}

	stopFeed()
	fed.Wait()
	want := s.Expected()
	unconfirmed := func() []string {
		var ids []string
		for _, x := range want {
			if !s.Synchronized(x.UUID) {
				ids = append(ids, x.UUID)
			}
		}
		return ids
	}
	deadline := time.Now().Add(90 * time.Second) // a deadline, not a wait: -race on a busy CI is slow
	for len(unconfirmed()) > 0 {
		if time.Now().After(deadline) {
			for _, id := range unconfirmed() {
				for _, pc := range pcs {
					it, err := pc.store.Get(context.Background(), id)
					t.Logf("%s on %s: %s attempts %d next %v code %s: %s (%v)", id, pc.name, it.State, it.Attempts,
						it.NextAttemptAt, it.ErrorCode, it.LastError, err)
				}
			}
			t.Fatalf("%d of %d documents not confirmed after 90 s", len(unconfirmed()), len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	pcs[0].stop()
	pcs[1].stop()

	onDisk := map[string][]string{} // sha256 → files
	for rel, sum := range files(t, root) {
		if strings.HasSuffix(rel, ".part") || strings.HasPrefix(filepath.Base(rel), ".") {
			t.Errorf("left behind: %s", rel)
			continue
		}
		onDisk[sum] = append(onDisk[sum], rel)
	}
	dup, lost := 0, 0
	for _, x := range want {
		switch n := len(onDisk[x.SHA256]); {
		case n == 0:
			lost++
			t.Errorf("lost: %s (%s for %s)", x.UUID, x.FileName, x.Patient.DisplayName())
		case n > 1:
			dup++
			t.Errorf("written %d times: %v", n, onDisk[x.SHA256])
		}
	}
	if len(onDisk) != len(want) {
		t.Errorf("%d files for %d documents", len(onDisk), len(want))
	}
	t.Logf("%d documents across %d handovers after a kill and one after a clean stop: %d duplicated, %d lost", len(want), kills, dup, lost)
	if _, err := os.Stat(filepath.Join(root, dest.LeaseFile)); !os.IsNotExist(err) {
		t.Errorf("the lease outlived both PCs' clean stops: %v", err)
	}
}

// unkeptShare is the folder on a share that does not keep the lease: each
// renewal's read gives something else than what was written.
type unkeptShare struct{ dest.Layout }

func (u unkeptShare) WriteLease(l clinicsync.Lease) (clinicsync.Lease, error) {
	return clinicsync.Lease{}, &clinicsync.Error{Code: clinicsync.ELeaseUnreliable,
		Message: "The folder " + u.Root + " cannot keep the writer's lease (what was written could not be read back): if several PCs write to it, one document can be written twice."}
}

func (u unkeptShare) TakeLease(l clinicsync.Lease) (clinicsync.Lease, error) { return u.WriteLease(l) }

// A share that does not keep the lease is said (status, activity log),
// and this PC writes anyway: one PC alone on it must not stop.
func TestAShareThatDoesNotKeepTheLeaseIsSaid(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 3, Seed: 5})
	cfg := r.eng.Config()
	cfg.PollInterval = time.Second
	r.eng.Reconfigure(cfg, unkeptShare{dest.Layout{Root: r.root, Template: dest.DefaultTemplate}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the documents", func() bool { return len(r.sim.StatusCalls()) == 3 })
	waitFor(t, "the problem said", func() bool {
		snap := r.eng.Snapshot()
		return strings.Contains(snap.LeaseProblem, "cannot keep the writer's lease") && snap.Status == StatusAttention
	})
	lines, err := r.eng.Activity(context.Background(), LogQuery{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range lines {
		if strings.Contains(l.Message, "let only one PC use this folder") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the activity log says it %d times", n)
	}
}

// A writer that finds another PC's lease in the folder (it took over while
// this one was stalled past staleness) stops writing at once and says who
// writes now.
func TestAWriterThatLostTheLeaseStandsBy(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 2, Seed: 6})
	cfg := r.eng.Config()
	cfg.PollInterval = time.Second
	r.eng.Reconfigure(cfg, r.eng.Destination())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the writer", func() bool { return r.eng.writing() && len(r.sim.StatusCalls()) == 2 })
	other := clinicsync.Lease{LeaseHolder: clinicsync.LeaseHolder{ID: "other-installation", PC: "FRONTDESK-9", User: "bob"},
		Heartbeat: time.Now(), Nonce: "n"}
	l := dest.Layout{Root: r.root}
	if back, err := l.WriteLease(other); err != nil || back.ID != other.ID {
		t.Fatalf("%+v %v", back, err)
	}
	waitFor(t, "standing by", func() bool { return r.eng.Snapshot().StandbyFor == "FRONTDESK-9" })
	if r.eng.writing() {
		t.Fatal("still writing")
	}
	d := r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{PDF: clinicsync.PDF{FileName: "late.pdf"}}})
	if _, err := r.eng.Push(context.Background(), clinicsync.DocumentEvent{Document: d, Action: "new_document", Verified: true}); clinicsync.ErrorCode(err) != clinicsync.EStandby {
		t.Fatalf("a push while standing by: %v", err)
	}
	if r.sim.Synchronized(d.UUID) {
		t.Fatal("written while standing by")
	}
	if got, _ := l.ReadLease(); got.ID != other.ID {
		t.Fatalf("the other PC's lease was overwritten: %+v", got)
	}
}

// A documents folder that is not there when Run starts is said as such
// (the lease cannot be read either, and does not hide why), and documents
// are written once it appears.
func TestUnreachableFolderIsSaidBeforeTheLease(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 2, Seed: 7})
	cfg := r.eng.Config()
	cfg.PollInterval = time.Second
	r.eng.Reconfigure(cfg, r.eng.Destination())
	if err := os.Remove(r.root); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the folder said unreachable", func() bool {
		s := r.eng.Snapshot()
		return s.Status == StatusAttention && strings.Contains(s.LastPassError, "is not reachable")
	})
	if err := os.Mkdir(r.root, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the documents", func() bool { return len(r.sim.StatusCalls()) == 2 && r.eng.writing() })
}
