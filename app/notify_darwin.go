//go:build darwin

package app

import (
	"os"
	"strings"

	"fyne.io/fyne/v2"
)

// PrepareNotifications: the bundle's Info.plist describes the app.
func PrepareNotifications(dataDir string) error { return nil }

// desktopNotify uses Fyne's notifications on macOS, which go to the
// system's notification center (UNUserNotificationCenter) when the app
// runs from its bundle. Outside a bundle Fyne would run osascript
// instead: a script host, so nothing is shown there (the window's banner
// and the tray still say it).
func desktopNotify(a fyne.App, title, body string) {
	if inBundle() {
		a.SendNotification(fyne.NewNotification(title, body))
	}
}

// inBundle reports whether this program runs from an app bundle
// (Clinic Sync.app/Contents/MacOS/clinicsync).
func inBundle() bool {
	exe, err := os.Executable()
	return err == nil && strings.Contains(exe, ".app/Contents/MacOS/")
}
