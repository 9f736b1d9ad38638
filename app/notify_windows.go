//go:build windows

package app

import (
	"os"
	"path/filepath"

	"fyne.io/fyne/v2"

	"github.com/clinicsync/clinicsync/app/toast"
	"github.com/clinicsync/clinicsync/assets"
)

// PrepareNotifications describes Clinic Sync to Windows for its toasts:
// the name "Clinic Sync" and its icon (written to dataDir, where Windows
// can read it) under the AppUserModelID the MSI puts on the Start menu
// shortcut. Call it once, before the window opens.
func PrepareNotifications(dataDir string) error {
	icon := filepath.Join(dataDir, "notification-icon.png")
	if err := os.WriteFile(icon, assets.Icon("icon.png"), 0o644); err != nil {
		icon = ""
	}
	return toast.Register("Clinic Sync", icon)
}

// desktopNotify shows a Windows toast from this process (app/toast), never
// Fyne's, which starts PowerShell with -ExecutionPolicy Bypass for each.
// A toast Windows refuses is not shown: the banner and the tray's
// attention state still say it.
func desktopNotify(_ fyne.App, title, body string) {
	if err := toast.Show(title, body); err != nil {
		fyne.LogError("notification not shown", err)
	}
}
