package app

import (
	"cmp"
	"context"
	"image/color"
	"net/url"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync/assets"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/service"
)

// Options tune the UI to the machine it runs on.
type Options struct {
	// Tray: show a tray icon and menu (false where the desktop has no tray
	// host: on Linux without a D-Bus session, where the tray would crash on
	// quit, or without a StatusNotifierWatcher, where an icon is
	// invisible). Without a tray, closing the window quits.
	Tray bool
	// SetTooltip sets the tray icon's tooltip (fyne.io/systray; Fyne has
	// no API for it). Optional.
	SetTooltip func(string)
	// SetTrayIcon sets the tray icon from an ICO's bytes (fyne.io/systray's
	// SetIcon; Windows only: Fyne would keep one size of it). Optional.
	SetTrayIcon func(ico []byte)
	// OpenPath opens a file or folder with the system's default program.
	// Default: the app's OpenURL with a file:// URL.
	OpenPath func(path string) error
	// Notify: send desktop notifications, native ones only, from this
	// process (desktopNotify: never a script host).
	Notify bool
	// do runs a function on the UI goroutine (fyne.Do; tests serialise).
	do func(func())
	// clock is how often the texts relative to now are redrawn (default
	// a second; tests shorten it).
	clock time.Duration
}

// UI is the tray and the window.
type UI struct {
	app  fyne.App
	b    Backend
	o    Options
	win  fyne.Window
	ctx  context.Context
	stop context.CancelFunc
	do   func(func()) // fyne.Do; the view-model's only way to touch widgets

	header   *header
	activity *activityView
	docs     *documentsView
	notes    *notesView
	settings *settingsView
	account  *accountView
	diag     *diagView
	tabs     *container.AppTabs
	setup    *setupView // the first-run setup, while it fills the window

	notifier  notifier
	gate      doGate     // every u.do goes through it; shut at Quit
	baseTheme fyne.Theme // the app's theme before the text size scaled it (setTextSize)
	quitOnce  sync.Once

	mu          sync.Mutex
	last        service.Status // the status the widgets show (UI goroutine)
	userSignOut bool           // the user asked to sign out: no "sign in needed" notification
}

// New builds the window (hidden) and, if asked, the tray. Call Start to
// feed it and Show to show it.
func New(a fyne.App, b Backend, o Options) *UI {
	loadTranslations()
	ctx, stop := context.WithCancel(context.Background())
	u := &UI{app: a, b: b, o: o, ctx: ctx, stop: stop, do: o.do}
	if u.do == nil {
		u.do = fyne.Do
	}
	u.gate.do = u.do
	u.do = u.gate.Do
	forgoExitSave(a)
	if u.o.OpenPath == nil {
		u.o.OpenPath = func(p string) error { return a.OpenURL(&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}) }
	}
	u.notifier.send = func(title, body string) {
		if u.o.Notify {
			desktopNotify(a, title, body)
		}
	}
	u.notifier.names = func() bool { return u.b.Settings().App.NotifyPatientNames }
	u.win = a.NewWindow("Clinic Sync")
	u.win.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon("icon.png")))
	u.win.Resize(fyne.NewSize(980, 640))
	u.setTextSize(b.Settings().App.TextSize)
	if o.Tray {
		u.win.SetCloseIntercept(u.win.Hide)
	} else {
		u.win.SetCloseIntercept(u.Quit)
	}
	u.build()
	u.addShortcuts()
	return u
}

// build (re)creates the window's content, in the current language.
func (u *UI) build() {
	u.header = newHeader(u)
	u.activity = newActivityView(u.b)
	u.activity.do = u.do
	u.docs = newDocumentsView(u)
	u.notes = newNotesView(u)
	u.settings = newSettingsView(u)
	u.account = newAccountView(u)
	u.diag = newDiagView(u)
	u.tabs = container.NewAppTabs(
		container.NewTabItem(T("Activity"), u.activity.object()),
		container.NewTabItem(T("Documents"), u.docs.object()),
		container.NewTabItem(T("Notes"), u.notes.object()),
		container.NewTabItem(T("Settings"), u.settings.object()),
		container.NewTabItem(T("Account"), u.account.object()),
		container.NewTabItem(T("Diagnostics"), u.diag.object()),
	)
	u.tabs.OnSelected = func(*container.TabItem) {
		switch u.tabs.SelectedIndex() {
		case tabSettings:
			u.settings.check() // the preview follows the latest document
		case tabDocuments:
			u.docs.reload()
		}
	}
	u.setup = nil
	if setup := u.b.Setup(); setup.Needed {
		u.setup = newSetupView(u, setup)
		u.win.SetContent(u.setup.object())
		u.setup.start()
	} else {
		u.win.SetContent(container.NewBorder(u.header.object(), nil, nil, nil, u.tabs))
	}
	st := u.b.Status()
	u.apply(st)
}

// setupDone shows the usual window once the first-run setup saved the
// configuration (UI goroutine).
func (u *UI) setupDone() {
	u.build()
	u.tabs.SelectIndex(tabActivity)
}

// Tab indexes, in the order build adds them.
const (
	tabActivity = iota
	tabDocuments
	tabNotes
	tabSettings
	tabAccount
	tabDiagnostics
)

// Window is the main window.
func (u *UI) Window() fyne.Window { return u.win }

// Show brings the window forward (tray "Open", a second launch).
func (u *UI) Show() {
	u.win.Show()
	u.win.RequestFocus()
}

// ShowTab shows the window on the named tab ("Documents", ...).
func (u *UI) ShowTab(i int) {
	u.tabs.SelectIndex(i)
	u.Show()
}

// showFailed opens Documents filtered on failed ones, the first selected.
func (u *UI) showFailed() {
	u.tabs.SelectIndex(tabDocuments)
	u.docs.showFailed()
	u.Show()
}

// quitDrain is how long Quit leaves the event loop running after hiding
// the window: several of Fyne's 60 Hz event polls.
const quitDrain = 150 * time.Millisecond

// Quit ends the app (tray Quit, SIGTERM, closing the window without a
// tray). Call it on the UI goroutine. It works around two crashes of
// Fyne 2.7.1 on quit, both seen here under Xvfb:
//   - Fyne's Quit marks its windows closing before its loop stops, and a
//     pointer event for a closing window panics inside glfw when the cursor
//     shape changes (fyne-io/fyne#5981). So the window is hidden first,
//     which stops new pointer events, and the loop handles those already
//     queued while the window is still whole.
//   - Once the loop has stopped, a fyne.Do from another goroutine can send
//     on its closed queue ("send on closed channel"). So the view-model
//     stops and the gate shuts before the app quits: nothing of ours calls
//     fyne.Do after that (see also forgoExitSave).
//
// It ends the loop with the driver's Quit, not the app's: the app's closes
// every window first, which glfw refuses ("The GLFW library is not
// initialized", a panic) once the loop has stopped, and on SIGTERM Fyne's
// glfw driver stops it by itself (its catchTerm queues the driver's Quit)
// while this drain waits. The driver's Quit only ends the loop, touches no
// window, and does nothing the second time.
func (u *UI) Quit() {
	u.quitOnce.Do(func() {
		u.win.Hide()
		u.stop()
		time.AfterFunc(quitDrain, func() {
			u.gate.shut()
			u.gate.do(u.app.Driver().Quit)
		})
	})
}

// doGate passes functions to the UI goroutine until it is shut. A
// fyne.Do only queues while the app runs, so holding the read lock
// across it cannot deadlock with shut.
type doGate struct {
	mu     sync.RWMutex
	closed bool
	do     func(func())
}

func (g *doGate) Do(f func()) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if !g.closed {
		g.do(f)
	}
}

// shut drops every later Do; it returns once no Do is under way.
func (g *doGate) shut() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// forgoExitSave drops the preferences save Fyne 2.7.1 runs as its last
// lifecycle event: it is queued while the loop shuts down, and the
// goroutine that runs it races the loop closing its queue ("send on closed
// channel"). Nothing is lost: Fyne saves preferences when they change, and
// this app keeps its settings in its own file.
func forgoExitSave(a fyne.App) {
	if l, ok := a.Lifecycle().(interface{ SetOnStoppedHookExecuted(func()) }); ok {
		l.SetOnStoppedHookExecuted(nil)
	}
}

// Close stops the view-model goroutine.
func (u *UI) Close() { u.stop() }

// Start runs the view-model goroutine: it subscribes to the events of the
// engine, the relay and the sign-in, coalesces them, reads one status and
// applies it inside fyne.Do. Widgets are never touched from anywhere else.
func (u *UI) Start() {
	sub := u.b.Events().Subscribe(events.AllEvents)
	go func() {
		<-u.ctx.Done()
		sub.Unsubscribe()
	}()
	go u.viewModel(sub)
}

// refreshEvery bounds how often the widgets are refreshed while events pour in.
const refreshEvery = 150 * time.Millisecond

// viewModel reads the status only when an event says it changed. Between
// events a clock redraws what is relative to now ("last sync 5 s ago",
// "next: in 12 s", the Retry countdown) from the status last applied: it
// reads no new one, since a status read queries SQLite.
func (u *UI) viewModel(sub *events.Subscription) {
	tick := time.NewTicker(cmp.Or(u.o.clock, time.Second))
	defer tick.Stop()
	var (
		pending       bool
		docs, logs    bool
		changedFailed []string
	)
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	for {
		select {
		case <-u.ctx.Done():
			return
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			switch ev.Type {
			case events.ItemChanged:
				docs = true
				switch ev.State {
				case "failed":
					changedFailed = append(changedFailed, ev.Item)
				case "confirmed":
					u.notifier.forget(ev.Item) // a later failure is news again
				}
			case events.Activity:
				logs = true
			}
			if !pending {
				pending = true
				flush.Reset(refreshEvery)
			}
			continue
		case <-tick.C:
			u.do(func() { u.apply(u.status()) })
			continue
		case <-flush.C:
		}
		st := u.b.Status()
		// Notifications are decided here, off the UI goroutine; they read
		// the documents that just failed to tell permanent from transient.
		var permanent []engine.DocumentView
		for _, id := range changedFailed {
			if d, err := u.b.Document(u.ctx, id); err == nil && d.State == "failed" && !d.Retryable {
				permanent = append(permanent, d)
			}
		}
		u.mu.Lock()
		userOut := u.userSignOut
		u.mu.Unlock()
		u.notifier.observe(st, permanent, userOut)
		d, l := docs, logs
		u.do(func() {
			u.apply(st)
			if d {
				u.docs.reload()
				u.notes.reload()
			}
			if l {
				u.activity.reload()
				u.notes.reload() // a saved note is an activity line
			}
		})
		pending, docs, logs, changedFailed = false, false, false, nil
	}
}

// apply shows st in the header, the tray and the account tab (UI goroutine).
func (u *UI) apply(st service.Status) {
	u.mu.Lock()
	prev := u.last
	u.last = st
	if !st.SignedOut {
		u.userSignOut = false
	}
	u.mu.Unlock()
	u.header.set(st)
	u.account.set(st)
	u.diag.set(st)
	if u.setup != nil {
		u.setup.setAccount(st)
	}
	u.settings.showRelay()
	u.docs.tick()
	if u.o.Tray {
		if prev.Status != st.Status || prev.Paused != st.Paused || prev.StandbyFor != st.StandbyFor || prev.Update != st.Update ||
			prev.Account.SignedIn != st.Account.SignedIn || prev.Account.Managed != st.Account.Managed || prev.Version == "" {
			if desk, ok := u.app.(desktop.App); ok {
				desk.SetSystemTrayIcon(osTrayIcon(runtime.GOOS, st.Status))
				desk.SetSystemTrayMenu(u.trayMenu(st))
			}
			// After Fyne's: the tray exists once the first menu is set.
			// (Fyne sets its own icon once more when the tray reports
			// ready; the next change of state sets the ICO again.)
			if u.o.SetTrayIcon != nil {
				u.o.SetTrayIcon(trayICO(st.Status))
			}
		}
		if u.o.SetTooltip != nil {
			u.o.SetTooltip(tooltip(st, time.Now()))
		}
	}
}

// status is the last status applied (UI goroutine).
func (u *UI) status() service.Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// run runs f off the UI goroutine and hands its error to done on the UI
// goroutine.
func (u *UI) run(f func(ctx context.Context) error, done func(error)) {
	go func() {
		err := f(u.ctx)
		u.do(func() { done(err) })
	}()
}

// signIn starts the browser sign-in (the tray's Sign in…) where the
// window shows what it needs: the setup's sign-in step, or the Account tab.
func (u *UI) signIn() {
	if u.setup != nil {
		u.Show()
		u.setup.panel.start(false)
		return
	}
	u.ShowTab(tabAccount)
	u.account.panel.start(false)
}

func (u *UI) signOut() {
	u.mu.Lock()
	u.userSignOut = true
	u.mu.Unlock()
	u.run(u.b.SignOut, func(err error) {
		if err != nil {
			u.account.showError(err)
		}
		u.apply(u.b.Status())
	})
}

func (u *UI) openDocumentsFolder() {
	if root := u.b.Settings().Destination.Root; root != "" {
		if err := u.o.OpenPath(root); err != nil {
			u.showError(err)
		}
	}
}

func (u *UI) showError(err error) {
	showError(err, u.win)
}

// wideSelect is s laid out as wide as its longest choice: Fyne 2.7.1
// sizes a Select for its placeholder, which cuts a longer choice
// ("Toutes les …" for "Toutes les notes").
func wideSelect(s *widget.Select) fyne.CanvasObject {
	th := s.Theme()
	var w float32
	for _, o := range s.Options {
		w = max(w, fyne.MeasureText(o, th.Size(theme.SizeNameText), fyne.TextStyle{}).Width)
	}
	// Fyne's own sum (selectRenderer.MinSize): text, three inner paddings,
	// the icon and one more.
	pad := th.Size(theme.SizeNameInnerPadding)
	min := canvas.NewRectangle(color.Transparent)
	min.SetMinSize(fyne.NewSize(w+4*pad+th.Size(theme.SizeNameInlineIcon), 0))
	return container.NewStack(min, s)
}

// label is a small helper: a label that wraps.
func wrapLabel(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// setLanguage switches the language at once: the window and the tray are
// rebuilt with the new texts (UI goroutine).
func (u *UI) setLanguage(code string) {
	if err := SetLanguage(code); err != nil {
		u.showError(err)
		return
	}
	tab := u.tabs.SelectedIndex()
	u.build()
	u.tabs.SelectIndex(tab)
	st := u.status()
	u.mu.Lock()
	u.last = service.Status{}
	u.mu.Unlock()
	u.apply(st)
}
