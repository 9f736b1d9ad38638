package engine

import (
	"context"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/failpoint"
)

// Push processes one document now, from a webhook: with the metadata the
// event carried (its pdf link and patient), without listing. The event's
// action: "new_document" for an already delivered document does nothing;
// "document_synchronize" (a person asked for it again in the platform)
// re-checks the file and confirms it again, unless that was already done
// after the event arrived (a delivery processed again after a crash, when
// a pass got there first). The pdf link of an unverified event (no
// signature checked) is followed only when the API itself uses its origin
// (TrustsLink); otherwise the document is fetched from the API, so a web
// page cannot make Clinic Sync download a URL of its choice. Each platform
// call has Config.PushCallTimeout; a confirmation that takes longer is left
// to the next pass, and the answer says so. It returns what was done, in a
// few true words for the relay's record.
func (e *Engine) Push(ctx context.Context, ev clinicsync.DocumentEvent) (string, error) {
	d, action := ev.Document, ev.Action
	if d.UUID == "" {
		return "", clinicsync.Errorf(clinicsync.EInvalid, "The event named no document.")
	}
	if e.Snapshot().SignedOut {
		return "", clinicsync.Errorf(clinicsync.ESignedOut, "Signed out: the document waits for the next sign-in.")
	}
	if !ev.Verified && d.PDF.URL != "" && !e.trustsLink(d.PDF.URL) {
		e.log.Debug("unsigned event names a link the API does not use; fetching the document", "item", d.UUID)
		d = clinicsync.Document{UUID: d.UUID}
	}
	if d.PDF.URL == "" {
		// The event had no usable metadata: fetch the document.
		gctx, cancel := context.WithTimeout(ctx, e.Config().PushCallTimeout)
		full, err := e.remote.GetDocument(gctx, d.UUID)
		cancel()
		if err != nil {
			return "", err
		}
		d = full
	}
	if prev, err := e.store.Get(ctx, d.UUID); err == nil {
		switch {
		case prev.State == clinicsync.StateConfirmed && action != "document_synchronize":
			return "already delivered", nil
		case prev.State == clinicsync.StateFailed && action != "document_synchronize" && prev.NextAttemptAt.After(e.Now()):
			return "failed earlier; retried on schedule", nil
		}
	}
	if err := e.admit(ctx, d, ev.ReceivedAt); err != nil {
		return "", err
	}
	if action == "document_synchronize" {
		if err := e.store.RequeueConfirmedBefore(ctx, d.UUID, ev.ReceivedAt); err != nil {
			return "", err
		}
	}
	failpoint.Hit(failpoint.EngineAdmitted)
	if err := e.checkDestination(ctx); err != nil {
		return "", err // recorded as pending; the next pass takes it
	}
	it, err := e.store.Get(ctx, d.UUID)
	if err != nil {
		return "", err
	}
	var res PassResult
	err = e.process(context.WithValue(ctx, confirmWithinKey{}, e.Config().PushCallTimeout), it, &res)
	e.refreshCounts(ctx)
	e.checkProblems(ctx)
	if err != nil {
		return "", err
	}
	it, _ = e.store.Get(ctx, d.UUID)
	switch {
	case res.Confirmed > 0 && res.Written > 0:
		return "saved and confirmed", nil
	case res.Confirmed > 0:
		return "already on disk; confirmed", nil
	case it.State == clinicsync.StateSaved:
		return "saved; confirmation deferred to the next pass (the platform did not answer in time)", nil
	case res.Failed > 0 || it.State == clinicsync.StateFailed:
		return "failed: " + it.LastError, nil
	case it.State == clinicsync.StateConfirmed:
		return "already delivered", nil
	}
	return "in progress elsewhere", nil
}

// trustsLink reports whether the remote's own answers use the link's
// origin (askara.Client.TrustsLink); a remote that cannot tell trusts none.
func (e *Engine) trustsLink(link string) bool {
	t, ok := e.remote.(interface{ TrustsLink(string) bool })
	return ok && t.TrustsLink(link)
}
