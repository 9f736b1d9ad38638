package events

import (
	"sync"
	"testing"
)

func TestBusMaskOrderAndSince(t *testing.T) {
	b := New()
	items := b.Subscribe(ItemChanged)
	all := b.Subscribe(AllEvents)
	b.Publish(Event{Type: PassStarted})
	b.Publish(Event{Type: ItemChanged, Item: "a"})
	b.Publish(Event{Type: ItemChanged, Item: "b"})
	if e := <-items.C; e.Item != "a" || e.ID != 2 {
		t.Fatalf("first item event %+v", e)
	}
	if e := <-items.C; e.Item != "b" {
		t.Fatalf("second item event %+v", e)
	}
	if len(all.C) != 3 {
		t.Fatalf("AllEvents subscriber got %d events", len(all.C))
	}
	since := b.Since(1)
	if len(since) != 2 || since[0].ID != 2 || since[1].ID != 3 {
		t.Fatalf("since(1) = %+v", since)
	}
	items.Unsubscribe()
	items.Unsubscribe() // twice is fine
	if _, ok := <-items.C; ok {
		t.Fatal("channel open after unsubscribe")
	}
}

func TestSlowSubscriberDropsInsteadOfBlocking(t *testing.T) {
	b := New()
	slow := b.Subscribe(AllEvents)
	for i := 0; i < 1000; i++ {
		b.Publish(Event{Type: Activity})
	}
	if got := slow.Dropped(); got != 1000-256 {
		t.Fatalf("dropped %d, want %d", got, 1000-256)
	}
	if len(b.Since(0)) != 1000 || b.LastID() != 1000 {
		t.Fatalf("ring keeps %d, last id %d", len(b.Since(0)), b.LastID())
	}
	for i := 0; i < 2000; i++ {
		b.Publish(Event{Type: Activity})
	}
	if got := b.Since(0); len(got) != ringSize || got[0].ID != 3000-ringSize+1 {
		t.Fatalf("ring after overflow: %d events from %d", len(got), got[0].ID)
	}
}

func TestBusConcurrent(t *testing.T) {
	b := New()
	s := b.Subscribe(AllEvents)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				b.Publish(Event{Type: ItemChanged})
			}
		}()
	}
	wg.Wait()
	if n := int64(len(s.C)) + s.Dropped(); n != 800 {
		t.Fatalf("delivered+dropped = %d, want 800", n)
	}
}

// A part built without a bus publishes into nothing, and says the last id is 0.
func TestNilBusDrops(t *testing.T) {
	var b *Bus
	if e := b.Publish(Event{Type: Activity}); e.ID != 0 || b.LastID() != 0 {
		t.Fatalf("nil bus: %+v, last id %d", e, b.LastID())
	}
}
