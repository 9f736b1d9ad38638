package engine

import (
	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
)

// namer decides, over one listing in list order, which of several
// documents that would get the same file in the same patient folder keeps
// the plain name: the first listed (the oldest). The others get the
// document-specific name at once, so concurrent workers never race for
// the plain name and the outcome does not depend on timing or crashes.
// Pages are named as they come in, before any of their documents is
// downloaded: a later page never changes an earlier page's names. The
// destination still checks what is there, which covers documents listed
// in different passes.
type namer struct {
	dst  clinicsync.Destination
	seen map[string]bool // collision keys of the documents listed so far
}

// newNamer starts the naming of a new listing: the names the last one
// gave are dropped.
func (e *Engine) newNamer() *namer {
	_, dst := e.conf()
	e.linkMu.Lock()
	e.names = map[string]string{}
	e.linkMu.Unlock()
	return &namer{dst: dst, seen: map[string]bool{}}
}

// name takes the next listed documents, in list order.
func (e *Engine) name(n *namer, docs []clinicsync.Document) {
	for _, d := range docs {
		if d.UUID == "" {
			continue
		}
		key := n.dst.CollisionKey(d)
		if n.seen[key] {
			distinct := n.dst.FileName(d, true)
			e.linkMu.Lock()
			e.names[d.UUID] = distinct
			e.linkMu.Unlock()
		}
		n.seen[key] = true
	}
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

// forget drops what the engine keeps in memory about a document once it is
// confirmed: its link and its name. The store has the rest.
func (e *Engine) forget(uuid string) {
	e.linkMu.Lock()
	delete(e.links, uuid)
	delete(e.names, uuid)
	e.linkMu.Unlock()
}
