//go:build cgo

package main

import (
	"runtime"
	"time"

	"github.com/godbus/dbus/v5"
)

// statusNotifierWatcher is the D-Bus name of the tray host that
// fyne.io/systray registers its icon with (KDE, XFCE, Cinnamon, GNOME with
// the AppIndicator extension).
const statusNotifierWatcher = "org.kde.StatusNotifierWatcher"

// hasTrayHost reports whether the desktop shows tray icons. Windows and
// macOS always do. On Linux it takes a session bus with a
// StatusNotifierWatcher: stock GNOME has a session bus but no watcher, and
// an icon there is invisible, so a window hidden to the tray could never
// be found again. wait gives a desktop that is still starting (the app
// starts at login) time to register one; the answer comes within about a
// second more whatever the bus does.
func hasTrayHost(wait time.Duration) bool {
	if runtime.GOOS != "linux" {
		return true
	}
	if !hasSessionBus() {
		return false
	}
	found := make(chan bool, 1)
	go func() {
		conn, err := dbus.ConnectSessionBus()
		if err != nil {
			found <- false
			return
		}
		defer conn.Close()
		deadline := time.Now().Add(wait)
		for {
			var has bool
			err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, statusNotifierWatcher).Store(&has)
			if has || err != nil || time.Now().After(deadline) {
				found <- has
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	select {
	case has := <-found:
		return has
	case <-time.After(wait + time.Second):
		return false
	}
}
