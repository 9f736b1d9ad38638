// Package clinicsync holds the domain types shared by every other package of
// Clinic Sync: documents, patients, item states, the error type that carries
// retry intent, and the interfaces the engine needs. It imports nothing from
// the project (the WTF Dial / Litestream layout).
package clinicsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ItemState is where one document is in its life on this PC.
type ItemState string

const (
	StatePending     ItemState = "pending"     // known, not yet written
	StateDownloading ItemState = "downloading" // a temp file may exist in the target folder
	StateSaved       ItemState = "saved"       // final file written, platform not yet told
	StateConfirmed   ItemState = "confirmed"   // written and confirmed with success:true
	StateFailed      ItemState = "failed"      // last attempt failed; see LastError / NextAttempt
)

// States lists every ItemState in life-cycle order.
var States = []ItemState{StatePending, StateDownloading, StateSaved, StateConfirmed, StateFailed}

// Valid reports whether s is one of the known states.
func (s ItemState) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// Patient is the patient a document or note belongs to, as the platform sends it.
// Any field may be empty.
type Patient struct {
	UUID        string `json:"uuid,omitempty"`
	ExternalID  string `json:"externalId,omitempty"`
	FirstName   string `json:"firstName,omitempty"`
	LastName    string `json:"lastName,omitempty"`
	DateOfBirth string `json:"dateOfBirth,omitempty"`
}

// DisplayName is "First Last", or the best identifier there is. For the
// activity log and the window, never for debug logs (it is PHI).
func (p Patient) DisplayName() string {
	switch {
	case p.FirstName != "" && p.LastName != "":
		return p.FirstName + " " + p.LastName
	case p.LastName != "":
		return p.LastName
	case p.FirstName != "":
		return p.FirstName
	case p.ExternalID != "":
		return "patient " + p.ExternalID
	case p.UUID != "":
		return "patient " + p.UUID
	}
	return "unknown patient"
}

// PDF is the pre-signed link to a document's file and the name it should get.
type PDF struct {
	URL      string `json:"url,omitempty"`
	FileName string `json:"fileName,omitempty"`
	// Extra is the pdf object's other fields as the platform client read
	// them (compact JSON, keys sorted; "" when there are none), only to
	// notice that the listed file changed. Not decoded by JSON tags: the
	// relay's strict parser must not refuse an event for an undocumented
	// field.
	Extra string `json:"-"`
}

// Document is a validated document as listed by the platform.
type Document struct {
	UUID    string  `json:"uuid"`
	Type    string  `json:"type,omitempty"`
	State   string  `json:"state,omitempty"`
	Patient Patient `json:"patient"`
	PDF     PDF     `json:"pdf"`
	// UpdatedAt is the document's updatedAt as the platform wrote it (""
	// when absent or not a string). Askara does not document it; API
	// Platform entities carry it. It is compared, never parsed, and read
	// leniently by the platform client, not by JSON tags (see PDF.Extra).
	UpdatedAt string `json:"-"`
}

// LinkPath is a link without its query and fragment: what stays the same
// when the platform signs a pre-signed link again (its signature and expiry
// are in the query and change on every listing).
func LinkPath(u string) string {
	u, _, _ = strings.Cut(u, "#")
	u, _, _ = strings.Cut(u, "?")
	return u
}

// DocumentEvent is a platform's webhook event about one document, as the
// relay hands it to the engine.
type DocumentEvent struct {
	Document   Document  // the event's copy (may lack the pdf link)
	Action     string    // "new_document" or "document_synchronize"
	Verified   bool      // the delivery's signature was checked
	ReceivedAt time.Time // when the relay stored the delivery
}

// Status is the body of POST /documents/{uuid}/status.
type Status struct {
	Success   bool   `json:"success"`
	Directory string `json:"directory,omitempty"`
	Path      string `json:"path,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Remote is the platform API as the engine uses it. sync/askara implements it.
type Remote interface {
	// ListUnsynchronized returns every document not yet synchronized,
	// all pages collected before it returns.
	ListUnsynchronized(ctx context.Context) ([]Document, error)
	// GetDocument fetches one document with a fresh pre-signed PDF link.
	GetDocument(ctx context.Context, uuid string) (Document, error)
	// OpenPDF starts the download of a pre-signed link. An expired link
	// gives an *Error with Code ELinkExpired.
	OpenPDF(ctx context.Context, url string) (io.ReadCloser, error)
	// SetStatus reports the outcome of one document.
	SetStatus(ctx context.Context, uuid string, st Status) error
}

// PagedLister is a Remote that can hand the list of unsynchronized
// documents over page by page, as it reads it, so that downloads start
// while the next page is fetched (sync/askara implements it). The pages
// together are what ListUnsynchronized returns. The list is live: nothing
// may be confirmed before ListUnsynchronizedPages has returned.
type PagedLister interface {
	// ListUnsynchronizedPages calls page with each page's documents, in
	// list order, each document once; page's error ends the listing and
	// is returned.
	ListUnsynchronizedPages(ctx context.Context, page func([]Document) error) error
}

// Error codes. They say what went wrong in a way code can act on; Message
// says it to a person.
const (
	EInternal     = "internal"      // a bug or an unexpected condition
	EInvalid      = "invalid"       // bad input from the platform or the user
	ENotFound     = "not_found"     // the thing asked for does not exist
	EUnauthorized = "unauthorized"  // sign-in needed or token refused
	EForbidden    = "forbidden"     // signed in, but not allowed (scope)
	ERateLimited  = "rate_limited"  // the platform asked us to slow down
	EUnavailable  = "unavailable"   // network error, timeout, 5xx
	ELinkExpired  = "link_expired"  // a pre-signed PDF link no longer works
	ENotPDF       = "not_pdf"       // downloaded content is not a PDF
	EDestination  = "destination"   // the destination folder cannot be written
	EConflict     = "conflict"      // a state change that is not allowed now
	ETooSoon      = "too_soon"      // manual retry inside the 30-second window
	EConfig       = "config"        // configuration problem
	ECanceled     = "canceled"      // the context was canceled
	EDiskFull     = "disk_full"     // no space left on the destination
	EFileLocked   = "file_locked"   // another program holds the file
	EBadResponse  = "bad_response"  // the platform answered something we cannot read
	ESignedOut    = "signed_out"    // no usable credentials
	EUnverifiable = "unverifiable"  // cannot check a signature
	EPermission   = "permission"    // the OS refused access
	EReadOnly     = "read_only"     // the folder is on a read-only disk or share
	EPathTooLong  = "path_too_long" // the destination path cannot be made short enough
	// EStandby: another PC holds the shared destination's lease and writes
	// to it; this one writes nothing.
	EStandby = "standby"
	// ELeaseUnreliable: the destination cannot keep a lease (a share that
	// does not replace a file on rename, or reads back an old copy).
	ELeaseUnreliable = "lease_unreliable"
)

// Error is the project's error: a code, one human sentence, and the retry
// intent (the rclone fserrors idea: the intent travels on the error, one
// place decides).
type Error struct {
	Code       string
	Message    string        // one sentence for a person; no secrets, may name a patient
	Retryable  bool          // a later attempt may succeed without a person
	RetryAfter time.Duration // the server's wish, if it said one
	Err        error         // the underlying error, for errors.Is/As and debug logs
	// Key and Args, when Key is set, are what Message was made from
	// (fmt.Sprintf(Key, Args...)), so that the sentence can be shown in the
	// reader's language (ErrorText, Text). Errorf, Retryablef and
	// Permanentf set them.
	Key  string
	Args []any
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message != "" {
		return e.Message + ": " + e.Err.Error()
	}
	if e.Message != "" {
		return e.Message
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Code
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a permanent *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Key: format, Args: args}
}

// Retryablef builds a retryable *Error wrapping err, with a formatted
// message.
func Retryablef(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Retryable: true, Err: err, Key: format, Args: args}
}

// Permanentf builds a permanent *Error wrapping err, with a formatted
// message.
func Permanentf(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err, Key: format, Args: args}
}

// Retryable builds a retryable *Error wrapping err.
func Retryable(code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Retryable: true, Err: err}
}

// Permanent builds a permanent *Error wrapping err.
func Permanent(code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, ECanceled
// for context cancellation, or EInternal.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ECanceled
	}
	return EInternal
}

// ErrorMessage returns the human sentence of err: the Message of the first
// *Error in its chain, or a generic sentence (never raw internals, which can
// carry URLs with signatures).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "The operation was interrupted."
	}
	return "An internal error occurred."
}

// Fatal reports whether the error ends more than this attempt: every
// retry of it, the other documents of the pass, the pass itself. That is
// so when the sign-in is gone or refused (EUnauthorized, ESignedOut), which
// no other request can get past until a person signs in, and when the work
// was canceled (ECanceled). The one list: the platform client and the
// engine both ask here.
func (e *Error) Fatal() bool { return fatalCode(e.Code) }

// IsFatal reports whether err is fatal (Error.Fatal); a context's
// cancellation is, wrapped in an *Error or not.
func IsFatal(err error) bool { return err != nil && fatalCode(ErrorCode(err)) }

func fatalCode(code string) bool {
	switch code {
	case EUnauthorized, ESignedOut, ECanceled:
		return true
	}
	return false
}

// IsRetryable reports whether a later automatic attempt may succeed, and
// how long the other side asked us to wait (0 if it did not say).
func IsRetryable(err error) (bool, time.Duration) {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable, e.RetryAfter
	}
	return false, 0
}
