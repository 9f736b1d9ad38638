package engine

import (
	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
)

// assignNames decides, over the whole listing, which of several documents
// that would get the same file in the same patient folder keeps the plain
// name: the first listed (the oldest). The others get the document-specific
// name at once, so concurrent workers never race for the plain name and the
// outcome does not depend on timing or crashes. The destination still
// checks what is there, which covers documents listed in different passes.
func (e *Engine) assignNames(docs []clinicsync.Document) {
	_, dst := e.conf()
	seen := make(map[string]bool, len(docs))
	names := make(map[string]string)
	for _, d := range docs {
		if d.UUID == "" {
			continue
		}
		key := dst.CollisionKey(d)
		if seen[key] {
			names[d.UUID] = dst.FileName(d, true)
		}
		seen[key] = true
	}
	e.linkMu.Lock()
	e.names = names
	e.linkMu.Unlock()
}

// fileName is the name a document should be saved under.
func (e *Engine) fileName(dst clinicsync.Destination, it store.Item) string {
	e.linkMu.Lock()
	n := e.names[it.UUID]
	e.linkMu.Unlock()
	if n != "" {
		return n
	}
	return dst.FileName(it.Document(), false)
}
