package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clinicsync/clinicsync/sync/wire"
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
//   - A field of the envelope the relay reads must have the documented JSON
//     type: a number or an object where a string is expected is an error,
//     null counts as absent. What the envelope carries is read by that
//     format's one reader, shared with the API client and the notes: an
//     Askara document by askara.DecodeDocument, whose data fields are
//     lenient (package wire).
//   - Identifiers (ids, uuids, actions, event names) follow package wire:
//     at most MaxIDLength bytes, valid UTF-8 without U+FFFD, no control
//     characters; they go into the dedupe table, API paths and the
//     activity log.
//   - Error messages name fields and event positions, never values: the
//     body may carry note text and patient names.

// MaxIDLength is the longest identifier (id, uuid, action, event name) the
// parsers accept, in bytes; the Askara client refuses longer uuids too.
const MaxIDLength = wire.MaxIDLength

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
	body = wire.TrimBOM(body)
	if len(bytes.TrimSpace(body)) == 0 {
		return parseErr("the body is empty")
	}
	if !utf8.Valid(body) {
		return parseErr("the body is not valid UTF-8")
	}
	if !json.Valid(body) {
		return parseErr("the body is not JSON")
	}
	if !wire.IsObject(body) {
		return parseErr("the body is not a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return parseErr("the body is not a JSON object") // not reached: v has only raw fields
	}
	return nil
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
	s, ok := wire.String(raw)
	if !ok {
		return "", parseErr("%s is not a string", at(where, field))
	}
	return s, nil
}

// ident decodes an identifier (wire.ID). required makes absent, null and
// "" an error ("event 2 has no id", "the body has no note_id"); otherwise
// they give "".
func ident(raw json.RawMessage, where, field string, required bool) (string, error) {
	s, err := wire.ID(raw, field)
	var fe *wire.FieldError
	if errors.As(err, &fe) && fe.Problem == wire.Missing && !required {
		return "", nil
	}
	if err != nil {
		return "", fieldErr(err, where, "")
	}
	return s, nil
}

// fieldErr is the *ParseError of a *wire.FieldError of the field prefix +
// its Field, where is "event N" or "".
func fieldErr(err error, where, prefix string) error {
	var fe *wire.FieldError
	if !errors.As(err, &fe) {
		return parseErr("%s cannot be read", at(where, strings.TrimSuffix(prefix, ".")))
	}
	field := prefix + fe.Field
	switch fe.Problem {
	case wire.Missing:
		if where == "" {
			return parseErr("the body has no %s", field)
		}
		return parseErr("%s has no %s", where, field)
	case wire.WrongType:
		return parseErr("%s is not a string", at(where, field))
	}
	return parseErr("%s %s", at(where, field), fe.Problem)
}

// optionalObject returns raw when it is an object, nil when it is absent or
// null, an error naming the field otherwise.
func optionalObject(raw json.RawMessage, where, field string) (json.RawMessage, error) {
	switch {
	case wire.IsNull(raw):
		return nil, nil
	case !wire.IsObject(raw):
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
