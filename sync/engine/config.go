package engine

import (
	"time"

	"github.com/clinicsync/clinicsync"
)

// Config is what the engine needs to know beyond its parts.
type Config struct {
	Source            string        // "askara"
	SoftwareID        string        // sent as "directory" in confirmations
	PollInterval      time.Duration // default 45 s
	Workers           int           // the most downloads, and apart the most confirmations, in flight at once (the pacers adapt below it), default 16
	BackoffBase       time.Duration // first automatic retry delay, default 30 s
	BackoffMax        time.Duration // cap, default 30 min
	ManualRetryWindow time.Duration // default 30 s (the platform's limit)
	QuickRetryDelay   time.Duration // one quick in-pass retry of a transient failure, default 1 s
	// PushCallTimeout bounds each platform call a pushed document makes
	// (the GET when the event carries no link, the confirmation), default
	// 20 s: a platform that hangs leaves the document to polling instead of
	// holding the relay.
	PushCallTimeout time.Duration
	// MinFree is the free space, in bytes, a pass needs on the disks of
	// the documents folder and of the data folder (WatchSpace): under it
	// no document is written, and the problem is said once (0: no check).
	MinFree int64
}

func (c *Config) defaults() {
	if c.Source == "" {
		c.Source = "askara"
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 45 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 30 * time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Minute
	}
	if c.ManualRetryWindow <= 0 {
		c.ManualRetryWindow = 30 * time.Second
	}
	if c.QuickRetryDelay == 0 {
		c.QuickRetryDelay = time.Second
	}
	if c.PushCallTimeout <= 0 {
		c.PushCallTimeout = 20 * time.Second
	}
}

// Config returns the engine's configuration (with defaults applied).
func (e *Engine) Config() Config {
	c, _ := e.conf()
	return c
}

// Destination returns the destination in use.
func (e *Engine) Destination() clinicsync.Destination {
	_, d := e.conf()
	return d
}

// conf returns the configuration and destination as they are now; a pass
// or a delivery works with one copy from start to end.
func (e *Engine) conf() (Config, clinicsync.Destination) {
	e.confMu.RLock()
	defer e.confMu.RUnlock()
	return e.cfg, e.dst
}

// Reconfigure applies new settings without a restart: the next document
// written uses the new destination and the run loop recomputes its next
// pass. Documents already written stay where they are.
func (e *Engine) Reconfigure(cfg Config, dst clinicsync.Destination) {
	cfg.defaults()
	e.confMu.Lock()
	e.cfg, e.dst = cfg, dst
	e.confMu.Unlock()
	e.SyncNow()
}
