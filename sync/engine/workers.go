package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
)

// pipeline is one pass's work on its documents. Downloads start as the
// list's pages come in, as many at once as the download pacer lets go; a
// saved document then waits until the list is complete (the filter is
// live) and is confirmed within a pacer of its own, so that a confirmation
// never holds a download's slot. One slow or failing document never holds
// back the others. A document is claimed (claim) from its download to its
// confirmation. The queues hold uuids and saved documents only: the store
// has the rest.
type pipeline struct {
	e      *Engine
	ctx    context.Context // the pass's, ended early by a fatal error
	parent context.Context
	cancel context.CancelFunc
	down   *pacer
	conf   *pacer
	taken  map[string]bool // queued in this pass (the pass's goroutine only)

	downWake, confWake chan struct{} // something changed for a dispatcher
	downDone, confDone chan struct{} // closed when a dispatcher has ended

	mu        sync.Mutex
	res       *PassResult
	fatal     error
	downQ     []string     // due, not started yet
	confQ     []store.Item // saved, waiting for their confirmation
	listDone  bool         // the list is complete: confirmations may go
	noMore    bool         // nothing more will be queued
	downsDone bool         // every download has ended
}

func (e *Engine) newPipeline(ctx context.Context, res *PassResult) *pipeline {
	cfg, _ := e.conf()
	var budget func() int
	if b, ok := e.remote.(interface{ RequestBudget() int }); ok {
		budget = b.RequestBudget
	}
	p := &pipeline{e: e, parent: ctx, res: res, taken: map[string]bool{},
		down: newPacer(cfg.Workers, nil), conf: newPacer(cfg.Workers, budget),
		downWake: make(chan struct{}, 1), confWake: make(chan struct{}, 1),
		downDone: make(chan struct{}), confDone: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(ctx)
	go p.runDownloads()
	go p.runConfirms()
	return p
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// queue adds a due document to the downloads, once a pass.
func (p *pipeline) queue(uuid string) {
	if p.taken[uuid] {
		return
	}
	p.taken[uuid] = true
	p.mu.Lock()
	p.downQ = append(p.downQ, uuid)
	p.mu.Unlock()
	poke(p.downWake)
}

// listed counts listed documents.
func (p *pipeline) listed(n int) {
	p.mu.Lock()
	p.res.Listed += n
	p.mu.Unlock()
}

// listComplete lets the confirmations go.
func (p *pipeline) listComplete() {
	p.mu.Lock()
	p.listDone = true
	p.mu.Unlock()
	poke(p.confWake)
}

// add counts what one document's step did.
func (p *pipeline) add(r PassResult) {
	p.mu.Lock()
	p.res.Written += r.Written
	p.res.AlreadyPresent += r.AlreadyPresent
	p.res.Confirmed += r.Confirmed
	p.res.Failed += r.Failed
	p.res.Reported += r.Reported
	p.mu.Unlock()
}

// stop ends the pass early for a fatal error (the first one is returned).
func (p *pipeline) stop(err error) {
	p.mu.Lock()
	if p.fatal == nil {
		p.fatal = err
	}
	p.mu.Unlock()
	p.cancel()
}

// finish waits for every queued document to be done and returns what ends
// the pass: its first fatal error, or the pass's own end.
func (p *pipeline) finish() error {
	p.mu.Lock()
	p.noMore = true
	p.mu.Unlock()
	poke(p.downWake)
	return p.wait()
}

// abort ends the pass for err: what is in flight is cancelled and left
// as it was before (ReleaseDownloading), nothing more is confirmed.
func (p *pipeline) abort(err error) error {
	p.stop(err)
	return p.wait()
}

func (p *pipeline) wait() error {
	<-p.downDone
	<-p.confDone
	p.cancel()
	p.mu.Lock()
	left := p.confQ
	p.confQ = nil
	err := p.fatal
	p.mu.Unlock()
	for _, it := range left {
		p.e.unclaim(it.UUID)
	}
	d, c := p.down.stats(), p.conf.stats()
	p.e.mu.Lock()
	p.e.lastPace = [2]paceStats{d, c}
	p.e.mu.Unlock()
	p.e.log.Debug("pass concurrency", "downloads_at_once", d.Peak, "download_cuts", d.Cuts,
		"confirmations_at_once", c.Peak, "confirmation_cuts", c.Cuts)
	if err != nil {
		return err
	}
	return p.parent.Err()
}

// runDownloads starts each queued download when the download pacer has a
// slot for it.
func (p *pipeline) runDownloads() {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		p.mu.Lock()
		p.downsDone = true
		p.mu.Unlock()
		poke(p.confWake)
		close(p.downDone)
	}()
	for {
		p.mu.Lock()
		for len(p.downQ) == 0 && !p.noMore && p.ctx.Err() == nil {
			p.mu.Unlock()
			select {
			case <-p.downWake:
			case <-p.ctx.Done():
			}
			p.mu.Lock()
		}
		if len(p.downQ) == 0 || p.ctx.Err() != nil {
			p.mu.Unlock()
			return
		}
		uuid := p.downQ[0]
		p.downQ = p.downQ[1:]
		p.mu.Unlock()
		if p.down.acquire(p.ctx) != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.down.release()
			p.download(uuid)
		}()
	}
}

// runConfirms starts each saved document's confirmation, once the list is
// complete, when the confirmation pacer has a slot for it.
func (p *pipeline) runConfirms() {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		close(p.confDone)
	}()
	for {
		p.mu.Lock()
		for !(p.listDone && len(p.confQ) > 0) && !(p.listDone && p.downsDone) && p.ctx.Err() == nil {
			p.mu.Unlock()
			select {
			case <-p.confWake:
			case <-p.ctx.Done():
			}
			p.mu.Lock()
		}
		if len(p.confQ) == 0 || p.ctx.Err() != nil {
			p.mu.Unlock()
			return
		}
		it := p.confQ[0]
		p.confQ[0] = store.Item{}
		p.confQ = p.confQ[1:]
		p.mu.Unlock()
		if p.conf.acquire(p.ctx) != nil {
			p.mu.Lock()
			p.confQ = append(p.confQ, it) // unclaimed by wait
			p.mu.Unlock()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.conf.release()
			p.confirmOne(it)
		}()
	}
}

// download claims a due document and writes its file; a saved one waits
// for its confirmation, still claimed.
func (p *pipeline) download(uuid string) {
	e := p.e
	if !e.claim(uuid) {
		return // a push or a manual retry has it
	}
	// Read again once claimed: a push or a retry may have done it since
	// it was listed.
	it, err := e.store.Get(p.ctx, uuid)
	if err != nil || !it.Due(e.Now()) {
		e.unclaim(uuid)
		return
	}
	var r PassResult
	ok, err := e.step(p.ctx, &it, &r, func(ctx context.Context, it *store.Item, r *PassResult) error {
		return e.fetch(ctx, it, r, p.down)
	})
	p.add(r)
	if !ok {
		e.unclaim(uuid)
		if err != nil {
			p.stop(err)
		}
		return
	}
	p.mu.Lock()
	p.confQ = append(p.confQ, it)
	p.mu.Unlock()
	poke(p.confWake)
}

func (p *pipeline) confirmOne(it store.Item) {
	e := p.e
	defer e.unclaim(it.UUID)
	var r PassResult
	_, err := e.step(p.ctx, &it, &r, func(ctx context.Context, it *store.Item, r *PassResult) error {
		return e.confirm(ctx, it, r, p.conf)
	})
	p.add(r)
	if err != nil {
		p.stop(err)
	}
}

// process takes one document as far as it can go, outside a pass (a push,
// a manual retry): its file, then its confirmation. It returns an error
// only when what called it must stop.
func (e *Engine) process(ctx context.Context, it store.Item, res *PassResult) error {
	// One worker per document at a time: a manual retry never races a
	// pass (or another retry) for the same document.
	if !e.claim(it.UUID) {
		return nil
	}
	defer e.unclaim(it.UUID)
	// it may be stale (a push racing a pass): a document confirmed
	// meanwhile is done.
	if cur, err := e.store.Get(ctx, it.UUID); err == nil {
		if cur.State == clinicsync.StateConfirmed {
			return nil
		}
		it = cur
	}
	_, err := e.step(ctx, &it, res, e.deliver)
	return err
}

// step runs one step of a document (its file, its confirmation, or both)
// with one quick retry of a transient failure. ok says the step is done.
// Any other failure is recorded on the document (fail); err is returned
// only when the whole pass must stop.
func (e *Engine) step(ctx context.Context, it *store.Item, res *PassResult,
	do func(context.Context, *store.Item, *PassResult) error) (ok bool, err error) {
	err = do(ctx, it, res)
	var ce *confirmError
	// A fatal error stops the whole pass: no point trying the other
	// documents, nor this one again.
	if err != nil && !clinicsync.IsFatal(err) && !(errors.As(err, &ce) && confirmWithin(ctx) > 0) {
		if retry, _ := clinicsync.IsRetryable(err); retry && e.Config().quickRetry().Again(1) {
			// Retry-After is not waited for here: the document's own
			// backoff honours it if this attempt fails too.
			e.quickRetries.Add(1)
			select {
			case <-time.After(e.Config().quickRetry().Delay(0, 0)):
				if cur, gerr := e.store.Get(ctx, it.UUID); gerr == nil {
					*it = cur
				}
				err = do(ctx, it, res)
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
	}
	if err == nil {
		return true, nil
	}
	if cerr := ctx.Err(); cerr != nil && !clinicsync.IsFatal(err) {
		// The pass was cancelled (the app quits, the pass is stopped): an
		// error met now is the cancellation's doing whatever it says (a
		// SQLite statement interrupted, a transaction rolled back, a
		// request cut), not the document's. It is no failure: the next
		// pass takes the document again.
		err = &clinicsync.Error{Code: clinicsync.ECanceled, Message: "The operation was interrupted.",
			Retryable: true, Err: errors.Join(cerr, err)}
	}
	if clinicsync.IsFatal(err) {
		// Not this document's fault: leave it to the next pass.
		if rerr := e.store.ReleaseDownloading(context.WithoutCancel(ctx), it.UUID); rerr != nil {
			e.log.Warn("release document", "item", it.UUID, "err", rerr)
		}
		return false, err
	}
	res.Failed++
	return false, e.fail(ctx, *it, err, res)
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
