//go:build windows

package dest

import "syscall"

// hiddenFile reports whether Explorer and importers see path as hidden:
// FILE_ATTRIBUTE_HIDDEN.
func hiddenFile(path string) (bool, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return false, err
	}
	attrs, err := syscall.GetFileAttributes(p)
	if err != nil {
		return false, err
	}
	return attrs&syscall.FILE_ATTRIBUTE_HIDDEN != 0, nil
}
