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
	"sync/atomic"
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
// loopback, synced by the naive integration and by Clinic Sync one after
// the other in each round, each on a fresh simulator and folder (the
// order alternates) and timed from a settled file system (settle), so
// that the ratio (x-naive: Clinic Sync's docs/s over the naive client's)
// compares the two under the same load of a shared machine. requests/doc, 429s, fsyncs/doc and transactions/doc are Clinic
// Sync's, and so are the pacers' peaks (downloads and confirmations in
// flight at once). BENCH_WORKERS sets [sync] workers (default 16);
// BENCH_DOCS the backlog's size (default 200); BENCH_DIR, where the folders
// and databases go (default: the test's temporary folder).
func BenchmarkBacklogWAN(b *testing.B) {
	docs, _ := strconv.Atoi(os.Getenv("BENCH_DOCS"))
	if docs == 0 {
		docs = 200
	}
	for _, rtt := range []time.Duration{20 * time.Millisecond, 0} {
		b.Run(fmt.Sprintf("rtt=%v", rtt), func(b *testing.B) {
			var naive, cs backlogRun
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				order := []*backlogRun{&naive, &cs}
				if benchRound.Add(1)%2 == 0 {
					order[0], order[1] = order[1], order[0]
				}
				for _, r := range order {
					r.run(b, r == &naive, docs, rtt, int64(i+1))
				}
			}
			b.ReportMetric(cs.docsPerSec(), "docs/s")
			b.ReportMetric(naive.docsPerSec(), "naive-docs/s")
			b.ReportMetric(cs.docsPerSec()/naive.docsPerSec(), "x-naive")
			b.ReportMetric(float64(cs.requests)/float64(cs.docs), "requests/doc")
			b.ReportMetric(float64(naive.requests)/float64(naive.docs), "naive-requests/doc")
			b.ReportMetric(float64(cs.limited), "429s")
			b.ReportMetric(float64(cs.fsyncs)/float64(cs.docs), "fsyncs/doc")
			b.ReportMetric(float64(cs.txs)/float64(cs.docs), "transactions/doc")
			b.ReportMetric(cs.cpu.Seconds()*1000/float64(cs.docs), "cpu-ms/doc")
			b.ReportMetric(naive.cpu.Seconds()*1000/float64(naive.docs), "naive-cpu-ms/doc")
			b.ReportMetric(float64(cs.peakDown), "peak-downloads")
			b.ReportMetric(float64(cs.peakConf), "peak-confirms")
		})
	}
}

var benchRound atomic.Int64

// backlogRun adds up the rounds of one client.
type backlogRun struct {
	elapsed, cpu       time.Duration
	docs, requests     int
	limited            int
	fsyncs, txs        int64
	peakDown, peakConf int
}

func (r *backlogRun) docsPerSec() float64 { return float64(r.docs) / r.elapsed.Seconds() }

// run syncs one backlog of docs with the naive client or Clinic Sync; only
// the sync itself is timed.
func (r *backlogRun) run(b *testing.B, naive bool, docs int, rtt time.Duration, seed int64) {
	s, ts := backlogSim(b, docs, rtt, seed)
	defer ts.Close()
	dir := b.TempDir()
	if d := os.Getenv("BENCH_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "backlog-"); err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	root := filepath.Join(dir, "Patients")
	os.Mkdir(root, 0o755)
	var sync func() (int, error)
	var eng *Engine
	if naive {
		s.SetToken("naive-token")
		sync = func() (int, error) { return naiveSync(context.Background(), ts.URL, "naive-token", root) }
	} else {
		st, err := store.Open(filepath.Join(dir, "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		client, _ := askara.New(askara.Options{BaseURL: ts.URL,
			TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "bench"})})
		eng = New(Config{SoftwareID: "bench", Workers: benchWorkers}, st, client, dest.Layout{Root: root}, nil, nil)
		sync = func() (int, error) {
			res, err := eng.Pass(context.Background())
			return res.Confirmed, err
		}
	}
	settle()
	f0, t0 := dest.Fsyncs(), store.Transactions()
	b.StartTimer()
	start, cpu0 := time.Now(), processCPU()
	n, err := sync()
	r.elapsed += time.Since(start)
	r.cpu += processCPU() - cpu0
	b.StopTimer()
	if err != nil || n != docs {
		b.Fatalf("naive %v: %d of %d, %v", naive, n, docs, err)
	}
	stats := s.Stats()
	r.docs += docs
	r.requests += stats.APIRequests
	r.limited += stats.RateLimited
	if eng != nil {
		r.fsyncs += dest.Fsyncs() - f0
		r.txs += store.Transactions() - t0
		down, conf := eng.paceStats()
		r.peakDown, r.peakConf = max(r.peakDown, down.Peak), max(r.peakConf, conf.Peak)
	}
}

var benchWorkers = func() int {
	n, _ := strconv.Atoi(os.Getenv("BENCH_WORKERS"))
	return n
}()
