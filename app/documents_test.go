package app

import (
	"context"
	"testing"

	"github.com/clinicsync/clinicsync/sync/engine"
)

// An unfiltered answer queued through fyne.Do before Show changed the
// filter (a busy machine runs the UI goroutine late) is dropped: the
// filtered list stays, and the failed document stays selected.
func TestStaleDocumentsAnswerIsDropped(t *testing.T) {
	r := newUIRig(t, 2)
	r.pass()
	v := r.ui.docs
	all, err := r.svc.Documents(context.Background(), engine.DocumentFilter{Limit: documentsShown})
	if err != nil || len(all) != 3 {
		t.Fatalf("%d documents, %v", len(all), err)
	}
	var staleGen int
	r.onUI(func() {
		v.mu.Lock()
		staleGen = v.gen
		v.mu.Unlock()
		r.ui.header.failed.OnTapped() // Show: filters on failed documents, a newer query
	})
	r.until("the failed document selected", func() bool { return v.selected.UUID == r.broken && len(v.items) == 1 })
	r.onUI(func() {
		v.set(staleGen, all, nil, engine.DocumentView{}) // the late, unfiltered answer
		if len(v.items) != 1 || v.selected.UUID != r.broken || v.retry.Hidden {
			t.Fatalf("after a stale answer: %d items, selected %q, retry hidden %v", len(v.items), v.selected.UUID, v.retry.Hidden)
		}
	})
}
