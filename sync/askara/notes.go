package askara

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/notes"
	"github.com/clinicsync/clinicsync/sync/wire"
)

// Note is one clinical note as Askara serves it (GET /notes,
// GET /notes/{uuid}; scope read:notes), read by notes.FromAskara: the one
// reader of Askara's note format, which the relay uses for new_note events
// too. A patient given as a JSON-LD reference ("/patients/{uuid}") is a
// patient with only its uuid.
type Note struct {
	notes.Note
	Raw json.RawMessage // the item as received
}

// Content is the note's text: the one untitled section FromAskara makes.
func (n Note) Content() string {
	if len(n.Sections) == 0 {
		return ""
	}
	return n.Sections[0].Text
}

// MaxNotes bounds the notes one ListNotes call reads (100 pages of 100).
const MaxNotes = 10000

// ErrNotesTruncated is wrapped by the error ListNotes returns, together
// with the notes it read, when there were more than MaxNotes.
var ErrNotesTruncated = errors.New("askara: more notes than one list call reads")

// ListNotes returns the notes created at or after after, oldest first:
// GET /notes?createdAt[after]=<after, UTC, whole seconds>&order[createdAt]=asc
// &itemsPerPage=100, every page (Hydra and un-prefixed next links, page=
// for plain arrays, with the stops of ListUnsynchronized), de-duplicated
// by uuid. A zero after lists every note.
//
// The filter is inclusive at one-second resolution (Askara's timestamps
// have whole seconds; a fraction in after is dropped), so a caller that
// polls with the newest CreatedAt it has seen gets the notes of that
// second again and must de-duplicate by UUID; several notes can share a
// second. Notes the server lists before after anyway are dropped. The
// result is sorted by CreatedAt (stable: equal seconds keep the server's
// order; unreadable times sort first).
//
// At most MaxNotes notes are read. When there are more, ListNotes returns
// the oldest MaxNotes together with a retryable ERateLimited
// *clinicsync.Error wrapping ErrNotesTruncated: process them, then call
// again with the last one's CreatedAt (the limit keeps one call from
// spending the rate-limit bucket). Any other error comes with no notes.
//
// A 403 is EForbidden naming the missing read:notes scope; items that
// notes.FromAskara refuses (not an object, no usable uuid) are skipped,
// counted in Stats.SkippedItems and reported (OnUnusable); a body that is
// not a collection is EBadResponse.
func (c *Client) ListNotes(ctx context.Context, after time.Time) ([]Note, error) {
	return c.listNotes(ctx, after, MaxNotes)
}

func (c *Client) listNotes(ctx context.Context, after time.Time, limit int) ([]Note, error) {
	after = after.Truncate(time.Second)
	u := c.endpoint("/notes")
	q := url.Values{}
	if !after.IsZero() {
		q.Set("createdAt[after]", after.UTC().Format(time.RFC3339))
	}
	q.Set("order[createdAt]", "asc")
	q.Set("itemsPerPage", strconv.Itoa(c.pageSize))
	q.Set("page", "1")
	u.RawQuery = q.Encode()

	var out []Note
	truncated, err := walkPages(ctx, c, u, opNoteList,
		func(raw json.RawMessage) (Note, string, error) {
			n, err := notes.FromAskara(raw)
			return Note{Note: n, Raw: append(json.RawMessage(nil), raw...)}, n.ID, err
		},
		func(n Note) {
			if !n.CreatedAt.IsZero() && n.CreatedAt.Before(after) {
				c.log.Debug("askara note list: note older than the filter dropped")
				return
			}
			out = append(out, n)
		},
		nil, func() bool { return len(out) >= limit })
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Note) int { return a.CreatedAt.Compare(b.CreatedAt) })
	if len(out) > limit {
		out, truncated = out[:limit], true
	}
	if truncated {
		c.log.Warn("askara note list bounded", "notes", len(out))
		return out, clinicsync.Retryable(clinicsync.ERateLimited,
			fmt.Sprintf("Askara has more new notes than one pass reads; the oldest %d were read and the rest follow on the next pass.", len(out)),
			ErrNotesTruncated)
	}
	return out, nil
}

// GetNote fetches one note: GET /notes/{uuid}. An unknown note is
// ENotFound, a 403 EForbidden naming the read:notes scope, an unreadable
// body or another note's body EBadResponse.
func (c *Client) GetNote(ctx context.Context, uuid string) (Note, error) {
	if uuid == "" || uuid == "." || uuid == ".." || len(uuid) > wire.MaxIDLength {
		return Note{}, clinicsync.Errorf(clinicsync.EInvalid, "The note has no usable identifier.")
	}
	var out Note
	err := c.do(ctx, call{method: http.MethodGet, url: c.endpoint("/notes/" + url.PathEscape(uuid)), op: opNote,
		parse: func(raw []byte) error {
			b := raw
			var obj map[string]json.RawMessage
			if json.Unmarshal(b, &obj) != nil || obj == nil {
				return errors.New("unreadable note")
			}
			if _, has := obj["uuid"]; !has { // no uuid at all: the note asked for
				obj["uuid"], _ = json.Marshal(uuid)
				b, _ = json.Marshal(obj)
			}
			n, err := notes.FromAskara(b)
			if err != nil {
				return errors.New("unreadable note")
			}
			if n.ID != uuid {
				return errors.New("asked for one note, received another")
			}
			out = Note{Note: n, Raw: append(json.RawMessage(nil), bytes.TrimSpace(raw)...)}
			return nil
		}})
	if err != nil {
		return Note{}, err
	}
	return out, nil
}
