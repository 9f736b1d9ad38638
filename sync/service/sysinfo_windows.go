package service

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// osVersion is the Windows version as RtlGetVersion reports it (not
// subject to the compatibility shims of GetVersionEx).
func osVersion() string {
	v := windows.RtlGetVersion()
	return fmt.Sprintf("Windows %d.%d build %d", v.MajorVersion, v.MinorVersion, v.BuildNumber)
}

// diskFree is the space the current user may still write on path's volume.
func diskFree(path string) (uint64, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, err
	}
	var free, total, totalFree uint64
	err = windows.GetDiskFreeSpaceEx(p, &free, &total, &totalFree)
	return free, err
}
