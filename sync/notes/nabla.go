package notes

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/clinicsync/clinicsync/sync/wire"
)

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
	if wire.IsNull(payload) {
		payload = nil
	} else if !wire.IsObject(payload) {
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

// nablaReason picks the failure reason; "" when there is none.
func nablaReason(p nablaFailedPayload) string {
	if !wire.IsNull(p.Error) {
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
