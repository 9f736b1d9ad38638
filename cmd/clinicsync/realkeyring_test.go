//go:build realkeyring

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// TestRealKeychainKillAfterRefresh runs with a real Secret Service (make
// keychain-test), so the child processes share the keychain. The real
// binary is killed with SIGKILL the moment the token endpoint has sent a
// refresh response. Design: the new refresh token is saved to the keychain
// before the new access token is used, so the next start is signed in when
// the save happened; when the kill came before the save, the reused refresh
// token is detected by the server and the next start says "sign in again".
// Either way no document is lost, and a sign-in afterwards finishes the job.
func TestRealKeychainKillAfterRefresh(t *testing.T) {
	s := sim.New(sim.Options{Documents: 10, Patients: 2, Seed: 3, OAuth: true, AutoApprove: true})
	var child atomic.Pointer[os.Process]
	var kills atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isRefresh := false
		if r.URL.Path == "/oauth2/token" {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			q, _ := url.ParseQuery(string(b))
			isRefresh = q.Get("grant_type") == "refresh_token"
		}
		s.ServeHTTP(w, r)
		if p := child.Load(); isRefresh && p != nil {
			w.(http.Flusher).Flush()
			time.Sleep(2 * time.Millisecond) // the response is on its way
			if p.Signal(syscall.SIGKILL) == nil {
				kills.Add(1)
			}
		}
	}))
	defer ts.Close()
	s.SetBaseURL(ts.URL)
	dir := t.TempDir()
	root := filepath.Join(dir, "Patients")
	os.Mkdir(root, 0o755)
	cfg := config.Default()
	cfg.Askara.APIURL, cfg.Askara.AuthorizeURL, cfg.Askara.TokenURL = ts.URL, ts.URL+"/authorize", ts.URL+"/oauth2/token"
	cfg.Askara.RevokeURL, cfg.Askara.RedirectPort, cfg.Destination.Root = ts.URL+"/oauth2/revoke", 0, root
	cfgPath := filepath.Join(dir, "config.toml")
	cfg.Save(cfgPath)
	env := append(os.Environ(), "CLINICSYNC_ACCESS_TOKEN=", "CLINICSYNC_CONFIG="+cfgPath, "CLINICSYNC_DATA_DIR="+filepath.Join(dir, "data"))

	login := func() {
		t.Helper()
		c := binCmd(env, "login", "--no-browser")
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, _ := c.StdoutPipe()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		var seen bytes.Buffer
		for !regexp.MustCompile(`https?://\S+/authorize\?\S+`).Match(seen.Bytes()) {
			n, err := out.Read(buf)
			seen.Write(buf[:n])
			if err != nil {
				t.Fatalf("login printed no address: %s", seen.String())
			}
		}
		resp, err := http.Get(regexp.MustCompile(`https?://\S+/authorize\?\S+`).FindString(seen.String()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		go io.Copy(io.Discard, out)
		if err := c.Wait(); err != nil {
			t.Fatalf("login: %v %s", err, stderr.String())
		}
	}
	defer binCmd(env, "logout").Run()
	login()

	s.ExpireAccessTokens() // the next API call needs a refresh
	c := binCmd(env, "sync")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	child.Store(c.Process)
	c.Wait()
	child.Store(nil)
	if kills.Load() == 0 {
		t.Fatal("the child was not killed after a refresh")
	}

	var out, errb bytes.Buffer
	c = binCmd(env, "sync")
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	switch {
	case err == nil:
		t.Logf("after the kill: still signed in (the new refresh token was saved first)")
	case strings.Contains(errb.String(), "sign in again"):
		t.Logf("after the kill: reuse detected, clear message: %s", strings.TrimSpace(errb.String()))
		login()
		if err := binCmd(env, "sync").Run(); err != nil {
			t.Fatalf("sync after signing in again: %v", err)
		}
	default:
		t.Fatalf("after the kill: %v\n%s%s", err, out.String(), errb.String())
	}
	synced := 0
	for _, x := range s.Expected() {
		if s.Synchronized(x.UUID) {
			synced++
		}
	}
	if synced != 10 {
		t.Fatalf("%d of 10 documents synchronized", synced)
	}
}

func binCmd(env []string, args ...string) *exec.Cmd {
	c := exec.CommandContext(context.Background(), binary, args...)
	c.Env = env
	return c
}
