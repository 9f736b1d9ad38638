// Package desttest has test doubles of the documents folder, for the tests
// of the packages that write to it (the engine's, the window's).
package desttest

import (
	"context"
	"path/filepath"
	"sync"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/dest"
)

// Refusing is the documents folder with an injected refusal: while one is
// set, every document's write fails with what it returns for the
// patient's folder; otherwise the Layout writes as usual.
type Refusing struct {
	dest.Layout
	mu     sync.Mutex
	refuse func(dir string) error
}

// Place is Layout.Place, or the refusal.
func (d *Refusing) Place(ctx context.Context, f clinicsync.DocumentFile) (clinicsync.Placed, error) {
	d.mu.Lock()
	refuse := d.refuse
	d.mu.Unlock()
	if refuse != nil {
		return clinicsync.Placed{}, refuse(filepath.Join(d.Root, d.PatientDir(f.Document.Patient)))
	}
	return d.Layout.Place(ctx, f)
}

// Set sets the refusal; nil lets documents through again.
func (d *Refusing) Set(refuse func(dir string) error) {
	d.mu.Lock()
	d.refuse = refuse
	d.mu.Unlock()
}
