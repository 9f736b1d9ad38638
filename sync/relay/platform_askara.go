package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/failpoint"
	"github.com/clinicsync/clinicsync/sync/notes"
	"github.com/clinicsync/clinicsync/sync/wire"
)

// Askara: new documents, synchronisation requests and notes. Its own
// signature scheme is not documented (AskaraVerificationNote): a delivery
// is verified when the clinic's proxy re-signs it with Standard Webhooks.
func init() {
	register("askara", platform{
		schemes: []func(string, time.Duration) (Verifier, error){StandardWebhooks},
		check:   func(body []byte) error { _, err := ParseAskara(body); return err },
		process: processAskara, lane: askaraLane, resource: askaraResource,
	})
}

// askaraLane is how many Askara deliveries are processed at once (each may
// download a PDF); never two for one document (askaraResource).
const askaraLane = 4

// AskaraVerificationNote says how Askara deliveries are verified: its
// guide says to validate webhook signatures "if implemented" and documents
// no scheme.
const AskaraVerificationNote = "Askara does not document a webhook signature. A delivery is verified " +
	"only when your proxy re-signs it with Standard Webhooks (a whsec_ secret); " +
	"without a secret, deliveries can only be accepted unsigned, on this computer, if you choose to."

// Askara actions the relay acts on.
const (
	ActionNewDocument         = "new_document"
	ActionDocumentSynchronize = "document_synchronize"
	ActionNewNote             = "new_note"
)

// AskaraEvent is one event of an Askara delivery:
// {"id","resource_type","action","metadata":{"document"|"note":{…}},
// "resource_metadata":{"user_id","organization_id"}}.
//
// For new_document and document_synchronize, Document is
// metadata.document when the delivery carries it (its uuid required), and
// nil when it does not: Askara's guide says the event id is the document
// uuid and to "use the document UUID to fetch full details if needed", so
// such an event is resolved with GET /documents/{ID} rather than refused.
// For other actions Document is filled only if metadata.document reads
// cleanly, and left nil otherwise (no error). Note is metadata.note as raw
// JSON (an object, or nil), for new_note; its uuid, when present, is in
// NoteUUID.
type AskaraEvent struct {
	ID             string               // the event id; per Askara's guide, the document or note uuid
	ResourceType   string               // "document" or "note"; may be empty
	Action         string               // "new_document", "document_synchronize", "new_note", or another
	Document       *clinicsync.Document // metadata.document, or nil (see above)
	Note           json.RawMessage      // metadata.note, or nil
	NoteUUID       string               // metadata.note.uuid, or ""
	UserID         string               // resource_metadata.user_id
	OrganizationID string               // resource_metadata.organization_id
}

// DocumentUUID is the uuid to synchronize for a document event: the
// document's own uuid when the delivery carried it, the event id otherwise.
func (e AskaraEvent) DocumentUUID() string {
	if e.Document != nil && e.Document.UUID != "" {
		return e.Document.UUID
	}
	return e.ID
}

// IsDocument reports whether the event asks for a document to be
// synchronized (new_document or document_synchronize).
func (e AskaraEvent) IsDocument() bool {
	return e.Action == ActionNewDocument || e.Action == ActionDocumentSynchronize
}

// AskaraEnvelope is one Askara delivery:
// {"events":[…],"meta":{"webhook_id"}}.
type AskaraEnvelope struct {
	WebhookID string // meta.webhook_id, or "" when absent
	Events    []AskaraEvent
}

type askaraBody struct {
	Events json.RawMessage `json:"events"`
	Meta   json.RawMessage `json:"meta"`
}

type askaraMeta struct {
	WebhookID json.RawMessage `json:"webhook_id"`
}

type askaraEventBody struct {
	ID               json.RawMessage `json:"id"`
	ResourceType     json.RawMessage `json:"resource_type"`
	Action           json.RawMessage `json:"action"`
	Metadata         json.RawMessage `json:"metadata"`
	ResourceMetadata json.RawMessage `json:"resource_metadata"`
}

type askaraMetadata struct {
	Document json.RawMessage `json:"document"`
	Note     json.RawMessage `json:"note"`
}

type askaraResourceMetadata struct {
	UserID         json.RawMessage `json:"user_id"`
	OrganizationID json.RawMessage `json:"organization_id"`
}

type uuidOnly struct {
	UUID json.RawMessage `json:"uuid"`
}

// ParseAskara reads an Askara delivery. It requires a non-empty events list
// (at most MaxAskaraEvents), each event an object with an id and an action;
// see AskaraEvent for the document and note rules. An unknown action is not
// an error: the relay acknowledges and logs it. Errors are *ParseError.
func ParseAskara(body []byte) (AskaraEnvelope, error) {
	var b askaraBody
	if err := object(body, &b); err != nil {
		return AskaraEnvelope{}, err
	}
	var env AskaraEnvelope
	if !wire.IsNull(b.Meta) {
		if !wire.IsObject(b.Meta) {
			return AskaraEnvelope{}, parseErr("meta is not an object")
		}
		var m askaraMeta
		_ = json.Unmarshal(b.Meta, &m)
		id, err := ident(m.WebhookID, "", "meta.webhook_id", false)
		if err != nil {
			return AskaraEnvelope{}, err
		}
		env.WebhookID = id
	}
	var raws []json.RawMessage
	if wire.IsNull(b.Events) || json.Unmarshal(b.Events, &raws) != nil {
		return AskaraEnvelope{}, parseErr("events is missing or not a list")
	}
	switch {
	case len(raws) == 0:
		return AskaraEnvelope{}, parseErr("events is empty")
	case len(raws) > MaxAskaraEvents:
		return AskaraEnvelope{}, parseErr("events has more than %d entries", MaxAskaraEvents)
	}
	env.Events = make([]AskaraEvent, 0, len(raws))
	for i, raw := range raws {
		ev, err := askaraEvent(raw, fmt.Sprintf("event %d", i+1))
		if err != nil {
			return AskaraEnvelope{}, err
		}
		env.Events = append(env.Events, ev)
	}
	return env, nil
}

// askaraEvent reads one event; where is "event N" for the messages.
func askaraEvent(raw json.RawMessage, where string) (AskaraEvent, error) {
	if !wire.IsObject(raw) {
		return AskaraEvent{}, parseErr("%s is not an object", where)
	}
	var b askaraEventBody
	_ = json.Unmarshal(raw, &b)
	var ev AskaraEvent
	var err error
	if ev.ID, err = ident(b.ID, where, "id", true); err != nil {
		return AskaraEvent{}, err
	}
	if ev.Action, err = ident(b.Action, where, "action", true); err != nil {
		return AskaraEvent{}, err
	}
	if ev.ResourceType, err = ident(b.ResourceType, where, "resource_type", false); err != nil {
		return AskaraEvent{}, err
	}
	if rm, err := optionalObject(b.ResourceMetadata, where, "resource_metadata"); err != nil {
		return AskaraEvent{}, err
	} else if rm != nil {
		var r askaraResourceMetadata
		_ = json.Unmarshal(rm, &r)
		if ev.UserID, err = ident(r.UserID, where, "resource_metadata.user_id", false); err != nil {
			return AskaraEvent{}, err
		}
		if ev.OrganizationID, err = ident(r.OrganizationID, where, "resource_metadata.organization_id", false); err != nil {
			return AskaraEvent{}, err
		}
	}
	md, err := optionalObject(b.Metadata, where, "metadata")
	if err != nil {
		return AskaraEvent{}, err
	}
	if md == nil {
		return ev, nil
	}
	var m askaraMetadata
	_ = json.Unmarshal(md, &m)
	switch {
	case ev.IsDocument():
		if ev.Document, err = askaraDocument(m.Document, where); err != nil {
			return AskaraEvent{}, err
		}
	default:
		// Not a document action: keep the document only if it reads cleanly.
		if d, err := askaraDocument(m.Document, where); err == nil {
			ev.Document = d
		}
	}
	note, err := optionalObject(m.Note, where, "metadata.note")
	if err != nil {
		if ev.Action == ActionNewNote {
			return AskaraEvent{}, err
		}
		note = nil
	}
	if note != nil {
		var u uuidOnly
		_ = json.Unmarshal(note, &u)
		id, err := ident(u.UUID, where, "metadata.note.uuid", ev.Action == ActionNewNote)
		switch {
		case err == nil:
			ev.Note, ev.NoteUUID = note, id
		case ev.Action == ActionNewNote:
			return AskaraEvent{}, err
		}
	}
	return ev, nil
}

// askaraDocument reads metadata.document with askara.DecodeDocument, the
// one reader of Askara's documents (the API client's): nil for absent or
// null, an error for a document that is not an object or has no usable
// uuid. Its other fields are data, read leniently: a numeric externalId is
// its digits, a patient given as "/patients/{uuid}" that uuid, a pdf given
// as a link its url.
func askaraDocument(raw json.RawMessage, where string) (*clinicsync.Document, error) {
	raw, err := optionalObject(raw, where, "metadata.document")
	if err != nil || raw == nil {
		return nil, err
	}
	d, err := askara.DecodeDocument(raw)
	if err != nil {
		return nil, fieldErr(err, where, "metadata.document.")
	}
	return &d, nil
}

// askaraResource names what an Askara delivery is about (its first event's
// id), so that two deliveries for one document are not processed at once.
func askaraResource(d store.Delivery) string {
	env, err := ParseAskara(d.Body)
	if err != nil || len(env.Events) == 0 {
		return ""
	}
	return env.Events[0].ID
}

// processAskara pushes each document event to the engine and saves each
// note event, each event once (its dedupe key: the action, the id, and the
// pdf link or the delivery).
func processAskara(s *Server, ctx context.Context, d store.Delivery) (string, string) {
	env, err := ParseAskara(d.Body)
	if err != nil {
		return store.InboxFailed, err.Error()
	}
	var outcomes []string
	state := store.InboxProcessed
	for _, ev := range env.Events {
		key := ev.Action + ":" + ev.ID
		if ev.Document != nil && ev.Document.PDF.URL != "" {
			sum := sha256.Sum256([]byte(ev.Document.PDF.URL))
			key += ":" + hex.EncodeToString(sum[:8])
		} else {
			key += ":" + env.WebhookID + ":" + d.BodySHA256[:16]
		}
		if ev.Action == "new_note" && !s.o.Sink.NotesEnabled() {
			// Kept, not marked seen: processed when notes are switched on.
			outcomes = append(outcomes, ev.ID+": notes are off in Settings; kept")
			state = store.InboxDeferred
			continue
		}
		first, err := s.o.Store.EventFirstSeen(ctx, d.Platform, key, d.ID)
		if err != nil {
			return store.InboxReceived, "" // try again later
		}
		failpoint.Hit(failpoint.RelayEventSeen)
		if !first {
			outcomes = append(outcomes, ev.ID+": duplicate")
			continue
		}
		switch ev.Action {
		case "new_document", "document_synchronize":
			doc := clinicsync.Document{UUID: ev.ID}
			if ev.Document != nil {
				doc = *ev.Document
				if doc.UUID == "" {
					doc.UUID = ev.ID
				}
			}
			out, err := s.o.Sink.Push(ctx, clinicsync.DocumentEvent{Document: doc, Action: ev.Action,
				Verified: signed(d), ReceivedAt: d.ReceivedAt})
			if err != nil {
				// The document is recorded (or will be listed): polling takes it.
				out = "left to polling: " + clinicsync.ErrorMessage(err)
				s.log.Debug("push", "item", doc.UUID, "code", clinicsync.ErrorCode(err))
			}
			outcomes = append(outcomes, doc.UUID+": "+out)
		case "new_note":
			raw := ev.Note
			st, out := s.saveNote(ctx, "Askara new_note "+clean(ev.ID), func() (notes.Note, error) {
				if len(raw) == 0 {
					return notes.Note{}, errors.New("the event carries no note")
				}
				return notes.FromAskara(raw)
			})
			outcomes = append(outcomes, ev.ID+": "+out)
			if st != store.InboxProcessed {
				state = st
			}
		default:
			s.o.Sink.Note(ctx, "info", clinicsync.NewText(activity.UnknownEvent, clean(ev.Action)))
			outcomes = append(outcomes, ev.ID+": ignored action "+clean(ev.Action))
			if state == store.InboxProcessed && len(env.Events) == 1 {
				state = store.InboxIgnored
			}
		}
	}
	return state, clean(strings.Join(outcomes, "; "))
}
