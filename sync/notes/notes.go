// Package notes turns the clinical-note payloads of each platform (Askara,
// Nabla Core API, SOAPNoteAPI: one file each) into one normalised Note, and
// renders a Note as the bytes of a UTF-8 text file for the practice
// software's patient folder (render.go). It is pure: no I/O, no clock, no
// logging.
//
// The parsers share these rules:
//
//   - The body must be one JSON object (a leading UTF-8 byte-order mark is
//     skipped). Invalid UTF-8 inside strings is replaced with U+FFFD by
//     encoding/json rather than refused: a note is clinical text, and
//     losing it for one bad byte is worse than a replacement character.
//     Identifiers are the exception: an id that is not valid UTF-8 (or
//     holds U+FFFD, its trace after decoding) is refused, since repairing
//     it could map two notes onto one.
//   - Unknown fields are ignored; null counts as absent. A field that is
//     read must have the documented JSON type.
//   - Identifiers are at most MaxIDLength bytes, without control characters.
//   - Timestamps are RFC 3339 (fractional seconds and offsets such as
//     Askara's "+00:00" allowed). An absent timestamp gives a zero time;
//     a malformed one is an error.
//   - Errors are *clinicsync.Error with Code clinicsync.EInvalid, not
//     retryable, and a Message that names the platform and the field,
//     never a value from the body (which may carry note text and patient
//     names). The one exception is ErrTestEvent.
package notes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/wire"
)

// Kind is what a Note carries.
type Kind string

const (
	KindNote       Kind = "note"       // a clinical note
	KindTranscript Kind = "transcript" // a transcript of the consultation audio
	KindFailed     Kind = "failed"     // the platform reports that generation failed
)

// Sources, as in Note.Source.
const (
	SourceAskara      = "askara"
	SourceNabla       = "nabla"
	SourceSOAPNoteAPI = "soapnoteapi"
)

// Note types set by the parsers (Askara's own type is kept as given).
const (
	TypeClinicalNote = "clinical_note" // a Nabla generated note
	TypeTranscript   = "transcript"    // a Nabla transcript
	TypeSOAPNote     = "soap_note"     // a SOAPNoteAPI note
	TypeNote         = "note"          // an Askara note without a type
)

// FreeTextKey and FreeTextTitle name the section that receives the Nabla
// dot phrases for which Nabla suggests no section.
const (
	FreeTextKey   = "FREE_TEXT"
	FreeTextTitle = "Additional notes"
)

// MaxIDLength is the longest identifier (note id, request id, event id,
// type) the parsers accept, in bytes.
const MaxIDLength = wire.MaxIDLength

// Note is one clinical note, transcript or failure report, whatever the
// platform it came from.
type Note struct {
	Source        string              // "askara", "nabla", "soapnoteapi"
	ID            string              // the platform's note id (Askara uuid, Nabla data.id, SOAPNoteAPI note_id)
	CorrelationID string              // Nabla data.client_request_id, SOAPNoteAPI note_id; "" if none
	Kind          Kind                // note, transcript or failed
	Type          string              // "consultation_summary", "soap_note", "transcript", ...
	Title         string              // may be empty
	Patient       *clinicsync.Patient // nil: no patient (goes to the Inbox folder)
	CreatedAt     time.Time           // zero if unknown
	UpdatedAt     time.Time           // zero if unknown
	Sections      []Section           // rendered in order
	Error         string              // for Kind "failed"
}

// Section is one titled part of a note. An empty Title renders no heading
// (Askara's content is one untitled section).
type Section struct {
	Key, Title, Text string
}

// ErrTestEvent is returned by FromSOAPNoteAPI for SOAPNoteAPI's dashboard
// "Send test event" delivery: acknowledge it, write nothing.
var ErrTestEvent = errors.New("notes: SOAPNoteAPI test event (nothing to write)")

// invalid builds the package's validation error.
func invalid(source, format string, args ...any) *clinicsync.Error {
	return clinicsync.Errorf(clinicsync.EInvalid, "%s: %s.", source, fmt.Sprintf(format, args...))
}

const (
	askaraWhat = "Askara note"
	nablaWhat  = "Nabla webhook"
	soapWhat   = "SOAPNoteAPI webhook"
)

// decodeObject checks that body is one JSON object and decodes it into v.
// A type mismatch is reported with the field's path, never its value.
func decodeObject(what string, body []byte, v any) error {
	body = wire.TrimBOM(body)
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return invalid(what, "the body is empty")
	case !json.Valid(trimmed) && bytes.HasPrefix(trimmed, []byte("//")):
		// As printed in SOAPNoteAPI's guide: a "// note.generated event" line.
		return invalid(what, "the body is not JSON (it starts with a // comment)")
	case !json.Valid(trimmed):
		return invalid(what, "the body is not JSON")
	case trimmed[0] != '{':
		return invalid(what, "the body is not a JSON object")
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		return typeError(what, "", err)
	}
	return nil
}

// typeError turns an encoding/json error into a validation error naming the
// field (prefix + the path encoding/json reports).
func typeError(what, prefix string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if prefix != "" {
			field = prefix + "." + field
		}
		if field != "" {
			return invalid(what, "%s has the wrong type", field)
		}
		return invalid(what, "a value has the wrong type")
	}
	return invalid(what, "the body cannot be read")
}

// ident checks an identifier (wire.IDProblem). required makes "" an error.
func ident(what, field, s string, required bool) (string, error) {
	if s == "" && required {
		return "", invalid(what, "%s %s", field, wire.Missing)
	}
	if p := wire.IDProblem(s); p != "" {
		return "", invalid(what, "%s %s", field, p)
	}
	return s, nil
}

// timestamp parses an optional RFC 3339 time.
func timestamp(what, field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalid(what, "%s is not an RFC 3339 time", field)
	}
	return t, nil
}
