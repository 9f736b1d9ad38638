package engine

import (
	"context"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
)

// Retry is a person's manual retry of one document. It is refused with an
// ETooSoon error (and the time left) when the previous manual retry of the
// same document was less than the window ago; otherwise the document is
// processed now with a fresh download link.
func (e *Engine) Retry(ctx context.Context, uuid string) (time.Duration, error) {
	defer e.checkProblems(ctx) // a retry can clear a document's condition, or find one
	if e.busy(uuid) {
		return 0, clinicsync.Errorf(clinicsync.EConflict, "This document is being synchronised right now.")
	}
	left, err := e.store.ClaimManualRetry(ctx, uuid, e.Config().ManualRetryWindow)
	if err != nil {
		return left, err
	}
	it, err := e.store.Get(ctx, uuid)
	if err != nil {
		return 0, err
	}
	e.activity(ctx, store.LevelInfo, uuid, activity.ManualRetry, describeFile(it), activity.Patient(it.Patient))
	if err := e.checkDestination(ctx); err != nil {
		_ = e.store.MarkFailed(ctx, uuid, clinicsync.ErrorCode(err), clinicsync.ErrorText(err), e.Now().Add(e.Config().BackoffBase))
		e.refreshCounts(ctx)
		return 0, err
	}
	var res PassResult
	if it.FinalPath == "" || !e.fileIntact(it) {
		if _, err := e.link(ctx, uuid, true); err != nil && clinicsync.IsFatal(err) {
			return 0, err
		}
	}
	err = e.process(ctx, it, &res)
	e.refreshCounts(ctx)
	if err != nil {
		return 0, err
	}
	if it, _ = e.store.Get(ctx, uuid); it.State != clinicsync.StateConfirmed {
		r := it.Reason()
		return 0, &clinicsync.Error{Code: it.ErrorCode, Message: it.LastError, Key: r.Key, Args: r.Args}
	}
	return 0, nil
}
