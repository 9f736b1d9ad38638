package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/assets"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/service"
)

// The first-run setup fills the window when the configuration file is
// missing or has problems: sign in, the documents folder, the
// patient-folder pattern, done. Done saves the file (the one Settings
// writes) and the engine starts without a restart. Steps whose values an
// IT person already set in the file, validly, are skipped; a value with a
// problem opens the setup at its step, the problem said under the field.

// The setup's steps, in order.
const (
	stepSignIn = iota
	stepFolder
	stepPattern
	stepDone
)

// patternChoices are the common patient-folder patterns; the last choice
// is a pattern of one's own.
var patternChoices = []struct{ template, example string }{
	{"{LASTNAME}_{FIRSTNAME}", "DOE_JOHN"},
	{"{EXTERNALID}", "12345"},
	{"{LASTNAME}/{FIRSTNAME}", "DOE/JOHN"},
}

// folderCheckDelay lets typing pause before the folder's test write.
const folderCheckDelay = 300 * time.Millisecond

type setupView struct {
	u     *UI
	state service.SetupState
	base  config.Config // the configuration the setup completes
	steps []int         // the steps shown (preset values skip theirs)
	at    int           // index in steps

	progress *widget.Label
	title    *widget.Label
	intro    *widget.Label
	banner   *widget.Label // problems of the file the setup cannot correct
	body     *fyne.Container
	back     *widget.Button
	next     *widget.Button
	pages    map[int]fyne.CanvasObject

	// Sign in
	who   *widget.Label
	later *widget.Label // "you can sign in later", while nobody is
	panel *signInPanel

	// Documents folder
	root      *shortcutEntry
	browse    *widget.Button
	folderMsg *widget.Label
	folderOK  bool
	checkGen  int

	// Patient folder
	pattern    *widget.RadioGroup
	custom     *shortcutEntry
	preview    *textBlock
	patternMsg *widget.Label

	// Done
	summary *widget.Form
	sumWho  *widget.Label
	sumRoot *textBlock // paths, broken after their separators
	sumPat  *widget.Label
	sumEx   *textBlock
	saveTo  *widget.Label
	result  *widget.Label
	saving  bool
}

func newSetupView(u *UI, state service.SetupState) *setupView {
	v := &setupView{u: u, state: state, base: u.b.Settings(), pages: map[int]fyne.CanvasObject{}}
	v.progress = widget.NewLabel("")
	v.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.title.SizeName = theme.SizeNameSubHeadingText
	v.intro = wrapLabel("")
	v.banner = wrapLabel("")
	v.banner.Importance = widget.DangerImportance
	v.back = widget.NewButtonWithIcon(T("Back"), theme.NavigateBackIcon(), func() { v.show(v.at - 1) })
	v.next = widget.NewButtonWithIcon(T("Next"), theme.NavigateNextIcon(), v.tapNext)
	v.next.IconPlacement = widget.ButtonIconTrailingText
	v.body = container.NewStack()

	v.who = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.panel = newSignInPanel(u)
	v.panel.done = func(error) { u.apply(u.b.Status()) }
	v.later = wrapLabel(T("You can sign in later from the Account tab: documents wait on Askara until someone signs in."))
	v.later.Importance = widget.LowImportance

	v.root = newEntry()
	v.root.SetPlaceHolder(T("e.g. C:\\YourSoftware\\Documents\\Patients"))
	v.root.SetText(v.base.Destination.Root)
	v.root.OnChanged = func(string) { v.checkFolder() }
	v.browse = widget.NewButtonWithIcon(T("Choose…"), theme.FolderOpenIcon(), func() { chooseFolder(u.win, v.root) })
	v.folderMsg = wrapLabel("")

	labels := make([]string, 0, len(patternChoices)+1)
	for _, p := range patternChoices {
		labels = append(labels, patternLabel(p.template, p.example))
	}
	labels = append(labels, T("Another pattern:"))
	v.pattern = widget.NewRadioGroup(labels, func(string) { v.patternChanged() })
	v.pattern.Required = true
	v.custom = newEntry()
	v.custom.SetPlaceHolder("{LASTNAME} {FIRSTNAME} ({BIRTHDATE})")
	v.custom.OnChanged = func(string) { v.patternChanged() }
	v.preview = newTextBlock("", textWrap)
	v.preview.TextStyle.Monospace = true
	v.patternMsg = wrapLabel("")
	v.patternMsg.Importance = widget.DangerImportance
	v.setPattern(v.base.Destination.PatientFolder)

	v.sumWho, v.sumPat = wrapLabel(""), wrapLabel("")
	v.sumRoot, v.sumEx = newTextBlock("", textWrap), newTextBlock("", textWrap)
	v.sumEx.TextStyle.Monospace = true
	v.saveTo = wrapLabel("")
	v.saveTo.Importance = widget.LowImportance
	v.result = wrapLabel("")
	v.result.Importance = widget.DangerImportance

	v.banner.SetText(v.fileProblems())
	if v.banner.Text == "" {
		v.banner.Hide()
	}
	v.build()
	v.progress.SetText(T("Checking the settings…"))
	v.next.Disable()
	v.back.Hide()
	return v
}

// patternLabel is how a pattern choice reads: "{LASTNAME}_{FIRSTNAME}   (DOE_JOHN)".
func patternLabel(template, example string) string {
	return template + "   " + Tf("(e.g. %s)", example)
}

func (v *setupView) object() fyne.CanvasObject {
	icon := canvas.NewImageFromResource(fyne.NewStaticResource("icon.png", assets.Icon("icon.png")))
	icon.SetMinSize(fyne.NewSize(40, 40))
	icon.FillMode = canvas.ImageFillContain
	welcome := widget.NewLabelWithStyle(T("Welcome to Clinic Sync"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	welcome.SizeName = theme.SizeNameHeadingText
	top := container.NewVBox(
		container.NewPadded(container.NewBorder(nil, nil, container.NewCenter(icon), v.progress, welcome)),
		widget.NewSeparator())
	page := container.NewVBox(v.title, v.intro, v.banner, v.body)
	nav := container.NewVBox(widget.NewSeparator(), container.NewBorder(nil, nil, v.back, v.next))
	return container.NewBorder(top, container.NewPadded(nav), nil, nil,
		container.NewVScroll(container.NewPadded(page)))
}

// build makes each step's page.
func (v *setupView) build() {
	v.pages[stepSignIn] = container.NewVBox(v.who, v.panel.object(), hinted(v.later))

	v.pages[stepFolder] = container.NewVBox(
		container.NewBorder(nil, nil, nil, v.browse, v.root), hinted(v.folderMsg))

	hint := wrapLabel(T("Placeholders: {LASTNAME} {FIRSTNAME} {EXTERNALID} {BIRTHDATE} {UUID}; / for sub-folders"))
	hint.SizeName = theme.SizeNameCaptionText
	v.pages[stepPattern] = container.NewVBox(v.pattern, v.custom, hinted(hint), v.patternMsg, v.preview)

	v.summary = widget.NewForm(
		widget.NewFormItem(T("Askara"), v.sumWho),
		widget.NewFormItem(T("Documents folder"), v.sumRoot),
		widget.NewFormItem(T("Patient folder"), v.sumPat),
		widget.NewFormItem(T("Example"), v.sumEx))
	v.pages[stepDone] = container.NewVBox(v.summary, hinted(v.saveTo), v.result)
}

// start decides which steps to show and where to begin: the folder's test
// write runs off the UI goroutine (a network share can take a while to
// answer), then the first step shows.
func (v *setupView) start() {
	root := strings.TrimSpace(v.base.Destination.Root)
	presetRoot := v.state.Preset["destination.root"] && !v.hasProblem("destination.root")
	go func() {
		var err error
		if presetRoot {
			err = v.u.b.CheckFolder(root)
		}
		v.u.do(func() { v.begin(presetRoot && err == nil, presetRoot && err != nil) })
	}()
}

// begin shows the first step (UI goroutine): rootOK says an IT person's
// folder passed its check, rootBad that it failed it.
func (v *setupView) begin(rootOK, rootBad bool) {
	st := v.u.status()
	signedIn := st.Account.Managed || st.Account.SignedIn && !st.SignedOut
	v.steps = nil
	if !signedIn {
		v.steps = append(v.steps, stepSignIn)
	}
	if !rootOK {
		v.steps = append(v.steps, stepFolder)
	}
	patternPreset := v.state.Preset["destination.patient_folder"]
	if !patternPreset || v.hasProblem("destination.patient_folder") {
		v.steps = append(v.steps, stepPattern)
	}
	v.steps = append(v.steps, stepDone)
	// A value the file sets with a problem: open at its step.
	at := 0
	for i, s := range v.steps {
		if s == stepFolder && (rootBad || v.state.Preset["destination.root"] && v.hasProblem("destination.root")) ||
			s == stepPattern && patternPreset && v.hasProblem("destination.patient_folder") {
			at = i
			break
		}
	}
	v.setAccount(st)
	v.checkFolder()
	v.patternChanged()
	v.show(at)
}

// hasProblem reports whether the file's configuration has a problem with key.
func (v *setupView) hasProblem(key string) bool {
	for _, p := range v.state.Problems {
		if p.Key == key {
			return true
		}
	}
	return false
}

// fileProblems says what is wrong in the file beyond what the setup asks
// for: the setup cannot finish until someone corrects it.
func (v *setupView) fileProblems() string {
	var lines []string
	if v.state.FileError != "" {
		lines = append(lines, v.state.FileError)
	}
	for _, p := range v.state.Problems {
		if p.Key != "destination.root" && p.Key != "destination.patient_folder" {
			lines = append(lines, "• "+p.Key+": "+p.Message)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return Tf("The configuration file %s has a problem this setup cannot correct:", v.state.ConfigPath) + "\n" +
		strings.Join(lines, "\n") + "\n" +
		T("Ask whoever set up this computer, or correct the file, then start Clinic Sync again.")
}

// show shows the i-th step shown (UI goroutine).
func (v *setupView) show(i int) {
	if i < 0 || i >= len(v.steps) {
		return
	}
	v.at = i
	step := v.steps[i]
	v.progress.SetText(Tf("Step %d of %d", i+1, len(v.steps)))
	switch step {
	case stepSignIn:
		v.title.SetText(T("Sign in to Askara"))
		v.intro.SetText(T("Clinic Sync collects the documents your practice validated in Askara. Sign in once, in your browser; Clinic Sync keeps the sign-in in this computer's keychain."))
	case stepFolder:
		v.title.SetText(T("Choose the documents folder"))
		v.intro.SetText(T("The folder where your practice software looks for patients' documents. Clinic Sync puts each document in its patient's folder inside it."))
	case stepPattern:
		v.title.SetText(T("Name the patient folders"))
		v.intro.SetText(T("How does your practice software name each patient's folder inside the documents folder?"))
	case stepDone:
		v.title.SetText(T("Ready to start"))
		v.intro.SetText(T("Check the settings, then start. You can change them later in Settings."))
		v.fillSummary()
	}
	v.body.Objects = []fyne.CanvasObject{v.pages[step]}
	v.body.Refresh()
	if i == 0 {
		v.back.Hide()
	} else {
		v.back.Show()
	}
	v.updateNext()
	if step == stepFolder {
		v.u.win.Canvas().Focus(v.root)
	}
}

// step is the step shown.
func (v *setupView) step() int {
	if v.at < len(v.steps) {
		return v.steps[v.at]
	}
	return -1
}

// updateNext sets the Next button for the step shown (UI goroutine).
func (v *setupView) updateNext() {
	v.next.Importance = widget.MediumImportance
	v.next.SetIcon(theme.NavigateNextIcon())
	ok := true
	switch v.step() {
	case stepSignIn:
		st := v.u.status()
		if st.Account.Managed || st.Account.SignedIn && !st.SignedOut {
			v.next.SetText(T("Next"))
			v.next.Importance = widget.HighImportance
		} else {
			v.next.SetText(T("Skip for now"))
		}
	case stepFolder:
		v.next.SetText(T("Next"))
		ok = v.folderOK
	case stepPattern:
		v.next.SetText(T("Next"))
		_, probs := v.value()
		ok = len(probs) == 0
	case stepDone:
		v.next.SetText(T("Finish and start syncing"))
		v.next.SetIcon(theme.ConfirmIcon())
		v.next.Importance = widget.HighImportance
		ok = v.banner.Hidden && !v.saving
	case -1:
		ok = false
	}
	if ok && v.next.Text != T("Skip for now") {
		v.next.Importance = widget.HighImportance // the way on
	}
	setEnabled(v.next, ok)
	v.next.Refresh()
}

func (v *setupView) tapNext() {
	if v.step() == stepDone {
		v.finish()
		return
	}
	v.show(v.at + 1)
}

// value is the configuration the setup describes, with the problems of
// the two values it asks for.
func (v *setupView) value() (config.Config, []config.Problem) {
	c := v.base
	c.Destination.Root = strings.TrimSpace(v.root.Text)
	c.Destination.PatientFolder = v.template()
	var probs []config.Problem
	for _, p := range c.Problems() {
		if p.Key == "destination.root" || p.Key == "destination.patient_folder" {
			probs = append(probs, p)
		}
	}
	return c, probs
}

// sentence starts s with a capital letter (the configuration's rules say
// their problems in the middle of a sentence).
func sentence(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}

// problem is the message for key among probs, "" if none.
func problem(probs []config.Problem, key string) string {
	for _, p := range probs {
		if p.Key == key {
			return p.Message
		}
	}
	return ""
}

// checkFolder checks the folder typed: the configuration's rules at once,
// then, after a pause in typing, a real test write (UI goroutine).
func (v *setupView) checkFolder() {
	v.folderOK = false
	v.checkGen++
	gen := v.checkGen
	c, probs := v.value()
	root := c.Destination.Root
	v.updateNext()
	if msg := problem(probs, "destination.root"); msg != "" {
		if root == "" {
			v.folderMsg.Importance = widget.LowImportance
			v.folderMsg.SetText(T("Type the folder's path, or press Choose… to pick it."))
		} else {
			v.folderMsg.Importance = widget.DangerImportance
			v.folderMsg.SetText(T("Documents folder") + ": " + msg)
		}
		return
	}
	v.folderMsg.Importance = widget.LowImportance
	v.folderMsg.SetText(T("Checking the folder…"))
	time.AfterFunc(folderCheckDelay, func() {
		v.u.do(func() {
			if gen != v.checkGen {
				return
			}
			go func() {
				err := v.u.b.CheckFolder(root)
				v.u.do(func() {
					if gen == v.checkGen {
						v.folderChecked(root, err)
					}
				})
			}()
		})
	})
}

// folderChecked shows the test write's outcome (UI goroutine).
func (v *setupView) folderChecked(root string, err error) {
	v.folderOK = err == nil
	if err == nil {
		v.folderMsg.Importance = widget.SuccessImportance
		v.folderMsg.SetText(T("Clinic Sync can write in this folder."))
	} else {
		v.folderMsg.Importance = widget.DangerImportance
		v.folderMsg.SetText(folderProblem(root, err))
	}
	v.patternChanged() // the preview shows the new folder
	v.updateNext()
}

// folderProblem says what the folder check found, in the window's language.
func folderProblem(root string, err error) string {
	switch {
	case errors.Is(err, dest.ErrFolderMissing):
		return Tf("The folder %s does not exist. Create it, or choose the one your practice software uses.", root)
	case errors.Is(err, dest.ErrNotAFolder):
		return Tf("%s is a file, not a folder.", root)
	case errors.Is(err, dest.ErrFolderDenied):
		return Tf("Permission denied: your user account may not write in %s. Ask your IT contact for write access, or choose another folder.", root)
	case errors.Is(err, dest.ErrFolderReadOnly):
		return Tf("%s is on a read-only disk or share: Clinic Sync cannot write there.", root)
	}
	return clinicsync.ErrorMessage(err)
}

// setPattern selects the choice for template, or fills "Another pattern".
func (v *setupView) setPattern(template string) {
	for i, p := range patternChoices {
		if p.template == template {
			v.pattern.SetSelected(v.pattern.Options[i])
			v.custom.Disable()
			return
		}
	}
	v.custom.SetText(template)
	v.pattern.SetSelected(v.pattern.Options[len(patternChoices)])
}

// template is the pattern chosen.
func (v *setupView) template() string {
	for i, p := range patternChoices {
		if v.pattern.Selected == v.pattern.Options[i] {
			return p.template
		}
	}
	return strings.TrimSpace(v.custom.Text)
}

// patternChanged validates the pattern and previews a real path (UI goroutine).
func (v *setupView) patternChanged() {
	if v.pattern.Selected == v.pattern.Options[len(patternChoices)] {
		v.custom.Enable()
	} else {
		v.custom.Disable()
	}
	c, probs := v.value()
	if msg := problem(probs, "destination.patient_folder"); msg != "" {
		v.patternMsg.SetText(sentence(msg))
		v.patternMsg.Show()
	} else {
		v.patternMsg.Hide()
	}
	if p, err := v.u.b.Preview(v.u.ctx, c); err == nil && c.Destination.Root != "" {
		v.preview.SetText(T("Example: ") + p)
	} else {
		v.preview.SetText("")
	}
	v.updateNext()
}

// setAccount shows who is signed in (UI goroutine).
func (v *setupView) setAccount(st service.Status) {
	a := st.Account
	switch {
	case a.Managed:
		v.who.SetText(T("Credentials from CLINICSYNC_ACCESS_TOKEN"))
	case a.SignedIn && !st.SignedOut:
		who := Tf("Signed in as %s", a.String())
		if a.Organization != "" {
			who += " — " + a.Organization
		}
		v.who.SetText(who)
	default:
		v.who.SetText(T("Not signed in"))
	}
	signedIn := a.Managed || a.SignedIn && !st.SignedOut
	v.panel.setSignedIn(signedIn)
	v.panel.tick()
	if signedIn {
		v.later.Hide()
	} else {
		v.later.Show()
	}
	if v.steps != nil {
		v.updateNext()
	}
}

// fillSummary shows what Finish saves (UI goroutine).
func (v *setupView) fillSummary() {
	c, _ := v.value()
	st := v.u.status()
	v.sumWho.Importance = widget.MediumImportance
	if st.Account.Managed || st.Account.SignedIn && !st.SignedOut {
		v.sumWho.SetText(v.who.Text)
	} else {
		v.sumWho.Importance = widget.WarningImportance
		v.sumWho.SetText(T("Not signed in yet: sign in from the Account tab when you can. Documents wait on Askara until then."))
	}
	v.sumRoot.SetText(c.Destination.Root)
	v.sumPat.SetText(c.Destination.PatientFolder)
	if p, err := v.u.b.Preview(v.u.ctx, c); err == nil {
		v.sumEx.SetText(p)
	}
	v.saveTo.SetText(Tf("Finish saves these settings to %s and starts syncing.", v.state.ConfigPath))
}

// finish saves the configuration; the engine starts, and the window shows
// its usual tabs.
func (v *setupView) finish() {
	c, probs := v.value()
	if len(probs) > 0 || !v.banner.Hidden {
		return
	}
	v.saving = true
	v.updateNext()
	v.result.SetText("")
	var ps []config.Problem
	v.u.run(func(ctx context.Context) error {
		var err error
		ps, err = v.u.b.Apply(ctx, c)
		return err
	}, func(err error) {
		v.saving = false
		switch {
		case err != nil:
			v.result.SetText(clinicsync.ErrorMessage(err))
		case len(ps) > 0:
			msgs := make([]string, len(ps))
			for i, p := range ps {
				msgs[i] = fmt.Sprintf("%s: %s", p.Key, p.Message)
			}
			v.result.SetText(strings.Join(msgs, "\n"))
		default:
			v.u.setupDone()
			return
		}
		v.updateNext()
	})
}
