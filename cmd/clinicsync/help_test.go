package main

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync/sync/sim"
)

// commonFlags are bound to every command by env.flags.
var commonFlags = []string{"--config", "--data-dir"}

// flagRe finds a flag named in text: "--no-browser", "[-n N]", "(--hidden:".
var flagRe = regexp.MustCompile(`(?:^|[\s\[(])(--?[a-z][a-z0-9-]*)`)

func flagsIn(text string) []string {
	var out []string
	for _, m := range flagRe.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// helpFlags are the flags a command's --help lists (one per line, indented).
func helpFlags(help string) []string {
	var out []string
	for _, line := range strings.Split(help, "\n") {
		if m := regexp.MustCompile(`^  (--?[a-z][a-z0-9-]*)`).FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// Every command's --help (and -h, and `clinicsync help CMD`) prints that
// command's usage on standard output and exits 0; `--help` and `help`
// list the commands; an unknown flag is a usage error (exit 2) that says
// what was wrong, on standard error.
func TestEveryCommandHasHelp(t *testing.T) {
	s := newSetup(t, sim.Options{Seed: 1})
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out, errOut, code := s.run(t, args...)
		if code != exitOK || errOut != "" {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		for _, c := range commands() {
			if !strings.Contains(out, "\n  "+c.name+" ") {
				t.Errorf("%v does not list %s:\n%s", args, c.name, out)
			}
		}
	}
	for _, c := range commands() {
		out, errOut, code := s.run(t, c.name, "--help")
		if code != exitOK || errOut != "" || !strings.HasPrefix(out, "Usage: clinicsync "+c.name) {
			t.Errorf("%s --help: exit %d\nstdout:\n%s\nstderr:\n%s", c.name, code, out, errOut)
			continue
		}
		if !strings.Contains(out, upperFirst(c.help)) {
			t.Errorf("%s --help does not say what it does (%q):\n%s", c.name, c.help, out)
		}
		for _, alt := range [][]string{{c.name, "-h"}, {"help", c.name}} {
			o, e, code := s.run(t, alt...)
			if code != exitOK || e != "" || o != out {
				t.Errorf("%v: exit %d, stderr %q, differs from %s --help:\n%s", alt, code, e, c.name, o)
			}
		}
		// The short synopsis of `clinicsync help` names only real flags.
		for _, f := range flagsIn(c.args) {
			if !slices.Contains(helpFlags(out), f) {
				t.Errorf("clinicsync help shows %s for %s, which has no such flag", f, c.name)
			}
		}
	}
	if _, errOut, code := s.run(t, "help", "frobnicate"); code != exitConfig || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("help frobnicate: exit %d %s", code, errOut)
	}
	out, errOut, code := s.run(t, "sync", "--frobnicate")
	if code != exitConfig || out != "" || !strings.Contains(errOut, "frobnicate") || !strings.Contains(errOut, "Usage: clinicsync sync") {
		t.Errorf("sync --frobnicate: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// readmeCommands parses README.md's "Command line" block: each entry
// starts with "clinicsync" at the start of a line, and the indented lines
// after it describe it. It returns the flags named per command ("gui" for
// the bare `clinicsync [--hidden]`) and those of the "common:" line.
func readmeCommands(t *testing.T) (map[string][]string, []string) {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Command line\n")
	if !ok {
		t.Fatal("README.md has no Command line section")
	}
	_, block, ok := strings.Cut(sec, "\n```\n")
	block, _, ok2 := strings.Cut(block, "\n```")
	if !ok || !ok2 {
		t.Fatal("the Command line section has no code block")
	}
	entries := map[string]string{}
	var common []string
	cur := ""
	for _, line := range strings.Split(block, "\n") {
		switch {
		case strings.HasPrefix(line, "common:"):
			common = flagsIn(line)
			cur = ""
		case strings.HasPrefix(line, "clinicsync"):
			f := strings.Fields(line)
			cur = "gui"
			if len(f) > 1 && !strings.HasPrefix(f[1], "[") && !strings.HasPrefix(f[1], "-") {
				cur = f[1]
			}
			if _, dup := entries[cur]; dup {
				t.Errorf("README lists %s twice", cur)
			}
			entries[cur] = line
		case strings.HasPrefix(line, " ") && cur != "":
			entries[cur] += "\n" + line
		case strings.TrimSpace(line) != "":
			t.Errorf("README Command line block: cannot read %q", line)
		}
	}
	out := map[string][]string{}
	for name, text := range entries {
		out[name] = flagsIn(text)
	}
	return out, common
}

// README.md's Command line block and the commands' --help name the same
// flags, both ways, so neither can drift from the other.
func TestREADMECommandLineListsEveryFlag(t *testing.T) {
	readme, common := readmeCommands(t)
	if !slices.Equal(common, commonFlags) {
		t.Errorf("README common flags %v, want %v", common, commonFlags)
	}
	s := newSetup(t, sim.Options{Seed: 1})
	for _, c := range commands() {
		documented, ok := readme[c.name]
		if !ok {
			t.Errorf("README's Command line block does not list %s", c.name)
			continue
		}
		delete(readme, c.name)
		out, _, code := s.run(t, c.name, "--help")
		if code != exitOK {
			t.Fatalf("%s --help: exit %d", c.name, code)
		}
		var own []string
		for _, f := range helpFlags(out) {
			if !slices.Contains(commonFlags, f) {
				own = append(own, f)
			}
		}
		for _, f := range commonFlags {
			if !slices.Contains(helpFlags(out), f) {
				t.Errorf("%s --help does not list %s", c.name, f)
			}
		}
		for _, f := range own {
			if !slices.Contains(documented, f) {
				t.Errorf("%s %s: in --help, missing from README.md's Command line block", c.name, f)
			}
		}
		for _, f := range documented {
			if !slices.Contains(own, f) {
				t.Errorf("%s %s: in README.md's Command line block, not a flag of the command", c.name, f)
			}
		}
	}
	for name := range readme {
		t.Errorf("README lists %q, which is not a command", name)
	}
}

// sync --quiet prints only problems: nothing for a clean pass, the pass
// line when documents failed in it (and the exit code's sentence).
func TestSyncQuietPrintsOnlyProblems(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 6, Patients: 2, Seed: 3, Notes: 2})
	if out, errOut, code := s.run(t, "sync", "--quiet"); code != exitOK || out != "" || errOut != "" {
		t.Fatalf("clean quiet sync: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	h := newSetup(t, sim.Options{Documents: 4, Patients: 2, Seed: 3, Hostile: true})
	out, errOut, code := h.run(t, "sync", "--quiet")
	if code != exitFailing || !strings.Contains(out, "failed ") || strings.Contains(out, "failed 0") ||
		!strings.Contains(errOut, "still need attention") {
		t.Fatalf("quiet sync with failures: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
