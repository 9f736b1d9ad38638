package dest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/clinicsync/clinicsync"
)

// CheckRoot writes and removes a real file: a writable folder passes and
// is left as it was; each failure says what failed.
func TestCheckRoot(t *testing.T) {
	dir := t.TempDir()
	if err := CheckRoot(dir); err != nil {
		t.Fatalf("writable folder: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("the check left %v behind", left)
	}
	missing := filepath.Join(dir, "nope")
	if err := CheckRoot(missing); !errors.Is(err, ErrFolderMissing) || clinicsync.ErrorMessage(err) == "" {
		t.Fatalf("missing folder: %v", err)
	}
	file := filepath.Join(dir, "file.txt")
	os.WriteFile(file, []byte("x"), 0o600)
	if err := CheckRoot(file); !errors.Is(err, ErrNotAFolder) {
		t.Fatalf("a file: %v", err)
	}
	if os.Geteuid() != 0 { // root may write anywhere
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		if err := CheckRoot(ro); !errors.Is(err, ErrFolderDenied) {
			t.Fatalf("0555 folder: %v", err)
		}
	}
}

// The OS's refusals, injected (CI runs as root, which may write anywhere):
// permission denied and a read-only disk each get their own words.
func TestCheckRootRefusals(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		err  error
		want error
	}{
		{&fs.PathError{Op: "open", Path: dir, Err: fs.ErrPermission}, ErrFolderDenied},
		{&fs.PathError{Op: "open", Path: dir, Err: syscall.EROFS}, ErrFolderReadOnly},
		{&fs.PathError{Op: "open", Path: dir, Err: syscall.EIO}, ErrFolderNotWritable},
	} {
		if tc.want == ErrFolderReadOnly && !isReadOnlyFS(tc.err) {
			continue // Windows: told apart by other means
		}
		probe = func(string) (*os.File, error) { return nil, tc.err }
		err := CheckRoot(dir)
		probe = probeFile
		if !errors.Is(err, tc.want) || clinicsync.ErrorMessage(err) == "" {
			t.Errorf("%v: got %v, want %v", tc.err, err, tc.want)
		}
	}
}
