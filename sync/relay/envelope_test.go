package relay

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantParseError checks that err is a *ParseError whose message contains
// want and none of the values in phi.
func wantParseError(t *testing.T, err error, want string, phi ...string) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want *ParseError %q", err, err, want)
	}
	if !strings.Contains(pe.Message, want) || pe.Error() != pe.Message {
		t.Fatalf("message %q, want it to contain %q", pe.Message, want)
	}
	for _, s := range phi {
		if strings.Contains(pe.Message, s) {
			t.Fatalf("message %q repeats %q from the body", pe.Message, s)
		}
	}
}

func TestParseAskaraSeedDocument(t *testing.T) {
	// The guide's example verbatim is not JSON: its patient object ends
	// in a literal "..." placeholder.
	_, err := ParseAskara(readTestdata(t, "askara_new_document_seed.txt"))
	wantParseError(t, err, "the body is not JSON")

	for _, c := range []struct{ file, action string }{
		{"askara_new_document.json", "new_document"},
		{"askara_document_synchronize.json", "document_synchronize"},
	} {
		env, err := ParseAskara(readTestdata(t, c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if env.WebhookID != "your-webhook-uuid" || len(env.Events) != 1 {
			t.Fatalf("%s: %+v", c.file, env)
		}
		ev := env.Events[0]
		want := AskaraEvent{ID: "document-uuid", ResourceType: "document", Action: c.action,
			Document: &clinicsync.Document{UUID: "...", Type: "referral_letter", State: "verified",
				Patient: clinicsync.Patient{UUID: "...", ExternalID: "..."},
				PDF:     clinicsync.PDF{URL: "...", FileName: "..."}},
			UserID: "...", OrganizationID: "..."}
		if ev.Document == nil || *ev.Document != *want.Document {
			t.Fatalf("%s: document %+v", c.file, ev.Document)
		}
		ev.Document, want.Document = nil, nil
		if ev.Note != nil || ev.NoteUUID != "" {
			t.Fatalf("%s: note %s", c.file, ev.Note)
		}
		ev.Note = nil
		if !equalEvents(ev, want) {
			t.Fatalf("%s: %+v", c.file, ev)
		}
		if !env.Events[0].IsDocument() || env.Events[0].DocumentUUID() != "..." {
			t.Fatalf("%s: IsDocument %v DocumentUUID %q", c.file, env.Events[0].IsDocument(), env.Events[0].DocumentUUID())
		}
	}
}

func equalEvents(a, b AskaraEvent) bool {
	return a.ID == b.ID && a.ResourceType == b.ResourceType && a.Action == b.Action &&
		a.UserID == b.UserID && a.OrganizationID == b.OrganizationID && a.NoteUUID == b.NoteUUID
}

func TestParseAskaraSeedNote(t *testing.T) {
	env, err := ParseAskara(readTestdata(t, "askara_new_note.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev := env.Events[0]
	if ev.ID != "note-uuid" || ev.Action != "new_note" || ev.ResourceType != "note" || ev.Document != nil ||
		ev.NoteUUID != "..." || ev.UserID != "..." || ev.OrganizationID != "..." || env.WebhookID != "your-webhook-uuid" {
		t.Fatalf("%+v", ev)
	}
	if ev.IsDocument() {
		t.Fatal("a note is not a document")
	}
	var note struct {
		Type    string             `json:"type"`
		Content string             `json:"content"`
		Patient clinicsync.Patient `json:"patient"`
	}
	if err := json.Unmarshal(ev.Note, &note); err != nil || note.Type != "consultation_summary" ||
		note.Content != "Patient presents with..." || note.Patient.FirstName != "..." {
		t.Fatalf("note %s: %+v %v", ev.Note, note, err)
	}
}

func TestParseAskaraCases(t *testing.T) {
	doc := `{"uuid":"d1","type":"referral_letter","state":"verified",` +
		`"patient":{"uuid":"p1","externalId":"X-9","firstName":"Élodie","lastName":"Martin","dateOfBirth":"1980-02-03"},` +
		`"pdf":{"url":"https://files.example/d1.pdf?sig=abc","fileName":"referral.pdf"}}`
	wrap := func(events string) string { return `{"events":[` + events + `],"meta":{"webhook_id":"w1"}}` }
	ok := []struct {
		name, body string
		check      func(t *testing.T, env AskaraEnvelope)
	}{
		{"full document", wrap(`{"id":"d1","resource_type":"document","action":"new_document","metadata":{"document":` + doc + `}}`),
			func(t *testing.T, env AskaraEnvelope) {
				d := env.Events[0].Document
				if d == nil || d.Patient != (clinicsync.Patient{UUID: "p1", ExternalID: "X-9", FirstName: "Élodie", LastName: "Martin", DateOfBirth: "1980-02-03"}) ||
					d.PDF.FileName != "referral.pdf" || d.PDF.URL != "https://files.example/d1.pdf?sig=abc" {
					t.Fatalf("%+v", d)
				}
			}},
		{"document without metadata", wrap(`{"id":"d2","resource_type":"document","action":"new_document"}`),
			func(t *testing.T, env AskaraEnvelope) {
				ev := env.Events[0]
				if ev.Document != nil || ev.ID != "d2" || ev.DocumentUUID() != "d2" {
					t.Fatalf("%+v", ev)
				}
			}},
		{"document with null metadata", wrap(`{"id":"d2","action":"document_synchronize","metadata":null}`),
			func(t *testing.T, env AskaraEnvelope) {
				if env.Events[0].Document != nil || env.Events[0].DocumentUUID() != "d2" {
					t.Fatalf("%+v", env.Events[0])
				}
			}},
		{"document with empty metadata", wrap(`{"id":"d2","action":"new_document","metadata":{}}`),
			func(t *testing.T, env AskaraEnvelope) {
				if env.Events[0].Document != nil {
					t.Fatalf("%+v", env.Events[0])
				}
			}},
		{"document uuid differs from event id", wrap(`{"id":"evt-1","action":"new_document","metadata":{"document":{"uuid":"d9"}}}`),
			func(t *testing.T, env AskaraEnvelope) {
				if env.Events[0].DocumentUUID() != "d9" || env.Events[0].ID != "evt-1" {
					t.Fatalf("%+v", env.Events[0])
				}
			}},
		{"patient fields null", wrap(`{"id":"d1","action":"new_document","metadata":{"document":{"uuid":"d1","patient":{"firstName":null},"pdf":null}}}`),
			func(t *testing.T, env AskaraEnvelope) {
				if env.Events[0].Document.Patient != (clinicsync.Patient{}) {
					t.Fatalf("%+v", env.Events[0].Document)
				}
			}},
		{"unknown action", wrap(`{"id":"x1","resource_type":"invoice","action":"invoice_paid","metadata":{"invoice":{"total":5}}}`),
			func(t *testing.T, env AskaraEnvelope) {
				ev := env.Events[0]
				if ev.Action != "invoice_paid" || ev.ResourceType != "invoice" || ev.Document != nil || ev.IsDocument() {
					t.Fatalf("%+v", ev)
				}
			}},
		{"unknown action with a broken document", wrap(`{"id":"x1","action":"document_deleted","metadata":{"document":{"uuid":7},"note":"x"}}`),
			func(t *testing.T, env AskaraEnvelope) {
				if ev := env.Events[0]; ev.Document != nil || ev.Note != nil {
					t.Fatalf("%+v", ev)
				}
			}},
		{"unknown action with a good document", wrap(`{"id":"d1","action":"document_updated","metadata":{"document":` + doc + `}}`),
			func(t *testing.T, env AskaraEnvelope) {
				if env.Events[0].Document == nil || env.Events[0].Document.UUID != "d1" {
					t.Fatalf("%+v", env.Events[0])
				}
			}},
		{"new_note without metadata", wrap(`{"id":"n1","resource_type":"note","action":"new_note"}`),
			func(t *testing.T, env AskaraEnvelope) {
				if ev := env.Events[0]; ev.Note != nil || ev.NoteUUID != "" || ev.ID != "n1" {
					t.Fatalf("%+v", ev)
				}
			}},
		{"several events", `{"events":[{"id":"a","action":"new_document"},{"id":"b","action":"new_note"},{"id":"c","action":"other"}]}`,
			func(t *testing.T, env AskaraEnvelope) {
				if len(env.Events) != 3 || env.Events[2].ID != "c" || env.WebhookID != "" {
					t.Fatalf("%+v", env)
				}
			}},
		{"unknown fields and null meta", `{"events":[{"id":"a","action":"new_document","extra":[1,2,{}]}],"meta":null,"version":2}`, nil},
		{"byte-order mark", "\xef\xbb\xbf" + wrap(`{"id":"a","action":"new_document"}`), nil},
		{"duplicate keys: last wins", `{"events":[{"id":"a","id":"b","action":"new_document"}]}`,
			func(t *testing.T, env AskaraEnvelope) {
				if env.Events[0].ID != "b" {
					t.Fatalf("%+v", env.Events[0])
				}
			}},
		{"escaped id", `{"events":[{"id":"\u0064\u0031","action":"new_document"}]}`,
			func(t *testing.T, env AskaraEnvelope) {
				if env.Events[0].ID != "d1" {
					t.Fatalf("%+v", env.Events[0])
				}
			}},
		{"max-length id", wrap(`{"id":"` + strings.Repeat("a", MaxIDLength) + `","action":"new_document"}`), nil},
		// Issue 13: the document is read by askara.DecodeDocument, as the
		// API client reads it: data fields leniently (these four were
		// refused with a 400 before, though the list accepted them).
		{"numeric externalId and name", wrap(`{"id":"a","action":"new_document","metadata":{"document":{"uuid":"a",` +
			`"patient":{"externalId":4411,"lastName":"Martin","firstName":7}}}}`),
			func(t *testing.T, env AskaraEnvelope) {
				if p := env.Events[0].Document.Patient; p != (clinicsync.Patient{ExternalID: "4411", FirstName: "7", LastName: "Martin"}) {
					t.Fatalf("%+v", p)
				}
			}},
		{"patient as a reference", wrap(`{"id":"a","action":"new_document","metadata":{"document":{"uuid":"a","patient":"/patients/p1"}}}`),
			func(t *testing.T, env AskaraEnvelope) {
				if p := env.Events[0].Document.Patient; p != (clinicsync.Patient{UUID: "p1"}) {
					t.Fatalf("%+v", p)
				}
			}},
		{"pdf as a link", wrap(`{"id":"a","action":"new_document","metadata":{"document":{"uuid":"a","pdf":"https://x"}}}`),
			func(t *testing.T, env AskaraEnvelope) {
				if d := env.Events[0].Document; d.PDF.URL != "https://x" {
					t.Fatalf("%+v", d)
				}
			}},
		{"pdf url number", wrap(`{"id":"a","action":"new_document","metadata":{"document":{"uuid":"a","pdf":{"url":1}}}}`),
			func(t *testing.T, env AskaraEnvelope) {
				if d := env.Events[0].Document; d.PDF.URL != "1" {
					t.Fatalf("%+v", d)
				}
			}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			env, err := ParseAskara([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.check != nil {
				c.check(t, env)
			}
		})
	}

	phi := []string{"Élodie", "Martin", "secret note text"}
	bad := []struct{ name, body, want string }{
		{"empty", ``, "the body is empty"},
		{"spaces", " \n\t", "the body is empty"},
		{"null", `null`, "not a JSON object"},
		{"array", `[]`, "not a JSON object"},
		{"array of events", `[{"id":"a","action":"new_document"}]`, "not a JSON object"},
		{"string", `"events"`, "not a JSON object"},
		{"number", `42`, "not a JSON object"},
		{"truncated", `{"events":[{"id":"a"`, "not JSON"},
		{"trailing data", `{"events":[{"id":"a","action":"new_document"}]} {}`, "not JSON"},
		{"html", `<html>Wi-Fi login</html>`, "not JSON"},
		{"invalid UTF-8", "{\"events\":[{\"id\":\"a\xff\",\"action\":\"new_document\"}]}", "not valid UTF-8"},
		{"no events", `{"meta":{"webhook_id":"w"}}`, "events is missing or not a list"},
		{"events null", `{"events":null}`, "events is missing or not a list"},
		{"events object", `{"events":{}}`, "events is missing or not a list"},
		{"events string", `{"events":"a"}`, "events is missing or not a list"},
		{"events empty", `{"events":[]}`, "events is empty"},
		{"event not object", `{"events":[{"id":"a","action":"new_document"},"b"]}`, "event 2 is not an object"},
		{"event null", `{"events":[null]}`, "event 1 is not an object"},
		{"no id", `{"events":[{"id":"a","action":"new_document"},{"action":"new_document"}]}`, "event 2 has no id"},
		{"empty id", `{"events":[{"id":"","action":"new_document"}]}`, "event 1 has no id"},
		{"numeric id", `{"events":[{"id":12,"action":"new_document"}]}`, "event 1: id is not a string"},
		{"object id", `{"events":[{"id":{"uuid":"a"},"action":"new_document"}]}`, "event 1: id is not a string"},
		{"long id", `{"events":[{"id":"` + strings.Repeat("a", MaxIDLength+1) + `","action":"new_document"}]}`, "event 1: id is longer than"},
		{"id with newline", `{"events":[{"id":"a\nERROR forged","action":"new_document"}]}`, "event 1: id has control characters"},
		{"no action", `{"events":[{"id":"a"}]}`, "event 1 has no action"},
		{"numeric action", `{"events":[{"id":"a","action":1}]}`, "event 1: action is not a string"},
		{"numeric resource_type", `{"events":[{"id":"a","action":"new_document","resource_type":2}]}`, "event 1: resource_type is not a string"},
		{"metadata string", `{"events":[{"id":"a","action":"new_document","metadata":"x"}]}`, "event 1: metadata is not an object"},
		{"document array", `{"events":[{"id":"a","action":"new_document","metadata":{"document":[]}}]}`, "event 1: metadata.document is not an object"},
		{"document without uuid", `{"events":[{"id":"a","action":"new_document","metadata":{"document":{"type":"x","patient":{"firstName":"Élodie"}}}}]}`,
			"event 1 has no metadata.document.uuid"},
		{"document numeric uuid", `{"events":[{"id":"a","action":"document_synchronize","metadata":{"document":{"uuid":5}}}]}`,
			"event 1: metadata.document.uuid is not a string"},
		{"document uuid with a C1 control", `{"events":[{"id":"a","action":"new_document","metadata":{"document":{"uuid":"a\u0085b"}}}]}`,
			"event 1: metadata.document.uuid has control characters"},
		{"id from a lone surrogate", `{"events":[{"id":"a\ud800","action":"new_document"}]}`, "event 1: id is not valid UTF-8"},
		{"note string", `{"events":[{"id":"a","action":"new_note","metadata":{"note":"secret note text"}}]}`, "event 1: metadata.note is not an object"},
		{"note without uuid", `{"events":[{"id":"a","action":"new_note","metadata":{"note":{"content":"secret note text"}}}]}`, "event 1 has no metadata.note.uuid"},
		{"user_id number", `{"events":[{"id":"a","action":"new_document","resource_metadata":{"user_id":3}}]}`, "event 1: resource_metadata.user_id is not a string"},
		{"resource_metadata list", `{"events":[{"id":"a","action":"new_document","resource_metadata":[]}]}`, "event 1: resource_metadata is not an object"},
		{"meta string", `{"events":[{"id":"a","action":"new_document"}],"meta":"w"}`, "meta is not an object"},
		{"webhook_id number", `{"events":[{"id":"a","action":"new_document"}],"meta":{"webhook_id":1}}`, "meta.webhook_id is not a string"},
		{"too many events", `{"events":[` + strings.Repeat(`{"id":"a","action":"x"},`, MaxAskaraEvents) + `{"id":"a","action":"x"}]}`, "more than 1000"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			env, err := ParseAskara([]byte(c.body))
			wantParseError(t, err, c.want, phi...)
			if env.WebhookID != "" || env.Events != nil {
				t.Fatalf("error with a result: %+v", env)
			}
		})
	}
}

// hostile bodies every parser must refuse without panicking (or, for the
// deep nesting inside a field, survive).
func hostileBodies() map[string][]byte {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	deepObj := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	huge := strings.Repeat("x", 1<<20)
	return map[string][]byte{
		"empty":                   nil,
		"null":                    []byte("null"),
		"array":                   []byte("[]"),
		"nested 10000 arrays":     []byte(deep),
		"nested 10000 objects":    []byte(deepObj),
		"nested 10001 in a field": []byte(`{"events":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`),
		"1 MiB string":            []byte(`"` + huge + `"`),
		"1 MiB id":                []byte(`{"id":"` + huge + `","event":"` + huge + `","events":[{"id":"` + huge + `","action":"x"}],"note_id":"` + huge + `","type":"t","data":{}}`),
		"invalid UTF-8":           []byte("\xff\xfe\xfd"),
		"invalid UTF-8 in object": []byte("{\"event\":\"\xc3\x28\",\"id\":\"\xed\xa0\x80\"}"),
		"events object":           []byte(`{"events": {}}`),
		"NUL":                     []byte("\x00"),
		"lone brace":              []byte("{"),
		"BOM only":                []byte("\xef\xbb\xbf"),
	}
}

func TestParsersHostile(t *testing.T) {
	for name, body := range hostileBodies() {
		t.Run(name, func(t *testing.T) {
			var pe *ParseError
			if _, err := ParseAskara(body); !errors.As(err, &pe) {
				t.Fatalf("Askara: %v", err)
			}
			if _, err := ParseSOAPNoteAPI(body); !errors.As(err, &pe) {
				t.Fatalf("SOAPNoteAPI: %v", err)
			}
			if _, err := ParseNabla(body); !errors.As(err, &pe) {
				t.Fatalf("Nabla: %v", err)
			}
			if _, err := ParseAzodha(body); !errors.As(err, &pe) {
				t.Fatalf("Azodha: %v", err)
			}
		})
	}
	// Deep nesting inside a field the parser keeps raw: accepted or
	// refused, never a crash.
	deepData := []byte(`{"event":"note.generated","note_id":"n","data":{"x":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `}}`)
	if _, err := ParseSOAPNoteAPI(deepData); err != nil {
		t.Logf("deep data: %v", err)
	}
}

func TestParseSOAPNoteAPI(t *testing.T) {
	ev, err := ParseSOAPNoteAPI(readTestdata(t, "soapnoteapi_note_generated.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Event != "note.generated" || ev.NoteID != "a1b2c3d4-e5f6-7890-abcd-ef1234567890" || ev.Status != "completed" ||
		!ev.CreatedAt.Equal(time.Date(2026, 3, 19, 15, 30, 0, 0, time.UTC)) {
		t.Fatalf("%+v", ev)
	}
	var data struct {
		NoteID  string `json:"noteId"`
		Billing struct {
			ICD10 []struct{ Code string } `json:"icd10"`
		} `json:"billing_codes"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.NoteID != ev.NoteID || data.Billing.ICD10[0].Code != "J06.9" {
		t.Fatalf("data %+v %v", data, err)
	}
	ev, err = ParseSOAPNoteAPI(readTestdata(t, "soapnoteapi_note_failed.json"))
	if err != nil || ev.Event != "note.failed" || ev.Status != "failed" || ev.Data != nil {
		t.Fatalf("failed: %+v %v", ev, err)
	}
	ev, err = ParseSOAPNoteAPI(readTestdata(t, "soapnoteapi_test.json"))
	if err != nil || ev.Event != "test" || ev.NoteID != "test_1710784200000" || ev.CreatedAt.IsZero() {
		t.Fatalf("test: %+v %v", ev, err)
	}
	for _, body := range []string{
		`{"event":"note.updated","note_id":"n1"}`, // unknown event, no time, no data
		`{"event":"note.failed","note_id":"n1","data":null,"created_at":null}`,
		`{"event":"note.generated","note_id":"n1","data":{},"created_at":"2026-03-19T15:30:00+01:00"}`,
	} {
		if _, err := ParseSOAPNoteAPI([]byte(body)); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
	for _, c := range []struct{ body, want string }{
		{`{"note_id":"n1"}`, "the body has no event"},
		{`{"event":"note.failed"}`, "the body has no note_id"},
		{`{"event":"note.failed","note_id":123}`, "note_id is not a string"},
		{`{"event":7,"note_id":"n"}`, "event is not a string"},
		{`{"event":"note.failed","note_id":"n","status":false}`, "status is not a string"},
		{`{"event":"note.failed","note_id":"n","created_at":1710784200}`, "created_at is not a string"},
		{`{"event":"note.failed","note_id":"n","created_at":"March 19"}`, "created_at is not an RFC 3339 time"},
		{`{"event":"note.generated","note_id":"n"}`, "note.generated has no data"},
		{`{"event":"note.generated","note_id":"n","data":"Patient presents with cough"}`, "data is not an object"},
		{`{"event":"note.generated","note_id":"n","data":[]}`, "data is not an object"},
		{`{"event":"note\u0000x","note_id":"n"}`, "event has control characters"},
		{`[{"event":"test","note_id":"n"}]`, "not a JSON object"},
	} {
		ev, err := ParseSOAPNoteAPI([]byte(c.body))
		wantParseError(t, err, c.want, "Patient presents")
		if ev.Event != "" || ev.NoteID != "" || ev.Data != nil {
			t.Fatalf("error with a result: %+v", ev)
		}
	}
}

func TestParseNabla(t *testing.T) {
	ev, err := ParseNabla(readTestdata(t, "nabla_generate_note_succeeded.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "3f6c1a52-8d1e-4c61-9a8e-0b7f2d9c4e11" || ev.Type != "generate_note_async.succeeded" ||
		!ev.CreatedAt.Equal(time.Date(2026, 3, 19, 15, 30, 0, 0, time.UTC)) || !json.Valid(ev.Data) {
		t.Fatalf("%+v", ev)
	}
	ev, err = ParseNabla(readTestdata(t, "nabla_transcribe_failed.json"))
	if err != nil || ev.Type != "transcribe_async.failed" {
		t.Fatalf("%+v %v", ev, err)
	}
	if ev, err := ParseNabla([]byte(`{"id":"e","type":"something_new.happened","data":{"x":1}}`)); err != nil || !ev.CreatedAt.IsZero() {
		t.Fatalf("unknown type: %+v %v", ev, err)
	}
	for _, c := range []struct{ body, want string }{
		{`{"type":"t","data":{}}`, "the body has no id"},
		{`{"id":"e","data":{}}`, "the body has no type"},
		{`{"id":"e","type":"t"}`, "the body has no data"},
		{`{"id":"e","type":"t","data":null}`, "the body has no data"},
		{`{"id":"e","type":"t","data":"x"}`, "data is not an object"},
		{`{"id":1,"type":"t","data":{}}`, "id is not a string"},
		{`{"id":"e","type":["t"],"data":{}}`, "type is not a string"},
		{`{"id":"e","type":"t","data":{},"created_at":"2026-03-19 15:30"}`, "created_at is not an RFC 3339 time"},
		{`{"id":"e","type":"t","data":{},"created_at":1}`, "created_at is not a string"},
	} {
		ev, err := ParseNabla([]byte(c.body))
		wantParseError(t, err, c.want)
		if ev.ID != "" || ev.Data != nil {
			t.Fatalf("error with a result: %+v", ev)
		}
	}
}

func TestParseAzodha(t *testing.T) {
	for _, c := range []struct{ file, event, id string }{
		{"azodha_inference_to_observations.json", "InferenceToObservations", "inf-7781"},
		{"azodha_health_record_counter.json", "HealthRecordCounter", ""},
		{"azodha_survey_assessment.json", "SurveyAssessment", "evt-9001"},
	} {
		body := readTestdata(t, c.file)
		ev, err := ParseAzodha(body)
		if err != nil || ev.Event != c.event || ev.ID != c.id || string(ev.Raw) != string(body) {
			t.Fatalf("%s: %+v %v", c.file, ev, err)
		}
		// Raw is a copy: the caller may reuse its buffer.
		body[0] = ' '
		if ev.Raw[0] != '{' {
			t.Fatalf("%s: Raw aliases the body", c.file)
		}
	}
	for _, c := range []struct{ body, event, id string }{
		{`{"event":"A","eventName":"B","webhookEventId":"C","id":"1","eventId":"2","data":{"id":"3"}}`, "A", "1"},
		{`{"eventName":"B","webhookEventId":"C","eventId":"2","data":{"id":"3"}}`, "B", "2"},
		{`{"webhookEventId":"C","data":{"id":"3"}}`, "C", "3"},
		{`{"event":{"type":"x"},"eventName":"B","id":42,"eventId":"2"}`, "B", "2"}, // other types skipped
		{`{"event":"","eventName":null,"webhookEventId":"C","id":"","data":"x"}`, "C", ""},
		{`{"event":"A","data":{"id":7}}`, "A", ""},
		{`{"event":"A","data":[{"id":"x"}]}`, "A", ""},
	} {
		ev, err := ParseAzodha([]byte(c.body))
		if err != nil || ev.Event != c.event || ev.ID != c.id {
			t.Fatalf("%s: %+v %v", c.body, ev, err)
		}
	}
	for _, c := range []struct{ body, want string }{
		{`{"patientId":"p","count":3}`, "names no event"},
		{`{"event":1,"eventName":{"x":1}}`, "names no event"},
		{`{"event":"A\nB"}`, "event has control characters"},
		{`{"eventName":"` + strings.Repeat("E", MaxIDLength+1) + `"}`, "eventName is longer than"},
		{`{"event":"A","id":"a\u0007"}`, "id has control characters"},
		{`[{"event":"A"}]`, "not a JSON object"},
	} {
		ev, err := ParseAzodha([]byte(c.body))
		wantParseError(t, err, c.want)
		if ev.Event != "" || ev.Raw != nil {
			t.Fatalf("error with a result: %+v", ev)
		}
	}
}

// TestParseErrorsCarryNoPHI: a body full of names and note text, broken in
// each field in turn; no message repeats any of it.
func TestParseErrorsCarryNoPHI(t *testing.T) {
	const name, text = "Zéphyrine Dupont-Aignan", "presents with chest pain"
	for _, body := range []string{
		`{"events":[{"id":"a","action":"new_document","metadata":{"document":{"uuid":"a","patient":{"firstName":"` + name + `","lastName":["` + name + `"]}}}}]}`,
		`{"events":[{"id":"` + name + "\n" + `","action":"new_note"}]}`,
		`{"events":[{"id":"a","action":"new_note","metadata":{"note":{"content":"` + text + `","uuid":{"v":"` + name + `"}}}}]}`,
		`{"event":"note.generated","note_id":"n","data":"` + text + `"}`,
		`{"event":"note.generated","note_id":"n","created_at":"` + name + `","data":{}}`,
		`{"id":"e","type":"t","created_at":"` + name + `","data":{}}`,
		`{"event":"` + strings.Repeat(name, 40) + `"}`,
	} {
		for _, p := range []func([]byte) error{
			func(b []byte) error { _, err := ParseAskara(b); return err },
			func(b []byte) error { _, err := ParseSOAPNoteAPI(b); return err },
			func(b []byte) error { _, err := ParseNabla(b); return err },
			func(b []byte) error { _, err := ParseAzodha(b); return err },
		} {
			if err := p([]byte(body)); err != nil {
				for _, s := range []string{"Zéphyrine", "Dupont", "chest pain"} {
					if strings.Contains(err.Error(), s) {
						t.Fatalf("%q leaks %q", err, s)
					}
				}
			}
		}
	}
}
