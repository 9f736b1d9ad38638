package dest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/clinicsync/clinicsync"
)

// What CheckRoot found wrong, for errors.Is: the window says each in its
// own words (and language).
var (
	ErrFolderMissing     = errors.New("folder missing")
	ErrNotAFolder        = errors.New("not a folder")
	ErrFolderDenied      = errors.New("permission denied")
	ErrFolderReadOnly    = errors.New("read-only")
	ErrFolderNotWritable = errors.New("not writable")
)

// probe creates the check's test file (tests inject the OS's refusals).
var probe = probeFile

// probeFile's name has no extension and starts with a dot, and it is
// hidden on Windows: no importer takes it for a document.
func probeFile(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, ".clinicsync-check-*")
	if err == nil {
		hide(f.Name())
	}
	return f, err
}

// CheckRoot checks that root is a folder Clinic Sync can write in, with a
// real test write: a file is created, written and removed, so nothing is
// left behind. Permissions alone do not tell (ACLs, network shares,
// read-only disks). The error is a *clinicsync.Error that says what failed
// and wraps one of the Err... values above.
func CheckRoot(root string) error {
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return clinicsync.Permanent(clinicsync.EDestination, fmt.Sprintf("The folder %s does not exist.", root), ErrFolderMissing)
	case err != nil:
		return refused(root, err)
	case !fi.IsDir():
		return clinicsync.Permanent(clinicsync.EDestination, fmt.Sprintf("%s is a file, not a folder.", root), ErrNotAFolder)
	}
	f, err := probe(root)
	if err != nil {
		return refused(root, err)
	}
	_, werr := f.Write([]byte("Clinic Sync checks it may write here.\n"))
	cerr := f.Close()
	rerr := os.Remove(f.Name())
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return refused(root, err)
	}
	return nil
}

// refused says why the OS refused the test write.
func refused(root string, err error) error {
	switch {
	case isReadOnlyFS(err):
		return clinicsync.Permanent(clinicsync.EPermission,
			fmt.Sprintf("The folder %s is on a read-only disk or share.", root), errors.Join(ErrFolderReadOnly, err))
	case errors.Is(err, fs.ErrPermission):
		return clinicsync.Permanent(clinicsync.EPermission,
			fmt.Sprintf("Permission denied: this user may not write in %s.", root), errors.Join(ErrFolderDenied, err))
	}
	return clinicsync.Permanent(clinicsync.EDestination,
		fmt.Sprintf("Clinic Sync could not write a test file in %s.", root), errors.Join(ErrFolderNotWritable, err))
}
