package main

import (
	"strings"
	"sync"

	"github.com/jeandeaual/go-locale"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/assets"
)

// The command line writes activity lines (log, run's output) and failure
// reasons (status) in French when the system's language is French, and in
// English otherwise; the window follows its own Language setting. The
// system's language is read as the window reads it when no language is set
// (Fyne's lang package asks github.com/jeandeaual/go-locale: LC_ALL,
// LC_MESSAGES, LANG and LANGUAGE on Unix, the user's locale on Windows),
// without Fyne, which the headless build does not have.

// systemLanguage is "fr" when the first language the system lists is
// French, else "en". C and POSIX (services, cron, containers) are English.
func systemLanguage() string {
	locs, err := locale.GetLocales()
	if err != nil {
		return "en"
	}
	for _, l := range locs {
		lang, _, _ := strings.Cut(strings.ReplaceAll(l, "_", "-"), "-")
		lang = strings.ToLower(lang)
		if len(lang) < 2 || len(lang) > 3 {
			continue // "", "C", "POSIX": no language
		}
		if lang == "fr" {
			return "fr"
		}
		return "en"
	}
	return "en"
}

// logTranslate gives a key's translation in the system's language (the
// key itself when there is none).
var logTranslate = sync.OnceValue(func() func(string) string {
	table, err := assets.Table(systemLanguage())
	if err != nil || len(table) == 0 {
		return nil // English
	}
	return func(key string) string {
		if v, ok := table[key]; ok && v != "" {
			return v
		}
		return key
	}
})

// localText renders t in the system's language.
func localText(t clinicsync.Text) string { return clinicsync.CleanText(t.Render(logTranslate())) }
