package relay

import (
	"context"
	"time"

	"github.com/clinicsync/clinicsync/store"
)

// The inbox: a delivery is committed before it is acknowledged, by one
// writer that groups the commits of concurrent senders; once processed, its
// body is dropped and the WAL emptied so that no note text stays readable.

type commitReq struct {
	d    *store.Delivery
	done chan commitRes
}

type commitRes struct {
	dup bool
	err error
}

// writer commits deliveries in batches: whatever arrived while the last
// transaction was committing goes into the next one, so fifty concurrent
// senders cost a few fsyncs, not fifty.
func (s *Server) writer() {
	for {
		var first commitReq
		select {
		case <-s.ctx.Done():
			return
		case first = <-s.commits:
		}
		batch := []commitReq{first}
	more:
		for len(batch) < 128 {
			select {
			case r := <-s.commits:
				batch = append(batch, r)
			default:
				break more
			}
		}
		ds := make([]*store.Delivery, len(batch))
		for i, r := range batch {
			ds[i] = r.d
		}
		dup, err := s.o.Store.InboxAdd(context.WithoutCancel(s.ctx), ds)
		for i, r := range batch {
			res := commitRes{err: err}
			if err == nil {
				res.dup = dup[i]
			}
			r.done <- res
		}
		if err == nil {
			s.Wake()
		}
	}
}

// scrubSoon asks for the WAL to be emptied: a processed body (note text,
// patient data) must not stay readable in state.db-wal.
func (s *Server) scrubSoon() {
	select {
	case s.scrub <- struct{}{}:
	default:
	}
}

// scrubber empties the WAL shortly after bodies were dropped (one
// checkpoint for a burst of deliveries), and again a little later while a
// reader keeps it from being emptied.
func (s *Server) scrubber() {
	const settle, again = 200 * time.Millisecond, 2 * time.Second
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.scrub:
		}
		wait := settle
		for tries := 0; tries < 30; tries++ {
			t := time.NewTimer(wait)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			done, err := s.o.Store.ScrubWAL(s.ctx)
			if err != nil {
				s.log.Debug("wal scrub", "err", err)
			}
			if done {
				break
			}
			wait = again
		}
	}
}
