package clinicsync

import (
	"context"
	"io"
	"time"
)

// Destination is where documents, notes and event files land: the practice
// software's folder (sync/dest's Layout) or another kind (a drop folder for
// HL7 or FHIR, a second folder per document type). The engine sees only
// this interface (the Litestream ReplicaClient idea): it decides what is
// written and when, and records each step; the destination decides where
// and how, and that a file is either whole or not there at all.
//
// Errors are *Error values carrying the retry intent (EDestination,
// EDiskFull, EPermission, EFileLocked, EPathTooLong, ENotPDF, ...).
type Destination interface {
	// Reachable reports whether the destination can be written to now. A
	// pass does not start without it, so one unplugged share does not fail
	// every document.
	Reachable() error
	// FileName is the name the document's file gets: its plain name, or
	// with distinct its document-specific one, which another document
	// already holding the plain name cannot take.
	FileName(d Document, distinct bool) string
	// CollisionKey is what two documents that would get the same file
	// share: the engine gives all but the first of a listing's documents
	// with one key their distinct name at once, so concurrent writes never
	// race for one name.
	CollisionKey(d Document) string
	// Staging is where a write of the document may leave half-written data
	// if the process dies. The engine records it before the write and
	// hands it to Recover at the next start.
	Staging(d Document) string
	// Place writes one document. The same document always lands on the
	// same file (Prev), never on another document's file; an identical
	// file already there is kept (Placed.AlreadyPresent).
	Place(ctx context.Context, f DocumentFile) (Placed, error)
	// Intact reports whether the file at path is there unchanged: the size
	// and, unless sha256 is "", the hex SHA-256 recorded when it was placed.
	Intact(path string, size int64, sha256 string) bool
	// Recover removes what an interrupted write of document uuid by writer
	// (DocumentFile.Writer) left at staging, and says how many pieces it
	// removed. What another writer is writing there now is left alone.
	Recover(staging, uuid, writer string) (int, error)
	// SaveNote writes a clinical note as a text file.
	SaveNote(ctx context.Context, n NoteFile) (Placed, error)
	// SaveEvent writes a webhook event's body as received, and returns
	// where it landed.
	SaveEvent(ctx context.Context, ev EventFile) (string, error)
}

// DocumentFile is one document to write.
type DocumentFile struct {
	Document Document
	Name     string // from FileName
	Body     io.Reader
	// Prev is where this document was placed before ("" if never): its
	// file, kept when identical and replaced otherwise.
	Prev string
	// Writer names this installation in what a write leaves while it runs
	// (8 hex digits; "" for none), so that another PC writing to the same
	// folder, recovering from its own crash, never removes this one's
	// half-written file (Recover).
	Writer string
}

// Placed is where a file landed.
type Placed struct {
	Path           string // what the confirmation tells the platform
	Size           int64
	SHA256         string // hex
	AlreadyPresent bool   // an identical file was already there: nothing written
}

// NoteFile is one clinical note to write.
type NoteFile struct {
	Patient *Patient // nil: a note without a patient, for the Inbox
	Name    string   // the file name (sync/notes' FileName)
	Key     string   // a short stable id of the note (letters and digits)
	Body    []byte
	Prev    string // where this note was saved before ("" if never)
}

// EventFile is one webhook event to keep as a file.
type EventFile struct {
	Platform string // the platform's display name
	Name     string // the file name wished for; the destination makes it safe
	Key      string // a short stable id of the event (letters and digits)
	Body     []byte
}

// Leaser is a destination that several PCs can share: the folder on a
// network share that the front-desk PCs of one organisation all point at.
// Exactly one of them writes: the one holding the lease, a small record in
// the destination (sync/dest: a file in the folder's root) that it renews
// while it runs. The engine decides who holds it (it takes a lease that is
// free, its own, or unchanged for long enough) through these three
// operations, and writes nothing while another PC holds it.
//
// The lease needs neither locks nor clocks that agree: a write replaces the
// record atomically (a rename), and is read back. A destination that
// cannot keep a record that way (a share that does not replace on rename,
// or answers a read with what it held before) says so with ELeaseUnreliable.
type Leaser interface {
	// ReadLease returns the lease as the destination holds it now; the
	// zero Lease when there is none (or what is there cannot be read as
	// one: it is anybody's to take).
	ReadLease() (Lease, error)
	// TakeLease writes l as the lease only if there is none, atomically
	// (two PCs that try at once: one wins), and returns the lease there
	// after: l, or the one another PC wrote first; the zero Lease when a
	// file that is not a lease is in the way (WriteLease replaces it).
	TakeLease(l Lease) (Lease, error)
	// WriteLease replaces the lease with l, then reads it back and returns
	// what it read: another holder's lease when another PC wrote in
	// between (the engine then stands by). ELeaseUnreliable when what is
	// there is neither l nor another holder's lease.
	WriteLease(l Lease) (Lease, error)
	// RemoveLease removes the lease if h holds it (a PC that stops hands
	// over at once instead of leaving a lease to go stale).
	RemoveLease(h LeaseHolder) error
}

// LeaseHolder is who holds or wants a lease.
type LeaseHolder struct {
	ID   string `json:"holder"` // random, one per installation (its data folder)
	PC   string `json:"pc"`     // the computer's name
	User string `json:"user"`   // the user Clinic Sync runs as
}

// Lease is the record of who writes to a shared destination.
type Lease struct {
	LeaseHolder
	// Heartbeat is when the holder last renewed it, by the holder's clock
	// (shown to people; other PCs judge staleness by their own clock, by
	// how long the record stayed the same).
	Heartbeat time.Time `json:"heartbeat"`
	// Nonce is new at every renewal: a read that finds the same holder
	// and nonce as before sees a lease nobody renewed.
	Nonce string `json:"nonce"`
}
