package store

import (
	"path/filepath"

	"github.com/clinicsync/clinicsync"
)

// onNetwork says whether dir is on a network share, and what kind ("a
// network share (\\server\share)", "an nfs file system"). It is a variable
// so that tests can pretend. An error of the OS's counts as local: the
// open that follows says what is wrong.
var onNetwork = networkFS

// CheckLocal refuses a data folder on a network share: SQLite's
// write-ahead log needs shared memory between the processes that open the
// database, which a network file system does not give (sqlite.org/wal.html),
// and a roaming or redirected profile folder is such a share.
func CheckLocal(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	if kind, remote := onNetwork(abs); remote {
		return clinicsync.Errorf(clinicsync.EConfig,
			"The data folder %s is on %s. Clinic Sync keeps its database on this computer's own disk, "+
				"because SQLite's write-ahead log does not work on a network share: choose a local folder "+
				"(--data-dir or CLINICSYNC_DATA_DIR).", abs, kind)
	}
	return nil
}
