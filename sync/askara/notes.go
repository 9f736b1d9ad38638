package askara

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/clinicsync/clinicsync"
)

// Note is one clinical note as Askara serves it (GET /notes,
// GET /notes/{uuid}; scope read:notes).
type Note struct {
	UUID      string
	Type      string // e.g. consultation_summary
	Content   string
	CreatedAt time.Time // zero when absent or unreadable
	UpdatedAt time.Time // zero when absent or unreadable
	// Patient is nil when the note carries none; a JSON-LD reference
	// ("/patients/{uuid}") gives a patient with only its UUID.
	Patient *clinicsync.Patient
	Raw     json.RawMessage // the item as received
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
// A 403 is EForbidden naming the missing read:notes scope; items that are
// not objects or have no uuid are skipped (Stats.SkippedItems); a body
// that is not a collection is EBadResponse.
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
		func(raw json.RawMessage) (Note, string, bool) {
			n, ok := decodeNote(raw)
			return n, n.UUID, ok
		},
		func(n Note) {
			if !n.CreatedAt.IsZero() && n.CreatedAt.Before(after) {
				c.log.Debug("askara note list: note older than the filter dropped")
				return
			}
			out = append(out, n)
		},
		func() bool { return len(out) >= limit })
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
	if uuid == "" || uuid == "." || uuid == ".." || len(uuid) > 512 {
		return Note{}, clinicsync.Errorf(clinicsync.EInvalid, "The note has no usable identifier.")
	}
	var out Note
	err := c.do(ctx, call{method: http.MethodGet, url: c.endpoint("/notes/" + url.PathEscape(uuid)), op: opNote,
		parse: func(b []byte) error {
			var obj map[string]json.RawMessage
			if json.Unmarshal(b, &obj) != nil || obj == nil {
				return errors.New("unreadable note")
			}
			if _, has := obj["uuid"]; !has { // no uuid at all: the note asked for
				obj["uuid"], _ = json.Marshal(uuid)
			}
			n, ok := noteFrom(obj)
			if !ok {
				return errors.New("unreadable note")
			}
			if n.UUID != uuid {
				return errors.New("asked for one note, received another")
			}
			n.Raw = append(json.RawMessage(nil), bytes.TrimSpace(b)...)
			out = n
			return nil
		}})
	if err != nil {
		return Note{}, err
	}
	return out, nil
}

// decodeNote reads one listed note leniently (see decodeDocument).
func decodeNote(raw json.RawMessage) (Note, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return Note{}, false
	}
	n, ok := noteFrom(obj)
	if ok {
		n.Raw = append(json.RawMessage(nil), raw...)
	}
	return n, ok
}

func noteFrom(obj map[string]json.RawMessage) (n Note, ok bool) {
	if json.Unmarshal(obj["uuid"], &n.UUID) != nil || n.UUID == "" {
		return Note{}, false
	}
	n.Type = text(obj["type"])
	n.Content = text(obj["content"])
	n.CreatedAt = noteTime(text(obj["createdAt"]))
	n.UpdatedAt = noteTime(text(obj["updatedAt"]))
	if p := bytes.TrimSpace(obj["patient"]); len(p) > 0 && string(p) != "null" {
		var po map[string]json.RawMessage
		if json.Unmarshal(p, &po) == nil && po != nil {
			n.Patient = &clinicsync.Patient{UUID: text(po["uuid"]), ExternalID: text(po["externalId"]),
				FirstName: text(po["firstName"]), LastName: text(po["lastName"]), DateOfBirth: text(po["dateOfBirth"])}
		} else if iri := text(p); iri != "" { // a JSON-LD reference, "/patients/{uuid}"
			n.Patient = &clinicsync.Patient{UUID: path.Base(iri)}
		}
	}
	return n, true
}

// noteTime parses an API Platform date-time (RFC 3339, +00:00 offsets,
// optional fractions; a zone-less one is UTC); zero when it cannot.
func noteTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
