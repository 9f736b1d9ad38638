package app

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/assets"
	"github.com/clinicsync/clinicsync/sync/activity"
)

// uiTexts lists every literal passed to T or Tf in the package, and the
// labels of the choice tables that are translated when shown.
func uiTexts(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("*.go")
	seen := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && (id.Name == "T" || id.Name == "Tf") && len(n.Args) > 0 {
					if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						seen[s] = true
					}
				}
			}
			return true
		})
	}
	for _, l := range documentFilters {
		seen[l.label] = true
	}
	for _, l := range languageChoices {
		seen[l.label] = true
	}
	for _, l := range activityLevels {
		seen[l.label] = true
	}
	for _, sc := range shortcutKeys() {
		seen[sc.what] = true
	}
	for _, k := range []string{"Debug", "Info", "Warning", "Error", "Patient", "File", "State", "Path", "Attempts", "Next automatic retry", "Document id"} {
		seen[k] = true
	}
	// The activity log's lines and the failures' reasons, shown with
	// TText (package activity checks them on its side).
	for _, k := range append(activity.Keys(), activity.Reasons()...) {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestEveryTextHasAFrenchTranslation(t *testing.T) {
	b, err := assets.Translations.ReadFile("translations/fr.json")
	if err != nil {
		t.Fatal(err)
	}
	fr := map[string]string{}
	if err := json.Unmarshal(b, &fr); err != nil {
		t.Fatalf("fr.json: %v", err)
	}
	texts := uiTexts(t)
	used := map[string]bool{}
	for _, s := range texts {
		used[s] = true
		v, ok := fr[s]
		switch {
		case !ok || v == "":
			t.Errorf("no French for %q", s)
		case strings.Count(v, "%") != strings.Count(s, "%"):
			t.Errorf("French for %q has different format verbs: %q", s, v)
		}
	}
	for k := range fr {
		if !used[k] {
			t.Errorf("fr.json has a text the app no longer uses: %q", k)
		}
	}
	if len(texts) < 50 {
		t.Fatalf("only %d texts found: the scan is broken", len(texts))
	}
}

// The language setting takes effect at once, without a restart; and with
// no setting, Fyne's lang package follows the system (here LANG=fr_FR in
// a child process, because the system language is read once per process).
func TestLanguageOverrideAndSystemLanguage(t *testing.T) {
	if os.Getenv("CLINICSYNC_LANG_CHILD") == "1" {
		if err := SetLanguage(""); err != nil {
			t.Fatal(err)
		}
		if got := T("Sync now"); got != "Synchroniser maintenant" {
			t.Fatalf("system French: %q", got)
		}
		// Activity lines follow the same language (through Fyne's lang).
		line := clinicsync.NewText(activity.Saved, "a.pdf", activity.Patient(clinicsync.Patient{}), "/srv/Patients")
		if got := TText(line); got != "a.pdf pour patient inconnu enregistré dans /srv/Patients." {
			t.Fatalf("system French activity line: %q", got)
		}
		return
	}
	defer SetLanguage("en")
	SetLanguage("fr")
	if got := Tf("%d documents need attention", 2); got != "2 documents à traiter" {
		t.Fatalf("French: %q", got)
	}
	SetLanguage("en")
	if got := T("Sync now"); got != "Sync now" {
		t.Fatalf("English: %q", got)
	}
	if err := SetLanguage("de"); err == nil {
		t.Fatal("an unknown language was accepted")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLanguageOverrideAndSystemLanguage$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CLINICSYNC_LANG_CHILD=1", "LANG=fr_FR.UTF-8", "LC_ALL=fr_FR.UTF-8", "LANGUAGE=fr")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child with LANG=fr_FR: %v\n%s", err, out)
	}
}

// Under the C locales of services, containers and cron, and with broken
// entries in LANGUAGE, the app follows the system without a word on
// standard error (Fyne's lang package parses the locale when the process
// starts, and logged three lines for C.UTF-8) and speaks English; a usable
// language still wins.
func TestCLocalesFallBackToEnglishQuietly(t *testing.T) {
	if want := os.Getenv("CLINICSYNC_LANG_WANT"); want != "" {
		if err := SetLanguage(""); err != nil {
			t.Fatal(err)
		}
		if got := T("Sync now"); got != want {
			t.Fatalf("%q, want %q", got, want)
		}
		return
	}
	var base []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "LANG" && k != "LANGUAGE" && !strings.HasPrefix(k, "LC_") {
			base = append(base, kv)
		}
	}
	for _, tc := range []struct {
		env  []string
		want string
	}{
		// localeenv's own test covers more forms; these are the common ones.
		{[]string{"LANG=C.UTF-8"}, "Sync now"},
		{[]string{"LANG=C"}, "Sync now"},
		{[]string{"LC_ALL=POSIX"}, "Sync now"},
		{[]string{"LC_ALL=C.UTF-8", "LANG=fr_FR.UTF-8"}, "Sync now"},
		{[]string{"LANG=fr_FR.UTF-8", "LANGUAGE=fr::en"}, "Synchroniser maintenant"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCLocalesFallBackToEnglishQuietly$", "-test.count=1")
		cmd.Env = append(append(base, "CLINICSYNC_LANG_WANT="+tc.want), tc.env...)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(strings.ToLower(string(out)), "locale") {
			t.Errorf("%v: %v\n%s", tc.env, err, out)
		}
	}
}
