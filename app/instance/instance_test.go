package instance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	helperDirEnv  = "CLINICSYNC_INSTANCE_HELPER_DIR"
	helperModeEnv = "CLINICSYNC_INSTANCE_HELPER_MODE"
)

// TestHelperProcess is not a test: run by the tests below as a separate
// process. As "primary" it acquires the folder, prints "ready", prints
// "shown" on every onShow and exits when stdin closes; as "secondary" it
// prints the outcome of one Acquire and exits. It never prints the token.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process for the multi-process tests")
	}
	quit := make(chan struct{})
	inst, err := AcquireWith(dir, Options{OnShow: func() { fmt.Println("shown") }, Version: "v9.8.7",
		OnQuit: func() { fmt.Println("quitting"); close(quit) }})
	switch {
	case os.Getenv(helperModeEnv) == "secondary" && err == ErrRunning:
		fmt.Println("running")
		os.Exit(0)
	case err != nil:
		fmt.Println("error:", err)
		os.Exit(1)
	case os.Getenv(helperModeEnv) == "secondary":
		fmt.Println("acquired")
		inst.Close()
		os.Exit(1)
	}
	fmt.Println("ready")
	stdin := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stdin) }()
	select {
	case <-stdin:
	case <-quit:
		time.Sleep(200 * time.Millisecond) // a little work before the end: Quit waits for the lock
	}
	inst.Close()
	os.Exit(0)
}

type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// startHelper runs TestHelperProcess in mode on dir.
func startHelper(t *testing.T, dir, mode string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, helperModeEnv+"="+mode)
	cmd.Stderr = io.Discard
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
	}()
	t.Cleanup(h.kill)
	return h
}

// expect waits for the helper's next line.
func (h *helper) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got, ok := <-h.lines:
		if !ok {
			t.Fatalf("helper exited; want %q", want)
		}
		if got != want {
			t.Fatalf("helper said %q, want %q", got, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("helper did not say %q", want)
	}
}

// kill ends the helper abruptly (SIGKILL on Unix, TerminateProcess on
// Windows), so it leaves its state behind like a crash.
func (h *helper) kill() {
	if h.cmd.ProcessState != nil {
		return
	}
	h.cmd.Process.Kill()
	for range h.lines { // the pipe closes when the process is gone
	}
	h.cmd.Wait()
}

// shortTimeouts makes failure cases fast for one test.
func shortTimeouts(t *testing.T) {
	n, s, r := notifyTimeout, serveTimeout, retryInterval
	notifyTimeout, serveTimeout, retryInterval = 500*time.Millisecond, 300*time.Millisecond, 20*time.Millisecond
	t.Cleanup(func() { notifyTimeout, serveTimeout, retryInterval = n, s, r })
}

func counter() (func(), func() int32) {
	var n atomic.Int32
	return func() { n.Add(1) }, n.Load
}

// A second process gets ErrRunning and the primary shows its window; after
// the primary is killed its leftover instance.json is ignored.
func TestSecondProcessShowsFirst(t *testing.T) {
	dir := t.TempDir()
	primary := startHelper(t, dir, "primary")
	primary.expect(t, "ready")

	onShow, shows := counter()
	inst, err := Acquire(dir, onShow)
	if err != ErrRunning {
		t.Fatalf("Acquire while another process runs: %v; want ErrRunning", err)
	}
	primary.expect(t, "shown")
	if shows() != 0 {
		t.Error("onShow of the second launch was called")
	}

	stale, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	primary.kill()
	if _, err := readState(dir); err != nil {
		t.Fatalf("the killed primary's instance.json should still be there: %v", err)
	}

	inst, err = Acquire(dir, nil)
	if err != nil {
		t.Fatalf("Acquire after the primary died: %v", err)
	}
	defer inst.Close()
	fresh, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Token == stale.Token || fresh.PID != os.Getpid() {
		t.Error("instance.json was not replaced")
	}
}

// The other direction: this process is primary, a second process is told
// ErrRunning and this process's onShow runs.
func TestSecondProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	shown := make(chan struct{}, 4)
	inst, err := Acquire(dir, func() { shown <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()

	second := startHelper(t, dir, "secondary")
	second.expect(t, "running")
	select {
	case <-shown:
	case <-time.After(10 * time.Second):
		t.Fatal("onShow not called")
	}
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("secondary: %v", err)
	}
}

// flock locks belong to the open file, so a second Acquire in the same
// process is refused too; after Close the folder can be acquired again.
func TestSecondAcquireInProcess(t *testing.T) {
	dir := t.TempDir()
	onShow, shows := counter()
	first, err := Acquire(dir, onShow)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, nil)
	if err != ErrRunning {
		t.Fatalf("second Acquire: %v; want ErrRunning", err)
	}
	if shows() != 1 {
		t.Errorf("onShow called %d times, want 1", shows())
	}

	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("instance.json after Close: %v", err)
	}
	third, err := Acquire(dir, nil)
	if err != nil {
		t.Fatalf("Acquire after Close: %v", err)
	}
	third.Close()
}

// Lock held but nobody answering: still ErrRunning, wrapped with the reason,
// and no second primary.
func TestLockedButNotAnswering(t *testing.T) {
	shortTimeouts(t)
	dir := t.TempDir()
	first, err := Acquire(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.ln.Close() // a hung primary

	_, err = Acquire(dir, nil)
	if !errors.Is(err, ErrRunning) || err == ErrRunning {
		t.Fatalf("Acquire: %v; want ErrRunning wrapped with a reason", err)
	}
	if strings.Contains(err.Error(), first.token()) {
		t.Error("the error message contains the token")
	}
}

func (i *Instance) token() string { return strings.TrimSuffix(string(i.tokenLine), "\n") }

// Only the exact token line and "show\n" trigger onShow.
func TestServerRefusesBadRequests(t *testing.T) {
	shortTimeouts(t)
	dir := t.TempDir()
	onShow, shows := counter()
	inst, err := Acquire(dir, onShow)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	addr := inst.ln.Addr().String()
	tok := inst.token()
	wrong := strings.Repeat("0", len(tok))
	if wrong == tok {
		wrong = strings.Repeat("1", len(tok))
	}

	for name, req := range map[string]string{
		"nothing":            "",
		"wrong token":        wrong + "\nshow\n",
		"short token":        tok[:32] + "\nshow\n",
		"other command":      tok + "\nstop\n",
		"no newline":         tok + "\nshow",
		"token only":         tok + "\n",
		"uppercase token":    strings.ToUpper(tok) + "\nshow\n",
		"a megabyte of junk": strings.Repeat("x", 1<<20),
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, req) // may fail once the server hangs up
		got, _ := io.ReadAll(c)
		c.Close()
		if len(got) != 0 {
			t.Errorf("%s: answered %q", name, got)
		}
	}
	if shows() != 0 {
		t.Fatalf("onShow called %d times for bad requests", shows())
	}

	// The server still works.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, tok+"\nshow\n")
	if got, _ := io.ReadAll(c); string(got) != okLine {
		t.Errorf("good request answered %q, want %q", got, okLine)
	}
	if shows() != 1 {
		t.Errorf("onShow called %d times, want 1", shows())
	}
}

// Close interrupts a client that connected and said nothing.
func TestCloseWithIdleConnection(t *testing.T) {
	inst, err := Acquire(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", inst.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // let the server accept it
	start := time.Now()
	if err := inst.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > serveTimeout/2 {
		t.Errorf("Close took %v", d)
	}
}

// With the lock free, whatever instance.json holds is ignored and replaced.
func TestStaleStateIgnored(t *testing.T) {
	for name, content := range map[string]string{
		"garbage": "{not json",
		"dead port": `{"pid":1,"port":` + strconv.Itoa(deadPort(t)) +
			`,"token":"` + strings.Repeat("ab", 32) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, stateFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			inst, err := Acquire(dir, nil)
			if err != nil {
				t.Fatalf("Acquire with a stale instance.json: %v", err)
			}
			defer inst.Close()
			st, err := readState(dir)
			if err != nil || st.PID != os.Getpid() || st.Port != inst.ln.Addr().(*net.TCPAddr).Port {
				t.Errorf("instance.json not replaced: pid %d, err %v", st.PID, err)
			}
		})
	}
}

// deadPort returns a loopback port nobody listens on.
func deadPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// The folder is created private and instance.json is 0600 with the pid,
// port and a 32-byte hex token.
func TestFilesAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "Clinic Sync")
	inst, err := Acquire(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != os.Getpid() || st.Port != inst.ln.Addr().(*net.TCPAddr).Port || len(st.Token) != 64 {
		t.Errorf("instance.json: pid %d port %d token length %d", st.PID, st.Port, len(st.Token))
	}
	if !bytes.Equal(inst.tokenLine, []byte(st.Token+"\n")) {
		t.Error("published token differs from the served one")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("files in the folder: %v, want instance.lock and instance.json", entries)
	}
	if runtime.GOOS == "windows" {
		return
	}
	for path, want := range map[string]os.FileMode{
		dir:                           0o700,
		filepath.Join(dir, stateFile): 0o600,
		filepath.Join(dir, lockFile):  0o600,
	} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, want)
		}
	}
}

// Quit asks the running copy to end, waits until it has, and says how it
// was started; with none running it says nothing and does nothing.
func TestQuitEndsTheRunningCopy(t *testing.T) {
	dir := t.TempDir()
	if l, err := Quit(dir, 5*time.Second); l != nil || err != nil {
		t.Fatalf("Quit with nothing running: %+v, %v", l, err)
	}
	primary := startHelper(t, dir, "primary")
	primary.expect(t, "ready")
	if !Running(dir) {
		t.Fatal("Running says no while the primary holds the lock")
	}
	l, err := Quit(dir, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	primary.expect(t, "quitting")
	if Running(dir) {
		t.Fatal("Quit returned before the primary released the lock")
	}
	if l == nil || l.Version != "v9.8.7" || l.Exe != primary.cmd.Path && filepath.Base(l.Exe) != filepath.Base(primary.cmd.Path) ||
		!slices.Contains(l.Args, "-test.run=^TestHelperProcess$") {
		t.Fatalf("launch %+v, want %s %v", l, primary.cmd.Path, primary.cmd.Args[1:])
	}
	// Then a new copy can start at once.
	inst, err := Acquire(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	inst.Close()
}

// Two users on one PC (a terminal server) each have their own data folder:
// each is the primary of its own, on its own loopback port, and a second
// launch of one user's app shows that user's window only.
func TestTwoUsersEachHoldTheirOwnInstance(t *testing.T) {
	onShowA, showsA := counter()
	onShowB, showsB := counter()
	a, err := Acquire(filepath.Join(t.TempDir(), "userA"), onShowA)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	dirB := filepath.Join(t.TempDir(), "userB")
	b, err := Acquire(dirB, onShowB)
	if err != nil {
		t.Fatalf("the second user's instance: %v", err)
	}
	defer b.Close()
	if a.ln.Addr().String() == b.ln.Addr().String() {
		t.Fatalf("both listen on %s", a.ln.Addr())
	}
	if _, err := Acquire(dirB, nil); err != ErrRunning {
		t.Fatalf("user B launches again: %v; want ErrRunning", err)
	}
	if showsA() != 0 || showsB() != 1 {
		t.Fatalf("shown: A %d times, B %d times; want 0 and 1", showsA(), showsB())
	}
}
