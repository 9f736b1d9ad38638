package service

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// notRuntime are the keys of the file RuntimeOf leaves out on purpose, and
// who reads them instead: the desktop app's own preferences.
var notRuntime = map[string]string{
	"app.start_at_login":       "Apply, which switches Parts.Autostart; cmd makes the OS entry agree at start",
	"app.language":             "the window (app.SetLanguage): cmd at start, the Settings form on Save",
	"app.text_size":            "the window (a theme scaling its text): at start, and the Settings form on Save",
	"app.notify_patient_names": "the window's notifications (app/notify.go), from Settings() when it sends one",
}

// eachKey calls f with every key of the file ("relay.listen") and a copy
// of c with that one value changed.
func eachKey(t *testing.T, c config.Config, f func(key string, changed config.Config)) {
	t.Helper()
	name := func(sf reflect.StructField) string {
		n, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		return n
	}
	ct := reflect.TypeOf(c)
	for i := range ct.NumField() {
		sec := ct.Field(i)
		for j := range sec.Type.NumField() {
			key := name(sec) + "." + name(sec.Type.Field(j))
			changed := c // a copy: lists are replaced below, never changed in place
			switch v := reflect.ValueOf(&changed).Elem().Field(i).Field(j).Addr().Interface().(type) {
			case *string:
				*v += "-changed"
			case *bool:
				*v = !*v
			case *int:
				*v++
			case *[]string:
				*v = append(slices.Clone(*v), "changed")
			case *config.Duration:
				v.Duration += time.Second
			default:
				t.Fatalf("%s: this test cannot change a %T yet: teach it", key, v)
			}
			f(key, changed)
		}
	}
}

// A setting of the file reaches the running parts through RuntimeOf, or is
// listed in notRuntime with who reads it: a key added to config.Config
// and forgotten in the mapping fails here.
func TestRuntimeOfMapsEveryKey(t *testing.T) {
	c := config.Default()
	want := RuntimeOf(c, engine.Config{})
	seen := map[string]bool{}
	eachKey(t, c, func(key string, changed config.Config) {
		seen[key] = true
		mapped := !reflect.DeepEqual(RuntimeOf(changed, engine.Config{}), want)
		why, left := notRuntime[key]
		switch {
		case !mapped && !left:
			t.Errorf("%s reaches no running part: map it in RuntimeOf, or list it in notRuntime with who reads it", key)
		case mapped && left:
			t.Errorf("%s is mapped by RuntimeOf, yet listed as read by %s", key, why)
		}
	})
	for key := range notRuntime {
		if !seen[key] {
			t.Errorf("notRuntime lists %s, which the file does not have", key)
		}
	}
	// What the file does not hold stays as the engine was tuned.
	if got := RuntimeOf(c, engine.Config{QuickRetryDelay: time.Millisecond}).Engine; got.QuickRetryDelay != time.Millisecond {
		t.Errorf("RuntimeOf dropped the engine's tuning: %+v", got)
	}
}

// One comparison of the relay's settings: every [relay] key counts, and a
// list left empty is the same as one never set.
func TestRelayEqualSeesEveryRelayKey(t *testing.T) {
	c := config.Default()
	c.Relay.AzodhaFiles = []string{}
	eachKey(t, c, func(key string, changed config.Config) {
		if strings.HasPrefix(key, "relay.") && changed.Relay.Equal(c.Relay) {
			t.Errorf("Relay.Equal does not see a change of %s", key)
		}
	})
	same := c.Relay
	same.AzodhaFiles, same.Platforms = nil, slices.Clone(c.Relay.Platforms)
	if !same.Equal(c.Relay) || !c.Relay.Equal(same) {
		t.Error("an empty list and no list differ")
	}
}
