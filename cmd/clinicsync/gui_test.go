//go:build cgo && linux

package main

import (
	"bufio"
	"bytes"
	"context"
	endian "encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/app/instance"
	"github.com/clinicsync/clinicsync/sync/config"
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

// trayHost plays the desktop's tray host on bus: it owns the
// StatusNotifierWatcher name and counts the icons that register with it.
func trayHost(t *testing.T, bus string) *atomic.Int32 {
	t.Helper()
	conn, err := dbus.Connect(bus)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w := &watcher{}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil ||
		reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request name: %v %v", reply, err)
	}
	return &w.registered
}

type watcher struct{ registered atomic.Int32 }

func (w *watcher) RegisterStatusNotifierItem(string) *dbus.Error {
	w.registered.Add(1)
	return nil
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
	registered := trayHost(t, bus)
	s := newSetup(t, sim.Options{Documents: 2, Seed: 22})
	// With a tray host the app has a tray, so --hidden starts with no window.
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
	waitFor(t, "the tray icon registered with the tray host", 10*time.Second, func() bool { return registered.Load() > 0 })
	second := guiCmd(s, display, bus)
	out, err := second.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already running") {
		t.Fatalf("second launch: %v\n%s", err, out)
	}
	waitFor(t, "the first instance's window", 10*time.Second, func() bool { return len(windows(display)) == 1 })
	// Quit with a tray must not crash either.
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

// The tray app with no configuration file opens its window (the first-run
// setup) and keeps running, instead of printing "root is not set" to a
// standard error nobody sees (a GUI program on Windows has no console)
// and exiting. Headless commands still exit 2.
func TestGUIWithoutConfigurationOpensSetup(t *testing.T) {
	display := xvfb(t)
	s := newSetup(t, sim.Options{Seed: 24})
	if err := os.Remove(s.cfgPath); err != nil {
		t.Fatal(err)
	}
	c := guiCmd(s, display, "")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	defer c.Process.Kill()
	deadline := time.After(60 * time.Second)
	for len(windows(display)) != 1 {
		select {
		case err := <-exited:
			t.Fatalf("exited without a window: %v\n%s", err, stderr.String())
		case <-deadline:
			t.Fatalf("no window after 60 s\n%s", stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	select {
	case err := <-exited:
		t.Fatalf("exited after showing its window: %v\n%s", err, stderr.String())
	default:
	}
	c.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20 s after SIGTERM\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "root is not set") || strings.Contains(stderr.String(), "panic") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
	if _, err := os.Stat(s.cfgPath); !os.IsNotExist(err) {
		t.Fatalf("a configuration file was written before the setup finished: %v", err)
	}
	// Scripts keep their exit code, and are told how to configure.
	for _, cmd := range []string{"sync", "run"} {
		if _, errOut, code := s.run(t, cmd); code != exitConfig || !strings.Contains(errOut, "not configured yet") {
			t.Fatalf("%s without a configuration: exit %d, %s", cmd, code, errOut)
		}
	}
}

// A session bus with no tray host (stock GNOME, a private bus here): the
// window is the only way in, so --hidden shows it, and closing it quits
// instead of hiding the app for good. One plain line says why.
func TestTrayHostMissingClosingTheWindowQuits(t *testing.T) {
	display := xvfb(t)
	bus := sessionBus(t)
	s := newSetup(t, sim.Options{Documents: 1, Seed: 25})
	c := guiCmd(s, display, bus, "--hidden")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	defer c.Process.Kill()
	waitFor(t, "the window --hidden must show without a tray host", 60*time.Second, func() bool { return len(windows(display)) == 1 })
	waitFor(t, "the first sync", 30*time.Second, func() bool { return len(tree(t, s.root)) == 1 })
	closeWindow(t, display, windows(display)[0])
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20 s after its window was closed\n%s", stderr.String())
	}
	out := stderr.String()
	if strings.Count(out, "no tray on this desktop") != 1 || strings.Contains(out, "panic") {
		t.Fatalf("stderr:\n%s", out)
	}
}

// No alarming noise on the terminal: Fyne's own log lines ("Fyne error:
// Unable to connect to session D-Bus", three lines for each notification
// on a desktop without D-Bus) go to the debug log, once each.
func TestGUIToolkitErrorsGoToTheDebugLog(t *testing.T) {
	display := xvfb(t)
	s := newSetup(t, sim.Options{Seed: 26})
	// One document that fails (an HTML page instead of a PDF): the app
	// sends a notification, which cannot work without D-Bus.
	s.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{FirstName: "A", LastName: "B"},
		PDF: clinicsync.PDF{FileName: "a.pdf"}}, Content: sim.Content{Kind: sim.ContentHTML}})
	c := guiCmd(s, display, "")
	c.Env = append(c.Env, "CLINICSYNC_LOG=debug")
	var stderr lockedBuffer // the process writes it while waitFor reads it
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Process.Kill()
	logFile := filepath.Join(s.dataDir, "clinicsync.log")
	waitFor(t, "the notification's D-Bus error in the debug log (or on stderr)", 60*time.Second, func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "Unable to connect to session D-Bus") ||
			strings.Contains(stderr.String(), "Unable to connect to session D-Bus")
	})
	if err := terminate(c, 20*time.Second); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	if out := stderr.String(); strings.Contains(out, "Fyne error") || strings.Count(out, "\n") > 1 {
		t.Fatalf("noise on the terminal:\n%s", out)
	}
	b, _ := os.ReadFile(logFile)
	if !strings.Contains(string(b), "level=DEBUG") || strings.Count(string(b), "Unable to connect to session D-Bus") != 1 {
		t.Fatalf("the debug log:\n%s", b)
	}
}

// closeWindow asks the window to close as a window manager's close button
// does: a WM_DELETE_WINDOW client message (Xvfb has no window manager, and
// xdotool's windowclose destroys the window instead). Plain X11 protocol
// over the display's socket: no X library in the test binary.
func closeWindow(t *testing.T, display, window string) {
	t.Helper()
	var win uint32
	if _, err := fmt.Sscan(window, &win); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("unix", "/tmp/.X11-unix/X"+strings.TrimPrefix(display, ":"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	le := endian.LittleEndian
	// Connection setup: little-endian, protocol 11.0, no authorisation.
	setup := []byte{'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if _, err := conn.Write(setup); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 8)
	if _, err := io.ReadFull(conn, head); err != nil || head[0] != 1 {
		t.Fatalf("X11 setup refused: %v %v", err, head)
	}
	if _, err := io.ReadFull(conn, make([]byte, 4*int(le.Uint16(head[6:])))); err != nil {
		t.Fatal(err)
	}
	atom := func(name string) uint32 {
		n := len(name)
		req := make([]byte, 8+(n+3)/4*4)
		req[0] = 16 // InternAtom
		le.PutUint16(req[2:], uint16(len(req)/4))
		le.PutUint16(req[4:], uint16(n))
		copy(req[8:], name)
		if _, err := conn.Write(req); err != nil {
			t.Fatal(err)
		}
		rep := make([]byte, 32)
		if _, err := io.ReadFull(conn, rep); err != nil || rep[0] != 1 {
			t.Fatalf("InternAtom %s: %v %v", name, err, rep)
		}
		return le.Uint32(rep[8:])
	}
	protocols, del := atom("WM_PROTOCOLS"), atom("WM_DELETE_WINDOW")
	req := make([]byte, 44)
	req[0] = 25 // SendEvent, to the client that made the window (event mask 0)
	le.PutUint16(req[2:], 11)
	le.PutUint32(req[4:], win)
	ev := req[12:]
	ev[0], ev[1] = 33, 32 // ClientMessage, format 32
	le.PutUint32(ev[4:], win)
	le.PutUint32(ev[8:], protocols)
	le.PutUint32(ev[12:], del) // data[0]; data[1] = CurrentTime
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	atom("WM_PROTOCOLS") // a round trip: the event was sent
}

// An upgrade closes the running tray app and starts the new one the same
// way: quit --for-update ends it cleanly (the engine stopped, no panic)
// and notes how it was started; relaunch starts it again, hidden as it
// was. A second start at login (--hidden) while it runs ends quietly, and
// the installer's start at login (--at-login) obeys "Start at login" off.
func TestQuitForUpdateAndRelaunch(t *testing.T) {
	display := xvfb(t)
	bus := sessionBus(t)
	registered := trayHost(t, bus)
	s := newSetup(t, sim.Options{Documents: 2, Seed: 23})
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
	waitFor(t, "the tray icon", 10*time.Second, func() bool { return registered.Load() > 0 })

	again := guiCmd(s, display, bus, "--hidden")
	if out, err := again.CombinedOutput(); err != nil || len(out) != 0 {
		t.Fatalf("second --hidden start: %v %q", err, out)
	}
	if w := windows(display); len(w) != 0 {
		t.Fatalf("a second start at login showed the window: %v", w)
	}

	out, errOut, code := s.run(t, "quit", "--for-update")
	if code != exitOK || !strings.Contains(out, "has quit") {
		t.Fatalf("quit: exit %d\n%s%s", code, out, errOut)
	}
	select {
	case err := <-exited:
		if err != nil || strings.Contains(stderr.String(), "panic") {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Second): // quit returns once the lock is released: the process is ending
		if err := <-exited; err != nil {
			t.Fatalf("exit: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dataDir, relaunchFile)); err != nil {
		t.Fatal("quit --for-update noted nothing")
	}

	t.Cleanup(func() { instance.Quit(s.dataDir, 20*time.Second) }) // whatever the test leaves running
	relaunch := guiCmd(s, display, bus, "relaunch")
	if out, err := relaunch.CombinedOutput(); err != nil || !strings.Contains(string(out), "started again") {
		t.Fatalf("relaunch: %v\n%s", err, out)
	}
	waitFor(t, "the relaunched tray app", 60*time.Second, func() bool { return instance.Running(s.dataDir) })
	if w := windows(display); len(w) != 0 {
		t.Fatalf("the relaunched app, hidden before, showed its window: %v", w)
	}
	if out, _, code := s.run(t, "quit"); code != exitOK || !strings.Contains(out, "has quit") {
		t.Fatalf("second quit: exit %d %s", code, out)
	}
	if out, _, code := s.run(t, "relaunch"); code != exitOK || out != "" {
		t.Fatalf("relaunch without a note: exit %d %q", code, out)
	}

	// Start at login turned off: the installer's entry ends at once.
	c, _ := config.Load(s.cfgPath)
	c.App.StartAtLogin = false
	c.Save(s.cfgPath)
	atLogin := guiCmd(s, display, bus, "--hidden", "--at-login")
	if out, err := atLogin.CombinedOutput(); err != nil || len(out) != 0 || instance.Running(s.dataDir) {
		t.Fatalf("--at-login with start at login off: %v %q", err, out)
	}
}
