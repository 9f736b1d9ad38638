package app

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/platforms"
)

// The Settings tab edits the configuration file an IT person can also
// read. Every value is checked as it is typed (the same rules as the
// file), problems show next to their field, the patient-folder template
// shows where a real document would land, and Save applies everything
// without a restart.

var languageChoices = []struct{ code, label string }{
	{"", "System language"}, {"en", "English"}, {"fr", "Français"},
}

type settingsView struct {
	u    *UI
	base config.Config // the configuration the form started from

	root       *shortcutEntry
	browse     *widget.Button
	template   *shortcutEntry
	preview    *textBlock // a real path, broken after its separators
	softwareID *shortcutEntry
	poll       *shortcutEntry
	minFree    *shortcutEntry // [sync] min_free_mb
	notes      *widget.Check
	relay      *widget.Check
	platforms  *widget.CheckGroup
	unsigned   *widget.Check
	secrets    *widget.Button
	azodha     *widget.Button
	azodhaSel  []string // the Azodha events written as files (saved with the form)
	relayState *widget.Label
	listen     *shortcutEntry
	public     *shortcutEntry
	startLogin *widget.Check
	language   *widget.Select
	textSize   *widget.Select // [app] text_size, in percent
	textSizes  []int          // its choices
	// notifyNames: a failed document's notification may name its patient.
	notifyNames *widget.Check
	proxy       *shortcutEntry // [network] proxy
	proxyLogin  *widget.Button // the proxy sign-in, kept in the keychain
	save        *widget.Button
	revert      *widget.Button
	result      *widget.Label
	// more says that the form goes on below what is in view (a laptop
	// screen shows about half of it); it scrolls to the end.
	more   *widget.Button
	scroll *container.Scroll
	footer *fyne.Container

	problems map[string]*widget.Label // config key -> message under its field
	form     *widget.Form
	// lockable are the widgets of each config key; those of a key the
	// administrator locked (Backend.Policy) stay disabled.
	lockable map[string][]fyne.Disableable
}

func newSettingsView(u *UI) *settingsView {
	v := &settingsView{u: u, problems: map[string]*widget.Label{}}
	v.root = newEntry()
	v.browse = widget.NewButtonWithIcon(T("Choose…"), theme.FolderOpenIcon(), v.chooseRoot)
	v.template = newEntry()
	v.preview = newTextBlock("", textWrap)
	v.preview.TextStyle.Monospace = true
	v.softwareID = newEntry()
	v.poll = newEntry()
	v.minFree = newEntry()
	v.notes = widget.NewCheck(T("Save clinical notes too"), nil)
	v.relay = widget.NewCheck(T("Receive webhooks on this PC for instant delivery"), nil)
	v.listen = newEntry()
	v.public = newEntry()
	v.public.SetPlaceHolder("https://clinic.example.org/clinicsync")
	v.platforms = widget.NewCheckGroup(relayPlatformLabels(), nil)
	v.platforms.Horizontal = true
	v.unsigned = widget.NewCheck(T("Accept unsigned deliveries from platforms without a secret (this PC only)"), nil)
	v.secrets = widget.NewButtonWithIcon(T("Signing secrets…"), theme.AccountIcon(), v.editSecrets)
	v.azodha = widget.NewButtonWithIcon(T("Azodha files…"), theme.FileIcon(), v.editAzodhaFiles)
	v.relayState = wrapLabel("")
	v.startLogin = widget.NewCheck(T("Start Clinic Sync when I sign in to this computer"), nil)
	langs := make([]string, len(languageChoices))
	for i, l := range languageChoices {
		langs[i] = T(l.label)
	}
	v.language = widget.NewSelect(langs, nil)
	v.textSize = widget.NewSelect(nil, nil)
	v.notifyNames = widget.NewCheck(T("Name the patient when a document fails (notifications can show on the lock screen)"), nil)
	v.proxy = newEntry()
	v.proxy.SetPlaceHolder(T("empty: the system's proxy settings; direct; or http://proxy:3128"))
	v.proxyLogin = widget.NewButtonWithIcon(T("Proxy sign-in…"), theme.AccountIcon(), v.editProxySignIn)
	v.save = widget.NewButtonWithIcon(T("Save"), theme.DocumentSaveIcon(), v.tapSave)
	v.save.Importance = widget.HighImportance
	v.revert = widget.NewButtonWithIcon(T("Revert"), theme.ContentUndoIcon(), func() { v.load(v.u.b.Settings()) })
	v.result = wrapLabel("")
	v.more = widget.NewButtonWithIcon(T("More settings below"), theme.MoveDownIcon(), func() {
		v.scroll.ScrollToBottom()
		v.showMore()
	})
	v.more.Importance = widget.LowImportance
	for _, k := range []string{"destination.root", "destination.patient_folder", "destination.software_id",
		"askara.poll_interval", "sync.min_free_mb", "relay.listen", "relay.public_url", "app.language", "app.text_size", "network.proxy", ""} {
		l := wrapLabel("")
		l.Importance = widget.DangerImportance
		l.Hide()
		v.problems[k] = l
	}
	v.lockable = map[string][]fyne.Disableable{
		"destination.root": {v.root, v.browse}, "destination.patient_folder": {v.template},
		"destination.software_id": {v.softwareID}, "askara.poll_interval": {v.poll}, "notes.enabled": {v.notes},
		"relay.enabled": {v.relay}, "relay.listen": {v.listen}, "relay.platforms": {v.platforms},
		"relay.allow_unsigned": {v.unsigned}, "relay.azodha_files": {v.azodha}, "relay.public_url": {v.public},
		"app.start_at_login": {v.startLogin}, "app.language": {v.language}, "network.proxy": {v.proxy},
		"sync.min_free_mb": {v.minFree}, "app.text_size": {v.textSize}, "app.notify_patient_names": {v.notifyNames},
	}
	v.load(u.b.Settings())
	changed := func(string) { v.check() }
	for _, e := range []*shortcutEntry{v.root, v.template, v.softwareID, v.poll, v.minFree, v.listen, v.public, v.proxy} {
		e.OnChanged = changed
	}
	v.relay.OnChanged = func(bool) { v.check() }
	v.platforms.OnChanged = func([]string) { v.check() }
	v.unsigned.OnChanged = func(bool) { v.check() }
	v.language.OnChanged = changed
	v.textSize.OnChanged = changed
	v.check()
	return v
}

func (v *settingsView) object() fyne.CanvasObject {
	// field is a form item's widgets, its hint, its problem (key) and,
	// when the administrator locked one of locks, that it is set by IT.
	field := func(key string, o fyne.CanvasObject, hint string, locks ...string) fyne.CanvasObject {
		box := container.NewVBox(o)
		if hint != "" {
			h := wrapLabel(hint)
			h.SizeName = theme.SizeNameCaptionText
			box.Add(hinted(h))
		}
		for _, k := range locks {
			if v.u.b.Policy().Locked(k) {
				box.Add(container.NewBorder(nil, nil, widget.NewIcon(theme.InfoIcon()), nil,
					hinted(wrapLabel(T("Set by your IT administrator")))))
				break
			}
		}
		if p := v.problems[key]; p != nil {
			box.Add(p)
		}
		if len(box.Objects) == 1 {
			return o
		}
		return box
	}
	v.form = widget.NewForm(
		widget.NewFormItem(T("Documents folder"), field("destination.root",
			container.NewBorder(nil, nil, nil, v.browse, v.root), T("The practice software's patients folder, e.g. C:\\YourSoftware\\Documents\\Patients"),
			"destination.root")),
		widget.NewFormItem(T("Patient folder"), field("destination.patient_folder", container.NewVBox(v.template, v.preview),
			T("Placeholders: {LASTNAME} {FIRSTNAME} {EXTERNALID} {BIRTHDATE} {UUID}; / for sub-folders"), "destination.patient_folder")),
		widget.NewFormItem(T("Software id"), field("destination.software_id", v.softwareID,
			T("Sent to Askara with each confirmation"), "destination.software_id")),
		widget.NewFormItem(T("Check every"), field("askara.poll_interval", v.poll, T("Between 10s and 1h, e.g. 45s or 2m"),
			"askara.poll_interval")),
		widget.NewFormItem(T("Keep free (MB)"), field("sync.min_free_mb", v.minFree,
			T("On the disks of the documents folder and of Clinic Sync's data; below it no document is written (0: no check)"),
			"sync.min_free_mb")),
		widget.NewFormItem(T("Notes"), field("", v.notes, "", "notes.enabled")),
		widget.NewFormItem(T("Webhook relay"), field("relay.listen", container.NewVBox(v.relay, v.listen, v.platforms, v.unsigned,
			container.NewHBox(v.secrets, v.azodha), hinted(v.relayState)),
			T("Listen address; keep 127.0.0.1 unless a signing secret is set for every platform"),
			"relay.enabled", "relay.listen", "relay.platforms", "relay.allow_unsigned", "relay.azodha_files")),
		widget.NewFormItem(T("Public URL"), field("relay.public_url", v.public,
			T("The https address your proxy or tunnel forwards to the relay (optional)"), "relay.public_url")),
		widget.NewFormItem(T("Start at login"), field("app.start_at_login", v.startLogin, "", "app.start_at_login")),
		widget.NewFormItem(T("Language"), field("app.language", v.language, "", "app.language")),
		widget.NewFormItem(T("Text size"), field("app.text_size", wideSelect(v.textSize), T("The size of the window's text, for easier reading"), "app.text_size")),
		widget.NewFormItem(T("Notifications"), field("", v.notifyNames, "", "app.notify_patient_names")),
		widget.NewFormItem(T("Proxy"), field("network.proxy", container.NewBorder(nil, nil, nil, v.proxyLogin, v.proxy),
			T("HTTP_PROXY and HTTPS_PROXY, when set, come first; the proxy's user and password go to the keychain"), "network.proxy")),
	)
	// The form scrolls; Save and Revert stay below it, in view, with the
	// cue that more of the form is below.
	v.scroll = container.NewVScroll(container.NewPadded(v.form))
	v.scroll.OnScrolled = func(fyne.Position) { v.showMore() }
	v.footer = container.NewBorder(nil, nil, v.more, container.NewHBox(v.save, v.revert), v.result)
	return container.NewBorder(nil, container.NewVBox(widget.NewSeparator(), v.footer),
		nil, nil, container.New(onResize(v.showMore), v.scroll))
}

// showMore shows the "More settings below" cue while part of the form is
// below the scroll area (UI goroutine).
func (v *settingsView) showMore() {
	if v.scroll == nil {
		return
	}
	below := v.scroll.Content.MinSize().Height - v.scroll.Offset.Y - v.scroll.Size().Height
	if (below > 1) == v.more.Visible() {
		return
	}
	if below > 1 {
		v.more.Show()
	} else {
		v.more.Hide()
	}
	v.footer.Refresh()
}

// onResize is a layout that fills its space with its one object and calls
// f after each layout (the space changed).
type onResize func()

func (f onResize) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
	f()
}

func (onResize) MinSize(objs []fyne.CanvasObject) fyne.Size { return objs[0].MinSize() }

// load fills the form from c (UI goroutine).
func (v *settingsView) load(c config.Config) {
	v.base = c
	v.root.SetText(c.Destination.Root)
	v.template.SetText(c.Destination.PatientFolder)
	v.softwareID.SetText(c.Destination.SoftwareID)
	v.poll.SetText(shortDuration(c.Askara.PollInterval.Duration))
	v.minFree.SetText(strconv.Itoa(c.Sync.MinFreeMB))
	v.notes.SetChecked(c.Notes.Enabled)
	v.relay.SetChecked(c.Relay.Enabled)
	v.listen.SetText(c.Relay.Listen)
	v.public.SetText(c.Relay.Public)
	v.platforms.SetSelected(c.Relay.Platforms)
	v.unsigned.SetChecked(c.Relay.AllowUnsigned)
	v.azodhaSel = append([]string(nil), c.Relay.AzodhaFiles...)
	v.showRelay()
	v.startLogin.SetChecked(c.App.StartAtLogin)
	for i, l := range languageChoices {
		if l.code == c.App.Language {
			v.language.SetSelectedIndex(i)
		}
	}
	v.setTextSizes(c.App.TextSize)
	v.proxy.SetText(c.Network.Proxy)
	v.notifyNames.SetChecked(c.App.NotifyPatientNames)
	v.result.SetText("")
}

// setTextSizes offers the text sizes, with the file's own when it is not
// one of them, and selects current (UI goroutine).
func (v *settingsView) setTextSizes(current int) {
	v.textSizes = append([]int(nil), config.TextSizes...)
	if !slices.Contains(v.textSizes, current) && current > 0 {
		v.textSizes = append(v.textSizes, current)
		slices.Sort(v.textSizes)
	}
	labels := make([]string, len(v.textSizes))
	for i, n := range v.textSizes {
		labels[i] = Tf("%d %%", n)
		if n == 100 {
			labels[i] = Tf("%d %% (normal)", n)
		}
	}
	v.textSize.Options = labels
	v.textSize.SetSelectedIndex(max(slices.Index(v.textSizes, current), 0))
}

// shortDuration is "45s", "2m", "1h30m" (no "0s" tails).
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// value is the configuration the form describes; a poll interval that is
// not a duration is reported as a problem.
func (v *settingsView) value() (config.Config, []config.Problem) {
	c := v.base
	c.Destination.Root = strings.TrimSpace(v.root.Text)
	c.Destination.PatientFolder = strings.TrimSpace(v.template.Text)
	c.Destination.SoftwareID = strings.TrimSpace(v.softwareID.Text)
	var extra []config.Problem
	if d, err := time.ParseDuration(strings.TrimSpace(v.poll.Text)); err == nil {
		c.Askara.PollInterval = config.Duration{Duration: d}
	} else {
		extra = append(extra, config.Problem{Key: "askara.poll_interval",
			Message: Tf("%q is not a duration: write 45s, 2m or 1h", v.poll.Text)})
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v.minFree.Text)); err == nil {
		c.Sync.MinFreeMB = n
	} else {
		extra = append(extra, config.Problem{Key: "sync.min_free_mb",
			Message: Tf("%q is not a number of MB: write 500, or 0 for no check", v.minFree.Text)})
	}
	c.Notes.Enabled = v.notes.Checked
	c.Relay.Enabled = v.relay.Checked
	c.Relay.Listen = strings.TrimSpace(v.listen.Text)
	c.Relay.Public = strings.TrimSpace(v.public.Text)
	c.Relay.Platforms = append([]string(nil), v.platforms.Selected...)
	c.Relay.AllowUnsigned = v.unsigned.Checked
	c.Relay.AzodhaFiles = append([]string(nil), v.azodhaSel...)
	c.App.StartAtLogin = v.startLogin.Checked
	if i := v.language.SelectedIndex(); i >= 0 {
		c.App.Language = languageChoices[i].code
	}
	if i := v.textSize.SelectedIndex(); i >= 0 {
		c.App.TextSize = v.textSizes[i]
	}
	c.Network.Proxy = strings.TrimSpace(v.proxy.Text)
	c.App.NotifyPatientNames = v.notifyNames.Checked
	return c, extra
}

// check validates the form as typed and refreshes the preview (UI goroutine).
func (v *settingsView) check() bool {
	c, extra := v.value()
	probs := append(extra, c.Problems()...)
	v.showProblems(probs)
	if p, err := v.u.b.Preview(v.u.ctx, c); err == nil {
		v.preview.SetText(T("Example: ") + p)
	} else {
		v.preview.SetText("")
	}
	if c.Relay.Enabled {
		v.listen.Enable()
		v.public.Enable()
		v.platforms.Enable()
		v.unsigned.Enable()
	} else {
		v.listen.Disable()
		v.public.Disable()
		v.platforms.Disable()
		v.unsigned.Disable()
	}
	if c.Relay.Enabled && slices.Contains(c.Relay.Platforms, "azodha") {
		v.azodha.Enable()
	} else {
		v.azodha.Disable()
	}
	v.lockFields()
	if len(probs) > 0 {
		v.save.Disable()
	} else {
		v.save.Enable()
	}
	v.showMore()
	return len(probs) == 0
}

// lockFields disables the fields of the keys the administrator locked:
// they show the administrator's value, read-only (Apply refuses to
// change them too). UI goroutine.
func (v *settingsView) lockFields() {
	pol := v.u.b.Policy()
	for key, ws := range v.lockable {
		if pol.Locked(key) {
			for _, w := range ws {
				w.Disable()
			}
		}
	}
}

func (v *settingsView) showProblems(probs []config.Problem) {
	msgs := map[string][]string{}
	for _, p := range probs {
		k := p.Key
		if _, ok := v.problems[k]; !ok {
			k = ""
		}
		msgs[k] = append(msgs[k], p.Message)
	}
	for k, l := range v.problems {
		if m := msgs[k]; len(m) > 0 {
			l.SetText(strings.Join(m, "\n"))
			l.Show()
		} else {
			l.Hide()
		}
	}
}

func (v *settingsView) tapSave() {
	if !v.check() {
		return
	}
	c, _ := v.value()
	v.save.Disable()
	v.result.SetText(T("Saving…"))
	var probs []config.Problem
	v.u.run(func(ctx context.Context) error {
		var err error
		probs, err = v.u.b.Apply(ctx, c)
		return err
	}, func(err error) {
		v.save.Enable()
		switch {
		case err != nil:
			v.result.SetText(clinicsync.ErrorMessage(err))
		case len(probs) > 0:
			v.showProblems(probs)
			v.result.SetText(T("Not saved: correct the fields marked in red."))
		default:
			v.result.SetText(T("Saved and applied."))
			langChanged := c.App.Language != v.base.App.Language
			v.base = c
			v.u.setTextSize(c.App.TextSize)
			if langChanged {
				v.u.setLanguage(c.App.Language)
			}
		}
	})
}

// relayPlatformLabels are the platform names as the check group shows them
// (the configuration's names, from the table of sync/platforms).
func relayPlatformLabels() []string { return platforms.Names() }

// showRelay says what the relay is doing: where it listens, when it last
// received a delivery, where Askara delivers (UI goroutine).
func (v *settingsView) showRelay() {
	r := v.u.status().Relay
	switch {
	case r.Error != "":
		v.relayState.Importance = widget.DangerImportance
		v.relayState.SetText(r.Error)
	case r.Address != "":
		v.relayState.Importance = widget.MediumImportance
		last := T("never")
		if !r.LastDelivery.IsZero() {
			last = ago(r.LastDelivery, time.Now())
		}
		text := Tf("Listening on %s; last delivery: %s; %d accepted, %d refused.", r.Address, last, r.Accepted, r.Refused)
		if r.Taken != "" { // another user's relay on this PC holds the configured port
			v.relayState.Importance = widget.WarningImportance
			text = Tf("%s is in use by another program (perhaps another user's Clinic Sync on this PC).", r.Taken) + " " + text
		}
		if r.Registered != "" {
			text += " " + Tf("Askara delivers to %s.", r.Registered)
		}
		v.relayState.SetText(text)
	default:
		v.relayState.Importance = widget.LowImportance
		v.relayState.SetText(T("The relay is off: documents arrive by polling."))
	}
}

// editSecrets asks for a platform's signing secret; it goes to the
// keychain, never to the settings file.
func (v *settingsView) editSecrets() {
	platform := widget.NewSelect(relayPlatformLabels(), nil)
	platform.SetSelectedIndex(0)
	secret := widget.NewPasswordEntry()
	secret.SetPlaceHolder("whsec_…")
	items := []*widget.FormItem{widget.NewFormItem(T("Platform"), platform), widget.NewFormItem(T("Secret"), secret)}
	dialog.ShowForm(T("Webhook signing secret"), T("Save"), T("Cancel"), items, func(ok bool) {
		if !ok {
			return
		}
		p, sec := platform.Selected, strings.TrimSpace(secret.Text)
		v.u.run(func(ctx context.Context) error { return v.u.b.SetWebhookSecret(ctx, p, sec) }, func(err error) {
			if err != nil {
				v.result.SetText(clinicsync.ErrorMessage(err))
				return
			}
			if sec == "" {
				v.result.SetText(Tf("The %s signing secret was removed.", p))
			} else {
				v.result.SetText(Tf("The %s signing secret is kept in this computer's keychain.", p))
			}
		})
	}, v.u.win)
}

// editProxySignIn asks for the user and password of a proxy that asks for
// a sign-in (407); they go to the keychain, never to the settings file.
// An empty user removes the sign-in kept.
func (v *settingsView) editProxySignIn() {
	user := widget.NewEntry()
	user.SetPlaceHolder(`DOMAIN\user`)
	pass := widget.NewPasswordEntry()
	items := []*widget.FormItem{widget.NewFormItem(T("User"), user), widget.NewFormItem(T("Password"), pass)}
	dialog.ShowForm(T("Proxy sign-in"), T("Save"), T("Cancel"), items, func(ok bool) {
		if !ok {
			return
		}
		u, p := strings.TrimSpace(user.Text), pass.Text
		v.u.run(func(context.Context) error { return v.u.b.SetProxyCredentials(u, p) }, func(err error) {
			switch {
			case err != nil:
				v.result.SetText(clinicsync.ErrorMessage(err))
			case u == "":
				v.result.SetText(T("The proxy sign-in was removed."))
			default:
				v.result.SetText(T("The proxy sign-in is kept in this computer's keychain."))
			}
		})
	}, v.u.win)
}

// editAzodhaFiles picks the Azodha events whose JSON is also written to
// Inbox/Azodha under the documents folder; the others are only logged and
// kept for the retention period. The choice is saved with the form.
func (v *settingsView) editAzodhaFiles() {
	events := append([]string(nil), config.AzodhaEvents...)
	for _, e := range v.azodhaSel { // events Azodha added since, named in the file
		if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	pick := widget.NewCheckGroup(events, nil)
	pick.SetSelected(v.azodhaSel)
	hint := hintLabel(T("Each delivery of a ticked event is also written as a JSON file in Inbox/Azodha under the documents folder. Every delivery is logged and kept for the retention period either way."))
	d := dialog.NewCustomConfirm(T("Azodha events saved as files"), T("OK"), T("Cancel"),
		container.NewBorder(hint, nil, nil, nil, container.NewVScroll(pick)), func(ok bool) {
			if !ok {
				return
			}
			v.azodhaSel = append([]string(nil), pick.Selected...)
			v.check()
			v.result.SetText(T("Press Save to apply."))
		}, v.u.win)
	d.Resize(fyne.NewSize(520, 520))
	d.Show()
}

func (v *settingsView) chooseRoot() { chooseFolder(v.u.win, v.root) }

// chooseFolder picks a folder with the system-independent folder dialog,
// starting at the one typed in entry, and puts the choice in entry.
func chooseFolder(win fyne.Window, entry *shortcutEntry) {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil || u == nil {
			return
		}
		entry.SetText(u.Path())
	}, win)
	if r := strings.TrimSpace(entry.Text); r != "" {
		if l, err := storage.ListerForURI(storage.NewFileURI(r)); err == nil {
			d.SetLocation(l)
		}
	}
	d.Resize(fyne.NewSize(720, 480))
	d.Show()
}
