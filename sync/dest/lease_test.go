package dest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

func lease(id, pc, nonce string) clinicsync.Lease {
	return clinicsync.Lease{LeaseHolder: clinicsync.LeaseHolder{ID: id, PC: pc, User: "anna"},
		Heartbeat: time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC), Nonce: nonce}
}

// The lease is a file in the root that an IT person can read, replaced
// whole at each write, read back as written; another PC's lease written in
// between is what the write returns; only its holder removes it.
func TestLeaseWriteReadRemove(t *testing.T) {
	root := t.TempDir()
	l := Layout{Root: root}
	if got, err := l.ReadLease(); err != nil || got.ID != "" {
		t.Fatalf("no lease yet: %+v, %v", got, err)
	}
	a := lease("aaaa", "FRONTDESK-1", "n1")
	back, err := l.WriteLease(a)
	if err != nil || back != a {
		t.Fatalf("write: %+v, %v", back, err)
	}
	b, _ := os.ReadFile(filepath.Join(root, LeaseFile))
	for _, want := range []string{`"pc": "FRONTDESK-1"`, `"user": "anna"`, `"holder": "aaaa"`, `"heartbeat": "2025-03-04T10:00:00Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the lease file lacks %s:\n%s", want, b)
		}
	}
	a2 := lease("aaaa", "FRONTDESK-1", "n2")
	if back, err := l.WriteLease(a2); err != nil || back.Nonce != "n2" {
		t.Fatalf("renewal: %+v, %v", back, err)
	}
	if got, err := l.ReadLease(); err != nil || got != a2 {
		t.Fatalf("read: %+v, %v", got, err)
	}
	if err := l.RemoveLease(clinicsync.LeaseHolder{ID: "bbbb"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.ReadLease(); got.ID != "aaaa" {
		t.Fatalf("another holder removed the lease: %+v", got)
	}
	if err := l.RemoveLease(a2.LeaseHolder); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.ReadLease(); got.ID != "" {
		t.Fatalf("not removed: %+v", got)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}

	// Another PC renames its lease in between: the write says so.
	defer func(f func(string, string) error) { replaceFile = f }(replaceFile)
	replaceFile = func(from, to string) error {
		if err := os.Rename(from, to); err != nil {
			return err
		}
		other := filepath.Join(root, ".other")
		os.WriteFile(other, []byte(`{"holder":"bbbb","pc":"FRONTDESK-2","user":"bob","heartbeat":"2025-03-04T10:00:01Z","nonce":"x"}`), 0o644)
		return os.Rename(other, to)
	}
	back, err = l.WriteLease(a)
	if err != nil || back.ID != "bbbb" || back.PC != "FRONTDESK-2" {
		t.Fatalf("a lease written in between: %+v, %v", back, err)
	}
}

// A share that does not keep a lease is detected: a rename that refuses
// to replace the file, one that says it did and did not, one whose read
// gives the old copy. A file that is not a lease is nobody's lease, and
// an unreachable root is said as such.
func TestLeaseOnAShareThatDoesNotKeepIt(t *testing.T) {
	defer func(f func(string, string) error) { replaceFile = f }(replaceFile)
	for name, rename := range map[string]func(from, to string) error{
		"refuses to replace": func(from, to string) error {
			if _, err := os.Stat(to); err == nil {
				return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
			}
			return os.Rename(from, to)
		},
		"says it replaced and did not": func(from, to string) error {
			if _, err := os.Stat(to); err == nil {
				return os.Remove(from)
			}
			return os.Rename(from, to)
		},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			l := Layout{Root: root}
			replaceFile = rename
			if _, err := l.WriteLease(lease("aaaa", "PC", "n1")); err != nil {
				t.Fatalf("the first write: %v", err)
			}
			_, err := l.WriteLease(lease("aaaa", "PC", "n2"))
			if clinicsync.ErrorCode(err) != clinicsync.ELeaseUnreliable {
				t.Fatalf("the renewal: %v", err)
			}
			if msg := clinicsync.ErrorMessage(err); !strings.Contains(msg, root) || !strings.Contains(msg, "written twice") {
				t.Errorf("message: %s", msg)
			}
			if txt := clinicsync.ErrorText(err); txt.Key != UnreliableLease {
				t.Errorf("not translatable: %+v", txt)
			}
			if matches, _ := filepath.Glob(filepath.Join(root, leaseTempPrefix+"*")); len(matches) != 0 {
				t.Errorf("temp files left: %v", matches)
			}
		})
	}

	root := t.TempDir()
	l := Layout{Root: root}
	replaceFile = os.Rename
	for _, junk := range []string{"", "{", `{"pc":"X"}`, strings.Repeat("x", maxLeaseSize+10)} {
		os.WriteFile(filepath.Join(root, LeaseFile), []byte(junk), 0o644)
		if got, err := l.ReadLease(); err != nil || got.ID != "" {
			t.Errorf("%.20q read as a lease: %+v, %v", junk, got, err)
		}
	}
	if back, err := l.WriteLease(lease("aaaa", "PC", "n1")); err != nil || back.ID != "aaaa" {
		t.Fatalf("a file that is no lease is replaced: %+v %v", back, err)
	}

	gone := Layout{Root: filepath.Join(root, "unplugged")}
	if _, err := gone.ReadLease(); clinicsync.ErrorCode(err) != clinicsync.EDestination {
		t.Errorf("read on an unplugged share: %v", err)
	}
	if _, err := gone.WriteLease(lease("aaaa", "PC", "n1")); clinicsync.ErrorCode(err) != clinicsync.EDestination {
		t.Errorf("write on an unplugged share: %v", err)
	}
	if _, err := os.Stat(gone.Root); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the unplugged root was made")
	}
}

// No patient's folder can be the lease's name, in any case.
func TestNoPatientFolderIsTheLease(t *testing.T) {
	for _, n := range []string{"ClinicSync.lease", "clinicsync.LEASE", "CLINICSYNC.LEASE."} {
		for _, tmpl := range []string{"", "{LastName}", "{LASTNAME}/{FIRSTNAME}"} {
			got := Layout{Root: "/r", Template: tmpl}.PatientDir(clinicsync.Patient{LastName: n, FirstName: "Ann"})
			first, _, _ := strings.Cut(got, string(filepath.Separator))
			if strings.EqualFold(strings.TrimRight(first, ". "), LeaseFile) {
				t.Errorf("template %q, patient %q: folder %q is the lease", tmpl, n, got)
			}
		}
	}
}

// Two PCs that find no lease and take it at the same moment: one gets it,
// the other is told whose it is.
func TestTakeLeaseOneWinner(t *testing.T) {
	for i := 0; i < 50; i++ {
		root := t.TempDir()
		l := Layout{Root: root}
		got := make(chan clinicsync.Lease, 2)
		start := make(chan struct{})
		for _, id := range []string{"aaaa", "bbbb"} {
			go func() {
				<-start
				back, err := l.TakeLease(lease(id, "PC-"+id, "n-"+id))
				if err != nil {
					t.Error(err)
				}
				got <- back
			}()
		}
		close(start)
		a, b := <-got, <-got
		if a.ID == "" || a != b {
			t.Fatalf("round %d: the two were told %+v and %+v", i, a, b)
		}
		if on, _ := l.ReadLease(); on != a {
			t.Fatalf("round %d: %+v on disk, %+v told", i, on, a)
		}
	}
	// A file that is no lease is not taken over by TakeLease.
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, LeaseFile), []byte("junk"), 0o644)
	if back, err := (Layout{Root: root}).TakeLease(lease("aaaa", "PC", "n")); err != nil || back.ID != "" {
		t.Fatalf("junk in the way: %+v %v", back, err)
	}
}
