package askara

import (
	"context"
	"time"

	"github.com/clinicsync/clinicsync/sync/notes"
)

// NoteSource gives the engine Askara's notes in the common note form
// (engine.NoteLister).
type NoteSource struct {
	Client *Client
}

// ListNotes lists notes created at or after after, oldest first. A list cut
// short (ErrNotesTruncated) comes back with its notes and the error. Notes
// the list could not use are left out and reported (Client.OnUnusable).
func (s *NoteSource) ListNotes(ctx context.Context, after time.Time) ([]notes.Note, error) {
	list, err := s.Client.ListNotes(ctx, after)
	out := make([]notes.Note, len(list))
	for i, n := range list {
		out[i] = n.Note
	}
	return out, err
}
