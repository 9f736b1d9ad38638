package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/notes"
	"github.com/clinicsync/clinicsync/sync/platforms"
)

// platform is all the relay does for one webhook platform. Each has a file
// of its own, platform_<name>.go, that registers it; its name, display name
// and whether it carries notes are in the table of sync/platforms, which a
// test checks against the platforms registered here.
type platform struct {
	platforms.Platform
	// schemes build the signature verifiers a delivery may carry, tried by
	// the headers present (the first when none is); those a secret does
	// not suit are left out.
	schemes []func(secret string, tolerance time.Duration) (Verifier, error)
	// check reads the envelope before the delivery is stored: an error
	// (a *ParseError) is answered with a 400.
	check func(body []byte) error
	// process handles a stored delivery and returns its inbox state and
	// outcome (see store.Inbox*).
	process func(s *Server, ctx context.Context, d store.Delivery) (state, outcome string)
	// lane is how many of its deliveries are processed at once (1 when 0:
	// one at a time, in order); resource, when set, names what a delivery
	// is about, so that two for one resource are never processed at once.
	lane     int
	resource func(d store.Delivery) string
}

// registry holds the registered platforms by name.
var registry = map[string]*platform{}

// register adds a platform (from its file's init). Its name must be in
// sync/platforms' table.
func register(name string, p platform) {
	desc, ok := platforms.Lookup(name)
	if !ok {
		panic(fmt.Sprintf("relay: platform %q is not in sync/platforms", name))
	}
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("relay: platform %q registered twice", name))
	}
	p.Platform = desc
	registry[name] = &p
}

// routes returns the registered platforms in the table's order.
func routes() []*platform {
	var out []*platform
	for _, d := range platforms.All() {
		if p := registry[d.Name]; p != nil {
			out = append(out, p)
		}
	}
	return out
}

// Platforms returns the names of the platforms the relay has a path for
// (/webhooks/<name>), in order.
func Platforms() []string {
	var out []string
	for _, p := range routes() {
		out = append(out, p.Name)
	}
	return out
}

// verifiers lists the schemes a platform's deliveries may carry with this
// secret. When the secret suits none, the error is the last scheme's.
func (p *platform) verifiers(secret string, tol time.Duration) ([]Verifier, error) {
	var vs []Verifier
	var err error
	for _, scheme := range p.schemes {
		var v Verifier
		if v, err = scheme(secret, tol); err == nil {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return nil, err
	}
	return vs, nil
}

// width is the platform's lane width.
func (p *platform) width() int { return max(p.lane, 1) }

// signed reports whether a delivery's signature was checked.
func signed(d store.Delivery) bool {
	return d.Verified != "" && d.Verified != "unverified" && d.Verified != "unverifiable"
}

// saveNote converts and saves one note event; with notes switched off the
// delivery is kept (deferred) so that turning them on later loses nothing.
// A note that cannot be converted is written to the activity log with the
// reason.
func (s *Server) saveNote(ctx context.Context, what string, convert func() (notes.Note, error)) (string, string) {
	if !s.o.Sink.NotesEnabled() {
		return store.InboxDeferred, "notes are off in Settings; kept"
	}
	n, err := convert()
	if err != nil {
		s.o.Sink.Note(ctx, "warn", clinicsync.NewText(activity.EventUnreadable, what, err))
		return store.InboxFailed, clean(err.Error())
	}
	out, err := s.o.Sink.SaveNote(ctx, n)
	if err != nil {
		return store.InboxFailed, clean(clinicsync.ErrorMessage(err))
	}
	return store.InboxProcessed, "note " + out
}
