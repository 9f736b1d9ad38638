// Package update offers a new version of Clinic Sync, and never runs a
// file that is not the one the release process signed.
//
// The update URL ([updates] url) serves a small JSON manifest: the
// version, where its installer is, its size, its SHA-256 and its minisign
// signature (ed25519 over the file's BLAKE2b-512 digest, as `minisign -S`
// makes). The signature's trusted comment must be "clinicsync <version>":
// it ties the signed file to the manifest's version, so an old signed
// installer cannot be served as a new one. The Updater checks once a day
// and on demand; a newer version (or the pinned one) is downloaded to the
// data folder and checked (size, hash, signature) before it is offered;
// Install checks the file on disk again and only then runs it.
//
// Every reason a version is not offered goes to the debug log (slog); a
// person sees only what is offered, or why a check failed.
package update

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"aead.dev/minisign"

	"github.com/clinicsync/clinicsync"
)

// PublicKey is the release key's public half (a minisign public key,
// "RW…"); only files it signed are offered. Empty in a developer build:
// no update is offered. The release process sets it:
// -ldflags "-X github.com/clinicsync/clinicsync/sync/update.PublicKey=RW…".
var PublicKey = ""

// Every is how often the Updater checks by itself.
const Every = 24 * time.Hour

// MaxSize is the largest installer accepted (the MSI is about 30 MB).
const MaxSize = 512 << 20

// Manifest is what the update URL serves.
type Manifest struct {
	Version string `json:"version"` // "1.4.2"
	// URL is where the installer is; relative to the manifest's URL, or
	// absolute (http or https: the signature, not the transport, is what
	// is trusted).
	URL       string `json:"url"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`    // hex
	Signature string `json:"signature"` // the minisign signature file's text
}

// Options configure an Updater.
type Options struct {
	// Enabled, URL and Pin are [updates] enabled, url and pin (an IT
	// policy may set them). Pin "1.4" offers only 1.4.x; "1.4.2" only that.
	Enabled bool
	URL     string
	Pin     string
	Current string // this build's version ("1.4.0", "v1.4.0-3-gabc123"; "dev" is older than any)
	Key     string // the trusted public key (PublicKey; the demo's in the demo)
	Dir     string // where installers are downloaded (in the data folder)
	Client  *http.Client
	Log     *slog.Logger
	// Run installs a verified file (RunInstaller by default); tests give
	// their own.
	Run func(path string) error
}

// Offer is a verified new version, ready to install.
type Offer struct {
	Version string
	Path    string // the verified installer on disk
	Size    int64
}

// Updater checks for updates and installs a verified one.
type Updater struct {
	mu      sync.Mutex
	o       Options
	offer   Offer
	checked time.Time
	m       Manifest // the offer's manifest, to verify again at Install
	checks  chan struct{}
}

// New makes an Updater with o.
func New(o Options) *Updater {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Minute}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Run == nil {
		o.Run = RunInstaller
	}
	return &Updater{o: o, checks: make(chan struct{}, 1)}
}

// Reconfigure applies new [updates] settings; the next check uses them.
// A standing offer that the settings no longer allow is withdrawn.
func (u *Updater) Reconfigure(enabled bool, url, pin string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.o.Enabled, u.o.URL, u.o.Pin = enabled, url, pin
	if u.offer.Version != "" && u.refusal(u.offer.Version) != "" {
		u.offer, u.m = Offer{}, Manifest{}
	}
}

// On reports whether updates are checked: turned on, with an address
// and a key to check against.
func (u *Updater) On() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.o.Enabled && u.o.URL != "" && u.o.Key != ""
}

// Offered is the verified new version, if there is one, and when the last
// check ended.
func (u *Updater) Offered() (Offer, time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.offer, u.checked
}

// Loop checks at once, then every Every and whenever CheckSoon asks,
// until ctx ends; changed is called after each check.
func (u *Updater) Loop(ctx context.Context, changed func()) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-u.checks:
		}
		u.Check(ctx)
		if changed != nil {
			changed()
		}
		t.Reset(Every)
	}
}

// CheckSoon asks Loop for a check now (the tray's "Check for updates").
func (u *Updater) CheckSoon() {
	select {
	case u.checks <- struct{}{}:
	default:
	}
}

// Check reads the manifest and, when it names a version this PC should
// take, downloads and verifies it: the offer, or a zero Offer (and why in
// the debug log). The error is for people: the check itself failed.
func (u *Updater) Check(ctx context.Context) (Offer, error) {
	u.mu.Lock()
	o := u.o
	u.mu.Unlock()
	of, m, err := u.check(ctx, o)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.checked = time.Now()
	if err == nil {
		u.offer, u.m = of, m
	}
	return of, err
}

func (u *Updater) check(ctx context.Context, o Options) (Offer, Manifest, error) {
	no := func(reason string, args ...any) (Offer, Manifest, error) {
		o.Log.Debug("update not offered", append([]any{"reason", reason}, args...)...)
		return Offer{}, Manifest{}, nil
	}
	switch {
	case !o.Enabled:
		return no("update checks are turned off ([updates] enabled = false)")
	case o.URL == "":
		return no("no update URL ([updates] url)")
	case o.Key == "":
		return no("this build has no update key (a developer build)")
	}
	var key minisign.PublicKey
	if err := key.UnmarshalText([]byte(o.Key)); err != nil {
		return no("the update key is not a minisign public key")
	}
	base, err := url.Parse(o.URL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return no("the update URL is not an http(s) URL")
	}
	m, err := u.manifest(ctx, o, base)
	if err != nil {
		return Offer{}, Manifest{}, err
	}
	if why := refusal(o, m.Version); why != "" {
		return no(why, "version", m.Version, "current", o.Current, "pin", o.Pin)
	}
	if m.Size <= 0 || m.Size > MaxSize {
		return no("the manifest's size is out of range", "size", m.Size)
	}
	file, err := base.Parse(m.URL)
	if err != nil || (file.Scheme != "https" && file.Scheme != "http") {
		return no("the manifest's download URL is not an http(s) URL")
	}
	// Already downloaded and verified (a check after a restart).
	p := filepath.Join(o.Dir, "ClinicSync-"+m.Version+ext(file.Path))
	if _, err := os.Stat(p); err == nil {
		if err := Verify(p, m, key); err == nil {
			o.Log.Debug("update offered", "version", m.Version)
			return Offer{Version: m.Version, Path: p, Size: m.Size}, m, nil
		}
		os.Remove(p)
	}
	if err := u.download(ctx, o, file.String(), p, m, key); err != nil {
		var bad badFile
		if errors.As(err, &bad) {
			return no(string(bad), "version", m.Version)
		}
		return Offer{}, Manifest{}, err
	}
	o.Log.Debug("update offered", "version", m.Version)
	return Offer{Version: m.Version, Path: p, Size: m.Size}, m, nil
}

// refusal says why version is not offered under the current settings.
func (u *Updater) refusal(version string) string { return refusal(u.o, version) }

func refusal(o Options, version string) string {
	v, ok := parse(version)
	switch {
	case !ok:
		return "the manifest's version is not a version number"
	case !o.Enabled:
		return "update checks are turned off ([updates] enabled = false)"
	case o.Pin != "" && version != o.Pin && !strings.HasPrefix(version, o.Pin+"."):
		return "the version is not the pinned one ([updates] pin)"
	}
	if cur, ok := parse(o.Current); ok && compare(v, cur) <= 0 {
		return "the version is not newer than this one"
	}
	return ""
}

// manifest fetches and decodes the manifest.
func (u *Updater) manifest(ctx context.Context, o Options, base *url.URL) (Manifest, error) {
	var m Manifest
	body, err := get(ctx, o.Client, base.String())
	if err != nil {
		return m, err
	}
	defer body.Close()
	if err := json.NewDecoder(io.LimitReader(body, 64<<10)).Decode(&m); err != nil {
		o.Log.Debug("update manifest unreadable", "err", err)
		return m, clinicsync.Errorf(clinicsync.EUnavailable, "The update information at %s could not be read.", base.Redacted())
	}
	return m, nil
}

func get(ctx context.Context, c *http.Client, u string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, clinicsync.Errorf(clinicsync.EConfig, "The update address is not valid.")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, clinicsync.Retryable(clinicsync.EUnavailable, "Clinic Sync could not reach its update server.", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, clinicsync.Retryable(clinicsync.EUnavailable,
			fmt.Sprintf("The update server answered %d.", resp.StatusCode), nil)
	}
	return resp.Body, nil
}

// badFile is a download that is not the signed file.
type badFile string

func (b badFile) Error() string { return string(b) }

// download writes the file to p, checked on the way: a file that is not
// the signed one is removed, never renamed into place.
func (u *Updater) download(ctx context.Context, o Options, from, p string, m Manifest, key minisign.PublicKey) error {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return clinicsync.Permanent(clinicsync.EDestination, "Cannot make the folder for updates in the data folder.", err)
	}
	body, err := get(ctx, o.Client, from)
	if err != nil {
		return err
	}
	defer body.Close()
	part, err := os.CreateTemp(o.Dir, ".download-*")
	if err != nil {
		return clinicsync.Permanent(clinicsync.EDestination, "Cannot write the update to the data folder.", err)
	}
	defer os.Remove(part.Name())
	// One byte more than announced tells a longer file.
	_, err = io.Copy(part, io.LimitReader(body, m.Size+1))
	if cerr := part.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return clinicsync.Retryable(clinicsync.EUnavailable, "The update's download was interrupted.", err)
	}
	if err := Verify(part.Name(), m, key); err != nil {
		return err
	}
	if err := os.Rename(part.Name(), p); err != nil {
		return clinicsync.Permanent(clinicsync.EDestination, "Cannot write the update to the data folder.", err)
	}
	return nil
}

// Verify checks that the file at p is the one m describes: its size, its
// SHA-256 and its signature by key, whose trusted comment names m's
// version. The error (a badFile) says which check failed.
func Verify(p string, m Manifest, key minisign.PublicKey) error {
	f, err := os.Open(p)
	if err != nil {
		return badFile("the downloaded file cannot be read")
	}
	defer f.Close()
	h := sha256.New()
	r := minisign.NewReader(f)
	n, err := io.Copy(h, io.LimitReader(r, MaxSize+1))
	switch {
	case err != nil:
		return badFile("the downloaded file cannot be read")
	case n != m.Size:
		return badFile(fmt.Sprintf("the file's size is %d, not the manifest's %d", n, m.Size))
	case !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), strings.TrimSpace(m.SHA256)):
		return badFile("the file's SHA-256 is not the manifest's")
	case !r.Verify(key, []byte(m.Signature)):
		return badFile("the file's signature is not valid for the release key")
	}
	var sig minisign.Signature
	if err := sig.UnmarshalText([]byte(m.Signature)); err != nil || sig.TrustedComment != TrustedComment(m.Version) {
		return badFile("the signature is for another version")
	}
	return nil
}

// TrustedComment is what the release process signs with each file:
// `minisign -S -t "clinicsync 1.4.2" -m ClinicSync-1.4.2.msi`.
func TrustedComment(version string) string { return "clinicsync " + version }

// Sign signs file for version as the release process does (the
// simulator's demo update and tests).
func Sign(key minisign.PrivateKey, file []byte, version string) string {
	r := minisign.NewReader(strings.NewReader(string(file)))
	io.Copy(io.Discard, r)
	return string(r.SignWithComments(key, TrustedComment(version), "signature from the release key"))
}

// Install verifies the offered file on disk once more (it sat in the data
// folder since the check) and runs it. A file that fails is removed and
// never run.
func (u *Updater) Install(ctx context.Context) error {
	u.mu.Lock()
	of, m, o := u.offer, u.m, u.o
	u.mu.Unlock()
	if of.Version == "" {
		return clinicsync.Errorf(clinicsync.EConfig, "No update is offered.")
	}
	var key minisign.PublicKey
	if err := key.UnmarshalText([]byte(o.Key)); err != nil {
		return clinicsync.Errorf(clinicsync.EConfig, "No update is offered.")
	}
	if err := Verify(of.Path, m, key); err != nil {
		o.Log.Warn("update not run", "reason", err.Error(), "version", of.Version)
		os.Remove(of.Path)
		u.mu.Lock()
		u.offer, u.m = Offer{}, Manifest{}
		u.mu.Unlock()
		return clinicsync.Errorf(clinicsync.EConfig, "The downloaded update %s changed since it was checked; it was deleted and not run.", of.Version)
	}
	o.Log.Info("running the update", "version", of.Version)
	if err := o.Run(of.Path); err != nil {
		return clinicsync.Permanent(clinicsync.EConfig, fmt.Sprintf("The update %s could not be started.", of.Version), err)
	}
	return nil
}

// version is a release number: "1.4.2" (a "v" and git describe's
// "-3-gabc123" are ignored).
var versionRE = regexp.MustCompile(`^v?(\d{1,6})(?:\.(\d{1,6}))?(?:\.(\d{1,6}))?(?:\.(\d{1,6}))?(?:-[0-9A-Za-z.-]{1,64})?$`)

func parse(s string) ([4]int, bool) {
	var v [4]int
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return v, false
	}
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v, true
}

func compare(a, b [4]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// ext is the installer's kind from its URL (".msi", ".exe", ".pkg"…); the
// version in the manifest names the file, not the URL.
func ext(p string) string {
	e := strings.ToLower(path.Ext(p))
	switch e {
	case ".msi", ".exe", ".pkg", ".dmg", ".zip", ".gz", ".deb", ".rpm":
		return e
	}
	return ".bin"
}
