//go:build !unix && !windows

package dest

import (
	"io/fs"
	"os"
)

func isLocked(err error, path string) bool { return false }
func isDiskFull(err error) bool            { return false }
func isReadOnlyFS(err error) bool          { return false }
func isNameTooLong(err error) bool         { return false }

func linkNoClobber(tmp, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: dst, Err: fs.ErrExist}
	}
	return os.Rename(tmp, dst)
}

func syncDir(dir string) {}

func hide(path string) error   { return nil }
func unhide(path string) error { return nil }
