package sim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStartClose(t *testing.T) {
	s := New(Options{Documents: 2, Seed: 12})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Fatal("second Start succeeded")
	}
	c := &tclient{t: t, base: base, hc: &http.Client{Timeout: 5 * time.Second}, token: "t"}
	if resp, b := c.do("GET", "/healthz", ""); resp.StatusCode != 200 || string(b) != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", resp.StatusCode, b)
	}
	_, b := c.do("GET", "/documents", "")
	link := decodePage(t, FormatHydra, b).items[0].PDF.URL
	if !strings.HasPrefix(link, base+"/files/") {
		t.Fatalf("link %s does not use %s", link, base)
	}
	if resp, _ := c.do("GET", link, ""); resp.StatusCode != 200 {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close() // idempotent
	if _, _, err := c.try("GET", "/healthz", ""); err == nil {
		t.Fatal("server still answers after Close")
	}

	// Listening on every interface: links follow the request's Host.
	s2 := New(Options{Documents: 1})
	base2, err := s2.Start(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	port := base2[strings.LastIndex(base2, ":"):]
	if !strings.HasPrefix(base2, "http://127.0.0.1:") {
		t.Fatalf("base %s", base2)
	}
	c2 := &tclient{t: t, base: "http://localhost" + port, hc: &http.Client{Timeout: 5 * time.Second}, token: "t"}
	_, b = c2.do("GET", "/documents", "")
	if link := decodePage(t, FormatHydra, b).items[0].PDF.URL; !strings.HasPrefix(link, "http://localhost"+port+"/files/") {
		t.Fatalf("link %s", link)
	}
}

func TestLatency(t *testing.T) {
	s := New(Options{Documents: 1, Latency: 60 * time.Millisecond})
	c := start(t, s)
	t0 := time.Now()
	_, b := c.do("GET", "/documents", "")
	if d := time.Since(t0); d < 60*time.Millisecond {
		t.Fatalf("API answered in %v", d)
	}
	link := decodePage(t, FormatHydra, b).items[0].PDF.URL
	// Downloads are not delayed: three take less than three API calls would.
	t0 = time.Now()
	for range 3 {
		c.do("GET", link, "")
	}
	if d := time.Since(t0); d >= 180*time.Millisecond {
		t.Fatalf("downloads delayed: %v", d)
	}
	// Close cuts a wait short with a reset, not an empty 200.
	done := make(chan error, 1)
	go func() {
		_, _, err := c.try("POST", "/documents/"+s.Expected()[0].UUID+"/status", `{"success":true}`)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	if err := <-done; err == nil || s.Synchronized(s.Expected()[0].UUID) {
		t.Fatalf("request during Close: err %v", err)
	}
}
