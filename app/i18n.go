package app

import (
	"fmt"
	"sync"

	"fyne.io/fyne/v2/lang"

	"github.com/clinicsync/clinicsync"

	// Before Fyne's lang package reads the locale: no "Error parsing user
	// locale C" under C.UTF-8 (see the package).
	_ "github.com/clinicsync/clinicsync/app/localeenv"
	"github.com/clinicsync/clinicsync/assets"
)

// Translations live in assets/translations in Fyne's lang format (one JSON
// object per language, keyed by the English text). With no language set,
// Fyne's lang package picks the one closest to the system's locale. A
// language chosen in Settings overrides that at once, without a restart:
// T then reads the chosen table directly (Fyne's own widgets keep the
// system's language).

var tr struct {
	sync.RWMutex
	override string            // "", "en" or "fr"
	table    map[string]string // the override's table
}

var loadOnce sync.Once

func loadTranslations() {
	loadOnce.Do(func() {
		if err := lang.AddTranslationsFS(assets.Translations, "translations"); err != nil {
			fmt.Println("clinicsync: translations:", err)
		}
	})
}

// SetLanguage sets the override ("" follows the system).
func SetLanguage(code string) error {
	loadTranslations()
	table, err := assets.Table(code)
	if err != nil {
		return err
	}
	tr.Lock()
	tr.override, tr.table = code, table
	tr.Unlock()
	return nil
}

// T translates an English text.
func T(key string) string {
	tr.RLock()
	o, table := tr.override, tr.table
	tr.RUnlock()
	switch o {
	case "":
		loadTranslations()
		return lang.L(key)
	case "en":
		return key
	}
	if v, ok := table[key]; ok && v != "" {
		return v
	}
	return key
}

// Tf translates a format string, then formats it.
func Tf(key string, args ...any) string { return fmt.Sprintf(T(key), args...) }

// translated is the set of texts fr.json translates. A Text's key can be
// any sentence (an error's message, with a server's words in it): only
// these go to T, Fyne's lang package reading what it is given as a
// template.
var translated = sync.OnceValue(func() map[string]bool {
	table, err := assets.Table("fr")
	if err != nil {
		return nil
	}
	set := make(map[string]bool, len(table))
	for k := range table {
		set[k] = true
	}
	return set
})

// TText renders a Text (an activity line, a failure's reason) in the
// window's current language.
func TText(t clinicsync.Text) string { return t.Render(translateKey) }

func translateKey(key string) string {
	if translated()[key] {
		return T(key)
	}
	return key
}
