package askara

import (
	"crypto/sha256"
	"encoding/json"
	"sync"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/activity"
)

// unusableItems says, once per item, that a list carried an item Clinic
// Sync cannot use (no usable uuid, not an object): it is left out, and the
// clinic must be able to see that it was.
type unusableItems struct {
	mu   sync.Mutex
	say  func(clinicsync.Text)
	seen map[[sha256.Size]byte]bool
}

// maxUnusableSeen bounds the items remembered; past it the memory starts
// again (a server listing thousands of broken items is said again later).
const maxUnusableSeen = 4096

// OnUnusable sets what is done when a list carries an item that cannot be
// used: f receives a line for the activity log (activity.DocumentUnusable
// or activity.NoteUnusable with the reason), once per item while the
// client runs. The item is left out either way, and counted in
// Stats.SkippedItems.
func (c *Client) OnUnusable(f func(clinicsync.Text)) {
	c.unusable.mu.Lock()
	defer c.unusable.mu.Unlock()
	c.unusable.say = f
}

// unusableItem reports one item of list o that its reader refused with err.
func (c *Client) unusableItem(o op, raw json.RawMessage, err error) {
	sum := sha256.Sum256(raw)
	u := &c.unusable
	u.mu.Lock()
	say := u.say
	first := !u.seen[sum]
	if first {
		if u.seen == nil || len(u.seen) >= maxUnusableSeen {
			u.seen = map[[sha256.Size]byte]bool{}
		}
		u.seen[sum] = true
	}
	u.mu.Unlock()
	if !first || say == nil {
		return
	}
	if o == opNoteList {
		say(clinicsync.NewText(activity.NoteUnusable, err))
		return
	}
	say(clinicsync.NewText(activity.DocumentUnusable, err.Error()))
}
