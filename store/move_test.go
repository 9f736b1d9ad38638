package store

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync"
)

// A database left by a process that died (its -wal holds rows the main
// file does not) is moved with every row: the same count in every table.
func TestMoveKeepsEveryRow(t *testing.T) {
	ctx := context.Background()
	live := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 40 {
		d := doc(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
		if _, _, err := s.Upsert(ctx, "poll", d); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			s.MarkSaved(ctx, d.UUID, `C:\PMS\DOE_JOHN\x.pdf`, 10, "ab")
		}
		s.Log(ctx, "info", d.UUID, "Saved x.pdf")
	}
	s.InboxAdd(ctx, []*Delivery{{Platform: "askara", DeliveryID: "d1", Body: []byte(`{}`), Verified: "unverified"}})
	s.SetCursor(ctx, "last_pass_ok", "2026-03-02T09:00:00Z")
	want, err := s.Tally(ctx)
	if err != nil || want["documents"] != 40 || want["activity"] < 40 {
		t.Fatalf("tally %v %v", want, err)
	}
	// The files as a crash leaves them, WAL and shared memory included.
	roaming := filepath.Join(t.TempDir(), "Roaming", "ClinicSync")
	os.MkdirAll(roaming, 0o700)
	for _, sfx := range []string{"", "-wal", "-shm"} {
		if err := copyFile(live+sfx, filepath.Join(roaming, "state.db"+sfx)); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(filepath.Join(roaming, "state.db-wal")); err != nil || fi.Size() == 0 {
		t.Fatal("no write-ahead log to move")
	}

	local := filepath.Join(t.TempDir(), "Local", "ClinicSync", "state.db")
	if err := Move(filepath.Join(roaming, "state.db"), local); err != nil {
		t.Fatal(err)
	}
	for _, sfx := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(filepath.Join(roaming, "state.db"+sfx)); !os.IsNotExist(err) {
			t.Errorf("state.db%s left behind", sfx)
		}
	}
	got, err := tally(local, true)
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("after the move %v (%v), want %v", got, err, want)
	}
	// Never over an existing database.
	os.WriteFile(filepath.Join(roaming, "state.db"), nil, 0o600)
	if err := Move(filepath.Join(roaming, "state.db"), local); err == nil {
		t.Fatal("moved over an existing database")
	}
}

// A data folder on a network share is refused, with the reason.
func TestOpenRefusesANetworkShare(t *testing.T) {
	dir := t.TempDir()
	onNetwork = func(d string) (string, bool) { return "a network file system (cifs)", d == dir }
	t.Cleanup(func() { onNetwork = networkFS })
	_, err := Open(filepath.Join(dir, "state.db"))
	if clinicsync.ErrorCode(err) != clinicsync.EConfig || !strings.Contains(clinicsync.ErrorMessage(err), "cifs") ||
		!strings.Contains(clinicsync.ErrorMessage(err), "write-ahead log") {
		t.Fatalf("open on a share: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); !os.IsNotExist(err) {
		t.Fatal("a database was created on the share")
	}
	if s, err := Open(filepath.Join(t.TempDir(), "state.db")); err != nil {
		t.Fatalf("a local folder: %v", err)
	} else {
		s.Close()
	}
	if kind, remote := networkFS(t.TempDir()); remote {
		t.Fatalf("the test's own folder counts as %s", kind)
	}
}
