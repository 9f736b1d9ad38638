package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/sync/sim"
)

// `status` and `log` only read state: before any configuration exists they
// work, say how to configure, and create nothing; with a configuration
// that has a problem they show it and still work.
func TestStatusAndLogBeforeAnyConfiguration(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 3, Seed: 2})
	good, err := os.ReadFile(s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(s.cfgPath)
	want := "not configured yet: open Clinic Sync, or create " + s.cfgPath
	for _, args := range [][]string{{"status"}, {"log"}} {
		out, errOut, code := s.run(t, args...)
		if code != exitOK || !strings.Contains(out+errOut, want) || strings.Contains(out+errOut, "root is not set") {
			t.Errorf("%v without a configuration: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
		}
	}
	out, _, code := s.run(t, "status", "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK || rep.Configured || rep.ConfigProblem != want {
		t.Errorf("status --json without a configuration: exit %d, %v\n%s", code, err, out)
	}
	if _, err := os.Stat(s.dataDir); !os.IsNotExist(err) {
		t.Errorf("status and log created the data folder (%v)", err)
	}

	// Configured and used, then a value breaks: the state is still shown.
	os.WriteFile(s.cfgPath, good, 0o600)
	if _, errOut, code := s.run(t, "sync"); code != exitOK {
		t.Fatalf("sync: %d %s", code, errOut)
	}
	os.WriteFile(s.cfgPath, []byte("[destination]\nroot = \"relative\"\n"), 0o600)
	out, errOut, code := s.run(t, "status")
	if code != exitOK || !strings.Contains(out, `"relative" must be an absolute path`) || !strings.Contains(out, "confirmed 3") {
		t.Errorf("status with a broken configuration: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	out, errOut, code = s.run(t, "log")
	if code != exitOK || !strings.Contains(errOut, "must be an absolute path") || !strings.Contains(out, "Saved") {
		t.Errorf("log with a broken configuration: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// The commands that act still refuse.
	if _, errOut, code := s.run(t, "sync"); code != exitConfig || !strings.Contains(errOut, "absolute") {
		t.Errorf("sync with a broken configuration: %d %s", code, errOut)
	}
	os.Remove(s.cfgPath)
	if _, errOut, code := s.run(t, "sync"); code != exitConfig || !strings.Contains(errOut, want) {
		t.Errorf("sync without a configuration: %d %s", code, errOut)
	}
}

// status shows the last good pass in local time, as log does, and how long
// ago; --json keeps RFC 3339.
func TestStatusShowsLocalTimeAndHowLongAgo(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 2, Seed: 5})
	s.extraEnv = []string{"TZ=Asia/Kolkata"} // +05:30: local differs from UTC
	if _, errOut, code := s.run(t, "sync"); code != exitOK {
		t.Fatalf("sync: %d %s", code, errOut)
	}
	out, _, _ := s.run(t, "status", "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339, rep.LastPassOK)
	if err != nil {
		t.Fatalf("last_pass_ok %q is not RFC 3339: %v", rep.LastPassOK, err)
	}
	ist, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	out, _, _ = s.run(t, "status")
	want := "last good pass: " + at.In(ist).Format("2006-01-02 15:04:05") + " (less than a minute ago)"
	if !strings.Contains(out, want) {
		t.Fatalf("status does not say %q:\n%s", want, out)
	}
	log, _, _ := s.run(t, "log", "-n", "1")
	if !strings.HasPrefix(log, at.In(ist).Format("2006-01-02 ")) {
		t.Fatalf("log and status disagree on the day: %q", log)
	}
}

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-5 * time.Second:               "less than a minute ago", // a clock set back
		59 * time.Second:               "less than a minute ago",
		time.Minute:                    "1 minute ago",
		3*time.Minute + 50*time.Second: "3 minutes ago",
		time.Hour:                      "1 hour ago",
		47 * time.Hour:                 "47 hours ago",
		72 * time.Hour:                 "3 days ago",
	} {
		if got := ago(d); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
}
