package notes

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/platforms"
	"github.com/clinicsync/clinicsync/sync/wire"
)

// Render returns the bytes of the note's text file: a short header, a
// blank line, then the body.
//
//	Patient: Élodie Martin (external id PMS-4411)   or "Patient: none (inbox)"
//	Date: 2026-02-24 11:30 +01:00
//	Updated: 2026-02-24 12:02 +01:00                 only when UpdatedAt is after CreatedAt
//	Type: consultation_summary
//	Source: Askara                                   Askara, Nabla or SOAPNoteAPI
//	Note id: 3f2a9c1b-…
//	Request id: c3f1a2b4-…                           only when CorrelationID is set and differs
//
// The body is the title (if any) and a blank line, then each section in
// order, separated by blank lines: the section title in capitals on its
// own line (no heading for an untitled section, such as Askara's content
// or a transcript) and the text as given. A failed note's body is its
// title, then "Status: failed" and "Error: <reason>".
//
// The text is kept as the platform gave it, except that: invalid UTF-8
// becomes U+FFFD; NUL and the other C0 controls except tab, LF and CR,
// DEL and the C1 controls are removed; header values are put on one line
// (at most maxHeaderRunes characters); and every line ends with CRLF
// ("\r\n"), lone LF and lone CR included. CRLF because the file is read on
// Windows front-desk PCs: Notepad before Windows 10 1809 shows a file with
// bare LF as one long line, and many practice-management import tools
// split on CRLF; every reader that handles LF handles CRLF too. The file
// ends with exactly one CRLF and has no byte-order mark. Times are the
// clinic PC's local time with their offset (the clinic reads them; a
// consultation at 00:30 is dated that day). The output depends only on n
// and the PC's time zone (no clock, no map order).
func Render(n Note) []byte {
	var b strings.Builder
	line := func(s string) {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	line("Patient: " + patientLine(n.Patient))
	line("Date: " + stamp(n.CreatedAt))
	if n.UpdatedAt.After(n.CreatedAt) {
		line("Updated: " + stamp(n.UpdatedAt))
	}
	line("Type: " + orUnknown(headerValue(n.Type)))
	line("Source: " + sourceName(n.Source))
	line("Note id: " + orUnknown(headerValue(n.ID)))
	if n.CorrelationID != "" && n.CorrelationID != n.ID {
		line("Request id: " + headerValue(n.CorrelationID))
	}
	line("")

	if title := oneLine(n.Title); title != "" {
		line(title)
		line("")
	}
	if n.Kind == KindFailed {
		line("Status: failed")
		reason := strings.TrimSpace(cleanText(n.Error))
		if reason == "" {
			reason = "no reason given"
		}
		line("Error: " + reason)
	} else {
		first := true
		for _, s := range n.Sections {
			if !first {
				line("")
			}
			first = false
			if t := oneLine(s.Title); t != "" {
				line(strings.ToUpper(t))
			}
			if text := strings.TrimRight(cleanText(s.Text), "\n"); text != "" {
				line(text)
			}
		}
	}

	out := strings.TrimRight(cleanText(b.String()), "\n") + "\n"
	return []byte(strings.ReplaceAll(out, "\n", "\r\n"))
}

// maxHeaderRunes bounds a header value (a patient name, an id, a type).
const maxHeaderRunes = 200

func patientLine(p *clinicsync.Patient) string {
	if p == nil || *p == (clinicsync.Patient{}) {
		return "none (inbox)"
	}
	name := headerValue(strings.TrimSpace(oneLine(p.FirstName) + " " + oneLine(p.LastName)))
	if name == "" {
		name = "unnamed"
	}
	switch {
	case headerValue(p.ExternalID) != "":
		return name + " (external id " + headerValue(p.ExternalID) + ")"
	case headerValue(p.UUID) != "":
		return name + " (patient uuid " + headerValue(p.UUID) + ")"
	}
	return name
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.Local().Format("2006-01-02 15:04 -07:00")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func sourceName(s string) string {
	if p, ok := platforms.Lookup(s); ok {
		return p.Display
	}
	return orUnknown(headerValue(s))
}

// cleanText makes s valid UTF-8 (U+FFFD for bad bytes), removes control
// characters other than tab, LF and CR, and turns CRLF and lone CR into LF.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r != '\t' && r != '\n' && wire.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// oneLine is cleanText with line breaks and tabs turned into spaces,
// trimmed.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, cleanText(s))
	return strings.TrimSpace(s)
}

// headerValue is oneLine, cut to maxHeaderRunes characters.
func headerValue(s string) string {
	s = oneLine(s)
	if utf8.RuneCountInString(s) <= maxHeaderRunes {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:maxHeaderRunes-1])) + "…"
}

// maxSlug bounds the type part of a file name.
const maxSlug = 40

// FileName returns the note file's name:
// "<date>_<type>_<hash>.txt", e.g. "2026-02-24_consultation-summary_3f2a9c1b.txt".
//
//   - date: CreatedAt's day on the clinic PC (local time) as YYYY-MM-DD,
//     or "undated" when unknown: a consultation at 00:30 is filed under
//     its own day, not the day before in UTC;
//   - type: Type lower-cased, every run of characters other than a-z and
//     0-9 made one "-", at most 40 characters, "note" if nothing is left;
//     "-failed" is added for a failed note, so a failure report never takes
//     the name of the note it is about;
//   - hash: the first 8 hex digits of SHA-256(Source + "\x00" + ID), so the
//     same note always gets the same name and two notes of one day and
//     type do not collide (a 1 in 4 billion chance per pair).
//
// Only [a-z0-9_.-] is used, at most 72 characters; nothing comes from the
// patient or the note text, so a hostile name cannot reach the file system.
func FileName(n Note) string {
	date := "undated"
	if !n.CreatedAt.IsZero() {
		date = slugify(n.CreatedAt.Local().Format("2006-01-02"), 11)
	}
	slug := slugify(n.Type, maxSlug)
	if slug == "" {
		slug = TypeNote
	}
	if n.Kind == KindFailed {
		slug += "-failed"
	}
	sum := sha256.Sum256([]byte(n.Source + "\x00" + n.ID))
	return date + "_" + slug + "_" + hex.EncodeToString(sum[:4]) + ".txt"
}

// slugify keeps a-z and 0-9 (upper case lowered), turns every other run
// into one "-", and trims "-" at both ends, within max bytes.
func slugify(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= max {
				break
			}
			continue
		}
		dash = true
	}
	out := b.String()
	if len(out) > max {
		out = out[:max]
	}
	return strings.Trim(out, "-")
}
