package clinicsync

import (
	"strings"
	"testing"
)

func TestCleanText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Jean Dupont", "Jean Dupont"},
		{"Élodie Martin — lettre", "Élodie Martin — lettre"},
		{"Jean\r\n2026-11-30 12:00:00 error forged", `Jean\r\n2026-11-30 12:00:00 error forged`},
		{"a\tb", `a\tb`},
		{"esc\x1b[31mred", `esc\u001B[31mred`},
		{"del\x7f", `del\u007F`},
		{"c1\u0085next", `c1\u0085next`},
		{"line\u2028sep\u2029", `line\u2028sep\u2029`},
		{"bidi\u202Efdp.exe", `bidi\u202Efdp.exe`},
		{"iso\u2066x\u2069", `iso\u2066x\u2069`},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"", ""},
	} {
		if got := CleanText(c.in); got != c.want {
			t.Errorf("CleanText(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := CleanText(c.in); strings.ContainsAny(got, "\r\n\t\x1b\u2028\u202e") {
			t.Errorf("CleanText(%q) = %q still holds a control character", c.in, got)
		}
	}
}

func TestCleanTextKeepsCleanTextAsIs(t *testing.T) {
	s := "DOE John — referral_letter.pdf"
	if n := testing.AllocsPerRun(100, func() { _ = CleanText(s) }); n != 0 {
		t.Errorf("CleanText allocated %v times for clean text", n)
	}
}
