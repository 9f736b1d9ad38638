package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/store"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// naiveSync is the integration the Askara guide's own example describes,
// written as a baseline: one list, then for each document, one after the
// other, a GET of the document for its link, the whole PDF read into
// memory, the file written, and the status posted. It uses a plain
// net/http client, none of Clinic Sync's code.
func naiveSync(ctx context.Context, base, token, root string) (int, error) {
	hc := &http.Client{}
	call := func(method, u string, body []byte, out any) error {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %d", method, u, resp.StatusCode)
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
	type doc struct {
		UUID    string             `json:"uuid"`
		Patient clinicsync.Patient `json:"patient"`
		PDF     struct {
			URL      string `json:"url"`
			FileName string `json:"fileName"`
		} `json:"pdf"`
	}
	var all []doc
	for page := 1; ; page++ {
		var coll struct {
			Member []doc `json:"hydra:member"`
		}
		if err := call(http.MethodGet, base+"/documents?synchronized=false&page="+strconv.Itoa(page), nil, &coll); err != nil {
			return 0, err
		}
		if len(coll.Member) == 0 {
			break
		}
		all = append(all, coll.Member...)
	}
	for _, d := range all {
		var full doc
		if err := call(http.MethodGet, base+"/documents/"+url.PathEscape(d.UUID), nil, &full); err != nil {
			return 0, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, full.PDF.URL, nil)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		pdf, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		dir := filepath.Join(root, d.Patient.LastName+"_"+d.Patient.FirstName)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
		path := filepath.Join(dir, full.PDF.FileName)
		if err := os.WriteFile(path, pdf, 0o644); err != nil {
			return 0, err
		}
		st, _ := json.Marshal(map[string]any{"success": true, "directory": "naive", "path": path})
		if err := call(http.MethodPost, base+"/documents/"+url.PathEscape(d.UUID)+"/status", st, nil); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}

// backlogSim is a backlog of n documents of 50-400 KB over n/4 patients,
// every request (API and file host) answered rtt late.
func backlogSim(b *testing.B, n int, rtt time.Duration, seed int64) (*sim.Server, *httptest.Server) {
	s := sim.New(sim.Options{Seed: seed, Latency: rtt, FileLatency: rtt})
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	for i := range n {
		p := clinicsync.Patient{FirstName: fmt.Sprintf("First%d", i%(n/4+1)), LastName: fmt.Sprintf("Last%d", i%(n/4+1))}
		s.AddDocument(sim.Fixture{Doc: clinicsync.Document{Patient: p, PDF: clinicsync.PDF{FileName: fmt.Sprintf("doc_%04d.pdf", i)}},
			Content: sim.ValidPDF(50<<10 + rng.Int64N(350<<10))})
	}
	ts := httptest.NewServer(s)
	s.SetBaseURL(ts.URL)
	return s, ts
}

// BenchmarkBacklogWAN is issue 17's measure: a backlog of 200 documents of
// 50-400 KB, each request 20 ms late (a WAN round trip) and then on
// loopback, synced by Clinic Sync and by the naive integration in the
// same run. Compare docs/s side by side; requests/doc and 429s are
// Clinic Sync's.
func BenchmarkBacklogWAN(b *testing.B) {
	const docs = 200
	for _, rtt := range []time.Duration{20 * time.Millisecond, 0} {
		for _, who := range []string{"clinicsync", "naive"} {
			b.Run(fmt.Sprintf("rtt=%v/%s", rtt, who), func(b *testing.B) {
				var elapsed time.Duration
				var requests, limited, total int
				var fsyncs, txs int64
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					s, ts := backlogSim(b, docs, rtt, int64(i+1))
					dir := b.TempDir()
					root := filepath.Join(dir, "Patients")
					os.Mkdir(root, 0o755)
					var run func() (int, error)
					var st *store.Store
					switch who {
					case "naive":
						s.SetToken("naive-token")
						run = func() (int, error) { return naiveSync(context.Background(), ts.URL, "naive-token", root) }
					default:
						var err error
						if st, err = store.Open(filepath.Join(dir, "state.db")); err != nil {
							b.Fatal(err)
						}
						client, _ := askara.New(askara.Options{BaseURL: ts.URL,
							TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "bench"})})
						eng := New(Config{SoftwareID: "bench", Workers: benchWorkers}, st, client, dest.Layout{Root: root}, nil, nil)
						run = func() (int, error) {
							res, err := eng.Pass(context.Background())
							return res.Confirmed, err
						}
					}
					f0, t0 := dest.Fsyncs(), store.Transactions()
					b.StartTimer()
					start := time.Now()
					n, err := run()
					elapsed += time.Since(start)
					b.StopTimer()
					fsyncs += dest.Fsyncs() - f0
					txs += store.Transactions() - t0
					if err != nil || n != docs {
						b.Fatalf("%s: %d of %d, %v", who, n, docs, err)
					}
					stats := s.Stats()
					requests += stats.APIRequests
					limited += stats.RateLimited
					total += docs
					if st != nil {
						st.Close()
					}
					ts.Close()
				}
				b.ReportMetric(float64(total)/elapsed.Seconds(), "docs/s")
				b.ReportMetric(float64(requests)/float64(total), "requests/doc")
				b.ReportMetric(float64(limited), "429s")
				if who == "clinicsync" {
					b.ReportMetric(float64(fsyncs)/float64(total), "fsyncs/doc")
					b.ReportMetric(float64(txs)/float64(total), "transactions/doc")
				}
			})
		}
	}
}

var benchWorkers = func() int {
	n, _ := strconv.Atoi(os.Getenv("BENCH_WORKERS"))
	return n
}()
