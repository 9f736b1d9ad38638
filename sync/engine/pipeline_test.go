package engine

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/sim"
	"golang.org/x/oauth2"
)

// watchedRemote is the askara client with hooks on the list, the
// downloads and the confirmations, to see what a pass overlaps.
type watchedRemote struct {
	*askara.Client
	listing   atomic.Bool  // ListUnsynchronizedPages has not returned yet
	pdfs      atomic.Int32 // OpenPDF calls
	early     atomic.Int32 // SetStatus calls while listing
	beforePg2 func()       // runs before the second page is handed over
	onStatus  func()       // runs before each SetStatus
}

func (w *watchedRemote) ListUnsynchronizedPages(ctx context.Context, page func([]clinicsync.Document) error) error {
	w.listing.Store(true)
	defer w.listing.Store(false)
	n := 0
	return w.Client.ListUnsynchronizedPages(ctx, func(docs []clinicsync.Document) error {
		if n++; n == 2 && w.beforePg2 != nil {
			w.beforePg2()
		}
		return page(docs)
	})
}

func (w *watchedRemote) OpenPDF(ctx context.Context, url string) (io.ReadCloser, error) {
	w.pdfs.Add(1)
	return w.Client.OpenPDF(ctx, url)
}

func (w *watchedRemote) SetStatus(ctx context.Context, uuid string, st clinicsync.Status) error {
	if w.listing.Load() {
		w.early.Add(1)
	}
	if w.onStatus != nil {
		w.onStatus()
	}
	return w.Client.SetStatus(ctx, uuid, st)
}

// soon polls cond until it holds or 20 s have passed.
func soon(cond func() bool) bool {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// Downloads start with the list's first page, while the next is fetched;
// no confirmation goes before the whole list is in (the filter is live);
// every document lands once; what the engine kept in memory per document
// is gone once it is confirmed.
func TestPassDownloadsWhileListingConfirmsAfter(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 230, Patients: 20, Seed: 3})
	w := &watchedRemote{Client: r.client}
	stalled, paged := false, false
	w.beforePg2 = func() {
		paged = true
		// The second page waits until a download of the first has begun:
		// a pass that lists everything first never gets there.
		stalled = !soon(func() bool { return w.pdfs.Load() > 0 })
	}
	r.eng.remote = w
	res := r.pass()
	if !paged || stalled {
		t.Fatalf("no download began while the list was still being read (read page by page: %v)", paged)
	}
	if n := w.early.Load(); n != 0 {
		t.Fatalf("%d confirmations were sent before the list was complete", n)
	}
	if res.Listed != 230 || res.Confirmed != 230 || res.Written != 230 {
		t.Fatalf("pass %+v, want 230 listed, written and confirmed", res)
	}
	r.checkEndState(true)
	r.eng.linkMu.Lock()
	links, names := len(r.eng.links), len(r.eng.names)
	r.eng.linkMu.Unlock()
	r.eng.mu.Lock()
	claimed := len(r.eng.inflight)
	r.eng.mu.Unlock()
	if links != 0 || names != 0 || claimed != 0 {
		t.Fatalf("after every document was confirmed the engine still keeps %d links, %d names, %d claims", links, names, claimed)
	}
}

// A confirmation does not hold a download's slot: with two workers and
// every confirmation held back, all the files are still written.
func TestConfirmationsDoNotHoldDownloadSlots(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 12, Patients: 4, Seed: 4})
	r.eng.cfg.Workers = 2
	w := &watchedRemote{Client: r.client}
	hold := make(chan struct{})
	w.onStatus = func() { <-hold }
	r.eng.remote = w
	done := make(chan PassResult, 1)
	go func() {
		res, _ := r.eng.Pass(context.Background())
		done <- res
	}()
	saved := 0
	allSaved := soon(func() bool {
		n, _ := r.store.Counts(context.Background())
		saved = n[clinicsync.StateSaved]
		return saved == 12
	})
	close(hold)
	res := <-done
	if !allSaved {
		t.Fatalf("with the confirmations held back only %d of 12 files were saved", saved)
	}
	if res.Confirmed != 12 {
		t.Fatalf("pass %+v, want 12 confirmed", res)
	}
	r.checkEndState(true)
}

// A burst of 5xx from the file host and from the API halves the download
// and the confirmation windows; the documents still all land once, in
// later passes.
func TestFaultBurstShrinksTheWindows(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 60, Patients: 6, Seed: 5})
	// One attempt per call: the burst reaches the engine, not only the
	// client's retries.
	client, err := askara.New(askara.Options{BaseURL: r.url, MaxAttempts: 1,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "test-token"})})
	if err != nil {
		t.Fatal(err)
	}
	r.eng.remote = client
	burst := func(n int) []sim.Fault {
		f := make([]sim.Fault, n)
		for i := range f {
			f[i] = sim.Fault503
		}
		return f
	}
	r.sim.QueuePDFFaults(burst(20)...)
	// The list passes, then confirmations meet 503s.
	r.sim.QueueAPIFaults(append([]sim.Fault{sim.FaultNone}, burst(20)...)...)
	if _, err := r.eng.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	down, conf := r.eng.paceStats()
	if down.Cuts == 0 || down.Low > paceStart/2 {
		t.Errorf("downloads after a 503 burst: %+v, want the window halved", down)
	}
	if conf.Cuts == 0 || conf.Low > paceStart/2 {
		t.Errorf("confirmations after a 503 burst: %+v, want the window halved", conf)
	}
	if !soon(func() bool {
		r.eng.Pass(context.Background())
		return r.allLanded()
	}) {
		t.Fatal("not every document landed after the burst")
	}
	r.checkEndState(true)
}

// A backlog larger than what the rate limit has left never provokes a
// 429: the confirmations in flight stay within the budget the client
// keeps (less its reserve), and what the bucket cannot pay for waits,
// saved, for a later pass.
func TestBacklogNeverProvokesA429(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 250, Patients: 25, Seed: 6, RateLimit: 200})
	client, err := askara.New(askara.Options{BaseURL: r.url, MaxWait: time.Second,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "test-token"})})
	if err != nil {
		t.Fatal(err)
	}
	r.eng.remote = client
	res, err := r.eng.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := r.store.Counts(context.Background())
	st := r.sim.Stats()
	if st.RateLimited != 0 {
		t.Fatalf("%d requests were answered 429", st.RateLimited)
	}
	if res.Confirmed == 0 || res.Confirmed >= 250 || n[clinicsync.StateConfirmed]+n[clinicsync.StateSaved] != 250 {
		t.Fatalf("pass %+v, states %v: want some confirmed, the rest saved", res, n)
	}
	// The bucket's reserve is left for the next pass (the client keeps 10).
	if st.APIRequests > 200-10 {
		t.Fatalf("%d API requests from a bucket of 200", st.APIRequests)
	}
}
