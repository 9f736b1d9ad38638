package relay

import (
	"context"
	"sync"

	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/failpoint"
)

// Lanes. Each platform's deliveries are processed in a lane of their own,
// so a platform whose API hangs never holds up another. A lane takes up to
// its platform's width of deliveries at once (Askara's: askaraLane, each
// may download a PDF), never two for one resource, so one slow document
// does not hold up the others either; a platform whose processing is
// local (a note file) runs one at a time, in order. Each platform call a
// pushed document makes has a deadline (engine.Push).

// flight is a delivery being processed.
type flight struct {
	platform string
	resource string // the document or note it is about, when known
}

// processor dispatches inbox deliveries to their lanes, oldest first; a
// crash leaves them "received", and the next start takes them again.
func (s *Server) processor() {
	inflight := map[int64]flight{}
	done := make(chan int64)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		s.dispatch(inflight, done, &wg)
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case id := <-done:
			delete(inflight, id)
		}
	}
}

// dispatch starts what the lanes have room for.
func (s *Server) dispatch(inflight map[int64]flight, done chan<- int64, wg *sync.WaitGroup) {
	busy := map[string]int{}
	resources := map[string]bool{}
	for _, f := range inflight {
		busy[f.platform]++
		resources[f.platform+"/"+f.resource] = true
	}
	for _, pl := range routes() {
		p, width := pl.Name, pl.width()
		if busy[p] >= width || s.ctx.Err() != nil {
			continue
		}
		ds, err := s.o.Store.InboxPendingFor(s.ctx, p, width+busy[p]+16)
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("inbox read failed", "err", err)
			}
			return
		}
		for _, d := range ds {
			if busy[p] >= width {
				break
			}
			if _, ok := inflight[d.ID]; ok {
				continue
			}
			f := flight{platform: p}
			if pl.resource != nil {
				f.resource = pl.resource(d)
			}
			if f.resource != "" && resources[p+"/"+f.resource] {
				continue // after the one in flight for the same resource
			}
			inflight[d.ID] = f
			busy[p]++
			resources[p+"/"+f.resource] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.handle(pl, d)
				select {
				case done <- d.ID:
				case <-s.ctx.Done():
				}
			}()
		}
	}
}

// handle processes one delivery and records the outcome. Interrupted by a
// shutdown, it records nothing: the delivery is processed again at start.
func (s *Server) handle(p *platform, d store.Delivery) {
	failpoint.Hit(failpoint.RelayProcessing)
	state, outcome := p.process(s, s.ctx, d)
	if s.ctx.Err() != nil {
		return
	}
	if err := s.o.Store.InboxDone(context.WithoutCancel(s.ctx), d.ID, state, outcome); err != nil {
		s.log.Warn("inbox update failed", "err", err)
		return
	}
	if state != store.InboxDeferred {
		s.scrubSoon()
	}
}
