//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/systray"

	"github.com/clinicsync/clinicsync/app"
	"github.com/clinicsync/clinicsync/app/autostart"
	"github.com/clinicsync/clinicsync/app/instance"
	"github.com/clinicsync/clinicsync/assets"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/service"
)

const appID = "app.clinicsync.desktop" // FyneApp.toml's ID

// cmdGUI starts the tray app: `clinicsync` with no command.
func cmdGUI(ctx context.Context, e *env, args []string) error {
	fs := e.flags("gui")
	hidden := fs.Bool("hidden", false, "start in the tray without opening the window (start at login)")
	atLogin := fs.Bool("at-login", false, "started at sign-in by the installer's entry: end at once if start at login is off")
	// No configuration yet, or one with problems: the window opens on the
	// first-run setup. Exiting would show nothing at all on Windows.
	e.firstRun = true
	if _, err := e.start(fs, args); err != nil {
		return err
	}
	// A per-machine installation starts Clinic Sync at every user's
	// sign-in (HKLM Run): a user who turned start at login off is obeyed here.
	if *atLogin && !e.cfg.App.StartAtLogin {
		return nil
	}
	if !hasDisplay() {
		return exitf(exitConfig, "no display here (DISPLAY is not set): use `clinicsync run` for the headless service")
	}
	return e.runGUI(ctx, guiOptions{hidden: *hidden})
}

type guiOptions struct {
	hidden bool
	title  string // window title suffix ("demo")
}

// trayExecutable is the program start-at-login should run: this one, or,
// when this is the console build (clinicsync-cli.exe), the GUI build next
// to it, so no console window opens at every login.
func trayExecutable() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if base := filepath.Base(exe); strings.EqualFold(base, "clinicsync-cli.exe") {
		gui := filepath.Join(filepath.Dir(exe), "clinicsync.exe")
		if _, err := os.Stat(gui); err == nil {
			return gui
		}
	}
	return exe
}

// runGUI runs the window and the tray until Quit, with the engine in the
// background; Quit (or SIGINT/SIGTERM) stops the engine cleanly first.
func (e *env) runGUI(ctx context.Context, o guiOptions) error {
	if err := e.logToFile(); err != nil {
		return exitf(exitConfig, "cannot write the log file in %s: %v", e.dataDir, err)
	}
	toolkitLogToDebug(e.log)
	// One instance per user: a second launch shows the first one's window;
	// a second start at login (--hidden) just ends.
	if o.hidden && instance.Running(e.dataDir) {
		return nil
	}
	var ui *app.UI
	shown, quit := make(chan struct{}, 1), make(chan struct{}, 1)
	signal := func(c chan struct{}) func() {
		return func() {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}
	inst, err := instance.AcquireWith(e.dataDir, instance.Options{OnShow: signal(shown), OnQuit: signal(quit), Version: version})
	if errors.Is(err, instance.ErrRunning) {
		if err == instance.ErrRunning {
			fmt.Fprintln(e.stdout, "Clinic Sync is already running; its window was brought forward.")
		} else {
			fmt.Fprintf(e.stdout, "Clinic Sync is already running for this user (%v).\n", err)
		}
		return nil
	}
	if err != nil {
		return exitf(exitConfig, "cannot start: %v", err)
	}
	defer inst.Close()

	exe := trayExecutable()
	auto := autostart.Entry{ID: appID, Name: "Clinic Sync", Exec: exe, Args: []string{"--hidden"}}
	var asvc service.Autostart = auto
	// The configuration says whether the app starts at login; each start
	// makes the OS entry agree (and point at this executable). Not for the
	// demo, nor for a binary in the temporary folder (`go run`, tests).
	// On the first start on Windows (no settings saved yet) the installer's
	// choice stands: its Run value is there or not (msiexec AUTOSTART=0).
	if o.title != "" || exe == "" || strings.HasPrefix(exe, os.TempDir()) {
		asvc = nil
	} else {
		if _, err := os.Stat(e.configPath); os.IsNotExist(err) && runtime.GOOS == "windows" &&
			e.sources["app.start_at_login"] == config.FromDefault {
			if on, err := auto.Enabled(); err == nil {
				e.cfg.App.StartAtLogin = on
			}
		}
		var err error
		if e.cfg.App.StartAtLogin {
			err = auto.Enable()
		} else {
			err = auto.Disable()
		}
		if err != nil {
			e.log.Warn("start at login", "err", err)
		}
	}
	svc, err := e.service(ctx, asvc)
	if err != nil {
		return err
	}
	if err := app.SetLanguage(e.cfg.App.Language); err != nil {
		e.log.Warn("language", "err", err)
	}
	if err := app.PrepareNotifications(e.dataDir); err != nil {
		e.log.Warn("notifications", "err", err)
	}
	a := fyneapp.NewWithID(appID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon("icon.png")))
	// Started at login (--hidden), the desktop's tray may still be
	// starting: give it a few seconds.
	wait := time.Duration(0)
	if o.hidden {
		wait = 5 * time.Second
	}
	tray := hasTrayHost(wait)
	opts := app.Options{Tray: tray, Notify: true}
	if tray {
		opts.SetTooltip = systray.SetTooltip
		if runtime.GOOS == "windows" {
			opts.SetTrayIcon = systray.SetIcon // the multi-size ICO, as it is
		}
	}
	ui = app.New(a, svc, opts)
	if o.title != "" {
		ui.Window().SetTitle("Clinic Sync — " + o.title)
	}
	if !tray {
		// Without a tray icon the window is the only way in: closing it
		// quits (app.Options.Tray), and --hidden shows it anyway.
		e.log.Info("no tray host on this desktop: running without a tray icon")
		fmt.Fprintln(e.stderr, "Clinic Sync: no tray on this desktop; closing the window quits.")
	}

	engineCtx, stopEngine := context.WithCancel(ctx)
	engineDone := make(chan error, 1)
	go func() { engineDone <- svc.Run(engineCtx) }()
	go func() {
		for {
			select {
			case <-engineCtx.Done():
				return
			case <-shown:
				fyne.Do(ui.Show)
			case <-quit: // clinicsync quit: the installer replaces the program
				fyne.Do(ui.Quit)
			}
		}
	}()
	go func() { // SIGINT/SIGTERM end the app like Quit
		<-ctx.Done()
		fyne.Do(ui.Quit)
	}()
	ui.Start()
	if !o.hidden || !tray || svc.Setup().Needed {
		ui.Show()
	}
	a.Run()

	ui.Close()
	stopEngine()
	select {
	case err := <-engineDone:
		if err != nil {
			e.log.Warn("engine stopped", "err", err)
		}
	case <-time.After(15 * time.Second):
		e.log.Warn("engine did not stop within 15 s")
	}
	return nil
}
