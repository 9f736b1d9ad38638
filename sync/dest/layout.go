package dest

import (
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clinicsync/clinicsync"
)

// InboxFolder is the folder below the root that holds the notes without a
// patient and the platforms' event files (Inbox/<Platform>).
const InboxFolder = "Inbox"

// reservedRoot is every name Clinic Sync itself makes directly below the
// root: the Inbox and the writer's lease. (Temp files start with a dot,
// which no patient folder's name does: the first level of a patient folder
// cannot meet one.)
var reservedRoot = []string{InboxFolder, LeaseFile}

// ReservedRootNames returns the names Clinic Sync itself makes directly
// below the root. No patient folder's first level is one of them, compared
// as a case-insensitive file system would (see PatientDir).
func ReservedRootNames() []string { return slices.Clone(reservedRoot) }

// reservedRootName reports whether c, an already sanitised folder name,
// would be one of the reserved names on NTFS or APFS (case-insensitive):
// equal under Unicode simple case folding or after lower- then
// upper-casing ("ınbox" and "İnbox" count too). Too wide a match costs
// nothing: the patient folder only gets a "_".
func reservedRootName(c string) bool {
	for _, r := range reservedRoot {
		if strings.EqualFold(c, r) || strings.ToUpper(strings.ToLower(c)) == strings.ToUpper(r) {
			return true
		}
	}
	return false
}

// notReservedRoot puts "_" after a first-level folder name that is
// reserved: "INBOX" → "INBOX_", as a device name gets one.
func notReservedRoot(c string) string {
	if reservedRootName(c) {
		return c + "_"
	}
	return c
}

// DefaultTemplate names a patient's folder LASTNAME_FIRSTNAME (DOE_JOHN).
const DefaultTemplate = "{LASTNAME}_{FIRSTNAME}"

// Placeholders a template may use. The case the placeholder is written in
// is the case of the value: {LASTNAME} gives DOE, {lastname} gives doe, any
// other spelling ({LastName}) gives the value as the platform sent it.
// Literal text is kept as written. "/" (or "\") separates sub-folders.
var placeholders = []string{"LASTNAME", "FIRSTNAME", "EXTERNALID", "BIRTHDATE", "UUID"}

const maxTemplateDepth = 4 // sub-folders a template may make

type caseMode int

const (
	caseAsIs caseMode = iota
	caseUpper
	caseLower
)

type token struct {
	lit  string   // literal text, when name is ""
	name string   // placeholder, upper-case
	mode caseMode // how the value is cased
}

// parseTemplate splits a template into folder parts of tokens.
func parseTemplate(t string) ([][]token, error) {
	if strings.TrimSpace(t) == "" {
		return nil, clinicsync.Errorf(clinicsync.EInvalid, "the template is empty; %s is the usual one", DefaultTemplate)
	}
	if !utf8.ValidString(t) {
		return nil, clinicsync.Errorf(clinicsync.EInvalid, "the template is not valid text")
	}
	if len(t) > 256 {
		return nil, clinicsync.Errorf(clinicsync.EInvalid, "the template is longer than 256 characters")
	}
	if t[0] == '/' || t[0] == '\\' || filepath.IsAbs(t) || filepath.VolumeName(t) != "" ||
		(len(t) >= 2 && t[1] == ':') {
		return nil, clinicsync.Errorf(clinicsync.EInvalid, "the template %q must be relative to the destination folder", t)
	}
	var parts [][]token
	for _, raw := range strings.FieldsFunc(t, func(r rune) bool { return r == '/' || r == '\\' }) {
		switch s := strings.TrimSpace(raw); s {
		case ".", "..":
			return nil, clinicsync.Errorf(clinicsync.EInvalid, "the template %q must not contain %q", t, s)
		case "":
			return nil, clinicsync.Errorf(clinicsync.EInvalid, "the template %q has a folder level of spaces only", t)
		}
		var toks []token
		rest := raw
		for rest != "" {
			open := strings.IndexAny(rest, "{}")
			if open < 0 {
				toks = append(toks, token{lit: rest})
				break
			}
			if rest[open] == '}' {
				return nil, clinicsync.Errorf(clinicsync.EInvalid, "the template %q has a \"}\" without \"{\"", t)
			}
			if open > 0 {
				toks = append(toks, token{lit: rest[:open]})
			}
			end := strings.IndexAny(rest[open+1:], "{}")
			if end < 0 || rest[open+1+end] != '}' {
				return nil, clinicsync.Errorf(clinicsync.EInvalid, "the template %q has a \"{\" without \"}\"", t)
			}
			word := rest[open+1 : open+1+end]
			name := strings.ToUpper(word)
			known := false
			for _, p := range placeholders {
				known = known || p == name
			}
			if !known {
				return nil, clinicsync.Errorf(clinicsync.EInvalid,
					"unknown placeholder {%s}: use {LASTNAME}, {FIRSTNAME}, {EXTERNALID}, {BIRTHDATE} or {UUID}", word)
			}
			mode := caseAsIs
			switch word {
			case name:
				mode = caseUpper
			case strings.ToLower(word):
				mode = caseLower
			}
			toks = append(toks, token{name: name, mode: mode})
			rest = rest[open+1+end+1:]
		}
		for _, tk := range toks {
			if i := strings.IndexFunc(tk.lit, func(r rune) bool { return forbidden(r) || invisible(r) }); i >= 0 {
				r, _ := utf8.DecodeRuneInString(tk.lit[i:])
				return nil, clinicsync.Errorf(clinicsync.EInvalid,
					"the template %q contains %q, which folder names may not contain", t, r)
			}
		}
		parts = append(parts, toks)
	}
	if len(parts) == 0 {
		return nil, clinicsync.Errorf(clinicsync.EInvalid, "the template %q names no folder", t)
	}
	if len(parts) > maxTemplateDepth {
		return nil, clinicsync.Errorf(clinicsync.EInvalid, "the template %q makes more than %d levels of folders", t, maxTemplateDepth)
	}
	return parts, nil
}

// ValidateTemplate checks a patient-folder template: not empty, relative, no
// "." or ".." folder, known placeholders only, balanced braces, no character
// a folder name may not hold, at most 4 levels. The error is an *Error with
// code EInvalid whose message is a lower-case clause.
func ValidateTemplate(t string) error {
	_, err := parseTemplate(t)
	return err
}

// Layout says where documents go: Root is the practice software's patients
// folder, Template the patient folder below it ("" means DefaultTemplate).
type Layout struct {
	Root     string
	Template string
}

// PatientDir returns the patient's folder relative to the root, with OS
// separators, every part sanitised, MaxDirLen bytes at most in all.
//
// Each value is cleaned (forbidden characters become "_", leading and
// trailing spaces, dots and underscores removed) and cased as its
// placeholder says. Separator-only literals ("_", " - ") between placeholders
// are kept only between two non-empty values, so a missing first name gives
// DOE, not DOE_. When the template's identifying placeholders (all but
// {BIRTHDATE}) give no letter, digit or symbol, the folder is the external
// id, else the patient UUID, else UNKNOWN_PATIENT (ids are kept as sent, not
// upper-cased: they are case-sensitive). An invalid template falls back to
// DefaultTemplate (configuration validation reports it).
//
// The first level never names a folder the app makes below the root
// (ReservedRootNames), in any case: one that would gets "_" after it, so a
// patient named Inbox gets INBOX_, never the notes' Inbox, which NTFS and
// APFS would take for the same folder. Only the first level can meet them;
// deeper levels are kept ("Patients/INBOX").
func (l Layout) PatientDir(p clinicsync.Patient) string {
	parts, err := parseTemplate(l.Template)
	if err != nil {
		parts, _ = parseTemplate(DefaultTemplate)
	}
	values := map[string]string{
		"LASTNAME":   cleanValue(p.LastName),
		"FIRSTNAME":  cleanValue(p.FirstName),
		"EXTERNALID": cleanValue(p.ExternalID),
		"BIRTHDATE":  cleanValue(p.DateOfBirth),
		"UUID":       cleanValue(p.UUID),
	}
	hasIdent, identified := false, false
	var out, literal []string // every rendered level; the levels without placeholders
	fallbackAt := -1          // where the fallback goes among the literal levels
	for _, toks := range parts {
		s, placeholder := render(toks, values)
		for _, tk := range toks {
			if tk.name != "" && tk.name != "BIRTHDATE" {
				hasIdent = true
				identified = identified || meaningful(values[tk.name])
			}
		}
		switch {
		case !placeholder:
			literal = append(literal, s)
		case fallbackAt < 0:
			fallbackAt = len(literal)
		}
		// A level whose values are all missing is left out:
		// {LASTNAME}/{FIRSTNAME} without a first name is DOE.
		if meaningful(s) || (!placeholder && s != "") {
			out = append(out, s)
		}
	}
	if (hasIdent && !identified) || len(out) == 0 {
		if fallbackAt < 0 {
			fallbackAt = len(literal)
		}
		out = append(append(literal[:fallbackAt:fallbackAt], fallbackName(values)), literal[fallbackAt:]...)
	}
	return joinBounded(out)
}

// render fills one folder level of a template, and reports whether it holds
// a placeholder. Literal text made of spaces and punctuation only is glue:
// its closing brackets stay with the value before them, its opening
// brackets with the value after them, and the rest is written only between
// two non-empty pieces. So "{LASTNAME}_{FIRSTNAME}" without a first name is
// "DOE", and "{LASTNAME} ({EXTERNALID})" is "DOE (12)", or "DOE" without an
// external id.
func render(toks []token, values map[string]string) (string, bool) {
	if !hasPlaceholder(toks) {
		var b strings.Builder
		for _, tk := range toks {
			b.WriteString(tk.lit)
		}
		return b.String(), false
	}
	var b strings.Builder
	sep, open := "", ""
	after := false // the last piece written was a value
	for _, tk := range toks {
		v := tk.lit
		if tk.name != "" {
			v = values[tk.name]
			switch tk.mode {
			case caseUpper:
				v = strings.ToUpper(v)
			case caseLower:
				v = strings.ToLower(v)
			}
		} else if isSeparatorText(v) {
			c, m, o := splitGlue(v)
			if c != "" && after {
				b.WriteString(c)
			}
			if m != "" && sep == "" {
				sep = m
			}
			open += o
			continue
		}
		if v == "" {
			open, after = "", false
			continue
		}
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(open)
		b.WriteString(v)
		sep, open, after = "", "", true
	}
	return b.String(), true
}

// splitGlue splits separator text into its leading closing brackets, the
// middle and its trailing opening brackets: ") - (" gives ")", " - ", "(".
func splitGlue(s string) (closing, middle, opening string) {
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.In(r, unicode.Pe, unicode.Pf) })
	if i < 0 {
		return s, "", ""
	}
	closing, s = s[:i], s[i:]
	j := strings.LastIndexFunc(s, func(r rune) bool { return !unicode.In(r, unicode.Ps, unicode.Pi) })
	if j < 0 {
		return closing, "", s
	}
	_, size := utf8.DecodeRuneInString(s[j:])
	return closing, s[:j+size], s[j+size:]
}

func hasPlaceholder(toks []token) bool {
	for _, tk := range toks {
		if tk.name != "" {
			return true
		}
	}
	return false
}

func fallbackName(values map[string]string) string {
	switch {
	case meaningful(values["EXTERNALID"]):
		return values["EXTERNALID"]
	case meaningful(values["UUID"]):
		return values["UUID"]
	}
	return "UNKNOWN_PATIENT"
}

// isSeparatorText reports literal text made only of spaces and punctuation
// such as "_", "-", ", " or " - ".
func isSeparatorText(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return !unicode.IsSpace(r) && !unicode.IsPunct(r)
	}) < 0
}

// cleanValue prepares one value from the server: invisible characters
// dropped, NFC, forbidden characters (path separators included) replaced,
// spaces, dots and underscores trimmed from both ends.
func cleanValue(v string) string {
	v = clean(v)
	return strings.TrimFunc(v, func(r rune) bool { return unicode.IsSpace(r) || r == '.' || r == '_' })
}

// joinBounded sanitises each folder level, the longest ones shortened to a
// common cap so that the whole relative path is within MaxDirLen, and keeps
// the first level off the reserved root names.
func joinBounded(parts []string) string {
	comps := make([]string, len(parts))
	for i, p := range parts {
		comps[i] = sanitize(p, MaxDirLen, false)
	}
	comps[0] = notReservedRoot(comps[0])
	budget := MaxDirLen - (len(parts) - 1)
	limit := budget
	for ; limit > minComponent; limit-- {
		sum := 0
		for _, c := range comps {
			sum += min(len(c), limit)
		}
		if sum <= budget {
			break
		}
	}
	for i, c := range comps {
		if len(c) > limit {
			comps[i] = sanitize(c, limit, false)
		}
	}
	// Cutting may leave a reserved name ("Inbox   x" → "Inbox"); its "_"
	// fits, as the cut name counted for at least minComponent bytes.
	comps[0] = notReservedRoot(comps[0])
	return filepath.Join(comps...)
}

// FileName is the file name for a document: the last element of
// pdf.fileName (a server sending a path gets its base name), cleaned and
// sanitised, with leading dots and spaces removed (no hidden files), ending
// in ".pdf" (any case; appended when missing: "LPT9.txt" → "LPT9_.txt.pdf").
// Without a usable name it is "<type>_<first 8 of uuid>.pdf". At most
// MaxFileLen bytes.
func FileName(doc clinicsync.Document) string {
	name := doc.PDF.FileName
	if elems := strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }); len(elems) > 0 {
		name = elems[len(elems)-1]
	}
	name = clean(name)
	ext := ".pdf"
	if e := name[strings.LastIndexByte(name, '.')+1:]; len(name) > len(e) && strings.EqualFold(e, "pdf") {
		ext = "." + e
		name = name[:len(name)-len(ext)]
	}
	name = strings.TrimRight(strings.TrimLeft(name, " ."), " .")
	if !meaningful(name) {
		kind := cleanValue(doc.Type)
		if !meaningful(kind) {
			kind = "document"
		}
		name = kind
		if id := cleanValue(doc.UUID); id != "" {
			if len(id) > 8 {
				id = cutTo(id, 8)
			}
			name += "_" + id
		}
		ext = ".pdf"
	}
	return SanitizeComponent(name+ext, MaxFileLen)
}
