//go:build realkeyring

package auth

import (
	"strings"
	"testing"

	"github.com/zalando/go-keyring"
)

// TestRealKeychainIsThere makes a run with -tags realkeyring fail loudly
// when no keychain answers, instead of passing on nothing.
func TestRealKeychainIsThere(t *testing.T) {
	if err := keyring.Set("Clinic Sync test", "probe", "x"); err != nil {
		t.Fatalf("no real keychain: %v", err)
	}
	defer keyring.Delete("Clinic Sync test", "probe")
	k := Keychain{Service: "Clinic Sync test", User: "real"}
	if err := k.Check(); err != nil {
		t.Fatalf("the check refuses a real keychain: %v", err)
	}
	if _, err := keyring.Get(k.Service, k.User+"#check"); err != keyring.ErrNotFound {
		t.Fatalf("the check left its probe behind: %v", err)
	}
	big := strings.Repeat("T", 4096)
	if err := k.Save(&Saved{RefreshToken: big}); err != nil {
		t.Fatal(err)
	}
	defer k.Delete()
	got, err := k.Load()
	if err != nil || got.RefreshToken != big {
		t.Fatalf("real round trip: %v", err)
	}
}
