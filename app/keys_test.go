package app

import (
	"strings"
	"sync/atomic"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// syncCounter counts the window's Sync now requests (the real service
// still gets them).
type syncCounter struct {
	Backend
	syncs atomic.Int64
}

func (c *syncCounter) SyncNow() {
	c.syncs.Add(1)
	c.Backend.SyncNow()
}

// ctrl is Ctrl+key (⌘ on macOS), with Shift when shift is set.
func ctrl(key fyne.KeyName, shift bool) fyne.Shortcut {
	m := fyne.KeyModifierShortcutDefault
	if shift {
		m |= fyne.KeyModifierShift
	}
	return &desktop.CustomShortcut{KeyName: key, Modifier: m}
}

// typeShortcut delivers s as Fyne's desktop driver does: to the focused
// widget alone when it takes shortcuts (an entry), else to the canvas.
func typeShortcut(c fyne.Canvas, s fyne.Shortcut) {
	if f, ok := c.Focused().(fyne.Shortcutable); ok {
		f.TypedShortcut(s)
		return
	}
	c.(fyne.Shortcutable).TypedShortcut(s)
}

// typeKey delivers a key as the desktop driver does: to the focused
// widget, else to the canvas.
func typeKey(c fyne.Canvas, k fyne.KeyName) {
	ev := &fyne.KeyEvent{Name: k}
	if f := c.Focused(); f != nil {
		f.TypedKey(ev)
	} else if h := c.OnTypedKey(); h != nil {
		h(ev)
	}
}

// Every action is reachable from the keyboard: the shortcuts switch tabs,
// find, sync and pause, from wherever the focus is (a search field
// included); Tab reaches Retry and Enter presses it; F1 and Ctrl+/ show
// the help, which lists the shortcuts.
func TestShortcutsReachTheActions(t *testing.T) {
	r := newUIRig(t, 2)
	r.pass()
	b := &syncCounter{Backend: r.svc}
	var u *UI
	r.onUI(func() {
		u = New(fyne.CurrentApp(), b, Options{do: r.onUI, OpenPath: func(string) error { return nil }})
		u.Window().Resize(fyne.NewSize(980, 640))
	})
	t.Cleanup(u.Close)
	c := u.win.Canvas()
	r.mu.Lock()
	defer r.mu.Unlock()

	// Tab switching: Ctrl+1..6, Ctrl+Tab and Ctrl+Shift+Tab (round).
	for i, k := range []fyne.KeyName{fyne.Key1, fyne.Key2, fyne.Key3, fyne.Key4, fyne.Key5, fyne.Key6} {
		typeShortcut(c, ctrl(k, false))
		if got := u.tabs.SelectedIndex(); got != i {
			t.Fatalf("Ctrl+%s: tab %d, want %d", k, got, i)
		}
	}
	typeShortcut(c, ctrl(fyne.KeyTab, false))
	if got := u.tabs.SelectedIndex(); got != tabActivity {
		t.Fatalf("Ctrl+Tab from the last tab: tab %d", got)
	}
	typeShortcut(c, ctrl(fyne.KeyTab, true))
	if got := u.tabs.SelectedIndex(); got != tabDiagnostics {
		t.Fatalf("Ctrl+Shift+Tab from the first tab: tab %d", got)
	}

	// Find: the Documents search from any tab but Activity, whose own
	// search it takes there; typing goes to the search.
	typeShortcut(c, ctrl(fyne.KeyF, false))
	if u.tabs.SelectedIndex() != tabDocuments || c.Focused() != u.docs.search {
		t.Fatalf("Ctrl+F from Diagnostics: tab %d, focus %T", u.tabs.SelectedIndex(), c.Focused())
	}
	test.Type(u.docs.search, "Martin")
	if u.docs.search.Text != "Martin" {
		t.Fatalf("typed into the search: %q", u.docs.search.Text)
	}
	// From inside the search, the window's shortcuts still work (an entry
	// takes every shortcut Fyne gives it), and its own still do too.
	typeShortcut(c, ctrl(fyne.Key1, false))
	if got := u.tabs.SelectedIndex(); got != tabActivity {
		t.Fatalf("Ctrl+1 from the search: tab %d", got)
	}
	typeShortcut(c, ctrl(fyne.KeyF, false))
	if u.tabs.SelectedIndex() != tabActivity || c.Focused() != u.activity.search {
		t.Fatalf("Ctrl+F on Activity: tab %d, focus %T", u.tabs.SelectedIndex(), c.Focused())
	}
	u.activity.search.SetText("lab")
	typeShortcut(c, &fyne.ShortcutSelectAll{})
	if got := u.activity.search.SelectedText(); got != "lab" {
		t.Fatalf("Ctrl+A in the search selected %q", got)
	}
	u.activity.search.SetText("")

	// Sync now and Pause: what the header's buttons do, when they can.
	typeShortcut(c, ctrl(fyne.KeyR, false))
	if n := b.syncs.Load(); n != 1 {
		t.Fatalf("Ctrl+R: %d syncs requested", n)
	}
	typeShortcut(c, ctrl(fyne.KeyP, false))
	if !r.svc.Status().Paused {
		t.Fatal("Ctrl+P did not pause")
	}
	u.apply(r.svc.Status())
	if u.header.pause.Text != "Resume" {
		t.Fatalf("paused: the button says %q", u.header.pause.Text)
	}
	typeShortcut(c, ctrl(fyne.KeyR, false))
	if n := b.syncs.Load(); n != 1 {
		t.Fatal("Ctrl+R synced while paused (the button is disabled)")
	}
	typeShortcut(c, ctrl(fyne.KeyP, false))
	if r.svc.Status().Paused {
		t.Fatal("Ctrl+P did not resume")
	}
	u.apply(r.svc.Status())

	// Tab order reaches Retry from the Documents search; Enter presses it.
	typeShortcut(c, ctrl(fyne.Key2, false))
	u.docs.reload()
	r.wait("the failed document in the list", func() bool {
		for i, d := range u.docs.items {
			if d.UUID == r.broken {
				u.docs.list.Select(i)
				return u.docs.selected.UUID == r.broken && u.docs.retry.Visible()
			}
		}
		u.docs.reload()
		return false
	})
	c.Focus(u.docs.search)
	reached := false
	for range 40 {
		test.FocusNext(c)
		if c.Focused() == u.docs.retry {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatal("Tab never reaches Retry")
	}
	before := len(r.sim.StatusCalls())
	typeKey(c, fyne.KeyReturn)
	if !u.docs.retry.Disabled() {
		t.Fatal("Enter on Retry sent nothing")
	}
	r.wait("the retry's answer", func() bool { return u.docs.retryMsg.Text != "" })
	if !strings.Contains(u.docs.retryMsg.Text, "not a PDF") || len(r.sim.StatusCalls()) != before+1 {
		t.Fatalf("after Enter on Retry: %q, %d status calls (want %d)", u.docs.retryMsg.Text, len(r.sim.StatusCalls()), before+1)
	}

	// The help: F1 (here from the search) and Ctrl+/ (from a button).
	for _, press := range []func(){
		func() { c.Focus(u.docs.search); typeKey(c, fyne.KeyF1) },
		func() { c.Focus(u.docs.openDir); typeShortcut(c, ctrl(fyne.KeySlash, false)) },
	} {
		press()
		top := c.Overlays().Top()
		if top == nil {
			t.Fatal("no help shown")
		}
		// The list shows whole, or at least most of the window's height
		// (a scroll shrunk to one line would hide it).
		scroll, ok := findIn(top, func(*container.Scroll) bool { return true })
		if !ok {
			t.Fatal("the help has no list")
		}
		if h, want := scroll.Size().Height, min(scroll.Content.MinSize().Height, c.Size().Height/2); h < want {
			t.Errorf("the help's list is %v high, want at least %v", h, want)
		}
		help := strings.Join(drawnStrings(top), "\n")
		for _, want := range []string{"Keyboard shortcuts", "Ctrl+R", "Sync now", "Ctrl+P", "Pause or resume", "Ctrl+F", "Find",
			"Ctrl+1", "Activity tab", "Ctrl+Tab", "Next tab", "Ctrl+Shift+Tab", "Space, Enter", "Retry", "F1"} {
			if !strings.Contains(help, want) {
				t.Errorf("the help lacks %q:\n%s", want, help)
			}
		}
		c.Overlays().Remove(top)
	}
}

// Every button carries words: Fyne 2.7 has no tooltips and no screen
// reader, so an icon alone would say nothing (nor later to a reader).
func TestNoIconOnlyButtons(t *testing.T) {
	r := newUIRig(t, 2)
	r.pass()
	r.selectDoc(r.broken)
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for i := range r.ui.tabs.Items {
		r.ui.tabs.SelectIndex(i)
		findIn(r.ui.win.Content(), func(b *widget.Button) bool {
			if !b.Visible() {
				return false // Fyne's own, shown when needed (the tabs' overflow)
			}
			n++
			if strings.TrimSpace(b.Text) == "" {
				t.Errorf("tab %d: a button with an icon and no text (%s, hidden %v)", i, b.Icon.Name(), b.Hidden)
			}
			return false
		})
	}
	if n < 15 {
		t.Fatalf("only %d buttons found: the walk is broken", n)
	}
}

// Settings → Text size changes the theme's text sizes at once (no
// restart), is saved, and applies from the start on the next launch.
func TestTextSizeSetting(t *testing.T) {
	r := newUIRig(t, 0)
	s := fyne.CurrentApp().Settings()
	var th fyne.Theme
	var base, normal float32
	label := widget.NewLabel("Clinic Sync")
	v := r.ui.settings
	// Widgets and the theme are the UI goroutine's: the test takes its
	// place (onUI), as the save's answer does.
	r.onUI(func() {
		th = s.Theme()
		base = th.Size(theme.SizeNameText)
		normal = label.MinSize().Height
		r.ui.tabs.SelectIndex(tabSettings)
		if got := v.textSize.Selected; got != "100 % (normal)" {
			t.Fatalf("selected %q", got)
		}
		v.textSize.SetSelected("150 %")
		test.Tap(v.save)
	})
	r.until("saved", func() bool { return v.result.Text == "Saved and applied." })
	if got := r.svc.Settings().App.TextSize; got != 150 {
		t.Fatalf("saved text size %d", got)
	}
	r.onUI(func() {
		if got := s.Theme().Size(theme.SizeNameText); got != base*1.5 {
			t.Fatalf("text size %v after choosing 150 %%, want %v", got, base*1.5)
		}
		label.Refresh()
		if got := label.MinSize().Height; got <= normal {
			t.Fatalf("a label is %v high at 150 %%, %v at 100 %%", got, normal)
		}
		// Colours still follow the system's variant (the base theme's).
		for _, variant := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
			if s.Theme().Color(theme.ColorNameForeground, variant) != th.Color(theme.ColorNameForeground, variant) {
				t.Fatal("the sized theme changed the colours")
			}
		}
	})
	// The next launch starts at the saved size.
	var u *UI
	r.onUI(func() {
		s.SetTheme(th)
		u = New(fyne.CurrentApp(), r.svc, Options{do: r.onUI})
	})
	t.Cleanup(u.Close)
	r.onUI(func() {
		if got := s.Theme().Size(theme.SizeNameText); got != base*1.5 {
			t.Fatalf("a new window starts at %v, want %v", got, base*1.5)
		}
		if got := u.settings.textSize.Selected; got != "150 %" {
			t.Fatalf("a new window's Settings show %q", got)
		}
		// Back to normal: the base theme itself.
		u.settings.textSize.SetSelectedIndex(0)
		test.Tap(u.settings.save)
	})
	r.until("saved back", func() bool { return u.settings.result.Text == "Saved and applied." })
	r.onUI(func() {
		if s.Theme() != th {
			t.Fatalf("at 100 %% the theme is %T, want the base theme back", s.Theme())
		}
	})
}
