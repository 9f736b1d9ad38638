//go:build linux || darwin

package dest

import "golang.org/x/sys/unix"

// freeSpace is statfs's blocks available to unprivileged users (not the
// root's reserve) times the block size.
func freeSpace(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
