package engine

import (
	"path/filepath"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/dest"
)

// assignNames decides, over the whole listing, which of several documents
// that would get the same file in the same patient folder keeps the plain
// name: the first listed (the oldest). The others get the document-specific
// name at once, so concurrent workers never race for the plain name and the
// outcome does not depend on timing or crashes. dest.Save still checks the
// disk, which covers documents listed in different passes.
func (e *Engine) assignNames(docs []clinicsync.Document) {
	_, layout := e.conf()
	seen := make(map[string]bool, len(docs))
	names := make(map[string]string)
	for _, d := range docs {
		if d.UUID == "" {
			continue
		}
		name := dest.FileName(d)
		key := strings.ToLower(norm.NFC.String(filepath.Join(layout.PatientDir(d.Patient), name)))
		if seen[key] {
			names[d.UUID] = dest.DistinctName(name, d.UUID)
		}
		seen[key] = true
	}
	e.linkMu.Lock()
	e.names = names
	e.linkMu.Unlock()
}

// fileName is the name a document should be saved under.
func (e *Engine) fileName(it store.Item) string {
	e.linkMu.Lock()
	n := e.names[it.UUID]
	e.linkMu.Unlock()
	if n != "" {
		return n
	}
	return dest.FileName(it.Document())
}
