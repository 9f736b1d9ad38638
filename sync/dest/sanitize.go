package dest

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Length budgets, in bytes of UTF-8 (which is never less than the count of
// UTF-16 units Windows measures MAX_PATH in). A root of ordinary length plus
// MaxRelPath stays under the 260 characters of MAX_PATH.
const (
	MaxRelPath = 200                        // the whole path below the root: patient folder, separator, file name
	MaxDirLen  = 80                         // the patient folder below the root, all its sub-folders included
	MaxFileLen = MaxRelPath - MaxDirLen - 1 // a final file name, de-duplicating suffix included

	maxComponent = 255 // what NTFS, APFS and ext4 accept in one path component
	minComponent = 12  // SanitizeComponent never bounds tighter than this
	maxExt       = 16  // an extension longer than this (dot included) is not kept when cutting
)

// SanitizeComponent makes s safe as one path component by Windows rules, on
// every OS (a share may be written from macOS and read from Windows):
//
//   - invalid UTF-8 is treated as a forbidden character; bidi controls and
//     invisible format characters (U+200B-U+200F, U+202A-U+202E,
//     U+2060-U+2064, U+2066-U+2069, U+FEFF, U+061C, U+00AD) are dropped;
//   - the rest is normalised to NFC (accents kept, precomposed);
//   - `<>:"/\|?*`, C0 and C1 control characters, U+2028/U+2029 and the
//     full-width or mathematical look-alikes of the forbidden characters
//     (／ ＼ ∕ ⁄ ： ＜ ＞ ＂ ｜ ？ ＊ ...) become "_", a run of underscores that
//     holds a replacement collapsing to one;
//   - leading spaces and trailing dots and spaces are removed, so "." and
//     ".." cannot survive;
//   - a reserved device name (CON PRN AUX NUL COM0-9 LPT0-9, COM¹²³ LPT¹²³,
//     CONIN$ CONOUT$; ASCII case-insensitive, with or without extensions, with
//     trailing spaces before the first dot) gets "_" after the name:
//     "CON" → "CON_", "nul.pdf" → "nul_.pdf", "CON.tar.gz" → "CON_.tar.gz";
//   - the result is at most max bytes of UTF-8 and max UTF-16 units, cut at a
//     rune boundary (not between a base and its combining marks when
//     avoidable), keeping a final extension of up to 15 bytes of letters and digits;
//   - an empty result becomes "_".
//
// max <= 0 or above 255 means 255; below 12 means 12. The result is a pure
// function of (s, max) and SanitizeComponent(SanitizeComponent(s, m), m)
// returns its argument unchanged.
func SanitizeComponent(s string, max int) string {
	return sanitize(s, max, true)
}

func sanitize(s string, max int, keepExt bool) string {
	if max <= 0 || max > maxComponent {
		max = maxComponent
	}
	if max < minComponent {
		max = minComponent
	}
	s = trimEnds(clean(s))
	s = fixReserved(s, -1)
	if !fits(s, max) {
		s = trimEnds(cut(s, max, keepExt))
		s = fixReserved(s, max)
	}
	if s == "" {
		return "_"
	}
	return s
}

// clean drops invisible characters, normalises to NFC and replaces the
// forbidden ones, collapsing runs of underscores that contain a replacement.
func clean(s string) string {
	// Invalid bytes become NUL, a control character replaced below.
	s = strings.ToValidUTF8(s, "\x00")
	if strings.IndexFunc(s, invisible) >= 0 {
		s = strings.Map(func(r rune) rune {
			if invisible(r) {
				return -1
			}
			return r
		}, s)
	}
	s = norm.NFC.String(s)
	if strings.IndexFunc(s, func(r rune) bool { return r == '_' || forbidden(r) }) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	run, replaced := 0, false
	flush := func() {
		switch {
		case replaced:
			b.WriteByte('_')
		case run > 0:
			b.WriteString(strings.Repeat("_", run))
		}
		run, replaced = 0, false
	}
	for _, r := range s {
		switch {
		case r == '_':
			run++
		case forbidden(r):
			replaced = true
		default:
			flush()
			b.WriteRune(r)
		}
	}
	flush()
	return b.String()
}

// invisible reports bidi controls and invisible format characters, which
// are dropped (they disguise names: "invoice\u202Efdp.exe").
func invisible(r rune) bool {
	switch {
	case r >= 0x200B && r <= 0x200F, // zero-width space, (non-)joiner, LRM, RLM
		r >= 0x202A && r <= 0x202E, // bidi embeddings and overrides
		r >= 0x2060 && r <= 0x2064, // word joiner, invisible operators
		r >= 0x2066 && r <= 0x2069, // bidi isolates
		r == 0xFEFF, r == 0x061C, r == 0x00AD, r == 0x180E:
		return true
	}
	return false
}

// forbidden reports characters that become "_".
func forbidden(r rune) bool {
	if r < 0x20 || (r >= 0x7F && r <= 0x9F) {
		return true
	}
	switch r {
	case '<', '>', ':', '"', '/', '\\', '|', '?', '*',
		0x2028, 0x2029, // line and paragraph separators
		// Look-alikes that "best fit" code-page conversions turn back into
		// separators or forbidden characters in programs using ANSI APIs.
		0xFF0F, 0xFF3C, 0x2215, 0x2216, 0x2044, 0x29F8, 0x29F9, 0xFE68,
		0xFF1A, 0xFF1C, 0xFF1E, 0xFF02, 0xFF5C, 0xFF1F, 0xFF0A:
		return true
	}
	return false
}

// trimEnds removes what Windows strips or refuses: leading spaces, trailing
// dots and spaces.
func trimEnds(s string) string {
	return strings.TrimRight(strings.TrimLeft(s, " "), " .")
}

// reservedBase returns the part of a component Windows compares with device
// names: up to the first dot, trailing spaces ignored, and that part's length
// with the spaces.
func reservedBase(s string) (base string, n int) {
	n = len(s)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		n = i
	}
	return strings.TrimRight(s[:n], " "), n
}

// isReserved reports a Windows device name, ASCII case-insensitively (as
// Windows compares them; "ＣＯＮ" or a Kelvin sign are not device names).
func isReserved(base string) bool {
	up := asciiUpper(base)
	switch up {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(up) >= 4 && (up[:3] == "COM" || up[:3] == "LPT") {
		switch up[3:] {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00b9", "\u00b2", "\u00b3":
			return true
		}
	}
	return false
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// fixReserved puts "_" after a reserved device name. When that does not fit
// in max (max < 0: no limit), the name's last character becomes "_" instead.
func fixReserved(s string, max int) string {
	base, n := reservedBase(s)
	if !isReserved(base) {
		return s
	}
	if out := base + "_" + s[n:]; max < 0 || fits(out, max) {
		return out
	}
	_, size := utf8.DecodeLastRuneInString(base)
	return base[:len(base)-size] + "_" + s[n:]
}

// fits reports whether s is within max bytes of UTF-8 and max UTF-16 units.
func fits(s string, max int) bool {
	return len(s) <= max && utf16Len(s) <= max
}

// utf16Len is the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// cut shortens s to fit max, keeping a short final extension when asked.
func cut(s string, max int, keepExt bool) string {
	if keepExt {
		if i := strings.LastIndexByte(s, '.'); i > 0 && isExt(s[i:]) && max-(len(s)-i) >= 9 {
			ext := s[i:]
			stem := strings.TrimRight(cutTo(s[:i], max-len(ext)), " .")
			if stem == "" {
				stem = "_"
			}
			return stem + ext
		}
	}
	return cutTo(s, max)
}

// isExt reports a file extension worth keeping when cutting: a dot and 1
// to 15 bytes of letters and digits.
func isExt(ext string) bool {
	if len(ext) < 2 || len(ext) > maxExt || ext[0] != '.' {
		return false
	}
	return strings.IndexFunc(ext[1:], func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) < 0
}

// cutTo returns the longest prefix of s within max bytes and max UTF-16
// units that ends at a rune boundary, backing off (a little) so as not to
// separate a base character from the combining marks that follow it.
func cutTo(s string, max int) string {
	n, u, end := 0, 0, len(s)
	for i, r := range s {
		w, uw := utf8.RuneLen(r), 1
		if r >= 0x10000 {
			uw = 2
		}
		if n+w > max || u+uw > max {
			end = i
			break
		}
		n, u = n+w, u+uw
	}
	for k := 0; k < 8 && end < len(s); k++ {
		next, _ := utf8.DecodeRuneInString(s[end:])
		if !unicode.In(next, unicode.Mn, unicode.Me, unicode.Mc) {
			break
		}
		_, size := utf8.DecodeLastRuneInString(s[:end])
		if end-size <= 0 {
			break
		}
		end -= size
	}
	return s[:end]
}

// meaningful reports whether s holds a letter, a digit or a symbol (an
// emoji counts), not only punctuation and spaces.
func meaningful(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsSymbol(r)
	}) >= 0
}
