package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/user"
	"reflect"
	"sync"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
)

// One writer per shared destination. Several front-desk PCs of one
// organisation may point at one folder on a share; each would list the
// same documents and write them. The destination's lease
// (clinicsync.Leaser; for the folder, a file in its root) says which one
// writes: Run takes it when it is free, its own (this installation's,
// from before a restart) or stale, renews it while it runs and removes it
// when it stops; the others stand by, write nothing and say who writes.
//
// Staleness is judged by each PC's own clock, from how long the lease
// stayed the same (its nonce changes at every renewal), never by
// comparing clocks: a PC whose clock is wrong cannot take a live lease.
// With the poll interval P:
//
//   - the holder renews the lease every P/2;
//   - a lease that stayed the same for 2P (four renewals missed) is stale;
//   - a PC standing by reads the lease every P/10;
//   - a free lease is taken without replacing anything (of two PCs that
//     start together, one gets it); a stale one is replaced, and read
//     again P/10 later before anything is written: two PCs that took it at
//     once both renamed their lease into place, the last rename won, the
//     other sees it and stands by.
//
// So when the writer stops, another PC writes within 2P + 3·P/10 < 3P
// (at once when it stopped cleanly and removed its lease).
// Without a Run (the one-pass commands: sync, retry) the engine takes no
// lease; it writes unless another installation renewed one within 2P by
// this PC's clock.

// leaseTiming is the lease's cadence for the poll interval p (above).
func leaseTiming(p time.Duration) (renew, stale, look, settle time.Duration) {
	return p / 2, 2 * p, p / 10, p / 10
}

// holderCursor keeps this installation's holder id in the store: a PC
// restarted after a crash finds its own lease and goes on at once.
const holderCursor = "lease.holder"

// leaseState is the engine's side of the lease.
type leaseState struct {
	mu      sync.Mutex
	me      clinicsync.LeaseHolder
	running bool              // Run's lease loop is on: writer decides
	writer  bool              // this PC writes (it holds the lease, or the destination needs none)
	leaser  clinicsync.Leaser // where the lease was last taken or read
	term    context.Context   // ends when this PC stops writing
	end     context.CancelFunc
	seen    clinicsync.Lease // another holder's lease as last read
	seenAt  time.Time        // when it was first read as it is
	problem string           // the destination cannot keep a lease: said once
	// keepOnStop leaves the lease in place when Run ends, as a crash does
	// (tests).
	keepOnStop bool
	// pc and user name this PC in the lease (tests; "" the OS's names).
	pc, user string
}

// holder is who this installation is in a lease: its id (made once, kept
// in the store), the computer's name and the user's.
func (e *Engine) holder(ctx context.Context) clinicsync.LeaseHolder {
	e.lease.mu.Lock()
	defer e.lease.mu.Unlock()
	if e.lease.me.ID != "" {
		return e.lease.me
	}
	id, _ := e.store.GetCursor(ctx, holderCursor)
	if id == "" {
		id = randomHex(16)
		if err := e.store.SetCursor(context.WithoutCancel(ctx), holderCursor, id); err != nil {
			e.log.Warn("keep the lease holder id", "err", err)
		}
	}
	pc, who := e.lease.pc, e.lease.user
	if pc == "" {
		pc, _ = os.Hostname()
	}
	if who == "" {
		if u, err := user.Current(); err == nil {
			who = u.Username
		}
	}
	e.lease.me = clinicsync.LeaseHolder{ID: id, PC: pc, User: who}
	return e.lease.me
}

// writer is this installation's token in the temp files it writes (the
// first 8 hex digits of its lease holder id): at its next start it removes
// its own half-written files only, never those of another PC writing to a
// shared folder meanwhile.
func (e *Engine) writer(ctx context.Context) string {
	if id := e.holder(ctx).ID; len(id) >= 8 {
		return id[:8]
	}
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// holdLease keeps the lease while ctx lasts (Run), and removes it at the
// end so that another PC takes over at once.
func (e *Engine) holdLease(ctx context.Context) {
	defer e.stopLease()
	for {
		wait := e.leaseRound(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// startLease turns the lease on for Run and takes the first decision, so
// that Run's first pass knows whether it may write.
func (e *Engine) startLease(ctx context.Context) {
	e.holder(ctx)
	e.lease.mu.Lock()
	e.lease.running = true
	e.lease.mu.Unlock()
	e.leaseRound(ctx)
}

// stopLease ends Run's hold: the lease is removed (unless keepOnStop) and
// the one-pass rules apply again.
func (e *Engine) stopLease() {
	e.lease.mu.Lock()
	l, writer, me, keep := e.lease.leaser, e.lease.writer, e.lease.me, e.lease.keepOnStop
	e.lease.running, e.lease.writer, e.lease.leaser = false, false, nil
	e.lease.seen, e.lease.seenAt = clinicsync.Lease{}, time.Time{}
	if e.lease.end != nil {
		e.lease.end()
		e.lease.term, e.lease.end = nil, nil
	}
	e.lease.mu.Unlock()
	if l != nil && writer && !keep {
		if err := l.RemoveLease(me); err != nil {
			e.log.Debug("remove the lease", "code", clinicsync.ErrorCode(err))
		}
	}
	e.update(func(s *Snapshot) { s.StandbyFor = "" })
}

// leaseRound reads the lease and takes, renews or leaves it; it returns
// when to look again.
func (e *Engine) leaseRound(ctx context.Context) time.Duration {
	cfg, dst := e.conf()
	renew, stale, look, settle := leaseTiming(cfg.PollInterval)
	l, ok := dst.(clinicsync.Leaser)
	e.lease.mu.Lock()
	me, prev, wasWriter := e.lease.me, e.lease.leaser, e.lease.writer
	moved := prev != nil && (!ok || !same(prev, l))
	if moved {
		// Another destination (Settings): the old one's lease is removed,
		// for the PCs still using it to take over at once.
		e.lease.seen, e.lease.seenAt = clinicsync.Lease{}, time.Time{}
	}
	e.lease.mu.Unlock()
	if moved && wasWriter {
		prev.RemoveLease(me)
	}
	if !ok {
		e.becomeWriter(nil, clinicsync.Lease{})
		return renew
	}
	cur, err := l.ReadLease()
	if err != nil {
		// Not reachable now: nothing is written either way (a pass
		// needs the folder); decide when it is back.
		e.log.Debug("read the lease", "code", clinicsync.ErrorCode(err))
		return look
	}
	now := e.Now()
	var from clinicsync.Lease // the stale lease taken over
	// check: the lease was taken from a stale holder (or from a file that
	// is no lease); another PC may be taking it at the same moment, and
	// the last rename wins: it is read again before anything is written.
	check := false
	switch {
	case cur.ID == "":
	case cur.ID == me.ID:
		// Ours: renewed, or found after a restart. Gone for over one
		// interval, another PC may be taking it over now.
		check = !e.writing() && now.Sub(cur.Heartbeat) >= cfg.PollInterval
	default:
		e.lease.mu.Lock()
		changed := cur != e.lease.seen
		if changed {
			e.lease.seen, e.lease.seenAt = cur, now
		}
		unchanged := now.Sub(e.lease.seenAt)
		e.lease.mu.Unlock()
		if changed || unchanged < stale {
			e.standBy(l, cur)
			return look
		}
		from, check = cur, true
		e.log.Info("the writer's lease is stale: taking over", "holder", cur.PC, "unchanged_for", unchanged.Round(time.Millisecond))
	}
	next := clinicsync.Lease{LeaseHolder: me, Heartbeat: now.UTC().Truncate(time.Millisecond), Nonce: randomHex(8)}
	var back clinicsync.Lease
	if cur.ID == "" {
		// Free: taken without replacing anything, so that of two PCs
		// starting together one wins at once.
		back, err = l.TakeLease(next)
		if err == nil && back.ID == "" {
			check = true // a file that is no lease is in the way: replace it
			back, err = l.WriteLease(next)
		}
	} else {
		back, err = l.WriteLease(next)
	}
	switch {
	case clinicsync.ErrorCode(err) == clinicsync.ELeaseUnreliable:
		// Said, and written anyway: one PC alone on such a share must
		// not stop; several can write one document twice.
		e.leaseProblem(ctx, err)
		e.becomeWriter(l, from)
		return renew
	case err != nil:
		e.log.Debug("write the lease", "code", clinicsync.ErrorCode(err))
		return look
	}
	e.leaseProblem(ctx, nil)
	if back.ID != me.ID {
		e.lease.mu.Lock()
		e.lease.seen, e.lease.seenAt = back, now
		e.lease.mu.Unlock()
		e.standBy(l, back)
		return look
	}
	if check {
		t := time.NewTimer(settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return look
		case <-t.C:
		}
		again, err := l.ReadLease()
		if err != nil || again.ID != me.ID || again.Nonce != next.Nonce {
			if err == nil && again.ID != "" && again.ID != me.ID {
				e.lease.mu.Lock()
				e.lease.seen, e.lease.seenAt = again, e.Now()
				e.lease.mu.Unlock()
				e.standBy(l, again)
			}
			return look
		}
	}
	e.becomeWriter(l, from)
	return renew
}

// same reports whether a and b are one destination (false when its type
// cannot be compared).
func same(a, b clinicsync.Leaser) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// standingBy reports whether another PC writes now.
func (e *Engine) standingBy() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snap.StandbyFor != ""
}

// writing reports whether this PC writes now.
func (e *Engine) writing() bool {
	e.lease.mu.Lock()
	defer e.lease.mu.Unlock()
	return e.lease.writer
}

// becomeWriter makes this PC the writer (l: the lease it holds; nil: the
// destination needs none) and starts a pass. from is the stale lease it
// took over, if any.
func (e *Engine) becomeWriter(l clinicsync.Leaser, from clinicsync.Lease) {
	e.lease.mu.Lock()
	was, standing := e.lease.writer, e.lease.seen
	e.lease.leaser = l
	if !was {
		e.lease.writer = true
		e.lease.term, e.lease.end = context.WithCancel(context.Background())
	}
	e.lease.seen, e.lease.seenAt = clinicsync.Lease{}, time.Time{}
	e.lease.mu.Unlock()
	if was {
		return
	}
	e.update(func(s *Snapshot) { s.StandbyFor = "" })
	switch {
	case from.ID != "":
		e.activity(context.Background(), store.LevelInfo, "", activity.TookOver, e.holderName(from.LeaseHolder))
	case standing.ID != "":
		e.activity(context.Background(), store.LevelInfo, "", activity.WriterAgain)
	}
	e.SyncNow()
}

// standBy leaves the writing to cur's holder: a pass in progress here is
// stopped, and the snapshot says who writes.
func (e *Engine) standBy(l clinicsync.Leaser, cur clinicsync.Lease) {
	name := e.holderName(cur.LeaseHolder)
	e.lease.mu.Lock()
	e.lease.leaser = l
	e.lease.writer = false
	if e.lease.end != nil {
		e.lease.end()
		e.lease.term, e.lease.end = nil, nil
	}
	e.lease.mu.Unlock()
	said := false
	e.update(func(s *Snapshot) {
		said = s.StandbyFor == name
		s.StandbyFor, s.NextPass = name, time.Time{}
	})
	if !said {
		e.activity(context.Background(), store.LevelInfo, "", activity.StandingBy, name)
	}
}

// holderName names a holder for people: its PC, and its user when it is
// this PC (two users of one terminal server).
func (e *Engine) holderName(h clinicsync.LeaseHolder) string {
	name := h.PC
	if name == "" {
		name = "?"
	}
	e.lease.mu.Lock()
	mine := e.lease.me.PC
	e.lease.mu.Unlock()
	if h.PC == mine && h.User != "" {
		name += " (" + h.User + ")"
	}
	return clinicsync.CleanText(name)
}

// leaseProblem records that the destination cannot keep the lease (err),
// or that it can again (nil); the activity log says it once.
func (e *Engine) leaseProblem(ctx context.Context, err error) {
	msg := ""
	if err != nil {
		msg = clinicsync.ErrorMessage(err)
	}
	e.lease.mu.Lock()
	same := msg == e.lease.problem
	e.lease.problem = msg
	e.lease.mu.Unlock()
	if same {
		return
	}
	t := clinicsync.Text{}
	if err != nil {
		t = clinicsync.ErrorText(err)
	}
	e.update(func(s *Snapshot) { s.LeaseProblem, s.LeaseProblemText = msg, t })
	if err != nil {
		e.activity(ctx, store.LevelWarn, "", activity.LeaseUnkept, err)
	}
}

// writerContext is ctx, ended too when this PC stops writing (another PC
// took the lease): a pass in progress stops at once.
func (e *Engine) writerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	e.lease.mu.Lock()
	term := e.lease.term
	e.lease.mu.Unlock()
	c, cancel := context.WithCancel(ctx)
	if term == nil {
		return c, cancel
	}
	stop := context.AfterFunc(term, cancel)
	return c, func() { stop(); cancel() }
}

// mayWrite says whether this PC may write to the destination now: always
// when it holds the lease or the destination needs none; never while
// another PC holds it (an EStandby error naming that PC). Without Run, it
// may unless another installation renewed a lease recently.
func (e *Engine) mayWrite(ctx context.Context) error {
	e.lease.mu.Lock()
	running, writer := e.lease.running, e.lease.writer
	e.lease.mu.Unlock()
	cfg, dst := e.conf()
	if running {
		switch {
		case writer:
			return nil
		case e.standingBy():
			return standbyError(e.Snapshot().StandbyFor)
		}
		// Not decided yet (the folder was not reachable, or the lease
		// could not be written): the lease's loop tries again shortly.
		return clinicsync.Retryable(clinicsync.EDestination, leaseNotYet, nil)
	}
	l, ok := dst.(clinicsync.Leaser)
	if !ok {
		return nil
	}
	cur, err := l.ReadLease()
	if err != nil || cur.ID == "" {
		return nil // Reachable says what is wrong with the folder
	}
	if id, _ := e.store.GetCursor(ctx, holderCursor); cur.ID == id {
		return nil
	}
	if _, stale, _, _ := leaseTiming(cfg.PollInterval); e.Now().Sub(cur.Heartbeat) > stale {
		return nil
	}
	return standbyError(e.holderName(cur.LeaseHolder))
}

// leaseNotYet is why nothing is written before the lease is decided.
const leaseNotYet = "The documents folder's lease could not be taken yet; Clinic Sync tries again shortly."

func standbyError(writer string) error {
	return clinicsync.Errorf(clinicsync.EStandby, "%s writes to this folder; this PC stands by.", writer)
}

// Writer reads who holds the destination's lease, for `status`: the lease
// (zero when there is none, or the destination takes none), whether it is
// this installation's, and whether it is stale by this PC's clock (its
// holder stopped renewing it two poll intervals ago or more).
func (e *Engine) Writer(ctx context.Context) (l clinicsync.Lease, mine, stale bool, err error) {
	cfg, dst := e.conf()
	le, ok := dst.(clinicsync.Leaser)
	if !ok {
		return l, false, false, nil
	}
	if l, err = le.ReadLease(); err != nil || l.ID == "" {
		return l, false, false, err
	}
	id, _ := e.store.GetCursor(ctx, holderCursor)
	_, after, _, _ := leaseTiming(cfg.PollInterval)
	return l, l.ID == id, e.Now().Sub(l.Heartbeat) > after, nil
}
