package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// The pdf link of an unsigned event is followed only when the API itself
// uses its origin (issue 11, item 2): a local web page that posts an
// unsigned event naming a loopback URL of its choice gets no request to
// that URL and no file from it; the document is fetched from the API.
func TestUnsignedEventLinkFollowedOnlyToTheAPIsOwnHosts(t *testing.T) {
	r := newRig(t, sim.Options{Seed: 11})
	ctx := context.Background()
	var hits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/pdf")
		w.Write(sim.PDFBytes(1, "evil", 4096))
	}))
	defer evil.Close()

	d := r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{FirstName: "Ada", LastName: "Lovelace"},
		PDF: clinicsync.PDF{FileName: "letter.pdf"}}})
	forged := clinicsync.Document{UUID: d.UUID, Patient: clinicsync.Patient{FirstName: "Eve", LastName: "Forged"},
		PDF: clinicsync.PDF{URL: evil.URL + "/router-admin.pdf", FileName: "evil.pdf"}}
	out, err := r.eng.Push(ctx, clinicsync.DocumentEvent{Document: forged, Action: "new_document", Verified: false})
	if err != nil || out != "saved and confirmed" {
		t.Fatalf("push: %q %v", out, err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the unsigned event's link was fetched %d times", n)
	}
	want := filepath.Join("LOVELACE_ADA", "letter.pdf")
	got := files(t, r.root)
	if len(got) != 1 || got[want] == "" || got[want] != r.sim.Expected()[0].SHA256 {
		t.Fatalf("files %v, want the API's document at %s", got, want)
	}

	// A uuid the API does not know: nothing fetched, nothing written.
	ghost := forged
	ghost.UUID = "00000000-0000-4000-8000-00000000dead"
	if _, err := r.eng.Push(ctx, clinicsync.DocumentEvent{Document: ghost, Action: "new_document", Verified: false}); err == nil {
		t.Fatal("an unknown document was pushed")
	}
	if hits.Load() != 0 || len(files(t, r.root)) != 1 {
		t.Fatal("an unsigned event for an unknown document fetched or wrote something")
	}

	// A link on the API's own origin is followed as it is: no extra GET.
	d2 := r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{LastName: "Hopper"},
		PDF: clinicsync.PDF{FileName: "b.pdf"}}})
	docs, err := r.client.ListUnsynchronized(ctx)
	if err != nil || len(docs) != 1 || docs[0].UUID != d2.UUID {
		t.Fatalf("list %v %v", docs, err)
	}
	before := r.sim.Stats().APIRequests
	if out, err := r.eng.Push(ctx, clinicsync.DocumentEvent{Document: docs[0], Action: "new_document", Verified: false}); err != nil || out != "saved and confirmed" {
		t.Fatalf("push with the API's link: %q %v", out, err)
	}
	if n := r.sim.Stats().APIRequests - before; n != 1 {
		t.Fatalf("%d API requests, want 1 (the status call)", n)
	}

	// A signed event is the platform's word: its link is followed.
	d3 := r.sim.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: clinicsync.Patient{LastName: "Curie"},
		PDF: clinicsync.PDF{FileName: "c.pdf"}}})
	signed := d3
	signed.PDF.URL = evil.URL + "/storage/c.pdf"
	if _, err := r.eng.Push(ctx, clinicsync.DocumentEvent{Document: signed, Action: "new_document", Verified: true}); err != nil || hits.Load() != 1 {
		t.Fatalf("signed event: %v, %d fetches", err, hits.Load())
	}
}
