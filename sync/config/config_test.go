package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync"
)

func TestLoadMissingGivesDefaults(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Askara.APIURL != "https://api.askara.ai" || c.Askara.PollInterval.Duration != 45*time.Second ||
		c.Destination.PatientFolder != "{LASTNAME}_{FIRSTNAME}" {
		t.Fatalf("defaults: %+v", c)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "root is not set") {
		t.Fatalf("a config without a destination must not validate: %v", err)
	}
}

func TestRoundTripAndValidate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config.toml")
	c := Default()
	c.Destination.Root = t.TempDir()
	c.Askara.PollInterval = Duration{30 * time.Second}
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip: %+v != %+v", got, c)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{"[askara]", `poll_interval = "30s"`, "[destination]", "patient_folder"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("written file lacks %q:\n%s", want, b)
		}
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"syntax":   "[askara\napi_url = 1",
		"unknown":  "[askara]\napi_url = \"https://x\"\ntoken = \"secret\"\n",
		"duration": "[askara]\npoll_interval = \"soon\"\n",
	}
	for name, body := range cases {
		p := filepath.Join(dir, name+".toml")
		os.WriteFile(p, []byte(body), 0o600)
		_, err := Load(p)
		if clinicsync.ErrorCode(err) != clinicsync.EConfig {
			t.Errorf("%s: want a config error, got %v", name, err)
		}
		if name == "unknown" && !strings.Contains(clinicsync.ErrorMessage(err), "askara.token") {
			t.Errorf("unknown key not named: %v", err)
		}
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	c := Default()
	c.Askara.APIURL = "ftp://x"
	c.Askara.PollInterval = Duration{time.Second}
	c.Destination.Root = "relative/path"
	c.Destination.PatientFolder = "{NOPE}"
	c.Destination.SoftwareID = " "
	c.Sync.Workers = 0
	msg := clinicsync.ErrorMessage(c.Validate())
	for _, want := range []string{"api_url", "poll_interval", "absolute", "patient_folder", "software_id", "workers"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
}

// [sync] workers is a maximum the engine adapts below: 16 by default, up
// to 64.
func TestWorkersDefaultAndRange(t *testing.T) {
	c := Default()
	if c.Sync.Workers != 16 {
		t.Errorf("default workers %d, want 16", c.Sync.Workers)
	}
	for n, ok := range map[int]bool{0: false, 1: true, 16: true, 64: true, 65: false} {
		c.Sync.Workers = n
		refused := ""
		for _, p := range c.Problems() {
			if p.Key == "sync.workers" {
				refused = p.Message
			}
		}
		if (refused == "") != ok {
			t.Errorf("workers = %d: problem %q", n, refused)
		}
	}
}

// LoadFile tells an IT person's values from defaults: the keys the file
// sets, none for a missing file.
func TestLoadFileSaysWhichKeysTheFileSets(t *testing.T) {
	dir := t.TempDir()
	c, set, err := LoadFile(filepath.Join(dir, "none.toml"))
	if err != nil || set != nil || c.Destination.PatientFolder != "{LASTNAME}_{FIRSTNAME}" {
		t.Fatalf("missing file: %v %v", set, err)
	}
	path := filepath.Join(dir, "config.toml")
	os.WriteFile(path, []byte("[destination]\nroot = \"/srv/Patients\"\n"), 0o600)
	c, set, err = LoadFile(path)
	if err != nil || !set["destination.root"] || set["destination.patient_folder"] || c.Destination.Root != "/srv/Patients" {
		t.Fatalf("preset root: %v %v %+v", set, err, c.Destination)
	}
	os.WriteFile(path, []byte("[destination]\nrooot = \"/srv\"\n"), 0o600)
	if _, set, err = LoadFile(path); err == nil || set == nil {
		t.Fatalf("unknown key: %v %v", set, err)
	}
}

// [network]: proxy is empty (the system's), "direct" or an http address
// without credentials; ca_file an absolute path to a file that exists.
// Both read from the file and round-trip.
func TestNetworkSection(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "inspect.pem")
	os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600)
	path := filepath.Join(dir, "config.toml")
	os.WriteFile(path, []byte("[network]\nproxy = \"http://proxy.clinic.lan:3128\"\nca_file = '"+ca+"'\n"), 0o600)
	c, set, err := LoadFile(path)
	if err != nil || !set["network.proxy"] || c.Network.Proxy != "http://proxy.clinic.lan:3128" || c.Network.CAFile != ca {
		t.Fatalf("read: %+v %v %v", c.Network, set, err)
	}
	for _, p := range []string{"", "direct", "DIRECT", "proxy.clinic.lan:8080", "http://10.0.0.1:3128"} {
		c.Network.Proxy = p
		for _, pr := range c.Problems() {
			if strings.HasPrefix(pr.Key, "network.") {
				t.Errorf("%q: %s %s", p, pr.Key, pr.Message)
			}
		}
	}
	for _, bad := range []struct{ proxy, ca, key string }{
		{"http://nurse:s3cret@proxy:3128", "", "network.proxy"},
		{"socks5://proxy:1080", "", "network.proxy"},
		{"https://proxy:3128/path", "", "network.proxy"},
		{"", "relative.pem", "network.ca_file"},
		{"", filepath.Join(dir, "missing.pem"), "network.ca_file"},
	} {
		c.Network = Network{Proxy: bad.proxy, CAFile: bad.ca}
		found := false
		for _, pr := range c.Problems() {
			if pr.Key == bad.key {
				found = true
				if strings.Contains(pr.Message, "s3cret") {
					t.Errorf("%+v: %s", bad, pr.Message)
				}
			}
		}
		if !found {
			t.Errorf("%+v: no problem for %s", bad, bad.key)
		}
	}
}

// The window's text size: 100 % unless set, 100-200 %, kept in [app].
func TestTextSize(t *testing.T) {
	c := Default()
	if c.App.TextSize != 100 {
		t.Fatalf("default text size %d", c.App.TextSize)
	}
	for _, tc := range []struct {
		size int
		ok   bool
	}{{100, true}, {150, true}, {200, true}, {130, true}, {0, false}, {99, false}, {201, false}} {
		c.App.TextSize = tc.size
		bad := false
		for _, p := range c.Problems() {
			bad = bad || p.Key == "app.text_size"
		}
		if bad == tc.ok {
			t.Errorf("text size %d: problem %v", tc.size, bad)
		}
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	c = Default()
	c.App.TextSize = 150
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "[app]") || !strings.Contains(string(b), "text_size = 150") {
		t.Fatalf("saved file:\n%s", b)
	}
	if got, err := Load(path); err != nil || got.App.TextSize != 150 {
		t.Fatalf("loaded %d, %v", got.App.TextSize, err)
	}
	// A file from before the setting keeps the default.
	os.WriteFile(path, []byte("[app]\nlanguage = \"fr\"\n"), 0o600)
	if got, err := Load(path); err != nil || got.App.TextSize != 100 {
		t.Fatalf("an older file: %d, %v", got.App.TextSize, err)
	}
}

// [updates]: on by default; the URL and the pin are checked; the three
// keys round-trip (an IT policy sets them by name).
func TestUpdatesSection(t *testing.T) {
	if d := Default().Updates; !d.Enabled || d.URL != DefaultUpdatesURL || d.Pin != "" {
		t.Fatalf("default %+v", d)
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(path, []byte("[updates]\nenabled = false\nurl = \"https://updates.example/clinicsync.json\"\npin = \"1.4\"\n"), 0o600)
	c, set, err := LoadFile(path)
	if err != nil || !set["updates.enabled"] || !set["updates.pin"] ||
		c.Updates != (Updates{Enabled: false, URL: "https://updates.example/clinicsync.json", Pin: "1.4"}) {
		t.Fatalf("read: %+v %v %v", c.Updates, set, err)
	}
	for _, bad := range []struct{ url, pin, key string }{
		{"ftp://updates.example/m.json", "", "updates.url"},
		{"updates.example", "", "updates.url"},
		{"", "latest", "updates.pin"},
		{"", "1.4.x", "updates.pin"},
		{"", "v1.4", "updates.pin"},
	} {
		c.Updates = Updates{Enabled: true, URL: bad.url, Pin: bad.pin}
		found := false
		for _, pr := range c.Problems() {
			found = found || pr.Key == bad.key
		}
		if !found {
			t.Errorf("%+v: no problem for %s", bad, bad.key)
		}
	}
	c.Updates = Updates{Enabled: true, URL: "http://127.0.0.1:8080/updates/manifest.json", Pin: "1.4.2"}
	for _, pr := range c.Problems() {
		if strings.HasPrefix(pr.Key, "updates.") {
			t.Errorf("%s %s", pr.Key, pr.Message)
		}
	}
}

// [sync] min_free_mb: the free space a pass needs on the disks of the
// documents and data folders, 500 MB unless set, 0 for no check; and
// [app] notify_patient_names, off unless set.
func TestFreeSpaceAndNotificationSettings(t *testing.T) {
	c := Default()
	if c.Sync.MinFreeMB != 500 || c.App.NotifyPatientNames {
		t.Fatalf("defaults: min_free_mb %d, notify_patient_names %v", c.Sync.MinFreeMB, c.App.NotifyPatientNames)
	}
	c.Destination.Root = t.TempDir()
	for _, tc := range []struct {
		mb int
		ok bool
	}{{0, true}, {500, true}, {100000, true}, {-1, false}, {100001, false}} {
		c.Sync.MinFreeMB = tc.mb
		var found bool
		for _, p := range c.Problems() {
			found = found || p.Key == "sync.min_free_mb"
		}
		if found == tc.ok {
			t.Errorf("min_free_mb %d: problem %v", tc.mb, found)
		}
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(path, []byte("[sync]\nmin_free_mb = 2000\n[app]\nnotify_patient_names = true\n"), 0o600)
	got, err := Load(path)
	if err != nil || got.Sync.MinFreeMB != 2000 || !got.App.NotifyPatientNames {
		t.Fatalf("read %+v %+v, %v", got.Sync, got.App, err)
	}
}
