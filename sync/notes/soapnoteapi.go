package notes

import "strings"

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
