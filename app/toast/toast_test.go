package toast

import (
	"encoding/xml"
	"runtime"
	"strings"
	"testing"
)

// The toast's XML carries the text as text, whatever it holds.
func TestContentEscapes(t *testing.T) {
	c := Content(`Clinic Sync: <disk> "full"`, "D:\\Patients & Co's")
	var v struct {
		Text []string `xml:"visual>binding>text"`
	}
	if err := xml.Unmarshal([]byte(c), &v); err != nil {
		t.Fatalf("%v: %s", err, c)
	}
	if len(v.Text) != 2 || v.Text[0] != `Clinic Sync: <disk> "full"` || v.Text[1] != "D:\\Patients & Co's" {
		t.Fatalf("texts %q from %s", v.Text, c)
	}
	if !strings.Contains(c, `template="ToastGeneric"`) {
		t.Fatal(c)
	}
}

// Elsewhere than Windows there is no native toast: the caller uses the
// desktop's own notifications.
func TestUnsupportedElsewhere(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has toasts")
	}
	if err := Show("a", "b"); err != ErrUnsupported {
		t.Fatalf("Show: %v", err)
	}
}
