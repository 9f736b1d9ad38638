package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// Opening Activity with 1,000,000 log rows and scrolling to the end.
//
//	go test -run XXX -bench Activity -benchtime 1x ./app
//
// The database is built once and kept in os.TempDir() (about 130 MB;
// delete clinicsync-activity-bench-*.db to rebuild it).

var benchRows = benchRowCount()

// benchRowCount is 1,000,000, or BENCH_ACTIVITY_ROWS for a quicker look.
func benchRowCount() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_ACTIVITY_ROWS")); err == nil && n >= 10*activityPageSize {
		return n
	}
	return 1_000_000
}

// benchDB returns an activity database of n synthetic rows (no patient
// data: made-up messages and document ids), building it if needed.
func benchDB(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("clinicsync-activity-bench-%d-v1.db", n))
	if st, err := store.Open(path); err == nil {
		var maxID int64
		err := st.DB().QueryRow(`SELECT COALESCE(MAX(id), 0) FROM activity`).Scan(&maxID)
		st.Close()
		if err == nil && maxID == int64(n) {
			return path
		}
	}
	start := time.Now()
	tmp := fmt.Sprintf("%s.%d.building", path, os.Getpid())
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(f)
	}
	st, err := store.Open(tmp)
	if err != nil {
		b.Fatal(err)
	}
	db := st.DB()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	const batch = 100_000
	for lo := 0; lo < n; lo += batch {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		ins, err := tx.Prepare(`INSERT INTO activity(at, level, item, message) VALUES (?, ?, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		for i := lo; i < min(lo+batch, n); i++ {
			level, item, msg := engine.LevelInfo, fmt.Sprintf("00000000-0000-4000-8000-%012d", i/4), ""
			switch {
			case i%100 == 0:
				level, msg = engine.LevelError, fmt.Sprintf("Download of document %d failed: connection reset (attempt %d)", i/4, i%5+1)
			case i%25 == 1:
				level, msg = engine.LevelWarn, fmt.Sprintf("Server slow to answer for document %d; retrying in %ds", i/4, i%60)
			case i%10 == 2:
				level, item, msg = engine.LevelDebug, "", fmt.Sprintf("Poll %d: %d new notes", i, i%7)
			default:
				msg = fmt.Sprintf("Saved document %d (%d KB) to the patient folder", i/4, 20+i%900)
			}
			if _, err := ins.Exec(t0+int64(i)*1000, level, item, msg); err != nil {
				b.Fatal(err)
			}
		}
		ins.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	os.Remove(tmp + "-wal")
	os.Remove(tmp + "-shm")
	b.Logf("built %s (%d rows) in %v", path, n, time.Since(start).Round(time.Millisecond))
	return path
}

func openBenchStore(b *testing.B) *store.Store {
	b.Helper()
	st, err := store.Open(benchDB(b, benchRows))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// timedSource times every query the view makes.
type timedSource struct {
	src activitySource
	mu  sync.Mutex
	log []timedQuery
}

type timedQuery struct {
	q    engine.LogQuery
	took time.Duration
	rows int
}

func (s *timedSource) Activity(ctx context.Context, q engine.LogQuery) ([]engine.LogEntry, error) {
	start := time.Now()
	rows, err := s.src.Activity(ctx, q)
	took := time.Since(start)
	s.mu.Lock()
	s.log = append(s.log, timedQuery{q, took, len(rows)})
	s.mu.Unlock()
	return rows, err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkActivityMillion opens the Activity view over a million rows and
// pages to the very end through the view's own paging path: each step
// scrolls the list to its bottom, which lays out the last rows, whose
// UpdateItem asks for the next page.
func BenchmarkActivityMillion(b *testing.B) {
	st := openBenchStore(b)
	for b.Loop() {
		test.NewTempApp(b)
		src := &timedSource{src: storeSource{st}}
		v := newActivityView(src)
		q := &uiQueue{ch: make(chan func(), 4096)}
		v.do = q.do

		start := time.Now()
		w := test.NewWindow(v.object())
		w.Resize(fyne.NewSize(1000, 700))
		q.until(b, "the first page", func() bool { return v.shownGen != 0 })
		open := time.Since(start)
		firstFrame := q.slowest

		var scrolls []time.Duration
		start = time.Now()
		for !v.done {
			before := v.loaded()
			t := time.Now()
			v.list.ScrollToBottom()
			scrolls = append(scrolls, time.Since(t))
			q.until(b, "the next page", func() bool { return v.loaded() > before || v.done })
		}
		paging := time.Since(start)
		w.Close()

		loaded := v.loaded()
		if loaded != benchRows {
			b.Fatalf("reached the end with %d rows, want %d", loaded, benchRows)
		}
		// The pages run newest first without a gap; most hold no rows.
		n := 0
		for k, p := range v.rows.pages {
			if p.first < p.last || k > 0 && v.rows.pages[k-1].last <= p.first || v.rows.start[k] != n {
				b.Fatalf("page %d out of order: %+v", k, p)
			}
			n += p.n
		}
		resident := v.rows.resident()
		// What the view holds: the heap with it open at the far end of the
		// log, and what its rows cost (the heap less the heap once they are
		// dropped).
		heap := func() float64 {
			var m runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m)
			return float64(m.HeapAlloc) / (1 << 20)
		}
		withRows := heap()
		v.rows = activityRows{}
		rowsMB := withRows - heap()

		src.mu.Lock()
		log := slices.Clone(src.log)
		src.mu.Unlock()
		var slowest timedQuery
		durs := make([]time.Duration, len(log))
		for i, l := range log {
			durs[i] = l.took
			if l.took > slowest.took {
				slowest = l
			}
		}
		pct := func(ds []time.Duration, f float64) time.Duration {
			ds = slices.Clone(ds)
			slices.Sort(ds)
			return ds[int(f*float64(len(ds)-1))]
		}
		p := func(f float64) time.Duration { return pct(durs, f) }
		slowScroll := slices.Max(scrolls)

		b.ReportMetric(float64(len(log)), "pages")
		b.ReportMetric(ms(slowest.took), "slowest-page-ms")
		b.ReportMetric(ms(p(0.99)), "p99-page-ms")
		b.ReportMetric(ms(max(q.slowest, slowScroll)), "slowest-frame-ms")
		b.ReportMetric(ms(open), "open-ms")
		b.ReportMetric(withRows, "heap-MB")
		b.ReportMetric(float64(resident), "rows-in-memory")
		b.Logf("keyset: opened in %.1f ms (first page on screen; slowest frame then %.1f ms); "+
			"paged %d rows in %d queries in %v",
			ms(open), ms(firstFrame), loaded, len(log), paging.Round(time.Millisecond))
		b.Logf("keyset: page query median %.2f ms, p99 %.2f ms, slowest %.2f ms (BeforeID %d, %d rows)",
			ms(p(0.5)), ms(p(0.99)), ms(slowest.took), slowest.q.BeforeID, slowest.rows)
		b.Logf("keyset: UI frames: page appended + list refreshed median %.2f ms, p99 %.2f ms, slowest %.2f ms; "+
			"scroll to bottom + new rows laid out median %.2f ms, p99 %.2f ms, slowest %.2f ms",
			ms(pct(q.frames, 0.5)), ms(pct(q.frames, 0.99)), ms(q.slowest),
			ms(pct(scrolls, 0.5)), ms(pct(scrolls, 0.99)), ms(slowScroll))
		b.Logf("keyset: of the %d rows paged through, %d are in memory, holding %.1f MB (heap %.1f MB with the view open)",
			loaded, resident, rowsMB, withRows)

		// Filters are the other cost: a rare level or a search term
		// has to walk the log until it fills a page.
		for _, lq := range []engine.LogQuery{
			{MinLevel: engine.LevelError, Limit: activityPageSize},
			{MinLevel: engine.LevelError, BeforeID: 1000, Limit: activityPageSize},
			{Search: "failed: connection reset", Limit: activityPageSize},
			{Search: "text that is nowhere", Limit: activityPageSize},
		} {
			t := time.Now()
			rows, err := storeSource{st}.Activity(context.Background(), lq)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("filtered first page MinLevel=%q Search=%q BeforeID=%d: %d rows in %.1f ms",
				lq.MinLevel, lq.Search, lq.BeforeID, len(rows), ms(time.Since(t)))
		}
	}
}

// BenchmarkActivityMillionOffset is what a naive implementation would do:
// LIMIT/OFFSET paging over the same million rows. Reading every page that
// way would take minutes, so it reads the first 200 pages in order and then
// single pages at depths 1,000, 2,500 and the last one (4,999).
func BenchmarkActivityMillionOffset(b *testing.B) {
	st := openBenchStore(b)
	db := st.DB()
	page := func(n int) (time.Duration, int) {
		start := time.Now()
		rows, err := db.Query(`SELECT id, at, level, item, message FROM activity ORDER BY id DESC LIMIT ? OFFSET ?`,
			activityPageSize, n*activityPageSize)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		got := 0
		for rows.Next() {
			var e engine.LogEntry
			var at int64
			if err := rows.Scan(&e.ID, &at, &e.Level, &e.Item, &e.Message); err != nil {
				b.Fatal(err)
			}
			e.At = time.UnixMilli(at)
			got++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start), got
	}
	const seqPages = 200
	deep := []int{1000, 2500, benchRows/activityPageSize - 1}
	for b.Loop() {
		var slowSeq time.Duration
		slowAt := 0
		start := time.Now()
		for n := range seqPages {
			d, got := page(n)
			if got != activityPageSize {
				b.Fatalf("page %d: %d rows", n, got)
			}
			if d > slowSeq {
				slowSeq, slowAt = d, n
			}
		}
		seq := time.Since(start)
		var slowest time.Duration
		for _, n := range deep {
			d, got := page(n)
			if got != activityPageSize {
				b.Fatalf("page %d: %d rows", n, got)
			}
			slowest = max(slowest, d)
			b.Logf("offset: page %d (OFFSET %d): %.1f ms", n, n*activityPageSize, ms(d))
		}
		slowest = max(slowest, slowSeq)
		b.ReportMetric(float64(seqPages+len(deep)), "pages")
		b.ReportMetric(ms(slowSeq), "slowest-first200-page-ms")
		b.ReportMetric(ms(slowest), "slowest-page-ms")
		// A page's cost grows with its depth: reading all of them would take
		// about the mean of the first and the last page, times the pages.
		first, _ := page(0)
		last, _ := page(deep[len(deep)-1])
		b.Logf("offset: only %d of %d pages read (the first %d in order, then pages %v); "+
			"reading all would take about %.0f s",
			seqPages+len(deep), benchRows/activityPageSize, seqPages, deep,
			(first+last).Seconds()/2*float64(benchRows/activityPageSize))
		b.Logf("offset: first %d pages in %v, slowest %.2f ms (page %d); slowest of all %.1f ms (the deepest)",
			seqPages, seq.Round(time.Millisecond), ms(slowSeq), slowAt, ms(slowest))
	}
}
