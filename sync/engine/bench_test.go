package engine

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// withoutLinks is the baseline integration the seed also describes: ignore
// the pdf data embedded in the list and GET every document for its link.
type withoutLinks struct{ clinicsync.Remote }

func (w withoutLinks) ListUnsynchronized(ctx context.Context) ([]clinicsync.Document, error) {
	docs, err := w.Remote.ListUnsynchronized(ctx)
	for i := range docs {
		docs[i].PDF.URL = ""
	}
	return docs, err
}

// BenchmarkBacklog syncs a 2,000-document backlog from the simulator over
// HTTP into a real folder and SQLite file, and reports documents per second
// and API requests per document, beside the per-document-GET baseline.
func BenchmarkBacklog(b *testing.B) {
	const docs = 2000
	for _, bc := range []struct {
		name string
		wrap func(clinicsync.Remote) clinicsync.Remote
	}{
		{"embedded-list", func(r clinicsync.Remote) clinicsync.Remote { return r }},
		{"baseline-get-per-document", func(r clinicsync.Remote) clinicsync.Remote { return withoutLinks{r} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var elapsed time.Duration
			var requests, total int
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := sim.New(sim.Options{Documents: docs, Patients: 200, Seed: int64(i + 1)})
				ts := httptest.NewServer(s)
				s.SetBaseURL(ts.URL)
				dir := b.TempDir()
				root := filepath.Join(dir, "Patients")
				os.Mkdir(root, 0o755)
				st, err := store.Open(filepath.Join(dir, "state.db"))
				if err != nil {
					b.Fatal(err)
				}
				client, _ := askara.New(askara.Options{BaseURL: ts.URL,
					TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "bench"})})
				eng := New(Config{SoftwareID: "bench"}, st, bc.wrap(client), dest.Layout{Root: root}, nil, nil)
				b.StartTimer()
				start := time.Now()
				res, err := eng.Pass(context.Background())
				elapsed += time.Since(start)
				b.StopTimer()
				if err != nil || res.Confirmed != docs {
					b.Fatalf("pass: %+v %v", res, err)
				}
				requests += s.Stats().APIRequests
				total += docs
				st.Close()
				ts.Close()
			}
			b.ReportMetric(float64(total)/elapsed.Seconds(), "docs/s")
			b.ReportMetric(float64(requests)/float64(total), "requests/doc")
		})
	}
}
