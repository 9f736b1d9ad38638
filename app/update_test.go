package app

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"aead.dev/minisign"
	"fyne.io/fyne/v2/test"

	"github.com/clinicsync/clinicsync/sync/service"
	"github.com/clinicsync/clinicsync/sync/sim"
	selfupdate "github.com/clinicsync/clinicsync/sync/update"
)

// updateRig is the UI rig whose service checks the simulator's update
// server (trusting the demo key), with a runner that records what runs.
type updateRig struct {
	*uiRig
	mu  sync.Mutex
	ran []string
}

func newUpdateRig(t *testing.T, rel *sim.Update) *updateRig {
	u := &updateRig{}
	u.uiRig = newUIRigWith(t, 0, func(p *service.Parts, url string) {
		p.Updates = selfupdate.New(selfupdate.Options{Enabled: true, URL: url + sim.UpdatePath, Current: "1.0.0",
			Key: sim.DemoUpdateKey, Dir: filepath.Join(p.DataDir, "updates"),
			Run: func(path string) error {
				u.mu.Lock()
				defer u.mu.Unlock()
				u.ran = append(u.ran, path)
				return nil
			}})
	})
	if rel != nil {
		u.sim.SetUpdate(*rel)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); u.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return u
}

func (u *updateRig) runs() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.ran...)
}

// wait polls cond for up to 20 s.
func wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func trayItem(u *UI, prefix string) bool {
	for _, it := range u.trayMenu(u.status()).Items {
		if strings.HasPrefix(it.Label, prefix) && !it.Disabled {
			return true
		}
	}
	return false
}

// The simulator offers a signed new version: the tray and Diagnostics
// offer to install it, and Install runs the verified file.
func TestTrayAndDiagnosticsOfferTheUpdate(t *testing.T) {
	r := newUpdateRig(t, nil)
	wait(t, "the update offered", func() bool { return r.svc.Status().Update == sim.DemoUpdateVersion })
	r.onUI(func() {
		r.ui.apply(r.svc.Status())
		if !trayItem(r.ui, "Install version "+sim.DemoUpdateVersion) {
			t.Error("the tray does not offer the update")
		}
		if got := r.ui.diag.update.Text; !strings.Contains(got, sim.DemoUpdateVersion) || r.ui.diag.updateBtn.Text != "Install" {
			t.Errorf("Diagnostics: %q [%s]", got, r.ui.diag.updateBtn.Text)
		}
		if len(r.runs()) != 0 {
			t.Error("run before Install")
		}
		test.Tap(r.ui.diag.updateBtn)
	})
	wait(t, "the installer run", func() bool { return len(r.runs()) == 1 })
	if got := r.runs()[0]; filepath.Base(got) != "ClinicSync-"+sim.DemoUpdateVersion+".msi" {
		t.Errorf("ran %s", got)
	}
}

// A release signed with another key: checked, not offered, never run;
// the tray offers a new check instead.
func TestUnsignedUpdateIsNotOffered(t *testing.T) {
	_, other, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rel := sim.DemoUpdate("9.1.0")
	rel.Manifest.Signature = selfupdate.Sign(other, rel.File, "9.1.0")
	r := newUpdateRig(t, &rel)
	wait(t, "the check", func() bool { return !r.svc.Status().UpdateChecked.IsZero() })
	r.onUI(func() {
		r.ui.apply(r.svc.Status())
		if trayItem(r.ui, "Install version") || !trayItem(r.ui, "Check for updates") {
			t.Error("the tray offers a release signed with another key")
		}
		if r.ui.diag.updateBtn.Text != "Check for updates" || !strings.HasPrefix(r.ui.diag.update.Text, "No new version") {
			t.Errorf("Diagnostics: %q [%s]", r.ui.diag.update.Text, r.ui.diag.updateBtn.Text)
		}
		r.ui.installUpdate()
	})
	wait(t, "Install refused", func() bool {
		var msg string
		r.onUI(func() { msg = r.ui.diag.msg.Text })
		return strings.Contains(msg, "not installed")
	})
	if len(r.runs()) != 0 {
		t.Fatalf("ran %v", r.runs())
	}
}
