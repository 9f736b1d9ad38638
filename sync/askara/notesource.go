package askara

import (
	"context"
	"time"

	"github.com/clinicsync/clinicsync/sync/notes"
)

// NoteSource gives the engine Askara's notes in the common note form.
type NoteSource struct {
	Client *Client
	// Skipped counts notes this version could not read (they are left out;
	// the others go on).
	Skipped int
}

// ListNotes lists notes created at or after after, oldest first. A list cut
// short (ErrNotesTruncated) comes back with its notes and the error.
func (s *NoteSource) ListNotes(ctx context.Context, after time.Time) ([]notes.Note, error) {
	list, err := s.Client.ListNotes(ctx, after)
	out := make([]notes.Note, 0, len(list))
	for _, n := range list {
		nn, cerr := notes.FromAskara(n.Raw)
		if cerr != nil {
			s.Skipped++
			continue
		}
		out = append(out, nn)
	}
	return out, err
}
