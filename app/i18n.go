package app

import (
	"encoding/json"
	"fmt"
	"sync"

	"fyne.io/fyne/v2/lang"

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
	table := map[string]string{}
	if code != "" && code != "en" {
		b, err := assets.Translations.ReadFile("translations/" + code + ".json")
		if err != nil {
			return fmt.Errorf("no translation for %q", code)
		}
		if err := json.Unmarshal(b, &table); err != nil {
			return fmt.Errorf("translation %s: %w", code, err)
		}
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
