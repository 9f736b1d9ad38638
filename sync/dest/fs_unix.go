//go:build unix

package dest

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// Unix has no mandatory locks: another program holding a file open never
// stops a rename or a link.
func isLocked(err error, path string) bool { return false }

func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func isReadOnlyFS(err error) bool { return errors.Is(err, syscall.EROFS) }

func isNameTooLong(err error) bool { return errors.Is(err, syscall.ENAMETOOLONG) }

// linkNoClobber gives tmp the name dst unless dst exists (an error matching
// fs.ErrExist then). A hard link is atomic and never replaces; where links
// are not supported (FAT, exFAT, many SMB and FUSE mounts) it checks, then
// renames, which leaves a tiny window for two writers of the same name.
func linkNoClobber(tmp, dst string) error {
	err := os.Link(tmp, dst)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, lerr := os.Lstat(dst); lerr == nil {
		return &os.LinkError{Op: "link", Old: tmp, New: dst, Err: fs.ErrExist}
	}
	return os.Rename(tmp, dst)
}

// syncDir makes a new or renamed entry in dir durable. Best effort: some
// file systems refuse to sync a directory, and the engine checks the final
// file again at its next start.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		fsyncs.Add(1)
		f.Sync()
		f.Close()
	}
}

// hide and unhide do nothing: the temp file's name starts with a dot,
// which hides it on macOS and Linux.
func hide(path string) error   { return nil }
func unhide(path string) error { return nil }
