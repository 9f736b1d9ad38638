package app

import (
	"image/color"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Hints (the line under a Settings field, the notes on Account and
// Diagnostics) are LowImportance labels, which Fyne draws in its
// "disabled" colour: 1.3:1 against the light theme's background and 1.6:1
// against the dark one's, far below WCAG AA's 4.5:1 for text. hinted
// draws a label's low-importance text in hintColor instead, which is
// between the text and the background colours and still 4.5:1 from the
// background. Only the hints get it: a disabled button's text keeps
// looking disabled. The app sets no theme of its own, so the window
// follows the system's light or dark setting as Fyne does by default.

// hinted wraps a label so that its LowImportance text reads as a hint
// (the label's importance may change later: the other colours are the
// theme's).
func hinted(l *widget.Label) fyne.CanvasObject {
	l.Importance = widget.LowImportance
	return container.NewThemeOverride(l, hintTheme{})
}

// hintLabel is a wrapped hint.
func hintLabel(text string) fyne.CanvasObject { return hinted(wrapLabel(text)) }

// hintTheme is the app's current theme with hintColor for "disabled".
type hintTheme struct{}

func (hintTheme) base() fyne.Theme { return fyne.CurrentApp().Settings().Theme() }

func (h hintTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	b := h.base()
	if n == theme.ColorNameDisabled {
		return hintColor(b.Color(theme.ColorNameForeground, v), b.Color(theme.ColorNameBackground, v))
	}
	return b.Color(n, v)
}

func (h hintTheme) Font(s fyne.TextStyle) fyne.Resource     { return h.base().Font(s) }
func (h hintTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return h.base().Icon(n) }
func (h hintTheme) Size(n fyne.ThemeSizeName) float32       { return h.base().Size(n) }

// hintMinContrast is WCAG AA's minimum for text (4.5:1), with a margin
// for rounding to 8-bit colour.
const hintMinContrast = 4.6

// hintColor is the text colour fg moved towards the background bg as far
// as it can go (at most 60 %) while keeping hintMinContrast against bg:
// subtler than the text, readable. Should fg itself have less, it is
// fg.
func hintColor(fg, bg color.Color) color.Color {
	f, b := color.NRGBAModel.Convert(fg).(color.NRGBA), color.NRGBAModel.Convert(bg).(color.NRGBA)
	best := f
	for step := 1; step <= 12; step++ {
		w := float64(step) * 0.05
		mix := func(x, y uint8) uint8 { return uint8(float64(x)*(1-w) + float64(y)*w + 0.5) }
		c := color.NRGBA{R: mix(f.R, b.R), G: mix(f.G, b.G), B: mix(f.B, b.B), A: 0xff}
		if contrastRatio(c, b) < hintMinContrast {
			break
		}
		best = c
	}
	return best
}

// contrastRatio is the WCAG contrast ratio of two opaque colours.
func contrastRatio(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance is a colour's relative luminance (WCAG 2).
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	ch := func(v uint32) float64 {
		s := float64(v) / 0xffff
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(r) + 0.7152*ch(g) + 0.0722*ch(b)
}
