package autostart

import (
	"os"
	"path/filepath"
	"testing"
)

// Without XDG_CONFIG_HOME the entry goes to ~/.config/autostart.
func TestXDGFallback(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	e := Entry{ID: "org.clinicsync.app", Name: "Clinic Sync", Exec: "/opt/clinicsync"}
	if err := e.Enable(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, ".config", "autostart", "org.clinicsync.app.desktop")); err != nil {
		t.Fatal(err)
	}
}
