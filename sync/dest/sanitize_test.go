package dest

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// reservedRE is an independent statement of the Windows device names (it
// does not reuse isReserved): the part before the first dot, trailing spaces
// ignored, ASCII case-insensitive.
var reservedRE = regexp.MustCompile(`^(?:[Cc][Oo][Nn]|[Pp][Rr][Nn]|[Aa][Uu][Xx]|[Nn][Uu][Ll]|` +
	`[Cc][Oo][Mm][0-9¹²³]|[Ll][Pp][Tt][0-9¹²³]|[Cc][Oo][Nn][Ii][Nn]\$|[Cc][Oo][Nn][Oo][Uu][Tt]\$) *(?:\..*)?$`)

// checkComponent asserts every promise SanitizeComponent makes about out,
// the result for in with bound max (already clamped to 12..255).
func checkComponent(t *testing.T, in, out string, max int) {
	t.Helper()
	fail := func(why string) { t.Errorf("%q → %q (max %d): %s", in, out, max, why) }
	if !utf8.ValidString(out) {
		fail("invalid UTF-8")
	}
	if out == "" || out == "." || out == ".." {
		fail("empty, . or ..")
	}
	for _, r := range out {
		if r < 0x20 || (r >= 0x7F && r <= 0x9F) || strings.ContainsRune(`<>:"/\|?*`, r) {
			fail("forbidden character " + string(r))
		}
		if (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || (r >= 0x200B && r <= 0x200F) || r == 0xFEFF {
			fail("invisible or bidi character")
		}
	}
	if reservedRE.MatchString(out) {
		fail("reserved device name")
	}
	if strings.HasSuffix(out, ".") || strings.HasSuffix(out, " ") || strings.HasPrefix(out, " ") {
		fail("leading space or trailing dot or space")
	}
	if len(out) > max || len(utf16.Encode([]rune(out))) > max {
		fail("too long")
	}
	if !norm.NFC.IsNormalString(out) {
		fail("not NFC")
	}
	if again := SanitizeComponent(out, max); again != out {
		t.Errorf("not idempotent: %q → %q → %q (max %d)", in, out, again, max)
	}
	if wider := SanitizeComponent(out, maxComponent); wider != out {
		t.Errorf("not stable under a wider bound: %q → %q → %q", in, out, wider)
	}
}

func TestSanitizeComponent(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"traversal", "../../etc", 0, ".._.._etc"},
		{"dot dot", "..", 0, "_"},
		{"dot", ".", 0, "_"},
		{"windows absolute", `C:\Windows\System32\evil.pdf`, 0, "C_Windows_System32_evil.pdf"},
		{"unix absolute", "/etc/passwd", 0, "_etc_passwd"},
		{"CON", "CON", 0, "CON_"},
		{"PRN", "PRN", 0, "PRN_"},
		{"aux lower", "aux", 0, "aux_"},
		{"nul.pdf", "nul.pdf", 0, "nul_.pdf"},
		{"COM1", "COM1", 0, "COM1_"},
		{"COM0", "COM0", 0, "COM0_"},
		{"LPT9.txt", "LPT9.txt", 0, "LPT9_.txt"},
		{"COM superscript", "COM¹", 0, "COM¹_"},
		{"LPT superscript ext", "lpt³.pdf", 0, "lpt³_.pdf"},
		{"CON double extension", "CON.tar.gz", 0, "CON_.tar.gz"},
		{"CON space before dot", "CON .pdf", 0, "CON_.pdf"},
		{"CONIN$", "conin$", 0, "conin$_"},
		{"COM10 is not reserved", "COM10", 0, "COM10"},
		{"CONSOLE is not reserved", "CONSOLE.pdf", 0, "CONSOLE.pdf"},
		{"full-width CON is not reserved", "ＣＯＮ", 0, "ＣＯＮ"},
		{"all forbidden", `<>:"/\|?*`, 0, "_"},
		{"forbidden collapse", `a<>:"/\|?*b`, 0, "a_b"},
		{"replacement next to underscores collapses", "a_<_b", 0, "a_b"},
		{"literal underscores kept", "a__b", 0, "a__b"},
		{"control characters", "a\x00b\x1fc\x7fd\tz\ne", 0, "a_b_c_d_z_e"},
		{"C1 control", "a\u0085b", 0, "a_b"},
		{"invalid UTF-8", "a\xff\xfeb", 0, "a_b"},
		{"trailing dots and spaces", "report. . ", 0, "report"},
		{"leading spaces", "   report", 0, "report"},
		{"only spaces", "   ", 0, "_"},
		{"NFD to NFC", "Jose\u0301 Zoe\u0308", 0, "José Zoë"},
		{"NFC kept", "Élodie", 0, "Élodie"},
		{"RTL override", "invoice\u202Efdp.exe", 0, "invoicefdp.exe"},
		{"zero-width joiner and bidi", "Ma\u200dr\u202Eie", 0, "Marie"},
		{"zero-width space and BOM", "\ufeffa\u200bb", 0, "ab"},
		{"bidi isolate", "a\u2066b\u2069", 0, "ab"},
		{"emoji kept", "😀 scan 🩺.pdf", 0, "😀 scan 🩺.pdf"},
		{"look-alike slashes", "a／b∕c.pdf", 0, "a_b_c.pdf"},
		{"NTFS stream", "report.pdf:Zone.Identifier", 0, "report.pdf_Zone.Identifier"},
		{"empty", "", 0, "_"},
		{"leading dash kept", "-rf", 0, "-rf"},
		{"300 ASCII", long, 0, long[:255]},
		{"300 ASCII bounded", long, 80, long[:80]},
		{"300 ASCII keeps extension", long[:296] + ".pdf", 119, long[:115] + ".pdf"},
		{"300 two-byte runes", strings.Repeat("é", 300), 0, strings.Repeat("é", 127)},
		{"300 three-byte runes", strings.Repeat("漢", 300), 0, strings.Repeat("漢", 85)},
		{"300 emoji: bytes and UTF-16", strings.Repeat("😀", 300), 0, strings.Repeat("😀", 63)},
		{"cut does not strand a combining mark", strings.Repeat("a", 11) + "q\u0323\u0307", 12, strings.Repeat("a", 11)},
		{"cut then trailing dot", strings.Repeat("a", 11) + ". b", 12, strings.Repeat("a", 11)},
		{"cut makes CON", "CON         x", 12, "CON_"},
		{"reserved and long", "CON." + long, 20, "CON_." + long[:15]},
		{"small bound is raised to 12", long, 3, long[:12]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SanitizeComponent(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("SanitizeComponent(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			max := tt.max
			switch {
			case max <= 0:
				max = 255
			case max < 12:
				max = 12
			}
			checkComponent(t, tt.in, got, max)
			if got != SanitizeComponent(tt.in, tt.max) {
				t.Error("not stable")
			}
		})
	}
}

func TestSanitizeComponentNFCAndNFDAgree(t *testing.T) {
	if a, b := SanitizeComponent("r\u00e9sum\u00e9.pdf", 0), SanitizeComponent("re\u0301sume\u0301.pdf", 0); a != b || a != "r\u00e9sum\u00e9.pdf" {
		t.Fatalf("NFC %q, NFD %q", a, b)
	}
}

// TestSanitizeComponentTrickyAlphabet throws random strings made of the
// characters that interact (dots, spaces, underscores, forbidden and
// invisible characters, combining marks, Hangul jamo, device-name letters,
// surrogate-pair runes) at the invariants, more densely than the fuzzer
// finds them on its own.
func TestSanitizeComponentTrickyAlphabet(t *testing.T) {
	alphabet := []string{".", " ", "_", "<", "/", "\x00", "\xff", "\u200d", "\u202e", "\ufeff",
		"e", "\u0301", "\u0323", "\u0308", "\u1100", "\u1161", "\u11a8", "C", "O", "N", "n", "u", "l",
		"M", "1", "¹", "$", "I", "T", "😀", "é", "x", "-", "(", "\u0338", "=", "\u2215", "\u00ad"}
	state := uint64(42)
	next := func(n int) int {
		state = state*6364136223846793005 + 1442695040888963407
		return int((state >> 33) % uint64(n))
	}
	iterations := 30000
	if testing.Short() {
		iterations = 3000
	}
	for range iterations {
		var b strings.Builder
		for k := next(24); k >= 0; k-- {
			b.WriteString(alphabet[next(len(alphabet))])
		}
		max := 12 + next(20)
		in := b.String()
		checkComponent(t, in, SanitizeComponent(in, max), max)
		if t.Failed() {
			return
		}
	}
}
