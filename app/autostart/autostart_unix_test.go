//go:build unix

package autostart

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// setHome points HOME and XDG_CONFIG_HOME at fresh temporary directories
// and returns the file Enable is expected to write.
func setHome(t *testing.T, e Entry) string {
	home, config := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", config)
	if runtime.GOOS == "darwin" {
		return filepath.Join(home, "Library", "LaunchAgents", e.ID+".plist")
	}
	return filepath.Join(config, "autostart", e.ID+".desktop")
}

func wantContent(e Entry) []byte {
	if runtime.GOOS == "darwin" {
		return plist(e)
	}
	return desktopFile(e)
}

func TestRoundTrip(t *testing.T) {
	e := Entry{ID: "org.clinicsync.app", Name: "Clinic Sync", Exec: "/opt/Clinic Sync & Co/clinicsync", Args: []string{"--minimized"}}
	path := setHome(t, e)

	assertEnabled := func(want bool) {
		t.Helper()
		got, err := e.Enabled()
		if err != nil || got != want {
			t.Fatalf("Enabled() = %v, %v; want %v", got, err, want)
		}
	}
	assertEnabled(false)
	if err := e.Disable(); err != nil {
		t.Fatalf("Disable when not enabled: %v", err)
	}
	if err := e.Enable(); err != nil {
		t.Fatalf("Enable: %v", err)
	}
	assertEnabled(true)

	// Enabling again rewrites the entry with the new path.
	e.Exec = "/opt/Moved & Co/clinicsync"
	if err := e.Enable(); err != nil {
		t.Fatalf("second Enable: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(wantContent(e)) {
		t.Errorf("%s:\n%s\nwant:\n%s", path, got, wantContent(e))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode of %s: %v, %v; want 0644", path, fi.Mode(), err)
	}
	if names, _ := os.ReadDir(filepath.Dir(path)); len(names) != 1 {
		t.Errorf("leftover files next to the entry: %v", names)
	}

	if err := e.Disable(); err != nil {
		t.Fatalf("Disable: %v", err)
	}
	assertEnabled(false)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s still there after Disable: %v", path, err)
	}
	if err := e.Disable(); err != nil {
		t.Fatalf("Disable twice: %v", err)
	}
}

func TestInvalidEntryWritesNothing(t *testing.T) {
	e := Entry{ID: "org.clinicsync.app", Name: "Clinic Sync", Exec: "clinicsync"}
	path := setHome(t, e)
	if err := e.Enable(); err == nil {
		t.Fatal("Enable accepted a relative Exec")
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("Enable of an invalid entry created %s", filepath.Dir(path))
	}
	if _, err := e.Enabled(); err == nil {
		t.Error("Enabled accepted a relative Exec")
	}
}
