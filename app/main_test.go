package app

import (
	"os"
	"testing"

	"github.com/zalando/go-keyring"
)

// The tests read the English texts whatever the machine's language (make
// test no longer sets LANG); the i18n tests set the language they test.
func TestMain(m *testing.M) {
	keyring.MockInit() // the setup tests sign in; the real keychain is tested in sync/auth
	if err := SetLanguage("en"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
