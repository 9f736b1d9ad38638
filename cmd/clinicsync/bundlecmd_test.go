package main

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// readZip returns every file of the zip at path, decompressed.
func readZip(t *testing.T, path string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = string(b)
	}
	return files
}

// clinicsync support-bundle writes what the window's button makes and what
// IT asks first (the system, free disk, a write test of the documents
// folder, the clock against Askara's, versions), with no token or secret
// in it; --redact-names leaves no patient's name in any file, and gives a
// name the same token in every bundle.
func TestSupportBundleFromTheCommandLine(t *testing.T) {
	const clientSecret = "cs_9fQ2mZ7wXk4LpR8vT1yN"
	s, _ := relaySetup(t, sim.Options{Documents: 4, Patients: 2, Seed: 7})
	cfg, err := config.Load(s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Askara.ClientSecret = clientSecret
	if err := cfg.Save(s.cfgPath); err != nil {
		t.Fatal(err)
	}
	s.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{
		Patient: clinicsync.Patient{FirstName: "Élodie", LastName: "Martin-Dubois"},
		PDF:     clinicsync.PDF{FileName: "courrier_martin.pdf"}}})
	if out, errOut, code := s.run(t, "sync"); code != exitOK {
		t.Fatalf("sync: exit %d\n%s\n%s", code, out, errOut)
	}

	bundle := func(args ...string) map[string]string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "bundle.zip")
		out, errOut, code := s.run(t, append([]string{"support-bundle", "--out", path}, args...)...)
		if code != exitOK || !strings.Contains(out, "Support bundle written to "+path) {
			t.Fatalf("support-bundle %v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files := readZip(t, path)
		for _, secret := range []string{"cmd-test-token", relaySecret, clientSecret} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("the zip holds %q", secret)
			}
			for name, body := range files {
				if strings.Contains(body, secret) {
					t.Errorf("%s holds %q", name, secret)
				}
			}
		}
		return files
	}

	plain := bundle()
	for _, name := range []string{"README.txt", "version.txt", "system.txt", "status.json", "config.toml",
		"network.txt", "activity.log", "documents.csv"} {
		if _, ok := plain[name]; !ok {
			t.Errorf("the bundle lacks %s", name)
		}
	}
	for file, wants := range map[string][]string{
		"version.txt": {"clinicsync dev\n", "go1.", "modernc.org/sqlite v"},
		"system.txt": {"Operating system: ", "Data folder " + s.dataDir + ": ", "Documents folder " + s.root + ": ", " GB free",
			"Write test of the documents folder: ok", "Askara at " + s.url + " answered HTTP ", "this PC's clock is "},
		"network.txt":   {"API " + s.url + ": "},
		"documents.csv": {"MARTIN-DUBOIS_ÉLODIE", "courrier_martin.pdf"},
		"activity.log":  {"Martin"},
	} {
		for _, want := range wants {
			if !strings.Contains(plain[file], want) {
				t.Errorf("%s lacks %q:\n%s", file, want, plain[file])
			}
		}
	}

	red := bundle("--redact-names")
	for name, body := range red {
		low := strings.ToLower(body)
		for _, w := range []string{"martin", "dubois", "élodie", "elodie"} {
			if strings.Contains(low, w) {
				t.Errorf("--redact-names: %s still holds %q", name, w)
			}
		}
	}
	tok := regexp.MustCompile(`courrier_(name-[0-9a-f]{8})\.pdf`)
	m := tok.FindStringSubmatch(red["documents.csv"])
	if m == nil || !strings.Contains(red["activity.log"], m[1]) {
		t.Fatalf("no token for Martin in the document list and the activity log:\n%s\n%s", red["documents.csv"], red["activity.log"])
	}
	if again := bundle("--redact-names"); !strings.Contains(again["documents.csv"], m[0]) {
		t.Fatalf("Martin's token changed from one bundle to the next:\n%s", again["documents.csv"])
	}
}
