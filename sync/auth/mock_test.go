//go:build !realkeyring

package auth

import (
	"testing"

	"github.com/zalando/go-keyring"
)

// Unit tests use go-keyring's in-memory mock; `make keychain-test` runs the
// same tests with -tags realkeyring against a real Secret Service.
func TestMain(m *testing.M) {
	keyring.MockInit()
	m.Run()
}
