// Package notes turns the clinical-note payloads of each platform (Askara,
// Nabla Core API, SOAPNoteAPI) into one normalised Note, and renders a Note
// as the bytes of a UTF-8 text file for the practice software's patient
// folder (render.go). It is pure: no I/O, no clock, no logging.
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
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clinicsync/clinicsync"
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
const MaxIDLength = 512

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
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
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

// ident checks an identifier. required makes "" an error.
func ident(what, field, s string, required bool) (string, error) {
	switch {
	case s == "" && required:
		return "", invalid(what, "%s is missing", field)
	case len(s) > MaxIDLength:
		return "", invalid(what, "%s is longer than %d bytes", field, MaxIDLength)
	case !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError):
		return "", invalid(what, "%s is not valid UTF-8", field)
	case hasControl(s):
		return "", invalid(what, "%s has control characters", field)
	}
	return s, nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if isControl(r) {
			return true
		}
	}
	return false
}

// isControl reports C0 controls, DEL and C1 controls.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f)
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

// --- Askara ---

type askaraNote struct {
	UUID      string              `json:"uuid"`
	Type      string              `json:"type"`
	Content   string              `json:"content"`
	CreatedAt string              `json:"createdAt"`
	UpdatedAt string              `json:"updatedAt"`
	Patient   *clinicsync.Patient `json:"patient"`
}

// FromAskara reads one Askara note: the metadata.note object of a new_note
// webhook event, or one item of GET /notes (GET /notes/{uuid}). uuid is
// required; type, content, createdAt, updatedAt and patient are optional.
// The content becomes one untitled section, as given. A patient whose
// fields are all empty counts as no patient.
func FromAskara(note json.RawMessage) (Note, error) {
	var a askaraNote
	if err := decodeObject(askaraWhat, note, &a); err != nil {
		return Note{}, err
	}
	n := Note{Source: SourceAskara, Kind: KindNote}
	var err error
	if n.ID, err = ident(askaraWhat, "uuid", a.UUID, true); err != nil {
		return Note{}, err
	}
	if n.Type, err = ident(askaraWhat, "type", a.Type, false); err != nil {
		return Note{}, err
	}
	if n.Type == "" {
		n.Type = TypeNote
	}
	if n.CreatedAt, err = timestamp(askaraWhat, "createdAt", a.CreatedAt); err != nil {
		return Note{}, err
	}
	if n.UpdatedAt, err = timestamp(askaraWhat, "updatedAt", a.UpdatedAt); err != nil {
		return Note{}, err
	}
	if a.Patient != nil && *a.Patient != (clinicsync.Patient{}) {
		p := *a.Patient
		n.Patient = &p
	}
	n.Sections = []Section{{Key: "content", Text: a.Content}}
	return n, nil
}

// --- Nabla ---

// Nabla event types.
const (
	NablaNoteSucceeded       = "generate_note_async.succeeded"
	NablaNoteFailed          = "generate_note_async.failed"
	NablaTranscribeSucceeded = "transcribe_async.succeeded"
	NablaTranscribeFailed    = "transcribe_async.failed"
)

type nablaBody struct {
	ID        string     `json:"id"`
	CreatedAt string     `json:"created_at"`
	Type      string     `json:"type"`
	Data      *nablaData `json:"data"`
}

type nablaData struct {
	ID              string          `json:"id"`
	ClientRequestID string          `json:"client_request_id"`
	Status          string          `json:"status"`
	Payload         json.RawMessage `json:"payload"`
}

type nablaNotePayload struct {
	Note *struct {
		Title    string          `json:"title"`
		Sections []*nablaSection `json:"sections"`
	} `json:"note"`
	SuggestedDotPhrases []*nablaDotPhrase `json:"suggested_dot_phrases"`
}

type nablaSection struct {
	Key   string `json:"key"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

type nablaDotPhrase struct {
	DotPhrase *struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Trigger     string `json:"trigger"`
		Replacement string `json:"replacement"`
	} `json:"dot_phrase"`
	NoteSection  *nablaSection `json:"note_section"`
	TextToInsert string        `json:"text_to_insert"`
}

type nablaTranscriptPayload struct {
	Transcript []*nablaTranscriptItem `json:"transcript"`
}

// nablaTranscriptItem reads the seed's fields (text, the speaker — DOCTOR,
// PATIENT or UNSPECIFIED —, start_time_ms, end_time_ms). The seed names
// the start offset "start_time_ms" but does not print the names of the
// text, speaker and end fields; "speaker_type", "start_offset_ms" and
// "end_offset_ms" are accepted as well, in case the live API uses them.
type nablaTranscriptItem struct {
	Text          string   `json:"text"`
	Speaker       string   `json:"speaker"`
	SpeakerType   string   `json:"speaker_type"`
	StartTimeMS   *float64 `json:"start_time_ms"`
	StartOffsetMS *float64 `json:"start_offset_ms"`
	EndTimeMS     *float64 `json:"end_time_ms"`
	EndOffsetMS   *float64 `json:"end_offset_ms"`
}

// nablaFailedPayload reads the reason of a *.failed event. The seed marks
// payload required but prints none of its fields, so the reason is taken
// from the first of payload.error (a string, or an object with message
// and/or code), payload.error_message and payload.message.
type nablaFailedPayload struct {
	Error        json.RawMessage `json:"error"`
	ErrorMessage string          `json:"error_message"`
	Message      string          `json:"message"`
}

// FromNabla reads a whole Nabla Core API webhook body
// {"id","created_at","type","data":{"id","client_request_id","status","payload"}}.
// data.id is required and is the note id; data.client_request_id, when
// present, is the correlation id; created_at is the note's date. type is
// the discriminator: data.status must be a string but is not compared
// with it. The top-level event id is checked, not kept.
//
// generate_note_async.succeeded gives a KindNote with the note's title and
// sections in order, with the suggested dot phrases placed as Nabla's
// reference says, in the order they come: a suggested section already in
// the note gets text_to_insert appended (on a new line); a suggested
// section not in the note is added after the note's sections, with the
// given key and title (a later dot phrase for the same key appends to it);
// a dot phrase with no suggested section (note_section absent, null or
// without a key) goes to one FreeTextKey section at the very end. A dot
// phrase with an empty text_to_insert uses its dot_phrase.replacement, and
// is skipped if that is empty too.
//
// transcribe_async.succeeded gives a KindTranscript with one untitled
// section of "[mm:ss] Speaker: text" lines (see Render).
//
// *.failed gives a KindFailed whose Error is the platform's reason, or a
// generic sentence. Any other type is an error.
func FromNabla(body []byte) (Note, error) {
	var b nablaBody
	if err := decodeObject(nablaWhat, body, &b); err != nil {
		return Note{}, err
	}
	var err error
	if _, err = ident(nablaWhat, "id", b.ID, false); err != nil {
		return Note{}, err
	}
	typ, err := ident(nablaWhat, "type", b.Type, true)
	if err != nil {
		return Note{}, err
	}
	if b.Data == nil {
		return Note{}, invalid(nablaWhat, "data is missing")
	}
	n := Note{Source: SourceNabla}
	if n.ID, err = ident(nablaWhat, "data.id", b.Data.ID, true); err != nil {
		return Note{}, err
	}
	if n.CorrelationID, err = ident(nablaWhat, "data.client_request_id", b.Data.ClientRequestID, false); err != nil {
		return Note{}, err
	}
	if _, err = ident(nablaWhat, "data.status", b.Data.Status, false); err != nil {
		return Note{}, err
	}
	if n.CreatedAt, err = timestamp(nablaWhat, "created_at", b.CreatedAt); err != nil {
		return Note{}, err
	}
	payload := b.Data.Payload
	if isNull(payload) {
		payload = nil
	} else if bytes.TrimSpace(payload)[0] != '{' {
		return Note{}, invalid(nablaWhat, "data.payload is not an object")
	}

	switch typ {
	case NablaNoteSucceeded:
		n.Kind, n.Type = KindNote, TypeClinicalNote
		if payload == nil {
			return Note{}, invalid(nablaWhat, "data.payload is missing")
		}
		var p nablaNotePayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return Note{}, typeError(nablaWhat, "data.payload", err)
		}
		if p.Note == nil {
			return Note{}, invalid(nablaWhat, "data.payload.note is missing")
		}
		n.Title = p.Note.Title
		for _, s := range p.Note.Sections {
			if s != nil {
				n.Sections = append(n.Sections, Section{Key: s.Key, Title: titleOr(s.Title, s.Key), Text: s.Text})
			}
		}
		n.Sections = placeDotPhrases(n.Sections, p.SuggestedDotPhrases)
	case NablaTranscribeSucceeded:
		n.Kind, n.Type, n.Title = KindTranscript, TypeTranscript, "Transcript"
		if payload == nil {
			return Note{}, invalid(nablaWhat, "data.payload is missing")
		}
		var p nablaTranscriptPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return Note{}, typeError(nablaWhat, "data.payload", err)
		}
		n.Sections = []Section{{Key: "TRANSCRIPT", Text: transcriptText(p.Transcript)}}
	case NablaNoteFailed, NablaTranscribeFailed:
		n.Kind = KindFailed
		if typ == NablaNoteFailed {
			n.Type, n.Title = TypeClinicalNote, "Note generation failed"
		} else {
			n.Type, n.Title = TypeTranscript, "Transcription failed"
		}
		n.Error = "Nabla reported a failure without a reason."
		if payload != nil {
			var p nablaFailedPayload
			if err := json.Unmarshal(payload, &p); err != nil {
				return Note{}, typeError(nablaWhat, "data.payload", err)
			}
			if reason := nablaReason(p); reason != "" {
				n.Error = reason
			}
		}
	default:
		return Note{}, invalid(nablaWhat, "the event type is not one this agent handles")
	}
	return n, nil
}

func isNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// nablaReason picks the failure reason; "" when there is none.
func nablaReason(p nablaFailedPayload) string {
	if !isNull(p.Error) {
		var s string
		if json.Unmarshal(p.Error, &s) == nil && strings.TrimSpace(s) != "" {
			return s
		}
		var o struct {
			Code    any `json:"code"`
			Message any `json:"message"`
		}
		if json.Unmarshal(p.Error, &o) == nil {
			msg, _ := o.Message.(string)
			code, _ := o.Code.(string)
			if f, ok := o.Code.(float64); ok {
				code = fmt.Sprint(f)
			}
			switch {
			case msg != "" && code != "":
				return msg + " (" + code + ")"
			case msg != "":
				return msg
			case code != "":
				return code
			}
		}
	}
	if strings.TrimSpace(p.ErrorMessage) != "" {
		return p.ErrorMessage
	}
	if strings.TrimSpace(p.Message) != "" {
		return p.Message
	}
	return ""
}

// placeDotPhrases applies Nabla's three placement rules (see FromNabla).
func placeDotPhrases(sections []Section, phrases []*nablaDotPhrase) []Section {
	var free []string
	for _, dp := range phrases {
		if dp == nil {
			continue
		}
		text := dp.TextToInsert
		if strings.TrimSpace(text) == "" && dp.DotPhrase != nil {
			text = dp.DotPhrase.Replacement
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		if dp.NoteSection == nil || strings.TrimSpace(dp.NoteSection.Key) == "" {
			free = append(free, text)
			continue
		}
		key := strings.TrimSpace(dp.NoteSection.Key)
		i := indexOfKey(sections, key)
		if i < 0 {
			sections = append(sections, Section{Key: key, Title: titleOr(dp.NoteSection.Title, key), Text: text})
			continue
		}
		sections[i].Text = appendText(sections[i].Text, text)
	}
	if len(free) > 0 {
		sections = append(sections, Section{Key: FreeTextKey, Title: FreeTextTitle, Text: strings.Join(free, "\n")})
	}
	return sections
}

// titleOr returns title, or when it is blank the key made readable
// ("CHIEF_COMPLAINT" → "Chief complaint").
func titleOr(title, key string) string {
	if strings.TrimSpace(title) != "" {
		return title
	}
	k := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(key), "_", " "))
	r, size := utf8.DecodeRuneInString(k)
	if size == 0 {
		return ""
	}
	return strings.ToUpper(string(r)) + k[size:]
}

func indexOfKey(sections []Section, key string) int {
	for i, s := range sections {
		if strings.EqualFold(strings.TrimSpace(s.Key), key) {
			return i
		}
	}
	return -1
}

// appendText puts add on a new line after text.
func appendText(text, add string) string {
	text = strings.TrimRight(text, "\r\n")
	if strings.TrimSpace(text) == "" {
		return add
	}
	return text + "\n" + add
}

// transcriptText renders the transcript items as "[mm:ss] Speaker: text"
// lines: minutes are not wrapped at 60 ("[62:05]"); a missing, negative or
// non-finite start is "[--:--]"; DOCTOR and PATIENT are "Doctor" and
// "Patient"; a missing or UNSPECIFIED speaker is "Speaker ?"; another
// value is written as given.
func transcriptText(items []*nablaTranscriptItem) string {
	var b strings.Builder
	for _, it := range items {
		if it == nil {
			continue
		}
		start := it.StartTimeMS
		if start == nil {
			start = it.StartOffsetMS
		}
		speaker := it.Speaker
		if strings.TrimSpace(speaker) == "" {
			speaker = it.SpeakerType
		}
		fmt.Fprintf(&b, "[%s] %s: %s\n", clock(start), speakerName(speaker), oneLine(it.Text))
	}
	return b.String()
}

func clock(ms *float64) string {
	// 1e15 ms is about 31,700 years: anything above is nonsense.
	if ms == nil || !(*ms >= 0 && *ms < 1e15) {
		return "--:--"
	}
	s := int64(*ms) / 1000
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

func speakerName(s string) string {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DOCTOR":
		return "Doctor"
	case "PATIENT":
		return "Patient"
	case "", "UNSPECIFIED":
		return "Speaker ?"
	}
	return oneLine(s)
}

// --- SOAPNoteAPI ---

type soapBody struct {
	Event     string    `json:"event"`
	NoteID    string    `json:"note_id"`
	Status    string    `json:"status"`
	CreatedAt string    `json:"created_at"`
	Error     string    `json:"error"`
	Data      *soapData `json:"data"`
}

type soapData struct {
	NoteID       string `json:"noteId"`
	Subjective   string `json:"subjective"`
	Objective    string `json:"objective"`
	Assessment   string `json:"assessment"`
	Plan         string `json:"plan"`
	Transcript   string `json:"transcript"`
	BillingCodes *struct {
		ICD10 []*soapCode `json:"icd10"`
		CPT   []*soapCode `json:"cpt"`
	} `json:"billing_codes"`
	PatientSummary string `json:"patient_summary"`
}

type soapCode struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

// FromSOAPNoteAPI reads a whole SOAPNoteAPI webhook body
// {"event","note_id","status","created_at","data":{…}}. event and note_id
// are required; note_id is both the note id and the correlation id.
//
// "test" gives ErrTestEvent. "note.generated" requires data and gives a
// KindNote (Type soap_note) with the sections SUBJECTIVE, OBJECTIVE,
// ASSESSMENT, PLAN, BILLING CODES, PATIENT SUMMARY and TRANSCRIPT, in that
// order, each left out when empty; data.noteId, when present, must equal
// note_id (a mismatch could file one note under another's id). expires_at
// is not read. "note.failed" gives a KindFailed; the seed documents no
// reason field, so Error is a generic sentence unless the body has an
// "error" string. Any other event is an error.
func FromSOAPNoteAPI(body []byte) (Note, error) {
	var b soapBody
	if err := decodeObject(soapWhat, body, &b); err != nil {
		return Note{}, err
	}
	event, err := ident(soapWhat, "event", b.Event, true)
	if err != nil {
		return Note{}, err
	}
	if event == "test" {
		return Note{}, ErrTestEvent
	}
	n := Note{Source: SourceSOAPNoteAPI, Type: TypeSOAPNote}
	if n.ID, err = ident(soapWhat, "note_id", b.NoteID, true); err != nil {
		return Note{}, err
	}
	n.CorrelationID = n.ID
	if _, err = ident(soapWhat, "status", b.Status, false); err != nil {
		return Note{}, err
	}
	if n.CreatedAt, err = timestamp(soapWhat, "created_at", b.CreatedAt); err != nil {
		return Note{}, err
	}
	switch event {
	case "note.generated":
		if b.Data == nil {
			return Note{}, invalid(soapWhat, "note.generated has no data")
		}
		d := b.Data
		if d.NoteID != "" && d.NoteID != n.ID {
			return Note{}, invalid(soapWhat, "data.noteId differs from note_id")
		}
		n.Kind, n.Title = KindNote, "SOAP note"
		add := func(key, title, text string) {
			if strings.TrimSpace(text) != "" {
				n.Sections = append(n.Sections, Section{Key: key, Title: title, Text: text})
			}
		}
		add("subjective", "SUBJECTIVE", d.Subjective)
		add("objective", "OBJECTIVE", d.Objective)
		add("assessment", "ASSESSMENT", d.Assessment)
		add("plan", "PLAN", d.Plan)
		if d.BillingCodes != nil {
			var lines []string
			lines = appendCodes(lines, "ICD-10", d.BillingCodes.ICD10)
			lines = appendCodes(lines, "CPT", d.BillingCodes.CPT)
			add("billing_codes", "BILLING CODES", strings.Join(lines, "\n"))
		}
		add("patient_summary", "PATIENT SUMMARY", d.PatientSummary)
		add("transcript", "TRANSCRIPT", d.Transcript)
	case "note.failed":
		n.Kind, n.Title = KindFailed, "SOAP note generation failed"
		n.Error = "SOAPNoteAPI reported that processing failed, without a reason."
		if strings.TrimSpace(b.Error) != "" {
			n.Error = b.Error
		}
	default:
		return Note{}, invalid(soapWhat, "the event type is not one this agent handles")
	}
	return n, nil
}

// appendCodes adds "SYSTEM CODE  description" lines.
func appendCodes(lines []string, system string, codes []*soapCode) []string {
	for _, c := range codes {
		if c == nil {
			continue
		}
		code, desc := oneLine(c.Code), oneLine(c.Description)
		switch {
		case code == "" && desc == "":
			continue
		case desc == "":
			lines = append(lines, system+" "+code)
		case code == "":
			lines = append(lines, system+" ?  "+desc)
		default:
			lines = append(lines, system+" "+code+"  "+desc)
		}
	}
	return lines
}
