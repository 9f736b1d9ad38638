package dest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clinicsync/clinicsync"
)

// SaveRequest is one document to write.
type SaveRequest struct {
	Root     string // the destination root; must exist (it is never created)
	RelDir   string // the patient folder below Root (Layout.PatientDir), created when missing
	FileName string // the file name (FileName), already sanitised
	UUID     string // the document UUID: letters, digits, "-" and "_", at most 64
	Body     io.Reader
	// Prev is the absolute path this UUID was saved to before (from the
	// database), "" if none. When it is a regular file in the target folder
	// it is this document's file: kept if identical, replaced otherwise.
	Prev string
	// Text: the body is a text file (a clinical note), not a PDF; it is
	// not checked for the PDF signature (it must still not be empty).
	Text bool
	// Writer is put in the temp file's name (hex digits, "" for none):
	// RemoveTemps with another writer leaves the file alone.
	Writer string
}

// Result is where a document landed; its Path is the absolute OS path of
// the final file.
type Result = clinicsync.Placed

// A temp file is ".clinicsync-<uuid>-<writer><16 hex>.part", the writer
// being the installation's hex token (SaveRequest.Writer) or nothing: the leading dot hides
// it on macOS and Linux (it is also hidden on Windows, see hide), and the
// UUID allows only [0-9A-Za-z_-], so the extension is always .part, never
// one an importer takes for a document (.pdf, .txt).
const (
	tempPrefix = ".clinicsync-"
	tempSuffix = ".part"
	bufSize    = 64 << 10
	maxUUIDLen = 64
)

var pdfMagic = []byte("%PDF-")

// Test hooks.
var (
	lockWait    = 5 * time.Second // how long publishing retries a file held open by another program
	replaceFile = os.Rename       // replaces an existing file atomically
	lockCheck   = isLocked        // reports a sharing or lock violation on path
	// beforeCreate, when set, runs between making the folder and creating
	// the temp file in it.
	beforeCreate func(dir string)
)

// errHeldForTest is the refusal HoldOpenForTest makes publishing meet.
var errHeldForTest = errors.New("the file is open in another program (test)")

// HoldOpenForTest makes publishing find the files for which held reports
// true held open by another program, as the practice software or an
// antivirus holds one on Windows (a sharing violation), and give up on
// them after a short wait instead of lockWait; restore undoes it. It
// drives the hooks above for the tests of other packages (the window's
// escalation of a locked file); nothing else calls it. Call both while no
// Save runs.
func HoldOpenForTest(held func(path string) bool) (restore func()) {
	oldReplace, oldCheck, oldWait := replaceFile, lockCheck, lockWait
	replaceFile = func(from, to string) error {
		if held(to) {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: errHeldForTest}
		}
		return oldReplace(from, to)
	}
	lockCheck = func(err error, path string) bool { return errors.Is(err, errHeldForTest) || oldCheck(err, path) }
	lockWait = 50 * time.Millisecond
	return func() { replaceFile, lockCheck, lockWait = oldReplace, oldCheck, oldWait }
}

// TempPattern is the glob of one document's temp files in its folder:
// ".clinicsync-<uuid>-*.part".
func TempPattern(uuid string) string {
	return tempPrefix + uuid + "-*" + tempSuffix
}

// isTempOf reports whether name is a temp file of uuid (stricter than
// TempPattern: the part after the UUID is hex digits only, so that a UUID
// which is a prefix of another never matches the other's temp files).
func isTempOf(name, uuid string) bool {
	rest, ok := strings.CutPrefix(name, tempPrefix+uuid+"-")
	if !ok {
		return false
	}
	rest, ok = strings.CutSuffix(rest, tempSuffix)
	if !ok || rest == "" {
		return false
	}
	for _, c := range []byte(rest) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// writtenBy reports whether temp file name of uuid is writer's: its hex
// part is writer's token and 16 random digits, or a writer-less name of an
// earlier version (16 digits or fewer).
func writtenBy(name, uuid, writer string) bool {
	rest := strings.TrimSuffix(strings.TrimPrefix(name, tempPrefix+uuid+"-"), tempSuffix)
	return len(rest) <= 16 || writer != "" && strings.HasPrefix(rest, writer)
}

// RemoveTemps deletes the half-written temp files of one document in dir
// (crash recovery) and says how many it removed. A missing dir is not an
// error. The folder itself is kept, even when it is left empty: after a
// crash nothing tells whether Clinic Sync made it or found it (the practice
// software may make empty patient folders in advance, and those must
// stay). The document goes back to pending and its next Save usually lands
// in it.
//
// Only writer's temp files go, and those of versions that named no writer:
// another PC writing the same document into a shared folder now (it took
// over while this one was down) keeps its own.
func RemoveTemps(dir, uuid, writer string) (int, error) {
	if !validUUID(uuid) {
		return 0, clinicsync.Errorf(clinicsync.EInvalid, "The document identifier %q is not usable.", uuid)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fsError(err, dir)
	}
	n := 0
	var first error
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTempOf(e.Name(), uuid) || !writtenBy(e.Name(), uuid, writer) {
			continue
		}
		err := os.Remove(filepath.Join(dir, e.Name()))
		switch {
		case err == nil:
			n++
		case errors.Is(err, fs.ErrNotExist):
		case first == nil:
			first = fsError(err, dir)
		}
	}
	return n, first
}

// HashFile returns the hex SHA-256 and the size of a file, streaming it.
func HashFile(path string) (sha string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	size, err = io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, bufSize))
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

func validUUID(s string) bool {
	if s == "" || len(s) > maxUUIDLen {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Save streams a document into its folder below the root: a temp file in
// the target folder, hashed as it is written, checked to be a PDF, fsynced,
// then published under a name that never overwrites another document's file
// (see candidates), and the folder fsynced. On any failure the temp file is
// removed, and so are the folders this call made that are still empty
// (never the root, nor a folder that was there before). Errors are
// *clinicsync.Error (codes EDestination, ENotPDF, EDiskFull, EPermission,
// EReadOnly, EFileLocked, EPathTooLong, EInvalid, EUnavailable, ECanceled), or the
// Body's own *clinicsync.Error.
func Save(ctx context.Context, r SaveRequest) (_ Result, err error) {
	if err := ctx.Err(); err != nil {
		return Result{}, canceled(err)
	}
	if !validUUID(r.UUID) {
		return Result{}, clinicsync.Errorf(clinicsync.EInvalid, "The document identifier %q is not usable.", r.UUID)
	}
	if r.FileName == "" || r.FileName != SanitizeComponent(r.FileName, maxComponent) {
		return Result{}, clinicsync.Errorf(clinicsync.EInvalid, "The file name %q is not allowed.", r.FileName)
	}
	rel := r.RelDir
	if rel == "" {
		rel = "."
	}
	if !validRelDir(rel) {
		return Result{}, clinicsync.Errorf(clinicsync.EInvalid, "The folder name %q is not allowed.", r.RelDir)
	}
	rel = filepath.Clean(rel)
	fi, err := os.Stat(r.Root)
	if r.Root == "" || err != nil || !fi.IsDir() {
		return Result{}, unreachable(r.Root, err)
	}
	root, err := filepath.Abs(r.Root)
	if err != nil {
		return Result{}, unreachable(r.Root, err)
	}
	dir := filepath.Join(root, rel)
	// Runs last, after the temp file is gone: a folder made for a document
	// that did not land would stay empty for ever.
	var made []string
	defer func() {
		if err != nil {
			removeEmptyDirs(made)
		}
	}()
	tmp, f, err := makeTemp(root, rel, dir, r.UUID, r.Writer, &made)
	if err != nil {
		return Result{}, err
	}
	// After a rename this removes nothing; in every other case it removes
	// the temp file (after a hard link, the extra name).
	defer removeQuietly(tmp)
	size, sum, err := copyBody(ctx, f, r.Body, dir, !r.Text)
	if err == nil {
		fsyncs.Add(1)
		if err = f.Sync(); err != nil {
			err = fsError(err, dir)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fsError(cerr, dir)
	}
	if err == nil {
		// A rename keeps the hidden attribute: the file is made visible
		// first, whole, or not published at all.
		if uerr := unhide(tmp); uerr != nil {
			err = fsError(uerr, dir)
		}
	}
	if err != nil {
		return Result{}, err
	}
	path, already, err := publish(ctx, dir, r.FileName, r.UUID, tmp, size, sum, r.Prev)
	if err != nil {
		return Result{}, err
	}
	if !already {
		removeQuietly(tmp)
		syncDir(dir)
	}
	return Result{Path: path, Size: size, SHA256: sum, AlreadyPresent: already}, nil
}

// validRelDir accepts a local relative path whose every element is already
// sanitised ("." for the root itself).
func validRelDir(rel string) bool {
	if rel == "." {
		return true
	}
	if !filepath.IsLocal(rel) {
		return false
	}
	for _, c := range strings.Split(filepath.Clean(rel), string(filepath.Separator)) {
		if c != sanitize(c, maxComponent, false) {
			return false
		}
	}
	return true
}

func unreachable(root string, err error) error {
	return clinicsync.Retryablef(clinicsync.EDestination, err, "Destination folder %s is not reachable.", root)
}

func canceled(err error) error {
	return &clinicsync.Error{Code: clinicsync.ECanceled, Message: "The operation was interrupted.",
		Retryable: true, Err: err}
}

// fsError classifies an error writing in dir.
func fsError(err error, dir string) error {
	switch {
	case isDiskFull(err):
		return clinicsync.Retryable(clinicsync.EDiskFull, "The destination disk is full.", err)
	case isReadOnlyFS(err):
		return clinicsync.Retryablef(clinicsync.EReadOnly, err, "The folder %s is on a read-only disk or share.", dir)
	case errors.Is(err, fs.ErrPermission):
		return clinicsync.Retryablef(clinicsync.EPermission, err, "Clinic Sync may not write to %s.", dir)
	case isNameTooLong(err):
		return clinicsync.Permanent(clinicsync.EPathTooLong,
			fmt.Sprintf("The path of the file in %s is too long for the disk.", dir), err)
	}
	return clinicsync.Retryablef(clinicsync.EDestination, err, "Could not write to %s.", dir)
}

// within reports whether p is root or below it (both cleaned, absolute).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil || filepath.IsAbs(rel) {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// makeTries is how many times makeTemp makes the folder and the temp file:
// each Save that fails removes the folders it made once, when it fails, so
// with several of a patient's documents failing at once (up to [sync]
// workers of them) a folder can vanish several times under the one that
// lands. (3 was too few: three failing Saves could use them all up.)
const makeTries = 8

// makeTemp makes dir (root/rel) and a temp file in it, adding the folders
// it made to *made. A folder this Save found (or made) can vanish before
// the temp file is in it: another Save that made it and then failed
// removes it while it is empty (removeEmptyDirs). Then the folder and the
// file are made again, up to makeTries times in all. This works across
// processes too, unlike a lock in this one; other Saves would have to
// make and remove the folder each time in between for all tries to fail,
// and that fails only this attempt (EDestination, retried later). Once the
// temp file is there, the folder is not empty and os.Remove leaves it.
func makeTemp(root, rel, dir, uuid, writer string, made *[]string) (string, *os.File, error) {
	for try := 1; ; try++ {
		err := prepareDir(root, rel, dir, made)
		if err == nil {
			if beforeCreate != nil {
				beforeCreate(dir)
			}
			tmp, f, cerr := createTemp(dir, uuid, writer)
			if cerr == nil {
				return tmp, f, nil
			}
			err = fsError(cerr, dir)
		}
		if try == makeTries || !errors.Is(err, fs.ErrNotExist) {
			return "", nil, err
		}
	}
}

// removeEmptyDirs removes the folders a failed Save made, deepest first,
// where they are still empty folders: os.Remove refuses a folder that holds
// anything (another document landing there), and a link or file put in
// the place of one is left alone. Errors are ignored: a folder left is
// only untidy.
func removeEmptyDirs(made []string) {
	dirs := slices.Clone(made)
	// A folder's path is longer than its parent's: longest first is deepest first.
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	for _, d := range slices.Compact(dirs) {
		if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
			os.Remove(d)
		}
	}
}

// prepareDir creates dir (root/rel), adding the folders it made to *made,
// and makes sure that neither an existing symbolic link (or other reparse
// point, such as a Windows junction) nor anything else leads it outside
// the root: the existing part is resolved before anything is created, and
// the result after. Where the root itself cannot be resolved (EvalSymlinks
// fails on some Windows RAM disks and container mounts), any link below it
// is refused and the walk is the check. The missing levels are made one by
// one, so that a level another Save made meanwhile is not counted as ours.
func prepareDir(root, rel, dir string, made *[]string) error {
	realRoot, err := filepath.EvalSymlinks(root)
	resolved := err == nil
	if !resolved {
		realRoot = root
	}
	outside := func() error {
		return clinicsync.Permanent(clinicsync.EDestination,
			fmt.Sprintf("The folder %s leads outside the destination folder %s.", dir, root), nil)
	}
	if rel != "." {
		cur := root
		comps := strings.Split(rel, string(filepath.Separator))
		missing := len(comps) // the first level that is not there
		for i, c := range comps {
			cur = filepath.Join(cur, c)
			fi, err := os.Lstat(cur)
			if errors.Is(err, fs.ErrNotExist) {
				missing = i
				break
			}
			if err != nil {
				return fsError(err, dir)
			}
			if fi.Mode()&(fs.ModeSymlink|fs.ModeIrregular) != 0 {
				real, err := filepath.EvalSymlinks(cur)
				if err != nil || !resolved || !within(realRoot, real) {
					return outside() // dangling links included: they could be made to point anywhere
				}
				if fi, err = os.Stat(cur); err != nil {
					return fsError(err, dir)
				}
			}
			if !fi.IsDir() {
				return clinicsync.Permanent(clinicsync.EDestination,
					fmt.Sprintf("%s is in the way of the folder %s.", cur, dir), nil)
			}
		}
		for i := missing; i < len(comps); i++ {
			if i > missing {
				cur = filepath.Join(cur, comps[i])
			}
			err := os.Mkdir(cur, 0o777)
			if err == nil {
				*made = append(*made, cur)
				continue
			}
			// Made meanwhile by another Save: used, not ours (as MkdirAll).
			fi, serr := os.Stat(cur)
			if serr == nil && fi.IsDir() {
				continue
			}
			if errors.Is(serr, fs.ErrNotExist) {
				err = serr // made and removed again meanwhile: makeTemp tries again
			}
			return fsError(err, dir)
		}
	}
	if !resolved {
		return nil
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fsError(err, dir)
	}
	if !within(realRoot, real) {
		return outside()
	}
	return nil
}

func createTemp(dir, uuid, writer string) (string, *os.File, error) {
	for range 16 {
		var rnd [8]byte
		rand.Read(rnd[:])
		name := filepath.Join(dir, tempPrefix+uuid+"-"+writer+hex.EncodeToString(rnd[:])+tempSuffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err == nil {
			// Hidden before a byte is written (Windows; the dot does it
			// elsewhere). Best effort: the name alone is no document's.
			hide(name)
		}
		return name, f, err
	}
	return "", nil, fs.ErrExist
}

func removeQuietly(path string) {
	if path != "" {
		os.Remove(path)
	}
}

// copyBody streams body into w with one fixed buffer, hashing it, checking
// from the first bytes that it is a PDF and stopping early when not, and
// watching ctx between reads.
func copyBody(ctx context.Context, w io.Writer, body io.Reader, dir string, pdf bool) (int64, string, error) {
	if body == nil {
		return 0, "", clinicsync.Permanent(clinicsync.ENotPDF, "The file is empty.", nil)
	}
	h := sha256.New()
	buf := make([]byte, bufSize)
	var head [5]byte
	var nhead int
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, "", canceled(err)
		}
		m, rerr := body.Read(buf)
		if m > 0 {
			chunk := buf[:m]
			if nhead < len(head) {
				nhead += copy(head[nhead:], chunk)
				if pdf && !bytes.HasPrefix(pdfMagic, head[:nhead]) {
					return 0, "", clinicsync.Permanent(clinicsync.ENotPDF, "The file is not a PDF.", nil)
				}
			}
			if _, err := w.Write(chunk); err != nil {
				return 0, "", fsError(err, dir)
			}
			h.Write(chunk)
			n += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if err := ctx.Err(); err != nil {
				return 0, "", canceled(err)
			}
			var ce *clinicsync.Error
			if errors.As(rerr, &ce) {
				return 0, "", rerr
			}
			return 0, "", clinicsync.Retryable(clinicsync.EUnavailable, "The download was interrupted.", rerr)
		}
	}
	switch {
	case n == 0:
		return 0, "", clinicsync.Permanent(clinicsync.ENotPDF, "The file is empty.", nil)
	case pdf && nhead < len(head):
		return 0, "", clinicsync.Permanent(clinicsync.ENotPDF, "The file is not a PDF.", nil)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// lockedError is a publish step refused because another program holds path.
type lockedError struct {
	path string
	err  error
}

func (e *lockedError) Error() string { return e.path + ": " + e.err.Error() }
func (e *lockedError) Unwrap() error { return e.err }

// lockRetry is how publishing waits for a file another program holds
// open: 50 ms doubling to 1 s, for lockWait in all.
var lockRetry = clinicsync.RetryPolicy{Base: 50 * time.Millisecond, Max: time.Second}

// publish places the temp file, retrying with backoff for lockWait while
// another program holds the target open.
func publish(ctx context.Context, dir, name, uuid, tmp string, size int64, sum, prev string) (string, bool, error) {
	deadline := time.Now().Add(lockWait)
	for retries := 0; ; retries++ {
		path, already, err := place(dir, name, uuid, tmp, size, sum, prev)
		var le *lockedError
		if !errors.As(err, &le) {
			return path, already, err
		}
		delay := lockRetry.Delay(retries, 0)
		if time.Now().Add(delay).After(deadline) {
			return "", false, clinicsync.Retryablef(clinicsync.EFileLocked, le.err,
				"The file %s is open in another program.", filepath.Base(le.path))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", false, canceled(ctx.Err())
		case <-t.C:
		}
	}
}

// DistinctName is the document-specific form of a file name,
// "<stem> (<first 8 of uuid>)<ext>" ("letter (5f3d9c10).pdf"): the name Save
// gives a document whose plain name another document's file already holds.
// A caller that knows in advance that two documents will want one name may
// ask Save for this one directly. It stays within MaxFileLen; an unusable
// uuid leaves the name as it is.
func DistinctName(name, uuid string) string {
	if !validUUID(uuid) {
		return name
	}
	return candidates(name, uuid)[1]
}

// candidates are the names a document may take in its folder, in order:
// the name itself, "<stem> (<first 8 of uuid>)<ext>", "<stem> (<uuid>)<ext>",
// the stem shortened so that each stays within MaxFileLen (or the name's
// own length, if longer).
func candidates(name, uuid string) []string {
	limit := max(MaxFileLen, min(len(name), maxComponent))
	ext := filepath.Ext(name)
	if ext == name || !isExt(ext) {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	with := func(tag string) string {
		suffix := " (" + tag + ")"
		s := stem
		if room := limit - len(ext) - len(suffix); len(s) > room {
			s = strings.TrimRight(cutTo(s, room), " ")
		}
		return s + suffix + ext
	}
	out := []string{name, with(uuid[:min(8, len(uuid))])}
	if len(uuid) > 8 {
		out = append(out, with(uuid))
	}
	return out
}

// place publishes tmp once. Prev, when it is a regular file in dir, is this
// document's file. Otherwise each candidate is tried with a primitive that
// never overwrites: free → taken; an identical file there → already
// present; a different one → next candidate. The last candidate carries the
// full UUID, so a different file there is an older version of this very
// document, and is replaced.
func place(dir, name, uuid, tmp string, size int64, sum, prev string) (string, bool, error) {
	failed := func(err error, path string) (string, bool, error) {
		if lockCheck(err, path) {
			return "", false, &lockedError{path: path, err: err}
		}
		return "", false, fsError(err, dir)
	}
	if prev != "" && filepath.IsAbs(prev) {
		if fi, err := os.Lstat(prev); err == nil && fi.Mode().IsRegular() && sameDir(filepath.Dir(prev), dir) {
			same, err := sameContent(prev, fi, size, sum)
			if err != nil {
				return failed(err, prev)
			}
			if same {
				return prev, true, nil
			}
			if err := replaceFile(tmp, prev); err != nil {
				return failed(err, prev)
			}
			return prev, false, nil
		}
	}
	cands := candidates(name, uuid)
	vanished := 0
	for i := 0; i < len(cands); i++ {
		p := filepath.Join(dir, cands[i])
		err := linkNoClobber(tmp, p)
		if err == nil {
			return p, false, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return failed(err, p)
		}
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) && vanished < 3 {
			vanished++
			i-- // removed in between: try the same name again
			continue
		}
		if err != nil {
			return failed(err, p)
		}
		if !fi.Mode().IsRegular() {
			continue // a folder or a link of that name is never touched
		}
		same, err := sameContent(p, fi, size, sum)
		if err != nil {
			return failed(err, p)
		}
		if same {
			return p, true, nil
		}
		if i == len(cands)-1 {
			if err := replaceFile(tmp, p); err != nil {
				return failed(err, p)
			}
			return p, false, nil
		}
	}
	return "", false, clinicsync.Permanent(clinicsync.EDestination,
		fmt.Sprintf("No free name for %s in %s.", name, dir), nil)
}

func sameDir(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

func sameContent(path string, fi fs.FileInfo, size int64, sum string) (bool, error) {
	if fi.Size() != size {
		return false, nil
	}
	got, n, err := HashFile(path)
	if err != nil {
		return false, err
	}
	return n == size && got == sum, nil
}
