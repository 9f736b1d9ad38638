package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// memDest is a second kind of destination, in memory: files in a map,
// one folder per patient, "mem:/<patient>/<name>". It keeps the promises
// of clinicsync.Destination (a document always lands on its own file, an
// identical file is kept, only PDFs are placed), so that the engine can be
// run against it with nothing on disk.
type memDest struct {
	mu     sync.Mutex
	files  map[string][]byte // path → content
	owner  map[string]string // path → the document or note it belongs to
	writes map[string]int    // document uuid or note key → files written
	events int
}

var _ clinicsync.Destination = (*memDest)(nil)

func newMemDest() *memDest {
	return &memDest{files: map[string][]byte{}, owner: map[string]string{}, writes: map[string]int{}}
}

func (m *memDest) folder(p *clinicsync.Patient) string {
	if p == nil {
		return "mem:/inbox"
	}
	return "mem:/" + url.PathEscape(p.UUID)
}

func (m *memDest) Reachable() error { return nil }

func (m *memDest) FileName(d clinicsync.Document, distinct bool) string {
	name := d.UUID + ".pdf"
	if d.PDF.FileName != "" {
		name = url.PathEscape(path.Base(d.PDF.FileName))
	}
	if distinct {
		name = d.UUID + "-" + name
	}
	return name
}

func (m *memDest) CollisionKey(d clinicsync.Document) string {
	return m.folder(&d.Patient) + "/" + strings.ToLower(m.FileName(d, false))
}

func (m *memDest) Staging(d clinicsync.Document) string { return m.folder(&d.Patient) }

func (m *memDest) Place(ctx context.Context, f clinicsync.DocumentFile) (clinicsync.Placed, error) {
	b, err := io.ReadAll(f.Body)
	var ce *clinicsync.Error
	switch {
	case errors.As(err, &ce):
		return clinicsync.Placed{}, err
	case err != nil:
		return clinicsync.Placed{}, clinicsync.Retryable(clinicsync.EUnavailable, "The download was interrupted.", err)
	case !bytes.HasPrefix(b, []byte("%PDF-")):
		return clinicsync.Placed{}, clinicsync.Permanent(clinicsync.ENotPDF, "The file is not a PDF.", nil)
	}
	d := f.Document
	return m.put(d.UUID, f.Prev, m.folder(&d.Patient), f.Name, m.FileName(d, true), b), nil
}

// put stores b for owner: on prev when that is its file, else on name in
// dir, else (another's file is there) on distinct.
func (m *memDest) put(owner, prev, dir, name, distinct string, b []byte) clinicsync.Placed {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := prev
	if p == "" || m.owner[p] != owner {
		p = dir + "/" + name
		if o, taken := m.owner[p]; taken && o != owner {
			p = dir + "/" + distinct
		}
	}
	sum := sha256.Sum256(b)
	placed := clinicsync.Placed{Path: p, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
	if old, ok := m.files[p]; ok && bytes.Equal(old, b) {
		placed.AlreadyPresent = true
		return placed
	}
	m.files[p], m.owner[p] = b, owner
	m.writes[owner]++
	return placed
}

func (m *memDest) Intact(p string, size int64, sha string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.files[p]
	sum := sha256.Sum256(b)
	return ok && int64(len(b)) == size && (sha == "" || hex.EncodeToString(sum[:]) == sha)
}

// Recover has nothing to do: a write in memory is whole or not there.
func (m *memDest) Recover(staging, uuid, writer string) (int, error) { return 0, nil }

func (m *memDest) SaveNote(ctx context.Context, n clinicsync.NoteFile) (clinicsync.Placed, error) {
	return m.put(n.Key, n.Prev, m.folder(n.Patient), n.Name, n.Key+"-"+n.Name, n.Body), nil
}

func (m *memDest) SaveEvent(ctx context.Context, ev clinicsync.EventFile) (string, error) {
	m.mu.Lock()
	m.events++
	m.mu.Unlock()
	return m.put(ev.Key, "", "mem:/events/"+url.PathEscape(ev.Platform), url.PathEscape(ev.Name), ev.Key, ev.Body).Path, nil
}

// The engine writes only through clinicsync.Destination: a real pass
// against the simulator (hostile fixtures included, with file names that
// collide) into an in-memory destination puts every valid document there
// exactly once, confirms each with the path the destination gave, fails
// the others, writes nothing on disk, and a second pass writes nothing
// more. The notes path goes through it too.
func TestEngineAgainstAnInMemoryDestination(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 60, Patients: 6, Hostile: true, Notes: 20, Seed: 21})
	mem := newMemDest()
	eng := New(r.eng.Config(), r.store, r.client, mem, nil, nil)
	ctx := context.Background()
	if err := eng.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := eng.Pass(ctx); err != nil {
			t.Fatalf("pass %d: %v", i+1, err)
		}
	}
	confirmed := map[string][]string{}
	for _, c := range r.sim.StatusCalls() {
		if c.Code == 200 && c.Status.Success {
			confirmed[c.UUID] = append(confirmed[c.UUID], c.Status.Path)
		}
	}
	landed, collided := 0, 0
	for _, x := range r.sim.Expected() {
		it, err := r.store.Get(ctx, x.UUID)
		if err != nil {
			t.Errorf("%s unknown to the store: %v", x.UUID, err)
			continue
		}
		if !x.Land {
			if it.State != clinicsync.StateFailed || mem.writes[x.UUID] != 0 {
				t.Errorf("%s (%s): %s, %d writes", x.UUID, x.Reason, it.State, mem.writes[x.UUID])
			}
			continue
		}
		landed++
		b, ok := mem.files[it.FinalPath]
		sum := sha256.Sum256(b)
		switch {
		case it.State != clinicsync.StateConfirmed:
			t.Errorf("%s (%s): %s %s", x.UUID, x.Label, it.State, it.LastError)
		case !ok || hex.EncodeToString(sum[:]) != x.SHA256 || mem.owner[it.FinalPath] != x.UUID:
			t.Errorf("%s: not in memory at %q with its bytes", x.UUID, it.FinalPath)
		case mem.writes[x.UUID] != 1:
			t.Errorf("%s written %d times", x.UUID, mem.writes[x.UUID])
		case len(confirmed[x.UUID]) != 1 || confirmed[x.UUID][0] != it.FinalPath:
			t.Errorf("%s confirmed with %q, want once with %q", x.UUID, confirmed[x.UUID], it.FinalPath)
		}
		if strings.Contains(it.FinalPath, x.UUID+"-") {
			collided++
		}
	}
	if landed == 0 || collided == 0 {
		t.Fatalf("%d landed, %d with a distinct name: the fixtures did not exercise naming", landed, collided)
	}
	if on := files(t, r.root); len(on) != 0 {
		t.Fatalf("the folder destination was written: %v", on)
	}

	// Notes: each into memory once, none on disk.
	eng.SetNotes(&askara.NoteSource{Client: r.client}, true)
	eng.Now = func() time.Time { return time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC) }
	for i, want := range []int{20, 0} {
		if saved, err := eng.PollNotes(ctx); err != nil || saved != want {
			t.Fatalf("notes poll %d: %d saved, %v", i+1, saved, err)
		}
	}
	views, _ := eng.Notes(ctx, false, 100)
	for _, v := range views {
		if _, ok := mem.files[v.Path]; !ok || v.State != "saved" {
			t.Errorf("note %s: %s at %q, not in memory", v.ID, v.State, v.Path)
		}
	}
	if p, err := eng.SaveEventFile(ctx, "nabla", "note.generated", "ev-1", []byte(`{"id":"ev-1"}`)); err != nil || mem.events != 1 || mem.files[p] == nil {
		t.Fatalf("event file: %q %v", p, err)
	}
	if on := files(t, r.root); len(views) != 20 || len(on) != 0 {
		t.Fatalf("%d notes recorded; on disk %v", len(views), on)
	}
}
