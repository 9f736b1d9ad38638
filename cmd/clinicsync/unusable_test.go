package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// A listed document that cannot be used (it has no uuid) is left out and
// said once in the activity log, as the commands wire the client, however
// often it is listed (issue 13: never dropped silently).
func TestUnusableListedDocumentIsOneActivityLine(t *testing.T) {
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/ld+json")
		fmt.Fprint(w, `{"hydra:member":[{"type":"referral_letter","patient":{"lastName":"Secretname"}}]}`)
	}))
	defer platform.Close()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	client, err := askara.New(askara.Options{BaseURL: platform.URL, TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{cfg: config.Default(), store: st, log: slog.New(slog.DiscardHandler)}
	e.cfg.Destination.Root = t.TempDir()
	eng := e.newEngine(client)
	ctx := context.Background()
	for range 3 {
		if docs, err := client.ListUnsynchronized(ctx); err != nil || len(docs) != 0 {
			t.Fatalf("%v, %v", docs, err)
		}
	}
	lines, err := eng.Activity(ctx, engine.LogQuery{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	want := "Askara listed a document that cannot be used (uuid is missing); it is left out."
	if len(lines) != 1 || lines[0].Text.Key != activity.DocumentUnusable || lines[0].Message != want || lines[0].Level != engine.LevelWarn {
		t.Fatalf("lines %+v, want one %q", lines, want)
	}
}
