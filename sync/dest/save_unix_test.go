//go:build unix

package dest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/clinicsync/clinicsync"
)

func TestSaveReadOnlyFolderIsEPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions")
	}
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "P")
	os.Mkdir(dir, 0o755)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	_, err := save(t, root, "P", "x.pdf", uuidA, pdf("x"), "")
	wantCode(t, err, clinicsync.EPermission, true, fmt.Sprintf("Clinic Sync may not write to %s.", dir))
	// A read-only root: the patient folder cannot be made.
	os.Chmod(root, 0o555)
	defer os.Chmod(root, 0o755)
	_, err = save(t, root, "Q", "x.pdf", uuidA, pdf("x"), "")
	wantCode(t, err, clinicsync.EPermission, true, "may not write")
}

func TestFsErrorClassification(t *testing.T) {
	t.Parallel()
	wrap := func(e error) error { return &fs.PathError{Op: "write", Path: "/d/x", Err: e} }
	for _, tt := range []struct {
		err       error
		code      string
		retryable bool
		msg       string
	}{
		{wrap(syscall.ENOSPC), clinicsync.EDiskFull, true, "The destination disk is full."},
		{wrap(syscall.EDQUOT), clinicsync.EDiskFull, true, "The destination disk is full."},
		{wrap(syscall.EACCES), clinicsync.EPermission, true, "Clinic Sync may not write to /d."},
		{wrap(syscall.EPERM), clinicsync.EPermission, true, "Clinic Sync may not write to /d."},
		{wrap(syscall.EROFS), clinicsync.EReadOnly, true, "The folder /d is on a read-only disk or share."},
		{wrap(syscall.ENAMETOOLONG), clinicsync.EPathTooLong, false, "too long"},
		{wrap(syscall.EIO), clinicsync.EDestination, true, "Could not write to /d."},
	} {
		err := fsError(tt.err, "/d")
		wantCode(t, err, tt.code, tt.retryable, tt.msg)
		if !errors.Is(err, tt.err) {
			t.Errorf("%v: cause lost", tt.err)
		}
	}
}

// A real full disk: /dev/full refuses every write with ENOSPC.
func TestCopyBodyDiskFull(t *testing.T) {
	t.Parallel()
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full here")
	}
	defer f.Close()
	_, _, err = copyBody(t.Context(), f, bytes.NewReader(pdf("x")), "/d", true)
	wantCode(t, err, clinicsync.EDiskFull, true, "The destination disk is full.")
}

func TestSaveNeverEscapesThroughSymlinks(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	os.Mkdir(root, 0o755)
	os.Mkdir(outside, 0o755)
	inside := filepath.Join(root, "inside")
	os.Mkdir(inside, 0o755)
	for name, target := range map[string]string{
		"DOE_JOHN": outside,                           // absolute, out
		"REL":      filepath.Join("..", "outside"),    // relative, out
		"DANGLING": filepath.Join(outside, "missing"), // could be created later, anywhere
		"ALIAS":    inside,                            // stays inside: allowed
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Skipf("symlinks: %v", err)
		}
	}
	for _, rel := range []string{"DOE_JOHN", filepath.Join("DOE_JOHN", "sub"), "REL", filepath.Join("REL", "a", "b"), "DANGLING", filepath.Join("DANGLING", "x")} {
		_, err := save(t, root, rel, "x.pdf", uuidA, pdf("x"), "")
		wantCode(t, err, clinicsync.EDestination, false, "leads outside")
	}
	if got := tree(t, outside); len(got) != 0 {
		t.Fatalf("written outside the root: %v", got)
	}
	r := mustSave(t, root, filepath.Join("ALIAS", "deeper"), "x.pdf", uuidA, pdf("x"), "")
	if got, _ := os.ReadFile(filepath.Join(inside, "deeper", "x.pdf")); !bytes.Equal(got, pdf("x")) {
		t.Fatalf("link inside the root not followed: %s", r.Path)
	}

	// A root that is itself a link (macOS /var → /private/var) is fine.
	link := filepath.Join(base, "rootlink")
	os.Symlink(root, link)
	mustSave(t, link, "P", "x.pdf", uuidA, pdf("x"), "")
}

func TestSaveNeverWritesThroughAPlantedSymlink(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	os.MkdirAll(filepath.Join(root, "P"), 0o755)
	target := filepath.Join(base, "target.pdf")
	os.WriteFile(target, []byte("precious"), 0o644)
	if err := os.Symlink(target, filepath.Join(root, "P", "x.pdf")); err != nil {
		t.Skipf("symlinks: %v", err)
	}
	r := mustSave(t, root, "P", "x.pdf", uuidA, pdf("x"), "")
	if r.Path != filepath.Join(root, "P", "x (0b7c1e2a).pdf") {
		t.Fatalf("saved to %s", r.Path)
	}
	// Nor as Prev: a link is not this document's file.
	r2 := mustSave(t, root, "P", "x.pdf", uuidA, pdf("x2"), filepath.Join(root, "P", "x.pdf"))
	if r2.Path == filepath.Join(root, "P", "x.pdf") {
		t.Fatal("replaced a symbolic link given as Prev")
	}
	if got, _ := os.ReadFile(target); string(got) != "precious" {
		t.Fatalf("target overwritten: %q", got)
	}
}
