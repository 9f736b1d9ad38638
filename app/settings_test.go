package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/service"
)

// What the administrator locked shows read-only, says it is set by IT,
// and saving leaves it unchanged; the other fields save as usual.
func TestSettingsShowsLockedFieldsReadOnly(t *testing.T) {
	var itRoot string
	r := newUIRigWith(t, 0, func(p *service.Parts, _ string) {
		itRoot = p.Config.Destination.Root
		pol, err := config.ReadPolicy([]config.PolicySource{{Where: `HKLM\Software\Policies\ClinicSync`,
			Read: func() (map[string]string, error) {
				return map[string]string{"DESTINATION_ROOT": itRoot, "RELAY": "0", "AUTOSTART": "0",
					"LOCK": "DESTINATION_ROOT,RELAY,AUTOSTART,relay.listen"}, nil
			}}})
		if err != nil {
			t.Fatal(err)
		}
		p.Policy = pol
		p.Config, _ = pol.Apply(p.Config, nil)
	})
	s := r.ui.settings
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, w := range map[string]fyne.Disableable{"folder": s.root, "Choose…": s.browse, "relay": s.relay,
		"listen": s.listen, "start at login": s.startLogin} {
		if !w.Disabled() {
			t.Errorf("%s is not read-only", name)
		}
	}
	for name, w := range map[string]fyne.Disableable{"patient folder": s.template, "poll": s.poll, "notes": s.notes} {
		if w.Disabled() {
			t.Errorf("%s is read-only, but not locked", name)
		}
	}
	if n := countLabels(s.form, "Set by your IT administrator"); n != 3 {
		t.Errorf("%d fields say they are set by IT, want 3 (folder, relay, start at login)", n)
	}
	// Typing elsewhere re-checks the form: the locked fields stay locked.
	s.template.SetText("{LASTNAME}_{FIRSTNAME}/{FIRSTNAME}")
	if !s.root.Disabled() || !s.listen.Disabled() {
		t.Fatal("a check enabled a locked field")
	}

	// A locked value changed behind the form's back is not saved.
	mine := filepath.Join(r.dir, "Mine")
	os.Mkdir(mine, 0o755)
	s.root.SetText(mine)
	test.Tap(s.save)
	r.wait("the refusal", func() bool { return strings.HasPrefix(s.result.Text, "Not saved") })
	if p := s.problems["destination.root"]; p.Hidden || !strings.Contains(p.Text, "IT administrator") {
		t.Fatalf("root problem %q hidden %v", p.Text, p.Hidden)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "config.toml")); !os.IsNotExist(err) {
		t.Fatal("saved over a locked value")
	}

	// With the administrator's value, the rest saves; the user's file
	// does not copy the locked value, and the engine keeps it.
	s.root.SetText(itRoot)
	test.Tap(s.save)
	r.wait("the save", func() bool { return s.result.Text == "Saved and applied." })
	b, err := os.ReadFile(filepath.Join(r.dir, "config.toml"))
	if err != nil || strings.Contains(string(b), "root =") || !strings.Contains(string(b), `{LASTNAME}_{FIRSTNAME}/{FIRSTNAME}`) {
		t.Fatalf("the user's file (%v):\n%s", err, b)
	}
	if l := r.eng.Destination().(dest.Layout); l.Root != itRoot || l.Template != "{LASTNAME}_{FIRSTNAME}/{FIRSTNAME}" {
		t.Fatalf("engine destination %+v", l)
	}
}

// countLabels counts the labels below o whose text is text.
func countLabels(o fyne.CanvasObject, text string) int {
	n := 0
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch w := o.(type) {
		case *widget.Label:
			if w.Text == text {
				n++
			}
		case *widget.Form:
			for _, it := range w.Items {
				walk(it.Widget)
			}
		case *container.ThemeOverride:
			walk(w.Content)
		case *fyne.Container:
			for _, c := range w.Objects {
				walk(c)
			}
		}
	}
	walk(o)
	return n
}
