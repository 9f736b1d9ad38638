package app

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"github.com/clinicsync/clinicsync/assets"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/service"
)

// The tray follows Tailscale's tray client: it reads one status and
// rebuilds the whole menu from it; every click is a command.

var trayIcons = map[engine.Status]fyne.Resource{}

func init() {
	for st, name := range map[engine.Status]string{
		engine.StatusIdle: "tray-idle.png", engine.StatusSyncing: "tray-syncing.png",
		engine.StatusAttention: "tray-attention.png", engine.StatusPaused: "tray-paused.png",
		engine.StatusSignedOut: "tray-signedout.png",
	} {
		trayIcons[st] = fyne.NewStaticResource(name, assets.Icon(name))
	}
}

// trayIcon is the icon for a state (idle for an unknown one).
func trayIcon(st engine.Status) fyne.Resource {
	if r, ok := trayIcons[st]; ok {
		return r
	}
	return trayIcons[engine.StatusIdle]
}

// trayFile is the name of a state's icon file, without extension.
func trayFile(st engine.Status) string {
	return strings.TrimSuffix(trayIcon(st).Name(), ".png")
}

// osTrayIcon is the tray icon for a state as the OS goos draws it best.
// macOS: the monochrome template (tray-STATE-template.png), which the menu
// bar draws in its own colour, light or dark; Fyne 2.7.1 hands an icon to
// the menu bar as a template when it is a *theme.ThemedResource (it then
// tries to recolour it as an SVG, fails, logs that and keeps the PNG's
// bytes, which is what a template wants). Elsewhere the colour PNG; on
// Windows Options.SetTrayIcon then replaces it with the multi-size ICO.
func osTrayIcon(goos string, st engine.Status) fyne.Resource {
	if goos == "darwin" {
		name := trayFile(st) + "-template.png"
		return theme.NewThemedResource(fyne.NewStaticResource(name, assets.Icon(name)))
	}
	return trayIcon(st)
}

// trayICO is a state's Windows tray icon: an ICO holding 16, 20, 24, 32 and
// 48 px images, so the notification area picks one of its own size at any
// display scale instead of shrinking a 64 px image (which Fyne's own
// conversion makes: one size only).
func trayICO(st engine.Status) []byte { return assets.Icon(trayFile(st) + ".ico") }

// statusText says the state in words, for the tooltip and the header.
func statusText(st service.Status) string {
	if st.SetupNeeded {
		return T("Setup needed: open Clinic Sync")
	}
	switch st.Status {
	case engine.StatusSyncing:
		return T("Synchronising…")
	case engine.StatusPaused:
		return T("Paused")
	case engine.StatusSignedOut:
		return T("Signed out: sign in to resume")
	case engine.StatusStandby:
		// Another PC holds the shared folder's lease (sync/engine/lease.go).
		return Tf("%s writes to this folder", st.StandbyFor)
	case engine.StatusAttention:
		if len(st.Problems) > 0 {
			return Tf("Documents stopped: %s", TText(st.Problems[0].Title))
		}
		if n := st.Counts["failed"]; n == 1 {
			return T("1 document needs attention")
		} else if n > 1 {
			return Tf("%d documents need attention", n)
		}
		if st.LastPassError != "" {
			return T("Attention: ") + lastPassError(st)
		}
		if st.LeaseProblem != "" {
			return T("Attention: ") + cmp.Or(TText(st.LeaseProblemText), st.LeaseProblem)
		}
		return T("Attention needed")
	}
	return T("Up to date")
}

// tooltip is "Clinic Sync: Up to date. Last sync 14:02."
func tooltip(st service.Status, now time.Time) string {
	s := "Clinic Sync: " + statusText(st)
	if !st.LastPassEnd.IsZero() {
		s += ". " + Tf("Last sync %s", ago(st.LastPassEnd, now))
	}
	return s
}

// ago says when t was, briefly: "just now", "3 min ago", "14:02", "2 Mar 14:02".
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 10*time.Second:
		return T("just now")
	case d < time.Minute:
		return Tf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return Tf("%d min ago", int(d.Minutes()))
	case t.YearDay() == now.YearDay() && t.Year() == now.Year():
		return t.Local().Format("15:04")
	}
	return t.Local().Format("2 Jan 15:04")
}

// in says when t will be: "in 12 s", "now".
func in(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= time.Second:
		return T("now")
	case d < time.Minute:
		return Tf("in %d s", int(d.Seconds()+0.5))
	case d < time.Hour:
		return Tf("in %d min", int(d.Minutes()+0.5))
	}
	return t.Local().Format("15:04")
}

// trayMenu is the whole tray menu for one status.
func (u *UI) trayMenu(st service.Status) *fyne.Menu {
	items := []*fyne.MenuItem{
		fyne.NewMenuItem(T("Open Clinic Sync"), u.Show),
		fyne.NewMenuItemSeparator(),
		disabledItem(statusText(st)),
	}
	syncNow := fyne.NewMenuItem(T("Sync now"), u.b.SyncNow)
	syncNow.Disabled = st.Paused || st.SignedOut || st.Syncing || st.StandbyFor != ""
	items = append(items, syncNow)
	if st.Paused {
		items = append(items, fyne.NewMenuItem(T("Resume"), u.b.Resume))
	} else {
		items = append(items, fyne.NewMenuItem(T("Pause"), u.b.Pause))
	}
	items = append(items, fyne.NewMenuItem(T("Open documents folder"), u.openDocumentsFolder))
	switch {
	case st.Update != "":
		items = append(items, fyne.NewMenuItem(Tf("Install version %s…", st.Update), u.installUpdate))
	case st.UpdatesOn:
		items = append(items, fyne.NewMenuItem(T("Check for updates"), u.b.CheckForUpdates))
	}
	switch {
	case st.Account.Managed:
	case st.Account.SignedIn && !st.SignedOut:
		items = append(items, fyne.NewMenuItem(fmt.Sprintf("%s (%s)", T("Sign out"), st.Account.String()), u.signOut))
	default:
		items = append(items, fyne.NewMenuItem(T("Sign in…"), u.signIn))
	}
	quit := fyne.NewMenuItem(T("Quit"), u.Quit)
	quit.IsQuit = true
	items = append(items, fyne.NewMenuItemSeparator(), quit)
	return fyne.NewMenu("Clinic Sync", items...)
}

func disabledItem(label string) *fyne.MenuItem {
	it := fyne.NewMenuItem(label, nil)
	it.Disabled = true
	return it
}

// lastPassError is why the last pass failed, in the window's language.
func lastPassError(st service.Status) string {
	if st.LastPassText.Key != "" {
		return TText(st.LastPassText)
	}
	return st.LastPassError
}
