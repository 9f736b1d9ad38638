package activity_test

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/assets"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/netclient"
)

func french(t *testing.T) map[string]string {
	t.Helper()
	fr, err := assets.Table("fr")
	if err != nil {
		t.Fatal(err)
	}
	return fr
}

var verb = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)

// Every key of the catalogue and every translated reason has French, with
// the same fmt verbs in the same order, and renders without a fmt error.
func TestEveryKeyHasAFrenchTranslation(t *testing.T) {
	fr := french(t)
	keys := append(activity.Keys(), activity.Reasons()...)
	if len(keys) < 50 {
		t.Fatalf("only %d keys: the catalogue is not read", len(keys))
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("key twice: %q", k)
		}
		seen[k] = true
		v, ok := fr[k]
		if !ok || v == "" {
			t.Errorf("no French for %q", k)
			continue
		}
		if got, want := verb.FindAllString(v, -1), verb.FindAllString(k, -1); !slices.Equal(got, want) {
			t.Errorf("French for %q has the verbs %q, want %q", k, got, want)
		}
		var args []any
		for _, vb := range verb.FindAllString(k, -1) {
			if strings.HasSuffix(vb, "d") {
				args = append(args, 3)
			} else {
				args = append(args, "x")
			}
		}
		tr := func(k string) string { return fr[k] }
		if out := clinicsync.NewText(k, args...).Render(tr); strings.Contains(out, "%!") {
			t.Errorf("%q renders as %q", k, out)
		}
	}
}

// Keys are never made up where a line is written: every place that writes
// an activity line (the engine's activity, SetSignedOut, a Text for Note or
// LogText) takes its key from the catalogue (activity.X, or a variable set
// from it), never from a literal or a formatted string, which would be
// stored with no translation.
func TestLinesAreWrittenWithCatalogueKeys(t *testing.T) {
	root := filepath.Join("..")
	fset := token.NewFileSet()
	calls := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if path != root && (n == "testdata" || strings.HasPrefix(n, ".") || path == filepath.Join(root, "activity")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		if f.Name.Name == "clinicsync" {
			return nil // the Text type itself
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var name string
			switch fn := call.Fun.(type) {
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			case *ast.Ident:
				name = fn.Name
			}
			arg := -1
			switch name {
			case "activity":
				arg = 3 // e.activity(ctx, level, item, key, args...)
			case "SetSignedOut":
				arg = 1
			case "NewText":
				arg = 0
			}
			if arg < 0 || len(call.Args) <= arg {
				return true
			}
			calls++
			switch k := call.Args[arg].(type) {
			case *ast.SelectorExpr:
				if x, ok := k.X.(*ast.Ident); ok && x.Name == "activity" {
					return true
				}
			case *ast.Ident:
				return true // a variable chosen among catalogue keys
			case *ast.BasicLit:
				if k.Value == `""` && name == "SetSignedOut" {
					return true // signed in again: nothing to log
				}
			}
			t.Errorf("%s: %s is given a key that is not from the catalogue", fset.Position(call.Pos()), name)
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 30 {
		t.Fatalf("only %d calls found: the scan is broken", calls)
	}
}

// The parts of lines read in English as they did before keys:
// DisplayName for a patient, the file name, type or id for a document.
func TestPartsReadAsBefore(t *testing.T) {
	str := func(v any) string {
		if t, ok := v.(clinicsync.Text); ok {
			return t.String()
		}
		return v.(string)
	}
	for _, p := range []clinicsync.Patient{{FirstName: "Jean", LastName: "Dupont"}, {LastName: "Dupont"}, {FirstName: "Jean"},
		{ExternalID: "E42", UUID: "u"}, {UUID: "u-1"}, {}} {
		if got, want := str(activity.Patient(p)), p.DisplayName(); got != want {
			t.Errorf("%+v: %q, want %q", p, got, want)
		}
	}
	if got := str(activity.NotePatient(nil)); got != "the Inbox (no patient)" {
		t.Errorf("no patient: %q", got)
	}
	for _, c := range [][4]string{{"a.pdf", "letter", "u", "a.pdf"}, {"", "letter", "u", "a letter"}, {"", "", "u", "document u"}} {
		if got := str(activity.Document(c[0], c[1], c[2])); got != c[3] {
			t.Errorf("%q: %q, want %q", c[:3], got, c[3])
		}
	}
	fr := french(t)
	tr := func(k string) string {
		if v, ok := fr[k]; ok {
			return v
		}
		return k
	}
	line := clinicsync.NewText(activity.NewDocument, activity.Document("", "letter", "u"), activity.Patient(clinicsync.Patient{UUID: "u-1"}))
	if got := line.Render(tr); got != "Nouveau document « letter » pour patient u-1." {
		t.Errorf("French: %q", got)
	}
}

// The failures a clinic sees most, made by the real parts, have their
// sentence among the translated reasons, and read in French.
func TestCommonFailuresReadInFrench(t *testing.T) {
	fr := french(t)
	tr := func(k string) string {
		if v, ok := fr[k]; ok {
			return v
		}
		return k
	}
	ctx := context.Background()
	root := t.TempDir()
	save := func(body string, root string) error {
		_, err := dest.Save(ctx, dest.SaveRequest{Root: root, RelDir: "Dupont Jean", FileName: "a.pdf",
			UUID: "0b0e4d5c-6a7b-4c8d-9e0f-112233445566", Body: strings.NewReader(body)})
		return err
	}
	pdfs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gone.pdf":
			w.WriteHeader(http.StatusForbidden) // an expired pre-signed link
		case "/documents":
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer pdfs.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	client := func(base string, signedIn bool) *askara.Client {
		o := askara.Options{BaseURL: base, MaxAttempts: 1, Sleep: func(context.Context, time.Duration) error { return nil }}
		if signedIn {
			o.TokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})
		}
		c, err := askara.New(o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	_, errExpired := client(pdfs.URL, true).OpenPDF(ctx, pdfs.URL+"/gone.pdf")
	_, errRefused := client(pdfs.URL, true).ListUnsynchronized(ctx)
	_, errNoToken := client(pdfs.URL, false).ListUnsynchronized(ctx)
	_, errUnreachable := client(closed.URL, true).ListUnsynchronized(ctx)
	// A proxy from the system's settings that does not answer (the closed
	// port), on the way to a platform on the internet.
	nc, err := netclient.New(netclient.Options{Getenv: func(string) string { return "" },
		Addrs: func() ([]net.Addr, error) {
			return []net.Addr{&net.IPNet{IP: net.IPv4(192, 0, 2, 10), Mask: net.CIDRMask(24, 32)}}, nil
		},
		System: func() netclient.SystemSettings {
			return netclient.SystemSettings{Manual: map[string]string{"": strings.TrimPrefix(closed.URL, "http://")}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	viaProxy, err := askara.New(askara.Options{BaseURL: "https://api.askara.ai", MaxAttempts: 1, HTTPClient: nc.HTTP(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}), Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	_, errProxyDown := viaProxy.ListUnsynchronized(ctx)
	for _, c := range []struct {
		name string
		err  error
		want string // the French
	}{
		{"empty", save("", root), "Le fichier est vide."},
		{"not a PDF", save("<html>proxy login</html>", root), "Le fichier n'est pas un PDF."},
		{"destination unreachable", save("%PDF-1.7\n", filepath.Join(root, "unplugged")),
			"Le dossier de destination " + filepath.Join(root, "unplugged") + " est inaccessible."},
		{"link expired", errExpired, "Le lien de téléchargement a expiré."},
		{"token refused", errRefused, "Askara a refusé le jeton d'accès ; connectez-vous de nouveau."},
		{"signed out", errNoToken, "Non connecté à Askara ; connectez-vous de nouveau."},
		{"platform unreachable", errUnreachable, "Rien ne répond à " + closed.URL + " : le simulateur ou le serveur est-il lancé ?"},
		{"proxy down", errProxyDown, "Le proxy " + strings.TrimPrefix(closed.URL, "http://") +
			" (d'après les réglages de proxy du système) ne répond pas : est-il en marche, et ce PC est-il sur le réseau du cabinet ?"},
		{"interrupted", context.Canceled, "L'opération a été interrompue."},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		txt := clinicsync.ErrorText(c.err)
		if !slices.Contains(activity.Reasons(), txt.Key) {
			t.Errorf("%s: %q is not among the translated reasons", c.name, txt.Key)
		}
		if txt.String() != clinicsync.ErrorMessage(c.err) {
			t.Errorf("%s: English %q, want %q", c.name, txt.String(), clinicsync.ErrorMessage(c.err))
		}
		if got := txt.Render(tr); got != c.want {
			t.Errorf("%s: French %q, want %q", c.name, got, c.want)
		}
	}
	if os.Geteuid() != 0 { // root may write anywhere
		ro := filepath.Join(root, "ro")
		os.Mkdir(ro, 0o500)
		defer os.Chmod(ro, 0o700)
		err := save("%PDF-1.7\n", ro)
		if got, want := clinicsync.ErrorText(err).Render(tr), "Clinic Sync n'a pas le droit d'écrire dans "; !strings.HasPrefix(got, want) {
			t.Errorf("permission: %q, want %q…", got, want)
		}
	}
}

// A Text reads back from JSON as it was written: strings, integers and
// nested Texts keep their kinds, so a line renders the same after the
// store.
func TestTextRoundTrip(t *testing.T) {
	in := clinicsync.NewText(activity.FailedRetry, "a.pdf", clinicsync.NewText("patient %s", "E1"),
		clinicsync.Retryablef(clinicsync.EDestination, nil, "Could not write to %s.", `C:\Patients`), "10:00:00")
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out clinicsync.Text
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != in.String() || out.String() != `a.pdf for patient E1 failed: Could not write to C:\Patients. Retrying automatically at 10:00:00.` {
		t.Fatalf("%s\nread back as %q", b, out.String())
	}
	n := clinicsync.NewText(activity.RelayRefusedMany, 3, "askara", 403, "no")
	b, _ = json.Marshal(n.Args)
	args, err := clinicsync.DecodeTextArgs(b)
	if err != nil || clinicsync.NewText(n.Key, args...).String() != n.String() {
		t.Fatalf("%s: %v %v", b, args, err)
	}
}
