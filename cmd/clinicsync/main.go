// Command clinicsync is Clinic Sync: it brings validated documents from an
// AI documentation platform into the practice software's folder. This file
// only wires parts together; the work happens in sync/..., store and app.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes (product.md, README.md): 0 ok, 1 items still failing, 2
// configuration or sign-in problem, 4 Askara or the documents folder not
// reachable right now (nothing was done: try again later).
const (
	exitOK          = 0
	exitFailing     = 1
	exitConfig      = 2
	exitInternal    = 3
	exitUnavailable = 4
)

// exitError carries an exit code up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

type command struct {
	name, args, help string
	run              func(ctx context.Context, env *env, args []string) error
}

func commands() []command {
	return []command{
		{"gui", "[--hidden]", "the tray app and its window (the default with no command)", cmdGUI},
		{"sync", "[--quiet]", "one reconcile pass, then exit (0 ok, 1 items still failing, 2 configuration or sign-in problem, " +
			"4 Askara or the documents folder not reachable right now)", cmdSync},
		{"run", "", "headless: poll until SIGINT/SIGTERM", cmdRun},
		{"login", "[--device] [--no-browser]", "sign in to Askara once; the sign-in is kept in the OS keychain", cmdLogin},
		{"logout", "", "sign out and remove the sign-in from the keychain", cmdLogout},
		{"status", "[--json]", "last pass, counts per state, failures", cmdStatus},
		{"retry", "UUID", "manual retry of one document (at most once per 30 s)", cmdRetry},
		{"log", "[-n N] [--json]", "the activity log, newest last", cmdLog},
		{"relay", "secret PLATFORM", "keep a webhook signing secret (read from standard input) in the keychain", cmdRelay},
		{"proxy", "login|logout|show", "keep the proxy's user and password (read from standard input) in the keychain; show the proxy in effect", cmdProxy},
		{"quit", "[--for-update]", "ask the Clinic Sync running for this user to quit, and wait until it has", cmdQuit},
		{"relaunch", "", "start Clinic Sync again as it ran before quit --for-update (the installer, after an upgrade)", cmdRelaunch},
		{"support-bundle", "[--out FILE] [--redact-names]", "write the support bundle for IT (the window's Export button's, with the system, free disk, " +
			"a write test of the documents folder, the clock); --redact-names hides patients' names", cmdSupportBundle},
		{"sim", "[--listen ADDR]", "the built-in Askara simulator, for demos and tests", cmdSim},
		{"demo", "[--headless]", "the tray app against the built-in simulator, in a temporary folder", cmdDemo},
		{"version", "", "print the version", cmdVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Clinic Sync %s: validated documents from Askara into the practice software's folder.\n\n", version)
	fmt.Fprintf(w, "Usage: clinicsync [COMMAND] [flags]   (no command: the tray app)\n\nCommands:\n")
	nameW, argsW := 0, 0
	for _, c := range commands() {
		nameW, argsW = max(nameW, len(c.name)), max(argsW, len(c.args))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s %-*s %s\n", nameW, c.name, argsW, c.args, c.help)
	}
	fmt.Fprintf(w, "\nA command's flags: clinicsync COMMAND --help, or clinicsync help COMMAND\n")
	fmt.Fprintf(w, "Common flags: --config FILE  --data-dir DIR   (env CLINICSYNC_CONFIG, CLINICSYNC_DATA_DIR)\n")
	fmt.Fprintf(w, "Credentials:  clinicsync login; CLINICSYNC_ACCESS_TOKEN overrides it for automation (never stored)\n")
	fmt.Fprintf(w, "Debug log:    CLINICSYNC_LOG=debug (to standard error; no tokens, no patient data)\n")
}

// commandUsage prints one command's usage: its synopsis, what it does,
// and every flag, the common ones last.
func commandUsage(w io.Writer, fs *flag.FlagSet) {
	name := fs.Name()
	for _, c := range commands() {
		if c.name == name {
			fmt.Fprintf(w, "Usage: %s\n\n%s.\n", strings.TrimSpace("clinicsync "+c.name+" "+c.args), upperFirst(c.help))
		}
	}
	var own, common []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" || f.Name == "data-dir" {
			common = append(common, f)
		} else {
			own = append(own, f)
		}
	})
	list := func(title string, flags []*flag.Flag) {
		if len(flags) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, f := range flags {
			arg, text := flag.UnquoteUsage(f)
			switch arg {
			case "int", "uint":
				arg = "N"
			case "float":
				arg = "F"
			case "duration":
				arg = "DURATION"
			case "string", "value":
				arg = "TEXT"
			}
			dash := "--"
			if len(f.Name) == 1 {
				dash = "-"
			}
			flagArg := strings.TrimSpace(dash + f.Name + " " + arg)
			switch f.DefValue {
			case "", "0", "false", "0s":
			default:
				text += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(w, "  %-24s %s\n", flagArg, text)
		}
	}
	list("Flags", own)
	list("Common flags", common)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	name := "gui" // no command: the tray app
	if len(args) > 0 {
		name = args[0]
	}
	switch {
	case name == "help" && len(args) > 1: // clinicsync help sim: as sim --help
		name, args = args[1], []string{args[1], "--help"}
	case name == "-h" || name == "--help" || name == "help":
		usage(stdout)
		return exitOK
	case name == "--version" || name == "-version":
		name = "version"
	case strings.HasPrefix(name, "-"): // flags of the tray app: clinicsync --hidden
		name, args = "gui", append([]string{"gui"}, args...)
	case len(args) == 0:
		args = []string{"gui"}
	}
	hasSessionBus() // on Linux without a session bus: no D-Bus autolaunch
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		e := &env{stdin: os.Stdin, stdout: stdout, stderr: stderr}
		err := c.run(ctx, e, args[1:])
		e.close()
		if err == nil {
			return exitOK
		}
		var xe *exitError
		if errors.As(err, &xe) {
			if xe.err != nil && xe.err.Error() != "" {
				fmt.Fprintln(stderr, "clinicsync:", xe.err)
			}
			return xe.code
		}
		fmt.Fprintln(stderr, "clinicsync:", err)
		return exitInternal
	}
	fmt.Fprintf(stderr, "clinicsync: unknown command %q\n\n", name)
	usage(stderr)
	return exitConfig
}

// hasDisplay reports whether a window can be shown: always on Windows and
// macOS, with an X11 or Wayland display elsewhere.
func hasDisplay() bool {
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}
