//go:build windows

package dest

import "golang.org/x/sys/windows"

// freeSpace is GetDiskFreeSpaceEx's bytes available to this user (quotas
// included), for a folder on a local disk or a share.
func freeSpace(path string) (uint64, error) {
	p, err := windows.UTF16PtrFromString(longPath(path))
	if err != nil {
		return 0, err
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
		return 0, err
	}
	return avail, nil
}
