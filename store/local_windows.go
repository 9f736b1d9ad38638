package store

import (
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// networkFS: a UNC path (\\server\share, \\?\UNC\server\share) or a drive
// letter the system reports as remote (a mapped network drive).
func networkFS(dir string) (string, bool) {
	up := strings.ToUpper(dir)
	switch {
	case strings.HasPrefix(up, `\\?\UNC\`):
		return "a network share", true
	case strings.HasPrefix(up, `\\?\`), strings.HasPrefix(up, `\\.\`):
		dir = dir[4:]
	case strings.HasPrefix(dir, `\\`):
		return "a network share", true
	}
	vol := filepath.VolumeName(dir)
	if vol == "" {
		return "", false
	}
	root, err := windows.UTF16PtrFromString(vol + `\`)
	if err != nil {
		return "", false
	}
	if windows.GetDriveType(root) == windows.DRIVE_REMOTE {
		return "a network drive (" + vol + ")", true
	}
	return "", false
}
