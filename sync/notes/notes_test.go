package notes

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/wire"
)

// checkRendered asserts what every rendered file must be: valid UTF-8,
// CRLF line endings only, no control characters other than tab, CR and
// LF, and exactly one trailing CRLF.
func checkRendered(t testing.TB, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Fatalf("Render: not valid UTF-8")
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Fatalf("Render: does not end in CRLF")
	}
	if bytes.HasSuffix(out, []byte("\r\n\r\n")) {
		t.Fatalf("Render: ends with more than one line break")
	}
	for i, c := range out {
		switch {
		case c == '\n' && (i == 0 || out[i-1] != '\r'):
			t.Fatalf("Render: lone LF at byte %d", i)
		case c == '\r' && (i+1 >= len(out) || out[i+1] != '\n'):
			t.Fatalf("Render: lone CR at byte %d", i)
		}
	}
	for _, r := range string(out) {
		if r != '\t' && r != '\r' && r != '\n' && wire.IsControl(r) {
			t.Fatalf("Render: control character %U", r)
		}
	}
}

var fileNameRE = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}|undated)_[a-z0-9]+(-[a-z0-9]+)*_[0-9a-f]{8}\.txt$`)

func checkFileName(t testing.TB, name string) {
	t.Helper()
	if !fileNameRE.MatchString(name) || len(name) > 80 {
		t.Fatalf("FileName %q: not <date>_<slug>_<8 hex>.txt within 80 bytes", name)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "in", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNablaDotPhrasePlacement(t *testing.T) {
	n, err := FromNabla(mustRead(t, "nabla-generate-note-succeeded.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Section{
		{"CHIEF_COMPLAINT", "Chief complaint", "Sore throat and dry cough for three days."},
		{"HISTORY_OF_PRESENT_ILLNESS", "History of present illness", "Symptoms started after a cold.\nNo fever reported.\nSleeping poorly because of the cough."},
		// Suggested section present: appended on a new line.
		{"PLAN", "Plan", "- Rest and fluids\n- Paracetamol 1 g up to three times a day\n- Come back if the fever rises above 39 °C or breathing becomes difficult."},
		// Suggested section absent: a new section with the given key and title.
		{"ALLERGIES", "Allergies", "No known drug allergies."},
		// No suggested section: the free-text section, last.
		{FreeTextKey, FreeTextTitle, "Phone follow-up in one week."},
	}
	if len(n.Sections) != len(want) {
		t.Fatalf("got %d sections, want %d: %+v", len(n.Sections), len(want), n.Sections)
	}
	for i := range want {
		if n.Sections[i] != want[i] {
			t.Errorf("section %d = %+v, want %+v", i, n.Sections[i], want[i])
		}
	}
	if n.Kind != KindNote || n.Type != TypeClinicalNote || n.Title != "Consultation note" ||
		n.ID != "9b1c6f0e-3d2a-4c55-8f1e-2a7d4b9c0e11" || n.CorrelationID != "c3f1a2b4-5d6e-4f70-8a9b-0c1d2e3f4a5b" ||
		n.Patient != nil || !n.CreatedAt.Equal(time.Date(2026, 3, 2, 9, 15, 42, 318e6, time.UTC)) {
		t.Errorf("note fields: %+v", n)
	}
}

func TestNablaDotPhraseEdgeCases(t *testing.T) {
	body := `{"id":"e","type":"generate_note_async.succeeded","data":{"id":"n1","payload":{
	  "note":{"title":"T","sections":[{"key":"PLAN","title":"","text":""}, null]},
	  "suggested_dot_phrases":[
	    null,
	    {"note_section":{"key":"PLAN","title":"Plan"},"text_to_insert":"first"},
	    {"note_section":{"key":"VITALS","title":""},"text_to_insert":"BP 120/80"},
	    {"note_section":{"key":"vitals","title":"Vitals"},"text_to_insert":"HR 72"},
	    {"note_section":{"key":"","title":"Ignored"},"text_to_insert":"free one"},
	    {"dot_phrase":{"replacement":"from replacement"},"text_to_insert":""},
	    {"dot_phrase":{"replacement":""},"text_to_insert":"  "}
	  ]}}}`
	n, err := FromNabla([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []Section{
		{"PLAN", "Plan", "first"}, // empty section: the text replaces nothing, no leading blank line
		{"VITALS", "Vitals", "BP 120/80\nHR 72"},
		{FreeTextKey, FreeTextTitle, "free one\nfrom replacement"},
	}
	if len(n.Sections) != len(want) {
		t.Fatalf("got %+v", n.Sections)
	}
	for i := range want {
		if n.Sections[i] != want[i] {
			t.Errorf("section %d = %+v, want %+v", i, n.Sections[i], want[i])
		}
	}
}

func TestNablaTranscript(t *testing.T) {
	n, err := FromNabla(mustRead(t, "nabla-transcribe-succeeded.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := "[00:00] Doctor: Good morning, what brings you in today?\n" +
		"[00:03] Patient: I've had a sore throat and a cough since Friday.\n" +
		"[00:06] Doctor: Any fever?\n" +
		"[01:05] Speaker ?: (inaudible)\n" +
		"[62:05] Patient: No, I don't think so.\n"
	if n.Kind != KindTranscript || len(n.Sections) != 1 || n.Sections[0].Text != want {
		t.Fatalf("got %+v", n)
	}
	// The alternative field names, a missing start, a multi-line text and
	// an unknown speaker value.
	n, err = FromNabla([]byte(`{"type":"transcribe_async.succeeded","data":{"id":"x","payload":{"transcript":[
	  {"text":"a\nb","speaker_type":"doctor","start_offset_ms":1500},
	  {"text":"c","speaker":"INTERPRETER"},
	  {"text":"d","speaker":"UNSPECIFIED","start_time_ms":-5}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want = "[00:01] Doctor: a b\n[--:--] INTERPRETER: c\n[--:--] Speaker ?: d\n"
	if n.Sections[0].Text != want {
		t.Fatalf("got %q, want %q", n.Sections[0].Text, want)
	}
}

func TestNablaFailedReasons(t *testing.T) {
	for _, tc := range []struct{ payload, want string }{
		{`{"error":{"code":"E1","message":"m"}}`, "m (E1)"},
		{`{"error":{"code":42}}`, "42"},
		{`{"error":"plain"}`, "plain"},
		{`{"error_message":"em"}`, "em"},
		{`{"message":"msg"}`, "msg"},
		{`{}`, "Nabla reported a failure without a reason."},
		{`null`, "Nabla reported a failure without a reason."},
	} {
		n, err := FromNabla([]byte(`{"type":"transcribe_async.failed","data":{"id":"x","status":"FAILED","payload":` + tc.payload + `}}`))
		if err != nil {
			t.Fatalf("%s: %v", tc.payload, err)
		}
		if n.Kind != KindFailed || n.Error != tc.want || n.Type != TypeTranscript {
			t.Errorf("%s: got %+v, want error %q", tc.payload, n, tc.want)
		}
	}
}

func TestSOAPNoteAPIFields(t *testing.T) {
	n, err := FromSOAPNoteAPI(mustRead(t, "soapnoteapi-note-generated.json"))
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, s := range n.Sections {
		titles = append(titles, s.Title)
	}
	if got := strings.Join(titles, "|"); got != "SUBJECTIVE|OBJECTIVE|ASSESSMENT|PLAN|BILLING CODES|PATIENT SUMMARY|TRANSCRIPT" {
		t.Errorf("sections %s", got)
	}
	if n.Sections[4].Text != "ICD-10 J06.9  Acute upper respiratory infection\nCPT 99213  Office visit, established patient" {
		t.Errorf("billing codes %q", n.Sections[4].Text)
	}
	if n.ID != "a1b2c3d4-e5f6-7890-abcd-ef1234567890" || n.CorrelationID != n.ID || n.Kind != KindNote {
		t.Errorf("ids %+v", n)
	}
	// Empty sections are left out; codes without a description or code.
	n, err = FromSOAPNoteAPI([]byte(`{"event":"note.generated","note_id":"n","data":{"plan":"p",
	  "billing_codes":{"icd10":[{"code":"Z00"},null,{"code":"","description":""}],"cpt":[{"description":"visit"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Sections) != 2 || n.Sections[1].Text != "ICD-10 Z00\nCPT ?  visit" {
		t.Errorf("got %+v", n.Sections)
	}
}

func TestAskaraFields(t *testing.T) {
	n, err := FromAskara(mustRead(t, "askara-note-full.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Patient == nil || n.Patient.ExternalID != "PMS-4411" || n.Patient.FirstName != "Élodie" ||
		!n.UpdatedAt.Equal(time.Date(2026, 2, 24, 11, 2, 15, 0, time.UTC)) || n.CorrelationID != "" {
		t.Errorf("got %+v", n)
	}
	// An all-empty patient is no patient; an absent type is "note".
	n, err = FromAskara([]byte(`{"uuid":"u","patient":{}}`))
	if err != nil || n.Patient != nil || n.Type != TypeNote || !n.CreatedAt.IsZero() {
		t.Errorf("got %+v, %v", n, err)
	}
	if !strings.HasPrefix(FileName(n), "undated_note_") {
		t.Errorf("FileName %q", FileName(n))
	}
	if !bytes.Contains(Render(n), []byte("Patient: none (inbox)\r\nDate: unknown\r\n")) {
		t.Errorf("Render:\n%s", Render(n))
	}
}

// TestAskaraLenientDataFields: the Askara client's list and the relay read
// a note with this one reader, so data fields are read as the list always
// read them: a patient given as a JSON-LD reference is that patient (it
// was dropped before, though the list accepted it), numbers are their
// digits, and an unreadable date leaves the note undated rather than lost.
func TestAskaraLenientDataFields(t *testing.T) {
	for _, c := range []struct {
		name, body string
		check      func(n Note) bool
	}{
		{"patient reference", `{"uuid":"u","patient":"/patients/p1"}`,
			func(n Note) bool { return n.Patient != nil && *n.Patient == clinicsync.Patient{UUID: "p1"} }},
		{"numeric patient fields", `{"uuid":"u","patient":{"externalId":4411,"firstName":7,"lastName":"Martin"}}`,
			func(n Note) bool {
				return n.Patient != nil && n.Patient.ExternalID == "4411" && n.Patient.FirstName == "7" && n.Patient.LastName == "Martin"
			}},
		{"patient of another type", `{"uuid":"u","patient":["x"]}`, func(n Note) bool { return n.Patient == nil }},
		{"numeric type", `{"uuid":"u","type":12}`, func(n Note) bool { return n.Type == "12" }},
		{"type of another type", `{"uuid":"u","type":{"a":1}}`, func(n Note) bool { return n.Type == TypeNote }},
		{"unreadable date", `{"uuid":"u","createdAt":"yesterday","updatedAt":"2026-02-24"}`,
			func(n Note) bool { return n.CreatedAt.IsZero() && n.UpdatedAt.IsZero() }},
		{"date without a zone", `{"uuid":"u","createdAt":"2026-02-24T10:30:00"}`,
			func(n Note) bool { return n.CreatedAt.Equal(time.Date(2026, 2, 24, 10, 30, 0, 0, time.UTC)) }},
		{"null content", `{"uuid":"u","content":null}`, func(n Note) bool { return len(n.Sections) == 1 && n.Sections[0].Text == "" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := FromAskara([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if n.ID != "u" || !c.check(n) {
				t.Fatalf("got %+v (patient %+v)", n, n.Patient)
			}
		})
	}
}

// TestValidationErrors: each bad input gives a permanent *clinicsync.Error
// (code invalid) whose message names the problem and carries no value from
// the body (PHI is the marker used in the values).
func TestValidationErrors(t *testing.T) {
	long := strings.Repeat("a", MaxIDLength+1)
	for _, tc := range []struct {
		name  string
		parse func([]byte) (Note, error)
		body  string
		want  string
	}{
		{"askara empty", fa, ``, "Askara note: the body is empty."},
		{"askara not json", fa, `{"uuid":"PHI"`, "Askara note: the body is not JSON."},
		{"askara array", fa, `["PHI"]`, "Askara note: the body is not a JSON object."},
		{"askara null", fa, `null`, "Askara note: the body is not a JSON object."},
		{"askara no uuid", fa, `{"content":"PHI"}`, "Askara note: uuid is missing."},
		{"askara uuid number", fa, `{"uuid":12}`, "Askara note: uuid has the wrong type."},
		{"askara content object", fa, `{"uuid":"u","content":{"x":"PHI"}}`, "Askara note: content has the wrong type."},
		{"askara type C1 control", fa, `{"uuid":"u","type":"a\u0085PHI"}`, "Askara note: type has control characters."},
		{"askara uuid control", fa, `{"uuid":"a\u0000PHI"}`, "Askara note: uuid has control characters."},
		{"askara uuid long", fa, `{"uuid":"` + long + `"}`, "Askara note: uuid is longer than 512 bytes."},
		{"askara uuid bad utf8", fa, "{\"uuid\":\"a\xffPHI\"}", "Askara note: uuid is not valid UTF-8."},

		{"nabla not json", fn, `PHI`, "Nabla webhook: the body is not JSON."},
		{"nabla no type", fn, `{"data":{"id":"x"}}`, "Nabla webhook: type is missing."},
		{"nabla unknown type", fn, `{"type":"PHI.succeeded","data":{"id":"x"}}`, "Nabla webhook: the event type is not one this agent handles."},
		{"nabla no data", fn, `{"type":"transcribe_async.failed"}`, "Nabla webhook: data is missing."},
		{"nabla data string", fn, `{"type":"transcribe_async.failed","data":"PHI"}`, "Nabla webhook: data has the wrong type."},
		{"nabla no data id", fn, `{"type":"transcribe_async.failed","data":{"payload":{}}}`, "Nabla webhook: data.id is missing."},
		{"nabla bad created_at", fn, `{"type":"transcribe_async.failed","created_at":"PHI","data":{"id":"x"}}`, "Nabla webhook: created_at is not an RFC 3339 time."},
		{"nabla payload list", fn, `{"type":"generate_note_async.succeeded","data":{"id":"x","payload":["PHI"]}}`, "Nabla webhook: data.payload is not an object."},
		{"nabla no payload", fn, `{"type":"generate_note_async.succeeded","data":{"id":"x"}}`, "Nabla webhook: data.payload is missing."},
		{"nabla no note", fn, `{"type":"generate_note_async.succeeded","data":{"id":"x","payload":{}}}`, "Nabla webhook: data.payload.note is missing."},
		{"nabla sections object", fn, `{"type":"generate_note_async.succeeded","data":{"id":"x","payload":{"note":{"sections":{"a":"PHI"}}}}}`, "Nabla webhook: data.payload.note.sections has the wrong type."},
		{"nabla section text number", fn, `{"type":"generate_note_async.succeeded","data":{"id":"x","payload":{"note":{"sections":[{"text":1}]}}}}`, "Nabla webhook: data.payload.note.sections.text has the wrong type."},
		{"nabla transcript start string", fn, `{"type":"transcribe_async.succeeded","data":{"id":"x","payload":{"transcript":[{"text":"PHI","start_time_ms":"PHI"}]}}}`, "Nabla webhook: data.payload.transcript.start_time_ms has the wrong type."},
		{"nabla no transcript payload", fn, `{"type":"transcribe_async.succeeded","data":{"id":"x"}}`, "Nabla webhook: data.payload is missing."},
		{"nabla error_message number", fn, `{"type":"transcribe_async.failed","data":{"id":"x","payload":{"error_message":5}}}`, "Nabla webhook: data.payload.error_message has the wrong type."},

		{"soap not json", fs, `// PHI`, "SOAPNoteAPI webhook: the body is not JSON (it starts with a // comment)."},
		{"soap trailing text", fs, `{"event":"test"}Step 3: PHI`, "SOAPNoteAPI webhook: the body is not JSON."},
		{"soap no event", fs, `{"note_id":"n"}`, "SOAPNoteAPI webhook: event is missing."},
		{"soap no note_id", fs, `{"event":"note.generated","data":{}}`, "SOAPNoteAPI webhook: note_id is missing."},
		{"soap no data", fs, `{"event":"note.generated","note_id":"n"}`, "SOAPNoteAPI webhook: note.generated has no data."},
		{"soap id mismatch", fs, `{"event":"note.generated","note_id":"n","data":{"noteId":"m"}}`, "SOAPNoteAPI webhook: data.noteId differs from note_id."},
		{"soap unknown event", fs, `{"event":"PHI","note_id":"n"}`, "SOAPNoteAPI webhook: the event type is not one this agent handles."},
		{"soap plan number", fs, `{"event":"note.generated","note_id":"n","data":{"plan":1}}`, "SOAPNoteAPI webhook: data.plan has the wrong type."},
		{"soap icd10 object", fs, `{"event":"note.generated","note_id":"n","data":{"billing_codes":{"icd10":{"code":"PHI"}}}}`, "SOAPNoteAPI webhook: data.billing_codes.icd10 has the wrong type."},
		{"soap bad created_at", fs, `{"event":"note.failed","note_id":"n","created_at":"yesterday"}`, "SOAPNoteAPI webhook: created_at is not an RFC 3339 time."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.parse([]byte(tc.body))
			var ce *clinicsync.Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *clinicsync.Error", err)
			}
			if ce.Code != clinicsync.EInvalid || ce.Retryable || ce.Err != nil {
				t.Errorf("error %+v: want a permanent invalid error without a wrapped error", ce)
			}
			if ce.Message != tc.want {
				t.Errorf("message %q, want %q", ce.Message, tc.want)
			}
			if strings.Contains(err.Error(), "PHI") {
				t.Errorf("error %q carries a value from the body", err)
			}
		})
	}
}

func fa(b []byte) (Note, error) { return FromAskara(b) }
func fn(b []byte) (Note, error) { return FromNabla(b) }
func fs(b []byte) (Note, error) { return FromSOAPNoteAPI(b) }

func TestSOAPTestEventFirst(t *testing.T) {
	// "test" is recognised even without note_id.
	if _, err := FromSOAPNoteAPI([]byte(`{"event":"test"}`)); !errors.Is(err, ErrTestEvent) {
		t.Fatalf("got %v", err)
	}
}

func TestByteOrderMarkSkipped(t *testing.T) {
	if _, err := FromSOAPNoteAPI(append([]byte("\xef\xbb\xbf"), mustRead(t, "soapnoteapi-note-failed.json")...)); err != nil {
		t.Fatal(err)
	}
}

// TestHostilePatient: a patient name with path parts, control characters
// and a line break stays on the Patient header line and never reaches the
// file name.
func TestHostilePatient(t *testing.T) {
	body := `{"uuid":"hostile-1","type":"../../Windows/System32/CON\u0000",
	  "content":"ok\u0000\u0007\u001b[31m red\u0085\u007f",
	  "createdAt":"2026-02-24T10:30:00Z",
	  "patient":{"firstName":"../../../etc\u0000\u0007","lastName":"x\r\nType: forged\\..\\CON",
	             "externalId":"..\\..\\AUX\u0008"}}`
	_, err := FromAskara([]byte(body))
	if err == nil {
		t.Fatal("a type with a NUL was accepted")
	}
	body = strings.Replace(body, `CON\u0000"`, `CON"`, 1)
	n, err := FromAskara([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	out := Render(n)
	checkRendered(t, out)
	lines := strings.Split(string(out), "\r\n")
	if lines[0] != `Patient: ../../../etc x Type: forged\..\CON (external id ..\..\AUX)` {
		t.Errorf("patient line %q", lines[0])
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "Type: ") && i != 2 {
			t.Errorf("forged header line %d: %q", i, l)
		}
	}
	if !strings.Contains(string(out), "\r\n\r\nok[31m red\r\n") {
		t.Errorf("content not cleaned:\n%q", out)
	}
	name := FileName(n)
	checkFileName(t, name)
	if !strings.HasPrefix(name, "2026-02-24_windows-system32-con_") {
		t.Errorf("FileName %q", name)
	}
	for _, bad := range []string{"..", "/", `\`, "etc", "forged", "aux"} {
		if strings.Contains(name, bad) {
			t.Errorf("FileName %q contains %q", name, bad)
		}
	}
	// A very long name is cut in the header.
	n.Patient.FirstName = strings.Repeat("é", 10000)
	if l := strings.SplitN(string(Render(n)), "\r\n", 2)[0]; utf8.RuneCountInString(l) > 260 {
		t.Errorf("patient line is %d characters", utf8.RuneCountInString(l))
	}
}

func TestLargeContent(t *testing.T) {
	content := strings.Repeat("Lorem ipsum dolor sit amet, é à ü.\n", 1<<20/36+1)
	body := `{"uuid":"big","content":"` + strings.ReplaceAll(content, "\n", `\n`) + `","createdAt":"2026-02-24T10:30:00Z"}`
	n, err := FromAskara([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	out := Render(n)
	checkRendered(t, out)
	if want := strings.ReplaceAll(strings.TrimRight(content, "\n"), "\n", "\r\n") + "\r\n"; !bytes.HasSuffix(out, []byte(want)) {
		t.Errorf("content not kept whole (%d bytes out)", len(out))
	}
}

// TestInvalidUTF8: bad bytes in note text become U+FFFD, whether they
// come through JSON or sit in a Note built by hand.
func TestInvalidUTF8(t *testing.T) {
	body := []byte("{\"uuid\":\"u1\",\"content\":\"caf\xe9 \xff\xfe ok\",\"patient\":{\"lastName\":\"M\xc3\"}}")
	n, err := FromAskara(body)
	if err != nil {
		t.Fatal(err)
	}
	out := Render(n)
	checkRendered(t, out)
	if !bytes.Contains(out, []byte("caf\uFFFD \uFFFD\uFFFD ok")) || !bytes.Contains(out, []byte("Patient: M\uFFFD")) {
		t.Errorf("got %q", out)
	}
	hand := Note{Source: "x\xff", ID: "id\xc3", Type: "t\xff", Title: "ti\xe2\x82", Kind: KindNote,
		Patient:  &clinicsync.Patient{FirstName: "\xff"},
		Sections: []Section{{Title: "s\xff", Text: "a\xffb\r\rc\x00"}}}
	out = Render(hand)
	checkRendered(t, out)
	checkFileName(t, FileName(hand))
}

func TestRenderLineEndings(t *testing.T) {
	n := Note{Source: SourceAskara, ID: "x", Kind: KindNote, Type: "t",
		Sections: []Section{{Text: "a\nb\rc\r\nd\n\n\r\n\r"}}}
	out := Render(n)
	checkRendered(t, out)
	if !bytes.HasSuffix(out, []byte("\r\n\r\na\r\nb\r\nc\r\nd\r\n")) {
		t.Errorf("got %q", out)
	}
	// An empty note still ends with one CRLF.
	checkRendered(t, Render(Note{}))
}

func TestRenderUpdatedAndRequestID(t *testing.T) {
	at := time.Date(2026, 2, 24, 10, 30, 0, 0, time.UTC)
	n := Note{Source: SourceNabla, ID: "a", CorrelationID: "a", CreatedAt: at, UpdatedAt: at}
	out := string(Render(n))
	if strings.Contains(out, "Updated:") || strings.Contains(out, "Request id:") {
		t.Errorf("got %q", out)
	}
	n.UpdatedAt, n.CorrelationID = at.Add(time.Minute), "b"
	out = string(Render(n))
	if !strings.Contains(out, "Date: 2026-02-24 11:30 +01:00\r\nUpdated: 2026-02-24 11:31 +01:00\r\n") || !strings.Contains(out, "Note id: a\r\nRequest id: b\r\n") {
		t.Errorf("got %q", out)
	}
	n.UpdatedAt = at.Add(-time.Minute)
	if strings.Contains(string(Render(n)), "Updated:") {
		t.Error("an UpdatedAt before CreatedAt is shown")
	}
}

func TestFileName(t *testing.T) {
	at := time.Date(2026, 2, 24, 23, 30, 0, 0, time.FixedZone("", -5*3600)) // 2026-02-25 04:30 UTC
	for _, tc := range []struct {
		n    Note
		want string
	}{
		{Note{Source: "askara", ID: "3f2a", Type: "consultation_summary", CreatedAt: at}, "2026-02-25_consultation-summary_"},
		{Note{Source: "nabla", ID: "x", Type: "clinical_note", Kind: KindFailed, CreatedAt: at}, "2026-02-25_clinical-note-failed_"},
		{Note{Source: "askara", ID: "x", Type: "Lettre d'adressage — Cœur!!"}, "undated_lettre-d-adressage-c-ur_"},
		{Note{Source: "askara", ID: "x", Type: "...///"}, "undated_note_"},
		{Note{Source: "askara", ID: "x", Type: strings.Repeat("ab_", 100)}, "undated_ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-a_"},
	} {
		got := FileName(tc.n)
		checkFileName(t, got)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("FileName(%+v) = %q, want prefix %q", tc.n, got, tc.want)
		}
	}
	// The hash depends on Source and ID only, and separates them.
	a := Note{Source: "askara", ID: "1", Type: "t"}
	b := a
	b.Title, b.Sections, b.Patient = "other", []Section{{Text: "x"}}, &clinicsync.Patient{LastName: "Y"}
	if FileName(a) != FileName(b) {
		t.Error("FileName depends on more than Source, ID, Type, Kind and CreatedAt")
	}
	c := Note{Source: "askara1", ID: "", Type: "t"}
	d := Note{Source: "askara", ID: "1", Type: "t"}
	if FileName(c) == FileName(d) {
		t.Error("Source and ID run together in the hash")
	}
	if e := (Note{Source: "nabla", ID: "1", Type: "t"}); FileName(e) == FileName(d) {
		t.Error("the source does not change the hash")
	}
}
