package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clinicsync/clinicsync/app/instance"
	"github.com/clinicsync/clinicsync/store"
)

// moveRoamingState moves the state earlier versions kept in the roaming
// profile (Windows: %AppData%\ClinicSync, config.RoamingDataDir) to dir, the
// local data folder, once: the database with its -wal and -shm (every
// table's rows counted before and after, store.Move) and the debug log.
// It returns the data folder to use: dir, or old while old's state cannot
// move yet (a copy of Clinic Sync still runs from it; it moves at the next
// start) or could not move (said on w; nothing is lost, it is used where
// it is). The configuration file stays where it is.
func moveRoamingState(old, dir string, w io.Writer) string {
	if old == "" || filepath.Clean(old) == filepath.Clean(dir) {
		return dir
	}
	from, to := filepath.Join(old, "state.db"), filepath.Join(dir, "state.db")
	if _, err := os.Stat(from); err != nil {
		return dir
	}
	if _, err := os.Stat(to); err == nil {
		return dir // moved before; the roaming one is an older version's since
	}
	if instance.Running(old) {
		fmt.Fprintf(w, "clinicsync: Clinic Sync still runs with its data in %s; it moves to %s at the next start.\n", old, dir)
		return old
	}
	if err := store.Move(from, to); err != nil {
		fmt.Fprintf(w, "clinicsync: the data in %s could not move to %s (%v); it is used where it is.\n", old, dir, err)
		return old
	}
	for _, f := range []string{"clinicsync.log", "clinicsync.log.1"} {
		if err := os.Rename(filepath.Join(old, f), filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			os.Remove(filepath.Join(old, f)) // another volume: the debug log is not worth a copy
		}
	}
	return dir
}
