package askara

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/wire"
)

// DecodeCollection reads one page of a collection in any of the three
// shapes the API sends: a plain JSON array, a Hydra document
// ("hydra:member", "hydra:view"."hydra:next") or the newer un-prefixed one
// ("member", "view"."next"). next is the raw link to the following page, ""
// when there is none or the body is a plain array. On success items is
// never nil; on error it is nil. At most MaxBodyBytes are read.
func DecodeCollection(r io.Reader) (items []json.RawMessage, next string, err error) {
	items, next, _, err = decodeCollection(r)
	return items, next, err
}

var (
	errNotCollection = errors.New("the body is neither an array nor a collection object")
	errNoMember      = errors.New("the collection has no member array")
	errBadNext       = errors.New("the collection's next link is not a string")
)

// decodeCollection is DecodeCollection that also says whether the body was
// a plain array.
func decodeCollection(r io.Reader) (items []json.RawMessage, next string, array bool, err error) {
	b, err := readBounded(r, MaxBodyBytes)
	if err != nil {
		return nil, "", false, err
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, "", false, errNotCollection
	}
	switch b[0] {
	case '[':
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, "", false, err
		}
		if items == nil {
			items = []json.RawMessage{}
		}
		return items, "", true, nil
	case '{':
	default:
		return nil, "", false, errNotCollection
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, "", false, err
	}
	raw, ok := obj["hydra:member"]
	if !ok {
		if raw, ok = obj["member"]; !ok {
			return nil, "", false, errNoMember
		}
	}
	if string(raw) != "null" {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, "", false, errNoMember
		}
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	for _, vk := range []string{"hydra:view", "view"} {
		vraw, ok := obj[vk]
		if !ok || string(vraw) == "null" {
			continue
		}
		var view map[string]json.RawMessage
		if json.Unmarshal(vraw, &view) != nil {
			continue // a view we cannot read: no next page
		}
		for _, nk := range []string{"hydra:next", "next"} {
			nraw, ok := view[nk]
			if !ok || string(nraw) == "null" {
				continue
			}
			if json.Unmarshal(nraw, &next) != nil {
				return nil, "", false, errBadNext
			}
			if next != "" {
				return items, next, false, nil
			}
		}
	}
	return items, "", false, nil
}

// DecodeDocument reads one Askara document: a listed item, the answer of
// GET /documents/{uuid}, or the metadata.document of a webhook event (the
// relay reads it with this function too). It is the one reader of the
// format, with the rules of package wire: the uuid is an identifier (a
// string, at most wire.MaxIDLength bytes, printable) and the item is
// refused without one; every other field is data, read leniently, so that
// a field of an unexpected type is left empty rather than losing the
// document (a numeric externalId is read as its digits, a patient given as
// a JSON-LD reference "/patients/{uuid}" as that uuid, a pdf given as a
// link as its url). Fields match their names case-insensitively, as
// encoding/json does. The error is a *wire.FieldError.
func DecodeDocument(raw json.RawMessage) (clinicsync.Document, error) {
	f, err := readDocument(raw)
	if err != nil {
		return clinicsync.Document{}, err
	}
	return f.document()
}

// documentFields are a document's fields as received.
type documentFields struct {
	UUID      json.RawMessage `json:"uuid"`
	Type      json.RawMessage `json:"type"`
	State     json.RawMessage `json:"state"`
	Patient   json.RawMessage `json:"patient"`
	PDF       json.RawMessage `json:"pdf"`
	UpdatedAt json.RawMessage `json:"updatedAt"`
}

// readDocument splits a document into its fields; the error is for an
// item that is not an object.
func readDocument(raw []byte) (documentFields, error) {
	var f documentFields
	if !wire.IsObject(raw) || json.Unmarshal(raw, &f) != nil {
		return documentFields{}, &wire.FieldError{Problem: "is not a JSON object"}
	}
	return f, nil
}

func (f documentFields) document() (clinicsync.Document, error) {
	var d clinicsync.Document
	var err error
	if d.UUID, err = wire.ID(f.UUID, "uuid"); err != nil {
		return clinicsync.Document{}, err
	}
	d.Type = wire.Text(f.Type)
	d.State = wire.Text(f.State)
	if p := wire.Patient(f.Patient); p != nil {
		d.Patient = *p
	}
	if len(f.PDF) > 0 {
		var po map[string]json.RawMessage
		if json.Unmarshal(f.PDF, &po) == nil && po != nil {
			d.PDF = clinicsync.PDF{URL: wire.Text(po["url"]), FileName: wire.Text(po["fileName"]), Extra: pdfExtra(po)}
		} else {
			d.PDF.URL = wire.Text(f.PDF)
		}
	}
	d.UpdatedAt = wire.Text(f.UpdatedAt)
	return d, nil
}

// pdfExtra is the pdf object's fields other than url and fileName as
// compact JSON with sorted keys ("" when there are none), for noticing
// that the file changed. What changes on every listing without the file
// changing is left out: fields named like an expiry, a signature or a
// token, and the query of any other link.
func pdfExtra(po map[string]json.RawMessage) string {
	extra := make(map[string]json.RawMessage, len(po))
	for k, v := range po {
		lk := strings.ToLower(k)
		if k == "url" || k == "fileName" || strings.Contains(lk, "expir") || strings.Contains(lk, "sign") ||
			strings.Contains(lk, "token") {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil && (strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) {
			v, _ = json.Marshal(clinicsync.LinkPath(s))
		}
		extra[k] = v
	}
	if len(extra) == 0 {
		return ""
	}
	b, err := json.Marshal(extra) // sorts the keys and compacts the values
	if err != nil {
		return ""
	}
	return string(b)
}

// ListUnsynchronized returns every document not yet synchronized, all pages
// collected before it returns (the filter is live: confirming while paging
// would shift pages), de-duplicated by uuid in first-seen order. Items
// DecodeDocument refuses are skipped, counted in Stats.SkippedItems and
// reported (OnUnusable).
//
// Paging stops at the last page: no next link (Hydra and un-prefixed
// shapes), a short or empty page (plain arrays), a page that brings no new
// uuid or repeats the previous one, a next link already followed, or
// MaxPages. A next link to another origin is refused (EBadResponse): the
// token never leaves the API's origin.
func (c *Client) ListUnsynchronized(ctx context.Context) ([]clinicsync.Document, error) {
	var out []clinicsync.Document
	err := c.ListUnsynchronizedPages(ctx, func(page []clinicsync.Document) error {
		out = append(out, page...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListUnsynchronizedPages is ListUnsynchronized handing the documents over
// page by page (clinicsync.PagedLister): page receives each page's new
// documents as soon as it is read, before the next page is asked for, so
// that work on them can start; its error ends the listing. The caller
// still must not confirm anything before it returns.
func (c *Client) ListUnsynchronizedPages(ctx context.Context, page func([]clinicsync.Document) error) error {
	u := c.endpoint("/documents")
	q := url.Values{}
	q.Set("synchronized", "false")
	q.Set("itemsPerPage", strconv.Itoa(c.pageSize))
	q.Set("page", "1")
	u.RawQuery = q.Encode()

	var cur []clinicsync.Document
	_, err := walkPages(ctx, c, u, opDocumentList,
		func(raw json.RawMessage) (clinicsync.Document, string, error) {
			d, err := DecodeDocument(raw)
			return d, d.UUID, err
		},
		func(d clinicsync.Document) { cur = append(cur, d) },
		func() error {
			if len(cur) == 0 {
				return nil
			}
			c.noteLinks(cur...)
			p := cur
			cur = nil
			return page(p)
		}, nil)
	return err
}

// GetDocument fetches one document with a fresh pre-signed PDF link.
func (c *Client) GetDocument(ctx context.Context, uuid string) (clinicsync.Document, error) {
	p, err := c.documentPath(uuid)
	if err != nil {
		return clinicsync.Document{}, err
	}
	var d clinicsync.Document
	err = c.do(ctx, call{method: http.MethodGet, url: c.endpoint(p), op: opDocument, parse: func(b []byte) error {
		f, err := readDocument(b)
		if err != nil {
			return errors.New("unreadable document")
		}
		if f.UUID == nil { // no uuid at all: the document asked for
			f.UUID, _ = json.Marshal(uuid)
		}
		doc, err := f.document()
		if err != nil {
			return errors.New("unreadable document")
		}
		if doc.UUID != uuid {
			return errors.New("asked for one document, received another")
		}
		d = doc
		return nil
	}})
	if err != nil {
		return clinicsync.Document{}, err
	}
	c.noteLinks(d)
	return d, nil
}

// SetStatus reports the outcome of one document: POST
// /documents/{uuid}/status with st as JSON ("success" always present).
func (c *Client) SetStatus(ctx context.Context, uuid string, st clinicsync.Status) error {
	p, err := c.documentPath(uuid)
	if err != nil {
		return err
	}
	body, err := marshalStatus(st)
	if err != nil {
		return clinicsync.Permanent(clinicsync.EInternal, "The status report could not be encoded.", err)
	}
	return c.do(ctx, call{method: http.MethodPost, url: c.endpoint(p + "/status"), body: body, op: opDocumentStatus})
}

// marshalStatus is st as compact JSON, without HTML escaping (the text is
// shown as written in Askara's interface).
func marshalStatus(st clinicsync.Status) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
