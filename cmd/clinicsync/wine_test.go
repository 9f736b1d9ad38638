//go:build wine

// The Windows smoke test: the real clinicsync.exe, cross-compiled without
// cgo (headless), runs `sync` under Wine against the simulator on this
// side, writes below C:\Clinic\YourSoftware\Documents\Patients in the Wine
// prefix and reports Windows paths to the simulator. It proves the path
// handling that only Windows code takes (drive letters, backslashes,
// reserved device names, case-insensitive names) on Windows system calls.
//
// It needs a prepared prefix (packaging/windows/wine/prefix.sh: wineboot
// and the ProcessPrng stub); packaging/windows/wine/smoke.sh makes one and
// runs this test:
//
//	WINEPREFIX=/tmp/pfx WINE=/usr/lib/wine/wine64 go test -tags wine -run '^TestWineSmoke$' -v ./cmd/clinicsync/

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// The Windows side of the smoke test, as the program sees it.
const (
	wineRoot   = `C:\Clinic\YourSoftware\Documents\Patients`
	wineConfig = `C:\Clinic\config.toml`
	wineData   = `C:\Clinic\data`
	wineToken  = "wine-smoke-token" // the simulator accepts any token
)

// wineHost maps a C:\ path to the file on this side of the prefix.
func wineHost(t *testing.T, prefix, winPath string) string {
	t.Helper()
	if len(winPath) < 3 || !strings.EqualFold(winPath[:3], `C:\`) {
		t.Fatalf("not a C:\\ path: %q", winPath)
	}
	return filepath.Join(prefix, "drive_c", filepath.FromSlash(strings.ReplaceAll(winPath[3:], `\`, "/")))
}

func wineLoader() string {
	if w := os.Getenv("WINE"); w != "" {
		return w
	}
	for _, c := range []string{"wine64", "wine"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return "/usr/lib/wine/wine64"
}

// wineRun runs clinicsync.exe under Wine and returns stdout, stderr, the
// exit code and how long it took.
func wineRun(t *testing.T, exe string, args ...string) (string, string, int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, wineLoader(), append([]string{exe}, args...)...)
	c.Dir = filepath.Dir(exe)
	// Wine passes the Unix environment to the Windows process. Its Unix
	// file names are in the locale's encoding: a locale that is not
	// installed (the Makefile's en_US.UTF-8 on a bare Debian) leaves Wine
	// unable to create folders such as LEROY_HÉLÈNE, so C.UTF-8, which
	// every Debian has.
	c.Env = append(os.Environ(), "CLINICSYNC_ACCESS_TOKEN="+wineToken, "WINEDEBUG=-all", "LC_ALL=C.UTF-8")
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	began := time.Now()
	err := c.Run()
	took := time.Since(began)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("wine %v: %v", args, err)
	}
	if strings.Contains(out.String()+errb.String(), wineToken) {
		t.Fatalf("the token leaked into the output of %v", args)
	}
	return out.String(), errb.String(), code, took
}

// files lists every regular file below dir (slash-separated, relative).
func files(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	return out
}

var reservedWin = map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true}

func init() {
	for _, d := range "123456789¹²³" {
		reservedWin["COM"+string(d)] = true
		reservedWin["LPT"+string(d)] = true
	}
}

// badWinComponent says what is wrong with one path component on Windows.
func badWinComponent(c string) string {
	if c == "" || c == "." || c == ".." {
		return "empty or dot component"
	}
	if strings.HasSuffix(c, ".") || strings.HasSuffix(c, " ") {
		return "trailing dot or space"
	}
	if strings.ContainsAny(c, `<>:"/\|?*`) {
		return "reserved character"
	}
	for _, r := range c {
		if r < 0x20 {
			return "control character"
		}
	}
	stem := c
	if i := strings.IndexByte(stem, '.'); i >= 0 {
		stem = stem[:i]
	}
	if reservedWin[strings.ToUpper(strings.TrimRight(stem, " "))] {
		return "reserved device name"
	}
	return ""
}

func TestWineSmoke(t *testing.T) {
	prefix := os.Getenv("WINEPREFIX")
	if prefix == "" {
		t.Fatal("WINEPREFIX is not set: run packaging/windows/wine/smoke.sh (it prepares a prefix with the ProcessPrng stub)")
	}
	if _, err := os.Stat(filepath.Join(prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")); err != nil {
		t.Fatalf("the prefix has no bcryptprimitives.dll (Go 1.24+ needs ProcessPrng; Wine 8 lacks it): run packaging/windows/wine/prefix.sh: %v", err)
	}

	// The headless Windows executable: no cgo, so no window.
	exe := filepath.Join(t.TempDir(), "clinicsync.exe")
	began := time.Now()
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows build: %v\n%s", err, out)
	}
	t.Logf("built %s in %v", exe, time.Since(began).Round(time.Millisecond))

	// The simulator on this side: generated patients, the hostile fixtures
	// and the README's John Doe.
	s := sim.New(sim.Options{Documents: 20, Patients: 5, Hostile: true, Seed: 11})
	john := s.AddDocument(sim.Fixture{Doc: clinicsync.Document{Type: "referral_letter",
		Patient: clinicsync.Patient{FirstName: "John", LastName: "Doe", ExternalID: "P-1001", DateOfBirth: "1975-04-12"},
		PDF:     clinicsync.PDF{FileName: "referral_letter.pdf"}}})
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	root := wineHost(t, prefix, wineRoot)
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := "# written by TestWineSmoke\n[askara]\napi_url = \"" + url + "\"\n\n[destination]\nroot = '" + wineRoot + "'\n"
	if err := os.WriteFile(wineHost(t, prefix, wineConfig), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	// Everything in drive_c and next to the exe before the runs, to prove
	// later that nothing was written outside the root and the data folder.
	driveC := filepath.Join(prefix, "drive_c")
	before := files(t, driveC)
	exeDirBefore := files(t, filepath.Dir(exe))

	expected := s.Expected()
	byUUID := map[string]sim.Expectation{}
	landing := 0
	for _, x := range expected {
		byUUID[x.UUID] = x
		if x.Land {
			landing++
		}
	}

	// First pass. Exit code 1 is the documented "items still failing": the
	// hostile fixtures with bad content (empty, HTML, 404, no URL, no PDF)
	// fail by design; 0 would mean they were accepted, 2 a configuration
	// or sign-in problem.
	out, errOut, code, took := wineRun(t, exe, "sync", "--config", wineConfig, "--data-dir", wineData)
	t.Logf("first sync under Wine: exit %d in %v\n%s%s", code, took.Round(time.Millisecond), out, errOut)
	if code != exitFailing || !strings.Contains(errOut, "still need attention") {
		t.Fatalf("first sync: exit %d, want %d (hostile documents failing by design)\n%s\n%s", code, exitFailing, out, errOut)
	}

	calls := s.StatusCalls()
	firstCalls := len(calls)
	success := map[string]clinicsync.Status{}
	failed := map[string]clinicsync.Status{}
	for _, c := range calls {
		if c.Code != 200 {
			t.Errorf("status call for %s answered %d", c.UUID, c.Code)
			continue
		}
		if c.Status.Success {
			if _, dup := success[c.UUID]; dup {
				t.Errorf("%s confirmed twice", c.UUID)
			}
			success[c.UUID] = c.Status
		} else {
			failed[c.UUID] = c.Status
		}
	}

	// Every valid document landed once, where it says, with the right bytes;
	// every invalid one was reported as a failure with a reason.
	hostFiles := files(t, root)
	seen := map[string]string{}
	for _, x := range expected {
		st, ok := success[x.UUID]
		if !x.Land {
			if ok {
				t.Errorf("%s (%s) should fail (%s) but was confirmed at %s", x.UUID, x.Label, x.Reason, st.Path)
			}
			if f, ok := failed[x.UUID]; !ok || f.Error == "" {
				t.Errorf("%s (%s): no failure with a reason reported", x.UUID, x.Label)
			}
			continue
		}
		if !ok {
			t.Errorf("%s (%s, %q) was not confirmed; reported: %q", x.UUID, x.Label, x.FileName, failed[x.UUID].Error)
			continue
		}
		p := st.Path
		// "directory" is the software id (destination.software_id, default
		// "clinicsync"); "path" is the file as Windows names it.
		if !strings.HasPrefix(p, wineRoot+`\`) || strings.Contains(p, "/") || st.Directory != "clinicsync" {
			t.Errorf("%s (%s): reported path %q, directory %q: want a Windows path below %s", x.UUID, x.Label, p, st.Directory, wineRoot)
			continue
		}
		rel := p[len(wineRoot)+1:]
		parts := strings.Split(rel, `\`)
		if len(parts) != 2 {
			t.Errorf("%s (%s): %q is not <patient folder>\\<file>", x.UUID, x.Label, rel)
		}
		for _, c := range parts {
			if why := badWinComponent(c); why != "" {
				t.Errorf("%s (%s): %q in %q: %s", x.UUID, x.Label, c, p, why)
			}
		}
		if other, dup := seen[strings.ToLower(rel)]; dup {
			t.Errorf("%s and %s were both confirmed at %s", other, x.UUID, p)
		}
		seen[strings.ToLower(rel)] = x.UUID
		b, err := os.ReadFile(wineHost(t, prefix, p))
		if err != nil {
			t.Errorf("%s (%s): confirmed at %s but not on disk: %v", x.UUID, x.Label, p, err)
			continue
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != x.SHA256 {
			t.Errorf("%s (%s): %s has the wrong content", x.UUID, x.Label, p)
		}
		delete(hostFiles, strings.ReplaceAll(rel, `\`, "/"))
	}
	for f := range hostFiles {
		t.Errorf("file below the root that no confirmation names: %s", f)
	}
	if len(success) != landing {
		t.Errorf("%d documents confirmed, %d valid", len(success), landing)
	}
	if st := success[john.UUID]; st.Path != wineRoot+`\DOE_JOHN\referral_letter.pdf` {
		t.Errorf("John Doe's letter reported at %q", st.Path)
	}

	// Nothing escaped: no new file anywhere in drive_c but below the root
	// and the data folder (the hostile names include ../../evil.pdf,
	// C:\Windows\System32\evil.pdf and /etc/passwd), nor next to the exe.
	dataRel := filepath.ToSlash(strings.TrimPrefix(wineHost(t, prefix, wineData), driveC+string(filepath.Separator))) + "/"
	rootRel := filepath.ToSlash(strings.TrimPrefix(root, driveC+string(filepath.Separator))) + "/"
	for f := range files(t, driveC) {
		if !before[f] && !strings.HasPrefix(f, rootRel) && !strings.HasPrefix(f, dataRel) {
			t.Errorf("written outside the root: C:/%s", f)
		}
	}
	for f := range files(t, filepath.Dir(exe)) {
		if !exeDirBefore[f] {
			t.Errorf("written next to the exe (the working directory): %s", f)
		}
	}
	for _, p := range []string{"/evil.pdf", "/etc/evil.pdf", filepath.Join(prefix, "evil.pdf")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists", p)
		}
	}

	// What Askara was told, as it was told, for a few telling documents.
	show := map[string]bool{"": true}
	for _, l := range []string{
		"patient names are reserved device names (PRN CON)",
		"trailing dots and spaces",
		"file name traversal ../../evil.pdf",
		"file name is a Windows absolute path",
		"file name CON .pdf",
		"file name with an NTFS stream (report.pdf:Zone.Identifier)",
		"names differing only in case (Report.pdf)",
		"names differing only in case (report.pdf)",
		"empty PDF (0 bytes)",
	} {
		show[l] = true
	}
	var sample []string
	for _, c := range calls {
		x := byUUID[c.UUID]
		if show[x.Label] && (x.Label != "" || c.UUID == john.UUID) {
			label := x.Label
			if label == "" {
				label = "John Doe, referral_letter.pdf"
			}
			sample = append(sample, label+"\n      "+string(c.Raw))
		}
	}
	t.Logf("%d status calls: %d success, %d failure; %d files below %s (%s on this side). Some, as sent:\n    %s",
		len(calls), len(success), len(failed), len(files(t, root)), wineRoot, root, strings.Join(sample, "\n    "))

	// The state in SQLite under Wine agrees.
	out, errOut, code, _ = wineRun(t, exe, "status", "--json", "--config", wineConfig, "--data-dir", wineData)
	var rep statusReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("status --json under Wine: exit %d\n%s\n%s", code, out, errOut)
	}
	if rep.Counts[clinicsync.StateConfirmed] != landing || len(rep.Failures) != len(expected)-landing || rep.Root != wineRoot {
		t.Errorf("status under Wine: counts %v, %d failures, destination %q; want %d confirmed, %d failures", rep.Counts,
			len(rep.Failures), rep.Root, landing, len(expected)-landing)
	}
	if rep.DataDir != wineData || rep.Config != wineConfig {
		t.Errorf("status under Wine: data dir %q, config %q", rep.DataDir, rep.Config)
	}

	// Second pass: idempotent. Same exit code, the same files with the same
	// bytes, no new confirmation (only the failing documents are retried).
	tree1 := tree(t, root)
	out, errOut, code, took = wineRun(t, exe, "sync", "--config", wineConfig, "--data-dir", wineData)
	t.Logf("second sync under Wine: exit %d in %v\n%s%s", code, took.Round(time.Millisecond), out, errOut)
	if code != exitFailing {
		t.Fatalf("second sync: exit %d, want %d as the first\n%s\n%s", code, exitFailing, out, errOut)
	}
	tree2 := tree(t, root)
	if len(tree1) != len(tree2) {
		t.Errorf("second pass: %d files, first %d", len(tree2), len(tree1))
	}
	for f, sha := range tree1 {
		if tree2[f] != sha {
			t.Errorf("second pass changed %s", f)
		}
	}
	for _, c := range s.StatusCalls()[firstCalls:] {
		if c.Status.Success || byUUID[c.UUID].Land {
			t.Errorf("second pass reported %s: %s", c.UUID, c.Raw)
		}
	}
	if !strings.Contains(out, "written 0") {
		t.Errorf("second pass wrote something: %s", out)
	}
}
