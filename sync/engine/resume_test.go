package engine

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/netclient"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// A resume from sleep (the wall clock jumps past the monotonic one) runs a
// pass within 10 s, though the poll interval is an hour and the last pass
// failed (its backoff is longer still).
func TestResumeFromSleepRunsAPassAtOnce(t *testing.T) {
	r := newRig(t, sim.Options{Documents: 2, Seed: 31})
	cfg := r.eng.Config()
	cfg.PollInterval = time.Hour
	r.eng.Reconfigure(cfg, r.eng.Destination())
	<-r.eng.wake // Reconfigure asked for a pass: not this test's
	// The first pass fails (every attempt of its list): the next one
	// would wait its backoff, two hours.
	r.sim.QueueAPIFaults(sim.Fault503, sim.Fault503, sim.Fault503, sim.Fault503)
	passes := r.eng.Events().Subscribe(events.PassFinished)
	defer passes.Unsubscribe()

	var mu sync.Mutex
	wall, mono := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), time.Duration(0)
	tick := make(chan time.Time)
	wake := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		netclient.Watch(ctx, netclient.WatchOptions{Tick: tick,
			Wall:  func() time.Time { mu.Lock(); defer mu.Unlock(); return wall },
			Mono:  func() time.Duration { mu.Lock(); defer mu.Unlock(); return mono },
			Addrs: func() ([]net.Addr, error) { return nil, nil }}, wake)
	}()
	r.eng.WakeOn(wake)
	go func() { defer wg.Done(); r.eng.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	next := func(what string) {
		t.Helper()
		select {
		case <-passes.C:
		case <-time.After(10 * time.Second):
			t.Fatalf("no pass within 10 s of %s", what)
		}
	}
	next("the start")
	if err := r.eng.Snapshot().LastPassError; err == "" {
		t.Fatal("the first pass did not fail as arranged")
	}
	// The loop now waits out the failure's backoff (NextPass is set just
	// before the wait).
	waitFor(t, "the backoff", func() bool { return time.Until(r.eng.Snapshot().NextPass) > time.Hour })
	// An ordinary tick: nothing.
	mu.Lock()
	wall, mono = wall.Add(5*time.Second), mono+5*time.Second
	mu.Unlock()
	tick <- time.Now()
	select {
	case <-passes.C:
		t.Fatal("a pass after an ordinary tick")
	default:
	}
	// The PC slept 3 hours: the wall clock moved, the monotonic one not.
	mu.Lock()
	wall, mono = wall.Add(3*time.Hour), mono+5*time.Second
	mu.Unlock()
	tick <- time.Now()
	next("the resume")
	if snap := r.eng.Snapshot(); snap.LastPassError != "" || snap.Counts["confirmed"] != 2 {
		t.Fatalf("the pass after the resume: %q, counts %v", snap.LastPassError, snap.Counts)
	}
}
