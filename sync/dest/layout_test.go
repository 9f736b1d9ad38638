package dest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/clinicsync/clinicsync"
)

func TestValidateTemplate(t *testing.T) {
	good := []string{
		DefaultTemplate,
		"{LASTNAME}/{FIRSTNAME}",
		`{LASTNAME}\{FIRSTNAME}`,
		"Patients/{lastname} {FirstName}",
		"{UUID}",
		"{LASTNAME}, {FIRSTNAME} ({EXTERNALID}) {BIRTHDATE}",
		"{LASTNAME}/",
		"Shared",
	}
	for _, tmpl := range good {
		if err := ValidateTemplate(tmpl); err != nil {
			t.Errorf("ValidateTemplate(%q) = %v, want nil", tmpl, err)
		}
	}
	bad := map[string]string{
		"":                       "empty",
		"   ":                    "empty",
		"{NOPE}":                 "unknown placeholder {NOPE}",
		"{LASTNAME}_{first}":     "unknown placeholder {first}",
		"/srv/{LASTNAME}":        "relative",
		`\{LASTNAME}`:            "relative",
		`C:\Patients\{LASTNAME}`: "relative",
		`\\srv\share\{LASTNAME}`: "relative",
		"C:{LASTNAME}":           "relative",
		"../{LASTNAME}":          `".."`,
		"{LASTNAME}/..":          `".."`,
		"a/./{LASTNAME}":         `"."`,
		"  /{LASTNAME}":          "spaces only",
		"{LASTNAME":              `"{" without "}"`,
		"{LAST{NAME}":            `"{" without "}"`,
		"LASTNAME}":              `"}" without "{"`,
		"{}":                     "unknown placeholder {}",
		"ab:c/{LASTNAME}":        "may not contain",
		"a:b/{LASTNAME}":         "relative",
		"{LASTNAME}?":            "may not contain",
		"{LASTNAME}\x00":         "may not contain",
		"a/b/c/d/{LASTNAME}":     "more than 4 levels",
		"{LASTNAME}\xff":         "not valid text",
		strings.Repeat("a", 300): "longer than 256",
	}
	for tmpl, want := range bad {
		err := ValidateTemplate(tmpl)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateTemplate(%q) = %v, want an error containing %q", tmpl, err, want)
			continue
		}
		if clinicsync.ErrorCode(err) != clinicsync.EInvalid {
			t.Errorf("ValidateTemplate(%q): code %s", tmpl, clinicsync.ErrorCode(err))
		}
	}
}

func TestPatientDir(t *testing.T) {
	j := filepath.Join
	doe := clinicsync.Patient{UUID: "p-1", ExternalID: "EXT-1", FirstName: "John", LastName: "Doe", DateOfBirth: "1970-01-02"}
	tests := []struct {
		name     string
		template string
		p        clinicsync.Patient
		want     string
	}{
		{"default upper-cased", "", doe, "DOE_JOHN"},
		{"explicit default", DefaultTemplate, doe, "DOE_JOHN"},
		{"no first name: no dangling separator", "", clinicsync.Patient{LastName: "Doe", ExternalID: "E"}, "DOE"},
		{"no last name", "", clinicsync.Patient{FirstName: "John", ExternalID: "E"}, "JOHN"},
		{"no names: external id as sent", "", clinicsync.Patient{UUID: "p-1", ExternalID: "ext-Only-42"}, "ext-Only-42"},
		{"uuid only", "", clinicsync.Patient{UUID: "0b7c1e2a-aaaa-4bbb-8ccc-ddddeeeeffff"}, "0b7c1e2a-aaaa-4bbb-8ccc-ddddeeeeffff"},
		{"nothing at all", "", clinicsync.Patient{}, "UNKNOWN_PATIENT"},
		{"names of punctuation only fall back", "", clinicsync.Patient{FirstName: "..", LastName: " - ", ExternalID: "E9"}, "E9"},
		{"traversal in names", "", clinicsync.Patient{FirstName: "..", LastName: "../../etc"}, "ETC"},
		{"reserved names", "", clinicsync.Patient{FirstName: "PRN", LastName: "CON"}, "CON_PRN"},
		{"reserved name alone", "", clinicsync.Patient{LastName: "nul"}, "NUL_"},
		{"reserved names in sub-folders", "{LASTNAME}/{FIRSTNAME}", clinicsync.Patient{FirstName: "prn", LastName: "aux"}, j("AUX_", "PRN_")},
		{"forbidden characters", "", clinicsync.Patient{FirstName: `x?y*z`, LastName: `A<>:"/\|?*B`}, "A_B_X_Y_Z"},
		{"control characters", "", clinicsync.Patient{FirstName: "Tab\tNew\nLine", LastName: "Nul\x00Byte\x1f"}, "NUL_BYTE_TAB_NEW_LINE"},
		{"trailing dots and spaces", "", clinicsync.Patient{FirstName: "Jean ", LastName: "Dupont. . "}, "DUPONT_JEAN"},
		{"NFD accents become NFC", "", clinicsync.Patient{FirstName: "Jose\u0301", LastName: "Zoe\u0308"}, "ZO\u00cb_JOS\u00c9"},
		{"bidi, joiner, emoji", "", clinicsync.Patient{FirstName: "👩\u200d⚕️", LastName: "Ma\u200dr\u202Eie"}, "MARIE_👩⚕️"},
		{"leading dash kept", "", clinicsync.Patient{FirstName: "--help", LastName: "-rf"}, "-RF_--HELP"},
		{"separators in ids", "", clinicsync.Patient{ExternalID: `..\..\EXT/1`, DateOfBirth: "../../1970-01-01"}, "EXT_1"},
		{"sub-folders", "{LASTNAME}/{FIRSTNAME}", doe, j("DOE", "JOHN")},
		{"backslash sub-folders", `{LASTNAME}\{FIRSTNAME}`, doe, j("DOE", "JOHN")},
		{"empty level dropped", "{LASTNAME}/{FIRSTNAME}", clinicsync.Patient{LastName: "Doe"}, "DOE"},
		{"case variants and literal text", "Patients/{lastname}-{FirstName}", doe, j("Patients", "doe-John")},
		{"fallback keeps literal levels", "Patients/{LASTNAME}_{FIRSTNAME}", clinicsync.Patient{ExternalID: "E7"}, j("Patients", "E7")},
		{"brackets follow their value", "{LASTNAME} ({EXTERNALID})", doe, "DOE (EXT-1)"},
		{"brackets vanish with their value", "{LASTNAME} ({EXTERNALID})", clinicsync.Patient{LastName: "Doe"}, "DOE"},
		{"birth date", "{LASTNAME}_{BIRTHDATE}", doe, "DOE_1970-01-02"},
		{"hostile birth date", "{LASTNAME}_{BIRTHDATE}", clinicsync.Patient{LastName: "Doe", DateOfBirth: "../../1970-01-01"}, "DOE_1970-01-01"},
		{"birth date alone is not an identity", "{BIRTHDATE}_{LASTNAME}", clinicsync.Patient{DateOfBirth: "1970-01-01", ExternalID: "E3"}, "E3"},
		{"hostile value cannot make levels", "{EXTERNALID}", clinicsync.Patient{ExternalID: "a/../../b"}, "A_.._.._B"},
		{"invalid template falls back to the default", "{NOPE}/../x", doe, "DOE_JOHN"},
		{"literal-only template", "Patients", doe, "Patients"},
		{"a patient named Inbox", "", clinicsync.Patient{LastName: "Inbox"}, "INBOX_"},
		{"a literal Inbox level", "Inbox/{LASTNAME}", doe, j("Inbox_", "DOE")},
		{"Inbox below the first level is no clash", "Patients/{LASTNAME}", clinicsync.Patient{LastName: "Inbox"}, j("Patients", "INBOX")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Layout{Root: "/r", Template: tt.template}.PatientDir(tt.p)
			if got != tt.want {
				t.Errorf("PatientDir(%+v) with %q = %q, want %q", tt.p, tt.template, got, tt.want)
			}
			checkDir(t, got)
		})
	}
}

// checkDir asserts a patient folder is local, each level a sanitised
// component, and within MaxDirLen.
func checkDir(t *testing.T, dir string) {
	t.Helper()
	if !filepath.IsLocal(dir) {
		t.Errorf("%q is not local", dir)
	}
	if len(dir) > MaxDirLen || utf16Len(dir) > MaxDirLen {
		t.Errorf("%q is %d bytes, more than %d", dir, len(dir), MaxDirLen)
	}
	for _, c := range strings.Split(dir, string(filepath.Separator)) {
		checkComponent(t, dir, c, MaxDirLen)
	}
}

func TestPatientDirLongNamesAreBounded(t *testing.T) {
	long := strings.Repeat("Éloïse-Ñandú-", 30)
	for _, tmpl := range []string{"", "{LASTNAME}/{FIRSTNAME}", "Patients/{LASTNAME}/{FIRSTNAME}/{UUID}", "{LASTNAME}/{LASTNAME}/{LASTNAME}/{LASTNAME}"} {
		got := Layout{Template: tmpl}.PatientDir(clinicsync.Patient{LastName: long, FirstName: long, UUID: strings.Repeat("u", 200)})
		checkDir(t, got)
		if !strings.HasPrefix(got, "ÉLOÏSE-ÑANDÚ") && !strings.HasPrefix(got, "Patients") {
			t.Errorf("%q: %q", tmpl, got)
		}
	}
}

func TestPatientDirStable(t *testing.T) {
	p := clinicsync.Patient{FirstName: "Jose\u0301", LastName: "Zoe\u0308"}
	a := Layout{}.PatientDir(p)
	for range 10 {
		if b := (Layout{}).PatientDir(p); b != a {
			t.Fatalf("%q then %q", a, b)
		}
	}
	// Two spellings of one name land in one folder.
	if b := (Layout{}).PatientDir(clinicsync.Patient{FirstName: "Jos\u00e9", LastName: "Zo\u00eb"}); b != a {
		t.Fatalf("NFD %q, NFC %q", a, b)
	}
}

// reservedFirst reports whether dir's first level is a name the app uses
// below the root, as a case-insensitive file system would see it. It is an
// independent statement (full Unicode case folding, x/text) of what
// joinBounded avoids.
func reservedFirst(dir string) bool {
	first, _, _ := strings.Cut(dir, string(filepath.Separator))
	first = strings.TrimRight(norm.NFC.String(first), " .")
	for _, r := range ReservedRootNames() {
		if cases.Fold().String(first) == cases.Fold().String(r) || strings.EqualFold(first, r) {
			return true
		}
	}
	return false
}

func TestPatientDirNeverAReservedRootName(t *testing.T) {
	if got := ReservedRootNames(); len(got) == 0 || got[0] != InboxFolder {
		t.Fatalf("ReservedRootNames() = %v, want %q first", got, InboxFolder)
	}
	names := []string{"Inbox", "inbox", "INBOX", "INBOX.", "Inbox. . ", " inbox ", "_Inbox_", "In\u200bbox", "\u0130nbox", "\u0131nbox"}
	templates := []string{"", "{LASTNAME}", "{lastname}", "{LastName}", "{LASTNAME}/{FIRSTNAME}", "{FIRSTNAME}_{LASTNAME}",
		"{EXTERNALID}", "{LASTNAME} ({EXTERNALID})", "Inbox", "inbox/{LASTNAME}", "INBOX./{LASTNAME}/{FIRSTNAME}"}
	for _, tmpl := range templates {
		for _, n := range names {
			for _, p := range []clinicsync.Patient{
				{LastName: n},
				{FirstName: n},
				{ExternalID: n},                   // the fallback
				{LastName: "..", ExternalID: n},   // the fallback after a name of dots
				{LastName: n, FirstName: "Clash"}, // sub-folders: only the first level can clash
			} {
				l := Layout{Root: "/r", Template: tmpl}
				got := l.PatientDir(p)
				checkDir(t, got)
				if reservedFirst(got) {
					t.Errorf("template %q, patient %+v: %q is the app's own folder", tmpl, p, got)
				}
				if again := l.PatientDir(p); again != got {
					t.Errorf("template %q, patient %+v: %q then %q", tmpl, p, got, again)
				}
			}
		}
	}
	// A long name cut to its first word.
	long := strings.Repeat("u", 200)
	cut := Layout{Template: "{LASTNAME}/{FIRSTNAME}/{UUID}/{EXTERNALID}"}.PatientDir(
		clinicsync.Patient{LastName: "Inbox" + strings.Repeat(" ", 30) + "x", FirstName: long, UUID: long, ExternalID: long})
	checkDir(t, cut)
	if first, _, _ := strings.Cut(cut, string(filepath.Separator)); first != "INBOX_" {
		t.Errorf("a long name cut to INBOX: %q", cut)
	}
	// On disk: the patient's documents and a note without a patient land in
	// folders that no case-insensitive file system could merge.
	root := t.TempDir()
	for _, n := range []string{"Inbox", "inbox", "INBOX."} {
		for _, tmpl := range []string{"", "{lastname}", "{LastName}/{FIRSTNAME}"} {
			rel := Layout{Root: root, Template: tmpl}.PatientDir(clinicsync.Patient{LastName: n, FirstName: "Ann"})
			mustSave(t, root, rel, "letter.pdf", uuidA, pdf(n+tmpl), "")
		}
	}
	if _, err := Save(context.Background(), SaveRequest{Root: root, RelDir: InboxFolder, FileName: "note.txt", UUID: uuidB,
		Body: strings.NewReader("a note"), Text: true}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != InboxFolder && reservedFirst(e.Name()) {
			t.Errorf("%q is the Inbox on NTFS and APFS", e.Name())
		}
	}
	if got := tree(t, filepath.Join(root, InboxFolder)); len(got) != 1 {
		t.Errorf("the Inbox holds %v, want only the note", got)
	}
}

func TestFileName(t *testing.T) {
	const uuid = "0b7c1e2a-aaaa-4bbb-8ccc-ddddeeeeffff"
	long := strings.Repeat("x", 296) + ".pdf"
	tests := []struct{ in, typ, want string }{
		{"referral_letter.pdf", "", "referral_letter.pdf"},
		{"", "referral_letter", "referral_letter_0b7c1e2a.pdf"},
		{"", "", "document_0b7c1e2a.pdf"},
		{"scan_result", "", "scan_result.pdf"},
		{"REPORT.PDF", "", "REPORT.PDF"},
		{"report.Pdf", "", "report.Pdf"},
		{"../../evil.pdf", "", "evil.pdf"},
		{`C:\Windows\System32\evil.pdf`, "", "evil.pdf"},
		{"/etc/passwd", "", "passwd.pdf"},
		{"dir/", "", "dir.pdf"},
		{"NUL.pdf", "", "NUL_.pdf"},
		{"com1.pdf", "", "com1_.pdf"},
		{"LPT9.txt", "", "LPT9_.txt.pdf"},
		{"CON .pdf", "", "CON_.pdf"},
		{"CON", "", "CON_.pdf"},
		{"report.pdf:Zone.Identifier", "", "report.pdf_Zone.Identifier.pdf"},
		{"..", "letter", "letter_0b7c1e2a.pdf"},
		{".", "letter", "letter_0b7c1e2a.pdf"},
		{"   ", "letter", "letter_0b7c1e2a.pdf"},
		{".pdf", "letter", "letter_0b7c1e2a.pdf"},
		{"..pdf", "../x", "x_0b7c1e2a.pdf"},
		{".hidden.pdf", "", "hidden.pdf"},
		{"report. . ", "", "report.pdf"},
		{"report. . .pdf", "", "report.pdf"},
		{`a<b>c:d"e|f?g*h.pdf`, "", "a_b_c_d_e_f_g_h.pdf"},
		{"ctl\x1f\x00na\tme\n.pdf", "", "ctl_na_me_.pdf"},
		{"_draft_.pdf", "", "_draft_.pdf"},
		{"invoice\u202Efdp.exe", "", "invoicefdp.exe.pdf"},
		{"a／b∕c.pdf", "", "a_b_c.pdf"},
		{"😀 scan 🩺.pdf", "", "😀 scan 🩺.pdf"},
		{"re\u0301sume\u0301.pdf", "", "r\u00e9sum\u00e9.pdf"},
		{"-rf.pdf", "", "-rf.pdf"},
		{long, "", long[:115] + ".pdf"},
	}
	for _, tt := range tests {
		got := FileName(clinicsync.Document{UUID: uuid, Type: tt.typ, PDF: clinicsync.PDF{FileName: tt.in}})
		if got != tt.want {
			t.Errorf("FileName(%q, type %q) = %q, want %q", tt.in, tt.typ, got, tt.want)
		}
		checkComponent(t, tt.in, got, MaxFileLen)
		if !strings.EqualFold(filepath.Ext(got), ".pdf") {
			t.Errorf("FileName(%q) = %q lacks .pdf", tt.in, got)
		}
	}
	if got := FileName(clinicsync.Document{}); got != "document.pdf" {
		t.Errorf("FileName of nothing = %q", got)
	}
}

func TestCandidates(t *testing.T) {
	const uuid = "0b7c1e2a-aaaa-4bbb-8ccc-ddddeeeeffff"
	got := candidates("report.pdf", uuid)
	want := []string{"report.pdf", "report (0b7c1e2a).pdf", "report (" + uuid + ").pdf"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("candidates = %q, want %q", got, want)
	}
	long := FileName(clinicsync.Document{PDF: clinicsync.PDF{FileName: strings.Repeat("é", 200) + ".pdf"}})
	for _, c := range candidates(long, uuid) {
		checkComponent(t, long, c, MaxFileLen)
		if !strings.HasSuffix(c, ".pdf") {
			t.Errorf("candidate %q lost its extension", c)
		}
	}
	if got := DistinctName("report.pdf", uuid); got != want[1] {
		t.Errorf("DistinctName = %q, want %q", got, want[1])
	}
	if got := DistinctName("report.pdf", "../x"); got != "report.pdf" {
		t.Errorf("DistinctName with a hostile uuid = %q", got)
	}
	if got := candidates("_", "short"); len(got) != 2 || got[1] != "_ (short)" {
		t.Errorf("candidates with a short uuid = %q", got)
	}
}
