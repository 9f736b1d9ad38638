package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/clinicsync/clinicsync"
)

// The envelope parsers read a verified body into the few fields the relay
// acts on. They share these rules:
//
//   - The body must be UTF-8 (a leading byte-order mark is skipped) and one
//     JSON object; anything else ("", "null", "[]", a string, trailing data,
//     nesting deeper than encoding/json's 10,000 levels) is a *ParseError.
//     Invalid UTF-8 is refused rather than repaired, because repairing
//     would map different ids onto the same one.
//   - Unknown fields are ignored. Duplicate keys: the last one wins
//     (encoding/json), and keys match case-insensitively.
//   - A field the relay reads must have the documented JSON type: a number
//     or an object where a string is expected is an error, null counts as
//     absent.
//   - Identifiers (ids, uuids, actions, event names) are at most MaxIDLength
//     bytes and carry no control characters: they go into the dedupe table,
//     API paths and the activity log.
//   - Error messages name fields and event positions, never values: the
//     body may carry note text and patient names.

// MaxIDLength is the longest identifier (id, uuid, action, event name) the
// parsers accept, in bytes; the Askara client refuses longer uuids too.
const MaxIDLength = 512

// MaxAskaraEvents is the most events one Askara delivery may carry.
const MaxAskaraEvents = 1000

// ParseError is a body the relay cannot use; Message is one sentence,
// without any value from the body, that the relay answers with a 400.
type ParseError struct {
	Message string
}

// Error returns the message.
func (e *ParseError) Error() string { return e.Message }

func parseErr(format string, args ...any) *ParseError {
	return &ParseError{Message: fmt.Sprintf(format, args...)}
}

// object checks that body is one UTF-8 JSON object and decodes it into v
// (a struct of json.RawMessage fields, which cannot fail on any value).
func object(body []byte, v any) error {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(body)) == 0 {
		return parseErr("the body is empty")
	}
	if !utf8.Valid(body) {
		return parseErr("the body is not valid UTF-8")
	}
	if !json.Valid(body) {
		return parseErr("the body is not JSON")
	}
	if !isObject(body) {
		return parseErr("the body is not a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return parseErr("the body is not a JSON object") // not reached: v has only raw fields
	}
	return nil
}

// isObject reports whether raw (valid JSON) is an object.
func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// at names field for a message: "field" at the top level, "event 2: field"
// inside an event.
func at(where, field string) string {
	if where == "" {
		return field
	}
	return where + ": " + field
}

// str decodes an optional string field: "" for absent or null, an error
// naming the field for any other type.
func str(raw json.RawMessage, where, field string) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", parseErr("%s is not a string", at(where, field))
	}
	return s, nil
}

// ident decodes an identifier: a string, at most MaxIDLength bytes, with no
// control characters. required makes absent, null and "" an error ("event
// 2 has no id", "the body has no note_id"); otherwise they give "".
func ident(raw json.RawMessage, where, field string, required bool) (string, error) {
	s, err := str(raw, where, field)
	if err != nil {
		return "", err
	}
	switch {
	case s == "" && required:
		if where == "" {
			return "", parseErr("the body has no %s", field)
		}
		return "", parseErr("%s has no %s", where, field)
	case len(s) > MaxIDLength:
		return "", parseErr("%s is longer than %d bytes", at(where, field), MaxIDLength)
	case hasControl(s):
		return "", parseErr("%s has control characters", at(where, field))
	}
	return s, nil
}

// optionalObject returns raw when it is an object, nil when it is absent or
// null, an error naming the field otherwise.
func optionalObject(raw json.RawMessage, where, field string) (json.RawMessage, error) {
	switch {
	case isNull(raw):
		return nil, nil
	case !isObject(raw):
		return nil, parseErr("%s is not an object", at(where, field))
	}
	return raw, nil
}

// timestamp decodes an optional RFC 3339 time (fractional seconds allowed):
// zero for absent or null, an error for another type or another format.
func timestamp(raw json.RawMessage, field string) (time.Time, error) {
	s, err := str(raw, "", field)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, parseErr("%s is not an RFC 3339 time", field)
	}
	return t, nil
}

// --- Askara ---

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
	if !isNull(b.Meta) {
		if !isObject(b.Meta) {
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
	if isNull(b.Events) || json.Unmarshal(b.Events, &raws) != nil {
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
	if !isObject(raw) {
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

// askaraDocument reads metadata.document: nil for absent or null, an error
// for a document that is not an object, has no usable uuid, or has a field
// of the wrong type (patient and pdf follow clinicsync.Patient's and
// clinicsync.PDF's JSON tags).
func askaraDocument(raw json.RawMessage, where string) (*clinicsync.Document, error) {
	raw, err := optionalObject(raw, where, "metadata.document")
	if err != nil || raw == nil {
		return nil, err
	}
	var u uuidOnly
	_ = json.Unmarshal(raw, &u)
	if _, err := ident(u.UUID, where, "metadata.document.uuid", true); err != nil {
		return nil, err
	}
	var d clinicsync.Document
	if err := json.Unmarshal(raw, &d); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, parseErr("%s has the wrong type", at(where, "metadata.document."+te.Field))
		}
		return nil, parseErr("%s cannot be read", at(where, "metadata.document"))
	}
	return &d, nil
}

// --- SOAPNoteAPI ---

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

// --- Nabla ---

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

// --- Azodha ---

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
	if isObject(b.Data) {
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
		if isNull(raw) || json.Unmarshal(raw, &s) != nil || s == "" {
			continue
		}
		return ident(raw, "", fields[i], false)
	}
	return "", nil
}
