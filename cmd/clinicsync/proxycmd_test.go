package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/clinicsync/clinicsync/sync/auth"
	"github.com/clinicsync/clinicsync/sync/config"
)

// `proxy login --user` keeps the password read from standard input in the
// keychain (never on the command line or in the file), `proxy show` says
// the proxy in effect and where it came from, `proxy logout` removes the
// sign-in.
func TestProxyCommand(t *testing.T) {
	keyring.MockInit()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Destination.Root = dir
	cfg.Network.Proxy = "http://proxy.clinic.lan:3128"
	cfgPath := filepath.Join(dir, "config.toml")
	if err := cfg.Save(cfgPath); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("NO_PROXY", "")
	run := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: io.Discard}
		defer e.close()
		err := cmdProxy(context.Background(), e, append(args, "--config", cfgPath, "--data-dir", filepath.Join(dir, "data")))
		return out.String(), err
	}
	if _, err := run("s3cret\n", "login"); err == nil {
		t.Fatal("login without --user accepted")
	}
	if _, err := run("", "login", "--user", `CLINIC\nurse`); err == nil {
		t.Fatal("login without a password accepted")
	}
	if out, err := run("s3cret\n", "login", "--user", `CLINIC\nurse`); err != nil || strings.Contains(out, "s3cret") {
		t.Fatalf("login: %q %v", out, err)
	}
	if u, p, ok := auth.ProxyCredentials(keychainService); !ok || u != `CLINIC\nurse` || p != "s3cret" {
		t.Fatalf("kept %q %q %v", u, p, ok)
	}
	out, err := run("", "show")
	if err != nil || !strings.Contains(out, "https://api.askara.ai: http://proxy.clinic.lan:3128, from the configuration file ([network] proxy)") ||
		!strings.Contains(out, "Proxy sign-in kept in the keychain: true") || strings.Contains(out, "s3cret") {
		t.Fatalf("show: %q %v", out, err)
	}
	if _, err := run("", "logout"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := auth.ProxyCredentials(keychainService); ok {
		t.Fatal("still kept after logout")
	}
}
