package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/sim"
)

// The administrator's settings win over the user's file where they are
// locked, are the user's starting point where they are not, and status
// says where each value came from. (On Windows the same is proven from
// the registry and %ProgramData% under Wine: TestWineITPolicyAndDataFolder.)
func TestStatusSaysWhereEachValueCameFrom(t *testing.T) {
	s := newSetup(t, sim.Options{Seed: 1})
	// The user's file sets every key (Settings writes them all); its
	// [destination] root is s.root. It leaves out [sync] workers.
	b, _ := os.ReadFile(s.cfgPath)
	without := strings.Replace(string(b), fmt.Sprintf("workers = %d", config.DefaultWorkers), "", 1)
	if without == string(b) {
		t.Fatalf("the user's file has no workers line to leave out:\n%s", b)
	}
	os.WriteFile(s.cfgPath, []byte(without), 0o600)
	it := filepath.Join(s.dir, "PMS")
	os.Mkdir(it, 0o755)
	policy := filepath.Join(s.dir, "policy.toml")
	os.WriteFile(policy, []byte("lock = [\"DESTINATION_ROOT\"]\n[destination]\nroot = '"+it+"'\n[sync]\nworkers = 2\n[askara]\npoll_interval = \"2m\"\n"), 0o600)
	s.extraEnv = []string{"CLINICSYNC_POLICY=" + policy, "HTTPS_PROXY=http://127.0.0.1:1"}
	out, errOut, code := s.run(t, "status", "--json")
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	want := map[string]config.Source{"destination.root": config.FromPolicy, "sync.workers": config.FromPolicy,
		"askara.poll_interval": config.FromFile, "askara.api_url": config.FromFile, "sync.retention_days": config.FromFile,
		"network.proxy": config.FromEnv}
	for k, w := range want {
		if rep.Sources[k] != w {
			t.Errorf("%s from %q, want %q", k, rep.Sources[k], w)
		}
	}
	if rep.Root != it || len(rep.Locked) != 1 || rep.Locked[0] != "destination.root" || rep.PolicyFrom["destination.root"] != policy {
		t.Errorf("destination %q, locked %v, from %v", rep.Root, rep.Locked, rep.PolicyFrom)
	}
	text, _, _ := s.run(t, "status")
	if !strings.Contains(text, "set by IT:    destination.root ("+policy+", locked)") || !strings.Contains(text, "destination:  "+it) {
		t.Errorf("status:\n%s", text)
	}

	// A policy that names nothing real is said, with where it is.
	os.WriteFile(policy, []byte("DESTINATON_ROOT = 'C:\\x'\n"), 0o600)
	out, _, _ = s.run(t, "status", "--json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !strings.Contains(rep.ConfigProblem, policy) ||
		!strings.Contains(rep.ConfigProblem, "DESTINATON_ROOT") {
		t.Errorf("problem %q (%v)", rep.ConfigProblem, err)
	}
}
