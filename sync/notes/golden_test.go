package notes

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// Expected outcome of each input in testdata/in.
const (
	accepted = "accepted" // golden/<name>.txt holds Render's bytes
	refused  = "refused"  // golden/<name>.error.txt holds the error message
	testEvt  = "test"     // ErrTestEvent, nothing written
)

// goldenCases lists every file of testdata/in with its expected outcome;
// TestGolden fails when a file is missing from this table or vice versa.
// See testdata/README.md for where each file comes from.
var goldenCases = map[string]string{
	// Askara seed (askara-note-sync.txt), verbatim.
	"askara-webhook-payload.json":  accepted, // the new_note webhook; its metadata.note is parsed
	"askara-register-webhook.json": refused,  // the POST /webhooks body: not a note (no uuid)
	// Askara, built from the API notes (patient with externalId, updatedAt later, CR/LF mix, accents).
	"askara-note-full.json":       accepted,
	"askara-note-no-patient.json": accepted,
	// Nabla, built from the seed's schema (the seed prints no full example).
	"nabla-generate-note-succeeded.json": accepted,
	"nabla-transcribe-succeeded.json":    accepted,
	"nabla-generate-note-failed.json":    accepted,
	"nabla-transcribe-failed.json":       accepted,
	// SOAPNoteAPI seed: the printed blocks verbatim (with their // comments:
	// not JSON) and minimally repaired copies (one object each, comment
	// line and trailing page text removed).
	"soapnoteapi-payload-format.verbatim.json": refused,
	"soapnoteapi-note-generated.json":          accepted,
	"soapnoteapi-note-failed.json":             accepted,
	"soapnoteapi-test-event.verbatim.json":     refused,
	"soapnoteapi-test-event.json":              testEvt,
}

// parseInput runs the parser the file's name prefix calls for. For Askara,
// a whole webhook delivery is unwrapped to its first event's metadata.note,
// as the relay does; anything else is passed to FromAskara as it is.
func parseInput(name string, body []byte) (Note, error) {
	switch {
	case strings.HasPrefix(name, "askara-"):
		return FromAskara(askaraNoteOf(body))
	case strings.HasPrefix(name, "nabla-"):
		return FromNabla(body)
	case strings.HasPrefix(name, "soapnoteapi-"):
		return FromSOAPNoteAPI(body)
	}
	panic("no parser for " + name)
}

func askaraNoteOf(body []byte) json.RawMessage {
	var env struct {
		Events []json.RawMessage `json:"events"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Events) == 0 {
		return body
	}
	var ev struct {
		Metadata struct {
			Note json.RawMessage `json:"note"`
		} `json:"metadata"`
	}
	if json.Unmarshal(env.Events[0], &ev) != nil || len(ev.Metadata.Note) == 0 {
		return body
	}
	return ev.Metadata.Note
}

func inputNames(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "in", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	sort.Strings(names)
	return names
}

func TestGolden(t *testing.T) {
	names := inputNames(t)
	seen := map[string]bool{}
	wantGolden := map[string]bool{"filenames.txt": true}
	var fileNames strings.Builder
	for _, name := range names {
		seen[name] = true
		outcome, ok := goldenCases[name]
		if !ok {
			t.Errorf("testdata/in/%s is not listed in goldenCases", name)
			continue
		}
		base := strings.TrimSuffix(name, ".json")
		t.Run(base, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "in", name))
			if err != nil {
				t.Fatal(err)
			}
			n, err := parseInput(name, body)
			switch outcome {
			case accepted:
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				wantGolden[base+".txt"] = true
				checkGolden(t, base+".txt", Render(n))
				fmt.Fprintf(&fileNames, "%s\t%s\n", name, FileName(n))
			case refused:
				if err == nil {
					t.Fatalf("accepted, want an error")
				}
				var ce *clinicsync.Error
				if !errors.As(err, &ce) || ce.Code != clinicsync.EInvalid || ce.Retryable {
					t.Fatalf("error %#v is not a permanent *clinicsync.Error with code invalid", err)
				}
				wantGolden[base+".error.txt"] = true
				checkGolden(t, base+".error.txt", []byte(clinicsync.ErrorMessage(err)+"\n"))
			case testEvt:
				if !errors.Is(err, ErrTestEvent) {
					t.Fatalf("got %v, want ErrTestEvent", err)
				}
			}
		})
	}
	for name := range goldenCases {
		if !seen[name] {
			t.Errorf("goldenCases lists %s, which is not in testdata/in", name)
		}
	}
	checkGolden(t, "filenames.txt", []byte(fileNames.String()))

	// No stale golden files.
	paths, _ := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	for _, p := range paths {
		if !wantGolden[filepath.Base(p)] {
			if *update {
				os.Remove(p)
				continue
			}
			t.Errorf("testdata/golden/%s matches no input (run go test -update to remove it)", filepath.Base(p))
		}
	}
}

// checkGolden compares got with testdata/golden/name byte for byte, or
// rewrites the file under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update if the change is intended):\n%s", name, diff(want, got))
	}
}

// diff shows the lines that differ (quoted, so CR and other invisible
// bytes show), with a line of context.
func diff(want, got []byte) string {
	w := strings.SplitAfter(string(want), "\n")
	g := strings.SplitAfter(string(got), "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl == gl {
			continue
		}
		if shown == 0 && i > 0 {
			fmt.Fprintf(&b, "  line %d:   %q\n", i, w[i-1])
		}
		fmt.Fprintf(&b, "- line %d: %q\n+ line %d: %q\n", i+1, wl, i+1, gl)
		if shown++; shown >= 20 {
			b.WriteString("  ...\n")
			break
		}
	}
	fmt.Fprintf(&b, "  (want %d bytes, got %d)", len(want), len(got))
	return b.String()
}

// TestRenderDeterministic renders every accepted input twice, from two
// separate parses, and wants the same bytes and the same file name.
func TestRenderDeterministic(t *testing.T) {
	for _, name := range inputNames(t) {
		if goldenCases[name] != accepted {
			continue
		}
		body, err := os.ReadFile(filepath.Join("testdata", "in", name))
		if err != nil {
			t.Fatal(err)
		}
		n1, err1 := parseInput(name, body)
		n2, err2 := parseInput(name, append([]byte(nil), body...))
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", name, err1, err2)
		}
		r1, r2 := Render(n1), Render(n2)
		if !bytes.Equal(r1, r2) || !bytes.Equal(r1, Render(n1)) {
			t.Errorf("%s: Render is not deterministic", name)
		}
		if FileName(n1) != FileName(n2) {
			t.Errorf("%s: FileName is not deterministic", name)
		}
		checkRendered(t, r1)
		checkFileName(t, FileName(n1))
	}
}
