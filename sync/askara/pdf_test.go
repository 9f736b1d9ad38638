package askara

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

// fileServer records the Authorization header of every request.
type fileServer struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func newFileServer(t *testing.T, h http.HandlerFunc) *fileServer {
	f := &fileServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auths = append(f.auths, r.Header.Get("Authorization"))
		f.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fileServer) requests() (n int, withAuth int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.auths {
		if a != "" {
			withAuth++
		}
	}
	return len(f.auths), withAuth
}

// The API is never contacted for a download; an address nobody listens on.
const unusedAPI = "http://127.0.0.1:9"

func TestOpenPDFStreamsWithoutTheToken(t *testing.T) {
	release := make(chan struct{})
	files := newFileServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect.pdf":
			http.Redirect(w, r, "/doc.pdf?"+r.URL.RawQuery, http.StatusFound)
			return
		case "/doc.pdf":
		default:
			w.WriteHeader(404)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		fmt.Fprint(w, "%PDF-1.7\n")
		w.(http.Flusher).Flush()
		<-release // the rest only once the client has the first bytes
		fmt.Fprint(w, strings.Repeat("0123456789", 1000))
	})
	c, _, _ := newTestClient(t, unusedAPI, nil)
	ctx := context.Background()

	opened := make(chan io.ReadCloser, 1)
	go func() {
		rc, err := c.OpenPDF(ctx, files.URL+"/redirect.pdf?X-Amz-Signature=abc&X-Amz-Expires=3600")
		if err != nil {
			t.Error(err)
			close(opened)
			return
		}
		opened <- rc
	}()
	var rc io.ReadCloser
	select {
	case rc = <-opened:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("OpenPDF did not return before the whole body was sent: it is buffering")
	}
	if rc == nil {
		close(release)
		t.FailNow()
	}
	head := make([]byte, 9)
	if _, err := io.ReadFull(rc, head); err != nil || string(head) != "%PDF-1.7\n" {
		t.Fatalf("%q %v", head, err)
	}
	close(release)
	rest, err := io.ReadAll(rc)
	if err != nil || len(rest) != 10000 {
		t.Fatalf("%d bytes, %v", len(rest), err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	n, withAuth := files.requests()
	if n != 2 || withAuth != 0 {
		t.Fatalf("%d file requests, %d with an Authorization header", n, withAuth)
	}
	if s := c.Stats(); s.Downloads != 1 || s.APIRequests != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestOpenPDFExpiredAndMissingLinks(t *testing.T) {
	for _, tc := range []struct {
		status    int
		code      string
		retryable bool
		message   string
	}{
		{401, clinicsync.ELinkExpired, true, "The download link has expired."},
		{403, clinicsync.ELinkExpired, true, "The download link has expired."},
		{410, clinicsync.ELinkExpired, true, "The download link has expired."},
		{404, clinicsync.ENotFound, false, "The PDF file is missing on the server."},
		{405, clinicsync.EInvalid, false, "The file server refused the download (HTTP 405)."},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			files := newFileServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, `<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
			})
			c, clock, _ := newTestClient(t, unusedAPI, nil)
			rc, err := c.OpenPDF(context.Background(), files.URL+"/doc.pdf?X-Amz-Signature=abc")
			var e *clinicsync.Error
			if rc != nil || !errors.As(err, &e) {
				t.Fatalf("%v %v", rc, err)
			}
			if e.Code != tc.code || e.Retryable != tc.retryable || e.Message != tc.message {
				t.Fatalf("got %s retryable=%v %q", e.Code, e.Retryable, e.Message)
			}
			if n, _ := files.requests(); n != 1 || len(clock.Sleeps()) != 0 {
				t.Fatalf("%d requests, sleeps %v: a dead link is not retried", n, clock.Sleeps())
			}
		})
	}
}

func TestOpenPDFRetriesTransientFailuresBeforeTheBody(t *testing.T) {
	var n atomic.Int32
	files := newFileServer(t, func(w http.ResponseWriter, r *http.Request) {
		// Connection: close, so the transport does not quietly retry the
		// dropped connection itself.
		w.Header().Set("Connection", "close")
		switch n.Add(1) {
		case 1:
			w.WriteHeader(503)
		case 2:
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			fmt.Fprint(w, "%PDF-1.4 ok")
		}
	})
	c, clock, _ := newTestClient(t, unusedAPI, nil)
	rc, err := c.OpenPDF(context.Background(), files.URL+"/doc.pdf")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(b) != "%PDF-1.4 ok" {
		t.Fatalf("%q %v", b, err)
	}
	if s := c.Stats(); s.Downloads != 3 || s.Retries != 2 || len(clock.Sleeps()) != 2 {
		t.Fatalf("stats %+v, sleeps %v", s, clock.Sleeps())
	}

	always := newFileServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
	c, _, _ = newTestClient(t, unusedAPI, nil)
	_, err = c.OpenPDF(context.Background(), always.URL+"/doc.pdf")
	if ok, _ := clinicsync.IsRetryable(err); clinicsync.ErrorCode(err) != clinicsync.EUnavailable || !ok {
		t.Fatalf("%v", err)
	}
	if n, _ := always.requests(); n != 4 {
		t.Fatalf("%d attempts, want 4", n)
	}
}

func TestOpenPDFStalledBodyFails(t *testing.T) {
	files := newFileServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		fmt.Fprint(w, "%PDF-")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // nothing more, ever
	})
	c, _, _ := newTestClient(t, unusedAPI, func(o *Options) { o.StallAfter = 100 * time.Millisecond })
	rc, err := c.OpenPDF(context.Background(), files.URL+"/doc.pdf?X-Amz-Signature=abc")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	done := make(chan error, 1)
	go func() {
		b, err := io.ReadAll(rc)
		if string(b) != "%PDF-" {
			err = fmt.Errorf("read %q before the stall (%v)", b, err)
		}
		done <- err
	}()
	select {
	case err := <-done:
		var e *clinicsync.Error
		if !errors.As(err, &e) || e.Code != clinicsync.EUnavailable || !e.Retryable || !errors.Is(err, ErrStalled) ||
			!strings.Contains(e.Message, "stalled") {
			t.Fatalf("%v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stalled download hung")
	}
}

// The stall timer measures a blocked read, not the whole download, nor the
// time the caller spends between reads.
func TestOpenPDFSlowButSteadyIsNotAStall(t *testing.T) {
	files := newFileServer(t, func(w http.ResponseWriter, r *http.Request) {
		for range 8 {
			fmt.Fprint(w, "0123456789")
			w.(http.Flusher).Flush()
			time.Sleep(40 * time.Millisecond)
		}
	})
	c, _, _ := newTestClient(t, unusedAPI, func(o *Options) { o.StallAfter = 150 * time.Millisecond })
	rc, err := c.OpenPDF(context.Background(), files.URL+"/doc.pdf")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	time.Sleep(300 * time.Millisecond) // a slow consumer (a disk), not a stalled network
	b, err := io.ReadAll(rc)
	if err != nil || len(b) != 80 {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
}

func TestOpenPDFInterruptedBody(t *testing.T) {
	files := newFileServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		fmt.Fprint(w, "%PDF-1.7 partial")
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	c, _, _ := newTestClient(t, unusedAPI, nil)
	rc, err := c.OpenPDF(context.Background(), files.URL+"/doc.pdf?X-Amz-Signature=abc")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.ReadAll(rc)
	var e *clinicsync.Error
	if !errors.As(err, &e) || e.Code != clinicsync.EUnavailable || !e.Retryable || e.Message != "The download was interrupted." {
		t.Fatalf("%v", err)
	}
}

func TestOpenPDFCanceledWhileReading(t *testing.T) {
	files := newFileServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "%PDF-")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	c, _, _ := newTestClient(t, unusedAPI, nil)
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := c.OpenPDF(ctx, files.URL+"/doc.pdf")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = io.ReadAll(rc)
	if clinicsync.ErrorCode(err) != clinicsync.ECanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
}

func TestOpenPDFRejectsUnusableLinks(t *testing.T) {
	c, _, _ := newTestClient(t, unusedAPI, nil)
	for _, link := range []string{"", "/relative/doc.pdf", "file:///etc/passwd", "ftp://files.example/doc.pdf", "https://", "%zz"} {
		rc, err := c.OpenPDF(context.Background(), link)
		if rc != nil || clinicsync.ErrorCode(err) != clinicsync.EInvalid || clinicsync.ErrorMessage(err) != "The download link is not valid." {
			t.Errorf("OpenPDF(%q): %v", link, err)
		}
	}
	if c.Stats().Downloads != 0 {
		t.Fatal("an unusable link was requested")
	}
}

// Many goroutines list, fetch, confirm and download through one client.
func TestConcurrentUse(t *testing.T) {
	var apiCalls atomic.Int64
	var mux http.ServeMux
	list := newListServer(t, "hydra", false, uuids(230))
	mux.HandleFunc("/documents", func(w http.ResponseWriter, r *http.Request) {
		apiCalls.Add(1)
		w.Header().Set("x-ratelimit-limit", "100000")
		w.Header().Set("x-ratelimit-remaining", "90000")
		w.Header().Set("x-ratelimit-reset", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
		list.serve(w, r)
	})
	mux.HandleFunc("/documents/{uuid}", func(w http.ResponseWriter, r *http.Request) {
		apiCalls.Add(1)
		fmt.Fprint(w, docJSON(r.PathValue("uuid")))
	})
	mux.HandleFunc("POST /documents/{uuid}/status", func(w http.ResponseWriter, r *http.Request) {
		apiCalls.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	api := httptest.NewServer(&mux)
	defer api.Close()
	files := newFileServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "%PDF-1.7 "+r.URL.Path) })
	c, _, _ := newTestClient(t, api.URL, func(o *Options) { o.Now, o.Sleep = nil, nil })

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			ctx := context.Background()
			docs, err := c.ListUnsynchronized(ctx)
			if err != nil || len(docs) != 230 {
				errs <- fmt.Errorf("list: %d docs, %v", len(docs), err)
				return
			}
			for i := g; i < len(docs); i += 40 {
				d, err := c.GetDocument(ctx, docs[i].UUID)
				if err != nil {
					errs <- err
					return
				}
				rc, err := c.OpenPDF(ctx, files.URL+"/"+d.UUID+".pdf")
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(b) != "%PDF-1.7 /"+d.UUID+".pdf" {
					errs <- fmt.Errorf("pdf %q %v", b, err)
					return
				}
				if err := c.SetStatus(ctx, d.UUID, clinicsync.Status{Success: true}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := c.Stats()
	if s.APIRequests != apiCalls.Load() || s.Retries != 0 || s.RateLimit != 100000 {
		t.Fatalf("stats %+v, server saw %d API requests", s, apiCalls.Load())
	}
	if n, withAuth := files.requests(); int64(n) != s.Downloads || withAuth != 0 {
		t.Fatalf("%d downloads (stats %d), %d with a token", n, s.Downloads, withAuth)
	}
}
