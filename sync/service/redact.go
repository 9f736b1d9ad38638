package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// nameRedactor replaces patients' names in a support bundle with tokens:
// each word of a name (two letters or more), in any case, as written or
// as the patient folder writes it, becomes name-<8 hex digits>, the same
// token for the same word in every file and every bundle of this
// installation. The token is an HMAC keyed with redact.key in the data
// folder: a plain hash of a name is reversed by hashing a list of names.
type nameRedactor struct {
	token map[string]string // a name's word, lower-cased -> its token
}

// redactKeyFile holds the key of the tokens, in the data folder.
const redactKeyFile = "redact.key"

func (s *Service) nameRedactor(ctx context.Context) (*nameRedactor, error) {
	key := s.redactKey()
	r := &nameRedactor{token: map[string]string{}}
	add := func(raw string) {
		for _, w := range nameWords(raw) {
			low := fold(w)
			if _, ok := r.token[low]; !ok {
				m := hmac.New(sha256.New, key)
				m.Write([]byte(low))
				r.token[low] = "name-" + hex.EncodeToString(m.Sum(nil))[:8]
			}
		}
	}
	addPatient := func(p clinicsync.Patient) {
		for _, part := range []string{p.FirstName, p.LastName} {
			if strings.TrimSpace(part) == "" {
				continue
			}
			add(part)
			// As the patient folder writes it (upper case, characters
			// Windows refuses replaced).
			add(dest.Layout{Template: "{FIRSTNAME}"}.PatientDir(clinicsync.Patient{FirstName: part}))
		}
	}
	// Every document, not only those the document list shows: the
	// activity log may name a patient whose document is older.
	for off := 0; ; off += 500 {
		docs, err := s.Documents(ctx, engine.DocumentFilter{Limit: 500, Offset: off})
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			addPatient(d.Patient)
		}
		if len(docs) < 500 {
			break
		}
	}
	notes, err := s.Notes(ctx, false)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		add(n.Patient)
	}
	return r, nil
}

// redactKey is this installation's key of the tokens, made at the first
// redacted bundle; a random one for this bundle alone if it cannot be kept.
func (s *Service) redactKey() []byte {
	path := filepath.Join(s.p.DataDir, redactKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		if k, err := hex.DecodeString(strings.TrimSpace(string(b))); err == nil && len(k) >= 16 {
			return k
		}
	}
	k := make([]byte, 32)
	rand.Read(k)
	if s.p.DataDir != "" {
		os.WriteFile(path, []byte(hex.EncodeToString(k)), 0o600)
	}
	return k
}

// nameWords are the words of a name: runs of letters (and their marks) of
// two or more.
func nameWords(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !isNameRune(r) }) {
		if utf8.RuneCountInString(w) >= 2 {
			out = append(out, w)
		}
	}
	return out
}

// fold is the form of a word names are compared in: composed, lower case.
func fold(w string) string { return strings.ToLower(norm.NFC.String(w)) }

func isNameRune(r rune) bool { return unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) }

// replace replaces every word of b that is a name's word with its token.
func (r *nameRedactor) replace(b []byte) []byte {
	if len(r.token) == 0 {
		return b
	}
	s := string(b)
	var out strings.Builder
	out.Grow(len(s))
	for i := 0; i < len(s); {
		c, n := utf8.DecodeRuneInString(s[i:])
		if !isNameRune(c) {
			out.WriteString(s[i : i+n])
			i += n
			continue
		}
		j := i
		for j < len(s) {
			c, m := utf8.DecodeRuneInString(s[j:])
			if !isNameRune(c) {
				break
			}
			j += m
		}
		if tok, ok := r.token[fold(s[i:j])]; ok {
			out.WriteString(tok)
		} else {
			out.WriteString(s[i:j])
		}
		i = j
	}
	return []byte(out.String())
}
