//go:build wine

// The IT side of issue 16 under Wine: the real clinicsync.exe (built with
// GOOS=windows, no cgo) reads the administrator's settings from
// HKLM\Software\Policies\ClinicSync and %ProgramData%\ClinicSync\policy.toml,
// keeps its data folder in %LocalAppData%\ClinicSync, moves an earlier
// version's roaming state.db there once with every row, and refuses a data
// folder on a network share. It needs a prepared prefix, as TestWineSmoke:
//
//	packaging/windows/wine/prefix.sh /tmp/pfx
//	WINEPREFIX=/tmp/pfx WINE=/usr/lib/wine/wine64 CGO_ENABLED=0 go test -tags wine -run '^TestWineIT' -v ./cmd/clinicsync/
//
// It changes the prefix (registry values, a Y: drive): use a throwaway one.

package main

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// wineTool runs a Windows tool of the prefix (reg) and fails on an error.
func wineTool(t *testing.T, args ...string) {
	t.Helper()
	c := exec.Command(wineLoader(), args...)
	c.Env = append(os.Environ(), "WINEDEBUG=-all", "LC_ALL=C.UTF-8")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("wine %v: %v\n%s", args, err, out)
	}
}

// wineStatus is clinicsync.exe status --json with args.
func wineStatus(t *testing.T, exe string, args ...string) statusReport {
	t.Helper()
	out, errOut, code, _ := wineRun(t, exe, append([]string{"status", "--json"}, args...)...)
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); code != exitOK || err != nil {
		t.Fatalf("status --json %v: exit %d (%v)\n%s\n%s", args, code, err, out, errOut)
	}
	return rep
}

func TestWineITPolicyAndDataFolder(t *testing.T) {
	prefix := os.Getenv("WINEPREFIX")
	if prefix == "" {
		t.Fatal("WINEPREFIX is not set: make one with packaging/windows/wine/prefix.sh")
	}
	for _, k := range []string{"CLINICSYNC_CONFIG", "CLINICSYNC_DATA_DIR", "CLINICSYNC_POLICY"} {
		t.Setenv(k, "") // the defaults are under test
	}
	exe := filepath.Join(t.TempDir(), "clinicsync.exe")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows build: %v\n%s", err, out)
	}
	s := sim.New(sim.Options{Documents: 8, Patients: 3, Seed: 5})
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// The defaults: the configuration in the roaming profile, the data
	// folder in the local one.
	rep := wineStatus(t, exe)
	if !strings.HasSuffix(rep.DataDir, `\AppData\Local\ClinicSync`) || !strings.HasSuffix(rep.Config, `\AppData\Roaming\ClinicSync\config.toml`) {
		t.Fatalf("data folder %s, configuration %s", rep.DataDir, rep.Config)
	}
	local, roaming := rep.DataDir, strings.TrimSuffix(rep.Config, `\config.toml`)
	if err := os.MkdirAll(wineHost(t, prefix, wineRoot), 0o755); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(wineHost(t, prefix, rep.Config)), 0o755)
	user := "[askara]\napi_url = \"" + url + "\"\npoll_interval = \"1m\"\n\n[destination]\nroot = '" + wineRoot + "'\n"
	if err := os.WriteFile(wineHost(t, prefix, rep.Config), []byte(user), 0o644); err != nil {
		t.Fatal(err)
	}

	// An earlier version's state in %AppData%\ClinicSync moves once to
	// %LocalAppData%\ClinicSync, every table's rows counted the same.
	if out, errOut, code, _ := wineRun(t, exe, "sync", "--data-dir", roaming); code != exitOK {
		t.Fatalf("sync into %s: exit %d\n%s%s", roaming, code, out, errOut)
	}
	before := tallyOf(t, wineHost(t, prefix, roaming+`\state.db`))
	if before["documents"] != 8 {
		t.Fatalf("before the move: %v", before)
	}
	if rep = wineStatus(t, exe); rep.DataDir != local || rep.Counts["confirmed"] != 8 {
		t.Fatalf("after the move: data folder %s, counts %v", rep.DataDir, rep.Counts)
	}
	if _, err := os.Stat(wineHost(t, prefix, roaming+`\state.db`)); !os.IsNotExist(err) {
		t.Errorf("state.db left in %s", roaming)
	}
	if after := tallyOf(t, wineHost(t, prefix, local+`\state.db`)); !maps.Equal(after, before) {
		t.Fatalf("after the move %v, before %v", after, before)
	}

	// The administrator's settings: Group Policy's key and the policy file,
	// each named as status --json says where a value came from; a locked
	// value wins over the user's file, a preset one does not.
	const itRoot = `C:\PMS\Patients`
	os.MkdirAll(wineHost(t, prefix, itRoot), 0o755)
	gp := `HKLM\Software\Policies\ClinicSync`
	wineTool(t, "reg", "add", gp, "/v", "DESTINATION_ROOT", "/t", "REG_SZ", "/d", itRoot, "/f")
	wineTool(t, "reg", "add", gp, "/v", "LOCK", "/t", "REG_SZ", "/d", "DESTINATION_ROOT", "/f")
	wineTool(t, "reg", "add", gp, "/v", "NOTES", "/t", "REG_DWORD", "/d", "0", "/f")
	file := `C:\ProgramData\ClinicSync\policy.toml`
	os.MkdirAll(filepath.Dir(wineHost(t, prefix, file)), 0o755)
	os.WriteFile(wineHost(t, prefix, file), []byte("lock = [\"POLL_INTERVAL\"]\nPOLL_INTERVAL = \"7m\"\n"+
		"[destination]\nsoftware_id = \"it_pms\"\n[askara]\napi_url = \"http://it.invalid\"\n"), 0o644)
	rep = wineStatus(t, exe)
	if rep.Root != itRoot || rep.APIURL != url {
		t.Errorf("destination %s (want the locked %s), API %s (want the user's %s over the preset)", rep.Root, itRoot, rep.APIURL, url)
	}
	for k, w := range map[string]struct {
		src   config.Source
		where string
	}{
		"destination.root":        {config.FromPolicy, gp},
		"notes.enabled":           {config.FromPolicy, gp},
		"askara.poll_interval":    {config.FromPolicy, file},
		"destination.software_id": {config.FromPolicy, file},
		"askara.api_url":          {config.FromFile, file},
	} {
		if rep.Sources[k] != w.src || rep.PolicyFrom[k] != w.where {
			t.Errorf("%s: source %q from %q, want %q from %q", k, rep.Sources[k], rep.PolicyFrom[k], w.src, w.where)
		}
	}
	if slices.Sort(rep.Locked); !slices.Equal(rep.Locked, []string{"askara.poll_interval", "destination.root"}) {
		t.Errorf("locked %v", rep.Locked)
	}

	// A data folder on a network share is refused with the reason, and
	// nothing is made there: a UNC path, and a drive Wine reports as a
	// network drive (GetDriveType DRIVE_REMOTE).
	share := t.TempDir()
	os.Remove(filepath.Join(prefix, "dosdevices", "y:"))
	if err := os.Symlink(share, filepath.Join(prefix, "dosdevices", "y:")); err != nil {
		t.Fatal(err)
	}
	wineTool(t, "reg", "add", `HKLM\Software\Wine\Drives`, "/v", "y:", "/d", "network", "/f")
	exec.Command(wineServer(), "-k").Run() // mountmgr reads the drive types when it starts
	for _, dir := range []string{`\\server\share\ClinicSync`, `Y:\ClinicSync`} {
		out, errOut, code, _ := wineRun(t, exe, "sync", "--data-dir", dir)
		if code != exitConfig || !strings.Contains(errOut, "network") || !strings.Contains(errOut, "write-ahead log") {
			t.Errorf("sync --data-dir %s: exit %d\n%s%s", dir, code, out, errOut)
		}
	}
	if left := files(t, share); len(left) > 0 {
		t.Errorf("made on the share: %v", left)
	}
	if _, err := os.Stat(filepath.Join(share, "ClinicSync")); !os.IsNotExist(err) {
		t.Error("a data folder was made on the share")
	}
}

// wineServer is the prefix's wineserver, next to the loader.
func wineServer() string {
	for _, c := range []string{"wineserver", "/usr/lib/wine/wineserver64", "/usr/lib/wine/wineserver"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return "wineserver"
}
