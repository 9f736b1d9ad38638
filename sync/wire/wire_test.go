package wire

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

func TestTooLongNamesTheLimit(t *testing.T) {
	if !strings.Contains(TooLong, " "+strconv.Itoa(MaxIDLength)+" ") {
		t.Fatalf("TooLong %q does not say %d", TooLong, MaxIDLength)
	}
}

func TestText(t *testing.T) {
	for raw, want := range map[string]string{
		``: "", `null`: "", `"a b"`: "a b", ` 12 `: "12", `-0.5e3`: "-0.5e3", `{"a":1}`: "", `[1]`: "", `true`: "",
	} {
		if got := Text(json.RawMessage(raw)); got != want {
			t.Errorf("Text(%s) = %q, want %q", raw, got, want)
		}
	}
}

func TestTime(t *testing.T) {
	utc := time.Date(2026, 2, 24, 10, 30, 0, 0, time.UTC)
	for s, want := range map[string]time.Time{
		"2026-02-24T10:30:00Z": utc, "2026-02-24T11:30:00+01:00": utc, "2026-02-24T10:30:00.000+00:00": utc,
		"2026-02-24T10:30:00": utc, "2026-02-24 10:30:00": utc, "2026-02-24": {}, "yesterday": {}, "": {},
	} {
		if got := Time(s); !got.Equal(want) || got.IsZero() != want.IsZero() {
			t.Errorf("Time(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestID(t *testing.T) {
	for raw, want := range map[string]string{
		`"d1"`: "", `null`: Missing, ``: Missing, `""`: Missing, `7`: WrongType, `{}`: WrongType,
		`"` + strings.Repeat("a", MaxIDLength+1) + `"`: TooLong, `"a\nb"`: HasControl, `"a\u0085b"`: HasControl,
		`"a\u007fb"`: HasControl, `"a\ud800b"`: NotUTF8, "\"a\xffb\"": NotUTF8,
	} {
		id, err := ID(json.RawMessage(raw), "uuid")
		var fe *FieldError
		switch {
		case want == "" && (err != nil || id != "d1"):
			t.Errorf("ID(%s) = %q, %v", raw, id, err)
		case want != "" && (!errors.As(err, &fe) || fe.Field != "uuid" || fe.Problem != want || id != ""):
			t.Errorf("ID(%s) = %q, %v; want %q", raw, id, err, want)
		}
	}
	if got := (&FieldError{Problem: "is not a JSON object"}).Error(); got != "the item is not a JSON object" {
		t.Errorf("%q", got)
	}
}

func TestPatient(t *testing.T) {
	for raw, want := range map[string]*clinicsync.Patient{
		``: nil, `null`: nil, `[]`: nil, `""`: nil,
		`"/patients/p1"`:                       {UUID: "p1"},
		`{"uuid":"p1","externalId":4411}`:      {UUID: "p1", ExternalID: "4411"},
		`{"firstName":{"x":1},"LastName":"M"}`: {LastName: "M"},
	} {
		got := Patient(json.RawMessage(raw))
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Errorf("Patient(%s) = %+v, want %+v", raw, got, want)
		}
	}
}
