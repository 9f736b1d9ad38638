package dest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

const (
	uuidA = "0b7c1e2a-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	uuidB = "5f3d9c10-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	uuidC = "5f3d9c10-cccc-4ccc-8ccc-cccccccccccc" // same first 8 as uuidB
)

func pdf(s string) []byte { return []byte("%PDF-1.7\n" + s + "\n%%EOF\n") }

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func save(t *testing.T, root, rel, name, uuid string, body []byte, prev string) (Result, error) {
	t.Helper()
	return Save(context.Background(), SaveRequest{Root: root, RelDir: rel, FileName: name, UUID: uuid,
		Body: bytes.NewReader(body), Prev: prev})
}

func mustSave(t *testing.T, root, rel, name, uuid string, body []byte, prev string) Result {
	t.Helper()
	r, err := save(t, root, rel, name, uuid, body, prev)
	if err != nil {
		t.Fatalf("Save %s/%s (%s): %v", rel, name, uuid, err)
	}
	return r
}

// tree lists every entry below root, relative, with a file's content.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case rel == ".":
		case d.IsDir():
			out[rel+"/"] = ""
		default:
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func noTemps(t *testing.T, root string) {
	t.Helper()
	for rel := range tree(t, root) {
		if strings.Contains(rel, tempPrefix) || strings.HasSuffix(rel, tempSuffix) {
			t.Errorf("temp file left behind: %s", rel)
		}
	}
}

func wantCode(t *testing.T, err error, code string, retryable bool, msg string) {
	t.Helper()
	var e *clinicsync.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *clinicsync.Error", err, err)
	}
	if e.Code != code || e.Retryable != retryable || !strings.Contains(e.Message, msg) {
		t.Fatalf("error code %s retryable %v message %q; want %s %v containing %q", e.Code, e.Retryable, e.Message, code, retryable, msg)
	}
}

func TestSaveWritesExactBytes(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	body := pdf("hello")
	r := mustSave(t, root, "DOE_JOHN", "referral_letter.pdf", uuidA, body, "")
	want := filepath.Join(root, "DOE_JOHN", "referral_letter.pdf")
	if r.Path != want || r.Size != int64(len(body)) || r.SHA256 != sha(body) || r.AlreadyPresent {
		t.Fatalf("result %+v, want path %s size %d sha %s", r, want, len(body), sha(body))
	}
	if got, _ := os.ReadFile(want); !bytes.Equal(got, body) {
		t.Fatalf("file holds %q", got)
	}
	if sum, size, err := HashFile(want); err != nil || sum != r.SHA256 || size != r.Size {
		t.Fatalf("HashFile = %s %d %v", sum, size, err)
	}
	if fi, _ := os.Stat(want); runtime.GOOS != "windows" && fi.Mode().Perm()&0o044 == 0 {
		t.Errorf("final file mode %v is not readable by others (the practice software)", fi.Mode())
	}
	noTemps(t, root)
	// Into the root itself, and into nested folders.
	mustSave(t, root, "", "top.pdf", uuidB, body, "")
	mustSave(t, root, filepath.Join("A", "B"), "deep.pdf", uuidC, body, "")
	if got := tree(t, root); len(got) != 6 {
		t.Fatalf("tree %v", got)
	}
}

func TestSaveIdenticalResaveWritesNothing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	body := pdf("same")
	r := mustSave(t, root, "P", "a.pdf", uuidA, body, "")
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(r.Path, old, old); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(r.Path)
	for _, prev := range []string{"", r.Path} { // another workstation, then this one
		again := mustSave(t, root, "P", "a.pdf", uuidA, body, prev)
		if !again.AlreadyPresent || again.Path != r.Path || again.SHA256 != r.SHA256 {
			t.Fatalf("re-save (prev %q): %+v", prev, again)
		}
		after, _ := os.Stat(r.Path)
		if !os.SameFile(before, after) || !after.ModTime().Equal(old) {
			t.Fatalf("file was rewritten (prev %q)", prev)
		}
	}
	noTemps(t, root)
	if n := len(tree(t, root)); n != 2 {
		t.Fatalf("%d entries", n)
	}
}

func TestSaveSameNameTwoDocuments(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	a, b, c := pdf("A"), pdf("B"), pdf("C")
	ra := mustSave(t, root, "P", "letter.pdf", uuidA, a, "")
	rb := mustSave(t, root, "P", "letter.pdf", uuidB, b, "")
	rc := mustSave(t, root, "P", "letter.pdf", uuidC, c, "")
	dir := filepath.Join(root, "P")
	want := map[string]Result{
		filepath.Join(dir, "letter.pdf"):             ra,
		filepath.Join(dir, "letter (5f3d9c10).pdf"):  rb,
		filepath.Join(dir, "letter ("+uuidC+").pdf"): rc,
	}
	for path, r := range want {
		if r.Path != path || r.AlreadyPresent {
			t.Fatalf("got %+v, want %s", r, path)
		}
	}
	// Re-saving each, without knowing its previous path (a second
	// workstation), maps back to its own file and writes nothing.
	for _, x := range []struct {
		uuid string
		body []byte
		r    Result
	}{{uuidA, a, ra}, {uuidB, b, rb}, {uuidC, c, rc}} {
		again := mustSave(t, root, "P", "letter.pdf", x.uuid, x.body, "")
		if again.Path != x.r.Path || !again.AlreadyPresent {
			t.Fatalf("re-save of %s: %+v, want %s", x.uuid, again, x.r.Path)
		}
	}
	// A new version of C, even without Prev: the name with its full UUID is
	// its own, so it is replaced; nobody else's file is touched.
	c2 := pdf("C version 2")
	r := mustSave(t, root, "P", "letter.pdf", uuidC, c2, "")
	if r.Path != rc.Path || r.AlreadyPresent {
		t.Fatalf("new version of C: %+v", r)
	}
	got := tree(t, root)
	if got[filepath.Join("P", "letter.pdf")] != string(a) || got[filepath.Join("P", "letter (5f3d9c10).pdf")] != string(b) ||
		got[filepath.Join("P", "letter ("+uuidC+").pdf")] != string(c2) || len(got) != 4 {
		t.Fatalf("tree %v", got)
	}
	noTemps(t, root)
}

// The engine may give the second of two same-named documents its distinct
// name up front; a workstation that does not (it lists B alone) still finds
// B's file and writes nothing.
func TestSaveDistinctNameUpFront(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	a, b := pdf("A"), pdf("B")
	rb := mustSave(t, root, "P", DistinctName("letter.pdf", uuidB), uuidB, b, "")
	ra := mustSave(t, root, "P", "letter.pdf", uuidA, a, "")
	if ra.Path != filepath.Join(root, "P", "letter.pdf") || rb.Path != filepath.Join(root, "P", "letter (5f3d9c10).pdf") {
		t.Fatalf("A at %s, B at %s", ra.Path, rb.Path)
	}
	again := mustSave(t, root, "P", "letter.pdf", uuidB, b, "")
	if again.Path != rb.Path || !again.AlreadyPresent {
		t.Fatalf("B re-saved under its plain name: %+v", again)
	}
	if n := len(tree(t, root)); n != 3 {
		t.Fatalf("%d entries", n)
	}
}

func TestSavePrevReplacedWithNewVersion(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	other := mustSave(t, root, "P", "letter.pdf", uuidB, pdf("someone else"), "")
	v1 := mustSave(t, root, "P", "letter.pdf", uuidA, pdf("v1"), "")
	if v1.Path == other.Path {
		t.Fatal("two documents share a path")
	}
	v2 := mustSave(t, root, "P", "letter.pdf", uuidA, pdf("v2"), v1.Path)
	if v2.Path != v1.Path || v2.AlreadyPresent || v2.SHA256 != sha(pdf("v2")) {
		t.Fatalf("v2 %+v, want it at %s", v2, v1.Path)
	}
	if got, _ := os.ReadFile(v1.Path); !bytes.Equal(got, pdf("v2")) {
		t.Fatalf("prev holds %q", got)
	}
	if got, _ := os.ReadFile(other.Path); !bytes.Equal(got, pdf("someone else")) {
		t.Fatal("the other document's file changed")
	}
	// The patient's folder changed: the old file is left alone, the new one
	// goes to the new folder.
	v3 := mustSave(t, root, "Q", "letter.pdf", uuidA, pdf("v3"), v1.Path)
	if v3.Path != filepath.Join(root, "Q", "letter.pdf") {
		t.Fatalf("v3 at %s", v3.Path)
	}
	if got, _ := os.ReadFile(v1.Path); !bytes.Equal(got, pdf("v2")) {
		t.Fatal("the file in the old folder changed")
	}
	// A Prev that vanished: back to the candidates.
	os.Remove(v3.Path)
	v4 := mustSave(t, root, "Q", "letter.pdf", uuidA, pdf("v4"), v3.Path)
	if v4.Path != v3.Path || v4.AlreadyPresent {
		t.Fatalf("v4 %+v", v4)
	}
	noTemps(t, root)
}

func TestSaveRejectsNotPDFAndEmpty(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, body, msg string
	}{
		{"empty", "", "The file is empty."},
		{"html", "<html><body>Error</body></html>", "The file is not a PDF."},
		{"short prefix of the magic", "%PD", "The file is not a PDF."},
		{"magic after junk", " %PDF-1.7", "The file is not a PDF."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			_, err := save(t, root, "P", "x.pdf", uuidA, []byte(tt.body), "")
			wantCode(t, err, clinicsync.ENotPDF, false, tt.msg)
			if got := tree(t, root); len(got) != 0 { // not even the patient folder it made
				t.Fatalf("left behind: %v", got)
			}
		})
	}
}

// endless is a body of any size generated on the fly: "%PDF-" then a
// pattern, without allocating.
type endless struct {
	n, size int64
	reads   int
	head    string
}

// pattern is what endless repeats (a length that does not divide buffer sizes).
var pattern = func() []byte {
	b := make([]byte, 61*1024+7)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}()

func (e *endless) Read(p []byte) (int, error) {
	e.reads++
	if e.n >= e.size {
		return 0, io.EOF
	}
	if int64(len(p)) > e.size-e.n {
		p = p[:e.size-e.n]
	}
	for filled := 0; filled < len(p); {
		filled += copy(p[filled:], pattern[(e.n+int64(filled))%int64(len(pattern)):])
	}
	if e.n < int64(len(e.head)) {
		copy(p, e.head[e.n:])
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestSaveStopsReadingANonPDFEarly(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	body := &endless{size: 1 << 30, head: "<!DOCTYPE html>"}
	_, err := Save(context.Background(), SaveRequest{Root: root, RelDir: "P", FileName: "x.pdf", UUID: uuidA, Body: body})
	wantCode(t, err, clinicsync.ENotPDF, false, "not a PDF")
	if body.reads != 1 {
		t.Fatalf("%d reads of a 1 GiB HTML body, want 1", body.reads)
	}
	noTemps(t, root)
}

func TestSaveRootMissingIsNotCreated(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	file := filepath.Join(base, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, root := range []string{filepath.Join(base, "unplugged"), file, ""} {
		_, err := save(t, root, "P", "x.pdf", uuidA, pdf("x"), "")
		wantCode(t, err, clinicsync.EDestination, true, fmt.Sprintf("Destination folder %s is not reachable.", root))
	}
	if got := tree(t, base); len(got) != 1 {
		t.Fatalf("something was created: %v", got)
	}
}

// failingReader gives some PDF bytes, then an error.
type failingReader struct {
	first []byte
	err   error
	done  bool
}

func (f *failingReader) Read(p []byte) (int, error) {
	if !f.done {
		f.done = true
		return copy(p, f.first), nil
	}
	return 0, f.err
}

func TestSaveReadErrorMidBody(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	_, err := Save(context.Background(), SaveRequest{Root: root, RelDir: "P", FileName: "x.pdf", UUID: uuidA,
		Body: &failingReader{first: pdf("half"), err: io.ErrUnexpectedEOF}})
	wantCode(t, err, clinicsync.EUnavailable, true, "interrupted")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("the cause is lost: %v", err)
	}
	// An error the HTTP client already classified is returned as it is.
	expired := clinicsync.Permanent(clinicsync.ELinkExpired, "The download link expired.", nil)
	_, err = Save(context.Background(), SaveRequest{Root: root, RelDir: "P", FileName: "x.pdf", UUID: uuidA,
		Body: &failingReader{first: pdf("half"), err: expired}})
	if err != error(expired) {
		t.Errorf("classified error replaced by %v", err)
	}
	if got := tree(t, root); len(got) != 0 {
		t.Fatalf("left behind: %v", got)
	}
}

// cancelAfter cancels its context after the first read.
type cancelAfter struct {
	endless
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.endless.Read(p)
	c.cancel()
	return n, err
}

func TestSaveCanceled(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	body := &cancelAfter{endless: endless{size: 1 << 30, head: "%PDF-"}, cancel: cancel}
	_, err := Save(ctx, SaveRequest{Root: root, RelDir: "P", FileName: "x.pdf", UUID: uuidA, Body: body})
	if clinicsync.ErrorCode(err) != clinicsync.ECanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	if body.reads > 2 {
		t.Errorf("%d reads after cancellation", body.reads)
	}
	if got := tree(t, root); len(got) != 0 {
		t.Fatalf("left behind: %v", got)
	}
	// Canceled before it starts: nothing at all.
	_, err = save(t, root, "Q", "x.pdf", uuidA, pdf("x"), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Save(ctx, SaveRequest{Root: root, RelDir: "R", FileName: "x.pdf", UUID: uuidA, Body: bytes.NewReader(pdf("x"))})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "R")); err == nil {
		t.Fatal("folder created after cancellation")
	}
}

func TestSaveRejectsUnsafeRequests(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	sep := string(filepath.Separator)
	for _, rel := range []string{"..", ".." + sep + "x", "a" + sep + ".." + sep + ".." + sep + "x", root, sep + "etc",
		"CON", "a" + sep + "b.", " x"} {
		_, err := save(t, root, rel, "x.pdf", uuidA, pdf("x"), "")
		wantCode(t, err, clinicsync.EInvalid, false, "folder name")
	}
	for _, name := range []string{"", "..", "a/b.pdf", `a\b.pdf`, "nul.pdf", "x.pdf ", strings.Repeat("x", 300)} {
		_, err := save(t, root, "P", name, uuidA, pdf("x"), "")
		wantCode(t, err, clinicsync.EInvalid, false, "file name")
	}
	for _, id := range []string{"", "../x", "a*b", "a b", strings.Repeat("a", 65)} {
		_, err := save(t, root, "P", "x.pdf", id, pdf("x"), "")
		wantCode(t, err, clinicsync.EInvalid, false, "identifier")
	}
	if got := tree(t, root); len(got) != 0 {
		t.Fatalf("created: %v", got)
	}
	// A file in the way of the patient folder.
	os.WriteFile(filepath.Join(root, "F"), []byte("x"), 0o644)
	_, err := save(t, root, "F", "x.pdf", uuidA, pdf("x"), "")
	wantCode(t, err, clinicsync.EDestination, false, "in the way")
}

func TestSaveNeverFollowsAPlantedFile(t *testing.T) {
	t.Parallel()
	// A folder where the file should go is never replaced or entered.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "P", "x.pdf"), 0o755)
	r := mustSave(t, root, "P", "x.pdf", uuidA, pdf("x"), "")
	if r.Path != filepath.Join(root, "P", "x (0b7c1e2a).pdf") {
		t.Fatalf("saved to %s", r.Path)
	}
}

func TestTempPatternAndRemoveTemps(t *testing.T) {
	t.Parallel()
	if got := TempPattern(uuidA); got != ".clinicsync-"+uuidA+"-*.part" {
		t.Fatalf("TempPattern = %q", got)
	}
	dir := t.TempDir()
	mine := []string{
		".clinicsync-" + uuidA + "-123.part",
		".clinicsync-" + uuidA + "-0a1b2c3d4e5f6789.part",         // an earlier version's, without a writer
		".clinicsync-" + uuidA + "-c0ffee000a1b2c3d4e5f6789.part", // this writer's
	}
	others := []string{
		".clinicsync-" + uuidB + "-123.part",
		".clinicsync-" + uuidA + "-x-123.part", // another UUID that starts with uuidA
		".clinicsync-" + uuidA + "-.part",
		".clinicsync-" + uuidA + "-123.pdf",
		".clinicsync-" + uuidA + "-deadbeef0a1b2c3d4e5f6789.part", // another PC's, being written now
		"letter.pdf",
	}
	for _, n := range append(append([]string{}, mine...), others...) {
		os.WriteFile(filepath.Join(dir, n), []byte("%PDF-half"), 0o644)
	}
	for _, n := range mine {
		if ok, _ := filepath.Match(TempPattern(uuidA), n); !ok {
			t.Errorf("TempPattern does not match %s", n)
		}
	}
	n, err := RemoveTemps(dir, uuidA, "c0ffee00")
	if err != nil || n != len(mine) {
		t.Fatalf("RemoveTemps = %d, %v", n, err)
	}
	left := tree(t, dir)
	for _, o := range others {
		if _, ok := left[o]; !ok {
			t.Errorf("%s was removed", o)
		}
	}
	if len(left) != len(others) {
		t.Errorf("left %v", left)
	}
	if n, err := RemoveTemps(filepath.Join(dir, "missing"), uuidA, "c0ffee00"); n != 0 || err != nil {
		t.Errorf("missing folder: %d, %v", n, err)
	}
	if _, err := RemoveTemps(dir, "", ""); err == nil {
		t.Error("an empty uuid must be refused")
	}
}

func TestSaveTempFileIsInTheTargetFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var seen []string
	body := &peekReader{r: bytes.NewReader(pdf("x")), peek: func() {
		if seen == nil {
			seen, _ = filepath.Glob(filepath.Join(root, "P", TempPattern(uuidA)))
		}
	}}
	if _, err := Save(context.Background(), SaveRequest{Root: root, RelDir: "P", FileName: "x.pdf", UUID: uuidA, Body: body}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || !isTempOf(filepath.Base(seen[0]), uuidA) {
		t.Fatalf("temp files while writing: %v", seen)
	}
	noTemps(t, root)
}

type peekReader struct {
	r    io.Reader
	peek func()
}

func (p *peekReader) Read(b []byte) (int, error) {
	p.peek()
	return p.r.Read(b)
}

func TestSaveConcurrentWritersNeverClobber(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	uuids := []string{uuidA, uuidB, uuidC, "11111111-0000-4000-8000-000000000000", "22222222-0000-4000-8000-000000000000"}
	var wg sync.WaitGroup
	results := make([]Result, len(uuids)*2)
	errs := make([]error, len(uuids)*2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := uuids[i%len(uuids)] // each document written twice, as by two workstations
			results[i], errs[i] = Save(context.Background(), SaveRequest{Root: root, RelDir: "P", FileName: "same.pdf",
				UUID: id, Body: bytes.NewReader(pdf(id))})
		}()
	}
	wg.Wait()
	paths := map[string]string{}
	for i, r := range results {
		id := uuids[i%len(uuids)]
		if errs[i] != nil {
			t.Fatalf("%s: %v", id, errs[i])
		}
		if got, _ := os.ReadFile(r.Path); !bytes.Equal(got, pdf(id)) {
			t.Fatalf("%s: %s holds %q", id, r.Path, got)
		}
		if other, ok := paths[r.Path]; ok && other != id {
			t.Fatalf("%s and %s share %s", id, other, r.Path)
		}
		paths[r.Path] = id
	}
	if len(paths) != len(uuids) {
		t.Errorf("%d paths for %d documents: %v", len(paths), len(uuids), paths)
	}
	noTemps(t, root)
}

func TestSaveRetriesALockedFile(t *testing.T) {
	// Not parallel: it swaps package hooks.
	errLocked := errors.New("sharing violation (test)")
	oldReplace, oldCheck, oldWait := replaceFile, lockCheck, lockWait
	defer func() { replaceFile, lockCheck, lockWait = oldReplace, oldCheck, oldWait }()
	lockCheck = func(err error, path string) bool { return errors.Is(err, errLocked) }
	lockWait = 400 * time.Millisecond

	root := t.TempDir()
	v1 := mustSave(t, root, "P", "x.pdf", uuidA, pdf("v1"), "")

	// Held open for a moment: the replacement waits, then succeeds.
	fails := 2
	replaceFile = func(from, to string) error {
		if fails > 0 {
			fails--
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: errLocked}
		}
		return os.Rename(from, to)
	}
	r := mustSave(t, root, "P", "x.pdf", uuidA, pdf("v2"), v1.Path)
	if got, _ := os.ReadFile(r.Path); !bytes.Equal(got, pdf("v2")) || fails != 0 {
		t.Fatalf("after a short lock: %q, %d failures left", got, fails)
	}

	// Held open for good: EFileLocked after about lockWait, nothing left.
	calls := 0
	replaceFile = func(from, to string) error {
		calls++
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: errLocked}
	}
	start := time.Now()
	_, err := save(t, root, "P", "x.pdf", uuidA, pdf("v3"), v1.Path)
	wantCode(t, err, clinicsync.EFileLocked, true, "The file x.pdf is open in another program.")
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second || calls < 3 {
		t.Errorf("gave up after %v and %d attempts", d, calls)
	}
	if got, _ := os.ReadFile(v1.Path); !bytes.Equal(got, pdf("v2")) {
		t.Fatalf("file changed to %q", got)
	}
	noTemps(t, root)
}

// TestSaveStreamsWithBoundedMemory writes a 256 MiB document and checks
// that the memory allocated does not grow with its size.
func TestSaveStreamsWithBoundedMemory(t *testing.T) {
	// Not parallel: it measures the process's allocations.
	if testing.Short() {
		t.Skip("writes 256 MiB")
	}
	const size = 256 << 20
	root := t.TempDir()
	h := sha256.New()
	io.CopyBuffer(h, &endless{size: size, head: "%PDF-1.7\n"}, make([]byte, 1<<20))
	want := hex.EncodeToString(h.Sum(nil))

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := Save(context.Background(), SaveRequest{Root: root, RelDir: "P", FileName: "big.pdf", UUID: uuidA,
		Body: &endless{size: size, head: "%PDF-1.7\n"}})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size != size || r.SHA256 != want {
		t.Fatalf("result %+v, want size %d sha %s", r, size, want)
	}
	if fi, err := os.Stat(r.Path); err != nil || fi.Size() != size {
		t.Fatalf("file: %v %v", fi, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("256 MiB saved with %d KiB allocated, heap in use %d → %d KiB", alloc>>10, before.HeapInuse>>10, after.HeapInuse>>10)
	if alloc > 4<<20 {
		t.Errorf("allocated %d bytes to stream %d", alloc, size)
	}
	os.Remove(r.Path)
}

// A note is a text file: saved without the PDF check, still atomically,
// and an update replaces the file in place.
func TestSaveTextReplacesAnUpdate(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	r, err := Save(ctx, SaveRequest{Root: root, RelDir: "DOE_JOHN", FileName: "2026-02-24_note_ab12cd34.txt",
		UUID: "ab12cd34ab12cd34", Body: strings.NewReader("first\r\n"), Text: true})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Save(ctx, SaveRequest{Root: root, RelDir: "DOE_JOHN", FileName: "2026-02-24_note_ab12cd34.txt",
		UUID: "ab12cd34ab12cd34", Body: strings.NewReader("second\r\n"), Text: true, Prev: r.Path})
	if err != nil || r2.Path != r.Path || r2.AlreadyPresent {
		t.Fatalf("update: %+v %v (first %s)", r2, err, r.Path)
	}
	b, _ := os.ReadFile(r.Path)
	if string(b) != "second\r\n" {
		t.Fatalf("content %q", b)
	}
	if _, err := Save(ctx, SaveRequest{Root: root, FileName: "x.pdf", UUID: "u1", Body: strings.NewReader("hello")}); clinicsync.ErrorCode(err) != clinicsync.ENotPDF {
		t.Fatalf("a PDF save of text: %v", err)
	}
}

// failures are bodies that make Save fail after it made the folders, each
// for a different reason; the canceling one needs its cancel func set.
func failures() map[string]io.Reader {
	return map[string]io.Reader{
		"not a PDF": strings.NewReader("<html>Error</html>"),
		"empty":     strings.NewReader(""),
		"no body":   nil,
		"truncated": &failingReader{first: pdf("half"), err: io.ErrUnexpectedEOF},
		"canceled":  &cancelAfter{endless: endless{size: 1 << 30, head: "%PDF-"}},
	}
}

func TestSaveFailureLeavesNoNewFolder(t *testing.T) {
	t.Parallel()
	for _, rel := range []string{"DOE_JOHN", filepath.Join("DOE", "JOHN"), filepath.Join("Patients", "DOE", "JOHN", "1970")} {
		for why, body := range failures() {
			root := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			if c, ok := body.(*cancelAfter); ok {
				c.cancel = cancel
			}
			_, err := Save(ctx, SaveRequest{Root: root, RelDir: rel, FileName: "x.pdf", UUID: uuidA, Body: body})
			cancel()
			if err == nil {
				t.Fatalf("%s into %s: no error", why, rel)
			}
			if got := tree(t, root); len(got) != 0 {
				t.Errorf("%s into %s left behind %v", why, rel, got)
			}
			if _, err := os.Stat(root); err != nil {
				t.Errorf("%s into %s: the root is gone: %v", why, rel, err)
			}
		}
	}
}

func TestSaveFailureKeepsFoldersThatExisted(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	// An empty patient folder made by someone else (the practice software
	// often makes them) is kept, and so is the level above the new ones.
	os.Mkdir(filepath.Join(root, "DOE"), 0o755)
	os.Mkdir(filepath.Join(root, "EMPTY"), 0o755)
	os.Mkdir(filepath.Join(root, "FULL"), 0o755)
	os.WriteFile(filepath.Join(root, "FULL", "old.pdf"), pdf("old"), 0o644)
	for _, rel := range []string{"EMPTY", "FULL", filepath.Join("DOE", "JOHN", "1970")} {
		if _, err := save(t, root, rel, "x.pdf", uuidA, []byte("<html>"), ""); clinicsync.ErrorCode(err) != clinicsync.ENotPDF {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	want := map[string]string{"DOE/": "", "EMPTY/": "", "FULL/": "", filepath.Join("FULL", "old.pdf"): string(pdf("old"))}
	if got := tree(t, root); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tree %v, want %v", got, want)
	}
	// Into the root itself: the root is never removed.
	if _, err := save(t, root, "", "x.pdf", uuidA, nil, ""); err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatal(err)
	}
}

func TestSaveRemakesAFolderRemovedUnderIt(t *testing.T) {
	// Not parallel: it sets a package hook. A failing Save of another
	// document removes the empty folders it made; one that this Save found
	// and was about to write into is made again, as often as five of the
	// patient's other documents failing at once remove it (three did, once,
	// in CI, when Save tried three times).
	defer func() { beforeCreate = nil }()
	for _, rel := range []string{"P", filepath.Join("A", "B", "C")} {
		root := t.TempDir()
		removed := 0
		beforeCreate = func(dir string) {
			if removed < 5 { // five times: the sixth attempt finds it
				removed++
				for d := dir; d != root; d = filepath.Dir(d) {
					if err := os.Remove(d); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		r, err := save(t, root, rel, "x.pdf", uuidA, pdf("x"), "")
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if got, _ := os.ReadFile(r.Path); !bytes.Equal(got, pdf("x")) || r.Path != filepath.Join(root, rel, "x.pdf") {
			t.Fatalf("%s: %s holds %q", rel, r.Path, got)
		}
		noTemps(t, root)
	}
}

func TestSaveConcurrentFailuresNeverRemoveAnotherDocumentsFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	const rounds, failing = 25, 3
	for i := range rounds {
		// One patient, template {LASTNAME}/{FIRSTNAME}: the documents that
		// fail share the first level with the one that lands, or its folder.
		good := filepath.Join(fmt.Sprintf("P%d", i), "GOOD")
		var wg sync.WaitGroup
		start := make(chan struct{})
		var goodErr error
		var goodRes Result
		for k := range failing + 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if k == failing {
					goodRes, goodErr = save(t, root, good, "x.pdf", uuidA, pdf(good), "")
					return
				}
				rel := good
				if k%2 == 1 {
					rel = filepath.Join(fmt.Sprintf("P%d", i), fmt.Sprintf("BAD%d", k))
				}
				if _, err := save(t, root, rel, "y.pdf", uuidB, []byte("<html>"), ""); clinicsync.ErrorCode(err) != clinicsync.ENotPDF {
					t.Errorf("%s: %v", rel, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if goodErr != nil {
			t.Fatalf("round %d: the good document failed: %v", i, goodErr)
		}
		if got, _ := os.ReadFile(goodRes.Path); !bytes.Equal(got, pdf(good)) {
			t.Fatalf("round %d: %s holds %q", i, goodRes.Path, got)
		}
	}
	want := map[string]string{}
	for i := range rounds {
		p := fmt.Sprintf("P%d", i)
		want[p+"/"], want[filepath.Join(p, "GOOD")+"/"] = "", ""
		want[filepath.Join(p, "GOOD", "x.pdf")] = string(pdf(filepath.Join(p, "GOOD")))
	}
	if got := tree(t, root); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tree %v, want %v", got, want)
	}
}

// A half-written file is invisible to a practice-software importer that
// scans the folder: hidden while it is written (a dot name on macOS and
// Linux, FILE_ATTRIBUTE_HIDDEN on Windows), with an extension no importer
// takes for a document; the published document is not hidden. The same
// for a note (.txt) and for the folder check's test file. It also runs
// under Wine (packaging/windows/wine/smoke.sh), hence its own folders: Wine
// 8 cannot run Go's RemoveAll, which t.TempDir's cleanup needs.
func TestTempFilesAreHiddenUntilPublished(t *testing.T) {
	t.Parallel()
	tempDir := func() string {
		d, err := os.MkdirTemp("", "dest-hidden-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	for _, tc := range []struct {
		name string
		text bool
		body []byte
	}{{"letter.pdf", false, pdf("x")}, {"2026-02-24_note_ab12cd34.txt", true, []byte("Patient: none\r\n")}} {
		root := tempDir()
		var temps []string
		var hidden []bool
		body := &peekReader{r: bytes.NewReader(tc.body), peek: func() {
			if temps != nil {
				return
			}
			temps, _ = filepath.Glob(filepath.Join(root, "P", TempPattern(uuidA)))
			for _, p := range temps {
				h, err := hiddenFile(p)
				if err != nil {
					t.Errorf("%s: %v", p, err)
				}
				hidden = append(hidden, h)
			}
		}}
		r, err := Save(context.Background(), SaveRequest{Root: root, RelDir: "P", FileName: tc.name, UUID: uuidA, Body: body, Text: tc.text})
		if err != nil {
			t.Fatal(err)
		}
		if len(temps) != 1 {
			t.Fatalf("%s: temp files while writing: %v", tc.name, temps)
		}
		base := filepath.Base(temps[0])
		if !strings.HasPrefix(base, ".") || filepath.Ext(base) != ".part" {
			t.Errorf("temp file %q: want a leading dot and the extension .part", base)
		}
		if !hidden[0] {
			t.Errorf("%s: the temp file %s is visible while it is written", tc.name, base)
		}
		if h, err := hiddenFile(r.Path); err != nil || h {
			t.Errorf("%s: the published file is hidden (%v, %v)", tc.name, h, err)
		}
	}
	f, err := probeFile(tempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if h, err := hiddenFile(f.Name()); err != nil || !h || filepath.Ext(strings.TrimPrefix(filepath.Base(f.Name()), ".")) != "" {
		t.Errorf("the folder check's file %s: hidden %v (%v), want hidden and no extension", filepath.Base(f.Name()), h, err)
	}
}

// Two PCs share a documents folder. One restarts after a crash and removes
// what its interrupted write of a document left, while the other PC (which
// took over meanwhile) is writing that same document: the other's temp file
// stays, and its write completes.
func TestRecoveryElsewhereLeavesAnInFlightWriteAlone(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "P")
	pr, pw := io.Pipe()
	type saved struct {
		r   Result
		err error
	}
	done := make(chan saved, 1)
	go func() {
		r, err := Save(context.Background(), SaveRequest{Root: root, RelDir: "P", FileName: "letter.pdf", UUID: uuidA,
			Body: pr, Writer: "aaaaaaaa"})
		done <- saved{r, err}
	}()
	body := pdf("shared folder")
	if _, err := pw.Write(body[:10]); err != nil {
		t.Fatal(err)
	}
	var temps []string
	deadline := time.Now().Add(10 * time.Second)
	for len(temps) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no temp file appeared")
		}
		temps, _ = filepath.Glob(filepath.Join(dir, TempPattern(uuidA)))
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.HasPrefix(filepath.Base(temps[0]), ".clinicsync-"+uuidA+"-aaaaaaaa") {
		t.Fatalf("the temp file %s does not name its writer", temps[0])
	}
	if n, err := RemoveTemps(dir, uuidA, "bbbbbbbb"); n != 0 || err != nil {
		t.Fatalf("the other PC's recovery removed %d files (%v)", n, err)
	}
	if _, err := pw.Write(body[10:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	s := <-done
	if s.err != nil {
		t.Fatalf("the write was broken by the other PC's recovery: %v", s.err)
	}
	if b, err := os.ReadFile(s.r.Path); err != nil || !bytes.Equal(b, body) {
		t.Fatalf("the file: %v", err)
	}
	if n, err := RemoveTemps(dir, uuidA, "aaaaaaaa"); n != 0 || err != nil {
		t.Fatalf("temp files left after the write: %d (%v)", n, err)
	}
}
