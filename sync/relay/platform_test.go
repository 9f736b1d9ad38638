package relay

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/platforms"
)

// The configuration and the relay know the same platforms: those of the
// table in sync/platforms. Each has a path that answers (its envelope
// check refuses an empty object), the configuration accepts each and
// nothing else, and the relay refuses to enable another.
func TestConfigAndRelayAgree(t *testing.T) {
	names := platforms.Names()
	if got := Platforms(); !slices.Equal(got, names) {
		t.Fatalf("the relay has paths for %v, the table lists %v", got, names)
	}
	c := config.Default()
	c.Destination.Root = t.TempDir()
	c.Relay.Platforms = names
	if ps := c.Problems(); len(ps) != 0 {
		t.Fatalf("the configuration refuses the relay's platforms: %+v", ps)
	}
	c.Relay.Platforms = []string{"askara", "nonesuch"}
	if ps := c.Problems(); len(ps) != 1 || ps[0].Key != "relay.platforms" || !strings.Contains(ps[0].Message, strings.Join(names, ", ")) {
		t.Fatalf("an unknown platform: %+v", ps)
	}

	r := newRelayRig(t, Options{Enabled: names, AllowUnsigned: true})
	if _, err := New(Options{Listen: "127.0.0.1:0", Enabled: []string{"nonesuch"}, Store: r.st, Sink: r.sink}); clinicsync.ErrorCode(err) != clinicsync.EConfig {
		t.Fatalf("New with an unknown platform: %v", err)
	}
	for _, p := range names {
		if code, out := r.post("/webhooks/"+p, []byte(`{}`), nil); code != http.StatusBadRequest || out["error"] != "bad_envelope" {
			t.Errorf("/webhooks/%s: %d %v", p, code, out)
		}
	}
	if code, out := r.post("/webhooks/nonesuch", []byte(`{}`), nil); code != http.StatusNotFound || out["error"] != "unknown_path" {
		t.Errorf("/webhooks/nonesuch: %d %v", code, out)
	}
	for _, p := range routes() {
		if p.check == nil || p.process == nil || len(p.schemes) == 0 || p.Display == "" {
			t.Errorf("platform %s is incomplete: %+v", p.Name, p)
		}
	}
}

// Every platform's envelope parser has a fuzz target, FuzzParse<Display>
// (make fuzz runs every target go test -list finds).
func TestEveryPlatformHasAFuzzTarget(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fuzz := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && strings.HasPrefix(fd.Name.Name, "Fuzz") {
				fuzz[fd.Name.Name] = true
			}
		}
	}
	for _, p := range platforms.All() {
		name := "FuzzParse" + strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return r
			}
			return -1
		}, p.Display)
		if !fuzz[name] {
			t.Errorf("platform %s has no fuzz target %s", p.Name, name)
		}
	}
}

// Issue 13: the relay reads an event's document as the API client does. A
// numeric externalId was refused with a 400 (and the document waited for
// the next poll, which read it); it is now accepted, and the engine gets
// the patient's external id as its digits.
func TestNumericExternalIDIsAccepted(t *testing.T) {
	r := newRelayRig(t, Options{Secrets: map[string]string{"askara": testSecret}})
	body := []byte(`{"events":[{"id":"doc-9","action":"new_document","metadata":{"document":{"uuid":"doc-9",` +
		`"patient":{"uuid":"p9","externalId":4411,"lastName":"Martin"},"pdf":{"url":"https://files.example/doc-9.pdf","fileName":"a.pdf"}}}}]}`)
	code, out := r.post("/webhooks/askara", body, func(q *http.Request) { sign(q.Header, "msg_9", time.Now(), body) })
	if code != http.StatusOK || out["status"] != "accepted" {
		t.Fatalf("%d %v", code, out)
	}
	r.until("the push", func() bool { p, _ := r.sink.snapshot(); return len(p) == 1 })
	r.sink.mu.Lock()
	defer r.sink.mu.Unlock()
	if p := r.sink.docs[0].Patient; p != (clinicsync.Patient{UUID: "p9", ExternalID: "4411", LastName: "Martin"}) {
		t.Fatalf("patient %+v", p)
	}
}
