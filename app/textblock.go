package app

import (
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Fyne 2.7.1's labels break a line inside a word: with TextWrapWord only at
// spaces (a path has none, so it is cut mid-name, and a zero-width space is
// not a space to it), with TextWrapBreak anywhere; and a truncated label
// cuts mid-word ("jane.doe@cabinet-demo.ex…"). textBlock lays its text out
// itself, for the width it is given:
//   - wrapped: broken after a space or a path separator (\ or /), so a path
//     reads "C:\YourSoftware\Documents\" / "Patients\DOE_JOHN\" / "letter.pdf";
//     only a name wider than the whole line is broken inside;
//   - shortened: one line, cut at a word boundary with an ellipsis when it
//     does not fit;
//   - full: one line, never cut (its minimum width is its text's).
//
// Its Text is always the full, real text (what a Copy button copies).
type textBlock struct {
	widget.BaseWidget
	Text      string
	TextStyle fyne.TextStyle
	ColorName fyne.ThemeColorName // "" is the foreground colour
	mode      textMode
	lines     []string // as laid out for the last width (UI goroutine)
	// compact: no padding above and below, for lines stacked tightly
	// (the header); otherwise a label's padding, to line up with labels.
	compact bool
}

type textMode int

const (
	textWrap textMode = iota
	textShorten
	textFull
)

func newTextBlock(text string, mode textMode) *textBlock {
	b := &textBlock{Text: text, mode: mode}
	b.ExtendBaseWidget(b)
	return b
}

// idealWidth is the width that shows the whole text on one line.
func (b *textBlock) idealWidth() float32 {
	th := b.Theme()
	return fyne.MeasureText(b.Text, th.Size(theme.SizeNameText), b.TextStyle).Width + 2*th.Size(theme.SizeNameInnerPadding)
}

// SetText changes the text (UI goroutine).
func (b *textBlock) SetText(s string) {
	if b.Text == s {
		return
	}
	b.Text = s
	b.Refresh()
}

// shown is the text as laid out: its lines, joined by "\n".
func (b *textBlock) shown() string { return strings.Join(b.lines, "\n") }

func (b *textBlock) CreateRenderer() fyne.WidgetRenderer {
	b.ExtendBaseWidget(b)
	return &textBlockRenderer{b: b, width: -1}
}

type textBlockRenderer struct {
	b      *textBlock
	texts  []*canvas.Text
	objs   []fyne.CanvasObject
	lines  []string
	width  float32 // the width lines were made for
	text   string  // ... and the text
	size   fyne.Size
	lineH  float32
	padX   float32
	padY   float32
	th     fyne.Theme
	tsize  float32
	styled fyne.TextStyle
}

func (r *textBlockRenderer) measure(s string) fyne.Size {
	return fyne.MeasureText(s, r.tsize, r.b.TextStyle)
}

// setup reads the theme's sizes (they change with the theme).
func (r *textBlockRenderer) setup() {
	r.th = r.b.Theme()
	r.tsize = r.th.Size(theme.SizeNameText)
	r.padX = r.th.Size(theme.SizeNameInnerPadding)
	r.padY = r.padX
	if r.b.compact {
		r.padY = 0
	}
	r.lineH = r.measure("Mg").Height
}

// relayout makes the lines for the current width and text.
func (r *textBlockRenderer) relayout() {
	r.setup()
	avail := r.size.Width - 2*r.padX
	measure := func(s string) float32 { return r.measure(s).Width }
	switch r.b.mode {
	case textWrap:
		r.lines = breakText(r.b.Text, avail, measure)
	case textShorten:
		r.lines = []string{shortenText(r.b.Text, avail, measure)}
	default:
		r.lines = []string{r.b.Text}
	}
	r.b.lines = r.lines
	r.width, r.text, r.styled = r.size.Width, r.b.Text, r.b.TextStyle
	for len(r.texts) < len(r.lines) {
		t := canvas.NewText("", nil)
		r.texts = append(r.texts, t)
	}
	r.texts = r.texts[:len(r.lines)]
	r.objs = r.objs[:0]
	for _, t := range r.texts {
		r.objs = append(r.objs, t)
	}
	r.paint()
}

// paint sets each line's text, colour and place.
func (r *textBlockRenderer) paint() {
	name := r.b.ColorName
	if name == "" {
		name = theme.ColorNameForeground
	}
	c := r.th.Color(name, fyne.CurrentApp().Settings().ThemeVariant())
	for i, t := range r.texts {
		t.Text, t.TextSize, t.TextStyle, t.Color = r.lines[i], r.tsize, r.b.TextStyle, c
		t.Move(fyne.NewPos(r.padX, r.padY+float32(i)*r.lineH))
		t.Resize(fyne.NewSize(r.size.Width-2*r.padX, r.lineH))
		t.Refresh()
	}
}

func (r *textBlockRenderer) Layout(size fyne.Size) {
	r.size = size
	if size.Width != r.width || r.text != r.b.Text || r.styled != r.b.TextStyle {
		r.relayout()
		return
	}
	r.paint()
}

// MinSize: as tall as the lines made for the last width; as narrow as a
// short word (wrapped), an ellipsis after the first word (shortened), or
// the whole text (full).
func (r *textBlockRenderer) MinSize() fyne.Size {
	if r.th == nil {
		r.setup()
	}
	lines := len(r.lines)
	if r.width < 0 || r.text != r.b.Text {
		lines = 1
		if r.b.mode == textWrap {
			lines = strings.Count(r.b.Text, "\n") + 1
		}
	}
	var w float32
	switch r.b.mode {
	case textWrap:
		w = min(r.measure(firstWord(r.b.Text)).Width, r.measure("MMMMMMMM").Width)
	case textShorten:
		w = min(r.measure(firstWord(r.b.Text)+"…").Width, r.measure(r.b.Text).Width)
	default:
		w = r.measure(r.b.Text).Width
	}
	return fyne.NewSize(w+2*r.padX, float32(lines)*r.lineH+2*r.padY)
}

func (r *textBlockRenderer) Refresh() { r.relayout() }

func (r *textBlockRenderer) Objects() []fyne.CanvasObject { return r.objs }
func (r *textBlockRenderer) Destroy()                     {}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \n"); i > 0 {
		return s[:i]
	}
	return s
}

// breakText splits s into lines no wider than width (measure gives a
// string's width), breaking after a space or a path separator; a part
// wider than a whole line is broken between characters. Line breaks in s
// are kept; spaces at a break are dropped.
func breakText(s string, width float32, measure func(string) float32) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		out = append(out, breakLine(para, width, measure)...)
	}
	return out
}

func breakLine(s string, width float32, measure func(string) float32) []string {
	if s == "" || measure(s) <= width {
		return []string{s}
	}
	var lines []string
	line := ""
	flush := func() {
		if l := strings.TrimRight(line, " "); l != "" {
			lines = append(lines, l)
		}
		line = ""
	}
	for _, tok := range breakTokens(s) {
		if measure(strings.TrimRight(line+tok, " ")) <= width {
			line += tok
			continue
		}
		flush()
		tok = strings.TrimLeft(tok, " ")
		for tok != "" && measure(strings.TrimRight(tok, " ")) > width {
			// A name wider than the line: as many characters as fit.
			n := fitRunes(tok, width, measure)
			lines = append(lines, tok[:n])
			tok = tok[n:]
		}
		line = tok
	}
	flush()
	return lines
}

// breakTokens cuts s after each space and path separator.
func breakTokens(s string) []string {
	var toks []string
	start := 0
	for i, c := range s {
		if c == ' ' || c == '/' || c == '\\' {
			toks = append(toks, s[start:i+1])
			start = i + 1
		}
	}
	if start < len(s) {
		toks = append(toks, s[start:])
	}
	return toks
}

// fitRunes is how many bytes of s (whole characters, at least one) fit in
// width.
func fitRunes(s string, width float32, measure func(string) float32) int {
	n := 0
	for i, c := range s {
		end := i + utf8.RuneLen(c)
		if n > 0 && measure(s[:end]) > width {
			break
		}
		n = end
	}
	return n
}

// shortenText is s if it fits in width, else s cut after its last whole
// word that fits, with an ellipsis ("Jane Doe · Cabinet Médical…"); a
// first word too wide for the line is cut inside.
func shortenText(s string, width float32, measure func(string) float32) string {
	if measure(s) <= width {
		return s
	}
	best := ""
	for i, c := range s {
		if c != ' ' {
			continue
		}
		head := strings.TrimRight(s[:i], " ·,;:-–—")
		if head == "" {
			continue
		}
		if measure(head+"…") > width {
			break
		}
		best = head
	}
	if best == "" {
		cut := s
		for cut != "" && measure(cut+"…") > width {
			_, size := utf8.DecodeLastRuneInString(cut)
			cut = cut[:len(cut)-size]
		}
		best = cut
	}
	return best + "…"
}
