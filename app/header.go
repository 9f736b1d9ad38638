package app

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync/sync/service"
)

// header is the status line above the tabs: state, account, last and next
// pass, counts, and the two commands a person needs most.
type header struct {
	u       *UI
	icon    *canvas.Image
	state   *widget.Label
	account *widget.Label
	passes  *widget.Label
	counts  *widget.Label
	syncNow *widget.Button
	pause   *widget.Button
	failed  *widget.Button // "Show": the failed documents, when there are any
	st      service.Status
}

func newHeader(u *UI) *header {
	h := &header{u: u}
	h.icon = canvas.NewImageFromResource(trayIcon(""))
	h.icon.SetMinSize(fyne.NewSize(36, 36))
	h.icon.FillMode = canvas.ImageFillContain
	// Long texts (a long name, French) are cut with an ellipsis rather
	// than widening the window past the screen.
	h.state = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	h.state.Truncation = fyne.TextTruncateEllipsis
	h.account = widget.NewLabel("")
	h.account.Truncation = fyne.TextTruncateEllipsis
	h.passes = widget.NewLabel("")
	h.passes.Truncation = fyne.TextTruncateEllipsis
	h.counts = widget.NewLabel("")
	h.counts.Truncation = fyne.TextTruncateEllipsis
	h.syncNow = widget.NewButtonWithIcon(T("Sync now"), theme.ViewRefreshIcon(), u.b.SyncNow)
	h.pause = widget.NewButtonWithIcon(T("Pause"), theme.MediaPauseIcon(), func() {
		if h.st.Paused {
			u.b.Resume()
		} else {
			u.b.Pause()
		}
	})
	h.failed = widget.NewButton(T("Show"), u.showFailed)
	h.failed.Importance = widget.DangerImportance
	h.failed.Hide()
	return h
}

func (h *header) object() fyne.CanvasObject {
	state := container.NewBorder(nil, nil, nil, container.NewHBox(h.failed), h.state)
	info := container.NewGridWithColumns(2, container.NewVBox(state, h.account), container.NewVBox(h.passes, h.counts))
	buttons := container.NewCenter(container.NewHBox(h.syncNow, h.pause))
	return container.NewVBox(container.NewPadded(container.NewBorder(nil, nil, container.NewCenter(h.icon), buttons, info)),
		widget.NewSeparator())
}

// set shows st (UI goroutine).
func (h *header) set(st service.Status) {
	h.st = st
	now := time.Now()
	h.icon.Resource = trayIcon(st.Status)
	h.icon.Refresh()
	h.state.SetText(statusText(st))
	switch {
	case st.Account.Managed && st.Account.Name == "" && st.Account.Email == "":
		h.account.SetText(T("Credentials from CLINICSYNC_ACCESS_TOKEN"))
	case st.Account.SignedIn && !st.SignedOut:
		a := Tf("Signed in as %s", st.Account.String())
		if st.Account.Organization != "" {
			a += " · " + st.Account.Organization
		}
		h.account.SetText(a)
	default:
		h.account.SetText(T("Not signed in"))
	}
	last := T("never")
	if !st.LastPassEnd.IsZero() {
		last = ago(st.LastPassEnd, now)
	}
	next := "—"
	switch {
	case st.Paused:
		next = T("paused")
	case st.Syncing:
		next = T("running")
	case !st.NextPass.IsZero():
		next = in(st.NextPass, now)
	}
	h.passes.SetText(fmt.Sprintf("%s %s   %s %s", T("Last sync:"), last, T("Next:"), next))
	h.counts.SetText(Tf("%d confirmed · %d pending · %d failed",
		st.Counts["confirmed"], st.Counts["pending"]+st.Counts["downloading"]+st.Counts["saved"], st.Counts["failed"]))
	if st.Counts["failed"] > 0 {
		h.failed.Show()
	} else {
		h.failed.Hide()
	}
	if st.Paused {
		h.pause.SetText(T("Resume"))
		h.pause.SetIcon(theme.MediaPlayIcon())
	} else {
		h.pause.SetText(T("Pause"))
		h.pause.SetIcon(theme.MediaPauseIcon())
	}
	if st.Paused || st.SignedOut || st.Syncing {
		h.syncNow.Disable()
	} else {
		h.syncNow.Enable()
	}
}
