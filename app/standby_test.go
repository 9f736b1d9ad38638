package app

import (
	"context"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// Another PC holds the shared documents folder's lease: the header and the
// tray say which one writes, in English and French, and offer no Sync now.
func TestHeaderSaysWhichPCWrites(t *testing.T) {
	r := newUIRig(t, 1)
	other := clinicsync.Lease{LeaseHolder: clinicsync.LeaseHolder{ID: "another-installation", PC: "FRONTDESK-1", User: "anna"},
		Heartbeat: time.Now(), Nonce: "n1"}
	if _, err := (dest.Layout{Root: r.root}).WriteLease(other); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	r.until("standing by", func() bool {
		st := r.svc.Status()
		r.ui.apply(st)
		return st.Status == engine.StatusStandby
	})
	r.onUI(func() {
		if got := r.ui.header.state.Text; got != "FRONTDESK-1 writes to this folder" {
			t.Errorf("header %q", got)
		}
		if !r.ui.header.syncNow.Disabled() {
			t.Error("Sync now is offered while another PC writes")
		}
		menu := r.ui.trayMenu(r.svc.Status())
		for _, it := range menu.Items {
			if it.Label == "Sync now" && !it.Disabled {
				t.Error("the tray offers Sync now while another PC writes")
			}
		}
		r.ui.setLanguage("fr")
		r.ui.apply(r.svc.Status())
		if got := r.ui.header.state.Text; got != "FRONTDESK-1 écrit dans ce dossier" {
			t.Errorf("header in French %q", got)
		}
		r.ui.setLanguage("en")
	})
	if r.sim.Synchronized(r.broken) || len(r.sim.StatusCalls()) != 0 {
		t.Error("this PC wrote while another held the lease")
	}
}
