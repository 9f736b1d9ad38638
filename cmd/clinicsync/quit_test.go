package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/app/instance"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// The headless service is one per data folder too, and an upgrade ends it
// and starts it again with its arguments, as it does the tray app.
func TestRunQuitsForUpdateAndRelaunches(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 3, Seed: 4})
	c := s.cmd(context.Background(), "run")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	defer c.Process.Kill()
	waitFor(t, "run to hold the data folder", 20*time.Second, func() bool { return instance.Running(s.dataDir) })
	if _, errOut, code := s.run(t, "run"); code != exitConfig || !strings.Contains(errOut, "already runs") {
		t.Fatalf("a second run: exit %d %s", code, errOut)
	}
	out, errOut, code := s.run(t, "quit", "--for-update")
	if code != exitOK || !strings.Contains(out, "Clinic Sync dev has quit") {
		t.Fatalf("quit: exit %d\n%s%s", code, out, errOut)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("run after quit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run still going after quit")
	}
	var l instance.Launch
	b, _ := os.ReadFile(filepath.Join(s.dataDir, relaunchFile))
	if json.Unmarshal(b, &l) != nil || len(l.Args) != 1 || l.Args[0] != "run" {
		t.Fatalf("the note: %s", b)
	}
	t.Cleanup(func() { instance.Quit(s.dataDir, 20*time.Second) })
	if out, errOut, code := s.run(t, "relaunch"); code != exitOK || !strings.Contains(out, "started again") {
		t.Fatalf("relaunch: exit %d\n%s%s", code, out, errOut)
	}
	waitFor(t, "the relaunched run", 20*time.Second, func() bool { return instance.Running(s.dataDir) })
	if _, err := os.Stat(filepath.Join(s.dataDir, relaunchFile)); !os.IsNotExist(err) {
		t.Fatal("the note stays after relaunch")
	}
	if out, _, code := s.run(t, "quit"); code != exitOK || !strings.Contains(out, "has quit") {
		t.Fatalf("quit the relaunched run: exit %d %s", code, out)
	}
	if out, _, _ := s.run(t, "quit"); !strings.Contains(out, "not running") {
		t.Fatalf("quit with nothing running: %q", out)
	}
}
