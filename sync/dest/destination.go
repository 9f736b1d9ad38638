package dest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/clinicsync/clinicsync"
)

// Layout is the practice software's folder as a clinicsync.Destination:
// the engine and the notes path write through these methods only.
var _ clinicsync.Destination = Layout{}

// Reachable reports whether the root is there and is a folder. It makes no
// test write (CheckRoot does, for Settings): it runs before every pass.
func (l Layout) Reachable() error {
	fi, err := os.Stat(l.Root)
	if err != nil || !fi.IsDir() {
		return unreachable(l.Root, err)
	}
	return nil
}

// Folder is the documents folder: the engine checks its free space and
// names it when it stops documents.
func (l Layout) Folder() string { return l.Root }

// FileName is the document's file name (FileName), or with distinct its
// document-specific form (DistinctName).
func (l Layout) FileName(d clinicsync.Document, distinct bool) string {
	name := FileName(d)
	if distinct {
		return DistinctName(name, d.UUID)
	}
	return name
}

// CollisionKey is the document's plain file in its patient folder, as
// Windows and macOS compare names: without case, in one Unicode form.
func (l Layout) CollisionKey(d clinicsync.Document) string {
	return strings.ToLower(norm.NFC.String(filepath.Join(l.PatientDir(d.Patient), FileName(d))))
}

// Staging is the document's patient folder: Save's temp file is there.
func (l Layout) Staging(d clinicsync.Document) string {
	return filepath.Join(l.Root, l.PatientDir(d.Patient))
}

// Place saves a document into its patient folder (Save).
func (l Layout) Place(ctx context.Context, f clinicsync.DocumentFile) (clinicsync.Placed, error) {
	return Save(ctx, SaveRequest{Root: l.Root, RelDir: l.PatientDir(f.Document.Patient),
		FileName: f.Name, UUID: f.Document.UUID, Body: f.Body, Prev: f.Prev, Writer: f.Writer})
}

// Intact hashes the file and compares it with what was recorded.
func (l Layout) Intact(path string, size int64, sha256 string) bool {
	sum, n, err := HashFile(path)
	return err == nil && n == size && (sha256 == "" || sum == sha256)
}

// Recover removes the document's temp files by writer from its folder
// (RemoveTemps).
func (l Layout) Recover(staging, uuid, writer string) (int, error) {
	return RemoveTemps(staging, uuid, writer)
}

// SaveNote saves a note as text into its patient's folder, or into the
// Inbox when it has no patient.
func (l Layout) SaveNote(ctx context.Context, n clinicsync.NoteFile) (clinicsync.Placed, error) {
	rel := InboxFolder
	if n.Patient != nil {
		rel = l.PatientDir(*n.Patient)
	}
	return Save(ctx, SaveRequest{Root: l.Root, RelDir: rel, FileName: n.Name, UUID: n.Key,
		Body: bytes.NewReader(n.Body), Prev: n.Prev, Text: true})
}

// SaveEvent saves an event's body into Inbox/<Platform>.
func (l Layout) SaveEvent(ctx context.Context, ev clinicsync.EventFile) (string, error) {
	rel := filepath.Join(InboxFolder, SanitizeComponent(ev.Platform, 40))
	r, err := Save(ctx, SaveRequest{Root: l.Root, RelDir: rel, FileName: SanitizeComponent(ev.Name, 120), UUID: ev.Key,
		Body: bytes.NewReader(ev.Body), Text: true})
	if err != nil {
		return "", err
	}
	return r.Path, nil
}
