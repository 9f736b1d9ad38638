package relay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/store"
)

// deliver sends n signed Askara deliveries from `senders` goroutines to url
// and returns the acknowledgement latencies, sorted.
func deliver(b *testing.B, url string, n, senders int) []time.Duration {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	next := make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
	}()
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id := fmt.Sprintf("bench-%d-%d", b.N, i)
				body := askaraEnvelope(id, "new_document", id+".pdf")
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				sign(req.Header, "msg-"+id, time.Now(), body)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	client.CloseIdleConnections()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat
}

func pct(lat []time.Duration, p int) float64 {
	if len(lat) == 0 {
		return 0
	}
	return float64(lat[min(len(lat)*p/100, len(lat)-1)].Microseconds()) / 1000
}

// BenchmarkRelayAck: 1,000 signed deliveries from 50 concurrent senders,
// each verified, parsed and committed to the SQLite inbox (synchronous=FULL,
// group commit) before its 200, beside a bare net/http handler that only
// reads the body, in the same run.
func BenchmarkRelayAck(b *testing.B) {
	const n, senders = 1000, 50
	var relayLat, bareLat []time.Duration
	for i := 0; i < b.N; i++ {
		st, err := store.Open(filepath.Join(b.TempDir(), "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		sink := &recorder{block: make(chan struct{})} // measure receiving, not processing
		srv, err := New(Options{Listen: "127.0.0.1:0", Secrets: map[string]string{"askara": testSecret}, Store: st, Sink: sink})
		if err != nil {
			b.Fatal(err)
		}
		addr, err := srv.Start(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		relayLat = deliver(b, "http://"+addr+"/webhooks/askara", n, senders)
		close(sink.block)
		srv.Close(context.Background())
		st.Close()

		bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(200)
			w.Write([]byte(`{"status":"accepted"}`))
		}))
		bareLat = deliver(b, bare.URL+"/webhooks/askara", n, senders)
		bare.Close()
	}
	b.ReportMetric(pct(relayLat, 50), "relay-p50-ms")
	b.ReportMetric(pct(relayLat, 99), "relay-p99-ms")
	b.ReportMetric(pct(bareLat, 50), "bare-p50-ms")
	b.ReportMetric(pct(bareLat, 99), "bare-p99-ms")
	b.Logf("%d deliveries, %d senders: relay p50 %.2f ms p99 %.2f ms; bare handler p50 %.2f ms p99 %.2f ms; p99 ratio %.1f×",
		n, senders, pct(relayLat, 50), pct(relayLat, 99), pct(bareLat, 50), pct(bareLat, 99), pct(relayLat, 99)/max(pct(bareLat, 99), 0.001))
}
