package engine

import (
	"context"
	"errors"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
)

// Re-checks of a permanent failure: hourly for the first day after it
// began, then daily. A proxy's or captive portal's error page is "not a
// PDF" too, and the platform may fix a file without telling us.
const (
	recheckEarly      = time.Hour
	recheckEarlyUntil = 24 * time.Hour
	recheckLate       = 24 * time.Hour
)

// recheckAt is when to re-check a permanent failure that began at since
// (zero: now).
func (e *Engine) recheckAt(since time.Time) time.Time {
	now := e.Now()
	if since.IsZero() || now.Sub(since) < recheckEarlyUntil {
		return now.Add(recheckEarly)
	}
	return now.Add(recheckLate)
}

// fail records a failed document, schedules its automatic retry when the
// failure is transient or its re-check when it is permanent, and tells the
// platform once per failure.
func (e *Engine) fail(ctx context.Context, it store.Item, err error, res *PassResult) error {
	ctx = context.WithoutCancel(ctx)
	code, reason := clinicsync.ErrorCode(err), clinicsync.ErrorText(err)
	var ce *confirmError
	if errors.As(err, &ce) {
		if ok, _ := clinicsync.IsRetryable(err); ok {
			// The file is safe on disk; only the confirmation is owed.
			e.log.Debug("confirmation deferred", "item", it.UUID, "code", code)
			return nil
		}
		reason = clinicsync.NewText(activity.ConfirmRefused, reason)
	}
	msg := reason.String()
	cur, gerr := e.store.Get(ctx, it.UUID)
	if gerr != nil {
		return gerr
	}
	retryable, after := clinicsync.IsRetryable(err)
	if !cur.Retryable && !cur.RecheckAt.IsZero() && (retryable || code == cur.ErrorCode && msg == cur.LastError) {
		// A re-check of a permanent failure that learnt nothing new (the
		// same failure, or a transient error on the way): the platform was
		// told and the log says it; only the next re-check is scheduled.
		if err := e.store.MarkFailedPermanently(ctx, it.UUID, cur.ErrorCode, cur.Reason(), e.recheckAt(cur.FailedSince)); err != nil {
			return err
		}
		e.log.Debug("re-check: no change", "item", it.UUID, "code", code)
		e.itemChanged(it.UUID, clinicsync.StateFailed, cur.LastError)
		return e.report(ctx, it.UUID, res) // only if an earlier report could not be sent
	}
	var next time.Time
	var merr error
	if retryable {
		next = e.Now().Add(e.Config().docRetry().Delay(cur.Attempts, after))
		merr = e.store.MarkFailed(ctx, it.UUID, code, reason, next)
	} else {
		merr = e.store.MarkFailedPermanently(ctx, it.UUID, code, reason, e.recheckAt(cur.FailedSince))
	}
	if merr != nil {
		return merr
	}
	e.log.Debug("document failed", "item", it.UUID, "code", code, "retry", retryable)
	if retryable {
		e.activity(ctx, store.LevelError, it.UUID, activity.FailedRetry, describeFile(cur), activity.Patient(cur.Patient),
			reason, next.Local().Format("15:04:05"))
	} else {
		e.activity(ctx, store.LevelError, it.UUID, activity.FailedRecheck, describeFile(cur), activity.Patient(cur.Patient), reason)
	}
	e.itemChanged(it.UUID, clinicsync.StateFailed, msg)
	return e.report(ctx, it.UUID, res)
}

// report sends success:false for a failure not yet reported.
func (e *Engine) report(ctx context.Context, uuid string, res *PassResult) error {
	it, err := e.store.Get(ctx, uuid)
	if err != nil {
		return err
	}
	if it.State != clinicsync.StateFailed || it.FailureReported {
		return nil
	}
	cfg, _ := e.conf()
	if err := e.remote.SetStatus(ctx, uuid, clinicsync.Status{Success: false, Error: it.LastError,
		Directory: cfg.SoftwareID}); err != nil {
		e.log.Debug("failure report deferred", "item", uuid, "code", clinicsync.ErrorCode(err))
		if clinicsync.IsFatal(err) {
			return err
		}
		return nil // reported by a later pass
	}
	res.Reported++
	return e.store.MarkFailureReported(ctx, uuid)
}

// reportPending sends the failure reports an earlier pass could not send,
// counted in p's result. It runs while the pass's downloads do: a document
// being worked on is left to its worker, whose failure reports itself
// (both would otherwise send the same report).
func (e *Engine) reportPending(ctx context.Context, p *pipeline) error {
	var res PassResult
	defer func() { p.add(res) }()
	items, err := e.store.List(ctx, store.ItemFilter{States: []clinicsync.ItemState{clinicsync.StateFailed}, Limit: 1 << 30})
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.FailureReported || e.busy(it.UUID) {
			continue
		}
		if err := e.report(ctx, it.UUID, &res); err != nil {
			return err
		}
	}
	return nil
}
