package netclient_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/sync/netclient"
)

// fakeClock is a wall clock and a monotonic clock moved by the test.
type fakeClock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

func (c *fakeClock) Wall() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

func (c *fakeClock) Mono() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

func (c *fakeClock) advance(wall, mono time.Duration) {
	c.mu.Lock()
	c.wall = c.wall.Add(wall)
	c.mono += mono
	c.mu.Unlock()
}

// fakeAddrs are interface addresses the test changes.
type fakeAddrs struct {
	mu    sync.Mutex
	addrs []net.Addr
}

func (a *fakeAddrs) get() ([]net.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]net.Addr(nil), a.addrs...), nil
}

func (a *fakeAddrs) set(ips ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.addrs = nil
	for _, ip := range ips {
		a.addrs = append(a.addrs, &net.IPNet{IP: net.ParseIP(ip), Mask: net.CIDRMask(24, 32)})
	}
}

// Watch tells a resume from sleep (wall time ahead of monotonic time, or
// a tick long overdue) and a network that changes to one with an address;
// ordinary ticks, small clock corrections and losing the network say
// nothing.
func TestWatchSaysResumeAndNetwork(t *testing.T) {
	clock := &fakeClock{wall: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	addrs := &fakeAddrs{}
	addrs.set("127.0.0.1", "192.0.2.10")
	tick := make(chan time.Time)
	wake := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		netclient.Watch(ctx, netclient.WatchOptions{Tick: tick, Wall: clock.Wall, Mono: clock.Mono, Addrs: addrs.get}, wake)
		close(done)
	}()
	defer func() { cancel(); <-done }()

	step := func(name string, change func(), want string) {
		t.Helper()
		change()
		tick <- time.Time{} // the watcher has taken the tick...
		tick <- time.Time{} // ...and finished with it when it takes the next
		select {
		case got := <-wake:
			if got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		default:
			if want != "" {
				t.Errorf("%s: nothing, want %q", name, want)
			}
		}
	}
	step("ordinary tick", func() { clock.advance(5*time.Second, 5*time.Second) }, "")
	step("small correction", func() { clock.advance(8*time.Second, 5*time.Second) }, "")
	step("resume (wall ahead of monotonic)", func() { clock.advance(2*time.Hour, 5*time.Second) }, netclient.WakeResume)
	step("resume (tick overdue, Windows)", func() { clock.advance(40*time.Minute, 40*time.Minute) }, netclient.WakeResume)
	step("network lost", func() { addrs.set("127.0.0.1") }, "")
	step("network back", func() { addrs.set("127.0.0.1", "192.0.2.44") }, netclient.WakeNetwork)
	step("same network", func() { clock.advance(5*time.Second, 5*time.Second) }, "")
}
