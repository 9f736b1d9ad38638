package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/sim"
)

const relaySecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// freeAddr is a loopback address nobody listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// relaySetup is a setup whose configuration turns the relay on, with the
// simulator signing its deliveries (Standard Webhooks) and the secret
// given to clinicsync through the environment.
func relaySetup(t *testing.T, o sim.Options) (*setup, string) {
	t.Helper()
	o.WebhookSecret = relaySecret
	o.WebhookRetryScale = 0.05
	s := newSetup(t, o)
	addr := freeAddr(t)
	cfg, err := config.Load(s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Relay.Enabled = true
	cfg.Relay.Listen = addr
	cfg.Relay.Public = "http://" + addr // no tunnel here: Askara (the simulator) reaches the relay directly
	cfg.Askara.PollInterval = config.Duration{Duration: time.Hour}
	if err := cfg.Save(s.cfgPath); err != nil {
		t.Fatal(err)
	}
	s.extraEnv = append(s.extraEnv, "CLINICSYNC_ASKARA_WEBHOOK_SECRET="+relaySecret)
	return s, addr
}

func startRun(t *testing.T, s *setup) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	c := s.cmd(context.Background(), "run")
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c, &out
}

func confirmedOnce(s *setup, uuid string) (ok, twice bool) {
	n := 0
	for _, c := range s.sim.StatusCalls() {
		if c.UUID == uuid && c.Status.Success {
			n++
		}
	}
	return n >= 1, n > 1
}

// The whole push loop: clinicsync registers its public URL with Askara
// (the simulator), which delivers new_document to the relay; the file is on
// disk and confirmed in under a second, and the next polling pass does
// nothing more for it.
func TestWebhookDeliversInUnderASecond(t *testing.T) {
	s, _ := relaySetup(t, sim.Options{Documents: 3, Patients: 2, Seed: 41})
	_, out := startRun(t, s)
	waitFor(t, "the registration", 20*time.Second, func() bool { return len(s.sim.Webhooks()) == 1 })
	waitFor(t, "the first pass", 20*time.Second, func() bool { return len(s.sim.StatusCalls()) == 3 })
	if w := s.sim.Webhooks()[0]; !strings.HasSuffix(w.URL, "/webhooks/askara") || len(w.Events) != 3 || !w.Active {
		t.Fatalf("registration %+v", w)
	}

	start := time.Now()
	d := s.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{FirstName: "Ada", LastName: "Lovelace"},
		PDF: clinicsync.PDF{FileName: "referral_letter.pdf"}}})
	file := filepath.Join(s.root, "LOVELACE_ADA", "referral_letter.pdf")
	waitFor(t, "the pushed document", 5*time.Second, func() bool {
		ok, _ := confirmedOnce(s, d.UUID)
		_, err := os.Stat(file)
		return ok && err == nil
	})
	took := time.Since(start)
	t.Logf("new_document to file on disk and confirmed: %v", took)
	if took > time.Second {
		t.Errorf("took %v, want under 1 s\n%s", took, out.String())
	}

	// A polling pass afterwards (another process, the same data folder)
	// finds nothing to do for it.
	before := s.sim.Stats().PDFDownloads
	stdout, stderr, code := s.run(t, "sync")
	if code != 0 || !strings.Contains(stdout, "written 0") {
		t.Fatalf("sync after push: %d\n%s%s", code, stdout, stderr)
	}
	if _, twice := confirmedOnce(s, d.UUID); twice || s.sim.Stats().PDFDownloads != before {
		t.Fatal("the polling pass did the pushed document again")
	}
	if len(s.sim.Webhooks()) != 1 {
		t.Fatal("registered twice")
	}
}

// SIGKILL right after the relay's 200: on restart the document is synced,
// exactly once.
func TestWebhookSurvivesAKillAfterTheAck(t *testing.T) {
	// A large PDF keeps processing busy after the 200, so the kill lands
	// between the acknowledgement and the confirmation.
	s, _ := relaySetup(t, sim.Options{Documents: 0, Seed: 42, PDFSize: 64 << 20})
	c, out := startRun(t, s)
	waitFor(t, "the registration", 20*time.Second, func() bool { return len(s.sim.Webhooks()) == 1 })
	time.Sleep(200 * time.Millisecond) // the start-up pass
	d := s.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{FirstName: "Grace", LastName: "Hopper"},
		PDF: clinicsync.PDF{FileName: "discharge_summary.pdf"}}})
	waitFor(t, "the acknowledgement", 5*time.Second, func() bool {
		for _, dl := range s.sim.Deliveries() {
			if dl.Delivered() {
				return true
			}
		}
		return false
	})
	c.Process.Signal(syscall.SIGKILL)
	c.Wait()
	if done, _ := confirmedOnce(s, d.UUID); done {
		t.Log("the kill came after the confirmation: this run shows no replay")
	}

	_, out2 := startRun(t, s)
	file := filepath.Join(s.root, "HOPPER_GRACE", "discharge_summary.pdf")
	waitFor(t, "the document after restart", 20*time.Second, func() bool {
		ok, _ := confirmedOnce(s, d.UUID)
		_, err := os.Stat(file)
		return ok && err == nil
	})
	time.Sleep(300 * time.Millisecond)
	if _, twice := confirmedOnce(s, d.UUID); twice {
		t.Fatalf("confirmed twice\n%s\n%s", out.String(), out2.String())
	}
	if got := tree(t, s.root); len(got) != 1 {
		t.Fatalf("files %v", got)
	}
}

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
