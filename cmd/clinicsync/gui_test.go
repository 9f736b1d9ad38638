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
	// -displayfd: Xvfb picks a free display and writes its number once it
	// accepts connections (a fixed sleep and a random number both failed
	// under load). -noreset: by default the server resets when its last
	// client leaves, and a client connecting meanwhile fails ("Failed to
	// open display").
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	x := exec.Command("Xvfb", "-displayfd", "3", "-noreset", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	x.ExtraFiles = []*os.File{w}
	var xerr bytes.Buffer
	x.Stderr = &xerr
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		x.Process.Kill()
		x.Wait()
		if t.Failed() {
			t.Logf("Xvfb said:\n%s", xerr.String())
		}
	})
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb did not start: %v", err)
	}
	display := ":" + strings.TrimSpace(line)
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
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") && !strings.HasPrefix(kv, "DISPLAY=") &&
			!strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") {
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
	buses := autolaunched()
	s := newSetup(t, sim.Options{Documents: 12, Patients: 3, Seed: 21})
	c := guiCmd(s, display, "")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the window", 60*time.Second, func() bool { return len(windows(display)) == 1 })
	waitFor(t, "12 documents on disk", 30*time.Second, func() bool { return len(tree(t, s.root)) == 12 })
	if err := terminate(c, 20*time.Second); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Fatalf("panicked:\n%s", stderr.String())
	}
	if n := len(s.sim.StatusCalls()); n != 12 {
		t.Fatalf("%d confirmations, want 12", n)
	}
	if n := autolaunched() - buses; n > 0 {
		t.Fatalf("the app left %d autolaunched dbus-daemon behind", n)
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

// TestQuitWhileThePointerMoves quits the app while the pointer sweeps the
// window, crossing entries and buttons (so the cursor shape changes).
// Fyne 2.7.1 closes its windows before its loop stops, and a pointer event
// for a closing window panics inside glfw (fyne-io/fyne#5981; it once
// failed CI here). The app hides its window and lets the loop drain first.
func TestQuitWhileThePointerMoves(t *testing.T) {
	display := xvfb(t)
	s := newSetup(t, sim.Options{Documents: 2, Seed: 23})
	rounds := 6
	if testing.Short() {
		rounds = 2
	}
	for round := range rounds {
		c := guiCmd(s, display, "")
		var stderr bytes.Buffer
		c.Stderr = &stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for len(windows(display)) != 1 {
			if time.Now().After(deadline) {
				c.Process.Kill()
				c.Wait()
				x := exec.Command("xdotool", "getdisplaygeometry")
				x.Env = append(os.Environ(), "DISPLAY="+display)
				out, err := x.CombinedOutput()
				t.Fatalf("round %d: no window after 60 s (the X server answers xdotool: %v %s)\n%s", round, err, out, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		stop := make(chan struct{})
		swept := make(chan struct{})
		go func() { // sweep the pointer over the window until the process is gone
			defer close(swept)
			args := []string{}
			for y := 10; y < 640; y += 23 {
				for x := 10; x < 980; x += 97 {
					args = append(args, "mousemove", fmt.Sprint(x), fmt.Sprint(y))
				}
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				x := exec.Command("xdotool", args...)
				x.Env = append(os.Environ(), "DISPLAY="+display)
				x.Run()
			}
		}()
		time.Sleep(time.Duration(200+rand.IntN(400)) * time.Millisecond)
		err := terminate(c, 20*time.Second)
		close(stop)
		<-swept
		if err != nil || strings.Contains(stderr.String(), "panic") {
			t.Fatalf("round %d: %v\n%s", round, err, stderr.String())
		}
	}
}
