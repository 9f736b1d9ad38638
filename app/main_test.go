package app

import (
	"os"
	"testing"
)

// The tests read the English texts whatever the machine's language (make
// test no longer sets LANG); the i18n tests set the language they test.
func TestMain(m *testing.M) {
	if err := SetLanguage("en"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
