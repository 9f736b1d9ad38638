package app

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/service"
)

// header is the status above the tabs, in three lines beside the icon:
// the state (with Show when documents failed) and the two commands a
// person needs most; who is signed in, to which organisation; the last
// and next pass and the counts. Each line has the window's whole width,
// so the times and counts are drawn whole in English and French down to
// the window's minimum width, and only the state and the account, which
// can be long, are shortened, at a word boundary (the Account tab has
// them in full).
type header struct {
	u       *UI
	icon    *canvas.Image
	state   *textBlock
	account *textBlock
	passes  *textBlock
	counts  *textBlock
	syncNow *widget.Button
	pause   *widget.Button
	failed  *widget.Button  // "Show": the failed documents, when there are any
	row     *fyne.Container // the state and Show
	times   *fyne.Container // the passes and the counts
	// banner names each open problem (a condition that stops documents),
	// its cause and its fix; hidden when there is none.
	banner   *fyne.Container
	problems string // what the banner shows, to rebuild it only on a change
	root     fyne.CanvasObject
	st       service.Status
}

func newHeader(u *UI) *header {
	h := &header{u: u}
	h.icon = canvas.NewImageFromResource(trayIcon(""))
	h.icon.SetMinSize(fyne.NewSize(36, 36))
	h.icon.FillMode = canvas.ImageFillContain
	h.state = newTextBlock("", textShorten)
	h.state.TextStyle = fyne.TextStyle{Bold: true}
	h.account = newTextBlock("", textShorten)
	h.passes = newTextBlock("", textFull)
	h.counts = newTextBlock("", textFull)
	for _, b := range []*textBlock{h.account, h.passes, h.counts} {
		b.compact = true
	}
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
	h.banner = container.NewVBox()
	h.banner.Hide()
	return h
}

func (h *header) object() fyne.CanvasObject {
	h.row = container.New(textThenButton{}, h.state, h.failed)
	top := container.NewBorder(nil, nil, nil, container.NewHBox(h.syncNow, h.pause), h.row)
	h.times = container.NewBorder(nil, nil, h.passes, h.counts)
	info := container.NewVBox(top, h.account, h.times)
	h.root = container.NewVBox(container.NewPadded(container.NewBorder(nil, nil, container.NewCenter(h.icon), nil, info)),
		h.banner, widget.NewSeparator())
	return h.root
}

// textThenButton lays out a text and, right after it, a button (when
// shown): the text as wide as it needs, up to what the button leaves.
type textThenButton struct{}

func (textThenButton) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	text, button := objs[0].(*textBlock), objs[1]
	gap := theme.Padding()
	var bw float32
	if button.Visible() {
		bw = button.MinSize().Width
	}
	tw := min(text.idealWidth(), size.Width-bw-gap)
	text.Move(fyne.NewPos(0, 0))
	text.Resize(fyne.NewSize(tw, size.Height))
	if button.Visible() {
		bh := button.MinSize().Height
		button.Move(fyne.NewPos(tw+gap, (size.Height-bh)/2))
		button.Resize(fyne.NewSize(bw, bh))
	}
}

func (textThenButton) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := objs[0].MinSize()
	if b := objs[1]; b.Visible() {
		bs := b.MinSize()
		s = fyne.NewSize(s.Width+theme.Padding()+bs.Width, max(s.Height, bs.Height))
	}
	return s
}

// accountLine is who is signed in, to which organisation: the person's
// name (or the e-mail address's name part), not the whole address.
func accountLine(a service.Account) string {
	who := a.Name
	if who == "" {
		who, _, _ = strings.Cut(a.Email, "@")
	}
	if who == "" {
		who = "Askara"
	}
	line := Tf("Signed in as %s", who)
	if a.Organization != "" {
		line += " · " + a.Organization
	}
	return line
}

// setProblems shows the open problems in the banner, one paragraph each:
// "Documents stopped: disk full" in bold, then the cause and the fix, in
// the error colour (UI goroutine).
func (h *header) setProblems(ps []engine.Problem) {
	var key strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&key, "%s\x00%s\x00%s\x00%s\x00", p.Kind, TText(p.Title), TText(p.Cause), TText(p.Fix))
	}
	if key.String() == h.problems {
		return
	}
	h.problems = key.String()
	h.banner.Objects = nil
	for _, p := range ps {
		title := newTextBlock(Tf("Documents stopped: %s", TText(p.Title)), textWrap)
		title.TextStyle.Bold = true
		title.ColorName = theme.ColorNameError
		title.compact = true
		text := newTextBlock(TText(p.Cause)+" "+TText(p.Fix), textWrap)
		text.ColorName = theme.ColorNameError
		text.compact = true
		icon := widget.NewIcon(theme.NewErrorThemedResource(theme.WarningIcon()))
		h.banner.Add(container.NewBorder(nil, nil, container.NewVBox(icon), nil, container.NewVBox(title, text)))
	}
	if len(ps) > 0 {
		h.banner.Show()
	} else {
		h.banner.Hide()
	}
	h.banner.Refresh()
}

// set shows st (UI goroutine).
func (h *header) set(st service.Status) {
	h.st = st
	h.setProblems(st.Problems)
	now := time.Now()
	h.icon.Resource = trayIcon(st.Status)
	h.icon.Refresh()
	state := statusText(st)
	relayout := state != h.state.Text
	h.state.SetText(state)
	switch {
	case st.Account.Managed && st.Account.Name == "" && st.Account.Email == "":
		h.account.SetText(T("Credentials from CLINICSYNC_ACCESS_TOKEN"))
	case st.Account.SignedIn && !st.SignedOut:
		h.account.SetText(accountLine(st.Account))
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
	passes := fmt.Sprintf("%s %s · %s %s", T("Last sync:"), last, T("Next:"), next)
	counts := Tf("%d confirmed · %d pending · %d failed",
		st.Counts["confirmed"], st.Counts["pending"]+st.Counts["downloading"]+st.Counts["saved"], st.Counts["failed"])
	if passes != h.passes.Text || counts != h.counts.Text {
		h.passes.SetText(passes)
		h.counts.SetText(counts)
		if h.times != nil {
			h.times.Refresh() // each drawn whole: their widths follow their texts
		}
	}
	if (st.Counts["failed"] > 0) != h.failed.Visible() {
		relayout = true
		if st.Counts["failed"] > 0 {
			h.failed.Show()
		} else {
			h.failed.Hide()
		}
	}
	if relayout && h.row != nil {
		h.row.Refresh() // the state's width follows its text
	}
	if st.Paused {
		h.pause.SetText(T("Resume"))
		h.pause.SetIcon(theme.MediaPlayIcon())
	} else {
		h.pause.SetText(T("Pause"))
		h.pause.SetIcon(theme.MediaPauseIcon())
	}
	if st.Paused || st.SignedOut || st.Syncing || st.StandbyFor != "" {
		h.syncNow.Disable()
	} else {
		h.syncNow.Enable()
	}
}
