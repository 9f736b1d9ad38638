// Package config reads, validates and writes Clinic Sync's configuration:
// one human-readable TOML file an IT person can edit, with every key
// documented in README.md. It never holds a secret.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/netclient"
	"github.com/clinicsync/clinicsync/sync/platforms"
)

// Duration is a time.Duration written as "45s", "2m" in TOML.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%q is not a duration like 45s or 2m", string(b))
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Config is the whole file.
type Config struct {
	Askara      Askara      `toml:"askara"`
	Destination Destination `toml:"destination"`
	Sync        Sync        `toml:"sync"`
	Notes       Notes       `toml:"notes"`
	Relay       Relay       `toml:"relay"`
	App         App         `toml:"app"`
	Network     Network     `toml:"network"`
	Updates     Updates     `toml:"updates"`
}

// Updates is the check for a new, signed version (sync/update). An IT
// administrator's policy may set these three fields: enabled = false stops
// the checks, pin holds the installations at one version.
type Updates struct {
	Enabled bool   `toml:"enabled"`
	URL     string `toml:"url"` // the manifest; "" checks nothing
	// Pin "1.4" offers only 1.4.x releases, "1.4.2" only that one; ""
	// any newer release.
	Pin string `toml:"pin"`
}

// DefaultUpdatesURL is the release manifest, set at build time
// (-ldflags "-X .../sync/config.DefaultUpdatesURL=https://..."); a
// developer build checks nothing.
var DefaultUpdatesURL = ""

// Network is how Clinic Sync reaches the platforms (sync/netclient).
type Network struct {
	// Proxy: "" follows the system's proxy settings (Windows Internet
	// Options, PAC and WPAD included; macOS System Settings), "direct"
	// uses none, "http://host:port" that proxy. HTTP(S)_PROXY and
	// NO_PROXY, when set, win over both.
	Proxy string `toml:"proxy"`
	// CAFile is a PEM bundle trusted in addition to the system's roots:
	// the root of a proxy or antivirus that inspects TLS.
	CAFile string `toml:"ca_file"`
}

// Notes is the clinical-notes pipeline.
type Notes struct {
	Enabled bool `toml:"enabled"`
}

// Relay is the localhost webhook receiver.
type Relay struct {
	Enabled bool   `toml:"enabled"`
	Listen  string `toml:"listen"`     // host:port, loopback unless every platform has a signing secret
	Public  string `toml:"public_url"` // the URL the clinic's proxy or tunnel forwards to Listen
	// Platforms whose /webhooks/<platform> path answers.
	Platforms []string `toml:"platforms"` // names of sync/platforms
	// AllowUnsigned accepts deliveries from a platform with no signing
	// secret set, on a loopback address only (recorded as unverified).
	AllowUnsigned bool `toml:"allow_unsigned"`
	// Tolerance is how far a signed timestamp may be from this PC's clock.
	Tolerance Duration `toml:"tolerance"`
	// AzodhaFiles lists the Azodha events whose JSON is also written as a
	// file (Inbox/Azodha); the others are only logged and kept.
	AzodhaFiles []string `toml:"azodha_files"`
}

// Equal reports whether r and o are the same relay settings: the one
// comparison of them (a change restarts or re-registers the relay). Every
// field counts, so a new setting is compared without a change here; a list
// left empty equals one never set.
func (r Relay) Equal(o Relay) bool {
	a, b := reflect.ValueOf(r), reflect.ValueOf(o)
	for i := range a.NumField() {
		x, y := a.Field(i), b.Field(i)
		if x.Kind() == reflect.Slice {
			if x.Len() != y.Len() {
				return false
			}
			for j := range x.Len() {
				if !reflect.DeepEqual(x.Index(j).Interface(), y.Index(j).Interface()) {
					return false
				}
			}
		} else if !reflect.DeepEqual(x.Interface(), y.Interface()) {
			return false
		}
	}
	return true
}

// AzodhaEvents are the webhook events Azodha's guide lists, for choosing
// which are written as files (AzodhaFiles may name others: Azodha can add
// events).
var AzodhaEvents = []string{"AppointmentToCareTaskActivityLog", "InferenceToObservations", "InferenceToKeyFindings",
	"AssessmentResponseToWellbeingScore", "BookAppointment", "InferenceToCareTasks", "HealthRecordCounter",
	"Notification", "HealthProgramActivated", "UploadedFileAndTest", "SurveyAssessment", "OpenTele"}

// DefaultRelayListen is where the relay listens unless told otherwise.
const DefaultRelayListen = "127.0.0.1:8787"

// App is the desktop application's own preferences.
type App struct {
	StartAtLogin bool   `toml:"start_at_login"`
	Language     string `toml:"language"` // "" follows the system; "en" or "fr"
	// TextSize is the window's text size in percent of Fyne's (100-200).
	TextSize int `toml:"text_size"`
	// NotifyPatientNames lets a notification name the patient of a
	// document that failed. Off: notifications show on the lock screen,
	// so they say only how many documents need attention.
	NotifyPatientNames bool `toml:"notify_patient_names"`
}

// TextSizes are the sizes Settings offers (a file may set any other
// between the first and the last).
var TextSizes = []int{100, 125, 150, 175, 200}

// Languages the app is translated into ("" follows the system).
var Languages = []string{"", "en", "fr"}

// Askara is the platform connection.
type Askara struct {
	APIURL       string   `toml:"api_url"`
	PollInterval Duration `toml:"poll_interval"`
	AuthorizeURL string   `toml:"authorize_url"`
	TokenURL     string   `toml:"token_url"`
	DeviceURL    string   `toml:"device_url"`
	RevokeURL    string   `toml:"revoke_url"`
	ClientID     string   `toml:"client_id"`
	// ClientSecret is for clients Askara issued one to. A desktop app
	// cannot keep a secret from its own user; it may also come from the
	// keychain (`clinicsync login` reads CLINICSYNC_CLIENT_SECRET).
	ClientSecret string   `toml:"client_secret"`
	Scopes       []string `toml:"scopes"`
	RedirectPort int      `toml:"redirect_port"`
	// AnyLoopbackPort: Askara accepts a sign-in redirect to any loopback
	// port (RFC 8252 §7.3), so when RedirectPort is taken (another user's
	// Clinic Sync on a terminal server) another free port is used. Off, a
	// taken port leads to the code sign-in.
	AnyLoopbackPort bool `toml:"any_loopback_port"`
}

// DefaultClientID is set at build time (-ldflags "-X .../sync/config.DefaultClientID=...").
var DefaultClientID = "clinicsync-desktop"

// DefaultScopes are the guide's scopes plus those the seeds name for sync.
var DefaultScopes = []string{"profile", "organization", "read:documents", "write:document_integrations", "read:notes"}

// Destination is where documents land.
type Destination struct {
	Root          string `toml:"root"`
	PatientFolder string `toml:"patient_folder"`
	SoftwareID    string `toml:"software_id"`
}

// Sync tunes the engine.
type Sync struct {
	// Workers is the most downloads (and, apart, the most confirmations)
	// a pass has in flight at once; the engine adapts below it to the
	// round trip and the platform's answers.
	Workers int `toml:"workers"`
	// RetentionDays: activity log lines and webhook bodies older than this
	// are deleted (documents' and notes' states are kept).
	RetentionDays int `toml:"retention_days"`
	// MinFreeMB is the free space, in MB, a pass needs on the disks of the
	// documents folder and of the data folder: below it nothing is
	// written, and the window says so once (0: no check).
	MinFreeMB int `toml:"min_free_mb"`
}

// [sync] workers: the default and the most allowed. 16 calls in flight
// keep a backlog moving at a WAN round trip of 20-50 ms; 64 covers a slow
// satellite or mobile link, and the engine's own window and the rate
// limit's reserve keep even that from overrunning the platform.
const (
	DefaultWorkers = 16
	MaxWorkers     = 64
)

// Default is the configuration of a new installation.
func Default() Config {
	return Config{
		Askara: Askara{APIURL: "https://api.askara.ai", PollInterval: Duration{45 * time.Second},
			AuthorizeURL: "https://app.askara.ai/authorize", TokenURL: "https://api.askara.ai/oauth2/token",
			DeviceURL: "https://api.askara.ai/oauth2/device", ClientID: DefaultClientID,
			Scopes: append([]string(nil), DefaultScopes...), RedirectPort: 8765},
		Destination: Destination{PatientFolder: dest.DefaultTemplate, SoftwareID: "clinicsync"},
		Sync:        Sync{Workers: DefaultWorkers, RetentionDays: 90, MinFreeMB: 500},
		Notes:       Notes{Enabled: true},
		Relay: Relay{Listen: DefaultRelayListen, Platforms: []string{"askara"},
			Tolerance: Duration{5 * time.Minute}},
		App:     App{StartAtLogin: true, TextSize: 100},
		Updates: Updates{Enabled: true, URL: DefaultUpdatesURL},
	}
}

// Load reads path over the defaults. A missing file gives the defaults and
// no error (the settings window or an IT person writes it later).
func Load(path string) (Config, error) {
	c, _, err := LoadFile(path)
	return c, err
}

// LoadFile is Load that also says which keys the file sets
// ("destination.root", and each section's name): what an IT person chose,
// as opposed to defaults. The set is nil when there is no file.
func LoadFile(path string) (Config, map[string]bool, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil, nil
	}
	set := map[string]bool{}
	if err != nil {
		return c, set, clinicsync.Permanent(clinicsync.EConfig, fmt.Sprintf("Cannot read the configuration file %s.", path), err)
	}
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		return c, set, clinicsync.Permanent(clinicsync.EConfig, fmt.Sprintf("The configuration file %s is not valid: %v", path, err), err)
	}
	for _, k := range md.Keys() {
		set[k.String()] = true
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return c, set, clinicsync.Errorf(clinicsync.EConfig, "The configuration file %s has unknown keys: %s.", path, strings.Join(keys, ", "))
	}
	return c, set, nil
}

// Problem is one invalid value: the key ("destination.root") and what is
// wrong with it, for a message next to the field that holds it.
type Problem struct {
	Key     string
	Message string
}

// Validate checks every value and says what is wrong in one sentence per problem.
func (c Config) Validate() error {
	ps := c.Problems()
	if len(ps) == 0 {
		return nil
	}
	msgs := make([]string, len(ps))
	for i, p := range ps {
		sec, key, _ := strings.Cut(p.Key, ".")
		msgs[i] = fmt.Sprintf("[%s] %s %s", sec, key, p.Message)
	}
	return clinicsync.Errorf(clinicsync.EConfig, "Configuration problem: %s.", strings.Join(msgs, "; "))
}

// Problems lists every invalid value, in file order.
func (c Config) Problems() []Problem {
	var probs []Problem
	add := func(key, format string, args ...any) {
		probs = append(probs, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	u, err := url.Parse(c.Askara.APIURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("askara.api_url", "%q must be an http(s) URL", c.Askara.APIURL)
	}
	for _, kv := range [][2]string{{"authorize_url", c.Askara.AuthorizeURL}, {"token_url", c.Askara.TokenURL},
		{"device_url", c.Askara.DeviceURL}, {"revoke_url", c.Askara.RevokeURL}} {
		key, v := kv[0], kv[1]
		if v == "" && (key == "device_url" || key == "revoke_url") {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("askara."+key, "%q must be an http(s) URL", v)
		}
	}
	if c.Askara.ClientID == "" {
		add("askara.client_id", "must not be empty")
	}
	if c.Askara.RedirectPort < 0 || c.Askara.RedirectPort > 65535 {
		add("askara.redirect_port", "%d must be 0-65535 (0: any free port)", c.Askara.RedirectPort)
	}
	if p := c.Askara.PollInterval.Duration; p < 10*time.Second || p > time.Hour {
		add("askara.poll_interval", "%s must be between 10s and 1h", p)
	}
	switch {
	case c.Destination.Root == "":
		add("destination.root", "is not set: give the practice software's patients folder")
	case !isAbs(c.Destination.Root):
		add("destination.root", "%q must be an absolute path", c.Destination.Root)
	}
	if err := dest.ValidateTemplate(c.Destination.PatientFolder); err != nil {
		add("destination.patient_folder", "%s", err.Error())
	}
	if strings.TrimSpace(c.Destination.SoftwareID) == "" {
		add("destination.software_id", "must not be empty")
	}
	if c.Sync.Workers < 1 || c.Sync.Workers > MaxWorkers {
		add("sync.workers", "%d must be between 1 and %d", c.Sync.Workers, MaxWorkers)
	}
	if c.Sync.RetentionDays < 7 || c.Sync.RetentionDays > 3650 {
		add("sync.retention_days", "%d must be between 7 and 3650", c.Sync.RetentionDays)
	}
	if c.Sync.MinFreeMB < 0 || c.Sync.MinFreeMB > 100000 {
		add("sync.min_free_mb", "%d must be between 0 (no check) and 100000", c.Sync.MinFreeMB)
	}
	if host, port, err := net.SplitHostPort(c.Relay.Listen); err != nil || host == "" || port == "" {
		add("relay.listen", "%q must be host:port, such as %s", c.Relay.Listen, DefaultRelayListen)
	}
	for _, p := range c.Relay.Platforms {
		if _, ok := platforms.Lookup(p); !ok {
			add("relay.platforms", "%q is not one of %s", p, strings.Join(platforms.Names(), ", "))
		}
	}
	if tol := c.Relay.Tolerance.Duration; tol < 30*time.Second || tol > time.Hour {
		add("relay.tolerance", "%s must be between 30s and 1h", tol)
	}
	if c.Relay.Public != "" {
		// https, or http to this PC itself (trying the loop with the simulator).
		u, err := url.Parse(c.Relay.Public)
		ok := err == nil && u.Host != "" && (u.Scheme == "https" ||
			u.Scheme == "http" && (u.Hostname() == "localhost" || net.ParseIP(u.Hostname()).IsLoopback()))
		if !ok {
			add("relay.public_url", "%q must be an https URL (the address your proxy or tunnel forwards to the relay)", c.Relay.Public)
		}
	}
	if p := strings.TrimSpace(c.Network.Proxy); p != "" && !strings.EqualFold(p, "direct") {
		if _, err := netclient.ParseProxy(p); err != nil {
			// The value is not repeated: it may hold a password.
			add("network.proxy", "must be empty (the system's proxy), \"direct\" or an address such as http://proxy.clinic.lan:3128, without a user name or password (clinicsync proxy login keeps those)")
		}
	}
	if f := strings.TrimSpace(c.Network.CAFile); f != "" {
		if !isAbs(f) {
			add("network.ca_file", "%q must be an absolute path to a PEM file", c.Network.CAFile)
		} else if _, err := os.Stat(f); err != nil {
			add("network.ca_file", "%q cannot be read", c.Network.CAFile)
		}
	}
	if c.Updates.URL != "" {
		if u, err := url.Parse(c.Updates.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("updates.url", "%q must be an http(s) URL", c.Updates.URL)
		}
	}
	if c.Updates.Pin != "" && !pinRE.MatchString(c.Updates.Pin) {
		add("updates.pin", "%q must be a version such as 1.4 or 1.4.2 (or empty: any newer version)", c.Updates.Pin)
	}
	if !slices.Contains(Languages, c.App.Language) {
		add("app.language", "%q must be empty (follow the system), \"en\" or \"fr\"", c.App.Language)
	}
	if n := c.App.TextSize; n < TextSizes[0] || n > TextSizes[len(TextSizes)-1] {
		add("app.text_size", "%d must be between %d and %d (percent)", n, TextSizes[0], TextSizes[len(TextSizes)-1])
	}
	return probs
}

// encode writes c as TOML, section by section and key by key in the
// order of the types (as toml's encoder of the whole struct does), leaving
// out the keys in omit and lists never set.
func (c Config) encode(omit map[string]bool) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# Clinic Sync configuration. Every key is documented in README.md.\n")
	cv, sections := reflect.ValueOf(c), 0
	for i := range cv.NumField() {
		sec, sv := tomlName(cv.Type().Field(i)), cv.Field(i)
		var body bytes.Buffer
		for j := range sv.NumField() {
			name, f := tomlName(sv.Type().Field(j)), sv.Field(j)
			if omit[sec+"."+name] || f.Kind() == reflect.Slice && f.IsNil() {
				continue
			}
			body.WriteString("  ")
			if err := toml.NewEncoder(&body).Encode(map[string]any{name: f.Interface()}); err != nil {
				return nil, err
			}
		}
		if body.Len() > 0 {
			if sections++; sections > 1 {
				buf.WriteString("\n")
			}
			fmt.Fprintf(&buf, "[%s]\n%s", sec, body.Bytes())
		}
	}
	return buf.Bytes(), nil
}

// pinRE is a version to pin: 1 to 4 numbers.
var pinRE = regexp.MustCompile(`^\d{1,6}(\.\d{1,6}){0,3}$`)

// isAbs accepts OS-absolute paths and, on Windows, UNC shares.
func isAbs(p string) bool {
	if filepath.IsAbs(p) {
		return true
	}
	return runtime.GOOS == "windows" && strings.HasPrefix(p, `\\`)
}

// Save writes the file atomically (temp, fsync, rename).
func (c Config) Save(path string) error { return c.SaveWithout(path, nil) }

// SaveWithout is Save leaving out the keys in omit (Policy.Omit: what the
// administrator's settings give is not copied into the user's file).
func (c Config) SaveWithout(path string, omit map[string]bool) error {
	b, err := c.encode(omit)
	if err != nil {
		return err
	}
	buf := bytes.NewBuffer(b)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.toml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// DefaultDirs returns the per-user configuration file and data folder
// (the database, the debug log and the webhook inbox in it). On Windows
// the configuration file stays in the roaming profile, %AppData%\ClinicSync
// (small, replaced whole on Save: it follows the user to another PC and
// survives a redirected folder), and the data folder is the local profile's
// %LocalAppData%\ClinicSync: SQLite's write-ahead log does not work on a
// redirected, network %AppData%. On macOS both are
// ~/Library/Application Support/ClinicSync; on Linux
// $XDG_CONFIG_HOME/clinicsync and $XDG_DATA_HOME/clinicsync.
func DefaultDirs() (configFile, dataDir string, err error) {
	cfg, err := os.UserConfigDir()
	if err != nil {
		return "", "", err
	}
	switch runtime.GOOS {
	case "windows":
		local, err := os.UserCacheDir() // %LocalAppData%
		if err != nil {
			return "", "", err
		}
		return filepath.Join(cfg, "ClinicSync", "config.toml"), filepath.Join(local, "ClinicSync"), nil
	case "darwin":
		d := filepath.Join(cfg, "ClinicSync")
		return filepath.Join(d, "config.toml"), d, nil
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "", err
		}
		data = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(cfg, "clinicsync", "config.toml"), filepath.Join(data, "clinicsync"), nil
}

// RoamingDataDir is where earlier versions kept the data folder on
// Windows, %AppData%\ClinicSync, from which it is moved once; "" where the
// data folder has not moved.
func RoamingDataDir() string {
	if runtime.GOOS != "windows" {
		return ""
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(cfg, "ClinicSync")
}
