//go:build windows

package dest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

const (
	errorAccessDenied       syscall.Errno = 5
	errorWriteProtect       syscall.Errno = 19
	errorSharingViolation   syscall.Errno = 32
	errorLockViolation      syscall.Errno = 33
	errorHandleDiskFull     syscall.Errno = 39
	errorBufferOverflow     syscall.Errno = 111
	errorDiskFull           syscall.Errno = 112
	errorFilenameExcedRange syscall.Errno = 206
)

// isLocked reports a file another program holds open: a sharing or lock
// violation, or access denied on a file that exists (what replacing a file
// opened without FILE_SHARE_DELETE gives).
func isLocked(err error, path string) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case errorSharingViolation, errorLockViolation:
		return true
	case errorAccessDenied:
		fi, serr := os.Lstat(path)
		return serr == nil && fi.Mode().IsRegular()
	}
	return false
}

func isDiskFull(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno) && (errno == errorDiskFull || errno == errorHandleDiskFull)
}

// isReadOnlyFS reports a write-protected medium. A read-only share
// answers "access denied" on Windows, which reads as EPermission.
func isReadOnlyFS(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno) && errno == errorWriteProtect
}

func isNameTooLong(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno) && (errno == errorFilenameExcedRange || errno == errorBufferOverflow)
}

// linkNoClobber renames tmp to dst unless dst exists: MoveFileW never
// replaces (ERROR_ALREADY_EXISTS, which matches fs.ErrExist), and works on
// every Windows file system and share, unlike hard links.
func linkNoClobber(tmp, dst string) error {
	from, err := syscall.UTF16PtrFromString(longPath(tmp))
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: dst, Err: err}
	}
	to, err := syscall.UTF16PtrFromString(longPath(dst))
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: dst, Err: err}
	}
	if err := syscall.MoveFile(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: dst, Err: err}
	}
	return nil
}

// longPath adds the \\?\ prefix to a long absolute path, as package os does
// for its own calls.
func longPath(p string) string {
	if len(p) < 248 || strings.HasPrefix(p, `\\?\`) || !filepath.IsAbs(p) {
		return p
	}
	if strings.HasPrefix(p, `\\`) {
		return `\\?\UNC\` + p[2:]
	}
	return `\\?\` + p
}

// syncDir: NTFS journals its metadata; Windows cannot fsync a directory.
func syncDir(dir string) {}

// hide marks a temp file hidden (FILE_ATTRIBUTE_HIDDEN), right after it is
// created: practice-software importers that scan the folder skip hidden
// files, so they never pick up a half-written one (the dot in its name
// hides it only on macOS and Linux).
func hide(path string) error { return setHidden(path, true) }

// unhide clears the hidden attribute before the temp file is published:
// a rename keeps attributes, and a hidden document is one the importer
// never sees.
func unhide(path string) error { return setHidden(path, false) }

func setHidden(path string, on bool) error {
	p, err := syscall.UTF16PtrFromString(longPath(path))
	if err != nil {
		return err
	}
	attrs, err := syscall.GetFileAttributes(p)
	if err != nil {
		return err
	}
	want := attrs &^ syscall.FILE_ATTRIBUTE_HIDDEN
	if on {
		want = attrs | syscall.FILE_ATTRIBUTE_HIDDEN
	}
	if want == attrs {
		return nil
	}
	if want == 0 {
		want = syscall.FILE_ATTRIBUTE_NORMAL
	}
	return syscall.SetFileAttributes(p, want)
}
