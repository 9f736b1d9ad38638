//go:build linux || darwin

package service

import "golang.org/x/sys/unix"

// kernel is the kernel's name and release ("Linux 6.1.0-18-amd64").
func kernel() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
}

// diskFree is the space an unprivileged user may still write on path's
// file system.
func diskFree(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
