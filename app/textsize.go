package app

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// The text-size setting ([app] text_size, Settings → Text size): the theme
// Fyne would use, with its text sizes (and the small icons drawn beside
// text) scaled. Colours and variants are the base theme's, so the window
// still follows the system's light or dark setting.

// sizedTheme scales base's text sizes by scale.
type sizedTheme struct {
	base  fyne.Theme
	scale float32
}

func (t sizedTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	return t.base.Color(n, v)
}
func (t sizedTheme) Font(s fyne.TextStyle) fyne.Resource     { return t.base.Font(s) }
func (t sizedTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return t.base.Icon(n) }

func (t sizedTheme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameText, theme.SizeNameCaptionText, theme.SizeNameHeadingText,
		theme.SizeNameSubHeadingText, theme.SizeNameInlineIcon:
		return t.base.Size(n) * t.scale
	}
	return t.base.Size(n)
}

// setTextSize applies a text size in percent (100: the theme's own sizes).
// The first call remembers the app's theme as the base (UI goroutine).
func (u *UI) setTextSize(percent int) {
	s := u.app.Settings()
	if u.baseTheme == nil {
		if st, ok := s.Theme().(sizedTheme); ok {
			u.baseTheme = st.base
		} else {
			u.baseTheme = s.Theme()
		}
	}
	if percent <= 0 {
		percent = 100
	}
	if cur, ok := s.Theme().(sizedTheme); ok && cur.scale == float32(percent)/100 {
		return
	}
	if percent == 100 {
		if _, ok := s.Theme().(sizedTheme); ok {
			s.SetTheme(u.baseTheme)
		}
		return
	}
	s.SetTheme(sizedTheme{base: u.baseTheme, scale: float32(percent) / 100})
}
