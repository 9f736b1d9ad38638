package relay

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/notes"
)

// Nabla Core API: generated notes and transcripts (and their failures).
// Signed with its own scheme, or with Standard Webhooks when the clinic's
// proxy re-signs. One delivery at a time, in order.
func init() {
	register("nabla", platform{
		schemes: []func(string, time.Duration) (Verifier, error){Nabla, StandardWebhooks},
		check:   func(body []byte) error { _, err := ParseNabla(body); return err },
		process: func(s *Server, ctx context.Context, d store.Delivery) (string, string) {
			ev, err := ParseNabla(d.Body)
			if err != nil {
				return store.InboxFailed, err.Error()
			}
			return s.saveNote(ctx, "Nabla "+clean(ev.Type)+" "+clean(ev.ID), func() (notes.Note, error) { return notes.FromNabla(d.Body) })
		},
	})
}

// NablaEvent is one Nabla Core API delivery:
// {"id","created_at","type","data":{…}}.
type NablaEvent struct {
	ID        string          // the event id, to deduplicate on
	Type      string          // "generate_note_async.succeeded", "transcribe_async.failed", … or another
	CreatedAt time.Time       // zero when absent
	Data      json.RawMessage // the event's data object; PHI: never log it
}

type nablaBody struct {
	ID        json.RawMessage `json:"id"`
	CreatedAt json.RawMessage `json:"created_at"`
	Type      json.RawMessage `json:"type"`
	Data      json.RawMessage `json:"data"`
}

// ParseNabla reads a Nabla delivery. It requires id, type and a data object
// (Nabla's reference marks data required for every type); created_at, when
// present, must be an RFC 3339 time. An unknown type is not an error.
// Errors are *ParseError.
func ParseNabla(body []byte) (NablaEvent, error) {
	var b nablaBody
	if err := object(body, &b); err != nil {
		return NablaEvent{}, err
	}
	var ev NablaEvent
	var err error
	if ev.ID, err = ident(b.ID, "", "id", true); err != nil {
		return NablaEvent{}, err
	}
	if ev.Type, err = ident(b.Type, "", "type", true); err != nil {
		return NablaEvent{}, err
	}
	if ev.CreatedAt, err = timestamp(b.CreatedAt, "created_at"); err != nil {
		return NablaEvent{}, err
	}
	if ev.Data, err = optionalObject(b.Data, "", "data"); err != nil {
		return NablaEvent{}, err
	}
	if ev.Data == nil {
		return NablaEvent{}, parseErr("the body has no data")
	}
	return ev, nil
}

// --- Nabla's signature ---

const (
	nablaTimestamp = "x-nabla-webhook-timestamp"
	nablaSignature = "x-nabla-webhook-signature"
)

type nabla struct {
	key       []byte
	tolerance time.Duration
}

// Nabla verifies Nabla Core API deliveries: x-nabla-webhook-timestamp (Unix
// seconds, or an RFC 3339 / ISO 8601 time with an offset as its older docs
// give it) and x-nabla-webhook-signature, one or more comma-separated hex
// HMAC-SHA256 signatures of timestamp + body (no separator; the timestamp
// exactly as sent in the header) keyed with the secret's bytes. Hex is
// accepted in either case. The delivery id is "": the relay deduplicates on
// the event's id. tolerance 0 means DefaultTolerance.
func Nabla(secret string, tolerance time.Duration) (Verifier, error) {
	secret, err := checkSecret("Nabla", secret)
	if err != nil {
		return nil, err
	}
	if tolerance, err = checkTolerance(tolerance); err != nil {
		return nil, err
	}
	return &nabla{key: []byte(secret), tolerance: tolerance}, nil
}

func (v *nabla) Scheme() string { return SchemeNabla }

func (v *nabla) signatureHeader() string { return nablaSignature }

func (v *nabla) Verify(h http.Header, body []byte, now time.Time) (string, error) {
	ts, verr := single(h, nablaTimestamp, maxTimestampHeader)
	if verr != nil {
		return "", verr
	}
	signed, ok := unixSeconds(ts)
	if !ok {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return "", malformed("the %s header is neither a Unix time in seconds nor an ISO 8601 time with a zone", nablaTimestamp)
		}
		signed = t
	}
	vals, verr := signatureList(h, nablaSignature)
	if verr != nil {
		return "", verr
	}
	if verr := matchHex(nablaSignature, vals, hmacSHA256(v.key, []byte(ts), body)); verr != nil {
		return "", verr
	}
	if verr := fresh(nablaTimestamp, signed, now, v.tolerance); verr != nil {
		return "", verr
	}
	return "", nil
}
