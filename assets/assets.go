// Package assets holds the files bundled into the binary: the application
// icon, one tray icon per state (drawn by gen_icons.go) and the
// translations (Fyne's lang format: one JSON object per language, keyed by
// the English text).
package assets

import "embed"

//go:embed icon.png tray-*.png
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
