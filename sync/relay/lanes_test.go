package relay

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// engineRig is a relay whose sink is a real engine against the simulator
// behind an optional wrapper (to make the platform misbehave).
type engineRig struct {
	*relayRig
	sim  *sim.Server
	eng  *engine.Engine
	root string
}

func newEngineRig(t *testing.T, cfg engine.Config, wrap func(http.Handler) http.Handler, o Options) *engineRig {
	t.Helper()
	s := sim.New(sim.Options{Seed: 17})
	var h http.Handler = s
	if wrap != nil {
		h = wrap(s)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	s.SetBaseURL(ts.URL)
	dir := t.TempDir()
	root := filepath.Join(dir, "Patients")
	os.Mkdir(root, 0o755)
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	client, _ := askara.New(askara.Options{BaseURL: ts.URL, TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})})
	cfg.SoftwareID = "t"
	eng := engine.New(cfg, st, client, dest.Layout{Root: root, Template: dest.DefaultTemplate}, nil, nil)
	eng.SetNotes(nil, true)
	o.Store, o.Sink = st, eng
	rr := newRelayRig(t, o)
	rr.dbDir = dir
	return &engineRig{relayRig: rr, sim: s, eng: eng, root: root}
}

// bareEvent is an Askara delivery that names a document without its
// metadata (the engine fetches it).
func bareEvent(uuid, action string) []byte {
	b, _ := json.Marshal(map[string]any{"events": []any{map[string]any{"id": uuid, "resource_type": "document",
		"action": action, "metadata": map[string]any{}}}, "meta": map[string]any{"webhook_id": "wh"}})
	return b
}

// One hung call stalls no one else (issue 11, item 3): with the platform's
// status endpoint hanging for one document, another document and another
// platform's note go through meanwhile; the hung one is saved, its inbox
// row says the confirmation was deferred (not "confirmed"), and a pass
// confirms it once the platform answers again.
func TestOneHungCallStallsNoOtherDelivery(t *testing.T) {
	var hang atomic.Value // uuid whose status call hangs
	hang.Store("")
	release := make(chan struct{})
	var hung atomic.Int64
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u := hang.Load().(string); u != "" && r.Method == http.MethodPost && r.URL.Path == "/documents/"+u+"/status" {
				hung.Add(1)
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	r := newEngineRig(t, engine.Config{PushCallTimeout: 4 * time.Second, QuickRetryDelay: time.Millisecond}, wrap,
		Options{AllowUnsigned: true, Enabled: []string{"askara", "nabla"}})
	t.Cleanup(func() { close(release) }) // before the servers close (cleanups run last first)
	slow := r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{LastName: "Slow"}, PDF: clinicsync.PDF{FileName: "a.pdf"}}})
	fast := r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{LastName: "Fast"}, PDF: clinicsync.PDF{FileName: "b.pdf"}}})
	hang.Store(slow.UUID)

	if code, out := r.post("/webhooks/askara", bareEvent(slow.UUID, "new_document"), nil); code != 200 {
		t.Fatalf("slow: %d %v", code, out)
	}
	r.until("the slow document's status call to hang", func() bool { return hung.Load() > 0 })
	if code, out := r.post("/webhooks/askara", bareEvent(fast.UUID, "new_document"), nil); code != 200 {
		t.Fatalf("fast: %d %v", code, out)
	}
	note, err := os.ReadFile(filepath.Join("..", "notes", "testdata", "in", "nabla-generate-note-succeeded.json"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out := r.post("/webhooks/nabla", note, nil); code != 200 {
		t.Fatalf("nabla: %d %v", code, out)
	}
	ctx := context.Background()
	r.until("the other document confirmed and the note written while the first hangs", func() bool {
		v, _ := r.eng.Document(ctx, fast.UUID)
		ds, _ := r.st.InboxPendingFor(ctx, "nabla", 10)
		first, _ := r.st.InboxGet(ctx, 1)
		if first.State != store.InboxReceived {
			t.Fatalf("the hung delivery ended (%s: %q) before the others went through", first.State, first.Outcome)
		}
		return v.State == clinicsync.StateConfirmed && len(ds) == 0
	})
	if v, _ := r.eng.Document(ctx, slow.UUID); v.State == clinicsync.StateConfirmed {
		t.Fatal("the hung document is confirmed")
	}
	// The hung call's deadline passes: the file is safe, and the record says
	// what happened.
	var outcome string
	r.until("the slow delivery's outcome", func() bool {
		d, _ := r.st.InboxGet(ctx, 1)
		outcome = d.Outcome
		return d.State != store.InboxReceived
	})
	if !strings.Contains(outcome, "confirmation deferred") || strings.Contains(outcome, "confirmed") && !strings.Contains(outcome, "deferred") {
		t.Fatalf("outcome %q", outcome)
	}
	if v, _ := r.eng.Document(ctx, slow.UUID); v.State != clinicsync.StateSaved || v.Path == "" {
		t.Fatalf("slow document %s %q", v.State, v.Path)
	}
	hang.Store("")
	if _, err := r.eng.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.eng.Document(ctx, slow.UUID); v.State != clinicsync.StateConfirmed {
		t.Fatalf("after the platform recovered: %s", v.State)
	}
}
