package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/config"
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

// A documents folder that does not exist is a configuration problem
// (exit 2, said before any pass output); once documents were saved in it,
// its absence means a drive or share that is not connected: not reachable
// right now (exit 4), nothing done. Neither creates the folder.
func TestSyncTellsAMissingFolderFromAnUnreachableOne(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 3, Seed: 9})
	os.Remove(s.root)
	out, errOut, code := s.run(t, "sync")
	if code != exitConfig || out != "" || !strings.Contains(errOut, s.root+" does not exist") || !strings.Contains(errOut, s.cfgPath) {
		t.Fatalf("sync into a folder that never existed: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if _, err := os.Stat(s.root); !os.IsNotExist(err) {
		t.Fatalf("sync created the documents folder (%v)", err)
	}
	os.Mkdir(s.root, 0o755)
	if _, errOut, code := s.run(t, "sync"); code != exitOK {
		t.Fatalf("sync: %d %s", code, errOut)
	}
	// The share is unplugged.
	if err := os.Rename(s.root, s.root+".unplugged"); err != nil {
		t.Fatal(err)
	}
	s.sim.AddDocument(sim.Fixture{})
	out, errOut, code = s.run(t, "sync")
	if code != exitUnavailable || out != "" || !strings.Contains(errOut, s.root+" is not reachable") ||
		!strings.Contains(errOut, "try again later") {
		t.Fatalf("sync into an unplugged share: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if _, err := os.Stat(s.root); !os.IsNotExist(err) {
		t.Fatalf("sync re-created the documents folder (%v)", err)
	}
	if err := os.Rename(s.root+".unplugged", s.root); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := s.run(t, "sync"); code != exitOK {
		t.Fatalf("sync after the share is back: %d %s", code, errOut)
	}
	if n := len(tree(t, s.root)); n != 4 {
		t.Fatalf("%d files after the share came back, want 4", n)
	}
}

// Askara not answering is "not reachable right now" too (exit 4), not
// "documents still failing".
func TestSyncWithAskaraUnreachableExits4(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 1, Seed: 9})
	cfg, err := config.Load(s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Askara.APIURL = "http://" + freeAddr(t)
	if err := cfg.Save(s.cfgPath); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := s.run(t, "sync")
	if code != exitUnavailable || out != "" || !strings.Contains(errOut, "Nothing answers at "+cfg.Askara.APIURL) {
		t.Fatalf("sync with nothing at api_url: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// `run` keeps going without its documents folder (a share that is mounted
// late, say), never creates it, and delivers once it appears.
func TestRunWaitsForTheDocumentsFolder(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 3, Seed: 10})
	cfg, err := config.Load(s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Askara.PollInterval = config.Duration{Duration: 10 * time.Second}
	if err := cfg.Save(s.cfgPath); err != nil {
		t.Fatal(err)
	}
	os.Remove(s.root)
	c := s.cmd(context.Background(), "run")
	var out lockedBuffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	waitFor(t, "run to say the folder is missing", 20*time.Second, func() bool {
		return strings.Contains(out.String(), "is not reachable")
	})
	if !strings.Contains(out.String(), s.root+" does not exist") {
		t.Errorf("run does not say the folder is missing:\n%s", out.String())
	}
	if _, err := os.Stat(s.root); !os.IsNotExist(err) {
		t.Fatalf("run created the documents folder (%v)", err)
	}
	os.Mkdir(s.root, 0o755)
	waitFor(t, "the documents once the folder is there", 60*time.Second, func() bool {
		return len(s.sim.StatusCalls()) == 3
	})
	if err := terminate(c, 10*time.Second); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cleanEnv is the test's environment without any CLINICSYNC_ variable.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CLINICSYNC_") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// The simulator's start hint is complete: the configuration it prints is
// the file it names, whose documents folder exists, and the command it
// prints, pasted as it is, syncs every document.
func TestSimStartHintIsCopyPasteable(t *testing.T) {
	tmp := t.TempDir()
	c := exec.Command(binary, "sim", "--listen", "127.0.0.1:0", "--documents", "5")
	c.Env = cleanEnv("TMPDIR=" + tmp)
	pipe, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out []string
	command := ""
	timeout := time.After(20 * time.Second)
	for command == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("sim ended:\n%s", strings.Join(out, "\n"))
			}
			out = append(out, l)
			if strings.HasPrefix(l, "  CLINICSYNC_ACCESS_TOKEN=") {
				command = strings.TrimSpace(l)
			}
		case <-timeout:
			t.Fatalf("no command in the start hint:\n%s", strings.Join(out, "\n"))
		}
	}
	text := strings.Join(out, "\n")
	m := regexp.MustCompile(`written to (\S+config\.toml)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the hint names no configuration file:\n%s", text)
	}
	file, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, strings.TrimSpace(string(file))) {
		t.Errorf("the printed configuration is not the file's:\n%s\nfile:\n%s", text, file)
	}
	cfg, err := config.Load(m[1])
	if err != nil || cfg.Validate() != nil {
		t.Fatalf("the configuration is not valid: %v %v", err, cfg.Validate())
	}
	if fi, err := os.Stat(cfg.Destination.Root); err != nil || !fi.IsDir() {
		t.Fatalf("the documents folder %s does not exist: %v", cfg.Destination.Root, err)
	}

	// Paste: VAR=value clinicsync sync ...
	f := strings.Fields(command)
	env, args := f[0], f[2:]
	if f[1] != "clinicsync" {
		t.Fatalf("command %q", command)
	}
	run := exec.Command(binary, args...)
	run.Env = cleanEnv(env)
	b, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", command, err, b)
	}
	if n := len(tree(t, cfg.Destination.Root)); n != 5 {
		t.Fatalf("%d files after the pasted command, want 5:\n%s", n, b)
	}
}

// The headless demo is a day at the clinic (no hostile fixtures), and
// tells the window's Retry story: Élodie Martin's lab results fail (an
// error page instead of the PDF), a retry fails, another at once is
// refused (30 s rule), the simulator fixes the file after 20 s, and the
// retry allowed then delivers it. Each line names the document.
func TestHeadlessDemoTellsTheRetryStory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, binary, "demo", "--headless", "--documents", "8")
	c.Env = cleanEnv("TMPDIR=" + t.TempDir())
	began := time.Now()
	b, err := c.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("demo --headless: %v\n%s", err, out)
	}
	for _, bad := range []string{"hostile", "(no file name)", "Refused"} {
		if strings.Contains(out, bad) {
			t.Errorf("the demo says %q:\n%s", bad, out)
		}
	}
	doc := "lab_results.pdf for Élodie Martin"
	story := []string{doc + " failed", "Retry of " + doc + ": still failing", "Retry of " + doc + " again at once: refused",
		"try again in", "the simulator fixed the file", "Retry of " + doc + ": saved and confirmed"}
	rest := out
	for _, step := range story {
		i := strings.Index(rest, step)
		if i < 0 {
			t.Fatalf("the story lacks %q (or tells it out of order):\n%s", step, out)
		}
		rest = rest[i+len(step):]
	}
	m := regexp.MustCompile(`destination: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no destination:\n%s", out)
	}
	pdfs := 0
	for rel := range tree(t, m[1]) {
		if strings.HasSuffix(rel, ".pdf") {
			pdfs++
		}
	}
	if _, err := os.Stat(filepath.Join(m[1], "MARTIN_ÉLODIE", "lab_results.pdf")); err != nil || pdfs != 9 {
		t.Errorf("%d PDFs (want the 8 documents and the lab results), %v:\n%s", pdfs, err, out)
	}
	if took := time.Since(began); took < 30*time.Second {
		t.Errorf("the story took %v: the 30 s rule was not kept", took)
	}
}

// A document without a file name or type is named by its uuid, never
// "(no file name)".
func TestStatusNamesADocumentWithoutAFileName(t *testing.T) {
	s := newSetup(t, sim.Options{Seed: 4})
	d := s.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{FirstName: "Ana", LastName: "Lima"}},
		Content: sim.Content{Kind: sim.ContentHTML}})
	if _, errOut, code := s.run(t, "sync"); code != exitFailing {
		t.Fatalf("sync: %d %s", code, errOut)
	}
	out, _, _ := s.run(t, "status")
	if !strings.Contains(out, "  document "+d.UUID+" for Ana Lima") || strings.Contains(out, "(no file name)") {
		t.Fatalf("status:\n%s", out)
	}
}

// `make demo` and `make build` say, before a build that compiles the
// window's C parts from nothing, that it takes minutes; with them in the
// build cache they say nothing.
func TestMakeSaysTheFirstBuildTakesMinutes(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	note := func(gocache string, flags string) string {
		c := exec.Command("make", "-s", "--no-print-directory", "-C", "../..", "first-build-note", "NOTE_FLAGS="+flags)
		c.Env = cleanEnv()
		if gocache != "" {
			c.Env = append(c.Env, "GOCACHE="+gocache)
		}
		b, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("make first-build-note: %v\n%s", err, b)
		}
		return string(b)
	}
	if out := note(t.TempDir(), ""); !strings.Contains(out, "a few minutes") {
		t.Errorf("with an empty build cache: %q", out)
	}
	// TestMain built the binary (cgo, no -trimpath) with the usual cache.
	if out := note("", ""); out != "" {
		t.Errorf("with the C parts in the build cache: %q", out)
	}
	for _, target := range []string{"demo", "build"} {
		b, _ := exec.Command("make", "-n", "--no-print-directory", "-C", "../..", target).CombinedOutput()
		if !strings.Contains(string(b), "first-build-note") {
			t.Errorf("make %s does not say it:\n%s", target, b)
		}
	}
}
