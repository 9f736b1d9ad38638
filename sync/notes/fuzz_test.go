package notes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync"
)

// addSeeds adds every testdata/in file whose name starts with prefix
// (Askara webhook deliveries unwrapped to their note) and a few edge cases.
func addSeeds(f *testing.F, prefix string) {
	for _, name := range inputNames(f) {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", "in", name))
		if err != nil {
			f.Fatal(err)
		}
		if prefix == "askara-" {
			b = askaraNoteOf(b)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "{}", "null", "[]", "\xef\xbb\xbf{}", "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
}

// checkParsed asserts the fuzz properties: no panic (implicit), errors are
// ErrTestEvent or a *clinicsync.Error with a message, and an accepted note
// has an id, renders to valid UTF-8 ending in CRLF (checkRendered), and
// has a well-formed file name.
func checkParsed(t *testing.T, n Note, err error) {
	if err != nil {
		var ce *clinicsync.Error
		if !errors.Is(err, ErrTestEvent) && (!errors.As(err, &ce) || ce.Message == "") {
			t.Fatalf("error %#v is neither ErrTestEvent nor a *clinicsync.Error", err)
		}
		return
	}
	if n.ID == "" {
		t.Fatal("accepted a note without an id")
	}
	checkRendered(t, Render(n))
	checkFileName(t, FileName(n))
}

func FuzzFromAskara(f *testing.F) {
	addSeeds(f, "askara-")
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := FromAskara(body)
		checkParsed(t, n, err)
	})
}

func FuzzFromNabla(f *testing.F) {
	addSeeds(f, "nabla-")
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := FromNabla(body)
		checkParsed(t, n, err)
	})
}

func FuzzFromSOAPNoteAPI(f *testing.F) {
	addSeeds(f, "soapnoteapi-")
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := FromSOAPNoteAPI(body)
		checkParsed(t, n, err)
	})
}
