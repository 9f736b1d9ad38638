// Package localeenv makes the locale environment readable by Fyne before
// Fyne reads it. Fyne's lang package reads the locale in its package init
// (through github.com/jeandeaual/go-locale) and, for a locale that is no
// language tag, logs "Fyne error: Error parsing user locale C" and two more
// lines to standard error: under C.UTF-8 (the locale of services, cron and
// containers), POSIX.UTF-8, or an empty entry in LANGUAGE, every command
// printed them. Such a locale means "no language chosen", and the UI falls
// back to English: this package says so in the way go-locale reads it,
// through LANGUAGE, and leaves LANG and LC_* alone (they also set the
// character set of this process and the programs it starts).
//
// Its init must run before lang's. Go initializes, at each step, the first
// package in import-path order whose imports are initialized: this one
// imports only os, so it is ready as soon as os is, and it sorts before
// "log", which imports os and which lang imports; so it runs before log,
// hence before lang. Keep it importing nothing else.
package localeenv

import "os"

func init() { normalize() }

// normalize sets LANGUAGE when go-locale would read something that is no
// language tag: to the usable entries of what it reads, else to the
// locale's language, else to "en".
func normalize() {
	loc := ""
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if loc = os.Getenv(k); loc != "" {
			break
		}
	}
	if loc == "C" || loc == "POSIX" {
		return // go-locale reads these as no locale: English, and no error
	}
	read := os.Getenv("LANGUAGE") // go-locale reads LANGUAGE first, a list
	if read == "" {
		read = loc
	}
	if read == "" {
		return // nothing set: English, and no error
	}
	kept, broken := "", false
	for _, entry := range split(read) {
		tag := usable(entry)
		if tag == "" || tag != cut(entry, '.') { // go-locale drops only the character set
			broken = true
		}
		if tag != "" && kept != "" {
			kept += ":"
		}
		kept += tag
	}
	if !broken {
		return
	}
	if kept == "" {
		kept = usable(loc)
	}
	if kept == "" {
		kept = "en"
	}
	os.Setenv("LANGUAGE", kept)
}

// usable returns entry ("fr_FR.UTF-8@euro") without its character set and
// modifier ("fr_FR") when go-locale turns that into a language tag: a
// language of 2 or 3 letters, then letters, digits, "_" or "-". It returns
// "" for "C.UTF-8", "POSIX", "" and the like.
func usable(entry string) string {
	entry = cut(cut(entry, '.'), '@')
	n := 0
	for n < len(entry) && letter(entry[n]) {
		n++
	}
	if n < 2 || n > 3 || n < len(entry) && entry[n] != '_' && entry[n] != '-' {
		return ""
	}
	for i := n; i < len(entry); i++ {
		if c := entry[i]; !letter(c) && (c < '0' || c > '9') && c != '_' && c != '-' {
			return ""
		}
	}
	return entry
}

// split splits s at every colon.
func split(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// cut returns s up to the first c.
func cut(s string, c byte) string {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i]
		}
	}
	return s
}

func letter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
