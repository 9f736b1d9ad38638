package dest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/clinicsync/clinicsync"
)

// LeaseFile is the writer's lease in the root: who writes to this folder
// when several PCs share it (clinicsync.Leaser). A small JSON file an IT
// person can open: the holder's PC, user, last heartbeat and ids.
const LeaseFile = "ClinicSync.lease"

// leaseTempPrefix names the lease's temp file, in the root: a leading dot,
// so no patient folder (whose names never start with one) can meet it.
const leaseTempPrefix = ".clinicsync-lease-"

// maxLeaseSize bounds what ReadLease reads: the file is a few hundred bytes.
const maxLeaseSize = 4 << 10

var _ clinicsync.Leaser = Layout{}

// ReadLease reads the lease in the root. No file, or one that is not a
// lease (empty, cut short, not JSON, no holder), is no lease: anybody's to
// take. An unreachable root is an EDestination error.
func (l Layout) ReadLease() (clinicsync.Lease, error) {
	le, ok, err := readLease(filepath.Join(l.Root, LeaseFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(l.Root); serr != nil {
				return clinicsync.Lease{}, unreachable(l.Root, serr)
			}
			return clinicsync.Lease{}, nil
		}
		return clinicsync.Lease{}, fsError(err, l.Root)
	}
	if !ok {
		return clinicsync.Lease{}, nil
	}
	return le, nil
}

// readLease reads and decodes the file at p; ok is false when it is not a
// lease.
func readLease(p string) (le clinicsync.Lease, ok bool, err error) {
	f, err := os.Open(p)
	if err != nil {
		return le, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLeaseSize+1))
	if err != nil {
		return le, false, err
	}
	if len(b) > maxLeaseSize || json.Unmarshal(b, &le) != nil || le.ID == "" || le.Nonce == "" {
		return clinicsync.Lease{}, false, nil
	}
	return le, true, nil
}

// TakeLease publishes the lease only if there is none: a temp file in the
// root, fsynced, given the lease's name without replacing anything (as
// documents are published: a hard link, or a rename that never replaces).
// It returns the lease there after: le, another PC's that came first, or
// the zero Lease when the file in the way is not a lease.
func (l Layout) TakeLease(le clinicsync.Lease) (clinicsync.Lease, error) {
	return l.publishLease(le, true)
}

// WriteLease replaces the lease atomically (a temp file in the root,
// fsynced, renamed over the lease), then reads it back. What it reads is
// returned: le, or another holder's lease written in between. Anything
// else means the share does not keep a lease (ELeaseUnreliable): the
// rename did not replace the file, or the read gives an older copy. A file
// held open by another program (a PC reading the lease on Windows) is a
// retryable EFileLocked.
func (l Layout) WriteLease(le clinicsync.Lease) (clinicsync.Lease, error) {
	return l.publishLease(le, false)
}

// publishLease writes le to a temp file in the root and gives it the
// lease's name, replacing the lease there unless exclusive, then reads
// the lease back.
func (l Layout) publishLease(le clinicsync.Lease, exclusive bool) (clinicsync.Lease, error) {
	if fi, err := os.Stat(l.Root); err != nil || !fi.IsDir() {
		return clinicsync.Lease{}, unreachable(l.Root, err)
	}
	b, err := json.MarshalIndent(le, "", "  ")
	if err != nil {
		return clinicsync.Lease{}, err
	}
	final := filepath.Join(l.Root, LeaseFile)
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(l.Root, leaseTempPrefix+hex.EncodeToString(rnd[:])+".tmp")
	if err := writeSynced(tmp, append(b, '\n')); err != nil {
		os.Remove(tmp)
		return clinicsync.Lease{}, fsError(err, l.Root)
	}
	publish := replaceFile
	if exclusive {
		publish = linkNoClobber
	}
	err = publish(tmp, final)
	os.Remove(tmp) // after a hard link, the extra name; after a rename, nothing
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrExist) && exclusive:
			// Another PC's came first (or a file that is no lease).
			back, ok, rerr := readLease(final)
			if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				return clinicsync.Lease{}, fsError(rerr, l.Root)
			}
			if !ok {
				return clinicsync.Lease{}, nil
			}
			return back, nil
		case errors.Is(err, fs.ErrExist):
			return clinicsync.Lease{}, unreliable(l.Root, NoAtomicReplace, err)
		case lockCheck(err, final):
			return clinicsync.Lease{}, clinicsync.Retryablef(clinicsync.EFileLocked, err, "The file %s is open in another program.", final)
		}
		return clinicsync.Lease{}, fsError(err, l.Root)
	}
	syncDir(l.Root)
	back, ok, err := readLease(final)
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return clinicsync.Lease{}, fsError(err, l.Root)
	case ok && back.Nonce == le.Nonce && back.ID == le.ID:
		return back, nil
	case ok && back.ID != le.ID:
		return back, nil // another PC wrote in between: it holds the lease
	}
	return clinicsync.Lease{}, unreliable(l.Root, NoReadBack, err)
}

// RemoveLease removes the lease if h holds it.
func (l Layout) RemoveLease(h clinicsync.LeaseHolder) error {
	p := filepath.Join(l.Root, LeaseFile)
	le, ok, err := readLease(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && (!ok || le.ID != h.ID)) {
		return nil
	}
	if err != nil {
		return fsError(err, l.Root)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fsError(err, l.Root)
	}
	return nil
}

// writeSynced writes b to a new file at p and fsyncs it.
func writeSynced(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Why a folder cannot keep a lease (translated with the sentence).
const (
	NoAtomicReplace = "the share does not replace a file on rename"
	NoReadBack      = "what was written could not be read back"
)

// unreliable says that the folder at root cannot keep a lease, and why
// (NoAtomicReplace, NoReadBack).
func unreliable(root, why string, err error) error {
	t := clinicsync.NewText(UnreliableLease, root, clinicsync.NewText(why))
	return &clinicsync.Error{Code: clinicsync.ELeaseUnreliable, Message: t.String(), Key: t.Key, Args: t.Args, Err: err}
}

// UnreliableLease is the sentence of an ELeaseUnreliable error.
const UnreliableLease = "The folder %s cannot keep the writer's lease (%s): if several PCs write to it, one document can be written twice."
