package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/service"
)

// accountView is the Account tab: who is signed in, to which
// organisation, and Sign in / Sign out.
type accountView struct {
	u       *UI
	who     *widget.Label
	org     *widget.Label
	email   *widget.Label
	signIn  *widget.Button
	cancel  *widget.Button
	signOut *widget.Button
	msg     *widget.Label
}

func newAccountView(u *UI) *accountView {
	v := &accountView{u: u, who: widget.NewLabel(""), org: widget.NewLabel(""), email: widget.NewLabel("")}
	v.signIn = widget.NewButtonWithIcon(T("Sign in…"), theme.LoginIcon(), u.signIn)
	v.signIn.Importance = widget.HighImportance
	v.cancel = widget.NewButton(T("Cancel"), u.b.CancelSignIn)
	v.cancel.Hide()
	v.signOut = widget.NewButtonWithIcon(T("Sign out"), theme.LogoutIcon(), func() {
		dialog.ShowConfirm(T("Sign out?"), T("Documents will wait on Askara until someone signs in again."), func(ok bool) {
			if ok {
				u.signOut()
			}
		}, u.win)
	})
	v.msg = wrapLabel("")
	return v
}

func (v *accountView) object() fyne.CanvasObject {
	form := widget.NewForm(widget.NewFormItem(T("Signed in as"), v.who),
		widget.NewFormItem(T("E-mail"), v.email), widget.NewFormItem(T("Organisation"), v.org))
	note := wrapLabel(T("Sign-in happens once, in your browser. Clinic Sync keeps it in this computer's keychain and renews it on its own."))
	note.Importance = widget.LowImportance
	return container.NewVScroll(container.NewPadded(container.NewVBox(form, container.NewHBox(v.signIn, v.cancel, v.signOut), v.msg, note)))
}

// set shows st (UI goroutine).
func (v *accountView) set(st service.Status) {
	a := st.Account
	signedIn := a.SignedIn && !st.SignedOut
	switch {
	case a.Managed && a.Name == "":
		v.who.SetText(T("Credentials from CLINICSYNC_ACCESS_TOKEN"))
	case a.Managed:
		v.who.SetText(a.Name + " " + T("(token from CLINICSYNC_ACCESS_TOKEN)"))
	case signedIn:
		v.who.SetText(or(a.Name, T("(name not known)")))
	default:
		v.who.SetText(T("Not signed in"))
	}
	v.email.SetText(a.Email)
	v.org.SetText(a.Organization)
	if a.Managed {
		v.signIn.Hide()
		v.signOut.Hide()
		return
	}
	if signedIn {
		v.signIn.Hide()
		v.signOut.Show()
	} else {
		v.signIn.Show()
		v.signOut.Hide()
	}
}

func (v *accountView) busy(on bool) {
	if on {
		v.signIn.Disable()
		v.cancel.Show()
		v.msg.SetText(T("Finish signing in in your browser…"))
	} else {
		v.signIn.Enable()
		v.cancel.Hide()
		v.msg.SetText("")
	}
}

func (v *accountView) showError(err error) {
	v.msg.SetText(clinicsync.ErrorMessage(err))
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// diagView is the Diagnostics tab: version, folders, log file, and the
// support bundle.
type diagView struct {
	u      *UI
	export *widget.Button
	msg    *widget.Label
	form   *widget.Form
}

func newDiagView(u *UI) *diagView {
	v := &diagView{u: u, msg: wrapLabel("")}
	v.export = widget.NewButtonWithIcon(T("Export support bundle…"), theme.DownloadIcon(), v.tapExport)
	st := u.b.Status()
	path := func(p string) fyne.CanvasObject {
		l := widget.NewLabel(p)
		l.Selectable = true
		l.Wrapping = fyne.TextWrapBreak
		open := widget.NewButtonWithIcon("", theme.FolderOpenIcon(), func() {
			if err := u.o.OpenPath(p); err != nil {
				v.msg.SetText(clinicsync.ErrorMessage(err))
			}
		})
		if p == "" {
			open.Disable()
		}
		return container.NewBorder(nil, nil, nil, open, l)
	}
	logFile := st.LogFile
	v.form = widget.NewForm(
		widget.NewFormItem(T("Version"), widget.NewLabel(st.Version)),
		widget.NewFormItem(T("Data folder"), path(st.DataDir)),
		widget.NewFormItem(T("Settings file"), path(st.ConfigPath)),
		widget.NewFormItem(T("Log file"), path(logFile)),
	)
	return v
}

func (v *diagView) object() fyne.CanvasObject {
	note := wrapLabel(T("The support bundle holds the settings, the activity log and the document list. It never holds a password, a token or note text."))
	note.Importance = widget.LowImportance
	return container.NewVScroll(container.NewPadded(container.NewVBox(v.form, widget.NewSeparator(), note, container.NewHBox(v.export), v.msg)))
}

// bundleName is the support bundle's file name for t.
func bundleName(t time.Time) string {
	return "clinicsync-support-" + t.Format("20060102-150405") + ".zip"
}

// tapExport asks where to save the bundle, then writes it off the UI goroutine.
func (v *diagView) tapExport() {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		v.export.Disable()
		v.msg.SetText(T("Writing the support bundle…"))
		v.u.run(func(ctx context.Context) error {
			defer w.Close()
			return v.u.b.ExportBundle(ctx, w)
		}, func(err error) {
			v.export.Enable()
			if err != nil {
				v.msg.SetText(T("The support bundle could not be written: ") + clinicsync.ErrorMessage(err))
				return
			}
			v.msg.SetText(Tf("Saved %s", w.URI().Path()))
		})
	}, v.u.win)
	d.SetFileName(bundleName(time.Now()))
	d.Resize(fyne.NewSize(720, 480))
	d.Show()
}

// exportTo writes the bundle into dir (for tests and the command line).
func (v *diagView) exportTo(ctx context.Context, dir string) (string, error) {
	p := filepath.Join(dir, bundleName(time.Now()))
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := v.u.b.ExportBundle(ctx, f); err != nil {
		return "", err
	}
	return p, f.Close()
}

// notesView is the Notes tab. Notes (and the Inbox of notes with no
// patient) arrive with the notes pipeline; until then the tab says so
// plainly rather than showing an empty list that looks like "no notes".
type notesView struct {
	u   *UI
	msg *widget.Label
}

func newNotesView(u *UI) *notesView {
	return &notesView{u: u, msg: wrapLabel("")}
}

func (v *notesView) object() fyne.CanvasObject {
	v.reload()
	return container.NewVScroll(container.NewPadded(container.NewVBox(
		widget.NewLabelWithStyle(T("Clinical notes"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), v.msg)))
}

func (v *notesView) reload() {
	if v.u.b.Settings().Notes.Enabled {
		v.msg.SetText(T("This version synchronises documents (PDF) only. Clinical notes, and the Inbox of notes with no patient, will be listed here once note synchronisation is available; nothing is lost meanwhile: notes stay on Askara."))
	} else {
		v.msg.SetText(T("Notes are switched off in Settings."))
	}
}

func showError(err error, w fyne.Window) {
	dialog.ShowError(fmt.Errorf("%s", clinicsync.ErrorMessage(err)), w)
}
