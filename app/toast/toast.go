// Package toast shows Windows notifications (toasts) from Clinic Sync's
// own process, with no child process: no PowerShell and no script, which
// endpoint-security products flag (Fyne 2.7 starts PowerShell with
// -ExecutionPolicy Bypass for each). It calls the Windows Runtime's toast
// API through COM (git.sr.ht/~jackmordaunt/go-toast's wintoast, without
// its PowerShell fallback), attributed to the AppUserModelID AppID, which
// Register describes to Windows (the name and icon a toast shows) as the
// MSI does. Elsewhere Show says ErrUnsupported.
package toast

import (
	"encoding/xml"
	"errors"
	"strings"
)

// AppID is Clinic Sync's AppUserModelID: FyneApp.toml's id, which the
// MSI registers under HKCU\Software\Classes\AppUserModelId too.
const AppID = "app.clinicsync.desktop"

// ErrUnsupported: no native toasts here (not Windows).
var ErrUnsupported = errors.ErrUnsupported

// ErrNotRegistered: Show before Register.
var ErrNotRegistered = errors.New("toast: Register first")

// Register makes Windows show this app's toasts as displayName with the
// image at iconPath (a PNG; "" keeps the one registered), under AppID, in
// HKCU\Software\Classes\AppUserModelId\<AppID>: what an unpackaged app
// needs for its toasts. Call it once, before Show.
func Register(displayName, iconPath string) error { return register(displayName, iconPath) }

// Show shows one toast: title, then body. It returns once Windows took it
// (or refused it); it never starts a process.
func Show(title, body string) error { return show(Content(title, body)) }

// Content is the toast's XML: a generic toast with two lines of text.
func Content(title, body string) string {
	var b strings.Builder
	b.WriteString(`<toast><visual><binding template="ToastGeneric"><text>`)
	xml.EscapeText(&b, []byte(title))
	b.WriteString(`</text><text>`)
	xml.EscapeText(&b, []byte(body))
	b.WriteString(`</text></binding></visual></toast>`)
	return b.String()
}
