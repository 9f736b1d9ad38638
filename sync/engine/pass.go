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
			n, err := dst.Recover(it.TempDir, it.UUID)
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

func (e *Engine) pass(ctx context.Context) (PassResult, error) {
	var res PassResult
	if err := e.checkDestination(); err != nil {
		return res, err
	}
	listedAt := e.store.Now() // the list is live: what it says is as of now
	docs, err := e.remote.ListUnsynchronized(ctx)
	if err != nil {
		return res, err
	}
	res.Listed = len(docs)
	for _, d := range docs {
		if d.UUID == "" {
			continue
		}
		if err := e.admit(ctx, d, listedAt); err != nil {
			return res, err
		}
		if err := e.relisted(ctx, d); err != nil {
			return res, err
		}
	}
	e.assignNames(docs)
	if err := e.reportPending(ctx, &res); err != nil {
		return res, err
	}
	due, err := e.store.Due(ctx, e.Now())
	if err != nil {
		return res, err
	}
	return res, e.work(ctx, due, &res)
}

// admit records a listed (or pushed) document and decides whether it needs
// work. asOf is when the platform said it was not synchronized (the list's
// time, the event's arrival): a document confirmed since is not done again.
func (e *Engine) admit(ctx context.Context, d clinicsync.Document, asOf time.Time) error {
	it, created, err := e.store.Upsert(ctx, e.Config().Source, d)
	if err != nil {
		return err
	}
	if d.PDF.URL != "" {
		e.linkMu.Lock()
		e.links[d.UUID] = d.PDF.URL
		e.linkMu.Unlock()
	}
	switch {
	case created:
		e.activity(ctx, store.LevelInfo, d.UUID, activity.NewDocument, describeFile(it), activity.Patient(it.Patient))
		e.itemChanged(d.UUID, clinicsync.StatePending, "")
	case it.State == clinicsync.StateConfirmed:
		// Listed again after we confirmed it (a person asked for a new
		// synchronisation in the platform): check the file, confirm again.
		if err := e.store.RequeueConfirmedBefore(ctx, d.UUID, asOf); err != nil {
			return err
		}
	}
	return nil
}

// relisted keeps what the list says about a document's file and re-checks
// a permanent failure at once when that changed: the platform may have
// fixed the file, or a person retried it there, which polling cannot see
// otherwise (the document was in the list all along). Only listed
// documents come here: a webhook's copy carries less (no updatedAt, no
// other pdf fields) and would look like a change.
func (e *Engine) relisted(ctx context.Context, d clinicsync.Document) error {
	reopened, err := e.store.Relisted(ctx, d.UUID, listingFingerprint(d), d.UpdatedAt)
	if err != nil || !reopened {
		return err
	}
	e.log.Debug("listing changed: re-checking a failed document", "item", d.UUID)
	e.itemChanged(d.UUID, clinicsync.StatePending, "")
	return nil
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
// there, so one unplugged share does not fail every document, or when a
// disk is short of space (checkSpace).
func (e *Engine) checkDestination() error {
	_, dst := e.conf()
	if err := dst.Reachable(); err != nil {
		return err
	}
	return e.checkSpace()
}
