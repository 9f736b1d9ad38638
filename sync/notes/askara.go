package notes

import (
	"encoding/json"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/wire"
)

// askaraNote is an Askara note's fields as received.
type askaraNote struct {
	UUID      json.RawMessage `json:"uuid"`
	Type      json.RawMessage `json:"type"`
	Content   json.RawMessage `json:"content"`
	CreatedAt json.RawMessage `json:"createdAt"`
	UpdatedAt json.RawMessage `json:"updatedAt"`
	Patient   json.RawMessage `json:"patient"`
}

// FromAskara reads one Askara note: an item of GET /notes, the answer of
// GET /notes/{uuid} (the Askara client reads both with it) or the
// metadata.note object of a new_note webhook event (the relay). It is the
// one reader of Askara's note format, with the rules of package wire.
//
// uuid is required and is an identifier. type is read as text (a number
// as its digits) and, going into the file name, must be a usable
// identifier; an absent one is TypeNote. content, the note itself, must be
// a string when present: a note whose text cannot be read is refused
// rather than written empty. The rest is data, read leniently: createdAt
// and updatedAt as wire.Time (zero when unreadable: the note is written
// undated rather than lost), patient as wire.Patient (an object, or a
// JSON-LD reference "/patients/{uuid}"). A patient whose fields are all
// empty counts as no patient. The content becomes one untitled section, as
// given.
func FromAskara(note json.RawMessage) (Note, error) {
	var a askaraNote
	if err := decodeObject(askaraWhat, note, &a); err != nil {
		return Note{}, err
	}
	n := Note{Source: SourceAskara, Kind: KindNote}
	var err error
	if n.ID, err = wire.ID(a.UUID, "uuid"); err != nil {
		return Note{}, invalid(askaraWhat, "%s", err)
	}
	if n.Type, err = ident(askaraWhat, "type", wire.Text(a.Type), false); err != nil {
		return Note{}, err
	}
	if n.Type == "" {
		n.Type = TypeNote
	}
	content, ok := wire.String(a.Content)
	if !ok {
		return Note{}, invalid(askaraWhat, "content %s", wire.WrongType)
	}
	n.CreatedAt = wire.Time(wire.Text(a.CreatedAt))
	n.UpdatedAt = wire.Time(wire.Text(a.UpdatedAt))
	if p := wire.Patient(a.Patient); p != nil && *p != (clinicsync.Patient{}) {
		n.Patient = p
	}
	n.Sections = []Section{{Key: "content", Text: content}}
	return n, nil
}
