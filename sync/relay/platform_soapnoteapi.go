package relay

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/notes"
)

// SOAPNoteAPI: generated SOAP notes (and their failures), and the
// dashboard's test event. Signed with its own scheme. One delivery at a
// time, in order.
func init() {
	register("soapnoteapi", platform{
		schemes: []func(string, time.Duration) (Verifier, error){SOAPNoteAPI},
		check:   func(body []byte) error { _, err := ParseSOAPNoteAPI(body); return err },
		process: func(s *Server, ctx context.Context, d store.Delivery) (string, string) {
			ev, err := ParseSOAPNoteAPI(d.Body)
			if err != nil {
				return store.InboxFailed, err.Error()
			}
			if ev.Event == "test" {
				s.o.Sink.Note(ctx, "info", clinicsync.NewText(activity.SOAPTest))
				return store.InboxProcessed, "test event"
			}
			return s.saveNote(ctx, "SOAPNoteAPI "+ev.Event+" "+clean(ev.NoteID), func() (notes.Note, error) { return notes.FromSOAPNoteAPI(d.Body) })
		},
	})
}

// SOAPNoteEvent is one SOAPNoteAPI delivery:
// {"event","note_id","status","created_at","data":{…}}.
type SOAPNoteEvent struct {
	Event     string          // "note.generated", "note.failed", "test", or another
	NoteID    string          // the note to deduplicate on
	Status    string          // "completed", "failed", "test", or empty
	CreatedAt time.Time       // zero when absent
	Data      json.RawMessage // the note (an object), or nil; PHI: never log it
}

type soapNoteBody struct {
	Event     json.RawMessage `json:"event"`
	NoteID    json.RawMessage `json:"note_id"`
	Status    json.RawMessage `json:"status"`
	CreatedAt json.RawMessage `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// ParseSOAPNoteAPI reads a SOAPNoteAPI delivery. It requires event and
// note_id; data must be an object when present, and is required for
// note.generated (the delivery is the note: SOAPNoteAPI does not retry, and
// without data there is nothing to keep). created_at, when present, must be
// an RFC 3339 time. Errors are *ParseError.
func ParseSOAPNoteAPI(body []byte) (SOAPNoteEvent, error) {
	var b soapNoteBody
	if err := object(body, &b); err != nil {
		return SOAPNoteEvent{}, err
	}
	var ev SOAPNoteEvent
	var err error
	if ev.Event, err = ident(b.Event, "", "event", true); err != nil {
		return SOAPNoteEvent{}, err
	}
	if ev.NoteID, err = ident(b.NoteID, "", "note_id", true); err != nil {
		return SOAPNoteEvent{}, err
	}
	if ev.Status, err = ident(b.Status, "", "status", false); err != nil {
		return SOAPNoteEvent{}, err
	}
	if ev.CreatedAt, err = timestamp(b.CreatedAt, "created_at"); err != nil {
		return SOAPNoteEvent{}, err
	}
	if ev.Data, err = optionalObject(b.Data, "", "data"); err != nil {
		return SOAPNoteEvent{}, err
	}
	if ev.Event == "note.generated" && ev.Data == nil {
		return SOAPNoteEvent{}, parseErr("note.generated has no data")
	}
	return ev, nil
}

// --- SOAPNoteAPI's signature ---

const (
	soapTimestamp = "X-SoapNoteAPI-Timestamp"
	soapSignature = "X-SoapNoteAPI-Signature"
)

type soapNoteAPI struct {
	key       []byte
	tolerance time.Duration
}

// SOAPNoteAPI verifies SOAPNoteAPI deliveries: X-SoapNoteAPI-Timestamp
// (Unix seconds) and X-SoapNoteAPI-Signature, the hex HMAC-SHA256 of
// timestamp + "." + body keyed with the secret's bytes as given (their Node
// and Python examples use the whole "whsec_..." string as the key, not a
// decoded one). Hex is accepted in either case; a comma-separated list of
// signatures is tolerated (undocumented; each must still be a full match).
// The delivery id is "": the relay deduplicates on note_id. tolerance 0
// means DefaultTolerance.
func SOAPNoteAPI(secret string, tolerance time.Duration) (Verifier, error) {
	secret, err := checkSecret("SOAPNoteAPI", secret)
	if err != nil {
		return nil, err
	}
	if tolerance, err = checkTolerance(tolerance); err != nil {
		return nil, err
	}
	return &soapNoteAPI{key: []byte(secret), tolerance: tolerance}, nil
}

func (v *soapNoteAPI) Scheme() string { return SchemeSOAPNoteAPI }

func (v *soapNoteAPI) signatureHeader() string { return soapSignature }

func (v *soapNoteAPI) Verify(h http.Header, body []byte, now time.Time) (string, error) {
	ts, verr := single(h, soapTimestamp, maxTimestampHeader)
	if verr != nil {
		return "", verr
	}
	signed, ok := unixSeconds(ts)
	if !ok {
		return "", malformed("the %s header is not a Unix time in seconds", soapTimestamp)
	}
	vals, verr := signatureList(h, soapSignature)
	if verr != nil {
		return "", verr
	}
	if verr := matchHex(soapSignature, vals, hmacSHA256(v.key, []byte(ts), []byte{'.'}, body)); verr != nil {
		return "", verr
	}
	if verr := fresh(soapTimestamp, signed, now, v.tolerance); verr != nil {
		return "", verr
	}
	return "", nil
}
