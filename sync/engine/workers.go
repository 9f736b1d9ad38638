package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
)

// work processes items with a bounded pool; one slow or failing document
// never holds back the others.
func (e *Engine) work(ctx context.Context, items []store.Item, res *PassResult) error {
	if len(items) == 0 {
		return nil
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		fatal    error
		ch       = make(chan store.Item)
		ctx2, cn = context.WithCancel(ctx)
	)
	defer cn()
	cfg, _ := e.conf()
	for i := 0; i < cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				var r PassResult
				err := e.process(ctx2, it, &r)
				mu.Lock()
				res.Written += r.Written
				res.AlreadyPresent += r.AlreadyPresent
				res.Confirmed += r.Confirmed
				res.Failed += r.Failed
				res.Reported += r.Reported
				if err != nil && fatal == nil {
					fatal = err
					cn()
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case ch <- it:
		case <-ctx2.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	if fatal != nil {
		return fatal
	}
	return ctx.Err()
}

// process takes one document as far as it can go. It returns an error only
// when the whole pass must stop.
func (e *Engine) process(ctx context.Context, it store.Item, res *PassResult) error {
	// One worker per document at a time: a manual retry never races a
	// pass (or another retry) for the same document.
	if !e.claim(it.UUID) {
		return nil
	}
	defer e.unclaim(it.UUID)
	// it may be stale (a pass's list of due documents, a push racing a
	// pass): a document confirmed meanwhile is done.
	if cur, err := e.store.Get(ctx, it.UUID); err == nil {
		if cur.State == clinicsync.StateConfirmed {
			return nil
		}
		it = cur
	}
	err := e.deliver(ctx, it, res)
	var ce *confirmError
	// A fatal error stops the whole pass: no point trying the other
	// documents, nor this one again.
	if err != nil && !clinicsync.IsFatal(err) && !(errors.As(err, &ce) && confirmWithin(ctx) > 0) {
		if ok, _ := clinicsync.IsRetryable(err); ok && e.Config().quickRetry().Again(1) {
			// Retry-After is not waited for here: the document's own
			// backoff honours it if this attempt fails too.
			e.quickRetries.Add(1)
			select {
			case <-time.After(e.Config().quickRetry().Delay(0, 0)):
			case <-ctx.Done():
				return ctx.Err()
			}
			if cur, gerr := e.store.Get(ctx, it.UUID); gerr == nil {
				it = cur
			}
			err = e.deliver(ctx, it, res)
		}
	}
	if err == nil {
		return nil
	}
	if clinicsync.IsFatal(err) {
		// Not this document's fault: leave it to the next pass.
		if rerr := e.store.ReleaseDownloading(context.WithoutCancel(ctx), it.UUID); rerr != nil {
			e.log.Warn("release document", "item", it.UUID, "err", rerr)
		}
		return err
	}
	res.Failed++
	return e.fail(ctx, it, err, res)
}

// claim marks a document as being worked on; false if it already is.
func (e *Engine) claim(uuid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inflight[uuid] {
		return false
	}
	e.inflight[uuid] = true
	return true
}

func (e *Engine) unclaim(uuid string) {
	e.mu.Lock()
	delete(e.inflight, uuid)
	e.mu.Unlock()
}

// busy reports whether a document is being worked on now.
func (e *Engine) busy(uuid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inflight[uuid]
}
