package relay

import (
	"os"
	"testing"
	"time"

	_ "time/tzdata" // Europe/Paris on any machine
)

// The relay's tests run in the time zone of a clinic in Paris, as the notes'
// do: notes are filed by the PC's local date and time, and the end-to-end
// test compares them with the notes package's golden files.
func TestMain(m *testing.M) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	time.Local = paris
	os.Exit(m.Run())
}
