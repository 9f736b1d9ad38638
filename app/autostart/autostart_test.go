package autostart

import (
	"bytes"
	"encoding/xml"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPlistGolden(t *testing.T) {
	e := Entry{
		ID:   "org.clinicsync.app",
		Name: "Clinic Sync",
		Exec: "/Applications/Clinic Sync & Co.app/Contents/MacOS/clinicsync",
		Args: []string{"--minimized", `<a "b">`},
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>org.clinicsync.app</string>
	<key>ProgramArguments</key>
	<array>
		<string>/Applications/Clinic Sync &amp; Co.app/Contents/MacOS/clinicsync</string>
		<string>--minimized</string>
		<string>&lt;a &#34;b&#34;&gt;</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
`
	got := plist(e)
	if string(got) != want {
		t.Fatalf("plist:\n%s\nwant:\n%s", got, want)
	}

	// An XML parser reads back exactly the strings that went in.
	var strs []string
	d := xml.NewDecoder(bytes.NewReader(got))
	inString := false
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inString = tok.Name.Local == "string"
		case xml.EndElement:
			inString = false
		case xml.CharData:
			if inString {
				strs = append(strs, string(tok))
			}
		}
	}
	wantStrs := append(append([]string{e.ID}, e.argv()...), "Interactive")
	if !slices.Equal(strs, wantStrs) {
		t.Errorf("parsed strings %q, want %q", strs, wantStrs)
	}
}

func TestDesktopFileGolden(t *testing.T) {
	e := Entry{
		ID:   "org.clinicsync.app",
		Name: "Clinic Sync",
		Exec: "/opt/Clinic Sync & Co/clinicsync",
		Args: []string{"--minimized", `50% $HOME "x" \y`},
	}
	// Per the Desktop Entry Specification: quoted arguments escape " ` $ \
	// with a backslash, then string escaping doubles every backslash, so a
	// literal '$' is `\\$` and a literal '\' is `\\\\`; '%' is "%%".
	want := `[Desktop Entry]
Type=Application
Name=Clinic Sync
Exec="/opt/Clinic Sync & Co/clinicsync" --minimized "50%% \\$HOME \\"x\\" \\\\y"
Terminal=false
X-GNOME-Autostart-enabled=true
`
	if got := string(desktopFile(e)); got != want {
		t.Fatalf("desktop file:\n%s\nwant:\n%s", got, want)
	}
}

func TestDesktopQuote(t *testing.T) {
	for arg, want := range map[string]string{
		"/usr/bin/clinicsync": "/usr/bin/clinicsync",
		"":                    `""`,
		"a b":                 `"a b"`,
		"it's":                `"it's"`,
		"a&b":                 `"a&b"`,
		"`x`":                 "\"\\`x\\`\"",
		"100%":                "100%%",
		"a=b":                 "a=b",
	} {
		if got := desktopQuote(arg); got != want {
			t.Errorf("desktopQuote(%q) = %s, want %s", arg, got, want)
		}
	}
}

func TestWindowsCommand(t *testing.T) {
	e := Entry{
		ID:   "org.clinicsync.app",
		Name: "Clinic Sync",
		Exec: `C:\Program Files\Clinic Sync & Co\clinicsync.exe`,
		Args: []string{"--minimized", "a b", `say "hi"`, `C:\dir with space\`, "", `back\\slash`, `x\"y`},
	}
	want := `"C:\Program Files\Clinic Sync & Co\clinicsync.exe" --minimized "a b" "say \"hi\"" "C:\dir with space\\" "" back\\slash "x\\\"y"`
	got := windowsCommand(e)
	if got != want {
		t.Fatalf("windowsCommand:\n got %s\nwant %s", got, want)
	}
	if args := parseWindowsArgs(got); !slices.Equal(args, e.argv()) {
		t.Errorf("parsed back as %q, want %q", args, e.argv())
	}
}

// parseWindowsArgs splits a command line the way CommandLineToArgvW does for
// the arguments: 2n backslashes before '"' give n and toggle quoting, 2n+1
// give n and a literal '"'; other backslashes are literal.
func parseWindowsArgs(cmd string) []string {
	var args []string
	var cur strings.Builder
	inArg, inQuote := false, false
	for i := 0; i < len(cmd); i++ {
		switch c := cmd[i]; {
		case c == '\\':
			n := 0
			for i < len(cmd) && cmd[i] == '\\' {
				n++
				i++
			}
			if i < len(cmd) && cmd[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					inQuote = !inQuote
				}
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
			}
			inArg = true
		case c == '"':
			inQuote = !inQuote
			inArg = true
		case (c == ' ' || c == '\t') && !inQuote:
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}

func TestValidate(t *testing.T) {
	ok := Entry{ID: "org.clinicsync.app", Name: "Clinic Sync", Exec: "/opt/clinicsync"}
	if err := ok.validate(filepath.IsAbs); err != nil {
		t.Fatalf("valid entry refused: %v", err)
	}
	for name, e := range map[string]Entry{
		"empty ID":         {Name: ok.Name, Exec: ok.Exec},
		"ID with slash":    {ID: "org/clinicsync", Name: ok.Name, Exec: ok.Exec},
		"ID with dots":     {ID: "..", Name: ok.Name, Exec: ok.Exec},
		"hidden ID":        {ID: ".app", Name: ok.Name, Exec: ok.Exec},
		"empty Name":       {ID: ok.ID, Exec: ok.Exec},
		"relative Exec":    {ID: ok.ID, Name: ok.Name, Exec: "bin/clinicsync"},
		"newline in Name":  {ID: ok.ID, Name: "Clinic\nSync", Exec: ok.Exec},
		"newline in arg":   {ID: ok.ID, Name: ok.Name, Exec: ok.Exec, Args: []string{"a\nb"}},
		"invalid UTF-8":    {ID: ok.ID, Name: ok.Name, Exec: "/opt/\xff"},
		"NUL in Exec path": {ID: ok.ID, Name: ok.Name, Exec: "/opt/a\x00b"},
	} {
		if err := e.validate(filepath.IsAbs); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
