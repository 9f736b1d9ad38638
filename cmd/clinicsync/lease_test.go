package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// Two installations of the real binary (two data folders) run against one
// platform into one shared documents folder: one writes, the other stands
// by and `status` says which writes. The writer is killed (SIGKILL, its
// lease left behind): the other writes within three poll intervals and
// takes the documents that arrived meanwhile.
func TestKilledWriterIsReplacedByTheOtherPC(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	const poll = 10 * time.Second // the shortest the configuration allows
	a := newSetup(t, sim.Options{Documents: 4, Patients: 2, Seed: 61})
	cfg, err := config.Load(a.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Askara.PollInterval = config.Duration{Duration: poll}
	if err := cfg.Save(a.cfgPath); err != nil {
		t.Fatal(err)
	}
	b := *a
	b.dataDir = filepath.Join(a.dir, "data-frontdesk-2")
	status := func(s *setup) statusReport {
		t.Helper()
		out, errOut, code := s.run(t, "status", "--json")
		var rep statusReport
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
			t.Fatalf("status: %d %s %s", code, out, errOut)
		}
		return rep
	}
	// Their output is read while they run: a buffer safe for that.
	start := func(s *setup) (*exec.Cmd, *syncBuffer) {
		c := s.cmd(context.Background(), "run")
		out := &syncBuffer{}
		c.Stdout, c.Stderr = out, out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		return c, out
	}
	ca, outA := start(a)
	cb, outB := start(&b)
	all := func() bool {
		for _, x := range a.sim.Expected() {
			if !a.sim.Synchronized(x.UUID) {
				return false
			}
		}
		return true
	}
	waitFor(t, "the first documents", 30*time.Second, all)
	var writer, other *setup
	var kill func()
	var otherOut interface{ String() string }
	waitFor(t, "one writer and one standing by", 2*poll, func() bool {
		ra, rb := status(a), status(&b)
		switch {
		case ra.Writer != nil && rb.Writer != nil && ra.Writer.ThisPC && !rb.Writer.ThisPC:
			writer, other, kill, otherOut = a, &b, func() { ca.Process.Kill(); ca.Wait() }, outB
		case ra.Writer != nil && rb.Writer != nil && rb.Writer.ThisPC && !ra.Writer.ThisPC:
			writer, other, kill, otherOut = &b, a, func() { cb.Process.Kill(); cb.Wait() }, outA
		}
		return writer != nil
	})
	out, _, _ := other.run(t, "status")
	if !strings.Contains(out, "writes to this folder; this PC stands by.") {
		t.Fatalf("status of the PC standing by:\n%s", out)
	}
	waitFor(t, "the standing-by line", 5*time.Second, func() bool {
		return strings.Contains(otherOut.String(), "writes to the documents folder; this PC stands by")
	})

	last, err := dest.Layout{Root: a.root}.ReadLease()
	if err != nil || last.ID == "" {
		t.Fatalf("the lease: %+v %v", last, err)
	}
	kill()
	killed := time.Now()
	late := a.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{FirstName: "Ada", LastName: "Lovelace"},
		PDF: clinicsync.PDF{FileName: "after_the_kill.pdf"}}})
	waitFor(t, "the other PC taking over", 3*poll+5*time.Second, func() bool {
		r := status(other)
		return r.Writer != nil && r.Writer.ThisPC
	})
	took := time.Since(killed)
	t.Logf("the other PC writes %v after the kill (poll interval %v)", took.Round(100*time.Millisecond), poll)
	if took > 3*poll {
		t.Errorf("the handover took %v, more than 3 poll intervals", took)
	}
	if since := time.Since(last.Heartbeat); since < 2*poll-time.Millisecond {
		t.Errorf("a lease renewed %v ago was taken over", since)
	}
	waitFor(t, "the document that arrived after the kill", 2*poll, func() bool { return a.sim.Synchronized(late.UUID) })
	if !strings.Contains(otherOut.String(), "stopped renewing its lease") {
		t.Errorf("the new writer's output does not say it took over:\n%s", otherOut.String())
	}
	docs := map[string]bool{}
	for rel := range tree(t, a.root) {
		if rel != dest.LeaseFile && !strings.HasPrefix(filepath.Base(rel), ".") {
			docs[rel] = true
		}
	}
	if len(docs) != len(a.sim.Expected()) {
		t.Errorf("%d files in the folder for %d documents: %v", len(docs), len(a.sim.Expected()), docs)
	}
	if l, _ := (dest.Layout{Root: a.root}).ReadLease(); l.ID == last.ID {
		t.Errorf("the killed PC (%s) still holds the lease", writer.dataDir)
	}
}
