package app

import (
	"image/color"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// The window as issue 12 ("The first hour") saw it. These tests read what
// is drawn (the canvas texts Fyne renders), not the widgets' fields, so
// that they hold for any way of drawing it.

// drawn is every visible text under o, in drawing order (UI goroutine).
func drawn(o fyne.CanvasObject) []*canvas.Text {
	var out []*canvas.Text
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch c := o.(type) {
		case *canvas.Text:
			out = append(out, c)
		case *fyne.Container:
			for _, k := range c.Objects {
				walk(k)
			}
		case fyne.Widget:
			for _, k := range test.WidgetRenderer(c).Objects() {
				walk(k)
			}
		}
	}
	walk(o)
	return out
}

func drawnStrings(o fyne.CanvasObject) []string {
	var out []string
	for _, t := range drawn(o) {
		out = append(out, t.Text)
	}
	return out
}

// settle lays the window out until sizes stop changing: Fyne's test canvas
// does not re-lay a container out when a child's minimum size changes, as
// the real one does on its next frame (a wrapped text's height follows
// its width).
func settle(w fyne.Window) {
	for range 3 {
		size := w.Canvas().Size()
		w.Content().Refresh()
		w.Resize(size.AddWidthHeight(1, 0))
		w.Resize(size)
	}
}

// run finds consecutive texts whose concatenation is want; nil if none.
func run(texts []string, want string) []string {
	for i := range texts {
		got := ""
		for j := i; j < len(texts); j++ {
			got += texts[j]
			if got == want {
				return texts[i : j+1]
			}
			if !strings.HasPrefix(want, got) {
				break
			}
		}
	}
	return nil
}

// Item 11: the details pane breaks a path after a separator, never inside
// a folder's or file's name, and Copy puts the real path on the clipboard.
func TestDocumentPathWrapsAtSeparators(t *testing.T) {
	r := newUIRig(t, 1)
	r.pass()
	d, err := r.svc.Documents(r.ui.ctx, engine.DocumentFilter{Limit: 10})
	if err != nil || len(d) == 0 {
		t.Fatalf("documents %v %v", d, err)
	}
	var path, uuid string
	for _, x := range d {
		if x.Path != "" {
			path, uuid = x.Path, x.UUID
		}
	}
	r.onUI(func() {
		r.ui.tabs.SelectIndex(tabDocuments)
		r.ui.Window().Resize(fyne.NewSize(1100, 640)) // a line holds the test's long folder name
	})
	r.selectDoc(uuid)
	r.onUI(func() {
		settle(r.ui.Window())
		texts := drawnStrings(r.ui.tabs.Items[tabDocuments].Content)
		lines := run(texts, path)
		if len(lines) < 2 {
			t.Fatalf("the path %q is not drawn on several lines: %q", path, texts)
		}
		for _, l := range lines[:len(lines)-1] {
			if !strings.HasSuffix(l, string(filepath.Separator)) {
				t.Fatalf("a line of the path ends inside a name: %q (lines %q)", l, lines)
			}
		}
		copyPath, ok := findIn(r.ui.tabs.Items[tabDocuments].Content, func(b *widget.Button) bool {
			return b.Visible() && b.Icon != nil && b.Icon.Name() == theme.ContentCopyIcon().Name()
		})
		if !ok {
			t.Fatal("no Copy button for the path")
		}
		test.Tap(copyPath)
		if got := fyne.CurrentApp().Clipboard().Content(); got != path {
			t.Fatalf("copied %q, want %q", got, path)
		}
	})
}

// Item 11: after a successful Retry under the Failed filter, the pane
// shows the delivered state and its attempts, hides the rows that have
// nothing to say, and says the document left the filter.
func TestDeliveredDocumentLeavesTheFailedFilter(t *testing.T) {
	r := newUIRig(t, 1)
	r.pass()
	r.onUI(func() { test.Tap(r.ui.header.failed) })
	r.until("the failed document selected", func() bool { return r.ui.docs.selected.UUID == r.broken })
	r.sim.SetContent(r.broken, sim.Content{Kind: sim.ContentPDF})
	v := r.ui.docs
	r.onUI(func() { test.Tap(v.retry) })
	r.until("the delivery", func() bool { return v.retryMsg.Text == "Delivered." })
	r.until("the list without it", func() bool { return len(v.items) == 0 })
	r.onUI(func() {
		settle(r.ui.Window())
		texts := drawnStrings(r.ui.tabs.Items[tabDocuments].Content)
		all := strings.Join(texts, "|")
		for _, want := range []string{"Delivered, no longer in this filter", "Delivered", "Attempts", "2", "lab_results.pdf"} {
			if !containsText(texts, want) {
				t.Errorf("the pane does not show %q: %s", want, all)
			}
		}
		if containsText(texts, "Next automatic retry") {
			t.Errorf("an empty \"Next automatic retry\" row is drawn: %s", all)
		}
	})
}

func containsText(texts []string, want string) bool {
	for _, s := range texts {
		if strings.TrimSpace(s) == want {
			return true
		}
	}
	return false
}

// Item 12: an activity row keeps the end of a long path (the patient's
// folder and the file) and shortens its root; the full line, with the
// real path, is shown and copied once the row is selected.
func TestActivityRowKeepsThePathsEnd(t *testing.T) {
	r := newUIRig(t, 0)
	r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{FirstName: "Jean", LastName: "Dupont"},
		PDF: clinicsync.PDF{FileName: "referral_letter.pdf"}}})
	r.pass()
	path := filepath.Join(r.root, "DUPONT_JEAN", "referral_letter.pdf")
	full := "Saved referral_letter.pdf for Jean Dupont to " + path + "."
	v := r.ui.activity
	r.onUI(func() {
		r.ui.tabs.SelectIndex(tabActivity)
		v.reload()
	})
	r.until("the saved line", func() bool {
		for i := range v.loaded() {
			if strings.HasPrefix(v.row(i).Message, "Saved referral_letter.pdf") {
				return true
			}
		}
		return false
	})
	r.onUI(func() {
		settle(r.ui.Window())
		sep := string(filepath.Separator)
		end := sep + "Patients" + sep + "DUPONT_JEAN" + sep + "referral_letter.pdf."
		var row string
		for _, s := range drawnStrings(v.list) {
			if strings.HasPrefix(s, "Saved referral_letter.pdf") {
				row = s
			}
		}
		if !strings.HasSuffix(row, end) || !strings.Contains(row, "…") {
			t.Fatalf("the row reads %q; want the root shortened and the end %q", row, end)
		}
		// Narrower, the row keeps the patient's folder and the file.
		r.ui.Window().Resize(fyne.NewSize(860, 640))
		settle(r.ui.Window())
		row = ""
		for _, s := range drawnStrings(v.list) {
			if strings.HasPrefix(s, "Saved referral_letter.pdf") {
				row = s
			}
		}
		if want := " to …" + sep + "DUPONT_JEAN" + sep + "referral_letter.pdf."; !strings.HasSuffix(row, want) {
			t.Fatalf("in a narrower window the row reads %q; want the end %q", row, want)
		}
		r.ui.Window().Resize(fyne.NewSize(980, 640))
		settle(r.ui.Window())
		for i := range v.loaded() {
			if strings.HasPrefix(v.row(i).Message, "Saved referral_letter.pdf") {
				v.list.Select(i)
			}
		}
		settle(r.ui.Window())
		texts := drawnStrings(r.ui.tabs.Items[tabActivity].Content)
		if run(texts, full) == nil && run(texts, strings.ReplaceAll(full, " ", "")) == nil && !joinedHas(texts, full) {
			t.Fatalf("the selected line is not shown in full (%q): %q", full, texts)
		}
		copyLine, ok := findIn(r.ui.tabs.Items[tabActivity].Content, func(b *widget.Button) bool {
			return b.Visible() && b.Icon != nil && b.Icon.Name() == theme.ContentCopyIcon().Name()
		})
		if !ok {
			t.Fatal("no Copy button for the selected line")
		}
		test.Tap(copyLine)
		if got := fyne.CurrentApp().Clipboard().Content(); got != full {
			t.Fatalf("copied %q, want %q", got, full)
		}
	})
}

// joinedHas: the texts, joined with a space where a line broke at one,
// hold want.
func joinedHas(texts []string, want string) bool {
	for i := range texts {
		got := ""
		for j := i; j < len(texts); j++ {
			if j > i && !strings.HasSuffix(got, "/") && !strings.HasSuffix(got, `\`) {
				got += " "
			}
			got += texts[j]
			if got == want {
				return true
			}
			if !strings.HasPrefix(want, got) {
				break
			}
		}
	}
	return false
}

func TestShortPath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`C:\YourSoftware\Documents\Patients\DOE_JOHN\referral_letter.pdf`, `C:\YourSoftware\…\Patients\DOE_JOHN\referral_letter.pdf`},
		{`/tmp/clinicsync-demo-3550243564/YourSoftware/Documents/Patients/DUPONT_JEAN/referral_letter.pdf`,
			`/tmp/…/Patients/DUPONT_JEAN/referral_letter.pdf`},
		{`\\server\share\Cabinet\Documents\Patients\DOE_JOHN\a.pdf`, `\\server\share\…\Patients\DOE_JOHN\a.pdf`},
		{`C:/Data/Patients/DOE_JOHN/a.pdf`, `C:/Data/Patients/DOE_JOHN/a.pdf`}, // nothing worth dropping
		{`/srv/Patients/DOE/a.pdf`, `/srv/Patients/DOE/a.pdf`},
		{`Jean Dupont`, `Jean Dupont`},
		{`https://askara.example/api/v1/documents/x`, `https://askara.example/api/v1/documents/x`},
		{`relative/one/two/three/four/five`, `relative/one/two/three/four/five`},
	} {
		if got := shortPath(c.in); got != c.want {
			t.Errorf("shortPath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{`C:\YourSoftware\Documents\Patients\DOE_JOHN\referral_letter.pdf`, `…\DOE_JOHN\referral_letter.pdf`},
		{`\\server\share\Patients\DOE_JOHN\a.pdf`, `…\DOE_JOHN\a.pdf`},
		{`/DOE_JOHN/a.pdf`, `/DOE_JOHN/a.pdf`},
		{`Jean Dupont`, `Jean Dupont`},
	} {
		if got := pathTail(c.in); got != c.want {
			t.Errorf("pathTail(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Item 13: the header names the person and the organisation, not a cut
// e-mail address, and every part of it is drawn whole, in English and
// French, at the window's default and minimum width.
func TestHeaderGivesEachPartRoom(t *testing.T) {
	r := newUIRig(t, 1)
	t.Cleanup(func() { SetLanguage("en") })
	r.pass()
	for _, lang := range []string{"en", "fr"} {
		r.onUI(func() { r.ui.setLanguage(lang) })
		for _, wide := range []bool{true, false} {
			r.onUI(func() {
				w := r.ui.Window()
				width := float32(980)
				if !wide {
					width = w.Content().MinSize().Width
				}
				w.Resize(fyne.NewSize(width, 640))
				st := r.svc.Status()
				st.LastPassEnd, st.NextPass = time.Now(), time.Now().Add(10*time.Minute) // "in 10 min": as wide as "in 45 s", and no second ticks away while the test runs
				h := r.ui.header
				// From "Up to date" to a failure: the state's line makes
				// room for the longer text and the Show button at once.
				idle := st
				idle.Status, idle.Counts = engine.StatusIdle, map[clinicsync.ItemState]int{clinicsync.StateConfirmed: 1}
				h.set(idle)
				settle(w)
				h.set(st)
				if h.state.shown() != h.state.Text || h.failed.Hidden {
					t.Errorf("%s at %.0f px: the state reads %q, Show hidden %v", lang, width, h.state.shown(), h.failed.Hidden)
				}
				settle(w)
				texts := drawnStrings(h.root)
				all := strings.Join(texts, " | ")
				if strings.Contains(all, "…") || strings.Contains(all, "@") {
					t.Errorf("%s at %.0f px: the header is cut, or shows an e-mail: %s", lang, width, all)
				}
				for _, want := range []string{"Jane Doe", "Cabinet Médical Demo", Tf("in %d min", 10), T("just now"),
					Tf("%d confirmed · %d pending · %d failed", 1, 0, 1)} {
					if !strings.Contains(all, want) {
						t.Errorf("%s at %.0f px: the header does not show %q: %s", lang, width, want, all)
					}
				}
				// Every text fits the space it is drawn in.
				for _, tx := range drawn(h.root) {
					if need := fyne.MeasureText(tx.Text, tx.TextSize, tx.TextStyle).Width; tx.Size().Width > 0 && need > tx.Size().Width+1 {
						t.Errorf("%s at %.0f px: %q needs %.0f px, has %.0f", lang, width, tx.Text, need, tx.Size().Width)
					}
				}
			})
		}
	}
}

func TestShortenTextAtWordBoundaries(t *testing.T) {
	width := func(s string) float32 { return float32(len([]rune(s))) }
	for _, c := range []struct {
		in   string
		w    float32
		want string
	}{
		{"Jane Doe · Cabinet Médical Demo", 40, "Jane Doe · Cabinet Médical Demo"},
		{"Jane Doe · Cabinet Médical Demo", 28, "Jane Doe · Cabinet Médical…"},
		{"Jane Doe · Cabinet Médical Demo", 14, "Jane Doe…"},
		{"Supercalifragilistic", 8, "Superca…"},
	} {
		if got := shortenText(c.in, c.w, width); got != c.want {
			t.Errorf("shortenText(%q, %v) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
	lines := breakText(`C:\YourSoftware\Documents\Patients\DOE_JOHN\referral letter.pdf`, 22, width)
	want := []string{`C:\YourSoftware\`, `Documents\Patients\`, `DOE_JOHN\referral`, `letter.pdf`}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("breakText: %q, want %q", lines, want)
	}
	if lines := breakText("averyveryverylongname", 8, width); strings.Join(lines, "|") != "averyver|yverylon|gname" {
		t.Fatalf("a name wider than the line: %q", lines)
	}
}

// contrast is the WCAG contrast ratio of two colours.
func contrast(a, b color.Color) float64 {
	lum := func(c color.Color) float64 {
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
	la, lb := lum(a), lum(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// variantTheme is Fyne's theme in one variant, as the system would choose
// it.
type variantTheme struct {
	fyne.Theme
	v fyne.ThemeVariant
}

func (t variantTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.v)
}

// Item 14: the hints under Settings' fields and the notes on Account and
// Diagnostics are drawn with at least 4.5:1 contrast against the
// background (WCAG AA), in Fyne's light and dark themes alike.
func TestHintsMeetWCAGContrast(t *testing.T) {
	r := newUIRig(t, 0)
	hints := []string{
		"The practice software's patients folder, e.g. C:\\YourSoftware\\Documents\\Patients",
		"Sent to Askara with each confirmation",
		"Between 10s and 1h, e.g. 45s or 2m",
		"Sign-in happens once, in this computer's browser or with a code on any device.",
		"The support bundle holds the settings",
	}
	for _, v := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
		r.onUI(func() {
			th := variantTheme{theme.DefaultTheme(), v}
			fyne.CurrentApp().Settings().SetTheme(th)
			defer fyne.CurrentApp().Settings().SetTheme(nil)
			bg := th.Color(theme.ColorNameBackground, v)
			found := map[string]bool{}
			for _, tab := range []int{tabSettings, tabAccount, tabDiagnostics} {
				r.ui.tabs.SelectIndex(tab)
				content := r.ui.tabs.Items[tab].Content
				content.Refresh()
				for _, tx := range drawn(content) {
					for _, h := range hints {
						if !strings.HasPrefix(h, tx.Text) && !strings.HasPrefix(tx.Text, h) || tx.Text == "" {
							continue
						}
						found[h] = true
						if c := contrast(tx.Color, bg); c < 4.5 {
							t.Errorf("variant %d: %q has contrast %.2f:1 against the background", v, tx.Text, c)
						}
					}
				}
			}
			for _, h := range hints {
				if !found[h] {
					t.Errorf("variant %d: hint %q not drawn", v, h)
				}
			}
		})
	}
}

// Item 14: the app sets no theme of its own: Fyne follows the system's
// light or dark setting. The hint colour it lends its hints exists in
// both variants and differs from the text colour.
func TestWindowFollowsTheSystemTheme(t *testing.T) {
	r := newUIRig(t, 0)
	r.onUI(func() {
		before := fyne.CurrentApp().Settings().Theme()
		New(fyne.CurrentApp(), r.svc, Options{do: r.onUI}).Close()
		if fyne.CurrentApp().Settings().Theme() != before {
			t.Fatal("New set an app-wide theme")
		}
		for _, v := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
			fyne.CurrentApp().Settings().SetTheme(variantTheme{theme.DefaultTheme(), v})
			h, fg, bg := hintTheme{}.Color(theme.ColorNameDisabled, v), theme.DefaultTheme().Color(theme.ColorNameForeground, v),
				theme.DefaultTheme().Color(theme.ColorNameBackground, v)
			if h == nil || h == fg || contrast(h, bg) < 4.5 || contrast(h, bg) >= contrast(fg, bg) {
				t.Errorf("variant %d: hint %v, foreground %v, background %v", v, h, fg, bg)
			}
		}
		fyne.CurrentApp().Settings().SetTheme(nil)
	})
}

// laptopWindow is the window maximised on a 1366×768 screen, less a 48 px
// taskbar and a 32 px title bar.
var laptopWindow = fyne.NewSize(1366, 688)

// Item 15: on a 1366×768 laptop screen (the window maximised, less a
// taskbar and the title bar), Settings scrolls with a visible cue, and
// Save and Revert stay in view below the scroll area.
func TestSettingsOnALaptopScreen(t *testing.T) {
	r := newUIRig(t, 0)
	r.onUI(func() {
		w := r.ui.Window()
		w.Resize(laptopWindow)
		r.ui.tabs.SelectIndex(tabSettings)
		settle(w)
		s := r.ui.settings
		inView := func(o fyne.CanvasObject) bool {
			p := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
			return o.Visible() && o.Size().Height > 0 && p.Y >= 0 && p.Y+o.Size().Height <= w.Canvas().Size().Height
		}
		if !inView(s.save) || !inView(s.revert) {
			t.Fatal("Save or Revert is out of view")
		}
		cue, ok := findIn(r.ui.tabs.Items[tabSettings].Content, func(b *widget.Button) bool { return b.Visible() && b.Text == T("More settings below") })
		if !ok || !inView(cue) {
			t.Fatal("no visible cue that Settings scrolls")
		}
		scroll, ok := findIn(r.ui.tabs.Items[tabSettings].Content, func(*container.Scroll) bool { return true })
		if !ok {
			t.Fatal("Settings does not scroll")
		}
		test.Tap(cue)
		if scroll.Offset.Y+scroll.Size().Height < scroll.Content.MinSize().Height-1 {
			t.Fatalf("the cue did not scroll to the end: offset %v", scroll.Offset)
		}
		if cue.Visible() {
			t.Fatal("the cue stays at the end")
		}
		if !inView(s.save) || !inView(s.revert) {
			t.Fatal("Save or Revert is out of view after scrolling")
		}
	})
}

// Seen on the French screenshots: the filters show their choice whole
// ("Toutes les notes", not "Toutes les …").
func TestFiltersShowTheirChoicesWhole(t *testing.T) {
	r := newUIRig(t, 0)
	t.Cleanup(func() { SetLanguage("en") })
	r.onUI(func() {
		r.ui.setLanguage("fr")
		w := r.ui.Window()
		for tab, sel := range map[int]*widget.Select{tabDocuments: r.ui.docs.filter, tabActivity: r.ui.activity.level,
			tabNotes: r.ui.notes.filter} {
			r.ui.tabs.SelectIndex(tab)
			for i, o := range sel.Options {
				sel.SetSelectedIndex(i)
				settle(w)
				texts := drawnStrings(sel)
				if !containsText(texts, o) {
					t.Errorf("the filter shows %q for %q", texts, o)
				}
			}
		}
	})
}
