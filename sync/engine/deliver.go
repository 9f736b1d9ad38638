package engine

import (
	"context"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/failpoint"
)

// deliver writes (unless already there) and confirms one document.
func (e *Engine) deliver(ctx context.Context, it *store.Item, res *PassResult) error {
	if err := e.fetch(ctx, it, res, nil); err != nil {
		return err
	}
	return e.confirm(ctx, it, res, nil)
}

// fetch writes one document's file, unless its recorded file is there
// intact, and records it saved, in three steps each durable before the
// next: downloading (where a temp file may be), the file placed, saved
// (with its activity line, in one transaction). pace (nil: none) learns
// from the download's answer.
func (e *Engine) fetch(ctx context.Context, it *store.Item, res *PassResult, pace *pacer) error {
	if it.FinalPath != "" && e.fileIntact(*it) {
		res.AlreadyPresent++
		return nil
	}
	url, err := e.link(ctx, it.UUID, false)
	if err != nil {
		return err
	}
	_, dst := e.conf()
	if err := e.store.MarkDownloading(ctx, it.UUID, dst.Staging(it.Document())); err != nil {
		return err
	}
	failpoint.Hit(failpoint.EngineDownloading)
	e.itemChanged(it.UUID, clinicsync.StateDownloading, "")
	sent := time.Now()
	body, err := e.remote.OpenPDF(ctx, url)
	pace.observe(sent, time.Since(sent), err)
	if clinicsync.ErrorCode(err) == clinicsync.ELinkExpired {
		// Pre-signed links live one hour: fetch the document again for a fresh one.
		e.log.Debug("link expired, fetching a fresh one", "item", it.UUID)
		if url, err = e.link(ctx, it.UUID, true); err == nil {
			sent = time.Now()
			body, err = e.remote.OpenPDF(ctx, url)
			pace.observe(sent, time.Since(sent), err)
		}
	}
	if err != nil {
		return err
	}
	r, err := dst.Place(ctx, clinicsync.DocumentFile{Document: it.Document(),
		Name: e.fileName(dst, *it), Body: body, Prev: it.FinalPath, Writer: e.writer(ctx)})
	body.Close()
	if err != nil {
		return err
	}
	failpoint.Hit(failpoint.EnginePublished)
	it.FinalPath, it.Size, it.SHA256 = r.Path, r.Size, r.SHA256
	key := activity.Saved
	if r.AlreadyPresent {
		key = activity.AlreadyThere
	}
	l := newLine(store.LevelInfo, it.UUID, key, describeFile(*it), activity.Patient(it.Patient), r.Path)
	if err := e.store.Batch(ctx, func(tx *store.Tx) error {
		if err := tx.MarkSaved(ctx, it.UUID, r.Path, r.Size, r.SHA256); err != nil {
			return err
		}
		return l.write(ctx, tx)
	}); err != nil {
		return err
	}
	it.State = clinicsync.StateSaved
	failpoint.Hit(failpoint.EngineSaved)
	if r.AlreadyPresent {
		res.AlreadyPresent++
	} else {
		res.Written++
	}
	e.published(l)
	e.itemChanged(it.UUID, clinicsync.StateSaved, r.Path)
	return nil
}

// fileIntact reports whether the recorded final file is on disk unchanged.
func (e *Engine) fileIntact(it store.Item) bool {
	_, dst := e.conf()
	return dst.Intact(it.FinalPath, it.Size, it.SHA256)
}

// confirm tells the platform a saved document is delivered (success:true
// with its path) and records it confirmed; the document's state in memory
// goes with it. pace (nil: none) learns from the answer.
func (e *Engine) confirm(ctx context.Context, it *store.Item, res *PassResult, pace *pacer) error {
	cfg, _ := e.conf()
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if d := confirmWithin(ctx); d > 0 {
		cctx, cancel = context.WithTimeout(ctx, d)
	}
	sent := time.Now()
	err := e.remote.SetStatus(cctx, it.UUID, clinicsync.Status{Success: true,
		Directory: cfg.SoftwareID, Path: it.FinalPath})
	pace.observe(sent, time.Since(sent), err)
	cancel()
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		// Our deadline, not a shutdown: the file is safe, a later pass confirms it.
		err = clinicsync.Retryable(clinicsync.EUnavailable, "The platform did not answer the confirmation in time.", err)
	}
	if err != nil {
		return &confirmError{err}
	}
	failpoint.Hit(failpoint.EngineConfirmSent)
	if err := e.store.MarkConfirmed(ctx, it.UUID); err != nil {
		return err
	}
	res.Confirmed++
	it.State = clinicsync.StateConfirmed
	e.forget(it.UUID)
	e.itemChanged(it.UUID, clinicsync.StateConfirmed, it.FinalPath)
	return nil
}

// confirmWithinKey carries, for a pushed document, how long its
// confirmation may take before it is left to the next pass.
type confirmWithinKey struct{}

func confirmWithin(ctx context.Context) time.Duration {
	d, _ := ctx.Value(confirmWithinKey{}).(time.Duration)
	return d
}

// confirmError marks a failure to confirm a file that is safely written:
// the document stays saved and the next pass confirms it.
type confirmError struct{ err error }

func (c *confirmError) Error() string { return c.err.Error() }

func (c *confirmError) Unwrap() error { return c.err }
