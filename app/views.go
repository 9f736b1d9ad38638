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
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/service"
)

// accountView is the Account tab: who is signed in, to which
// organisation, the sign-in (signInPanel) and Sign out.
type accountView struct {
	u       *UI
	who     *widget.Label
	org     *widget.Label
	email   *widget.Label
	panel   *signInPanel
	signOut *widget.Button
	msg     *widget.Label // a sign-out that failed
}

func newAccountView(u *UI) *accountView {
	v := &accountView{u: u, who: widget.NewLabel(""), org: widget.NewLabel(""), email: widget.NewLabel("")}
	v.panel = newSignInPanel(u)
	v.panel.done = func(error) { u.apply(u.b.Status()) }
	v.signOut = widget.NewButtonWithIcon(T("Sign out"), theme.LogoutIcon(), func() {
		dialog.ShowConfirm(T("Sign out?"), T("Documents will wait on Askara until someone signs in again."), func(ok bool) {
			if ok {
				u.signOut()
			}
		}, u.win)
	})
	v.msg = wrapLabel("")
	v.msg.Hide()
	return v
}

func (v *accountView) object() fyne.CanvasObject {
	form := widget.NewForm(widget.NewFormItem(T("Signed in as"), v.who),
		widget.NewFormItem(T("E-mail"), v.email), widget.NewFormItem(T("Organisation"), v.org))
	note := hintLabel(T("Sign-in happens once, in this computer's browser or with a code on any device. Clinic Sync keeps it in this computer's keychain and renews it on its own."))
	return container.NewVScroll(container.NewPadded(container.NewVBox(form, v.panel.object(),
		container.NewHBox(v.signOut), v.msg, note)))
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
	v.panel.tick()
	if a.Managed {
		v.panel.object().Hide()
		v.signOut.Hide()
		return
	}
	v.panel.setSignedIn(signedIn)
	if signedIn {
		v.signOut.Show()
	} else {
		v.signOut.Hide()
	}
}

func (v *accountView) showError(err error) {
	v.msg.SetText(clinicsync.ErrorMessage(err))
	v.msg.Show()
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
	keys   *widget.Button // the keyboard shortcuts (F1)
	export *widget.Button
	msg    *widget.Label
	form   *widget.Form
	// update says whether a verified new version waits; updateBtn
	// installs it, or checks now when none does.
	update    *widget.Label
	updateBtn *widget.Button
}

func newDiagView(u *UI) *diagView {
	v := &diagView{u: u, msg: wrapLabel("")}
	v.export = widget.NewButtonWithIcon(T("Export support bundle…"), theme.DownloadIcon(), v.tapExport)
	v.keys = widget.NewButtonWithIcon(T("Keyboard shortcuts…"), theme.HelpIcon(), u.showShortcuts)
	st := u.b.Status()
	path := func(p string) fyne.CanvasObject {
		l := widget.NewLabel(p)
		l.Selectable = true
		l.Wrapping = fyne.TextWrapBreak
		open := widget.NewButtonWithIcon(T("Open"), theme.FolderOpenIcon(), func() {
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
	v.update = wrapLabel("")
	v.updateBtn = widget.NewButtonWithIcon("", theme.DownloadIcon(), nil)
	v.set(st)
	proxy := wrapLabel("")
	proxy.Selectable = true
	v.form = widget.NewForm(
		widget.NewFormItem(T("Version"), widget.NewLabel(st.Version)),
		widget.NewFormItem(T("Data folder"), path(st.DataDir)),
		widget.NewFormItem(T("Settings file"), path(st.ConfigPath)),
		widget.NewFormItem(T("Log file"), path(logFile)),
		widget.NewFormItem(T("Proxy"), proxy),
		widget.NewFormItem(T("Updates"), container.NewBorder(nil, nil, nil, v.updateBtn, v.update)),
	)
	// The system's proxy script may take a moment: off the UI goroutine.
	go func() {
		if p := u.b.Proxy(); p != "" {
			u.do(func() { proxy.SetText(p) })
		}
	}()
	return v
}

// set shows the update the status offers, or when updates were last
// checked (UI goroutine).
func (v *diagView) set(st service.Status) {
	switch {
	case st.Update != "":
		v.update.SetText(Tf("Version %s is downloaded and verified: ready to install.", st.Update))
		v.updateBtn.SetText(T("Install"))
		v.updateBtn.OnTapped = v.u.installUpdate
	case !st.UpdatesOn:
		v.update.SetText(T("Update checks are off."))
		v.updateBtn.SetText(T("Check for updates"))
		v.updateBtn.Disable()
		return
	case st.UpdateChecked.IsZero():
		v.update.SetText(T("Not checked yet."))
		v.updateBtn.SetText(T("Check for updates"))
		v.updateBtn.OnTapped = v.u.b.CheckForUpdates
	default:
		v.update.SetText(Tf("No new version (checked at %s).", st.UpdateChecked.Local().Format("15:04")))
		v.updateBtn.SetText(T("Check for updates"))
		v.updateBtn.OnTapped = v.u.b.CheckForUpdates
	}
	v.updateBtn.Enable()
}

func (v *diagView) object() fyne.CanvasObject {
	note := hintLabel(T("The support bundle holds the settings, the activity log and the document list. It never holds a password, a token or note text."))
	return container.NewVScroll(container.NewPadded(container.NewVBox(v.form, container.NewHBox(v.keys), widget.NewSeparator(),
		note, container.NewHBox(v.export), v.msg)))
}

// installUpdate runs the verified update (tray, Diagnostics); a failure
// is said in Diagnostics.
func (u *UI) installUpdate() {
	u.run(u.b.InstallUpdate, func(err error) {
		if err != nil {
			u.diag.msg.SetText(T("The update was not installed: ") + clinicsync.ErrorMessage(err))
			u.ShowTab(tabDiagnostics)
		}
	})
}

// bundleName is the support bundle's file name for t (the command line's
// too: service.BundleFileName).
func bundleName(t time.Time) string { return service.BundleFileName(t) }

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

// notesView is the Notes tab: the clinical notes written as text files,
// with the Inbox (notes that came with no patient) one filter away.
type notesView struct {
	u      *UI
	filter *widget.Select
	list   *widget.List
	items  []engine.NoteView
	msg    *widget.Label
	detail *widget.Label
	open   *widget.Button
	folder *widget.Button
	sel    engine.NoteView
	gen    int
}

func newNotesView(u *UI) *notesView {
	v := &notesView{u: u, msg: wrapLabel(""), detail: wrapLabel("")}
	v.detail.Selectable = true
	v.filter = widget.NewSelect([]string{T("All notes"), T("Inbox (no patient)")}, nil)
	v.filter.SetSelectedIndex(0)
	v.filter.OnChanged = func(string) { v.reload() }
	v.list = widget.NewList(func() int { return len(v.items) },
		func() fyne.CanvasObject {
			return container.NewHBox(widget.NewIcon(theme.DocumentIcon()), widget.NewLabel("date"), widget.NewLabel("who — type"))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(v.items) {
				return
			}
			n := v.items[i]
			row := o.(*fyne.Container)
			icon := theme.DocumentIcon()
			if n.State == "failed" {
				icon = theme.ErrorIcon()
			}
			row.Objects[0].(*widget.Icon).SetResource(icon)
			row.Objects[1].(*widget.Label).SetText(n.CreatedAt.Local().Format("2006-01-02 15:04"))
			row.Objects[2].(*widget.Label).SetText(noteWho(n) + " — " + or(n.Type, n.ID))
		})
	v.list.OnSelected = func(i widget.ListItemID) {
		if i < len(v.items) {
			v.show(v.items[i])
		}
	}
	v.open = widget.NewButtonWithIcon(T("Open file"), theme.FileIcon(), func() { u.o.OpenPath(v.sel.Path) })
	v.folder = widget.NewButtonWithIcon(T("Open folder"), theme.FolderOpenIcon(), func() { u.o.OpenPath(filepath.Dir(v.sel.Path)) })
	v.show(engine.NoteView{})
	return v
}

func noteWho(n engine.NoteView) string {
	if n.Inbox {
		return T("Inbox")
	}
	return n.Patient
}

func (v *notesView) object() fyne.CanvasObject {
	v.reload()
	detail := container.NewVBox(v.detail, container.NewHBox(v.open, v.folder))
	split := container.NewHSplit(v.list, container.NewVScroll(container.NewPadded(detail)))
	split.Offset = 0.5
	return container.NewBorder(container.NewVBox(container.NewBorder(nil, nil, wideSelect(v.filter), nil), v.msg), nil, nil, nil, split)
}

// show fills the detail pane (UI goroutine).
func (v *notesView) show(n engine.NoteView) {
	v.sel = n
	if n.ID == "" {
		v.detail.SetText(T("Select a note"))
		v.open.Disable()
		v.folder.Disable()
		return
	}
	text := Tf("Source: %s\nNote id: %s", n.Source, n.ID)
	if n.CorrelationID != "" && n.CorrelationID != n.ID {
		text += "\n" + Tf("Request id: %s", n.CorrelationID)
	}
	text += "\n" + Tf("Patient: %s", or(noteWho(n), "—"))
	if n.State == "failed" {
		text += "\n" + T("Not saved: ") + n.Error
	}
	if n.Path != "" {
		text += "\n" + Tf("File: %s", n.Path)
	}
	v.detail.SetText(text)
	setEnabled(v.open, n.Path != "" && n.State != "failed")
	setEnabled(v.folder, n.Path != "")
}

// reload lists the notes again (UI goroutine; the query runs off it).
func (v *notesView) reload() {
	if !v.u.b.Settings().Notes.Enabled {
		v.msg.SetText(T("Notes are switched off in Settings."))
		v.msg.Show()
	} else {
		v.msg.SetText("")
		v.msg.Hide()
	}
	inbox := v.filter.SelectedIndex() == 1
	v.gen++
	gen := v.gen
	go func() {
		items, err := v.u.b.Notes(v.u.ctx, inbox)
		v.u.do(func() {
			if gen != v.gen {
				return
			}
			if err != nil {
				v.msg.SetText(clinicsync.ErrorMessage(err))
				v.msg.Show()
				return
			}
			v.items = items
			v.list.Refresh()
			if len(items) == 0 && v.msg.Text == "" {
				v.msg.SetText(T("No notes yet."))
				v.msg.Show()
			} else if len(items) > 0 && v.msg.Text == T("No notes yet.") {
				v.msg.SetText("")
				v.msg.Hide()
			}
		})
	}()
}

func showError(err error, w fyne.Window) {
	dialog.ShowError(fmt.Errorf("%s", clinicsync.ErrorMessage(err)), w)
}
