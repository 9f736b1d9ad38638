package update_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"aead.dev/minisign"

	"github.com/clinicsync/clinicsync/sync/sim"
	"github.com/clinicsync/clinicsync/sync/update"
)

// rig is the simulator's update server and an Updater that trusts the
// demo key, with a runner that records what it was asked to run.
type rig struct {
	sim  *sim.Server
	url  string
	dir  string
	log  *logBuf
	mu   sync.Mutex
	ran  []string
	opts update.Options
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newRig(t *testing.T) *rig {
	s := sim.New(sim.Options{Seed: 1})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	r := &rig{sim: s, url: ts.URL + sim.UpdatePath, dir: filepath.Join(t.TempDir(), "updates"), log: &logBuf{}}
	r.opts = update.Options{Enabled: true, URL: r.url, Current: "1.2.0", Key: sim.DemoUpdateKey, Dir: r.dir,
		Log: slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Run: func(p string) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.ran = append(r.ran, p)
			return nil
		}}
	return r
}

func (r *rig) runs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ran...)
}

// A good manifest, signed by the trusted key, for a newer version: the
// file is downloaded to the data folder, verified and offered; Install
// runs that file.
func TestGoodManifestIsOffered(t *testing.T) {
	r := newRig(t)
	u := update.New(r.opts)
	of, err := u.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if of.Version != sim.DemoUpdateVersion || filepath.Dir(of.Path) != r.dir {
		t.Fatalf("offer %+v", of)
	}
	want := sim.DemoUpdate(sim.DemoUpdateVersion).File
	if got, err := os.ReadFile(of.Path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the downloaded file: %q %v", got, err)
	}
	if got, _ := u.Offered(); got != of {
		t.Fatalf("Offered %+v", got)
	}
	if len(r.runs()) != 0 {
		t.Fatal("run before Install")
	}
	if err := u.Install(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.runs(); len(got) != 1 || got[0] != of.Path {
		t.Fatalf("ran %v", got)
	}
	if !strings.Contains(r.log.String(), "update offered") {
		t.Errorf("debug log:\n%s", r.log.String())
	}
}

// Each way a release can be wrong or unwanted: nothing is offered, the
// reason is in the debug log, no file is left in the data folder, and
// Install runs nothing.
func TestUpdateNotOffered(t *testing.T) {
	_, otherKey, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := func() sim.Update { return sim.DemoUpdate("2.0.0") }
	cases := []struct {
		name   string
		change func(*sim.Update, *update.Options)
		reason string
	}{
		{"wrong hash", func(u *sim.Update, _ *update.Options) {
			u.Manifest.SHA256 = strings.Repeat("ab", 32)
		}, "SHA-256 is not the manifest's"},
		{"wrong signature", func(u *sim.Update, _ *update.Options) {
			u.Manifest.Signature = update.Sign(otherKey, u.File, "2.0.0")
		}, "signature is not valid"},
		{"no signature", func(u *sim.Update, _ *update.Options) { u.Manifest.Signature = "" }, "signature is not valid"},
		{"another file than the signed one", func(u *sim.Update, _ *update.Options) {
			u.File = bytes.ToUpper(u.File) // same size; hash and signature no longer match
		}, "SHA-256 is not the manifest's"},
		{"longer than announced", func(u *sim.Update, _ *update.Options) {
			u.File = append(u.File, "MZ"...)
		}, "size is"},
		{"an old signed file sold as a new version", func(u *sim.Update, _ *update.Options) {
			u.Manifest.Version = "3.0.0"
		}, "signature is for another version"},
		{"older version", func(_ *sim.Update, o *update.Options) { o.Current = "2.1.0" }, "not newer"},
		{"same version", func(_ *sim.Update, o *update.Options) { o.Current = "v2.0.0" }, "not newer"},
		{"checks off", func(_ *sim.Update, o *update.Options) { o.Enabled = false }, "turned off"},
		{"pinned to another", func(_ *sim.Update, o *update.Options) { o.Pin = "1.4" }, "pinned"},
		{"no key in this build", func(_ *sim.Update, o *update.Options) { o.Key = "" }, "no update key"},
		{"a version that is no number", func(u *sim.Update, _ *update.Options) {
			u.Manifest.Version = "../../evil"
		}, "not a version number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			rel := good()
			c.change(&rel, &r.opts)
			r.sim.SetUpdate(rel)
			u := update.New(r.opts)
			of, err := u.Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if of.Version != "" {
				t.Fatalf("offered %+v", of)
			}
			log := r.log.String()
			if !strings.Contains(log, "update not offered") || !strings.Contains(log, c.reason) {
				t.Errorf("the debug log does not say %q:\n%s", c.reason, log)
			}
			if ents, _ := os.ReadDir(r.dir); len(ents) != 0 {
				t.Errorf("left in the data folder: %v", ents)
			}
			if err := u.Install(context.Background()); err == nil {
				t.Error("Install without an offer")
			}
			if len(r.runs()) != 0 {
				t.Errorf("ran %v", r.runs())
			}
		})
	}
}

// Pinned to the version the manifest names: offered.
func TestPinnedVersionIsOffered(t *testing.T) {
	r := newRig(t)
	r.sim.SetUpdate(sim.DemoUpdate("1.4.2"))
	r.opts.Pin = "1.4"
	if of, err := update.New(r.opts).Check(context.Background()); err != nil || of.Version != "1.4.2" {
		t.Fatalf("%+v %v", of, err)
	}
}

// The verified file is changed in the data folder after the check (or cut
// short): Install checks it again, deletes it and runs nothing.
func TestChangedFileIsNeverRun(t *testing.T) {
	for name, change := range map[string]func(string) error{
		"changed": func(p string) error {
			return os.WriteFile(p, bytes.ToUpper(sim.DemoUpdate(sim.DemoUpdateVersion).File), 0o600)
		},
		"truncated": func(p string) error { return os.Truncate(p, 10) },
		"grown": func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString("echo pwned\n")
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			u := update.New(r.opts)
			of, err := u.Check(context.Background())
			if err != nil || of.Version == "" {
				t.Fatalf("%+v %v", of, err)
			}
			if err := change(of.Path); err != nil {
				t.Fatal(err)
			}
			if err := u.Install(context.Background()); err == nil {
				t.Fatal("a changed file was installed")
			}
			if len(r.runs()) != 0 {
				t.Fatalf("ran %v", r.runs())
			}
			if _, err := os.Stat(of.Path); !os.IsNotExist(err) {
				t.Errorf("the changed file is still there: %v", err)
			}
			if got, _ := u.Offered(); got.Version != "" {
				t.Errorf("still offered: %+v", got)
			}
		})
	}
}

// A policy that turns checks off (or pins another version) withdraws an
// offer already made.
func TestReconfigureWithdrawsTheOffer(t *testing.T) {
	r := newRig(t)
	u := update.New(r.opts)
	if of, err := u.Check(context.Background()); err != nil || of.Version == "" {
		t.Fatalf("%+v %v", of, err)
	}
	u.Reconfigure(true, r.url, "8")
	if of, _ := u.Offered(); of.Version != "" {
		t.Fatalf("pinned to 8, still offered %+v", of)
	}
	if err := u.Install(context.Background()); err == nil || len(r.runs()) != 0 {
		t.Fatalf("installed after the pin: %v %v", err, r.runs())
	}
}

// An unreachable update server is an error for people, and no offer.
func TestUnreachableServer(t *testing.T) {
	r := newRig(t)
	ts := httptest.NewServer(r.sim)
	r.opts.URL = ts.URL + sim.UpdatePath
	ts.Close()
	of, err := update.New(r.opts).Check(context.Background())
	if err == nil || of.Version != "" {
		t.Fatalf("%+v %v", of, err)
	}
}
