package engine

import (
	"context"
	"encoding/json"
	"maps"
	"runtime"
	"slices"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/events"
)

// Problems: a condition that stops documents (a folder Clinic Sync may not
// write in, a full disk, a file held open, ...) is retried quietly, and
// becomes a problem once it is there at all, or once it has lasted long
// enough for the ones that usually pass by themselves. A problem is said
// once: one activity line, the snapshot's Problems (the window's banner
// and the tray's attention state follow it, and the window sends one
// notification), ProblemsChanged on the bus; and once more when it
// clears. Nothing is said on each retry. Open problems are kept in the
// store, so that `clinicsync status` lists them and a restart neither
// restarts their clocks nor says them again.

// ProblemKind names a condition that stops documents.
type ProblemKind string

// The conditions, in the order the banner lists them.
const (
	ProblemSignedOut   ProblemKind = "signed_out"              // no usable sign-in
	ProblemPlatform    ProblemKind = "platform_unreachable"    // Askara unreachable for 30 minutes
	ProblemUnreachable ProblemKind = "destination_unreachable" // the documents folder unreachable for 10 minutes
	ProblemPermission  ProblemKind = "permission"              // the OS refuses writes in the documents folder
	ProblemReadOnly    ProblemKind = "read_only"               // the documents folder is on a read-only disk
	ProblemDiskFull    ProblemKind = "disk_full"               // a disk is full, or under Config.MinFree
	ProblemFileLocked  ProblemKind = "file_locked"             // a file held open for 10 minutes
)

var problemOrder = []ProblemKind{ProblemSignedOut, ProblemPlatform, ProblemUnreachable, ProblemPermission,
	ProblemReadOnly, ProblemDiskFull, ProblemFileLocked}

// escalateAfter is how long a condition lasts before it is a problem;
// the others are one at once. A file is often held open for a moment (an
// antivirus scan, a person reading it), a share drops for a moment, a
// network too.
var escalateAfter = map[ProblemKind]time.Duration{
	ProblemFileLocked:  10 * time.Minute,
	ProblemUnreachable: 10 * time.Minute,
	ProblemPlatform:    30 * time.Minute,
}

// docProblems are the failures of documents that are conditions of the
// folder rather than of the document: the condition lasts while any
// document fails with one of these codes.
var docProblems = map[string]ProblemKind{
	clinicsync.EPermission: ProblemPermission,
	clinicsync.EReadOnly:   ProblemReadOnly,
	clinicsync.EDiskFull:   ProblemDiskFull,
	clinicsync.EFileLocked: ProblemFileLocked,
}

// Problem is a condition that stops documents. Its texts name folders,
// never a patient: a notification shows them, on the lock screen too.
type Problem struct {
	Kind  ProblemKind     `json:"kind"`
	Since time.Time       `json:"since"` // when the condition was first seen
	Title clinicsync.Text `json:"title"` // a few words: "disk full"
	Cause clinicsync.Text `json:"cause"` // a sentence naming the folder
	Fix   clinicsync.Text `json:"fix"`   // what a person does about it
	// Open: it lasted long enough and was said (the banner, the tray,
	// the notification); otherwise it is only being watched.
	Open bool `json:"open"`
}

// problemState is what the evaluation keeps between two runs (probMu).
type problemState struct {
	loaded bool
	// pass holds the conditions passes found (the folder unreachable or
	// short of space, Askara unreachable, signed out) until a pass finds
	// them gone; documents' conditions are read from the store.
	pass map[ProblemKind]Problem
	// seen is every condition there now, open or watched.
	seen map[ProblemKind]Problem
}

// problemsCursor is the store cursor the conditions are kept under (JSON).
const problemsCursor = "problems"

// goos picks the fix of a refused folder (tests set it).
var goos = runtime.GOOS

// FreeSpaceFunc reads the free space of the disk holding a folder
// (dest.FreeSpace).
type FreeSpaceFunc func(path string) (uint64, error)

// WatchSpace makes each pass first check that the disks of the documents
// folder and of dataDir (the store's folder) have Config.MinFree free,
// read with free (dest.FreeSpace; tests inject a reading). Without it
// nothing is checked. Call it before Run.
func (e *Engine) WatchSpace(dataDir string, free FreeSpaceFunc) {
	e.confMu.Lock()
	e.dataDir, e.freeSpace = dataDir, free
	e.confMu.Unlock()
}

// folder is the documents folder, when the destination is one.
func (e *Engine) folder() string {
	_, dst := e.conf()
	if f, ok := dst.(interface{ Folder() string }); ok {
		return f.Folder()
	}
	return ""
}

// checkSpace refuses a pass (EDiskFull, retried) when a disk has less
// than Config.MinFree free: a pass would fill it, and the practice
// software and the state database need room too. A disk whose free space
// cannot be read is not checked: its writes say what is wrong.
func (e *Engine) checkSpace() error {
	e.confMu.RLock()
	min, dataDir, free := e.cfg.MinFree, e.dataDir, e.freeSpace
	e.confMu.RUnlock()
	if free == nil || min <= 0 {
		return nil
	}
	mb := min >> 20
	for _, d := range []struct{ path, key string }{
		{e.folder(), "The disk of the documents folder %s has less than %d MB free."},
		{dataDir, "The disk of Clinic Sync's data folder %s has less than %d MB free."},
	} {
		if d.path == "" {
			continue
		}
		if n, err := free(d.path); err == nil && n < uint64(min) {
			return clinicsync.Retryablef(clinicsync.EDiskFull, nil, d.key, d.path, mb)
		}
	}
	return nil
}

// passProblems updates the conditions passes find with how one ended:
// err nil clears them all; a failure sets its own and clears those of the
// checks it got past (the folder's before the listing), keeping those it
// could not tell (Askara's, when the folder stopped it).
func (e *Engine) passProblems(err error) {
	e.probMu.Lock()
	defer e.probMu.Unlock()
	p := e.probState()
	set := func(k ProblemKind, cause, fix clinicsync.Text, gone ...ProblemKind) {
		p.pass[k] = e.problem(k, cause, fix)
		for _, g := range gone {
			delete(p.pass, g)
		}
	}
	root := e.folder()
	switch code := clinicsync.ErrorCode(err); {
	case err == nil:
		clear(p.pass)
	case code == clinicsync.EDestination:
		set(ProblemUnreachable, clinicsync.NewText(activity.UnreachableCause, root), clinicsync.NewText(activity.UnreachableFix),
			ProblemDiskFull)
	case code == clinicsync.EDiskFull:
		set(ProblemDiskFull, clinicsync.ErrorText(err), clinicsync.NewText(activity.DiskFullFix), ProblemUnreachable)
	case code == clinicsync.EUnauthorized || code == clinicsync.ESignedOut:
		set(ProblemSignedOut, clinicsync.NewText(activity.SignedOutCause), clinicsync.NewText(activity.SignedOutFix),
			ProblemUnreachable, ProblemDiskFull)
	case code == clinicsync.EUnavailable || code == clinicsync.ERateLimited || code == clinicsync.EBadResponse:
		fix := clinicsync.ErrorText(err)
		if code != clinicsync.EUnavailable {
			fix = clinicsync.NewText(activity.PlatformFix)
		}
		set(ProblemPlatform, clinicsync.NewText(activity.PlatformCause), fix, ProblemUnreachable, ProblemDiskFull, ProblemSignedOut)
	}
}

// signedOutProblem sets or clears the signed-out condition outside a pass
// (a person signed out, or in again).
func (e *Engine) signedOutProblem(out bool) {
	e.probMu.Lock()
	defer e.probMu.Unlock()
	p := e.probState()
	if out {
		p.pass[ProblemSignedOut] = e.problem(ProblemSignedOut, clinicsync.NewText(activity.SignedOutCause),
			clinicsync.NewText(activity.SignedOutFix))
	} else {
		delete(p.pass, ProblemSignedOut)
	}
}

// problem is a condition of kind k with its title.
func (e *Engine) problem(k ProblemKind, cause, fix clinicsync.Text) Problem {
	title := problemTitles[k]
	return Problem{Kind: k, Title: clinicsync.NewText(title), Cause: cause, Fix: fix}
}

var problemTitles = map[ProblemKind]string{
	ProblemSignedOut: activity.ProblemSignedOut, ProblemPlatform: activity.ProblemPlatform,
	ProblemUnreachable: activity.ProblemUnreachable, ProblemPermission: activity.ProblemPermission,
	ProblemReadOnly: activity.ProblemReadOnly, ProblemDiskFull: activity.ProblemDiskFull,
	ProblemFileLocked: activity.ProblemFileLocked,
}

// docProblem is the condition of documents failing with code, in folder.
func (e *Engine) docProblem(k ProblemKind, root string) Problem {
	switch k {
	case ProblemPermission:
		fix := activity.PermissionFix
		if goos == "windows" {
			fix = activity.PermissionFixWindows
		}
		return e.problem(k, clinicsync.NewText(activity.PermissionCause, root), clinicsync.NewText(fix))
	case ProblemReadOnly:
		return e.problem(k, clinicsync.NewText(activity.ReadOnlyCause, root), clinicsync.NewText(activity.ReadOnlyFix))
	case ProblemDiskFull:
		return e.problem(k, clinicsync.NewText(activity.DiskFullCause, root), clinicsync.NewText(activity.DiskFullFix))
	}
	return e.problem(k, clinicsync.NewText(activity.FileLockedCause, root), clinicsync.NewText(activity.FileLockedFix))
}

// probState is the state, read from the store the first time (probMu).
func (e *Engine) probState() *problemState {
	p := &e.probs
	if p.pass == nil {
		p.pass, p.seen = map[ProblemKind]Problem{}, map[ProblemKind]Problem{}
	}
	if !p.loaded {
		p.loaded = true
		if kept, err := e.storedProblems(context.Background()); err == nil {
			for _, k := range kept {
				p.seen[k.Kind] = k
				if passFound(k) { // until a pass of this run says otherwise
					p.pass[k.Kind] = k
				}
			}
		} else {
			e.log.Warn("read problems", "err", err)
		}
	}
	return p
}

// passFound reports whether passes found p (the store's failures tell
// the others).
func passFound(p Problem) bool {
	switch p.Kind {
	case ProblemSignedOut, ProblemPlatform, ProblemUnreachable:
		return true
	case ProblemDiskFull:
		return p.Cause.Key != activity.DiskFullCause // short of space, not a write that failed
	}
	return false
}

// storedProblems are the conditions the store keeps, open or watched.
func (e *Engine) storedProblems(ctx context.Context) ([]Problem, error) {
	v, err := e.store.GetCursor(ctx, problemsCursor)
	if err != nil || v == "" {
		return nil, err
	}
	var out []Problem
	return out, json.Unmarshal([]byte(v), &out)
}

// Problems are the open problems the store keeps, the longest-standing
// first: for a front end that runs no engine (`clinicsync status`).
func (e *Engine) Problems(ctx context.Context) ([]Problem, error) {
	all, err := e.storedProblems(ctx)
	return openProblems(all), err
}

func openProblems(all []Problem) []Problem {
	out := []Problem{}
	for _, k := range problemOrder {
		for _, p := range all {
			if p.Kind == k && p.Open {
				out = append(out, p)
			}
		}
	}
	return out
}

// loadProblems shows the problems a previous run left open, until the
// first pass says whether they still are.
func (e *Engine) loadProblems() {
	e.probMu.Lock()
	open := openProblems(slices.Collect(maps.Values(e.probState().seen)))
	e.probMu.Unlock()
	e.update(func(s *Snapshot) { s.Problems = open })
}

// checkProblems compares the conditions there now (those passes found,
// and those of the documents failing) with those seen before: a new one
// starts its clock; one there long enough is opened and said; one gone is
// dropped, and said resolved if it was open.
func (e *Engine) checkProblems(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	e.probMu.Lock()
	p := e.probState()
	codes, err := e.store.FailedCodes(ctx)
	if err != nil {
		e.probMu.Unlock()
		e.log.Warn("read failures", "err", err)
		return
	}
	now := e.Now()
	active := maps.Clone(p.pass)
	root := e.folder()
	for code, n := range codes {
		if k, ok := docProblems[code]; ok && n > 0 {
			if _, dup := active[k]; !dup {
				active[k] = e.docProblem(k, root)
			}
		}
	}
	var opened, resolved []Problem
	changed := false
	for k, a := range active {
		cur, ok := p.seen[k]
		switch {
		case !ok:
			cur, changed = a, true
			cur.Since = now
		case !cur.Open:
			cur.Cause, cur.Fix = a.Cause, a.Fix // the latest words, until they are said
		}
		if !cur.Open && now.Sub(cur.Since) >= escalateAfter[k] {
			cur.Open, changed = true, true
			opened = append(opened, cur)
		}
		p.seen[k] = cur
	}
	for k, s := range p.seen {
		if _, ok := active[k]; !ok {
			delete(p.seen, k)
			changed = true
			if s.Open {
				resolved = append(resolved, s)
			}
		}
	}
	all := slices.Collect(maps.Values(p.seen))
	if changed {
		if b, err := json.Marshal(all); err == nil {
			if err := e.store.SetCursor(ctx, problemsCursor, string(b)); err != nil {
				e.log.Warn("keep problems", "err", err)
			}
		}
	}
	e.probMu.Unlock()
	if len(opened)+len(resolved) == 0 {
		return
	}
	for _, o := range openProblems(opened) {
		e.log.Info("problem", "kind", o.Kind, "since", o.Since)
		e.note(ctx, store.LevelError, "", clinicsync.NewText(activity.ProblemOpened, o.Title, o.Cause, o.Fix))
	}
	for _, r := range openProblems(resolved) {
		e.log.Info("problem resolved", "kind", r.Kind)
		e.note(ctx, store.LevelInfo, "", clinicsync.NewText(activity.ProblemResolved, r.Title))
	}
	open := openProblems(all)
	e.update(func(s *Snapshot) { s.Problems = open })
	e.bus.Publish(events.Event{Type: events.ProblemsChanged})
}
