package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// DNS rebinding (issue 11, item 2): a web page whose own name now resolves
// to 127.0.0.1 can post "same-origin" JSON to the relay. The relay answers
// only to its own names, and refuses a browser's cross-site headers on the
// webhook paths; each refusal is JSON, counted, and stores nothing.
func TestRelayAnswersOnlyToItsOwnHostAndNoBrowser(t *testing.T) {
	r := newRelayRig(t, Options{AllowUnsigned: true, Enabled: []string{"askara"},
		PublicURL: "https://hooks.clinic.example/relay"})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(r.url, "http://"))
	body := askaraEnvelope("doc-h", "new_document", "h.pdf")
	send := func(path, host string, h map[string]string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, r.url+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Host = host
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v", path, host, err)
		}
		return resp.StatusCode, out
	}
	refused := []struct {
		name, path, host string
		h                map[string]string
		status           int
		code             string
	}{
		{"rebound name", "/webhooks/askara", "attacker.example:" + port, nil, 421, "wrong_host"},
		{"rebound name without port", "/webhooks/askara", "attacker.example", nil, 421, "wrong_host"},
		{"loopback, other port", "/webhooks/askara", "127.0.0.1:1", nil, 421, "wrong_host"},
		{"public host, other port", "/webhooks/askara", "hooks.clinic.example:8443", nil, 421, "wrong_host"},
		{"LAN address", "/webhooks/askara", "192.168.1.20:" + port, nil, 421, "wrong_host"},
		{"health check, rebound name", "/healthz", "attacker.example:" + port, nil, 421, "wrong_host"},
		{"Origin", "/webhooks/askara", "127.0.0.1:" + port, map[string]string{"Origin": "http://127.0.0.1:" + port}, 403, "browser_request"},
		{"Origin null", "/webhooks/askara", "localhost:" + port, map[string]string{"Origin": "null"}, 403, "browser_request"},
		{"Sec-Fetch-Site same-origin", "/webhooks/askara", "localhost:" + port, map[string]string{"Sec-Fetch-Site": "same-origin"}, 403, "browser_request"},
		{"Sec-Fetch-Site cross-site", "/webhooks/askara", "localhost:" + port, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "browser_request"},
	}
	for _, c := range refused {
		code, out := send(c.path, c.host, c.h)
		if code != c.status || out["error"] != c.code || out["message"] == "" {
			t.Errorf("%s: %d %v, want %d %s", c.name, code, out, c.status, c.code)
		}
	}
	if st, _ := r.st.InboxStats(context.Background()); len(st.Counts) != 0 {
		t.Fatalf("refused requests were stored: %v", st.Counts)
	}
	st := r.srv.Stats()
	if st.Refused["askara: wrong_host"] != 5 || st.Refused["unknown: wrong_host"] != 1 || st.Refused["askara: browser_request"] != 4 {
		t.Fatalf("refusals counted %v", st.Refused)
	}
	_, notes := r.sink.snapshot()
	if j := strings.Join(notes, "\n"); !strings.Contains(j, "(HTTP 421)") || !strings.Contains(j, "(HTTP 403)") {
		t.Fatalf("refusals not in the activity log:\n%s", j)
	}

	// What the relay does answer to.
	for i, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST.:" + port, "[::1]:" + port,
		"hooks.clinic.example", "hooks.clinic.example:443", "Hooks.Clinic.Example."} {
		body = askaraEnvelope("doc-ok-"+string(rune('a'+i)), "new_document", "ok.pdf")
		if code, out := send("/webhooks/askara", host, map[string]string{"Sec-Fetch-Site": "none"}); code != 200 {
			t.Errorf("Host %q: %d %v", host, code, out)
		}
	}
	// A new public URL applies at once; the old host is refused.
	r.srv.SetPublicURL("https://relay.other.example:8443")
	body = askaraEnvelope("doc-new", "new_document", "n.pdf")
	if code, _ := send("/webhooks/askara", "relay.other.example:8443", nil); code != 200 {
		t.Errorf("new public host: %d", code)
	}
	if code, _ := send("/webhooks/askara", "hooks.clinic.example", nil); code != 421 {
		t.Errorf("old public host: %d", code)
	}
}

// On every address (a LAN listener, all platforms signed), the relay
// answers to IP addresses with its port (an IP literal cannot be rebound)
// and still refuses names that are not its own.
func TestRelayOnAllAddressesRefusesForeignNames(t *testing.T) {
	r := newRelayRig(t, Options{Listen: "0.0.0.0:0", Enabled: []string{"askara"}, Secrets: map[string]string{"askara": testSecret}})
	_, port, _ := net.SplitHostPort(r.srv.ln.Addr().String())
	r.url = "http://127.0.0.1:" + port
	body := askaraEnvelope("doc-l", "new_document", "l.pdf")
	for host, want := range map[string]int{"192.168.1.20:" + port: 200, "attacker.example:" + port: 421, "192.168.1.20:1": 421} {
		req, _ := http.NewRequest(http.MethodPost, r.url+"/webhooks/askara", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Host = host
		sign(req.Header, "m-"+host, time.Now(), body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want == 200 && resp.StatusCode == 421 || want == 421 && resp.StatusCode != 421 {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
}
