package sim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Pre-signed links look like
//
//	<base>/files/<uuid>/<fileName, path-escaped>?expires=<unix>&signature=<hex>
//
// signature is an HMAC-SHA256, keyed by the seed and the link generation
// (ExpireLinks starts a new one), over the decoded uuid, the decoded file
// name and expires. The path must have exactly these two segments: a
// client that decodes %2F in "..%2F..%2Fevil.pdf" or normalises the path
// gets 403 SignatureDoesNotMatch. No bearer token is needed.

func (s *Server) genKey(gen int) []byte {
	m := hmac.New(sha256.New, s.linkKey[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(gen))
	m.Write(b[:])
	return m.Sum(nil)
}

func (s *Server) signature(gen int, uuid, name string, expires int64) string {
	m := hmac.New(sha256.New, s.genKey(gen))
	m.Write([]byte(uuid))
	m.Write([]byte{0})
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// linkLocked signs a fresh link for d. s.mu must be held.
func (s *Server) linkLocked(d *doc, base string, now time.Time) string {
	exp := now.Add(s.o.LinkTTL).Unix()
	name := d.d.PDF.FileName
	return base + "/files/" + url.PathEscape(d.d.UUID) + "/" + url.PathEscape(name) +
		"?expires=" + strconv.FormatInt(exp, 10) + "&signature=" + s.signature(s.linkGen, d.d.UUID, name, exp)
}

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// serveFile answers a pre-signed link; rest is the escaped path after /files/.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, rest string) {
	s.count(func(st *Stats) {
		st.PDFDownloads++
		if r.Header.Get("Authorization") != "" {
			st.PDFAuthorization++
		}
	})
	if !s.sleep(r.Context(), s.o.FileLatency) {
		s.dropUnlessGone(w, r)
		return
	}
	f := s.pickFault(true)
	if f != FaultNone && f != FaultTruncate {
		s.injectFault(w, r, f, true)
		return
	}
	truncate := f == FaultTruncate
	d, refuse := s.resolveLink(r, rest)
	if refuse != nil || r.Method == http.MethodHead || d.content.Kind == ContentEmpty {
		if truncate { // nothing to cut: reset the connection instead
			abortConn(w, true)
			return
		}
		if refuse != nil {
			refuse(w)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Accept-Ranges", "none")
	h.Set("Cache-Control", "private, max-age=0")
	switch d.content.Kind {
	case ContentEmpty:
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	case ContentHTML:
		s.writeBody(w, r, []byte(htmlBody), truncate)
	default:
		g := newPDFGen(s.o.Seed, d.d.UUID, d.content.Size)
		h.Set("Content-Length", strconv.FormatInt(g.size, 10))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		limit := g.size
		if truncate {
			limit = g.size / 2
		}
		bp := chunkPool.Get().(*[]byte)
		defer chunkPool.Put(bp)
		buf := *bp
		var off int64
		for off < limit {
			n, _ := g.ReadAt(buf[:min(int64(len(buf)), limit-off)], off)
			m, err := w.Write(buf[:n])
			off += int64(m)
			if err != nil {
				break
			}
		}
		s.count(func(st *Stats) { st.PDFBytes += off })
		if truncate {
			abortConn(w, false)
		}
	}
}

// resolveLink checks a link. It returns the document, or a function that
// writes the refusal (and has counted it).
func (s *Server) resolveLink(r *http.Request, rest string) (*doc, func(http.ResponseWriter)) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil, func(w http.ResponseWriter) {
			w.Header().Set("Allow", "GET, HEAD")
			writeS3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
		}
	}
	bad := func(code, msg string, extra ...string) func(http.ResponseWriter) {
		s.count(func(st *Stats) { st.BadLinks++ })
		return func(w http.ResponseWriter) { writeS3Error(w, http.StatusForbidden, code, msg, extra...) }
	}
	badSig := func() func(http.ResponseWriter) {
		return bad("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
	}
	q := r.URL.Query()
	expStr, sig := q.Get("expires"), q.Get("signature")
	if expStr == "" || sig == "" {
		return nil, bad("AccessDenied", "Query-string authentication requires the signature and expires parameters.")
	}
	seg := strings.Split(rest, "/")
	if len(seg) != 2 {
		return nil, badSig()
	}
	uuid, err1 := url.PathUnescape(seg[0])
	name, err2 := url.PathUnescape(seg[1])
	exp, err3 := strconv.ParseInt(expStr, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, badSig()
	}
	now := s.o.Now()
	s.mu.Lock()
	gen := s.linkGen
	d := s.byUUID[uuid]
	s.mu.Unlock()
	found := -1
	for g := gen; g >= 0; g-- {
		if hmac.Equal([]byte(sig), []byte(s.signature(g, uuid, name, exp))) {
			found = g
			break
		}
	}
	if found < 0 {
		return nil, badSig()
	}
	if found < gen || !now.Before(time.Unix(exp, 0)) {
		s.count(func(st *Stats) { st.ExpiredLinks++ })
		return nil, func(w http.ResponseWriter) {
			writeS3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired",
				"Expires", time.Unix(exp, 0).UTC().Format(time.RFC3339), "ServerTime", now.UTC().Format(time.RFC3339))
		}
	}
	if d == nil || d.content.Kind == ContentNotFound || d.content.Kind == ContentNoURL || d.content.Kind == ContentNoPDF {
		return nil, func(w http.ResponseWriter) {
			writeS3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.", "Key", uuid+"/"+name)
		}
	}
	return d, nil
}

func (s *Server) writeBody(w http.ResponseWriter, r *http.Request, b []byte, truncate bool) {
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if truncate {
		b = b[:len(b)/2]
	}
	n, _ := w.Write(b)
	s.count(func(st *Stats) { st.PDFBytes += int64(n) })
	if truncate {
		abortConn(w, false)
	}
}

// abortConn drops the connection: what was written is flushed, then the
// TCP connection is closed, with a reset (SO_LINGER 0) when rst is set.
// Without a hijackable connection (HTTP/2) it aborts the stream with
// http.ErrAbortHandler.
func abortConn(w http.ResponseWriter, rst bool) {
	// Flush only what a truncating fault wrote on purpose: flushing an
	// unwritten response would send "200 OK" headers before the reset.
	if f, ok := w.(http.Flusher); ok && !rst {
		f.Flush()
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok && rst {
				tc.SetLinger(0)
			}
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
