package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/events"
)

// Receiving: a delivery is checked (gate, method, content type, size,
// signature, envelope), committed to the inbox, and only then acknowledged.

// answer writes a JSON answer.
func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type refusal struct {
	status  int
	code    string
	message string
}

// ServeHTTP receives one delivery.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	platform, ok := strings.CutPrefix(r.URL.Path, "/webhooks/")
	pl := registry[platform]
	hook := ok && pl != nil
	if rf := s.gate(r, hook); rf != nil {
		if !hook {
			platform = "unknown"
		}
		s.refuse(w, r, platform, *rf)
		return
	}
	if !hook {
		if r.URL.Path == "/" || r.URL.Path == "/healthz" {
			answer(w, http.StatusOK, map[string]string{"status": "ok", "service": "Clinic Sync relay"})
			return
		}
		s.refuse(w, r, "unknown", refusal{http.StatusNotFound, "unknown_path", "no webhook path " + clean(r.URL.Path)})
		return
	}
	vs, enabled := s.verifiers[platform]
	switch {
	case !enabled:
		s.refuse(w, r, platform, refusal{http.StatusNotFound, "platform_disabled", "the " + platform + " path is not enabled in the relay settings"})
		return
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		s.refuse(w, r, platform, refusal{http.StatusMethodNotAllowed, "method_not_allowed", r.Method + " is not accepted; deliveries are POSTs"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		s.refuse(w, r, platform, refusal{http.StatusUnsupportedMediaType, "bad_content_type", "the content type must be application/json"})
		return
	}
	if r.ContentLength > s.o.MaxBody {
		s.refuse(w, r, platform, refusal{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", s.o.MaxBody)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.refuse(w, r, platform, refusal{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", s.o.MaxBody)})
		} else {
			s.refuse(w, r, platform, refusal{http.StatusBadRequest, "unreadable", "the body could not be read"})
		}
		return
	}
	deliveryID, scheme, rf := s.verify(platform, vs, r.Header, body)
	if rf != nil {
		s.refuse(w, r, platform, *rf)
		return
	}
	if err := pl.check(body); err != nil {
		s.refuse(w, r, platform, refusal{http.StatusBadRequest, "bad_envelope", err.Error()})
		return
	}
	d := &store.Delivery{Platform: platform, ReceivedAt: s.o.Now(), DeliveryID: deliveryID, Body: body,
		Verified: scheme, Headers: map[string]string{}}
	for k := range r.Header {
		if store.KeepHeader(k) {
			d.Headers[strings.ToLower(k)] = clean(r.Header.Get(k))
		}
	}
	done := make(chan commitRes, 1)
	select {
	case s.commits <- commitReq{d: d, done: done}:
	case <-r.Context().Done():
		return
	case <-s.ctx.Done():
		s.refuse(w, r, platform, refusal{http.StatusServiceUnavailable, "stopping", "the relay is stopping; retry later"})
		return
	}
	res := <-done
	switch {
	case res.err != nil:
		s.log.Warn("inbox commit failed", "platform", platform, "err", res.err)
		w.Header().Set("Retry-After", "5")
		s.refuse(w, r, platform, refusal{http.StatusServiceUnavailable, "store_failed", "the delivery could not be stored; retry later"})
	case res.dup && deliveryID != "" && s.replayed(r.Context(), platform, deliveryID, d):
		s.refuse(w, r, platform, refusal{http.StatusConflict, "replayed_id",
			"the delivery id " + clean(deliveryID) + " was already used for another body"})
	case res.dup:
		s.mu.Lock()
		s.stats.Duplicates++
		s.mu.Unlock()
		answer(w, http.StatusOK, map[string]string{"status": "duplicate"})
	default:
		s.mu.Lock()
		s.stats.Accepted++
		s.stats.LastDelivery = d.ReceivedAt
		s.mu.Unlock()
		s.o.Events.Publish(events.Event{Type: events.RelayChanged})
		answer(w, http.StatusOK, map[string]any{"status": "accepted", "id": d.ID})
	}
}

// replayed reports whether a delivery id already stored came with another
// body (a retry resends the same body).
func (s *Server) replayed(ctx context.Context, platform, id string, d *store.Delivery) bool {
	if d.BodySHA256 == "" {
		sum := sha256.Sum256(d.Body)
		d.BodySHA256 = hex.EncodeToString(sum[:])
	}
	sha, err := s.o.Store.InboxBodyFor(ctx, platform, id)
	return err == nil && sha != "" && sha != d.BodySHA256
}

// verify picks the scheme by the headers the delivery carries. With a
// secret, a delivery must carry a valid signature of a scheme the platform
// uses: a missing header is a 401 like a wrong one (a secret makes the path
// stricter, never looser). Without one, deliveries are refused unless the
// user allowed unsigned ones, on loopback; they are recorded "unverified".
func (s *Server) verify(platform string, vs []Verifier, h http.Header, body []byte) (id, scheme string, rf *refusal) {
	if vs == nil {
		return "", "", &refusal{http.StatusUnauthorized, "no_secret",
			"no signing secret is set for " + platform + " (clinicsync relay secret " + platform + ")"}
	}
	v := vs[0]
	for _, c := range vs {
		if headersFor(c, h) {
			v = c
			break
		}
	}
	id, err := v.Verify(h, body, s.o.Now())
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			return "", "", &refusal{ve.Status, ve.Code, ve.Message}
		}
		return "", "", &refusal{http.StatusUnauthorized, "bad_signature", "the signature does not match"}
	}
	scheme = v.Scheme()
	if scheme == "unsigned" {
		scheme = "unverified"
	}
	return id, scheme, nil
}

// signedBy is a verifier whose signature header tells its scheme.
type signedBy interface{ signatureHeader() string }

// headersFor reports whether h carries v's signature header.
func headersFor(v Verifier, h http.Header) bool {
	sb, ok := v.(signedBy)
	return ok && h.Get(sb.signatureHeader()) != ""
}

// refuse answers a 4xx/5xx with a JSON error, counts it, and writes it to
// the activity log at most once a minute per kind (a flood of bad requests
// must not flood the log).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, platform string, rf refusal) {
	answer(w, rf.status, map[string]string{"error": rf.code, "message": rf.message})
	kind := platform + ": " + rf.code
	now := s.o.Now()
	s.mu.Lock()
	s.stats.Refused[kind]++
	s.pending[kind]++
	n := s.pending[kind]
	write := now.Sub(s.lastNote[kind]) >= time.Minute
	if write {
		s.lastNote[kind] = now
		s.pending[kind] = 0
	}
	s.mu.Unlock()
	s.o.Events.Publish(events.Event{Type: events.RelayChanged})
	s.log.Debug("relay refused a delivery", "platform", platform, "code", rf.code, "status", rf.status)
	if write {
		// The reason is the answer the platform got: it stays English.
		t := clinicsync.NewText(activity.RelayRefused, platform, rf.status, rf.message)
		if n > 1 {
			t = clinicsync.NewText(activity.RelayRefusedMany, n, platform, rf.status, rf.message)
		}
		s.o.Sink.Note(context.WithoutCancel(r.Context()), "warn", t)
	}
}

// clean keeps a string on one line (clinicsync.CleanText) and short for
// the log, cut on a character boundary.
func clean(s string) string {
	s = clinicsync.CleanText(s)
	if len(s) > 120 {
		cut := 120
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
