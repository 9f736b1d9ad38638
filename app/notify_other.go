//go:build !windows && !darwin

package app

import "fyne.io/fyne/v2"

// PrepareNotifications: nothing to describe outside Windows.
func PrepareNotifications(dataDir string) error { return nil }

// desktopNotify uses Fyne's notifications: on Linux and the BSDs they go
// over D-Bus to the desktop's notification server (or the XDG portal),
// from this process.
func desktopNotify(a fyne.App, title, body string) {
	a.SendNotification(fyne.NewNotification(title, body))
}
