// Package assets holds the files bundled into the binary: the application
// icon, one tray icon per state (drawn by gen_icons.go: a colour PNG and a
// macOS template PNG, tray-STATE-template.png; and for Windows a multi-size
// ICO, tray-STATE.ico, made by packaging/windows/icogen.go -sizes
// 16,20,24,32,48 from the PNG) and the translations (Fyne's lang format: one JSON object per language, keyed by
// the English text).
package assets

import (
	"embed"
	"encoding/json"
	"fmt"
)

//go:embed icon.png tray-*.png tray-*.ico
var Icons embed.FS

//go:embed translations
var Translations embed.FS

// Icon returns one of the embedded icons by file name.
func Icon(name string) []byte {
	b, err := Icons.ReadFile(name)
	if err != nil {
		panic("assets: no icon " + name)
	}
	return b
}

// Table returns the translations of a language ("fr"): English text to
// translated text. English, the texts' own language, has none.
func Table(code string) (map[string]string, error) {
	table := map[string]string{}
	if code == "" || code == "en" {
		return table, nil
	}
	b, err := Translations.ReadFile("translations/" + code + ".json")
	if err != nil {
		return nil, fmt.Errorf("no translation for %q", code)
	}
	if err := json.Unmarshal(b, &table); err != nil {
		return nil, fmt.Errorf("translation %s: %w", code, err)
	}
	return table, nil
}
