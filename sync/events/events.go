// Package events is Clinic Sync's event bus (Syncthing's lib/events
// idea): typed events, subscribers with a mask, a slow subscriber loses
// events instead of blocking the publisher, and a reader that reconnects
// catches up with Since. cmd (and each test rig) makes one bus and hands it
// to every part that publishes: the engine, the relay, the sign-in (package
// service); the window and `run` subscribe. It imports nothing of the
// project but the root types.
package events

import (
	"sync"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Type is a bit, so a subscriber can ask for several with a mask.
type Type uint32

const (
	PassStarted   Type = 1 << iota // a reconcile pass began
	PassFinished                   // a pass ended; Message holds its error, if any
	ItemChanged                    // one document changed state
	Activity                       // a line was added to the activity log
	StatusChanged                  // the engine's overall status (idle, syncing, ...) changed
	// SnapshotChanged: something the engine's Snapshot shows changed
	// (counts, last or next pass, the status): read it again.
	SnapshotChanged
	// RelayChanged: something the relay's Status shows changed (a
	// delivery accepted or refused, the relay started, stopped or
	// registered with the platform).
	RelayChanged
	// AccountChanged: who is signed in changed, or was read from the platform.
	AccountChanged
	// ProblemsChanged: a condition that stops documents became a problem
	// (escalated: the banner, the tray and one notification follow it), or
	// one cleared; Message is its kind.
	ProblemsChanged

	AllEvents Type = 1<<iota - 1
)

func (t Type) String() string {
	switch t {
	case PassStarted:
		return "PassStarted"
	case PassFinished:
		return "PassFinished"
	case ItemChanged:
		return "ItemChanged"
	case Activity:
		return "Activity"
	case StatusChanged:
		return "StatusChanged"
	case SnapshotChanged:
		return "SnapshotChanged"
	case RelayChanged:
		return "RelayChanged"
	case AccountChanged:
		return "AccountChanged"
	case ProblemsChanged:
		return "ProblemsChanged"
	}
	return "Unknown"
}

// Event is one thing that happened.
type Event struct {
	ID      int64                `json:"id"`
	Time    time.Time            `json:"time"`
	Type    Type                 `json:"type"`
	Item    string               `json:"item,omitempty"`    // document uuid
	State   clinicsync.ItemState `json:"state,omitempty"`   // for ItemChanged
	Status  string               `json:"status,omitempty"`  // for StatusChanged: the engine's new status
	Level   string               `json:"level,omitempty"`   // for Activity
	Message string               `json:"message,omitempty"` // human text, in English; may name a patient
	// Text is an Activity line as a key and arguments, to show it in the
	// reader's language (clinicsync.Text.Render).
	Text clinicsync.Text `json:"text,omitzero"`
}

// Bus delivers events to subscribers. Publishing never blocks: a subscriber
// whose buffer is full loses the event (and can catch up with Since). A
// nil *Bus takes events and drops them (a part built without one, in a
// test that does not listen).
type Bus struct {
	mu     sync.Mutex
	nextID int64
	subs   map[*Subscription]struct{}
	ring   []Event // the last ringSize events, for Since
	now    func() time.Time
}

const ringSize = 1024

// New returns an empty bus.
func New() *Bus {
	return &Bus{subs: map[*Subscription]struct{}{}, now: time.Now}
}

// Subscription receives the events matching its mask on C.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	mask    Type
	bus     *Bus
	dropped int64
}

// Subscribe returns a subscription with a buffer of 256 events.
func (b *Bus) Subscribe(mask Type) *Subscription {
	c := make(chan Event, 256)
	s := &Subscription{C: c, c: c, mask: mask, bus: b}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Dropped reports how many events this subscriber lost to a full buffer.
func (s *Subscription) Dropped() int64 {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.dropped
}

// Unsubscribe stops delivery and closes C.
func (s *Subscription) Unsubscribe() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if _, ok := s.bus.subs[s]; ok {
		delete(s.bus.subs, s)
		close(s.c)
	}
}

// Publish stamps e with an id and time and hands it to every matching
// subscriber without blocking.
func (b *Bus) Publish(e Event) Event {
	if b == nil {
		return e
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	e.ID = b.nextID
	if e.Time.IsZero() {
		e.Time = b.now()
	}
	if len(b.ring) == ringSize {
		copy(b.ring, b.ring[1:])
		b.ring = b.ring[:ringSize-1]
	}
	b.ring = append(b.ring, e)
	for s := range b.subs {
		if s.mask&e.Type == 0 {
			continue
		}
		select {
		case s.c <- e:
		default:
			s.dropped++
		}
	}
	return e
}

// Since returns the remembered events with an id above id, oldest first.
func (b *Bus) Since(id int64) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Event
	for _, e := range b.ring {
		if e.ID > id {
			out = append(out, e)
		}
	}
	return out
}

// LastID is the id of the newest event.
func (b *Bus) LastID() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nextID
}
