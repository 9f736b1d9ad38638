package main

import (
	"os"
	"path/filepath"
	"runtime"
)

// noSessionBus is a D-Bus address no client can dial.
const noSessionBus = "disabled:"

// hasSessionBus reports whether Linux has a D-Bus session bus to use: its
// address in the environment, or the user bus socket in XDG_RUNTIME_DIR.
// Without one, D-Bus clients (the keyring, notifications, the tray) are
// pointed at noSessionBus so they fail at once instead of autolaunching a
// bus: dbus-launch would leave a dbus-daemon behind at every start, and
// that bus has no keyring or tray host anyway. The tray app runs as a plain
// window then (fyne.io/systray panics on quit without a bus,
// build-notes.md). Called at every start, so asking twice is fine.
func hasSessionBus() bool {
	if runtime.GOOS != "linux" {
		return true
	}
	switch os.Getenv("DBUS_SESSION_BUS_ADDRESS") {
	case noSessionBus:
		return false
	case "":
	default:
		return true
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		if fi, err := os.Stat(filepath.Join(d, "bus")); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return true
		}
	}
	os.Setenv("DBUS_SESSION_BUS_ADDRESS", noSessionBus)
	return false
}
