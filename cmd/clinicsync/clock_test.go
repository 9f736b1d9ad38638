package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/netclient"
)

// A PC clock 3 minutes ahead of the platform's Date header is said once
// in the activity log (as the commands wire it), however many answers
// show it; the debug log says it too.
func TestClockSkewIsOneActivityLine(t *testing.T) {
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/ld+json")
		io.WriteString(w, `{"hydra:member":[],"hydra:totalItems":0}`)
	}))
	defer platform.Close()
	var debug syncBuffer
	nc, err := netclient.New(netclient.Options{Now: func() time.Time { return time.Now().Add(3 * time.Minute) },
		Getenv: func(string) string { return "" }, System: func() netclient.SystemSettings { return netclient.SystemSettings{} },
		Addrs: func() ([]net.Addr, error) { return nil, nil }, Logger: slog.New(slog.NewTextHandler(&debug, nil))})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	client, err := askara.New(askara.Options{BaseURL: platform.URL, HTTPClient: nc.HTTP(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Config{}, st, client, dest.Layout{Root: t.TempDir()}, nil, nil)
	sayClockSkew(nc, eng)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := client.ListUnsynchronized(ctx); err != nil {
			t.Fatal(err)
		}
	}
	lines, err := eng.Activity(ctx, engine.LogQuery{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range lines {
		if l.Text.Key == activity.ClockAhead {
			n++
			if want := "This PC's clock is 3 minutes ahead of Askara's: sign-in, signed webhooks and download links can fail. Correct this PC's date and time."; l.Message != want || l.Level != engine.LevelWarn {
				t.Errorf("line %q (%s), want %q", l.Message, l.Level, want)
			}
		}
	}
	if n != 1 || len(lines) != 1 {
		t.Fatalf("%d clock lines among %d, want exactly one", n, len(lines))
	}
	if got := debug.String(); !strings.Contains(got, "this PC's clock is off") || !strings.Contains(got, "skew=3m") {
		t.Errorf("debug log: %q", got)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
