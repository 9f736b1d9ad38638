package main

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync/app/instance"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// tallyOf counts the rows of every table of the database at path.
func tallyOf(t *testing.T, path string) map[string]int64 {
	t.Helper()
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.Tally(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The state an earlier version kept in the roaming profile moves to the
// local data folder once, with every row, and not while a copy of Clinic
// Sync still runs from it.
func TestRoamingStateMovesOnce(t *testing.T) {
	s := newSetup(t, sim.Options{Documents: 6, Patients: 2, Seed: 7})
	roaming := filepath.Join(s.dir, "Roaming", "ClinicSync")
	if _, _, code := s.run(t, "sync", "--data-dir", roaming); code != exitOK {
		t.Fatal("sync into the roaming folder failed")
	}
	os.WriteFile(filepath.Join(roaming, "clinicsync.log"), []byte("debug\n"), 0o600)
	before := tallyOf(t, filepath.Join(roaming, "state.db"))
	if before["documents"] != 6 {
		t.Fatalf("before: %v", before)
	}
	local := filepath.Join(s.dir, "Local", "ClinicSync")

	// While a copy runs from the roaming folder, nothing moves.
	inst, err := instance.Acquire(roaming, nil)
	if err != nil {
		t.Fatal(err)
	}
	var said strings.Builder
	if got := moveRoamingState(roaming, local, &said); got != roaming || !strings.Contains(said.String(), "next start") {
		t.Fatalf("with a copy running: %q, said %q", got, said.String())
	}
	inst.Close()
	if _, err := os.Stat(filepath.Join(local, "state.db")); !os.IsNotExist(err) {
		t.Fatal("moved while a copy runs")
	}

	if got := moveRoamingState(roaming, local, io.Discard); got != local {
		t.Fatalf("data folder %q, want %q", got, local)
	}
	if after := tallyOf(t, filepath.Join(local, "state.db")); !maps.Equal(after, before) {
		t.Fatalf("after %v, before %v", after, before)
	}
	for _, f := range []string{"state.db", "state.db-wal", "state.db-shm", "clinicsync.log"} {
		if _, err := os.Stat(filepath.Join(roaming, f)); !os.IsNotExist(err) {
			t.Errorf("%s left in the roaming folder", f)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(local, "clinicsync.log")); string(b) != "debug\n" {
		t.Errorf("debug log %q", b)
	}
	// Once: a roaming database that appears later (an older version run
	// again) is left alone.
	os.WriteFile(filepath.Join(roaming, "state.db"), nil, 0o600)
	if got := moveRoamingState(roaming, local, io.Discard); got != local {
		t.Fatalf("second time: %q", got)
	}
	if after := tallyOf(t, filepath.Join(local, "state.db")); !maps.Equal(after, before) {
		t.Fatalf("second time: %v", after)
	}

	// status sees the same counts in the local folder.
	out, _, code := s.run(t, "status", "--json", "--data-dir", local)
	var rep statusReport
	if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || rep.Counts["confirmed"] != 6 {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
}
