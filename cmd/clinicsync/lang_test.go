package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// The command line shows the activity log, and status the failures'
// reasons, in French when the system's language is French and in English
// otherwise; `log --json` keeps the stored English in "message" and adds
// the key and arguments.
func TestLogSpeaksTheSystemLanguage(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 1, Patients: 1, Seed: 4})
	s.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{UUID: "00000000-0000-4000-8000-00000000b0b0",
		Patient: clinicsync.Patient{FirstName: "Élodie", LastName: "Martin"}, PDF: clinicsync.PDF{FileName: "lab_results.pdf"}},
		Content: sim.Content{Kind: sim.ContentHTML}})
	locale := func(env ...string) {
		s.extraEnv = append([]string{"LANG=", "LC_ALL=", "LC_MESSAGES=", "LANGUAGE="}, env...)
	}
	locale("LANG=C.UTF-8")
	if out, errOut, code := s.run(t, "sync"); code != exitFailing {
		t.Fatalf("sync: %d\n%s%s", code, out, errOut)
	}
	english := []string{"New document lab_results.pdf for Élodie Martin.",
		"lab_results.pdf for Élodie Martin failed: The file is not a PDF. It will be re-checked automatically."}
	french := []string{"Nouveau document lab_results.pdf pour Élodie Martin.",
		"Échec pour lab_results.pdf (Élodie Martin) : Le fichier n'est pas un PDF. Une nouvelle vérification sera faite automatiquement."}
	for _, c := range []struct {
		env       []string
		want, not []string
	}{
		{[]string{"LANG=C.UTF-8"}, english, french},
		{[]string{"LANG=en_GB.UTF-8"}, english, french},
		{[]string{"LANG=fr_FR.UTF-8"}, french, english},
		{[]string{"LANG=fr_CA.UTF-8", "LC_ALL=fr_CA.UTF-8"}, french, english},
		{[]string{"LANG=fr_FR.UTF-8", "LC_ALL=C.UTF-8"}, english, french}, // LC_ALL wins
	} {
		locale(c.env...)
		out, errOut, code := s.run(t, "log")
		if code != 0 {
			t.Fatalf("%v log: %d %s", c.env, code, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: log lacks %q:\n%s", c.env, w, out)
			}
		}
		for _, w := range c.not {
			if strings.Contains(out, w) {
				t.Errorf("%v: log has %q:\n%s", c.env, w, out)
			}
		}
	}

	locale("LANG=fr_FR.UTF-8")
	out, _, _ := s.run(t, "status")
	if !strings.Contains(out, "lab_results.pdf for Élodie Martin: Le fichier n'est pas un PDF.") {
		t.Errorf("status in French:\n%s", out)
	}
	out, _, _ = s.run(t, "log", "--json", "--level", "error")
	var e struct {
		Message string
		Text    clinicsync.Text
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &e); err != nil || e.Message != english[1] ||
		e.Text.Key != "%s for %s failed: %s It will be re-checked automatically." || e.Text.String() != english[1] {
		t.Errorf("log --json: %v\n%s", err, out)
	}
}

// `run` prints the activity lines as they happen, in the system's
// language too.
func TestRunLogLinesSpeakTheSystemLanguage(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM")
	}
	s := newSetup(t, sim.Options{Documents: 0, Seed: 4})
	s.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{UUID: "00000000-0000-4000-8000-00000000b0b0",
		Patient: clinicsync.Patient{FirstName: "Élodie", LastName: "Martin"}, PDF: clinicsync.PDF{FileName: "lab_results.pdf"}},
		Content: sim.Content{Kind: sim.ContentHTML}})
	s.extraEnv = []string{"LANG=fr_FR.UTF-8", "LC_ALL=", "LC_MESSAGES=", "LANGUAGE="}
	c := s.cmd(context.Background(), "run")
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failure report", 20*time.Second, func() bool { return len(s.sim.StatusCalls()) > 0 })
	if err := terminate(c, 10*time.Second); err != nil {
		t.Fatalf("run: %v:\n%s", err, out.String())
	}
	if want := "error Échec pour lab_results.pdf (Élodie Martin) : Le fichier n'est pas un PDF."; !strings.Contains(out.String(), want) {
		t.Fatalf("run's output lacks %q:\n%s", want, out.String())
	}
}
