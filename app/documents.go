package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// The Documents tab answers "did my document arrive, and if not, why?":
// a filtered list on the left, the selected document on the right with its
// path, its reason and a Retry button that honours the platform's
// 30-second limit with a live countdown.

const documentsShown = 500

// documentRows are the details pane's rows, in order.
var documentRows = []string{"Patient", "File", "State", "Path", "Attempts", "Next automatic retry", "Document id"}

var documentFilters = []struct {
	label  string
	states []clinicsync.ItemState
}{
	{"All", nil},
	{"Failed", []clinicsync.ItemState{clinicsync.StateFailed}},
	{"In progress", []clinicsync.ItemState{clinicsync.StatePending, clinicsync.StateDownloading, clinicsync.StateSaved}},
	{"Delivered", []clinicsync.ItemState{clinicsync.StateConfirmed}},
}

type documentsView struct {
	u   *UI
	now func() time.Time

	filter *widget.Select
	search *shortcutEntry
	count  *widget.Label
	list   *widget.List
	items  []engine.DocumentView // UI goroutine

	selected engine.DocumentView // zero: none
	title    *widget.Label
	// notice: the selected document left the filter (it was delivered).
	notice   *widget.Label
	details  *fyne.Container // a form: a label and a value per row
	rows     map[string][2]fyne.CanvasObject
	relayout bool // a row was shown or hidden
	fields   map[string]*widget.Label
	path     *textBlock // broken after separators, never inside a name
	copyPath *widget.Button
	reason   *widget.Label
	openFile *widget.Button
	openDir  *widget.Button
	retry    *keyButton // Enter presses it too
	retryMsg *widget.Label
	// retryAt is when Retry may be pressed again for the selected
	// document; inFlight: a retry was sent and has not answered.
	retryAt  time.Time
	inFlight bool
	// selectFirst: select the first document of the next answer.
	selectFirst bool

	mu      sync.Mutex
	gen     int
	running bool
	want    engine.DocumentFilter
	wantSel string
}

func newDocumentsView(u *UI) *documentsView {
	v := &documentsView{u: u, now: time.Now, fields: map[string]*widget.Label{}}
	labels := make([]string, len(documentFilters))
	for i, f := range documentFilters {
		labels[i] = T(f.label)
	}
	v.filter = widget.NewSelect(labels, nil)
	v.filter.SetSelectedIndex(0)
	v.filter.OnChanged = func(string) { v.reload() }
	v.search = newEntry()
	v.search.SetPlaceHolder(T("Search patient, file or path"))
	v.search.OnChanged = func(string) { v.reload() }
	v.count = widget.NewLabel("")
	v.list = widget.NewList(
		func() int { return len(v.items) },
		func() fyne.CanvasObject {
			return container.NewHBox(widget.NewIcon(theme.DocumentIcon()), widget.NewLabel("state"), widget.NewLabel("patient — file"))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(v.items) {
				return
			}
			d := v.items[i]
			row := o.(*fyne.Container)
			row.Objects[0].(*widget.Icon).SetResource(stateIcon(d.State))
			row.Objects[1].(*widget.Label).SetText(stateText(d.State))
			row.Objects[2].(*widget.Label).SetText(d.Patient.DisplayName() + " — " + displayFile(d))
		})
	v.list.OnSelected = func(i widget.ListItemID) {
		if i < len(v.items) {
			v.show(v.items[i])
		}
	}

	v.title = widget.NewLabelWithStyle(T("Select a document"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.notice = widget.NewLabel("")
	v.notice.Importance = widget.SuccessImportance
	v.notice.Wrapping = fyne.TextWrapWord
	v.notice.Hide()
	// A form of its own rather than a widget.Form: a row with nothing to
	// say is hidden whole, label and value.
	v.details = container.New(layout.NewFormLayout())
	v.rows = map[string][2]fyne.CanvasObject{}
	v.path = newTextBlock("", textWrap)
	v.copyPath = widget.NewButtonWithIcon(T("Copy"), theme.ContentCopyIcon(), func() {
		fyne.CurrentApp().Clipboard().SetContent(v.selected.Path)
		v.retryMsg.SetText(T("Path copied."))
	})
	v.copyPath.Importance = widget.LowImportance
	for _, k := range documentRows {
		var value fyne.CanvasObject
		if k == "Path" {
			value = container.NewBorder(nil, nil, nil, container.NewVBox(v.copyPath), v.path)
		} else {
			l := widget.NewLabel("")
			l.Wrapping = fyne.TextWrapWord
			l.Selectable = true
			v.fields[k] = l
			value = l
		}
		label := widget.NewLabelWithStyle(T(k), fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
		v.rows[k] = [2]fyne.CanvasObject{label, value}
		v.details.Add(label)
		v.details.Add(value)
	}
	v.reason = wrapLabel("")
	v.reason.Importance = widget.DangerImportance
	v.openFile = widget.NewButtonWithIcon(T("Open file"), theme.FileIcon(), func() { v.open(v.selected.Path) })
	v.openDir = widget.NewButtonWithIcon(T("Open folder"), theme.FolderOpenIcon(), func() { v.open(v.selected.Folder) })
	v.retry = newKeyButton(T("Retry"), theme.ViewRefreshIcon(), v.tapRetry)
	v.retry.Importance = widget.HighImportance
	v.retryMsg = wrapLabel("")
	v.show(engine.DocumentView{})
	v.reload()
	return v
}

func (v *documentsView) object() fyne.CanvasObject {
	top := container.NewBorder(nil, nil, wideSelect(v.filter), v.count, v.search)
	detail := container.NewVBox(v.title, v.notice, v.details, v.reason,
		container.NewHBox(v.openFile, v.openDir, v.retry), v.retryMsg)
	split := container.NewHSplit(v.list, container.NewVScroll(container.NewPadded(detail)))
	split.Offset = 0.45
	return container.NewBorder(top, nil, nil, nil, split)
}

func stateText(s clinicsync.ItemState) string {
	switch s {
	case clinicsync.StateConfirmed:
		return T("Delivered")
	case clinicsync.StateSaved:
		return T("Saved, confirming")
	case clinicsync.StateDownloading:
		return T("Downloading")
	case clinicsync.StateFailed:
		return T("Failed")
	}
	return T("Waiting")
}

func stateIcon(s clinicsync.ItemState) fyne.Resource {
	switch s {
	case clinicsync.StateConfirmed:
		return theme.ConfirmIcon()
	case clinicsync.StateFailed:
		return theme.ErrorIcon()
	case clinicsync.StateDownloading, clinicsync.StateSaved:
		return theme.DownloadIcon()
	}
	return theme.HistoryIcon()
}

// reasonText is why a document failed, in the window's language.
func reasonText(d engine.DocumentView) string {
	if d.ReasonText.Key != "" {
		return TText(d.ReasonText)
	}
	return d.Reason
}

func displayFile(d engine.DocumentView) string {
	switch {
	case d.FileName != "":
		return d.FileName
	case d.Type != "":
		return d.Type
	}
	return d.UUID
}

// showFailed filters on failed documents and selects the first one that
// the next query returns.
func (v *documentsView) showFailed() {
	v.selectFirst = true
	v.filter.SetSelectedIndex(1) // reloads
}

// reload queries the documents again with the current filter (UI
// goroutine; the query runs on its own goroutine, coalesced, and a stale
// answer is dropped).
func (v *documentsView) reload() {
	f := engine.DocumentFilter{States: documentFilters[max(v.filter.SelectedIndex(), 0)].states,
		Search: v.search.Text, Limit: documentsShown}
	v.mu.Lock()
	v.gen++
	v.want, v.wantSel = f, v.selected.UUID
	if v.running {
		v.mu.Unlock()
		return
	}
	v.running = true
	v.mu.Unlock()
	go v.query()
}

func (v *documentsView) query() {
	for {
		v.mu.Lock()
		gen, f, selID := v.gen, v.want, v.wantSel
		v.mu.Unlock()
		items, err := v.u.b.Documents(v.u.ctx, f)
		var sel engine.DocumentView
		if selID != "" {
			sel, _ = v.u.b.Document(v.u.ctx, selID)
		}
		v.mu.Lock()
		latest := gen == v.gen
		if latest {
			v.running = false
		}
		v.mu.Unlock()
		if latest {
			v.u.do(func() { v.set(gen, items, err, sel) })
			return
		}
	}
}

// set shows a query's answer (UI goroutine), unless a newer query was asked
// for meanwhile: an answer queued through fyne.Do before Show changed the
// filter must not replace the filtered list (the newer query's answer
// follows).
func (v *documentsView) set(gen int, items []engine.DocumentView, err error, sel engine.DocumentView) {
	v.mu.Lock()
	stale := gen != v.gen
	v.mu.Unlock()
	if stale {
		return
	}
	if err != nil {
		v.count.SetText(clinicsync.ErrorMessage(err))
		return
	}
	v.items = items
	switch {
	case len(items) >= documentsShown:
		v.count.SetText(Tf("latest %d", len(items)))
	default:
		v.count.SetText(Tf("%d shown", len(items)))
	}
	v.list.Refresh()
	// Keep the selection on the same document as rows move.
	if v.selectFirst && len(items) > 0 {
		v.selectFirst = false
		v.show(items[0])
	}
	idx := -1
	for i, d := range items {
		if d.UUID == v.selected.UUID {
			idx = i
		}
	}
	if idx >= 0 {
		v.list.Select(idx)
	} else {
		v.list.UnselectAll()
	}
	if sel.UUID != "" && sel.UUID == v.selected.UUID {
		v.show(sel)
	}
	// The selected document is no longer in the list (Retry delivered it
	// under the Failed filter): the pane says so beside its details,
	// rather than "0 shown" beside what looks like a current selection.
	switch {
	case idx >= 0 || v.selected.UUID == "" || sel.UUID != v.selected.UUID:
		v.notice.Hide()
	case sel.State == clinicsync.StateConfirmed:
		v.notice.SetText(T("Delivered, no longer in this filter"))
		v.notice.Show()
	default:
		v.notice.SetText(T("No longer in this filter"))
		v.notice.Show()
	}
}

// setRow shows a row of the details pane, or hides it when value is empty.
func (v *documentsView) setRow(k, value string) {
	if l := v.fields[k]; l != nil {
		l.SetText(value)
	} else if k == "Path" {
		v.path.SetText(value)
	}
	for _, o := range v.rows[k] {
		if (value != "") == o.Visible() {
			continue
		}
		if value == "" {
			o.Hide()
		} else {
			o.Show()
		}
		v.relayout = true
	}
}

// attemptsText is how many times the document was fetched: the failed
// attempts the engine counts, and the one that succeeded.
func attemptsText(d engine.DocumentView) string {
	n := d.Attempts
	if d.State == clinicsync.StateSaved || d.State == clinicsync.StateConfirmed {
		n++
	}
	return fmt.Sprint(n)
}

// show fills the detail panel (UI goroutine).
func (v *documentsView) show(d engine.DocumentView) {
	changed := d.UUID != v.selected.UUID
	v.selected = d
	if changed {
		v.notice.Hide()
	}
	if d.UUID == "" {
		v.title.SetText(T("Select a document"))
		for _, k := range documentRows {
			v.setRow(k, "")
		}
		v.relayout = false // nothing is shown
		v.reason.Hide()
		v.openFile.Disable()
		v.openDir.Disable()
		v.retry.Hide()
		v.retryMsg.SetText("")
		return
	}
	v.title.SetText(displayFile(d))
	v.setRow("Patient", d.Patient.DisplayName())
	v.setRow("File", displayFile(d))
	v.setRow("State", stateText(d.State))
	v.setRow("Path", d.Path)
	v.setRow("Attempts", attemptsText(d))
	next := ""
	if d.State == clinicsync.StateFailed {
		switch {
		case d.Retryable && !d.NextAttempt.IsZero():
			next = in(d.NextAttempt, v.now())
		case !d.RecheckAt.IsZero():
			// A permanent failure still waits for a person; the engine
			// also re-checks it in case the platform fixed the file.
			next = Tf("Re-checked automatically at %s; or fix the cause and press Retry", d.RecheckAt.Local().Format("15:04"))
		default:
			next = T("None: fix the cause, then press Retry")
		}
	}
	v.setRow("Next automatic retry", next)
	v.setRow("Document id", d.UUID)
	if d.State == clinicsync.StateFailed && d.Reason != "" {
		v.reason.SetText(reasonText(d))
		v.reason.Show()
	} else {
		v.reason.Hide()
	}
	setEnabled(v.openFile, d.Path != "")
	setEnabled(v.openDir, d.Folder != "")
	if changed {
		v.inFlight = false
		v.retryMsg.SetText("")
		v.retryAt = v.now().Add(d.RetryIn)
	}
	if d.State == clinicsync.StateFailed {
		v.retry.Show()
	} else {
		v.retry.Hide()
	}
	if v.relayout { // rows were shown or hidden: the form lays out again
		v.relayout = false
		v.details.Refresh()
	}
	v.tick()
}

func setEnabled(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

// tick updates the Retry button's countdown (UI goroutine; every second).
func (v *documentsView) tick() {
	left := v.retryAt.Sub(v.now())
	switch {
	case v.inFlight:
		v.retry.SetText(T("Retrying…"))
		v.retry.Disable()
	case left > 0:
		v.retry.SetText(Tf("Retry (%d s)", int((left+time.Second-1)/time.Second)))
		v.retry.Disable()
	default:
		v.retry.SetText(T("Retry"))
		v.retry.Enable()
	}
}

// tapRetry sends the retry; the button is disabled at once and counts
// down the platform's 30 seconds.
func (v *documentsView) tapRetry() {
	d := v.selected
	if d.UUID == "" || v.inFlight || v.retryAt.After(v.now()) {
		return
	}
	v.inFlight = true
	v.retryMsg.SetText("")
	v.tick()
	v.u.run(func(ctx context.Context) error {
		_, err := v.u.b.Retry(ctx, d.UUID)
		return err
	}, func(err error) {
		if v.selected.UUID != d.UUID {
			return
		}
		v.inFlight = false
		left := 30 * time.Second
		if nd, derr := v.u.b.Document(v.u.ctx, d.UUID); derr == nil {
			left = nd.RetryIn
			v.show(nd)
		}
		v.retryAt = v.now().Add(left)
		switch {
		case err == nil:
			v.retryMsg.SetText(T("Delivered."))
		case clinicsync.ErrorCode(err) == clinicsync.ETooSoon:
			v.retryMsg.SetText(clinicsync.ErrorMessage(err))
		default:
			v.retryMsg.SetText(T("The retry failed: ") + TText(clinicsync.ErrorText(err)))
		}
		v.tick()
		v.reload()
	})
}

func (v *documentsView) open(path string) {
	if path == "" {
		return
	}
	if err := v.u.o.OpenPath(path); err != nil {
		v.retryMsg.SetText(clinicsync.ErrorMessage(err))
	}
}
