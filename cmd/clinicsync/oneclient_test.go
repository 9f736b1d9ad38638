package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/sim"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// approver approves a device sign-in on the simulator's page as soon as
// the command prints its code, as a person on another device would.
type approver struct {
	base string
	mu   sync.Mutex
	buf  bytes.Buffer
	done bool
}

func (a *approver) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf.Write(p)
	if m := regexp.MustCompile(`\n\s+([A-Z0-9-]{6,})\s*\n`).FindStringSubmatch(a.buf.String()); m != nil && !a.done {
		a.done = true
		go http.PostForm(a.base+"/device", url.Values{"user_code": {m[1]}, "action": {"allow"}})
	}
	return len(p), nil
}

// Every platform call goes through the one client the commands build
// (sync/netclient, through env.net): a round tripper injected there once
// sees each kind of call, the device code, the token and its refresh,
// /me, the list, one document, the PDF download, the status report, the
// webhook registration and its removal, and the revocation; and the
// platform receives no request that it did not see.
func TestEveryPlatformCallGoesThroughTheOneClient(t *testing.T) {
	keyring.MockInit()
	t.Setenv("CLINICSYNC_ACCESS_TOKEN", "")
	s := sim.New(sim.Options{Documents: 3, Patients: 1, Seed: 41, OAuth: true, DeviceInterval: time.Second})
	var mu sync.Mutex
	var atServer, viaClient []string
	grants := map[string]int{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/device" { // the person's browser, not Clinic Sync
			mu.Lock()
			atServer = append(atServer, r.Method+" "+r.URL.Path)
			if r.URL.Path == "/oauth2/token" {
				b, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(b))
				q, _ := url.ParseQuery(string(b))
				grants[q.Get("grant_type")]++
			}
			mu.Unlock()
		}
		s.ServeHTTP(w, r)
	}))
	defer ts.Close()
	s.SetBaseURL(ts.URL)

	dir := t.TempDir()
	root := filepath.Join(dir, "Patients")
	os.Mkdir(root, 0o755)
	cfg := config.Default()
	cfg.Askara.APIURL = ts.URL
	cfg.Askara.AuthorizeURL = ts.URL + "/authorize"
	cfg.Askara.TokenURL = ts.URL + "/oauth2/token"
	cfg.Askara.DeviceURL = ts.URL + "/oauth2/device"
	cfg.Askara.RevokeURL = ts.URL + "/oauth2/revoke"
	cfg.Destination.Root = root
	cfgPath := filepath.Join(dir, "config.toml")
	if err := cfg.Save(cfgPath); err != nil {
		t.Fatal(err)
	}
	record := func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			viaClient = append(viaClient, r.Method+" "+r.URL.Path)
			mu.Unlock()
			return next.RoundTrip(r)
		})
	}
	newEnv := func(out io.Writer) *env {
		return &env{stdin: strings.NewReader(""), stdout: out, stderr: io.Discard, httpWrap: record}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(name string, f func(context.Context, *env, []string) error, out io.Writer, args ...string) *env {
		t.Helper()
		e := newEnv(out)
		t.Cleanup(e.close)
		if err := f(ctx, e, append(args, "--config", cfgPath, "--data-dir", filepath.Join(dir, "data"))); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return e
	}

	// Sign-in with a device code (device code, token, /me).
	run("login --device", cmdLogin, &approver{base: ts.URL}, "--device")
	// A pass (the refresh of the kept sign-in, the list, the PDFs, the
	// status reports).
	e := run("sync", cmdSync, &bytes.Buffer{})
	// One document, /me, a webhook registered and removed, with the
	// client the commands build.
	_, client, err := e.engine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetDocument(ctx, s.Expected()[0].UUID); err != nil {
		t.Fatalf("GET document: %v", err)
	}
	if _, err := client.Me(ctx); err != nil {
		t.Fatal(err)
	}
	hook, err := client.CreateWebhook(ctx, "https://relay.clinic.example/webhooks/askara", []string{"new_document"})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.RemoveWebhook(ctx, hook.ID); err != nil {
		t.Fatal(err)
	}
	// Sign-out (revocation).
	run("logout", cmdLogout, &bytes.Buffer{})

	mu.Lock()
	defer mu.Unlock()
	a, v := slices.Clone(atServer), slices.Clone(viaClient)
	slices.Sort(a)
	slices.Sort(v)
	if !slices.Equal(a, v) {
		t.Errorf("the platform received requests the client did not see:\nat the platform:\n  %s\nthrough the client:\n  %s",
			strings.Join(a, "\n  "), strings.Join(v, "\n  "))
	}
	doc := s.Expected()[0].UUID
	has := func(pattern string) bool {
		re := regexp.MustCompile("^" + pattern + "$")
		return slices.ContainsFunc(v, re.MatchString)
	}
	for _, want := range []string{
		"POST /oauth2/device", "POST /oauth2/token", "GET /me", "GET /documents",
		"GET /documents/" + regexp.QuoteMeta(doc), "POST /documents/[^/]+/status",
		"GET /files/.+", "POST /webhooks", "DELETE /webhooks/.+", "POST /oauth2/revoke",
	} {
		if !has(want) {
			t.Errorf("no %q through the client; it saw:\n  %s", want, strings.Join(v, "\n  "))
		}
	}
	if grants["urn:ietf:params:oauth:grant-type:device_code"] == 0 || grants["refresh_token"] == 0 {
		t.Errorf("token grants seen: %v; want the device code's and a refresh", grants)
	}
}
