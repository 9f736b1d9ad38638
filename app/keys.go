package app

import (
	"runtime"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// Every action of the window can be reached from the keyboard: Tab and
// Shift+Tab move between the buttons, lists and fields (Fyne's focus
// order, which is the order they are drawn in), Space or Enter presses a
// focused button (Retry included, keyButton), and these shortcuts work
// wherever the focus is (Ctrl is ⌘ on macOS). The help lists them
// (Ctrl+/, F1, or Diagnostics → Keyboard shortcuts…).

// shortcutKey is one of the window's shortcuts.
type shortcutKey struct {
	key   fyne.KeyName
	shift bool
	what  string // what it does, in English (translated when shown)
	run   func(u *UI)
}

// shortcutKeys are the window's shortcuts, in the order the help lists them
// (a function: the help is one of them).
func shortcutKeys() []shortcutKey {
	return []shortcutKey{
		{key: fyne.KeyR, what: "Sync now", run: func(u *UI) { u.syncNow() }},
		{key: fyne.KeyP, what: "Pause or resume", run: func(u *UI) { u.pauseOrResume() }},
		{key: fyne.KeyF, what: "Find (the Activity or Documents search)", run: func(u *UI) { u.find() }},
		{key: fyne.Key1, what: "Activity tab", run: func(u *UI) { u.selectTab(tabActivity) }},
		{key: fyne.Key2, what: "Documents tab", run: func(u *UI) { u.selectTab(tabDocuments) }},
		{key: fyne.Key3, what: "Notes tab", run: func(u *UI) { u.selectTab(tabNotes) }},
		{key: fyne.Key4, what: "Settings tab", run: func(u *UI) { u.selectTab(tabSettings) }},
		{key: fyne.Key5, what: "Account tab", run: func(u *UI) { u.selectTab(tabAccount) }},
		{key: fyne.Key6, what: "Diagnostics tab", run: func(u *UI) { u.selectTab(tabDiagnostics) }},
		{key: fyne.KeyTab, what: "Next tab", run: func(u *UI) { u.nextTab(1) }},
		{key: fyne.KeyTab, shift: true, what: "Previous tab", run: func(u *UI) { u.nextTab(-1) }},
		{key: fyne.KeySlash, what: "This help", run: func(u *UI) { u.showShortcuts() }},
	}
}

// shortcut is sc as Fyne reports it: Ctrl (⌘ on macOS), and Shift.
func (sc shortcutKey) shortcut() *desktop.CustomShortcut {
	m := fyne.KeyModifierShortcutDefault
	if sc.shift {
		m |= fyne.KeyModifierShift
	}
	return &desktop.CustomShortcut{KeyName: sc.key, Modifier: m}
}

// label is how the help writes it: "Ctrl+R", "⌘+R", "Ctrl+Shift+Tab".
func (sc shortcutKey) label() string {
	mod := "Ctrl"
	if runtime.GOOS == "darwin" {
		mod = "⌘"
	}
	parts := []string{mod}
	if sc.shift {
		parts = append(parts, "Shift")
	}
	return strings.Join(append(parts, string(sc.key)), "+")
}

// isWindowShortcut says whether s is one of the window's shortcuts.
func isWindowShortcut(s fyne.Shortcut) bool {
	for _, sc := range shortcutKeys() {
		if sc.shortcut().ShortcutName() == s.ShortcutName() {
			return true
		}
	}
	return false
}

// addShortcuts puts the shortcuts and F1 on the window's canvas (once:
// they act on whatever the window shows).
func (u *UI) addShortcuts() {
	c := u.win.Canvas()
	for _, sc := range shortcutKeys() {
		run := sc.run
		c.AddShortcut(sc.shortcut(), func(fyne.Shortcut) { run(u) })
	}
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if ev.Name == fyne.KeyF1 {
			u.showShortcuts()
		}
	})
}

// The shortcuts' actions do what the header's buttons do, when they can
// be pressed; none acts while the first-run setup fills the window.

func (u *UI) syncNow() { u.press(u.header.syncNow) }

func (u *UI) pauseOrResume() { u.press(u.header.pause) }

// press taps b as a click would: not when disabled, nor during the setup.
func (u *UI) press(b *widget.Button) {
	if u.setup == nil && !b.Disabled() && b.OnTapped != nil {
		b.OnTapped()
	}
}

func (u *UI) selectTab(i int) {
	if u.setup == nil {
		u.tabs.SelectIndex(i)
	}
}

func (u *UI) nextTab(step int) {
	if u.setup == nil {
		n := len(u.tabs.Items)
		u.tabs.SelectIndex((u.tabs.SelectedIndex() + step + n) % n)
	}
}

// find puts the cursor in the search of the Activity or Documents tab
// (the Documents one from the other tabs).
func (u *UI) find() {
	if u.setup != nil {
		return
	}
	search := u.docs.search
	if u.tabs.SelectedIndex() == tabActivity {
		search = u.activity.search
	} else {
		u.tabs.SelectIndex(tabDocuments)
	}
	u.win.Canvas().Focus(search)
}

// showShortcuts is the window's keyboard help.
// The list scrolls where the window is too small for it (a large text
// size), but is never shorter than it needs or most of the window: a
// dialog gives a scroll its minimum size, one line.
func (u *UI) showShortcuts() {
	form := shortcutHelp()
	list := container.NewVScroll(form)
	list.SetMinSize(fyne.NewSize(form.MinSize().Width, min(form.MinSize().Height, u.win.Canvas().Size().Height*0.7)))
	d := dialog.NewCustom(T("Keyboard shortcuts"), T("Close"), list, u.win)
	d.Show()
}

// shortcutHelp lists the keys: the shortcuts, then how to move and press.
func shortcutHelp() fyne.CanvasObject {
	form := widget.NewForm()
	for _, sc := range shortcutKeys() {
		form.Append(sc.label(), widget.NewLabel(T(sc.what)))
	}
	form.Append("F1", widget.NewLabel(T("This help, from a text field or when nothing has the focus")))
	form.Append(T("Tab, Shift+Tab"), widget.NewLabel(T("Move to the next or previous button, list or field")))
	form.Append(T("Space, Enter"), widget.NewLabel(T("Press the button that has the focus (Retry included)")))
	form.Append(T("Arrow keys"), widget.NewLabel(T("Move in a list; Space selects")))
	return form
}

// keyButton is a button that Enter presses, as Space does (Fyne's buttons
// take Space only): Retry, once Tab reached it.
type keyButton struct{ widget.Button }

func newKeyButton(label string, icon fyne.Resource, tapped func()) *keyButton {
	b := &keyButton{}
	b.Text, b.Icon, b.OnTapped = label, icon, tapped
	b.ExtendBaseWidget(b)
	return b
}

func (b *keyButton) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyReturn || ev.Name == fyne.KeyEnter {
		if !b.Disabled() {
			b.Tapped(nil)
		}
		return
	}
	b.Button.TypedKey(ev)
}

// shortcutEntry is an entry that lets the window's shortcuts and F1
// through: Fyne gives a shortcut to the focused widget alone, and an entry
// drops those it does not know (Ctrl+R would do nothing while typing in a
// search).
type shortcutEntry struct{ widget.Entry }

func newEntry() *shortcutEntry {
	e := &shortcutEntry{}
	e.ExtendBaseWidget(e)
	return e
}

func (e *shortcutEntry) TypedShortcut(s fyne.Shortcut) {
	if isWindowShortcut(s) {
		if c, ok := canvasOf(e).(fyne.Shortcutable); ok {
			c.TypedShortcut(s)
			return
		}
	}
	e.Entry.TypedShortcut(s)
}

func (e *shortcutEntry) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyF1 {
		if c := canvasOf(e); c != nil && c.OnTypedKey() != nil {
			c.OnTypedKey()(ev)
			return
		}
	}
	e.Entry.TypedKey(ev)
}

func canvasOf(o fyne.CanvasObject) fyne.Canvas {
	if a := fyne.CurrentApp(); a != nil {
		return a.Driver().CanvasForObject(o)
	}
	return nil
}
