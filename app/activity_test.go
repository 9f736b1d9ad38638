package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// storeSource is the engine's Activity, minus the engine: store.Activity
// answered as engine view types.
type storeSource struct{ st *store.Store }

func (s storeSource) Activity(ctx context.Context, q engine.LogQuery) ([]engine.LogEntry, error) {
	rows, err := s.st.Activity(ctx, store.ActivityQuery{MinLevel: q.MinLevel, Item: q.Item, Search: q.Search,
		BeforeID: q.BeforeID, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]engine.LogEntry, len(rows))
	for i, r := range rows {
		out[i] = engine.LogEntry(r)
	}
	return out, nil
}

// spySource records the queries it is asked and can hold them at a gate.
type spySource struct {
	src   activitySource
	mu    sync.Mutex
	qs    []engine.LogQuery
	gate  func(n int, q engine.LogQuery) <-chan struct{} // nil or a channel to wait on
	fail  func(q engine.LogQuery) error
	calls atomic.Int32
	back  atomic.Int32 // queries answered
}

func (s *spySource) Activity(ctx context.Context, q engine.LogQuery) ([]engine.LogEntry, error) {
	n := int(s.calls.Add(1))
	defer s.back.Add(1)
	s.mu.Lock()
	s.qs = append(s.qs, q)
	gate, fail := s.gate, s.fail
	s.mu.Unlock()
	if gate != nil {
		if ch := gate(n, q); ch != nil {
			<-ch
		}
	}
	if fail != nil {
		if err := fail(q); err != nil {
			return nil, err
		}
	}
	return s.src.Activity(ctx, q)
}

func (s *spySource) queries() []engine.LogQuery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]engine.LogQuery(nil), s.qs...)
}

// uiQueue stands in for the Fyne main loop: the view's v.do puts functions
// on it and the test goroutine runs them, so that widgets are only ever
// touched by one goroutine, as with the real driver. (The test driver's
// fyne.Do runs the function on the calling goroutine.)
type uiQueue struct {
	ch        chan func()
	sent, ran atomic.Int64
	frames    []time.Duration // how long each queued function took (a "frame")
	slowest   time.Duration
}

func (q *uiQueue) do(f func()) { q.sent.Add(1); q.ch <- f }

// until runs queued UI work until cond holds, failing the test after a
// bounded wait.
func (q *uiQueue) until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for !cond() {
		select {
		case f := <-q.ch:
			start := time.Now()
			f()
			d := time.Since(start)
			q.frames = append(q.frames, d)
			q.slowest = max(q.slowest, d)
			q.ran.Add(1)
		case <-time.After(5 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// settle runs UI work until no query is running and nothing is queued.
func (q *uiQueue) settle(t testing.TB, v *activityView, src *spySource) {
	t.Helper()
	q.until(t, "the view to settle", func() bool {
		return v.idle() && v.pageToken == 0 && src.back.Load() == src.calls.Load() &&
			q.ran.Load() == q.sent.Load()
	})
}

type fixture struct {
	st       *store.Store
	src      *spySource
	v        *activityView
	q        *uiQueue
	w        fyne.Window
	t0       time.Time
	keepRows int // the view's activityRows.keep (0: the default)
}

// newFixture opens a store in a temporary folder; logs are added before
// open() shows the view.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	test.NewTempApp(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "clinicsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, t0: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)}
	var tick atomic.Int64
	st.Now = func() time.Time { return f.t0.Add(time.Duration(tick.Add(1)) * time.Second) }
	f.src = &spySource{src: storeSource{st}}
	return f
}

func (f *fixture) log(t testing.TB, level, item, msg string) int64 {
	t.Helper()
	id, err := f.st.Log(context.Background(), level, item, msg)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// logMany adds n entries in one transaction, levels cycling through
// levelOf(i), messages "entry i".
func (f *fixture) logMany(t testing.TB, n int, levelOf func(i int) string) {
	t.Helper()
	tx, err := f.st.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := tx.Exec(`INSERT INTO activity(at, level, item, message) VALUES (?, ?, '', ?)`,
			f.t0.Add(time.Duration(i)*time.Second).UnixMilli(), levelOf(i), fmt.Sprintf("entry %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	f.v = newActivityView(f.src)
	f.v.keepRows = f.keepRows
	f.q = &uiQueue{ch: make(chan func(), 4096)}
	f.v.do = f.q.do
	f.w = test.NewTempWindow(t, f.v.object())
	f.w.Resize(fyne.NewSize(900, 420))
	f.q.until(t, "the first page", func() bool { return f.v.shownGen != 0 || f.v.errLabel.Visible() })
	f.q.settle(t, f.v, f.src)
}

// scrollToEnd scrolls the list to its last loaded row with the mouse wheel.
func (f *fixture) scrollToEnd() {
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(f.v.list).Add(fyne.NewPos(30, 30))
	test.Scroll(f.w.Canvas(), pos, 0, -1e9)
}

// visibleRows are the list rows on screen, top first. (Not
// test.LaidOutObjects: it builds new renderers, and a List given a second
// renderer loses track of its scroller.)
func (f *fixture) visibleRows() []*activityRow {
	type placed struct {
		r *activityRow
		y float32
	}
	var found []placed
	var walk func(o fyne.CanvasObject, y float32)
	walk = func(o fyne.CanvasObject, y float32) {
		if !o.Visible() {
			return
		}
		y += o.Position().Y
		switch c := o.(type) {
		case *activityRow:
			found = append(found, placed{c, y})
		case *fyne.Container:
			for _, k := range c.Objects {
				walk(k, y)
			}
		case fyne.Widget:
			for _, k := range test.WidgetRenderer(c).Objects() {
				walk(k, y)
			}
		}
	}
	walk(f.v.list, 0)
	sort.Slice(found, func(i, j int) bool { return found[i].y < found[j].y })
	rows := make([]*activityRow, len(found))
	for i, p := range found {
		rows[i] = p.r
	}
	return rows
}

// loadedRows copies the loaded rows, newest first.
func loadedRows(v *activityView) []engine.LogEntry {
	out := make([]engine.LogEntry, v.loaded())
	for i := range out {
		out[i] = v.row(i)
	}
	return out
}

func checkDescending(t *testing.T, rows []engine.LogEntry) {
	t.Helper()
	for i := 1; i < len(rows); i++ {
		if rows[i].ID >= rows[i-1].ID {
			t.Fatalf("row %d has id %d after id %d: not strictly newest first", i, rows[i].ID, rows[i-1].ID)
		}
	}
}

var cycleLevels = []string{engine.LevelDebug, engine.LevelInfo, engine.LevelWarn, engine.LevelError}

func TestActivityNewestFirst(t *testing.T) {
	f := newFixture(t)
	for i := range 30 {
		f.log(t, cycleLevels[i%4], "", fmt.Sprintf("entry %d", i))
	}
	f.log(t, engine.LevelError, "doc-1", "upload refused:\nserver said no")
	f.open(t)

	v := f.v
	if v.loaded() != 31 {
		t.Fatalf("loaded %d rows, want 31", v.loaded())
	}
	checkDescending(t, loadedRows(v))
	// Control characters are escaped when stored (clinicsync.CleanText):
	// a line break in a message cannot start a line of its own.
	if v.row(0).Message != `upload refused:\nserver said no` || v.row(30).Message != "entry 0" {
		t.Fatalf("first %q last %q: want the newest first", v.row(0).Message, v.row(30).Message)
	}
	if got := v.shown.Text; got != "31 shown" {
		t.Errorf("count label %q, want %q", got, "31 shown")
	}
	if v.errLabel.Visible() {
		t.Errorf("error label shown: %q", v.errLabel.Text)
	}
	if v.done != true {
		t.Errorf("31 rows < one page: the view should know it has everything")
	}

	rows := f.visibleRows()
	if len(rows) == 0 {
		t.Fatal("no rows on screen")
	}
	top := rows[0]
	if top.msg.Text != `upload refused:\nserver said no` {
		t.Errorf("top row message %q: want the newest entry on one line", top.msg.Text)
	}
	if top.msg.Truncation != fyne.TextTruncateEllipsis {
		t.Errorf("message is not truncated with an ellipsis")
	}
	if want := v.row(0).At.Local().Format("2006-01-02 15:04:05"); top.at.Text != want {
		t.Errorf("top row time %q, want %q", top.at.Text, want)
	}
	if top.level.Text != "Error" || top.level.Importance != widget.DangerImportance || top.icon.Resource != v.errIcon {
		t.Errorf("error row shows level %q importance %v", top.level.Text, top.level.Importance)
	}
	// Levels cycle debug, info, warn, error: entry 29 is info, 28 debug,
	// 27 an error, 26 a warning.
	want := []struct {
		msg, level string
		imp        widget.Importance
		icon       fyne.Resource
	}{
		{"entry 29", "Info", widget.MediumImportance, v.infoIcon},
		{"entry 28", "Debug", widget.LowImportance, nil},
		{"entry 27", "Error", widget.DangerImportance, v.errIcon},
		{"entry 26", "Warning", widget.WarningImportance, v.warnIcon},
	}
	if len(rows) < 1+len(want) {
		t.Fatalf("%d rows on screen", len(rows))
	}
	for i, w := range want {
		r := rows[i+1]
		if r.msg.Text != w.msg || r.level.Text != w.level || r.level.Importance != w.imp || r.icon.Resource != w.icon {
			t.Errorf("row %d: %q %q importance %v icon %v; want %q %q %v %v", i+1, r.msg.Text, r.level.Text,
				r.level.Importance, r.icon.Resource, w.msg, w.level, w.imp, w.icon)
		}
	}
}

func TestActivityLevelFilter(t *testing.T) {
	f := newFixture(t)
	f.logMany(t, 400, func(i int) string { return cycleLevels[i%4] })
	f.open(t)
	if f.v.loaded() != 200 {
		t.Fatalf("loaded %d, want one page of 200", f.v.loaded())
	}

	count := func(levels ...string) func() bool {
		return func() bool {
			for _, r := range loadedRows(f.v) {
				if !strings.Contains(strings.Join(levels, ","), r.Level) {
					return false
				}
			}
			return len(loadedRows(f.v)) > 0
		}
	}
	f.v.level.SetSelectedIndex(2) // Warnings and errors
	f.q.until(t, "only warnings and errors", count(engine.LevelWarn, engine.LevelError))
	f.q.settle(t, f.v, f.src)
	if f.v.loaded() != 200 {
		t.Errorf("warn+error: %d rows, want a page of 200 (of 200 matching)", f.v.loaded())
	}
	checkDescending(t, loadedRows(f.v))
	if q := f.src.queries(); q[len(q)-1].MinLevel != engine.LevelWarn {
		t.Errorf("last query %+v: want MinLevel warn", q[len(q)-1])
	}
	for _, r := range f.visibleRows() {
		if r.level.Text != "Warning" && r.level.Text != "Error" {
			t.Errorf("row on screen with level %q under Warnings and errors", r.level.Text)
		}
	}

	f.v.level.SetSelectedIndex(3) // Errors only
	f.q.until(t, "only errors", count(engine.LevelError))
	f.q.settle(t, f.v, f.src)
	if f.v.loaded() != 100 || !f.v.done {
		t.Errorf("errors only: %d rows (done %v), want all 100", f.v.loaded(), f.v.done)
	}
	if f.v.shown.Text != "100 shown" {
		t.Errorf("count label %q", f.v.shown.Text)
	}

	f.v.level.SetSelectedIndex(0) // All
	f.q.until(t, "all levels again", func() bool { return f.v.loaded() == 200 && f.v.row(0).Message == "entry 399" })
}

func TestActivitySearchDebounced(t *testing.T) {
	f := newFixture(t)
	f.logMany(t, 300, func(int) string { return engine.LevelInfo })
	for i := range 3 {
		f.log(t, engine.LevelWarn, "", fmt.Sprintf("needle number %d in the haystack", i))
	}
	f.log(t, engine.LevelInfo, "needle-doc-uuid", "matched by its document, not its text")
	f.logMany(t, 300, func(int) string { return engine.LevelInfo })
	f.open(t)

	test.Type(f.v.search, "needle")
	start := time.Now()
	f.q.until(t, "the search to narrow the list", func() bool { return f.v.loaded() == 4 })
	elapsed := time.Since(start)
	f.q.settle(t, f.v, f.src)
	for _, r := range loadedRows(f.v) {
		if !strings.Contains(r.Message, "needle") && !strings.Contains(r.Item, "needle") {
			t.Errorf("row %q does not match the search", r.Message)
		}
	}
	checkDescending(t, loadedRows(f.v))
	if f.v.row(0).Item != "needle-doc-uuid" {
		t.Errorf("newest match %q first?", f.v.row(0).Message)
	}
	// Debounced: typing six letters asked one query, for the whole word.
	var searches []string
	for _, q := range f.src.queries() {
		if q.Search != "" {
			searches = append(searches, q.Search)
		}
	}
	if len(searches) != 1 || searches[0] != "needle" {
		t.Errorf("queries while typing: %q, want just [needle]", searches)
	}
	if elapsed < 150*time.Millisecond {
		t.Errorf("the search ran %v after typing: no debounce?", elapsed)
	}

	// Narrowing further and then combining with the level filter.
	test.Type(f.v.search, " number 1")
	f.q.until(t, "a narrower search", func() bool { return f.v.loaded() == 1 })
	f.v.level.SetSelectedIndex(3)
	f.q.until(t, "no errors match", func() bool { return f.v.loaded() == 0 && f.v.shown.Text == "0 shown" })

	// Clearing the search and the level shows everything again.
	f.v.level.SetSelectedIndex(0)
	f.v.search.SetText("")
	f.q.until(t, "the full log", func() bool { return f.v.loaded() == 200 })
}

func TestActivityScrollPagesIncrementally(t *testing.T) {
	f := newFixture(t)
	f.logMany(t, 1000, func(i int) string { return cycleLevels[i%4] })
	f.open(t)

	if f.v.loaded() != 200 || f.src.calls.Load() != 1 {
		t.Fatalf("after opening: %d rows in %d queries, want 200 in 1", f.v.loaded(), f.src.calls.Load())
	}
	// Showing the first rows (and re-laying them out) reads nothing more.
	f.v.list.Refresh()
	f.w.Resize(fyne.NewSize(900, 500))
	f.q.settle(t, f.v, f.src)
	if f.src.calls.Load() != 1 {
		t.Fatalf("%d queries without scrolling", f.src.calls.Load())
	}

	for step := 1; !f.v.done; step++ {
		if step > 10 {
			t.Fatal("paging did not finish")
		}
		before := f.v.loaded()
		f.scrollToEnd()
		f.q.until(t, "the next page", func() bool { return f.v.loaded() > before || f.v.done })
		f.q.settle(t, f.v, f.src)
		if got := f.v.loaded() - before; got > max(200, before) {
			t.Fatalf("one scroll loaded %d rows after %d: paging must be by page", got, before)
		}
		if int(f.src.calls.Load()) != step+1 {
			t.Fatalf("after %d scrolls: %d queries", step, f.src.calls.Load())
		}
	}
	if f.v.loaded() != 1000 {
		t.Fatalf("reached the end with %d rows, want 1000", f.v.loaded())
	}
	checkDescending(t, loadedRows(f.v))
	if f.v.row(0).ID != 1000 || f.v.row(999).ID != 1 {
		t.Errorf("ids run %d..%d, want 1000..1", f.v.row(0).ID, f.v.row(999).ID)
	}
	// Keyset paging: each page asked for ids below the last one loaded, as
	// many rows as were loaded (200, 200, 400, then 800 of which 200 came:
	// the end).
	qs := f.src.queries()
	want := []engine.LogQuery{{Limit: 200}, {BeforeID: 801, Limit: 200}, {BeforeID: 601, Limit: 400}, {BeforeID: 201, Limit: 800}}
	if !slices.Equal(qs, want) {
		t.Fatalf("queries %+v, want %+v", qs, want)
	}
	// Scrolled to the end, the last rows are on screen and nothing more is read.
	f.scrollToEnd()
	f.q.settle(t, f.v, f.src)
	rows := f.visibleRows()
	if last := rows[len(rows)-1]; last.msg.Text != "entry 0" {
		t.Errorf("bottom row %q, want entry 0", last.msg.Text)
	}
	f.scrollToEnd()
	f.q.settle(t, f.v, f.src)
	if f.src.calls.Load() != 4 {
		t.Errorf("queried again after the end")
	}
}

// Scrolled through a long log, the view keeps the rows of a few pages only:
// those scrolled far away are dropped, and read again (by keyset, the page's
// own rows) when they come back into view.
func TestActivityKeepsFewPagesAndReadsThemAgain(t *testing.T) {
	f := newFixture(t)
	f.keepRows = 3 * activityPageSize // the rows in view may span the two largest pages (400 and 200 here)
	f.logMany(t, 1000, func(i int) string { return cycleLevels[i%4] })
	f.open(t)
	for step := 0; !f.v.done; step++ {
		if step > 10 {
			t.Fatal("paging did not finish")
		}
		before := f.v.loaded()
		f.scrollToEnd()
		f.q.until(t, "the next page", func() bool { return f.v.loaded() > before || f.v.done })
		f.q.settle(t, f.v, f.src)
		if n := f.v.rows.resident(); n > f.keepRows {
			t.Fatalf("%d rows in memory with %d kept", n, f.keepRows)
		}
	}
	if f.v.loaded() != 1000 {
		t.Fatalf("reached the end with %d rows, want 1000", f.v.loaded())
	}
	if e, _ := f.v.rows.at(0); e != nil {
		t.Fatal("the first page kept its rows at the far end of the log")
	}
	calls := f.src.calls.Load()
	if calls != 4 { // pages of 200, 200, 400 and the last 200 (of 800 asked for); nothing read twice
		t.Fatalf("%d queries to reach the end: %+v", calls, f.src.queries())
	}

	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(f.v.list).Add(fyne.NewPos(30, 30))
	test.Scroll(f.w.Canvas(), pos, 0, 1e9) // back to the top
	f.q.until(t, "the first rows read again", func() bool {
		rows := f.visibleRows()
		return len(rows) > 1 && rows[0].msg.Text == "entry 999" && rows[1].msg.Text == "entry 998"
	})
	f.q.settle(t, f.v, f.src)
	qs := f.src.queries()[calls:]
	if len(qs) != 1 || qs[0].BeforeID != 1001 || qs[0].Limit != 200 {
		t.Fatalf("read again with %+v, want one query below 1001 for 200 rows", qs)
	}
	if n := f.v.rows.resident(); n > f.keepRows {
		t.Fatalf("%d rows in memory after reading the first page again", n)
	}
	if f.v.row(0).ID != 1000 || f.v.loaded() != 1000 {
		t.Fatalf("row 0 is %d of %d", f.v.row(0).ID, f.v.loaded())
	}
	f.v.list.Select(1)
	if f.v.detailText.Text != "entry 998" {
		t.Fatalf("selected row's line: %q", f.v.detailText.Text)
	}
}

func TestActivityReloadShowsNewEntries(t *testing.T) {
	f := newFixture(t)
	f.logMany(t, 300, func(int) string { return engine.LevelInfo })
	f.open(t)
	f.scrollToEnd()
	f.q.until(t, "the second page", func() bool { return f.v.loaded() == 300 })
	f.q.settle(t, f.v, f.src)
	bottom := f.visibleRows()
	lastBefore := bottom[len(bottom)-1].msg.Text

	id := f.log(t, engine.LevelWarn, "", "fresh entry")
	f.v.reload()
	f.q.until(t, "the new entry", func() bool { return f.v.loaded() > 0 && f.v.row(0).Message == "fresh entry" })
	f.q.settle(t, f.v, f.src)
	if f.v.row(0).ID != id || f.v.loaded() != 301 {
		t.Errorf("after reload: %d rows, top id %d; want 301 (pages kept), top %d", f.v.loaded(), f.v.row(0).ID, id)
	}
	checkDescending(t, loadedRows(f.v))
	// The person scrolled down: the rows under the pointer stay put.
	bottom = f.visibleRows()
	if got := bottom[len(bottom)-1].msg.Text; got != lastBefore {
		t.Errorf("bottom row moved from %q to %q when an entry arrived", lastBefore, got)
	}
	f.v.list.ScrollToTop()
	if top := f.visibleRows()[0]; top.msg.Text != "fresh entry" || top.level.Text != "Warning" {
		t.Errorf("top row %q/%q, want the fresh warning", top.msg.Text, top.level.Text)
	}

	// More new entries than a page: the view starts again from the newest.
	f.logMany(t, 250, func(int) string { return engine.LevelInfo })
	f.v.reload()
	f.q.until(t, "the newest page", func() bool { return f.v.row(0).ID == id+250 })
	f.q.settle(t, f.v, f.src)
	if f.v.loaded() != 200 || f.v.done {
		t.Errorf("after a gap: %d rows, done %v; want a fresh page of 200", f.v.loaded(), f.v.done)
	}
	checkDescending(t, loadedRows(f.v))
	f.scrollToEnd()
	f.q.until(t, "paging after a reload", func() bool { return f.v.loaded() == 400 })
	checkDescending(t, loadedRows(f.v))
}

func TestActivityReloadCoalesces(t *testing.T) {
	f := newFixture(t)
	f.logMany(t, 10, func(int) string { return engine.LevelInfo })
	release := make(chan struct{})
	f.src.gate = func(n int, _ engine.LogQuery) <-chan struct{} {
		if n == 1 {
			return release
		}
		return nil
	}
	f.v = newActivityView(f.src)
	f.q = &uiQueue{ch: make(chan func(), 4096)}
	f.v.do = f.q.do
	f.w = test.NewTempWindow(t, f.v.object())
	f.w.Resize(fyne.NewSize(900, 420))

	f.q.until(t, "the first query to start", func() bool { return f.src.calls.Load() == 1 })
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { f.v.reload() })
	}
	wg.Wait()
	f.log(t, engine.LevelInfo, "", "logged while the first query ran")
	close(release)
	f.q.until(t, "the entry logged meanwhile", func() bool {
		return f.v.loaded() > 0 && f.v.row(0).Message == "logged while the first query ran"
	})
	f.q.settle(t, f.v, f.src)
	if n := f.src.calls.Load(); n != 2 {
		t.Errorf("20 reloads during a query made %d queries in all, want 2", n)
	}
	if f.v.loaded() != 11 {
		t.Errorf("%d rows, want 11", f.v.loaded())
	}
}

func TestActivityErrorsShown(t *testing.T) {
	t.Run("first page", func(t *testing.T) {
		f := newFixture(t)
		f.logMany(t, 10, func(int) string { return engine.LevelInfo })
		f.src.fail = func(engine.LogQuery) error { return errors.New("database disk image is malformed") }
		f.open(t)
		if !f.v.errLabel.Visible() || !strings.Contains(f.v.errLabel.Text, "database disk image is malformed") {
			t.Fatalf("error label %v %q", f.v.errLabel.Visible(), f.v.errLabel.Text)
		}
		if f.v.loaded() != 0 || len(f.visibleRows()) != 0 {
			t.Errorf("%d rows loaded, %d on screen after a failed query", f.v.loaded(), len(f.visibleRows()))
		}
		// It recovers on the next reload.
		f.src.mu.Lock()
		f.src.fail = nil
		f.src.mu.Unlock()
		f.v.reload()
		f.q.until(t, "the rows after recovery", func() bool { return f.v.loaded() == 10 })
		if f.v.errLabel.Visible() {
			t.Errorf("error still shown after a good answer: %q", f.v.errLabel.Text)
		}
	})
	t.Run("next page", func(t *testing.T) {
		f := newFixture(t)
		f.logMany(t, 500, func(int) string { return engine.LevelInfo })
		f.src.fail = func(q engine.LogQuery) error {
			if q.BeforeID > 0 {
				return context.DeadlineExceeded
			}
			return nil
		}
		f.open(t)
		f.scrollToEnd()
		f.q.until(t, "the paging error", func() bool { return f.v.errLabel.Visible() })
		f.q.settle(t, f.v, f.src)
		if !strings.Contains(f.v.errLabel.Text, context.DeadlineExceeded.Error()) {
			t.Errorf("error label %q", f.v.errLabel.Text)
		}
		if f.v.loaded() != 200 {
			t.Errorf("%d rows after a failed page, want the 200 already shown", f.v.loaded())
		}
		calls := f.src.calls.Load()
		f.v.list.ScrollToTop()
		f.scrollToEnd()
		f.q.settle(t, f.v, f.src)
		if f.src.calls.Load() != calls {
			t.Errorf("a failed page is retried on every scroll")
		}
	})
}

// A page still on its way when the filter changes must not be added to the
// rows of the new filter.
func TestActivityStalePageDiscarded(t *testing.T) {
	f := newFixture(t)
	f.logMany(t, 1000, func(i int) string {
		if i%10 == 0 {
			return engine.LevelError
		}
		return engine.LevelInfo
	})
	release := make(chan struct{})
	f.src.gate = func(_ int, q engine.LogQuery) <-chan struct{} {
		if q.BeforeID > 0 && q.MinLevel == "" {
			return release
		}
		return nil
	}
	f.open(t)
	f.scrollToEnd()
	f.q.until(t, "the page query to start", func() bool { return f.src.calls.Load() == 2 })

	f.v.level.SetSelectedIndex(3)
	f.q.until(t, "errors only", func() bool { return f.v.loaded() == 100 && f.v.row(0).Level == engine.LevelError })
	sent := f.q.sent.Load()
	close(release)
	f.q.until(t, "the old page's answer to be handled", func() bool {
		return f.q.sent.Load() > sent && f.q.ran.Load() == f.q.sent.Load()
	})
	f.q.settle(t, f.v, f.src)
	if f.v.loaded() != 100 {
		t.Fatalf("%d rows, want the 100 errors only", f.v.loaded())
	}
	for _, r := range loadedRows(f.v) {
		if r.Level != engine.LevelError {
			t.Fatalf("a %s row from the old filter's page got in", r.Level)
		}
	}
	checkDescending(t, loadedRows(f.v))
}

// Changing the filter abandons the query still running for the old one,
// and its cancellation is never shown as an error.
func TestActivityFilterChangeCancelsQuery(t *testing.T) {
	f := newFixture(t)
	f.logMany(t, 50, func(i int) string { return cycleLevels[i%4] })
	var cancelled atomic.Bool
	slow := &slowSource{src: f.src, cancelled: &cancelled}
	f.v = newActivityView(slow)
	f.q = &uiQueue{ch: make(chan func(), 4096)}
	f.v.do = f.q.do
	f.w = test.NewTempWindow(t, f.v.object())
	f.w.Resize(fyne.NewSize(900, 420))
	f.q.until(t, "the slow query to start", func() bool { return slow.started.Load() })

	f.v.level.SetSelectedIndex(3) // Errors only
	sawError := false
	f.q.until(t, "the errors", func() bool {
		sawError = sawError || f.v.errLabel.Visible()
		return f.v.loaded() == 12 && f.v.row(0).Level == engine.LevelError
	})
	f.q.settle(t, f.v, f.src)
	if !cancelled.Load() {
		t.Error("the query for the old filter was not cancelled")
	}
	if sawError || f.v.errLabel.Visible() {
		t.Errorf("the cancelled query showed an error: %q", f.v.errLabel.Text)
	}
}

// slowSource never answers a query for all levels until it is cancelled.
type slowSource struct {
	src       activitySource
	started   atomic.Bool
	cancelled *atomic.Bool
}

func (s *slowSource) Activity(ctx context.Context, q engine.LogQuery) ([]engine.LogEntry, error) {
	if q.MinLevel == "" {
		s.started.Store(true)
		<-ctx.Done()
		s.cancelled.Store(true)
		return nil, ctx.Err()
	}
	return s.src.Activity(ctx, q)
}

// The rows read are kept in pages; whichever end they were added at, they
// read back newest first, and only the most recently used pages keep their
// rows: an evicted page keeps its place and is filled again by a keyset read.
func TestActivityRowsPages(t *testing.T) {
	page := func(hi, n int) []engine.LogEntry { // ids hi, hi-1, ... (newest first)
		p := make([]engine.LogEntry, n)
		for i := range p {
			p[i] = engine.LogEntry{ID: int64(hi - i), Level: strings.Clone("warn")}
		}
		return p
	}
	build := func(keep int) *activityRows {
		r := &activityRows{keep: keep}
		for next := 20_000; next > 10_000; next -= 200 { // 20000 down to 10001
			r.append(page(next, 200))
		}
		for top := 20_000; top < 29_000; { // new entries arriving: 20001 up to 29000
			n := min(133, 29_000-top) // a reload brings at most a page
			r.prepend(page(top+n, n))
			top += n
		}
		return r
	}
	r := build(100_000)
	if r.len() != 19_000 || r.resident() != 19_000 {
		t.Fatalf("len %d resident %d, want 19000", r.len(), r.resident())
	}
	for i := range r.len() {
		if e, _ := r.at(i); e == nil || e.ID != int64(29_000-i) || e.Level != engine.LevelWarn {
			t.Fatalf("row %d: %+v, want id %d", i, e, 29_000-i)
		}
	}

	r = build(600)
	if r.len() != 19_000 || r.resident() > 3*activityPageSize {
		t.Fatalf("len %d, resident %d: want 19000 rows of which at most %d in memory", r.len(), r.resident(), 3*activityPageSize)
	}
	if r.newest() != 29_000 || r.oldest() != 10_001 {
		t.Fatalf("ends %d..%d", r.newest(), r.oldest())
	}
	// The oldest page was evicted: its rows are read again by keyset, and
	// rows trimmed from the log meanwhile leave blanks, moving no other row.
	i := r.len() - 1
	if e, _ := r.at(i); e != nil {
		t.Fatal("the oldest page kept its rows")
	}
	_, k := r.at(i)
	p := r.pages[k]
	if p.first != 10_200 || p.last != 10_001 || r.start[k] != r.len()-200 {
		t.Fatalf("page %d: %+v starts at %d", k, p, r.start[k])
	}
	again := page(10_200, 200)
	again = append(again[:50], again[60:]...)  // ten rows deleted meanwhile
	again = append(again, page(10_000, 10)...) // and the next page's rows come after
	r.fill(p, again)
	if e, _ := r.at(r.start[k]); e == nil || e.ID != 10_200 {
		t.Fatalf("first row read again: %+v", e)
	}
	if e, _ := r.at(r.start[k] + 49); e.ID != 10_151 {
		t.Fatalf("row 49 of the page: %d", e.ID)
	}
	if e, _ := r.at(r.start[k] + 50); e.ID != 10_140 {
		t.Fatalf("row 50 of the page: %d, want 10140 (rows deleted leave the end blank)", e.ID)
	}
	if e, _ := r.at(i); e.ID != 0 {
		t.Fatalf("last row %d, want a blank (its page's own rows ran out)", e.ID)
	}
	if r.resident() > 3*activityPageSize {
		t.Fatalf("%d rows in memory after a read-again", r.resident())
	}

	long := strings.Repeat("é", activityMaxRunes+50) + "\nend"
	if got := oneLine(long); got != strings.Repeat("é", activityMaxRunes)+"…" {
		t.Errorf("long message not cut: %d runes", len([]rune(got)))
	}
	if got := oneLine("a\tb\r\nc"); got != "a b  c" {
		t.Errorf("oneLine = %q", got)
	}
}
