// Package wire holds the rules shared by every reader of a platform's JSON:
// the Askara client (documents, notes, collections), the relay's webhook
// envelopes and the notes converters. Each format has one reader; this
// package is what those readers have in common, so that a field means the
// same wherever it is read.
//
//   - null counts as absent; a leading UTF-8 byte-order mark is skipped.
//   - Data fields (a type, a name, a date, a link) are read leniently: a
//     string, or the literal of a number (platforms send some ids as
//     numbers); another JSON type reads as "" rather than losing the item.
//   - Identifiers (uuids, ids, actions: what goes into a dedupe key, an API
//     path, a file name or the activity log) are strict: at most
//     MaxIDLength bytes, valid UTF-8 without U+FFFD (its trace after
//     decoding: repairing an id could map two items onto one) and without
//     control characters.
//
// The package is pure: no I/O, no clock, and of the project it imports
// only the root package's types.
package wire

import (
	"bytes"
	"encoding/json"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clinicsync/clinicsync"
)

// MaxIDLength is the longest identifier accepted, in bytes.
const MaxIDLength = 512

// Problems an identifier can have, as the end of a sentence that names the
// field first ("uuid is missing").
const (
	Missing    = "is missing"
	WrongType  = "has the wrong type"
	TooLong    = "is longer than 512 bytes"
	NotUTF8    = "is not valid UTF-8"
	HasControl = "has control characters"
)

// FieldError is a field a reader cannot use: Field names it (a JSON path
// such as "patient.uuid", "" for the item itself) and Problem says what is
// wrong, never with the field's value (it may be a patient's name).
type FieldError struct {
	Field   string
	Problem string
}

// Error is the field and its problem: "uuid is missing".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return "the item " + e.Problem
	}
	return e.Field + " " + e.Problem
}

// TrimBOM drops a leading UTF-8 byte-order mark.
func TrimBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) }

// IsNull reports whether raw is absent or JSON null.
func IsNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// IsObject reports whether raw (valid JSON) is an object.
func IsObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// Text reads a data field leniently: a JSON string, or the literal of a
// JSON number; anything else (absent, null, an object) is "".
func Text(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// Time reads a date-time leniently: RFC 3339 (fractions and offsets such
// as API Platform's "+00:00" allowed), or one without a zone, taken as
// UTC; zero when it is none of these.
func Time(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// String reads a field that must be a string when present: "" for absent
// or null, ok false for another JSON type.
func String(raw json.RawMessage) (s string, ok bool) {
	if IsNull(raw) {
		return "", true
	}
	return s, json.Unmarshal(raw, &s) == nil
}

// IDProblem returns what makes s unusable as an identifier (one of the
// problems above, without Missing), or "" when it is usable.
func IDProblem(s string) string {
	switch {
	case len(s) > MaxIDLength:
		return TooLong
	case !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError):
		return NotUTF8
	case Controls(s):
		return HasControl
	}
	return ""
}

// ID reads a required identifier field: a string that IDProblem accepts.
func ID(raw json.RawMessage, field string) (string, error) {
	s, ok := String(raw)
	switch {
	case !ok:
		return "", &FieldError{field, WrongType}
	case s == "":
		return "", &FieldError{field, Missing}
	}
	if p := IDProblem(s); p != "" {
		return "", &FieldError{field, p}
	}
	return s, nil
}

// Controls reports whether s has a control character: C0, DEL or C1
// (which would let a value forge lines in a log or a file's header).
func Controls(s string) bool { return strings.ContainsFunc(s, IsControl) }

// IsControl reports C0 controls, DEL and C1 controls.
func IsControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f)
}

// Patient reads a patient leniently, as Askara gives it on a document or a
// note: an object (each field as Text), or a JSON-LD reference
// "/patients/{uuid}" (a patient with only its uuid); nil when there is
// none.
func Patient(raw json.RawMessage) *clinicsync.Patient {
	if IsNull(raw) {
		return nil
	}
	var po struct {
		UUID        json.RawMessage `json:"uuid"`
		ExternalID  json.RawMessage `json:"externalId"`
		FirstName   json.RawMessage `json:"firstName"`
		LastName    json.RawMessage `json:"lastName"`
		DateOfBirth json.RawMessage `json:"dateOfBirth"`
	}
	if IsObject(raw) && json.Unmarshal(raw, &po) == nil {
		return &clinicsync.Patient{UUID: Text(po.UUID), ExternalID: Text(po.ExternalID),
			FirstName: Text(po.FirstName), LastName: Text(po.LastName), DateOfBirth: Text(po.DateOfBirth)}
	}
	if iri := Text(raw); iri != "" {
		return &clinicsync.Patient{UUID: path.Base(iri)}
	}
	return nil
}
