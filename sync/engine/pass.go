package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/events"
)

// PassResult counts what one pass did.
type PassResult struct {
	Listed         int // documents the platform listed
	Written        int // files written
	AlreadyPresent int // identical file already there: only confirmed
	Confirmed      int // success:true accepted
	Failed         int // documents that failed in this pass
	Reported       int // success:false sent
}

// Recover finishes what a crash interrupted: documents left downloading go
// back to pending and their half-written temp files are removed. Saved but
// unconfirmed documents are confirmed by the next pass.
func (e *Engine) Recover(ctx context.Context) error {
	items, err := e.store.Interrupted(ctx)
	if err != nil {
		return fmt.Errorf("recover interrupted downloads: %w", err)
	}
	_, dst := e.conf()
	for _, it := range items {
		if it.TempDir != "" {
			n, err := dst.Recover(it.TempDir, it.UUID, e.writer(ctx))
			if err != nil {
				e.log.Warn("remove temp files", "item", it.UUID, "err", err)
				continue
			}
			if n > 0 {
				e.log.Debug("removed interrupted temp files", "item", it.UUID, "n", n)
			}
		}
		if err := e.store.ClearTempDir(ctx, it.UUID); err != nil {
			return err
		}
	}
	if len(items) > 0 {
		e.activity(ctx, store.LevelInfo, "", activity.ResumedDownloads, len(items))
	}
	e.refreshCounts(ctx)
	e.loadProblems()
	return nil
}

// Pass runs one reconcile pass: list, then download, save and confirm every
// due document. An error is returned when the pass could not run at all
// (platform unreachable, signed out, destination unreachable); per-document
// failures are recorded on the documents and counted in the result.
func (e *Engine) Pass(ctx context.Context) (PassResult, error) {
	e.passMu.Lock()
	defer e.passMu.Unlock()
	start := e.Now()
	e.update(func(s *Snapshot) { s.Syncing = true; s.LastPassStart = start })
	e.bus.Publish(events.Event{Type: events.PassStarted})
	res, err := e.pass(ctx)
	end := e.Now()
	msg, code, text := "", "", clinicsync.Text{}
	if err != nil {
		msg, code, text = clinicsync.ErrorMessage(err), clinicsync.ErrorCode(err), clinicsync.ErrorText(err)
	}
	e.refreshCounts(ctx)
	e.update(func(s *Snapshot) {
		s.Syncing = false
		s.LastPassEnd = end
		s.LastPassError, s.LastPassCode, s.LastPassText = msg, code, text
		switch {
		case clinicsync.ErrorCode(err) == clinicsync.EUnauthorized || clinicsync.ErrorCode(err) == clinicsync.ESignedOut:
			s.SignedOut = true
		case err == nil:
			s.SignedOut = false // a new sign-in took effect
		}
	})
	e.mu.Lock()
	logIt := msg != e.lastErrLog
	e.lastErrLog = msg
	e.mu.Unlock()
	if err != nil && logIt && clinicsync.ErrorCode(err) != clinicsync.ECanceled {
		e.activity(ctx, store.LevelError, "", activity.SyncFailed, text)
	} else if err == nil && logIt {
		e.activity(ctx, store.LevelInfo, "", activity.SyncWorks)
	}
	e.passProblems(err)
	e.checkProblems(ctx)
	if err == nil {
		_ = e.store.SetCursor(context.WithoutCancel(ctx), lastPassOK, end.UTC().Format(time.RFC3339))
	}
	e.bus.Publish(events.Event{Type: events.PassFinished, Message: msg})
	e.log.Debug("pass finished", "listed", res.Listed, "written", res.Written, "confirmed", res.Confirmed,
		"failed", res.Failed, "took", end.Sub(start), "err", err)
	return res, err
}

// pass lists the documents and works on the due ones as the list's pages
// come in (pipeline, workers.go): downloads start with the first page,
// while the next is fetched; confirmations wait until the list is whole,
// because the synchronized=false filter is live and confirming would shift
// its pages.
func (e *Engine) pass(ctx context.Context) (PassResult, error) {
	var res PassResult
	if err := e.checkDestination(ctx); err != nil {
		return res, err
	}
	listedAt := e.store.Now() // the list is live: what it says is as of now
	p := e.newPipeline(ctx, &res)
	ctx = p.ctx // ends early when a document meets a fatal error
	n := e.newNamer()
	err := e.list(ctx, func(docs []clinicsync.Document) error {
		p.listed(len(docs))
		admitted, err := e.admitListed(ctx, docs, listedAt, true)
		if err != nil {
			return err
		}
		e.name(n, docs)
		now := e.Now()
		for _, it := range admitted {
			if it.Due(now) {
				p.queue(it.UUID)
			}
		}
		return nil
	})
	if err != nil {
		err = p.abort(err)
		return res, err
	}
	p.listComplete()
	if err := e.reportPending(ctx, p); err != nil {
		err = p.abort(err)
		return res, err
	}
	// What is due and was not listed: saved documents whose confirmation a
	// crash or a failure left, documents a push recorded.
	due, err := e.store.Due(ctx, e.Now())
	if err != nil {
		err = p.abort(err)
		return res, err
	}
	for _, it := range due {
		p.queue(it.UUID)
	}
	err = p.finish()
	return res, err
}

// list reads the list of unsynchronized documents, a page at a time when
// the remote can (clinicsync.PagedLister), else whole.
func (e *Engine) list(ctx context.Context, page func([]clinicsync.Document) error) error {
	if pl, ok := e.remote.(clinicsync.PagedLister); ok {
		return pl.ListUnsynchronizedPages(ctx, page)
	}
	docs, err := e.remote.ListUnsynchronized(ctx)
	if err != nil || len(docs) == 0 {
		return err
	}
	return page(docs)
}

// admit records a pushed document (see admitListed).
func (e *Engine) admit(ctx context.Context, d clinicsync.Document, asOf time.Time) error {
	_, err := e.admitListed(ctx, []clinicsync.Document{d}, asOf, false)
	return err
}

// admitListed records documents and decides whether they need work, in one
// transaction with the activity lines of the new ones, and returns them as
// they now are. asOf is when the platform said they were not synchronized
// (the list's time, the event's arrival): a document confirmed since is not
// done again. listed says they come from the list: what it says about
// each document's file is kept (store.Relisted), and a permanent failure
// is re-checked at once when that changed, since the platform may have
// fixed the file, or a person retried it there, which polling cannot see
// otherwise (the document was in the list all along). A webhook's copy
// carries less (no updatedAt, no other pdf fields) and would look like a
// change.
func (e *Engine) admitListed(ctx context.Context, docs []clinicsync.Document, asOf time.Time, listed bool) ([]store.Item, error) {
	source := e.Config().Source
	out := make([]store.Item, 0, len(docs))
	var lines []line
	var reopened []string
	err := e.store.Batch(ctx, func(tx *store.Tx) error {
		for _, d := range docs {
			if d.UUID == "" {
				continue
			}
			var it store.Item
			var created, again bool
			var err error
			if listed {
				it, created, again, err = tx.UpsertListed(ctx, source, d,
					store.Listing{Fingerprint: listingFingerprint(d), UpdatedAt: d.UpdatedAt})
			} else {
				it, created, err = tx.Upsert(ctx, source, d)
			}
			if err != nil {
				return err
			}
			if again {
				reopened = append(reopened, d.UUID)
			}
			switch {
			case created:
				l := newLine(store.LevelInfo, d.UUID, activity.NewDocument, describeFile(it), activity.Patient(it.Patient))
				if err := l.write(ctx, tx); err != nil {
					return err
				}
				lines = append(lines, l)
			case it.State == clinicsync.StateConfirmed:
				// Listed again after we confirmed it (a person asked for a new
				// synchronisation in the platform): check the file, confirm again.
				if err := tx.RequeueConfirmedBefore(ctx, d.UUID, asOf); err != nil {
					return err
				}
				if it, err = tx.Get(ctx, d.UUID); err != nil {
					return err
				}
			}
			out = append(out, it)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.linkMu.Lock()
	for _, d := range docs {
		if d.PDF.URL != "" && d.UUID != "" {
			e.links[d.UUID] = d.PDF.URL
		}
	}
	e.linkMu.Unlock()
	for _, l := range lines {
		e.published(l)
		e.itemChanged(l.item, clinicsync.StatePending, "")
	}
	for _, uuid := range reopened {
		e.log.Debug("listing changed: re-checking a failed document", "item", uuid)
		e.itemChanged(uuid, clinicsync.StatePending, "")
	}
	return out, nil
}

// listingFingerprint sums up what the list says about a document's file:
// its name, its link without the query (the signature and expiry in it
// change on every listing) and the pdf object's other fields.
func listingFingerprint(d clinicsync.Document) string {
	h := sha256.New()
	for _, s := range []string{d.PDF.FileName, clinicsync.LinkPath(d.PDF.URL), d.PDF.Extra} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// checkDestination refuses to start a pass when the root folder is not
// there, so one unplugged share does not fail every document, when another
// PC writes to it (mayWrite), or when a disk is short of space (checkSpace).
func (e *Engine) checkDestination(ctx context.Context) error {
	_, dst := e.conf()
	if err := dst.Reachable(); err != nil {
		return err
	}
	if err := e.mayWrite(ctx); err != nil {
		return err
	}
	return e.checkSpace()
}
