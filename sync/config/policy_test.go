package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/clinicsync/clinicsync"
)

// values is a source holding fixed values, as a registry key does.
func values(where string, v map[string]string) PolicySource {
	return PolicySource{Where: where, Read: func() (map[string]string, error) { return v, nil }}
}

// Saving key by key writes what toml's encoder of the whole struct wrote
// before: files saved by earlier versions and by this one look alike.
func TestEncodeIsTheStructEncoding(t *testing.T) {
	c := Default()
	c.Destination.Root = `C:\PMS\Patients`
	c.Relay.AzodhaFiles = []string{"BookAppointment"}
	for _, c := range []Config{Default(), c} {
		var want bytes.Buffer
		want.WriteString("# Clinic Sync configuration. Every key is documented in README.md.\n")
		if err := toml.NewEncoder(&want).Encode(c); err != nil {
			t.Fatal(err)
		}
		got, err := c.encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want.String() {
			t.Fatalf("encode:\n%s\nwant:\n%s", got, want.String())
		}
	}
}

func TestPolicyNamesAreKeys(t *testing.T) {
	for name, key := range PolicyNames {
		if key == "" {
			continue
		}
		if _, err := field(&Config{}, key); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(Keys()) < 20 || Keys()[0] != "askara.api_url" {
		t.Fatalf("Keys: %v", Keys())
	}
}

// The layers: default < policy preset < user file < policy locked; the
// first source that sets a key gives its value; any source locks.
func TestPolicyLayersOverTheUserFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.toml")
	os.WriteFile(file, []byte(`lock = ["relay.enabled", "SOFTWARE_ID"]
[askara]
poll_interval = "2m"
[destination]
patient_folder = "{LASTNAME}"
[relay]
platforms = ["askara", "nabla"]
`), 0o600)
	p, err := ReadPolicy([]PolicySource{
		values(`HKLM\Software\Policies\ClinicSync`, map[string]string{"DESTINATION_ROOT": `C:\PMS\Patients`, "LOCK": "DESTINATION_ROOT, notes.enabled",
			"API_URL": "", "UPDATES": "0"}),
		PolicyFile(file),
		values(`HKCU\Software\ClinicSync`, map[string]string{"destination.root": `D:\Elsewhere`, "POLL_INTERVAL": "60", "api_url": "http://127.0.0.1:9"}),
		PolicyFile(filepath.Join(dir, "missing.toml")),
	})
	if err != nil {
		t.Fatal(err)
	}
	user := Default()
	user.Destination.Root = `C:\Users\Nurse\Documents` // the user's file says otherwise: locked, it does not win
	user.Destination.PatientFolder = "{FIRSTNAME}"     // a preset the user changed: the user's
	user.Notes.Enabled = false                         // locked at the default
	user.Relay.Enabled = true                          // locked at the default
	userSet := map[string]bool{"destination.root": true, "destination.patient_folder": true, "notes.enabled": true, "relay.enabled": true}
	c, src := p.Apply(user, userSet)

	if c.Destination.Root != `C:\PMS\Patients` || src["destination.root"] != FromPolicy {
		t.Errorf("locked root: %q from %s", c.Destination.Root, src["destination.root"])
	}
	if c.Askara.APIURL != "http://127.0.0.1:9" || src["askara.api_url"] != FromPolicy {
		t.Errorf("preset api_url (an empty value is no value): %q from %s", c.Askara.APIURL, src["askara.api_url"])
	}
	if c.Askara.PollInterval.Duration != 2*time.Minute || src["askara.poll_interval"] != FromPolicy {
		t.Errorf("the file comes before the user's preset: %s from %s", c.Askara.PollInterval, src["askara.poll_interval"])
	}
	if c.Destination.PatientFolder != "{FIRSTNAME}" || src["destination.patient_folder"] != FromFile {
		t.Errorf("a preset the user changed: %q from %s", c.Destination.PatientFolder, src["destination.patient_folder"])
	}
	if !c.Notes.Enabled || !p.Locked("notes.enabled") || src["notes.enabled"] != FromDefault ||
		c.Relay.Enabled || src["relay.enabled"] != FromDefault {
		t.Errorf("locked at the default: notes %v relay %v %v", c.Notes.Enabled, c.Relay.Enabled, src)
	}
	if !reflect.DeepEqual(c.Relay.Platforms, []string{"askara", "nabla"}) || src["sync.workers"] != FromDefault {
		t.Errorf("platforms %v, workers from %s", c.Relay.Platforms, src["sync.workers"])
	}
	if got := strings.Join(p.LockedKeys(), " "); got != "destination.root destination.software_id notes.enabled relay.enabled" {
		t.Errorf("locked %s", got)
	}
	if p.Where("destination.root") != `HKLM\Software\Policies\ClinicSync` || p.Where("askara.poll_interval") != file {
		t.Errorf("where: %q %q", p.Where("destination.root"), p.Where("askara.poll_interval"))
	}
	if c.Updates.Enabled || src["updates.enabled"] != FromPolicy {
		t.Errorf("UPDATES=0: update checks %v from %s", c.Updates.Enabled, src["updates.enabled"])
	}
	if len(src) != len(Keys()) {
		t.Errorf("%d sources for %d keys", len(src), len(Keys()))
	}
}

func TestPolicyProblemsNameTheirSource(t *testing.T) {
	for name, v := range map[string]map[string]string{
		"unknown name": {"DESTINATON_ROOT": `C:\x`},
		"bad duration": {"POLL_INTERVAL": "soon"},
		"bad yes/no":   {"NOTES": "maybe"},
		"unknown lock": {"LOCK": "DESTINATION_ROOT,PASSWORD"},
		"unknown key":  {"askara.token": "x"},
	} {
		_, err := ReadPolicy([]PolicySource{values(`HKLM\Software\ClinicSync`, v)})
		if clinicsync.ErrorCode(err) != clinicsync.EConfig || !strings.Contains(clinicsync.ErrorMessage(err), `HKLM\Software\ClinicSync`) {
			t.Errorf("%s: %v", name, err)
		}
	}
	f := filepath.Join(t.TempDir(), "policy.toml")
	os.WriteFile(f, []byte("[askara\n"), 0o600)
	if _, err := ReadPolicy([]PolicySource{PolicyFile(f)}); clinicsync.ErrorCode(err) != clinicsync.EConfig ||
		!strings.Contains(clinicsync.ErrorMessage(err), f) {
		t.Errorf("a broken file: %v", err)
	}
}

// Saving cannot change a locked value, and the user's file does not copy
// what the policy gives: it follows the policy when IT changes it.
func TestSavingUnderAPolicy(t *testing.T) {
	p, err := ReadPolicy([]PolicySource{values("HKLM", map[string]string{
		"DESTINATION_ROOT": `/srv/patients`, "API_URL": "https://staging.askara.ai", "PATIENT_FOLDER": "{LASTNAME}", "LOCK": "DESTINATION_ROOT"})})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := p.Apply(Default(), nil)
	changed := c
	changed.Destination.Root = "/tmp/mine"
	if probs := p.Refuse(changed); len(probs) != 1 || probs[0].Key != "destination.root" ||
		!strings.Contains(probs[0].Message, "IT administrator") {
		t.Fatalf("refuse: %+v", probs)
	}
	if probs := p.Refuse(c); len(probs) != 0 {
		t.Fatalf("refused the policy's own value: %+v", probs)
	}
	c.Destination.PatientFolder = "{FIRSTNAME}" // the user's choice over a preset
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := c.SaveWithout(path, p.Omit(c)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "root =") || strings.Contains(string(b), "staging") || !strings.Contains(string(b), `patient_folder = "{FIRSTNAME}"`) {
		t.Fatalf("saved:\n%s", b)
	}
	user, set, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	again, src := p.Apply(user, set)
	if !reflect.DeepEqual(again, c) || src["askara.api_url"] != FromPolicy || src["destination.patient_folder"] != FromFile {
		t.Fatalf("reloaded %+v\nwant %+v\n%v", again, c, src)
	}
}

// The places a policy is read from are those issue 16 and the README name,
// in that order of precedence (the registry and ProgramData are read for
// real under Wine: cmd/clinicsync/wineit_test.go).
func TestSystemPolicyPlaces(t *testing.T) {
	var got []string
	for _, s := range SystemPolicy() {
		got = append(got, s.Where)
	}
	var want []string
	switch runtime.GOOS {
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		want = []string{`HKLM\Software\Policies\ClinicSync`, `HKCU\Software\Policies\ClinicSync`,
			pd + `\ClinicSync\policy.toml`, `HKLM\Software\ClinicSync`, `HKCU\Software\ClinicSync`}
	case "darwin":
		want = []string{"/Library/Application Support/ClinicSync/policy.toml"}
	default:
		want = []string{"/etc/clinicsync/policy.toml"}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("policy read from %q, want %q", got, want)
	}
}
