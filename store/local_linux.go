package store

import "golang.org/x/sys/unix"

// Network file systems by their statfs magic (linux/magic.h and the
// kernel's fs/smb): NFS, SMB (smbfs, cifs, smb2/3), AFS, Coda, Ceph.
var networkMagic = map[int64]string{
	0x6969: "nfs", 0x517B: "smb", 0xFF534D42: "cifs", 0xFE534D42: "smb2",
	0x5346414F: "afs", 0x73757245: "coda", 0x00C36400: "ceph",
}

func networkFS(dir string) (string, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", false
	}
	if name, ok := networkMagic[int64(st.Type)&0xFFFFFFFF]; ok {
		return "a network file system (" + name + ")", true
	}
	return "", false
}
