package localeenv

import (
	"os"
	"testing"
)

// LANGUAGE is set only when go-locale would read something that is no
// language tag, and then to what the user most likely meant.
func TestNormalize(t *testing.T) {
	const unset = "(unset)"
	for _, tc := range []struct {
		lcAll, lang, language string
		want                  string // LANGUAGE afterwards
	}{
		{"", "C.UTF-8", "", "en"},
		{"C.utf8", "fr_FR.UTF-8", "", "en"},
		{"", "POSIX.UTF-8", "", "en"},
		{"", "C", "", unset},
		{"POSIX", "", "", unset},
		{"", "", "", unset},
		{"", "C", "fr", "fr"}, // go-locale ignores LANGUAGE under C
		{"", "fr_FR.UTF-8", "", unset},
		{"", "fr_FR.UTF-8@euro", "", unset},
		{"", "de_DE@euro", "", "de_DE"},
		{"", "en_US.UTF-8", ":", "en_US"},
		{"", "C.UTF-8", ":", "en"},
		{"", "en_US.UTF-8", "fr::en", "fr:en"},
		{"", "en_US.UTF-8", "fr_CA:fr", "fr_CA:fr"},
		{"", "es_419.UTF-8", "", unset},
		{"", "C.UTF-8", "zh_Hant_TW", "zh_Hant_TW"},
	} {
		for k, v := range map[string]string{"LC_ALL": tc.lcAll, "LC_MESSAGES": "", "LANG": tc.lang, "LANGUAGE": tc.language} {
			t.Setenv(k, v)
		}
		if tc.language == "" {
			os.Unsetenv("LANGUAGE")
		}
		normalize()
		got, ok := os.LookupEnv("LANGUAGE")
		if !ok {
			got = unset
		}
		if got != tc.want {
			t.Errorf("LC_ALL=%q LANG=%q LANGUAGE=%q: LANGUAGE %q, want %q", tc.lcAll, tc.lang, tc.language, got, tc.want)
		}
	}
}
