package app

import (
	"context"
	"image/color"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// The Activity tab: the activity log, newest first, with a level filter and
// a text search. It pages from the engine (keyset on ID, 200 rows a query at first, more as
// the list grows)
// as the list is scrolled towards the end of what is loaded, so a log of a
// million rows opens as fast as a log of ten and is never read whole.
//
// Threading: the loaded rows and every widget belong to the UI goroutine
// (callbacks from Fyne, and functions passed to v.do, which is fyne.Do).
// Queries run on their own goroutines; what they share with the UI goroutine
// (the filter and the request counters) is guarded by v.mu.

// activitySource answers activity queries; *engine.Engine is one.
type activitySource interface {
	Activity(ctx context.Context, q engine.LogQuery) ([]engine.LogEntry, error)
}

const (
	activityPageSize = 200
	// activityPrefetch: a page is fetched once a row this close to the end
	// of what is loaded is laid out.
	activityPrefetch = activityPageSize / 4
	activityDebounce = 250 * time.Millisecond
	activityTime     = "2006-01-02 15:04:05"
)

// activityLevels are the level Select's choices, in order, and the
// LogQuery.MinLevel each one stands for.
var activityLevels = []struct{ label, min string }{
	{"All", ""},
	{"Info and above", engine.LevelInfo},
	{"Warnings and errors", engine.LevelWarn},
	{"Errors only", engine.LevelError},
}

type activityFilter struct{ minLevel, search string }

type activityView struct {
	src      activitySource
	do       func(func()) // runs a function on the UI goroutine: fyne.Do; tests replace it
	pageSize int
	debounce time.Duration

	mu        sync.Mutex
	filter    activityFilter // the filter queries are to use
	filterGen uint64         // bumped when filter changes; starts at 1
	reqGen    uint64         // bumped by every reload()
	running   bool           // a reload loop is running
	again     bool           // reload() was called while it ran
	cancel    context.CancelFunc
	timer     *time.Timer // search debounce

	// UI goroutine only.
	rows       activityRows
	shownGen   uint64 // filterGen of the rows shown; 0 before the first answer
	shownQ     activityFilter
	done       bool   // the last page has been read
	pageToken  uint64 // the page query in flight (0: none)
	pageSeq    uint64
	pageErr    bool // a page query failed; no more paging until the next reload
	started    bool
	rowHeight  float32
	keepRows   int  // rows kept in memory; 0: activityKeptRows
	measuring  bool // the List is about to make a row only to measure it
	measureRow *activityRow
	levelW     float32

	list     *widget.List
	selected int // the selected row, -1: none (UI goroutine)
	// detail shows the selected row's line in full (its paths whole),
	// wrapped, with a Copy button: Fyne 2.7.1 has no tooltips.
	detail     fyne.CanvasObject
	detailText *textBlock
	copyLine   *widget.Button
	level      *widget.Select
	search     *shortcutEntry
	shown      *widget.Label
	errLabel   *widget.Label
	root       fyne.CanvasObject

	errIcon, warnIcon, infoIcon fyne.Resource
}

func newActivityView(src activitySource) *activityView {
	v := &activityView{src: src, do: fyne.Do, pageSize: activityPageSize, debounce: activityDebounce,
		filterGen: 1}
	v.errIcon = theme.NewColoredResource(theme.ErrorIcon(), theme.ColorNameError)
	v.warnIcon = theme.NewColoredResource(theme.WarningIcon(), theme.ColorNameWarning)
	v.infoIcon = theme.InfoIcon()

	opts := make([]string, len(activityLevels))
	for i, l := range activityLevels {
		opts[i] = T(l.label)
	}
	v.level = widget.NewSelect(opts, nil)
	v.level.SetSelectedIndex(0)
	v.level.OnChanged = func(string) { v.levelChanged() }

	v.search = newEntry()
	v.search.SetPlaceHolder(T("Search messages"))
	v.search.OnChanged = v.searchChanged

	v.shown = widget.NewLabel("")
	v.errLabel = widget.NewLabel("")
	v.errLabel.Importance = widget.DangerImportance
	v.errLabel.Wrapping = fyne.TextWrapWord
	v.errLabel.Hide()

	for _, w := range []string{"Debug", "Info", "Warning", "Error"} {
		v.levelW = max(v.levelW, widget.NewLabel(T(w)).MinSize().Width)
	}
	v.list = widget.NewList(v.length, v.createRow, v.updateRow)
	v.rowHeight = v.createRow().MinSize().Height
	v.selected = -1
	v.list.OnSelected = v.rowSelected
	v.detailText = newTextBlock("", textWrap)
	v.copyLine = widget.NewButtonWithIcon(T("Copy"), theme.ContentCopyIcon(), func() {
		fyne.CurrentApp().Clipboard().SetContent(v.detailText.Text)
	})
	v.detail = container.NewVBox(widget.NewSeparator(),
		container.NewBorder(nil, nil, nil, container.NewVBox(v.copyLine), v.detailText))
	v.detail.Hide()

	toolbar := container.NewBorder(nil, nil, wideSelect(v.level), v.shown, v.search)
	v.root = container.NewBorder(container.NewVBox(toolbar, v.errLabel), v.detail, nil, nil, v.list)
	return v
}

// object is the whole tab. The first call starts loading the newest page.
func (v *activityView) object() fyne.CanvasObject {
	if !v.started {
		v.started = true
		v.shown.SetText(T("Loading…"))
		v.reload()
	}
	return v.root
}

// loaded is how many rows are in memory (UI goroutine; for tests).
func (v *activityView) loaded() int { return v.rows.len() }

// row is loaded row i, 0 the newest (UI goroutine).
func (v *activityView) row(i int) engine.LogEntry {
	if e, _ := v.rows.at(i); e != nil {
		return *e
	}
	return engine.LogEntry{}
}

// idle reports that no reload is queued or running (for tests).
func (v *activityView) idle() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return !v.running
}

// reload re-reads the newest page with the current filter. Any goroutine may
// call it; calls made while a query runs collapse into one more query.
func (v *activityView) reload() {
	v.mu.Lock()
	start := v.requestLocked()
	v.mu.Unlock()
	if start {
		go v.reloadLoop()
	}
}

// requestLocked asks for a reload; true: the caller starts the loop.
func (v *activityView) requestLocked() bool {
	v.reqGen++ // any answer on its way is now stale
	if v.running {
		v.again = true
		return false
	}
	v.running = true
	return true
}

func (v *activityView) reloadLoop() {
	for {
		v.mu.Lock()
		v.again = false
		f, fgen, rgen := v.filter, v.filterGen, v.reqGen
		ctx, cancel := context.WithCancel(context.Background())
		v.cancel = cancel
		v.mu.Unlock()

		rows, err := v.src.Activity(ctx, engine.LogQuery{MinLevel: f.minLevel, Search: f.search, Limit: v.pageSize})
		cancel()
		localize(rows)
		v.do(func() { v.applyReload(f, fgen, rgen, rows, err) })

		v.mu.Lock()
		v.cancel = nil
		if !v.again {
			v.running = false
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
	}
}

// setFilter changes the filter and re-queries, abandoning a query that is
// still running for the old one.
func (v *activityView) setFilter(f activityFilter) {
	v.mu.Lock()
	if f == v.filter {
		v.mu.Unlock()
		return
	}
	v.filter = f
	v.filterGen++
	if v.cancel != nil {
		v.cancel() // its answer, an error, is stale: reqGen moves on below
	}
	start := v.requestLocked()
	v.mu.Unlock()
	if start {
		go v.reloadLoop()
	}
}

func (v *activityView) levelChanged() {
	i := v.level.SelectedIndex()
	if i < 0 {
		i = 0
	}
	v.mu.Lock()
	if v.timer != nil {
		v.timer.Stop() // the search as typed so far goes with this query
	}
	v.mu.Unlock()
	v.setFilter(activityFilter{minLevel: activityLevels[i].min, search: strings.TrimSpace(v.search.Text)})
}

func (v *activityView) searchChanged(text string) {
	text = strings.TrimSpace(text)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.timer != nil {
		v.timer.Stop()
	}
	v.timer = time.AfterFunc(v.debounce, func() {
		v.mu.Lock()
		f := v.filter
		v.mu.Unlock()
		f.search = text
		v.setFilter(f)
	})
}

// localize puts each row's message in the window's language, once, as
// the rows come in (off the UI goroutine); a row without a key keeps its
// stored text. A long path in it is shortened in the middle (shortPath),
// so that a row, one line wide, keeps the patient's folder and the file.
// Its key and arguments are then dropped, unless a path was shortened:
// the full line is rendered from them when the row is selected
// (fullMessage). A row is only ever shown in the language it was loaded
// in, since a language change builds the view anew. Search, in the
// store, reads the English.
func localize(rows []engine.LogEntry) {
	for i := range rows {
		if rows[i].Text.Key == "" {
			continue
		}
		short, changed := shortenPaths(rows[i].Text)
		rows[i].Message = short.Render(translateKey)
		if !changed {
			rows[i].Text = clinicsync.Text{}
		}
	}
}

// fullMessage is a loaded row's line with its paths whole.
func fullMessage(e *engine.LogEntry) string {
	if e.Text.Key != "" {
		return e.Render(translateKey)
	}
	return e.Message
}

// narrowMessage is a loaded row's line with its paths cut to their last
// two parts ("…/DUPONT_JEAN/referral_letter.pdf"), for a row too narrow
// for its message; "" when it has no path.
func narrowMessage(e *engine.LogEntry) string {
	if e.Text.Key == "" {
		return ""
	}
	t, _ := mapPaths(e.Text, pathTail)
	return t.Render(translateKey)
}

// shortenPaths returns t with shortPath applied to every argument, at
// every depth (a failure's reason names a folder too); changed: one was
// shortened.
func shortenPaths(t clinicsync.Text) (clinicsync.Text, bool) { return mapPaths(t, shortPath) }

// mapPaths returns t with f applied to every string argument, at every
// depth; changed: f changed one.
func mapPaths(t clinicsync.Text, f func(string) string) (clinicsync.Text, bool) {
	changed := false
	var args []any
	for i, a := range t.Args {
		var n any
		switch v := a.(type) {
		case string:
			if p := f(v); p != v {
				n = p
			}
		case clinicsync.Text:
			if p, ok := mapPaths(v, f); ok {
				n = p
			}
		}
		if n == nil {
			continue
		}
		if args == nil {
			args = append([]any(nil), t.Args...)
		}
		args[i], changed = n, true
	}
	if changed {
		t.Args = args
	}
	return t, changed
}

// shortPath shortens an absolute path in the middle, keeping its root's
// first folder and its last three parts (the documents folder's name,
// the patient's folder and the file):
// C:\YourSoftware\…\Patients\DOE_JOHN\referral_letter.pdf. Anything
// else (a name, a URL, a relative path) is returned as it is.
func shortPath(p string) string { return cutPath(p, 2, 3) }

// pathTail keeps an absolute path's last two parts, the patient's folder
// and the file: …\DOE_JOHN\referral_letter.pdf.
func pathTail(p string) string { return cutPath(p, 0, 2) }

// cutPath keeps the first head parts of an absolute path (counting the
// root as one, and \\server\share as three) and its last tail parts, with
// "…" between them.
func cutPath(p string, head, tail int) string {
	sep, unc := byte('/'), false
	switch {
	case strings.HasPrefix(p, `\\`):
		sep, unc = '\\', true
	case len(p) > 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		(p[0]|0x20 >= 'a' && p[0]|0x20 <= 'z'):
		sep = p[2]
	case strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//"):
	default:
		return p
	}
	root := 1 // "" before a leading / or \, or "C:"
	if unc {
		root = 4 // "", "", server, share
		if head > 0 {
			head += 2
		}
	}
	parts := strings.Split(p, string(sep))
	if len(parts) <= head+tail || len(parts)-tail <= root { // nothing to drop but the root
		return p
	}
	out := "…" + string(sep) + strings.Join(parts[len(parts)-tail:], string(sep))
	if head > 0 {
		out = strings.Join(parts[:head], string(sep)) + string(sep) + out
	}
	return out
}

// applyReload shows the newest page. With the filter unchanged it is put in
// front of what is loaded (new entries arrived), keeping the pages already
// read and the rows under the pointer where they are; otherwise it
// replaces them.
func (v *activityView) applyReload(f activityFilter, fgen, rgen uint64, rows []engine.LogEntry, err error) {
	v.mu.Lock()
	stale := rgen != v.reqGen
	v.mu.Unlock()
	if stale {
		return // a newer reload is on its way
	}
	same := fgen == v.shownGen && v.shownGen != 0
	if err != nil {
		v.showError(Tf("Could not read the activity log: %s", err.Error()))
		if !same {
			v.rows, v.done, v.pageToken = v.emptyRows(), true, 0
			v.unselect()
			v.refreshList()
			v.updateShown()
		}
		return
	}
	v.hideError()
	v.pageErr = false

	if n := v.rows.len(); same && n > 0 && len(rows) > 0 && rows[len(rows)-1].ID <= v.rows.newest() {
		// Contiguous with what is loaded: put the new entries in front.
		top := v.rows.newest()
		added := 0
		for added < len(rows) && rows[added].ID > top {
			added++
		}
		if added == 0 {
			return // nothing new
		}
		v.rows.prepend(rows[:added])
		off := v.list.GetScrollOffset()
		sel := v.selected
		v.list.UnselectAll()
		v.refreshList()
		if off > 0 { // keep the same entries in view
			off += float32(added) * (v.rowHeight + v.list.Theme().Size(theme.SizeNamePadding))
		}
		if sel >= 0 { // the same entry stays selected, where it now is
			v.list.Select(sel + added) // (which scrolls to it: the offset is put back)
			v.list.ScrollToOffset(off)
		} else if off > 0 {
			v.list.ScrollToOffset(off)
		}
		v.updateShown()
		return
	}

	v.rows = v.emptyRows()
	v.rows.append(rows)
	v.shownGen, v.shownQ = fgen, f
	v.done = len(rows) < v.pageSize
	v.pageToken = 0 // a page for the old rows is no longer wanted
	v.unselect()
	v.refreshList()
	if v.list.GetScrollOffset() > 0 {
		v.list.ScrollToOffset(0) // (ScrollToTop panics before the list is shown)
	}
	v.updateShown()
}

// rowSelected shows the selected row's line in full below the list (UI
// goroutine).
func (v *activityView) rowSelected(id widget.ListItemID) {
	if id < 0 || id >= v.rows.len() {
		return
	}
	e, _ := v.rows.at(id)
	if e == nil {
		return // not read again yet: it is, once shown
	}
	v.selected = id
	v.detailText.SetText(fullMessage(e))
	v.detail.Show()
}

// unselect clears the selection and hides its line (UI goroutine).
func (v *activityView) unselect() {
	v.selected = -1
	v.list.UnselectAll()
	v.detail.Hide()
	v.detailText.SetText("")
}

// loadMore fetches the page after the last loaded row, unless one is on its
// way or there is no more. UI goroutine.
func (v *activityView) loadMore() {
	if v.done || v.pageToken != 0 || v.pageErr || v.rows.len() == 0 || v.shownGen == 0 {
		return
	}
	v.pageSeq++
	token, before, f, fgen := v.pageSeq, v.rows.oldest(), v.shownQ, v.shownGen
	limit := min(max(v.pageSize, v.rows.len()), 25*v.pageSize) // see activityMaxPage
	v.pageToken = token
	go func() {
		rows, err := v.src.Activity(context.Background(), engine.LogQuery{MinLevel: f.minLevel, Search: f.search,
			BeforeID: before, Limit: limit})
		localize(rows)
		v.do(func() { v.applyPage(token, fgen, before, limit, rows, err) })
	}()
}

// emptyRows is an empty log with the view's page budget.
func (v *activityView) emptyRows() activityRows { return activityRows{keep: v.keepRows} }

// reread reads page k again, once, after its rows were dropped from memory;
// the list shows them when they come. UI goroutine.
func (v *activityView) reread(k int) {
	p := v.rows.pages[k]
	if p.reading || p.failed || p.rows != nil {
		return
	}
	p.reading = true
	f, fgen := v.shownQ, v.shownGen
	go func() {
		rows, err := v.src.Activity(context.Background(), engine.LogQuery{MinLevel: f.minLevel, Search: f.search,
			BeforeID: p.first + 1, Limit: p.n})
		localize(rows)
		v.do(func() { v.applyReread(p, fgen, rows, err) })
	}()
}

func (v *activityView) applyReread(p *rowPage, fgen uint64, rows []engine.LogEntry, err error) {
	p.reading = false
	if fgen != v.shownGen || !v.rows.owns(p) {
		return // the rows were replaced meanwhile
	}
	if err != nil {
		p.failed = true
		v.showError(Tf("Could not read older activity: %s", err.Error()))
		return
	}
	v.rows.fill(p, rows)
	v.refreshList() // lays out the rows in view again, these among them
}

func (v *activityView) applyPage(token, fgen uint64, before int64, limit int, rows []engine.LogEntry, err error) {
	if token != v.pageToken {
		return // the rows were replaced meanwhile
	}
	v.pageToken = 0
	if fgen != v.shownGen || v.rows.len() == 0 || v.rows.oldest() != before {
		return
	}
	if err != nil {
		v.pageErr = true
		v.showError(Tf("Could not read older activity: %s", err.Error()))
		return
	}
	v.done = len(rows) < limit
	v.rows.append(rows)
	v.refreshList()
	v.updateShown()
}

func (v *activityView) showError(msg string) {
	v.errLabel.SetText(msg)
	v.errLabel.Show()
}

func (v *activityView) hideError() {
	if v.errLabel.Visible() {
		v.errLabel.Hide()
		v.errLabel.SetText("")
	}
}

func (v *activityView) updateShown() {
	v.shown.SetText(Tf("%d shown", v.rows.len()))
}

func (v *activityView) length() int { return v.rows.len() }

// createRow makes a row for the list. While refreshList runs, the List's
// first call only measures a row (Fyne's List makes one on each Refresh to
// size its rows): the same row is given then, so that adding a page does not
// leave a new row's renderers in Fyne's cache each time (kept a minute by
// the real driver, for ever by the test driver: hundreds of MB at a million
// rows).
func (v *activityView) createRow() fyne.CanvasObject {
	if v.measuring {
		v.measuring = false
		if v.measureRow == nil {
			v.measureRow = newActivityRow(v.levelW)
		} else {
			v.measureRow.Refresh() // the theme (text size) may have changed
		}
		return v.measureRow
	}
	return newActivityRow(v.levelW)
}

// refreshList lays the list out again after its rows changed (UI goroutine).
func (v *activityView) refreshList() {
	v.measuring = true
	v.list.Refresh()
	v.measuring = false
}

func (v *activityView) updateRow(id widget.ListItemID, o fyne.CanvasObject) {
	r, ok := o.(*activityRow)
	if !ok || id < 0 || id >= v.rows.len() {
		return
	}
	e, page := v.rows.at(id)
	if e == nil {
		// Its page was dropped from memory: blank until it is read again.
		setText(r.at, "")
		r.setLevel(nil, "", widget.LowImportance)
		r.setMessage("…", "…")
		v.reread(page)
		return
	}
	// Only changed labels are set: a label with an ellipsis re-shapes its
	// text to find where to cut it, and that is most of a row's cost.
	setText(r.at, e.At.Local().Format(activityTime))
	switch e.Level {
	case engine.LevelError:
		r.setLevel(v.errIcon, T("Error"), widget.DangerImportance)
	case engine.LevelWarn:
		r.setLevel(v.warnIcon, T("Warning"), widget.WarningImportance)
	case engine.LevelInfo:
		r.setLevel(v.infoIcon, T("Info"), widget.MediumImportance)
	default:
		r.setLevel(nil, T("Debug"), widget.LowImportance)
	}
	r.setMessage(oneLine(e.Message), oneLine(narrowMessage(e)))
	if id >= v.rows.len()-activityPrefetch {
		v.loadMore()
	}
}

// activityRows is the log as far as it has been read, newest first, in
// pages. Only the rows of the most recently used pages stay in memory (about
// keep rows): a page that is scrolled far away drops its rows but keeps
// its place (how many rows, and the IDs it runs between), and is read again
// by keyset when it comes back into view. Scrolled to the end of a million
// rows, the view holds a few thousand of them and one small record per page;
// neither loading a page nor new entries arriving copies the rows loaded.
// (The real driver also expires the renderers of rows scrolled away after a
// minute; the test driver keeps them.)
type activityRows struct {
	pages []*rowPage // newest first
	start []int      // start[k]: the index of pages[k]'s first row
	n     int
	keep  int // rows to keep in memory (0: activityKeptRows); the rows in view may span two pages: keep two of the largest and more
	held  int // rows in memory
	tick  uint64
}

const (
	// activityMaxPage is the most rows a page read asks for: pages grow
	// from activityPageSize to as many rows as are loaded, up to this, so
	// that scrolling through a long log lays the list out again a few
	// hundred times rather than thousands (each time, Fyne drops the rows
	// it keeps for reuse).
	activityMaxPage = 25 * activityPageSize
	// activityKeptRows: the rows kept in memory, three of the largest
	// pages (about 4 MB).
	activityKeptRows = 3 * activityMaxPage
)

type rowPage struct {
	n           int
	first, last int64             // IDs of its newest and its oldest row
	rows        []engine.LogEntry // nil while evicted
	used        uint64            // when a row of it was last asked for
	reading     bool              // being read again
	failed      bool              // reading it again failed: not until the next reload
}

func (r *activityRows) len() int { return r.n }

// page is the index of the page holding row i.
func (r *activityRows) page(i int) int {
	return sort.Search(len(r.start), func(k int) bool { return r.start[k] > i }) - 1
}

// at is row i, or nil while its page is evicted (entry: its page's index).
func (r *activityRows) at(i int) (*engine.LogEntry, int) {
	k := r.page(i)
	p := r.pages[k]
	if p.rows == nil {
		return nil, k
	}
	r.tick++
	p.used = r.tick
	return &p.rows[i-r.start[k]], k
}

// newest and oldest are the IDs at either end (len() > 0).
func (r *activityRows) newest() int64 { return r.pages[0].first }
func (r *activityRows) oldest() int64 { return r.pages[len(r.pages)-1].last }

// resident is how many rows are in memory (for tests and the benchmark).
func (r *activityRows) resident() int { return r.held }

// append adds older entries (newest first) at the end.
func (r *activityRows) append(page []engine.LogEntry) {
	if len(page) == 0 {
		return
	}
	r.pages = append(r.pages, r.newPage(page))
	r.start = append(r.start, r.n)
	r.n += len(page)
}

// prepend adds newer entries (newest first) in front: into the first page
// while it is small and in memory (entries come a few at a time), else as a
// page of their own.
func (r *activityRows) prepend(page []engine.LogEntry) {
	if len(page) == 0 {
		return
	}
	if f := r.first(); f != nil && f.rows != nil && f.n+len(page) <= activityPageSize {
		rows := make([]engine.LogEntry, 0, f.n+len(page))
		for _, e := range page {
			rows = append(rows, internLevel(e))
		}
		f.rows = append(rows, f.rows...)
		f.n, f.first = len(f.rows), f.rows[0].ID
		r.held += len(page)
		r.evict(f)
	} else {
		r.pages = append([]*rowPage{r.newPage(page)}, r.pages...)
		r.start = append(r.start, 0)
	}
	r.n += len(page)
	for k, at := 0, 0; k < len(r.pages); k++ {
		r.start[k] = at
		at += r.pages[k].n
	}
}

func (r *activityRows) first() *rowPage {
	if len(r.pages) == 0 {
		return nil
	}
	return r.pages[0]
}

func (r *activityRows) newPage(rows []engine.LogEntry) *rowPage {
	p := &rowPage{n: len(rows), first: rows[0].ID, last: rows[len(rows)-1].ID}
	r.fill(p, rows)
	return p
}

// fill gives page p its rows, read (again) newest first: those outside its
// ID range are left out, and rows deleted meanwhile (the log is trimmed)
// leave blank rows, so that no other row moves.
func (r *activityRows) fill(p *rowPage, rows []engine.LogEntry) {
	own := make([]engine.LogEntry, 0, p.n)
	for _, e := range rows {
		if e.ID <= p.first && e.ID >= p.last && len(own) < p.n {
			own = append(own, internLevel(e))
		}
	}
	for len(own) < p.n {
		own = append(own, engine.LogEntry{})
	}
	r.held += len(own) - len(p.rows)
	p.rows = own
	r.tick++
	p.used = r.tick
	r.evict(p)
}

// evict drops the rows of the least recently used pages, other than p,
// while more than keep rows are in memory.
func (r *activityRows) evict(p *rowPage) {
	keep := r.keep
	if keep <= 0 {
		keep = activityKeptRows
	}
	for r.held > keep {
		var lru *rowPage
		for _, q := range r.pages {
			if q.rows != nil && q != p && (lru == nil || q.used < lru.used) {
				lru = q
			}
		}
		if lru == nil {
			return
		}
		r.held -= len(lru.rows)
		lru.rows = nil
	}
}

// owns reports that p is one of r's pages (a page read again may come back
// after the rows were replaced).
func (r *activityRows) owns(p *rowPage) bool { return slices.Contains(r.pages, p) }

// internLevel keeps one string per level, not one per row.
func internLevel(e engine.LogEntry) engine.LogEntry {
	switch e.Level {
	case engine.LevelDebug:
		e.Level = engine.LevelDebug
	case engine.LevelInfo:
		e.Level = engine.LevelInfo
	case engine.LevelWarn:
		e.Level = engine.LevelWarn
	case engine.LevelError:
		e.Level = engine.LevelError
	}
	return e
}

func setText(l *widget.Label, s string) {
	if l.Text != s {
		l.SetText(s)
	}
}

// activityMaxRunes bounds what a row is given to lay out: far more than a
// window shows on one line, and a long message (a stack trace) is not
// shaped in full again and again to place its ellipsis.
const activityMaxRunes = 400

// oneLine turns line breaks and tabs into spaces, a row being one line
// high, and cuts very long messages.
func oneLine(s string) string {
	if len(s) > activityMaxRunes {
		n := 0
		for i := range s {
			if n == activityMaxRunes {
				s = s[:i] + "…"
				break
			}
			n++
		}
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// activityRow is one line of the list: time, level, message. A message
// with a path has a narrower variant (narrowMessage), shown when the row
// is too narrow for the message: the end of a line is its most useful
// part, the patient's folder and the file.
type activityRow struct {
	widget.BaseWidget
	at, level, msg *widget.Label
	icon           *widget.Icon
	levelBox       fyne.CanvasObject
	left           fyne.CanvasObject // time, icon, level
	message        string            // the message
	narrow         string            // its narrower variant, or ""
	msgWidth       float32           // the width the message was chosen for
}

// setMessage sets the message and its narrower variant (UI goroutine).
func (r *activityRow) setMessage(msg, narrow string) {
	if r.message == msg && r.narrow == narrow {
		return
	}
	r.message, r.narrow = msg, narrow
	r.msgWidth = -1
	r.fitMessage(r.msg.Size().Width)
}

// fitMessage shows the message, or its narrower variant when the message
// does not fit width.
func (r *activityRow) fitMessage(width float32) {
	if width == r.msgWidth {
		return
	}
	r.msgWidth = width
	text := r.message
	if r.narrow != "" && width > 0 {
		th := r.msg.Theme()
		if fyne.MeasureText(text, th.Size(theme.SizeNameText), r.msg.TextStyle).Width+2*th.Size(theme.SizeNameInnerPadding) > width {
			text = r.narrow
		}
	}
	setText(r.msg, text)
}

func newActivityRow(levelWidth float32) *activityRow {
	r := &activityRow{
		at:    widget.NewLabelWithStyle("0000-00-00 00:00:00", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true}),
		level: widget.NewLabel(""),
		msg:   widget.NewLabel(""),
		icon:  widget.NewIcon(nil),
	}
	r.msg.Truncation = fyne.TextTruncateEllipsis
	pad := canvas.NewRectangle(color.Transparent)
	pad.SetMinSize(fyne.NewSize(levelWidth, 0))
	r.levelBox = container.NewStack(pad, r.level)
	r.ExtendBaseWidget(r)
	return r
}

func (r *activityRow) setLevel(icon fyne.Resource, text string, imp widget.Importance) {
	if r.icon.Resource != icon {
		r.icon.SetResource(icon)
	}
	if r.level.Text == text && r.level.Importance == imp {
		return
	}
	r.level.Importance = imp
	r.level.SetText(text)
}

func (r *activityRow) CreateRenderer() fyne.WidgetRenderer {
	r.left = container.NewHBox(r.at, r.icon, r.levelBox)
	return &activityRowRenderer{WidgetRenderer: widget.NewSimpleRenderer(container.NewBorder(nil, nil, r.left, nil, r.msg)), r: r}
}

// activityRowRenderer lays the row out, then picks the message that fits.
type activityRowRenderer struct {
	fyne.WidgetRenderer
	r *activityRow
}

func (a *activityRowRenderer) Layout(size fyne.Size) {
	a.WidgetRenderer.Layout(size)
	a.r.fitMessage(a.r.msg.Size().Width)
}
