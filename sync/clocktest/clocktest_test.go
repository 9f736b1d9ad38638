package clocktest

import (
	"sync"
	"testing"
	"time"
)

func TestClockMovesOnlyWhenAdvanced(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c := New(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now = %v, want %v", c.Now(), start)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Advance(time.Second); c.Now() }()
	}
	wg.Wait()
	if want := start.Add(8 * time.Second); !c.Now().Equal(want) {
		t.Fatalf("after 8 advances of 1 s: %v, want %v", c.Now(), want)
	}
}
