// Package autostart starts Clinic Sync when the current user logs in.
//
// An Entry describes the program; Enable installs it the way the operating
// system expects, Disable removes it and Enabled reports whether it is
// installed:
//
//   - Windows: a value named Entry.Name under
//     HKCU\Software\Microsoft\Windows\CurrentVersion\Run.
//   - macOS: a LaunchAgent at ~/Library/LaunchAgents/<ID>.plist.
//   - Linux and other Unix desktops: an XDG autostart entry at
//     $XDG_CONFIG_HOME/autostart/<ID>.desktop (~/.config when unset).
//
// Nothing is started now; the entry takes effect at the next login. Enable
// overwrites an existing entry, so calling it at every start keeps the
// recorded path current after the program has moved.
//
// The file contents are produced by pure functions (plist, desktopFile,
// windowsCommand) so they are tested on every platform.
package autostart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Entry describes the program to start at login.
type Entry struct {
	// ID is a reverse-DNS identifier such as "org.clinicsync.app"; it names
	// the macOS LaunchAgent and the XDG .desktop file.
	ID string
	// Name is the display name, e.g. "Clinic Sync"; it names the Windows
	// Run value.
	Name string
	// Exec is the absolute path of the executable.
	Exec string
	// Args are passed to the executable after its path.
	Args []string
}

// argv is the full command: the executable followed by its arguments.
func (e Entry) argv() []string {
	return append([]string{e.Exec}, e.Args...)
}

// validate reports an Entry that cannot be written safely. isAbs is the
// platform's notion of an absolute path (filepath.IsAbs at run time).
func (e Entry) validate(isAbs func(string) bool) error {
	if e.ID == "" || e.ID[0] == '.' || strings.Contains(e.ID, "..") {
		return fmt.Errorf("autostart: invalid ID %q", e.ID)
	}
	for _, r := range e.ID {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return fmt.Errorf("autostart: invalid ID %q: only letters, digits, '.', '-' and '_'", e.ID)
		}
	}
	if e.Name == "" {
		return errors.New("autostart: empty Name")
	}
	if !isAbs(e.Exec) {
		return fmt.Errorf("autostart: Exec %q is not an absolute path", e.Exec)
	}
	for _, s := range append([]string{e.Name}, e.argv()...) {
		if !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
			return fmt.Errorf("autostart: %q: control characters or invalid UTF-8", s)
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// plist returns the LaunchAgent property list that starts e at login.
func plist(e Entry) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>`)
	xml.EscapeText(&b, []byte(e.ID))
	b.WriteString("</string>\n\t<key>ProgramArguments</key>\n\t<array>\n")
	for _, a := range e.argv() {
		b.WriteString("\t\t<string>")
		xml.EscapeText(&b, []byte(a))
		b.WriteString("</string>\n")
	}
	b.WriteString(`	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
`)
	return b.Bytes()
}

// desktopFile returns the XDG autostart desktop entry that starts e.
func desktopFile(e Entry) []byte {
	quoted := make([]string, 0, len(e.Args)+1)
	for _, a := range e.argv() {
		quoted = append(quoted, desktopQuote(a))
	}
	return []byte("[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=" + desktopString(e.Name) + "\n" +
		"Exec=" + desktopString(strings.Join(quoted, " ")) + "\n" +
		"Terminal=false\n" +
		"X-GNOME-Autostart-enabled=true\n")
}

// desktopQuote quotes one Exec argument per the Desktop Entry
// Specification: an argument containing a reserved character is enclosed in
// double quotes, inside which '"', '`', '$' and '\' take a backslash. A
// literal '%' is written "%%" so it is not read as a field code.
func desktopQuote(arg string) string {
	arg = strings.ReplaceAll(arg, "%", "%%")
	if arg != "" && !strings.ContainsAny(arg, " \t\n\"'\\><~|&;$*?#()`") {
		return arg
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range arg {
		if strings.ContainsRune("\"`$\\", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// desktopString escapes a value of type string or localestring. The
// specification applies this escaping after the Exec quoting, so a
// backslash from desktopQuote is doubled again here.
func desktopString(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(s)
}

// windowsCommand returns the command line stored in the Run key. The
// executable is always quoted (a path cannot contain '"' on Windows); the
// arguments are quoted the way CommandLineToArgvW and the C runtime parse
// them.
func windowsCommand(e Entry) string {
	var b strings.Builder
	b.WriteString(`"` + e.Exec + `"`)
	for _, a := range e.Args {
		b.WriteByte(' ')
		b.WriteString(windowsQuote(a))
	}
	return b.String()
}

// windowsQuote quotes one argument for CommandLineToArgvW: backslashes are
// literal unless they precede a '"', so a run of them is doubled before an
// escaped quote and before the closing quote.
func windowsQuote(arg string) string {
	if arg != "" && !strings.ContainsAny(arg, " \t\"") {
		return arg
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		if c == '\\' {
			slashes++
			continue
		}
		n := slashes
		if c == '"' {
			n = 2*slashes + 1
		}
		b.WriteString(strings.Repeat(`\`, n))
		b.WriteByte(c)
		slashes = 0
	}
	b.WriteString(strings.Repeat(`\`, 2*slashes))
	b.WriteByte('"')
	return b.String()
}
