package engine

import (
	"context"

	"github.com/clinicsync/clinicsync"
)

// link returns the pre-signed PDF link for a document, fetching the
// document when none is known or fresh is asked for.
func (e *Engine) link(ctx context.Context, uuid string, fresh bool) (string, error) {
	e.linkMu.Lock()
	url := e.links[uuid]
	e.linkMu.Unlock()
	if url != "" && !fresh {
		return url, nil
	}
	d, err := e.remote.GetDocument(ctx, uuid)
	if err != nil {
		return "", err
	}
	if d.PDF.URL == "" {
		return "", clinicsync.Errorf(clinicsync.EInvalid, "The platform gave no download link for this document.")
	}
	e.linkMu.Lock()
	e.links[uuid] = d.PDF.URL
	e.linkMu.Unlock()
	return d.PDF.URL, nil
}
