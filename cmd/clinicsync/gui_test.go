//go:build cgo && linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/sync/sim"
)

// The tray app as a process, in a real X server (Xvfb): it syncs, a second
// launch brings the first window forward and exits, and SIGTERM or Quit
// ends it cleanly with or without a D-Bus session (no tray host: the
// build-notes crash). Skipped where Xvfb or xdotool is missing.

func xvfb(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"Xvfb", "xdotool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make deps installs it)", tool)
		}
	}
	display := fmt.Sprintf(":%d", 150+rand.IntN(100))
	x := exec.Command("Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Process.Kill(); x.Wait() })
	time.Sleep(500 * time.Millisecond)
	return display
}

// windows lists the ids of visible windows named Clinic Sync.
func windows(display string) []string {
	c := exec.Command("xdotool", "search", "--onlyvisible", "--name", "^Clinic Sync$")
	c.Env = append(os.Environ(), "DISPLAY="+display)
	out, _ := c.Output()
	return strings.Fields(string(out))
}

// sessionBus starts a private D-Bus session daemon (no tray host on it)
// and returns its address.
func sessionBus(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon not installed")
	}
	d := exec.Command("dbus-daemon", "--session", "--nofork", "--print-address=1")
	out, err := d.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	return strings.TrimSpace(line)
}

// guiCmd runs the tray app with DISPLAY and, if bus is not "", that D-Bus
// session (else none at all).
func guiCmd(s *setup, display, bus string, args ...string) *exec.Cmd {
	c := exec.Command(binary, args...)
	env := []string{"DISPLAY=" + display, "LANG=en_US.UTF-8"}
	for _, kv := range s.cmd(context.Background()).Env {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") && !strings.HasPrefix(kv, "DISPLAY=") {
			env = append(env, kv)
		}
	}
	if bus != "" {
		env = append(env, "DBUS_SESSION_BUS_ADDRESS="+bus)
	}
	c.Env = env
	return c
}

func TestGUISyncsAndStopsCleanlyWithoutDBus(t *testing.T) {
	display := xvfb(t)
	s := newSetup(t, sim.Options{Documents: 12, Patients: 3, Seed: 21})
	c := guiCmd(s, display, "")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the window", 60*time.Second, func() bool { return len(windows(display)) == 1 })
	waitFor(t, "12 documents on disk", 30*time.Second, func() bool { return len(tree(t, s.root)) == 12 })
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		c.Process.Kill()
		t.Fatalf("still running 20 s after SIGTERM\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Fatalf("panicked:\n%s", stderr.String())
	}
	if n := len(s.sim.StatusCalls()); n != 12 {
		t.Fatalf("%d confirmations, want 12", n)
	}
}

func TestSecondLaunchShowsTheFirstWindow(t *testing.T) {
	display := xvfb(t)
	bus := sessionBus(t)
	s := newSetup(t, sim.Options{Documents: 2, Seed: 22})
	// With a D-Bus session the app has a tray, so --hidden starts with no window.
	first := guiCmd(s, display, bus, "--hidden")
	var stderr bytes.Buffer
	first.Stderr = &stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	defer first.Process.Kill()
	waitFor(t, "the first sync", 60*time.Second, func() bool { return len(tree(t, s.root)) == 2 })
	if w := windows(display); len(w) != 0 {
		t.Fatalf("--hidden showed a window: %v", w)
	}
	second := guiCmd(s, display, bus)
	out, err := second.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already running") {
		t.Fatalf("second launch: %v\n%s", err, out)
	}
	waitFor(t, "the first instance's window", 10*time.Second, func() bool { return len(windows(display)) == 1 })
	// Quit with a tray but no tray host (a session bus without a
	// StatusNotifier watcher) must not crash either.
	first.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20 s after SIGTERM\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Fatalf("panicked:\n%s", stderr.String())
	}
}
