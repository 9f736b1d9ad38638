package dest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync"
)

// The committed seed corpus lives in testdata/fuzz/<Name>/; these f.Add
// seeds are the same kind of hostile names.
func FuzzSanitizeComponent(f *testing.F) {
	for _, s := range []string{"../../etc", "CON.tar.gz", "COM¹", `<>:"/\|?*`, "report. . ",
		"Jose\u0301", "invoice\u202Efdp.exe", "a\xffb", strings.Repeat("😀", 100)} {
		f.Add(s, 0)
		f.Add(s, 12)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 300
		out := SanitizeComponent(s, max)
		switch {
		case max <= 0:
			max = maxComponent
		case max < minComponent:
			max = minComponent
		}
		checkComponent(t, s, out, max)
	})
}

func FuzzPatientDir(f *testing.F) {
	f.Add("Doe", "John", "EXT-1", "1970-01-01", "p-1", "", "referral_letter.pdf", "referral_letter")
	f.Add("../../etc", "..", `..\..\EXT/1`, "../../1970-01-01", "", "{LASTNAME}/{FIRSTNAME}", "../../evil.pdf", "")
	f.Add("CON", "PRN", "", "", "", "{lastname}/{FirstName}/{UUID}", "NUL.pdf", "aux")
	f.Add(strings.Repeat("Éloïse-Ñandú-", 30), "Long", "", "", strings.Repeat("u", 100),
		"Patients/{LASTNAME}/{FIRSTNAME}/{UUID}", strings.Repeat("x", 296)+".pdf", "")
	f.Add("INBOX. ", "inbox", "Inbox", "", "", "{LastName}/{firstname}", "Inbox.pdf", "")
	f.Add("", "", "inbox", "", "", "{EXTERNALID}", "", "")
	f.Fuzz(func(t *testing.T, last, first, ext, dob, puuid, template, fileName, typ string) {
		root := filepath.Join(string(filepath.Separator)+"srv", "Patients")
		p := clinicsync.Patient{UUID: puuid, ExternalID: ext, FirstName: first, LastName: last, DateOfBirth: dob}
		dir := Layout{Root: root, Template: template}.PatientDir(p)
		name := FileName(clinicsync.Document{UUID: "0b7c1e2a-aaaa-4bbb-8ccc-ddddeeeeffff", Type: typ,
			PDF: clinicsync.PDF{FileName: fileName}})
		checkDir(t, dir)
		if reservedFirst(dir) {
			t.Errorf("patient folder %q is a folder the app uses below the root", dir)
		}
		checkComponent(t, fileName, name, MaxFileLen)
		if !strings.EqualFold(filepath.Ext(name), ".pdf") {
			t.Errorf("file name %q does not end in .pdf", name)
		}
		if !validRelDir(dir) {
			t.Errorf("Save would refuse the folder %q", dir)
		}
		for _, c := range candidates(name, "0b7c1e2a-aaaa-4bbb-8ccc-ddddeeeeffff") {
			full := filepath.Join(root, dir, c)
			rel, err := filepath.Rel(root, full)
			if err != nil || !filepath.IsLocal(rel) || !strings.HasPrefix(full, root+string(filepath.Separator)) {
				t.Fatalf("%q escapes %q", full, root)
			}
			if len(rel) > MaxRelPath || utf16Len(rel) > MaxRelPath {
				t.Errorf("%q is %d bytes below the root, more than %d", rel, len(rel), MaxRelPath)
			}
			if filepath.Dir(rel) != filepath.Clean(dir) || filepath.Base(rel) != c {
				t.Errorf("%q does not split back into %q and %q", rel, dir, c)
			}
			checkComponent(t, name, c, MaxFileLen)
		}
	})
}
