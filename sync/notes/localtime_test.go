package notes

import (
	"os"
	"strings"
	"testing"
	"time"

	_ "time/tzdata" // Europe/Paris on any machine, Windows and bare containers included
)

// The notes' tests run in the time zone of a clinic in Paris, whatever the
// machine's: a note's file name and header use the PC's local time, so the
// golden files depend on the zone.
func TestMain(m *testing.M) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	time.Local = paris
	os.Exit(m.Run())
}

// A consultation at 00:30 at the clinic is filed under its own day, not the
// day before (UTC), and its header says the local time with its offset, in
// winter and in summer.
func TestNoteDatesAreTheClinicsLocalDay(t *testing.T) {
	for _, tc := range []struct {
		at         time.Time
		file, date string
	}{
		{time.Date(2026, 2, 24, 23, 30, 0, 0, time.UTC), "2026-02-25_", "Date: 2026-02-25 00:30 +01:00\r\n"},
		{time.Date(2026, 7, 1, 22, 30, 0, 0, time.UTC), "2026-07-02_", "Date: 2026-07-02 00:30 +02:00\r\n"},
		{time.Date(2026, 7, 1, 12, 5, 0, 0, time.FixedZone("", -4*3600)), "2026-07-01_", "Date: 2026-07-01 18:05 +02:00\r\n"},
	} {
		n := Note{Source: "askara", ID: "a", Type: "consultation", CreatedAt: tc.at, UpdatedAt: tc.at.Add(time.Hour)}
		if got := FileName(n); !strings.HasPrefix(got, tc.file) {
			t.Errorf("%s: file name %q, want the prefix %q", tc.at, got, tc.file)
		}
		out := string(Render(n))
		if !strings.Contains(out, tc.date) {
			t.Errorf("%s: header\n%s\nwant %q", tc.at, out, tc.date)
		}
		if want := "Updated: " + tc.at.Add(time.Hour).Local().Format("2006-01-02 15:04 -07:00") + "\r\n"; !strings.Contains(out, want) {
			t.Errorf("%s: header\n%s\nwant %q", tc.at, out, want)
		}
	}
}
