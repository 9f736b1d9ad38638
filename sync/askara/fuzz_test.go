package askara

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeCollection(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		items      int
		next       string
		array      bool
		wantErr    bool
	}{
		{"array", `[{"uuid":"a"},{"uuid":"b"}]`, 2, "", true, false},
		{"empty array", ` [] `, 0, "", true, false},
		{"hydra", `{"@context":"/contexts/Document","hydra:member":[{"uuid":"a"}],"hydra:totalItems":3,` +
			`"hydra:view":{"@id":"/documents?page=1","hydra:next":"/documents?page=2"}}`, 1, "/documents?page=2", false, false},
		{"hydra last page", `{"hydra:member":[{"uuid":"a"}],"hydra:view":{"hydra:previous":"/documents?page=1"}}`, 1, "", false, false},
		{"member", `{"member":[{"uuid":"a"},{"uuid":"b"}],"totalItems":2,"view":{"next":"https://api.askara.ai/documents?page=2"}}`,
			2, "https://api.askara.ai/documents?page=2", false, false},
		{"member without view", `{"member":[]}`, 0, "", false, false},
		{"null member", `{"hydra:member":null}`, 0, "", false, false},
		{"null next", `{"member":[{}],"view":{"next":null}}`, 1, "", false, false},
		{"view not an object", `{"member":[{}],"view":"x"}`, 1, "", false, false},
		{"mixed prefixes", `{"hydra:member":[{}],"view":{"next":"/p2"}}`, 1, "/p2", false, false},
		{"no member", `{"title":"An error occurred","detail":"Not Found"}`, 0, "", false, true},
		{"member not an array", `{"member":{"uuid":"a"}}`, 0, "", false, true},
		{"next not a string", `{"member":[],"view":{"next":5}}`, 0, "", false, true},
		{"scalar", `"documents"`, 0, "", false, true},
		{"empty", ``, 0, "", false, true},
		{"truncated", `[{"uuid":"a"},`, 0, "", false, true},
		{"trailing garbage", `[] []`, 0, "", false, true},
		{"html", `<html><body>Sign in to the hotel Wi-Fi</body></html>`, 0, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, next, err := DecodeCollection(strings.NewReader(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if items != nil || next != "" {
					t.Fatalf("error with items %v next %q", items, next)
				}
				return
			}
			if items == nil || len(items) != tc.items || next != tc.next {
				t.Fatalf("%d items (nil %v), next %q", len(items), items == nil, next)
			}
			_, _, array, _ := decodeCollection(strings.NewReader(tc.body))
			if array != tc.array {
				t.Fatalf("array %v", array)
			}
		})
	}
}

// FuzzDecodeCollection: whatever the body, DecodeCollection does not panic
// and returns either items (non-nil, each valid JSON) or an error, and the
// lenient document decoder copes with every item. The committed seed corpus
// is in testdata/fuzz/FuzzDecodeCollection.
func FuzzDecodeCollection(f *testing.F) {
	for _, s := range []string{
		`[` + docJSON("a") + `,` + docJSON("b") + `]`,
		`{"hydra:member":[` + docJSON("a") + `],"hydra:view":{"hydra:next":"/documents?page=2"}}`,
		`{"member":[` + docJSON("a") + `],"view":{"next":"https://api.askara.ai/documents?page=2"}}`,
		`{"member":[{"uuid":7},{"uuid":""},"x",null,{"patient":"/patients/p1","pdf":"https://f/x.pdf"}]}`,
		`{"member":{"uuid":"a"}}`, `{"view":{"next":5},"member":[]}`, `[[[[[[[[[[]]]]]]]]]]`, `nul`, `{"member":[1e999]}`,
		"\xef\xbb\xbf[]", `{"hydra:member":[],"hydra:member":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, next, err := DecodeCollection(bytes.NewReader(body))
		if err != nil {
			if items != nil || next != "" {
				t.Fatalf("error %v with items %d, next %q", err, len(items), next)
			}
			return
		}
		if items == nil {
			t.Fatal("neither items nor an error")
		}
		for _, it := range items {
			if !json.Valid(it) {
				t.Fatalf("invalid item %q", it)
			}
			if d, err := DecodeDocument(it); err == nil && d.UUID == "" {
				t.Fatal("a document without uuid was accepted")
			}
		}
	})
}
