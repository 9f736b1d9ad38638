package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/wire"
)

// Azodha: care events, logged and kept; those Options.AzodhaFiles names
// are also written as JSON files. Its signature scheme is not documented
// (AzodhaVerificationNote). One delivery at a time, in order.
func init() {
	register("azodha", platform{
		schemes: []func(string, time.Duration) (Verifier, error){StandardWebhooks},
		check:   func(body []byte) error { _, err := ParseAzodha(body); return err },
		process: processAzodha,
	})
}

// processAzodha writes the event to the activity log, and as a file when
// chosen; the delivery is kept (deferred) either way.
func processAzodha(s *Server, ctx context.Context, d store.Delivery) (string, string) {
	ev, err := ParseAzodha(d.Body)
	if err != nil {
		return store.InboxFailed, err.Error()
	}
	what := clean(ev.Event) // the event, and its id when it has one
	if ev.ID != "" {
		what += " (id " + clean(ev.ID) + ")"
	}
	written, kept := activity.AzodhaWritten, activity.AzodhaKept
	if !signed(d) {
		written, kept = activity.AzodhaWrittenU, activity.AzodhaKeptU
	}
	if slices.Contains(s.o.AzodhaFiles, ev.Event) {
		path, err := s.o.Sink.SaveEventFile(ctx, d.Platform, ev.Event, ev.ID, d.Body)
		if err != nil {
			s.o.Sink.Note(ctx, "error", clinicsync.NewText(activity.AzodhaNotWritten, what, err))
			return store.InboxFailed, clean(clinicsync.ErrorMessage(err))
		}
		s.o.Sink.Note(ctx, "info", clinicsync.NewText(written, what, path))
		return store.InboxDeferred, "written to " + path
	}
	s.o.Sink.Note(ctx, "info", clinicsync.NewText(kept, what))
	return store.InboxDeferred, "kept"
}

// AzodhaVerificationNote says, for the settings window and the activity
// log, how Azodha deliveries are verified. Azodha's webhook guide only says
// to "validate the incoming webhooks using the secret provided in your
// webhook configuration" and to "verify the webhook signature using the
// provided secret", without naming a header or an algorithm, so this
// package does not invent a scheme for it: an Azodha delivery is verified
// with StandardWebhooks when the clinic's reverse proxy or tunnel re-signs
// it with a whsec_ secret; otherwise it cannot be verified, and the relay
// records it as unverifiable (clinicsync.EUnverifiable). Because omitting a
// header costs an attacker nothing, unverifiable deliveries are only safe to
// accept where unsigned ones would be: on a loopback listener, explicitly
// chosen.
const AzodhaVerificationNote = "Azodha does not document how it signs webhooks. A delivery is verified " +
	"only when your proxy re-signs it with Standard Webhooks (a whsec_ secret); " +
	"one that arrives without that signature cannot be checked and is marked unverifiable."

// AzodhaNote returns AzodhaVerificationNote, for the settings window.
func AzodhaNote() string { return AzodhaVerificationNote }

// AzodhaEvent is one Azodha delivery. Azodha's guide publishes no payload
// schema: the event name is the first string among "event", "eventName"
// and "webhookEventId", the id the first string among "id", "eventId" and
// "data.id" ("" when there is none). Raw is the whole body (a copy).
type AzodhaEvent struct {
	ID    string
	Event string
	Raw   json.RawMessage
}

type azodhaBody struct {
	Event          json.RawMessage `json:"event"`
	EventName      json.RawMessage `json:"eventName"`
	WebhookEventID json.RawMessage `json:"webhookEventId"`
	ID             json.RawMessage `json:"id"`
	EventID        json.RawMessage `json:"eventId"`
	Data           json.RawMessage `json:"data"`
}

type azodhaData struct {
	ID json.RawMessage `json:"id"`
}

// ParseAzodha reads an Azodha delivery. It requires an event name. Because
// Azodha documents no schema (the guide's sample payloads are empty), a
// candidate field of another type (an "event" object, a numeric "id") is
// skipped rather than refused, and the next candidate is tried; a string
// candidate must still be a usable identifier (at most MaxIDLength bytes,
// no control characters). Errors are *ParseError.
func ParseAzodha(body []byte) (AzodhaEvent, error) {
	var b azodhaBody
	if err := object(body, &b); err != nil {
		return AzodhaEvent{}, err
	}
	var data azodhaData
	if wire.IsObject(b.Data) {
		_ = json.Unmarshal(b.Data, &data)
	}
	var ev AzodhaEvent
	var err error
	if ev.Event, err = firstString([]json.RawMessage{b.Event, b.EventName, b.WebhookEventID},
		[]string{"event", "eventName", "webhookEventId"}); err != nil {
		return AzodhaEvent{}, err
	}
	if ev.Event == "" {
		return AzodhaEvent{}, parseErr("the body names no event (event, eventName or webhookEventId)")
	}
	if ev.ID, err = firstString([]json.RawMessage{b.ID, b.EventID, data.ID},
		[]string{"id", "eventId", "data.id"}); err != nil {
		return AzodhaEvent{}, err
	}
	ev.Raw = append(json.RawMessage(nil), bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))...)
	return ev, nil
}

// firstString returns the first non-empty string among raws, checked as an
// identifier; values of other types are skipped.
func firstString(raws []json.RawMessage, fields []string) (string, error) {
	for i, raw := range raws {
		var s string
		if wire.IsNull(raw) || json.Unmarshal(raw, &s) != nil || s == "" {
			continue
		}
		return ident(raw, "", fields[i], false)
	}
	return "", nil
}
