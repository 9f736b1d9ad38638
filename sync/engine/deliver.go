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
func (e *Engine) deliver(ctx context.Context, it store.Item, res *PassResult) error {
	if it.FinalPath != "" && e.fileIntact(it) {
		res.AlreadyPresent++
		return e.confirm(ctx, it, res)
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
	body, err := e.remote.OpenPDF(ctx, url)
	if clinicsync.ErrorCode(err) == clinicsync.ELinkExpired {
		// Pre-signed links live one hour: fetch the document again for a fresh one.
		e.log.Debug("link expired, fetching a fresh one", "item", it.UUID)
		if url, err = e.link(ctx, it.UUID, true); err == nil {
			body, err = e.remote.OpenPDF(ctx, url)
		}
	}
	if err != nil {
		return err
	}
	r, err := dst.Place(ctx, clinicsync.DocumentFile{Document: it.Document(),
		Name: e.fileName(dst, it), Body: body, Prev: it.FinalPath})
	body.Close()
	if err != nil {
		return err
	}
	failpoint.Hit(failpoint.EnginePublished)
	if err := e.store.MarkSaved(ctx, it.UUID, r.Path, r.Size, r.SHA256); err != nil {
		return err
	}
	failpoint.Hit(failpoint.EngineSaved)
	it.FinalPath, it.Size, it.SHA256 = r.Path, r.Size, r.SHA256
	if r.AlreadyPresent {
		res.AlreadyPresent++
		e.activity(ctx, store.LevelInfo, it.UUID, activity.AlreadyThere, describeFile(it), activity.Patient(it.Patient), r.Path)
	} else {
		res.Written++
		e.activity(ctx, store.LevelInfo, it.UUID, activity.Saved, describeFile(it), activity.Patient(it.Patient), r.Path)
	}
	e.itemChanged(it.UUID, clinicsync.StateSaved, r.Path)
	return e.confirm(ctx, it, res)
}

// fileIntact reports whether the recorded final file is on disk unchanged.
func (e *Engine) fileIntact(it store.Item) bool {
	_, dst := e.conf()
	return dst.Intact(it.FinalPath, it.Size, it.SHA256)
}

func (e *Engine) confirm(ctx context.Context, it store.Item, res *PassResult) error {
	cfg, _ := e.conf()
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if d := confirmWithin(ctx); d > 0 {
		cctx, cancel = context.WithTimeout(ctx, d)
	}
	err := e.remote.SetStatus(cctx, it.UUID, clinicsync.Status{Success: true,
		Directory: cfg.SoftwareID, Path: it.FinalPath})
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
	e.linkMu.Lock()
	delete(e.links, it.UUID)
	e.linkMu.Unlock()
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
