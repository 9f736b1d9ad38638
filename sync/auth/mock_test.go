//go:build !realkeyring

package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/clinicsync/clinicsync"
)

// Unit tests use go-keyring's in-memory mock; `make keychain-test` runs the
// same tests with -tags realkeyring against a real Secret Service.
func TestMain(m *testing.M) {
	keyring.MockInit()
	m.Run()
}

// errNoSecretService is what go-keyring says on Linux when the session bus
// has no keyring daemon.
var errNoSecretService = errors.New("The name org.freedesktop.secrets was not provided by any .service files")

// Check proves the keychain can save (and leaves nothing behind); a
// keychain that cannot gives the no-keychain sentence, or a refusal.
func TestKeychainCheck(t *testing.T) {
	t.Cleanup(keyring.MockInit)
	k := Keychain{Service: "Clinic Sync test", User: "check"}
	if err := k.Check(); err != nil {
		t.Fatalf("a working keychain: %v", err)
	}
	if s, err := k.Load(); s != nil || err != nil {
		t.Fatalf("the check left a sign-in behind: %+v %v", s, err)
	}
	if err := keyring.DeleteAll(k.Service); err != nil {
		t.Fatal(err)
	}

	keyring.MockInitWithError(errNoSecretService)
	err := k.Check()
	if !errors.Is(err, ErrNoKeychain) || clinicsync.ErrorCode(err) != clinicsync.EConfig ||
		!strings.HasPrefix(clinicsync.ErrorMessage(err), "No keychain is available on this computer") {
		t.Fatalf("no Secret Service: %v", err)
	}
	keyring.MockInitWithError(errors.New("the user dismissed the unlock prompt"))
	if err := k.Check(); err == nil || errors.Is(err, ErrNoKeychain) {
		t.Fatalf("a keychain that refuses: %v", err)
	}
}
