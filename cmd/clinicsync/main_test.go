package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// binary is the real clinicsync, built once for the tests that run it.
var binary string

func TestMain(m *testing.M) {
	if os.Getenv("CLINICSYNC_BENCH_BASELINE") != "" {
		os.Exit(baselineDownload())
	}
	if os.Getenv("CLINICSYNC_BENCH_POLL") != "" {
		os.Exit(idlePoller())
	}
	dir, err := os.MkdirTemp("", "clinicsync-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "clinicsync")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	buses := autolaunched()
	code := m.Run()
	os.RemoveAll(dir)
	if n := autolaunched() - buses; n > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the binary left %d autolaunched dbus-daemon behind\n", n)
		code = 1
	}
	os.Exit(code)
}

// autolaunched counts the session buses dbus-launch started on its own
// (they outlive the program that asked for one); 0 where pgrep is missing.
func autolaunched() int {
	out, _ := exec.Command("pgrep", "-f", "dbus-daemon --syslog --fork").Output()
	return len(strings.Fields(string(out)))
}

// setup is a simulator on loopback and a configuration pointing at it.
type setup struct {
	sim      *sim.Server
	url      string
	dir      string
	root     string
	cfgPath  string
	dataDir  string
	extraEnv []string
}

func newSetup(t testing.TB, o sim.Options) *setup {
	t.Helper()
	s := sim.New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.SetBaseURL(ts.URL)
	dir := t.TempDir()
	st := &setup{sim: s, url: ts.URL, dir: dir, root: filepath.Join(dir, "Patients"),
		cfgPath: filepath.Join(dir, "config.toml"), dataDir: filepath.Join(dir, "data")}
	os.Mkdir(st.root, 0o755)
	cfg := config.Default()
	cfg.Askara.APIURL = ts.URL
	cfg.Destination.Root = st.root
	cfg.Destination.SoftwareID = "cmd_test"
	if err := cfg.Save(st.cfgPath); err != nil {
		t.Fatal(err)
	}
	return st
}

func (s *setup) cmd(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, binary, args...)
	c.Env = append(os.Environ(), "CLINICSYNC_CONFIG="+s.cfgPath, "CLINICSYNC_DATA_DIR="+s.dataDir,
		"CLINICSYNC_ACCESS_TOKEN=cmd-test-token")
	c.Env = append(c.Env, s.extraEnv...)
	return c
}

// run runs the binary to the end and returns stdout, stderr and the exit code.
func (s *setup) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := s.cmd(ctx, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"cmd-test-token", "signature="} {
		if strings.Contains(out.String()+errb.String(), leak) {
			t.Fatalf("%q leaked into the output of %v", leak, args)
		}
	}
	return out.String(), errb.String(), code
}

func TestCommandsAndExitCodes(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 30, Patients: 3, Hostile: true, Seed: 21})

	out, errOut, code := s.run(t, "sync")
	if code != exitFailing || !strings.Contains(out, "confirmed") || !strings.Contains(errOut, "still need attention") {
		t.Fatalf("sync with failing hostile documents: code %d\n%s\n%s", code, out, errOut)
	}

	out, _, code = s.run(t, "status", "--json")
	var rep statusReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("status --json: %d %s", code, out)
	}
	landing := 0
	for _, x := range s.sim.Expected() {
		if x.Land {
			landing++
		}
	}
	if rep.Counts["confirmed"] != landing || len(rep.Failures) != len(s.sim.Expected())-landing {
		t.Fatalf("status counts %v, %d failures; want %d confirmed", rep.Counts, len(rep.Failures), landing)
	}
	for _, f := range rep.Failures {
		if f.Error == "" || f.UUID == "" {
			t.Fatalf("failure without a reason: %+v", f)
		}
	}

	out, _, code = s.run(t, "status")
	if code != 0 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "clinicsync retry") {
		t.Fatalf("status: %s", out)
	}

	out, _, code = s.run(t, "log", "-n", "5")
	if code != 0 || strings.Count(out, "\n") != 5 {
		t.Fatalf("log -n 5: %q", out)
	}
	out, _, _ = s.run(t, "log", "--json", "--level", "error", "-n", "1000")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct{ Level, Message string }
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Level != "error" {
			t.Fatalf("log --json line %q", line)
		}
	}

	bad := rep.Failures[0].UUID
	_, errOut, code = s.run(t, "retry", bad)
	if code != exitFailing || errOut == "" {
		t.Fatalf("retry of an invalid PDF: %d %s", code, errOut)
	}
	_, errOut, code = s.run(t, "retry", bad)
	if code != exitFailing || !strings.Contains(errOut, "try again in") {
		t.Fatalf("second retry within 30 s must be refused with the seconds left: %d %s", code, errOut)
	}

	// A second sync changes nothing: exit 1 still (failures stay listed).
	before := len(s.sim.StatusCalls())
	if _, _, code = s.run(t, "sync"); code != exitFailing || len(s.sim.StatusCalls()) != before {
		t.Fatalf("idempotent re-run: code %d, %d new status calls", code, len(s.sim.StatusCalls())-before)
	}
}

func TestConfigurationAndSignInProblemsExit2(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 1, Seed: 1})
	s.extraEnv = []string{"CLINICSYNC_ACCESS_TOKEN="}
	if _, errOut, code := s.run(t, "sync"); code != exitConfig || !strings.Contains(errOut, "CLINICSYNC_ACCESS_TOKEN") {
		t.Fatalf("no token: %d %s", code, errOut)
	}
	s.extraEnv = nil
	s.sim.SetToken("the-real-one")
	if _, errOut, code := s.run(t, "sync"); code != exitConfig || !strings.Contains(errOut, "sign in") {
		t.Fatalf("refused token: %d %s", code, errOut)
	}
	os.WriteFile(s.cfgPath, []byte("[destination]\nroot = \"relative\"\n"), 0o600)
	if _, errOut, code := s.run(t, "sync"); code != exitConfig || !strings.Contains(errOut, "absolute") {
		t.Fatalf("bad config: %d %s", code, errOut)
	}
	if _, _, code := s.run(t, "frobnicate"); code != exitConfig {
		t.Fatalf("unknown command: %d", code)
	}
}

func TestCleanRunExitsZero(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 12, Patients: 2, Seed: 8, Format: sim.FormatArray})
	if out, errOut, code := s.run(t, "sync"); code != 0 {
		t.Fatalf("clean sync: %d %s %s", code, out, errOut)
	}
}

// tree maps every file below root to its SHA-256; temp files are reported.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if p == filepath.Join(root, dest.LeaseFile) {
			return nil // the writer's lease (run), not a document: its heartbeat differs each time
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	return out
}

// The real binary is killed with SIGKILL at random moments of a
// 300-document sync, again and again; after a final run the folder and the
// platform's state equal those of an uninterrupted run.
func TestCrashRecoverySIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	o := sim.Options{Documents: 300, Patients: 30, Hostile: true, Seed: 77, PDFSize: 128 << 10, Latency: 10 * time.Millisecond}
	ref := newSetup(t, o)
	began := time.Now()
	if _, errOut, code := ref.run(t, "sync"); code != exitFailing {
		t.Fatalf("reference run: %d %s", code, errOut)
	}
	full := time.Since(began)
	want := tree(t, ref.root)

	s := newSetup(t, o)
	rng := rand.New(rand.NewPCG(1, 2))
	kills, progress := 0, []int{}
	for i := 0; i < 12; i++ {
		c := s.cmd(context.Background(), "sync")
		c.Stdout, c.Stderr = io.Discard, io.Discard
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		// A random moment within the first quarter of the time a whole run
		// takes, so most runs die with work in flight.
		time.Sleep(time.Duration(rng.Int64N(int64(full / 4))))
		if err := c.Process.Signal(syscall.SIGKILL); err == nil {
			kills++
		}
		c.Wait()
		synced := 0
		for _, x := range s.sim.Expected() {
			if s.sim.Synchronized(x.UUID) {
				synced++
			}
		}
		progress = append(progress, synced)
	}
	if _, errOut, code := s.run(t, "sync"); code != exitFailing {
		t.Fatalf("final run: %d %s", code, errOut)
	}
	got := tree(t, s.root)
	for rel := range got {
		if strings.Contains(rel, ".clinicsync-") {
			t.Errorf("temp file left: %s", rel)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d files after crashes, %d in the uninterrupted run", len(got), len(want))
	}
	for rel, sha := range want {
		if got[rel] != sha {
			t.Errorf("%s: %q after crashes, %q uninterrupted", rel, got[rel], sha)
		}
	}
	for _, x := range s.sim.Expected() {
		if x.Land != s.sim.Synchronized(x.UUID) {
			t.Errorf("%s: should land %v, synchronized %v", x.UUID, x.Land, s.sim.Synchronized(x.UUID))
		}
	}
	for _, c := range s.sim.StatusCalls() {
		if c.Status.Success && !strings.HasPrefix(c.Status.Path, s.root) {
			t.Errorf("confirmed path %s outside the root", c.Status.Path)
		}
	}
	t.Logf("uninterrupted run %v; %d kills, documents confirmed after each: %v; %d status calls (uninterrupted: %d)",
		full.Round(time.Millisecond), kills, progress, len(s.sim.StatusCalls()), len(ref.sim.StatusCalls()))
}

// `run` syncs at once, keeps polling, and stops cleanly on SIGTERM.
func TestRunStopsCleanlyOnSIGTERM(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM")
	}
	s := newSetup(t, sim.Options{Documents: 20, Patients: 2, Seed: 4})
	c := s.cmd(context.Background(), "run")
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(s.sim.StatusCalls()) < 20 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// A document that arrives later is picked up by the poll loop only;
	// here it is enough that the first pass ran.
	if err := terminate(c, 10*time.Second); err != nil {
		t.Fatalf("run: %v:\n%s", err, out.String())
	}
	if len(s.sim.StatusCalls()) != 20 || !strings.Contains(out.String(), "Saved") {
		t.Fatalf("%d confirmations; output:\n%s", len(s.sim.StatusCalls()), out.String())
	}
}

// terminate sends SIGTERM and waits up to within for the process to end;
// past that it kills it and says so.
func terminate(c *exec.Cmd, within time.Duration) error {
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		c.Process.Kill()
		<-done
		return fmt.Errorf("still running %v after SIGTERM", within)
	}
}

// No command prints a locale error under the C locales of services, cron
// and scripts (Fyne's lang package parses the locale when the process
// starts: three "Fyne error: Error parsing user locale C" lines under
// LANG=C.UTF-8, for every command).
func TestLocaleErrorsNeverPrinted(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 2, Seed: 6})
	for _, env := range [][]string{
		{"LANG=C.UTF-8"}, {"LANG=C"}, {"LC_ALL=POSIX"}, {"LC_ALL=C.UTF-8"}, {"LANG=POSIX.UTF-8"}, {"LANG="},
		{"LANG=en_US.UTF-8", "LANGUAGE=fr::"},
	} {
		s.extraEnv = append([]string{"LANG=", "LC_ALL=", "LC_MESSAGES=", "LANGUAGE="}, env...)
		for _, args := range [][]string{{"version"}, {"status"}, {"log"}, {"sync", "--help"}, {"help"}} {
			out, errOut, code := s.run(t, args...)
			all := strings.ReplaceAll(out+errOut, s.dir, "") // the test's folder is named after it
			if strings.Contains(strings.ToLower(all), "locale") || (code != 0 && len(args) == 1) {
				t.Errorf("%v %v: exit %d\n%s%s", env, args, code, out, errOut)
			}
		}
	}
}
