package clinicsync

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// CleanText makes text from a platform (a patient's name, a file name, an
// error the server sent) safe to show on one line: in the activity log, the
// command line's output, a notification or a label. Control characters
// (C0 with tab, CR and LF, DEL, C1), the Unicode line and paragraph
// separators and the bidirectional formatting characters are written as
// visible escapes (\n, \r, \t, \u202E), so a name like "Jean\r\n12:00:00
// error ..." can neither start a forged log line nor reorder what follows
// it, and the attempt stays visible. Invalid UTF-8 becomes U+FFFD. Text with
// none of these is returned as it is, without allocating.
func CleanText(s string) string {
	if !needsCleaning(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsCleaning(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafeRune(r) {
			return true
		}
		i += size
	}
	return false
}

// unsafeRune reports the characters CleanText escapes.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f: // C0, DEL, C1
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, // Arabic letter mark, LRM, RLM
		r >= 0x202a && r <= 0x202e, // LRE, RLE, PDF, LRO, RLO
		r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	}
	return false
}

// Clean returns the patient with every field passed through CleanText, for
// display.
func (p Patient) Clean() Patient {
	return Patient{UUID: CleanText(p.UUID), ExternalID: CleanText(p.ExternalID), FirstName: CleanText(p.FirstName),
		LastName: CleanText(p.LastName), DateOfBirth: CleanText(p.DateOfBirth)}
}
