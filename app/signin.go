package app

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/service"
)

// signInPanel is the sign-in as the window runs it, in the Account tab and
// in the first-run setup: "Sign in…" (this PC's browser) and "Sign in with
// a code" (any device), and, while a sign-in waits, everything the person
// needs without a terminal: the sign-in page's address with Copy (when the
// browser could not be opened, or did not show), or the code, the page
// where it is entered, and a countdown; Cancel. When the browser's port is
// held by another program the service signs in with a code and the panel
// says why.
type signInPanel struct {
	u      *UI
	signIn *widget.Button // the browser
	code   *widget.Button // a code, on any device (hidden without device_url)
	cancel *widget.Button
	msg    *widget.Label // what to do now, or what went wrong

	codeText  *widget.Label // the code, large
	copyCode  *widget.Button
	codeRow   *fyne.Container
	link      *textBlock // an address to open, broken after its separators
	copyLink  *widget.Button
	openLink  *widget.Button // the code's page, in this PC's browser
	linkRow   *fyne.Container
	countdown *widget.Label

	busy     bool
	gen      int       // the sign-in the prompts belong to
	expires  time.Time // the code's expiry (zero: none shown)
	signedIn bool
	now      func() time.Time // tests move the clock
	// done runs after each sign-in ends, on the UI goroutine (the owner
	// shows the new account).
	done func(err error)
	box  *fyne.Container
}

func newSignInPanel(u *UI) *signInPanel {
	p := &signInPanel{u: u, now: time.Now}
	p.signIn = widget.NewButtonWithIcon(T("Sign in…"), theme.LoginIcon(), func() { p.start(false) })
	p.signIn.Importance = widget.HighImportance
	p.code = widget.NewButtonWithIcon(T("Sign in with a code"), theme.ComputerIcon(), func() { p.start(true) })
	p.cancel = widget.NewButtonWithIcon(T("Cancel"), theme.CancelIcon(), u.b.CancelSignIn)
	p.cancel.Hide()
	p.msg = wrapLabel("")
	p.msg.Hide()
	p.codeText = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	p.codeText.SizeName = theme.SizeNameHeadingText
	p.codeText.Selectable = true
	p.copyCode = widget.NewButtonWithIcon(T("Copy code"), theme.ContentCopyIcon(), func() {
		fyne.CurrentApp().Clipboard().SetContent(p.codeText.Text)
	})
	p.codeRow = container.NewHBox(p.codeText, container.NewCenter(p.copyCode))
	p.codeRow.Hide()
	p.link = newTextBlock("", textWrap)
	p.link.TextStyle.Monospace = true
	p.copyLink = widget.NewButtonWithIcon(T("Copy address"), theme.ContentCopyIcon(), func() {
		fyne.CurrentApp().Clipboard().SetContent(p.link.Text)
	})
	p.openLink = widget.NewButtonWithIcon(T("Open"), theme.ComputerIcon(), func() {
		if u, err := url.Parse(p.link.Text); err == nil {
			p.u.app.OpenURL(u)
		}
	})
	p.linkRow = container.NewBorder(nil, nil, nil, container.NewVBox(p.copyLink, p.openLink), p.link)
	p.linkRow.Hide()
	p.countdown = widget.NewLabel("")
	p.countdown.Hide()
	p.box = container.NewVBox(container.NewHBox(p.signIn, p.code, p.cancel), p.msg, p.codeRow, p.linkRow, p.countdown)
	p.showButtons()
	return p
}

func (p *signInPanel) object() fyne.CanvasObject { return p.box }

// codeAvailable: the configuration names a device endpoint.
func (p *signInPanel) codeAvailable() bool { return p.u.b.Settings().Askara.DeviceURL != "" }

// setSignedIn hides the sign-in buttons while someone is signed in (UI
// goroutine); the message of a sign-in that just ended stays.
func (p *signInPanel) setSignedIn(on bool) {
	p.signedIn = on
	p.showButtons()
}

func (p *signInPanel) showButtons() {
	show := func(b *widget.Button, on bool) {
		if on {
			b.Show()
		} else {
			b.Hide()
		}
	}
	show(p.signIn, !p.signedIn || p.busy)
	show(p.code, (!p.signedIn || p.busy) && p.codeAvailable())
	show(p.cancel, p.busy)
	setEnabled(p.signIn, !p.busy)
	setEnabled(p.code, !p.busy)
}

// start runs a sign-in (UI goroutine): the browser's, or with code a code
// to enter on any device.
func (p *signInPanel) start(code bool) {
	if p.busy {
		return
	}
	p.busy = true
	p.gen++
	gen := p.gen
	p.clear()
	p.say(widget.MediumImportance, T("Starting the sign-in…"))
	p.showButtons()
	prompt := func(sp service.SignInPrompt) { p.u.do(func() { p.prompt(gen, sp) }) }
	p.u.run(func(ctx context.Context) error {
		return p.u.b.SignIn(ctx, service.SignInOptions{Code: code, Prompt: prompt})
	}, func(err error) { p.finish(gen, err) })
}

// prompt shows what the waiting sign-in needs from the person (UI goroutine).
func (p *signInPanel) prompt(gen int, sp service.SignInPrompt) {
	if gen != p.gen || !p.busy {
		return
	}
	p.clear()
	if sp.Code != "" {
		text := T("On any computer or phone, open this address and enter the code:")
		if sp.PortInUse != 0 {
			text = Tf("Port %d on this computer is in use by another program (perhaps another user's Clinic Sync), so sign in with a code instead.", sp.PortInUse) +
				"\n" + text
		}
		p.say(widget.MediumImportance, text)
		p.codeText.SetText(sp.Code)
		p.codeRow.Show()
		p.showLink(sp.CodeURL, true)
		p.expires = sp.Expires
		p.tick()
		return
	}
	if sp.Opened {
		p.say(widget.MediumImportance, T("Finish signing in in your browser. If no page opened, copy this address into a browser on this computer:"))
	} else {
		p.say(widget.WarningImportance, T("The browser could not be opened. Copy this address into a browser on this computer and sign in there; Clinic Sync is waiting:"))
	}
	p.showLink(sp.URL, false)
}

func (p *signInPanel) showLink(u string, open bool) {
	p.link.SetText(u)
	if open {
		p.openLink.Show()
	} else {
		p.openLink.Hide()
	}
	p.linkRow.Show()
	p.linkRow.Refresh()
}

// finish shows how the sign-in ended (UI goroutine).
func (p *signInPanel) finish(gen int, err error) {
	if gen != p.gen {
		return
	}
	p.busy = false
	p.clear()
	switch {
	case err == nil:
		p.say(widget.SuccessImportance, T("Signed in."))
	case clinicsync.ErrorCode(err) == clinicsync.ECanceled:
		p.msg.Hide()
	default:
		p.say(widget.DangerImportance, TText(clinicsync.ErrorText(err)))
	}
	p.showButtons()
	if p.done != nil {
		p.done(err)
	}
}

// clear hides the code and the address.
func (p *signInPanel) clear() {
	p.codeRow.Hide()
	p.linkRow.Hide()
	p.countdown.Hide()
	p.expires = time.Time{}
}

func (p *signInPanel) say(imp widget.Importance, text string) {
	p.msg.Importance = imp
	p.msg.SetText(text)
	p.msg.Show()
}

// tick redraws the code's countdown (UI goroutine; the window's clock
// calls it every second).
func (p *signInPanel) tick() {
	if p.expires.IsZero() {
		p.countdown.Hide()
		return
	}
	left := p.expires.Sub(p.now()).Round(time.Second)
	if left <= 0 {
		p.countdown.Importance = widget.DangerImportance
		p.countdown.SetText(T("The code has expired: press Cancel, then sign in again."))
	} else {
		p.countdown.Importance = widget.MediumImportance
		p.countdown.SetText(Tf("The code expires in %s.", fmt.Sprintf("%d:%02d", int(left.Minutes()), int(left.Seconds())%60)))
	}
	p.countdown.Show()
}
