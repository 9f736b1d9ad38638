package netclient

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"time"
)

// Why Watch sends a wake-up.
const (
	WakeResume  = "resume"  // the PC slept and woke up
	WakeNetwork = "network" // the network changed and the PC has one
)

// WatchOptions configure Watch. The zero value watches the real clock and
// the real interfaces every WatchEvery.
type WatchOptions struct {
	// Tick drives the checks; default a ticker of WatchEvery.
	Tick <-chan time.Time
	// Wall is the wall clock without its monotonic reading, Mono the
	// monotonic time elapsed since some fixed start. Default: the real
	// ones. A resume shows as wall time running ahead of monotonic time
	// (Linux and macOS stop the monotonic clock during sleep), or as a
	// tick long overdue (Windows' monotonic clock runs on during sleep,
	// but nothing else does).
	Wall func() time.Time
	Mono func() time.Duration
	// Addrs lists the interface addresses; default net.InterfaceAddrs.
	Addrs func() ([]net.Addr, error)
	// OnNetwork, when set, runs on a network change before the wake-up
	// (Client.Reload: another network may have another proxy).
	OnNetwork func()
	Logger    *slog.Logger
}

// WatchEvery is how often Watch looks: a resume or a network change is
// noticed within this time, and a pass follows at once.
const WatchEvery = 5 * time.Second

// resumeGap is how far wall time may run ahead of monotonic time, or a
// tick be late, before it counts as a resume (NTP's small corrections and
// a busy machine stay under it).
const resumeGap = 20 * time.Second

// Watch sends WakeResume or WakeNetwork on wake (without blocking: a
// wake-up already waiting is enough) each time the PC resumes from sleep
// or its set of network addresses changes to one with a network, until
// ctx ends.
func Watch(ctx context.Context, o WatchOptions, wake chan<- string) {
	if o.Tick == nil {
		t := time.NewTicker(WatchEvery)
		defer t.Stop()
		o.Tick = t.C
	}
	if o.Wall == nil || o.Mono == nil {
		start := time.Now()
		o.Wall = func() time.Time { return time.Now().Round(0) }
		o.Mono = func() time.Duration { return time.Since(start) }
	}
	if o.Addrs == nil {
		o.Addrs = net.InterfaceAddrs
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	send := func(reason string) {
		select {
		case wake <- reason:
		default:
		}
	}
	wall, mono := o.Wall(), o.Mono()
	addrs, _ := addrSet(o.Addrs)
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.Tick:
		}
		w, m := o.Wall(), o.Mono()
		dw, dm := w.Sub(wall), m-mono
		wall, mono = w, m
		if dw-dm > resumeGap || dm > WatchEvery+resumeGap {
			o.Logger.Info("the PC resumed from sleep", "wall", dw.Round(time.Second), "monotonic", dm.Round(time.Second))
			send(WakeResume)
		}
		now, ok := addrSet(o.Addrs)
		if ok && !slices.Equal(now, addrs) {
			online := len(now) > 0
			o.Logger.Info("network addresses changed", "count", len(now), "online", online)
			addrs = now
			if o.OnNetwork != nil {
				o.OnNetwork()
			}
			if online {
				send(WakeNetwork)
			}
		}
	}
}

// addrSet is the sorted addresses that give a network (no loopback, no
// link-local).
func addrSet(f func() ([]net.Addr, error)) ([]string, bool) {
	as, err := f()
	if err != nil {
		return nil, false
	}
	var out []string
	for _, a := range as {
		if hasNetwork([]net.Addr{a}) {
			out = append(out, a.String())
		}
	}
	slices.Sort(out)
	return out, true
}
