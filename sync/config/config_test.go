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
