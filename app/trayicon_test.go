package app

import (
	"bytes"
	"slices"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"github.com/clinicsync/clinicsync/assets"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/service"
)

// The tray icon fits the OS: on macOS the monochrome template, as the
// ThemedResource Fyne 2.7.1 turns into a template image (with the template
// PNG's own bytes); elsewhere the colour PNG.
func TestTrayIconPerOS(t *testing.T) {
	for _, st := range []engine.Status{engine.StatusIdle, engine.StatusSyncing, engine.StatusAttention, engine.StatusPaused, engine.StatusSignedOut} {
		mac := osTrayIcon("darwin", st)
		if _, ok := mac.(*theme.ThemedResource); !ok {
			t.Fatalf("%s on macOS: %T, not a template", st, mac)
		}
		want := assets.Icon(trayFile(st) + "-template.png")
		if got := mac.Content(); !bytes.Equal(got, want) {
			t.Fatalf("%s on macOS: the menu bar gets %d other bytes", st, len(got))
		}
		for _, goos := range []string{"windows", "linux"} {
			if got := osTrayIcon(goos, st); got != trayIcon(st) {
				t.Fatalf("%s on %s: %s", st, goos, got.Name())
			}
		}
	}
}

// On Windows the window hands the tray the state's multi-size ICO, once
// per change of state.
func TestWindowsTrayGetsTheICO(t *testing.T) {
	r := newUIRig(t, 0)
	var got [][]byte
	var u *UI
	r.onUI(func() {
		u = New(fyne.CurrentApp(), r.svc, Options{Tray: true, do: r.onUI, SetTrayIcon: func(b []byte) { got = append(got, b) }})
	})
	t.Cleanup(u.Close)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(got) != 1 || !bytes.Equal(got[0], trayICO(u.status().Status)) {
		t.Fatalf("at start: %d icons set", len(got))
	}
	st := service.Status{Version: "test", Snapshot: engine.Snapshot{Status: engine.StatusAttention}}
	u.apply(st)
	u.apply(st) // no change: nothing set again
	st.Status = engine.StatusIdle
	u.apply(st)
	want := [][]byte{trayICO(engine.StatusAttention), assets.Icon("tray-idle.ico")}
	if !slices.EqualFunc(got[1:], want, bytes.Equal) {
		t.Fatalf("%d icons set after two changes, want 2 (attention, idle)", len(got)-1)
	}
	if bytes.Equal(want[0], want[1]) {
		t.Fatal("attention and idle share an ICO")
	}
}
