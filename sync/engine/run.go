package engine

import (
	"context"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Run recovers interrupted work, then runs passes every poll interval, on
// SyncNow, and when a scheduled retry is due, until ctx ends. A failing pass
// backs off (Config.passRetry: doubling, capped at the poll interval × 8)
// instead of hammering.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.Recover(ctx); err != nil {
		return err
	}
	// The destination's lease (lease.go): this PC writes only while it
	// holds it; Run's end removes it for another PC to take over.
	e.startLease(ctx)
	leaseCtx, stopLease := context.WithCancel(ctx)
	leaseDone := make(chan struct{})
	go func() {
		defer close(leaseDone)
		e.holdLease(leaseCtx)
	}()
	defer func() {
		stopLease()
		<-leaseDone
	}()
	failures := 0
	for {
		e.mu.Lock()
		paused := e.snap.Paused
		e.mu.Unlock()
		cfg, _ := e.conf()
		wait := cfg.PollInterval
		// Signed out, passes go on at the poll interval: they cost no
		// request until a new sign-in appears in the keychain. Standing
		// by, none runs: the lease's loop wakes this one when this PC may
		// write. (Before the lease is decided, a pass says why: the
		// folder is not reachable, say.)
		if !paused && !e.standingBy() {
			pctx, stop := e.writerContext(ctx)
			_, err := e.Pass(pctx)
			lost := pctx.Err() != nil
			stop()
			if ctx.Err() != nil {
				return nil
			}
			if lost {
				// Another PC took the lease during the pass: not a failure.
				e.update(func(s *Snapshot) { s.LastPassError, s.LastPassCode, s.LastPassText = "", "", clinicsync.Text{} })
				continue
			}
			if err == nil {
				e.PollNotes(ctx) // its problems are in the activity log; documents go on
			}
			if days := e.retention.Load(); days > 0 && e.Now().Sub(e.lastPruneAt) > 24*time.Hour {
				e.lastPruneAt = e.Now()
				if perr := e.Prune(ctx, int(days)); perr != nil {
					e.log.Warn("prune", "err", perr)
				}
			}
			if err != nil {
				failures++
				var after time.Duration
				if ok, ra := clinicsync.IsRetryable(err); ok {
					after = ra
				}
				wait = cfg.passRetry().Delay(failures-1, after)
			} else {
				failures = 0
				if nd, err := e.store.NextDue(ctx); err == nil && !nd.IsZero() {
					if d := nd.Sub(e.Now()); d < wait {
						wait = max(d, time.Second)
					}
				}
			}
		}
		next := e.Now().Add(wait)
		if e.standingBy() {
			next = time.Time{} // the writer's passes are not this PC's
		}
		e.update(func(s *Snapshot) { s.NextPass = next })
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-e.wake:
			t.Stop()
		case why := <-e.resumed:
			t.Stop()
			e.log.Info("pass now", "why", why, "instead_of_waiting", wait.Round(time.Second))
		}
	}
}
