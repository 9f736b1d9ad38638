package app

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// shownLines are the Activity tab's loaded lines as shown, newest first
// (UI goroutine).
func shownLines(v *activityView) []string {
	out := make([]string, v.loaded())
	for i := range out {
		out[i] = v.row(i).Message
	}
	return out
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// Lines written while the window speaks English read in French once the
// Language setting says French, and in English again after: the log keeps
// each line as a key and its arguments, and the window renders them. A
// line stored before keys existed shows its stored text in both. The
// header and the notification say why a pass failed in the window's
// language too. Search reads the stored English.
func TestActivityFollowsTheLanguage(t *testing.T) {
	r := newUIRig(t, 0)
	t.Cleanup(func() { SetLanguage("en") })
	ctx := context.Background()

	// The documents folder is away: the pass fails.
	away := r.root + ".away"
	if err := os.Rename(r.root, away); err != nil {
		t.Fatal(err)
	}
	if _, err := r.eng.Pass(ctx); clinicsync.ErrorCode(err) != clinicsync.EDestination {
		t.Fatalf("pass with the folder away: %v", err)
	}
	awaySt := r.svc.Status()
	if err := os.Rename(away, r.root); err != nil {
		t.Fatal(err)
	}
	r.pass() // the broken document fails for good (not a PDF)
	r.eng.Pause()
	old := `Saved old_letter.pdf for Jean Dupont to C:\Patients\Dupont Jean.`
	if _, err := r.st.Log(ctx, engine.LevelInfo, "", old); err != nil { // as written before keys
		t.Fatal(err)
	}

	unreachable := "Destination folder " + r.root + " is not reachable."
	english := []string{
		"Synchronisation paused.",
		"lab_results.pdf for Élodie Martin failed: The file is not a PDF. It will be re-checked automatically.",
		"New document lab_results.pdf for Élodie Martin.",
		"Synchronisation works again.",
		"Synchronisation failed: " + unreachable,
		old,
	}
	french := []string{
		"Synchronisation en pause.",
		"Échec pour lab_results.pdf (Élodie Martin) : Le fichier n'est pas un PDF. Une nouvelle vérification sera faite automatiquement.",
		"Nouveau document lab_results.pdf pour Élodie Martin.",
		"La synchronisation fonctionne de nouveau.",
		"Échec de la synchronisation : Le dossier de destination " + r.root + " est inaccessible.",
		old,
	}
	showAll := func(lang string, want []string) {
		t.Helper()
		r.onUI(func() {
			r.ui.setLanguage(lang)
			r.ui.tabs.SelectIndex(tabActivity)
		})
		r.until(lang+" lines", func() bool {
			lines := shownLines(r.ui.activity)
			for _, w := range want {
				if !hasLine(lines, w) {
					return false
				}
			}
			return true
		})
	}
	showAll("en", english)
	showAll("fr", french)
	r.onUI(func() {
		for _, l := range shownLines(r.ui.activity) {
			if l != old && (strings.Contains(l, " for ") || strings.Contains(l, "Synchronisation failed")) {
				t.Errorf("an English line in French: %q", l)
			}
		}
		if got := r.ui.tabs.Items[tabActivity].Text; got != "Activité" {
			t.Errorf("tab %q", got)
		}
	})
	showAll("en", english)

	// Search reads the English the log stores, whatever the language.
	r.onUI(func() {
		r.ui.setLanguage("fr")
		r.ui.activity.search.SetText("Not a PDF")
	})
	r.until("the search in French", func() bool {
		lines := shownLines(r.ui.activity)
		return len(lines) == 1 && lines[0] == french[1]
	})

	// Why the document failed, in its details and its notification.
	r.onUI(func() { r.ui.tabs.SelectIndex(tabDocuments) })
	r.selectDoc(r.broken)
	r.onUI(func() {
		if got := r.ui.docs.reason.Text; got != "Le fichier n'est pas un PDF." {
			t.Errorf("details: reason %q", got)
		}
	})
	d, err := r.svc.Document(ctx, r.broken)
	if err != nil {
		t.Fatal(err)
	}
	var docBody string
	names := func() bool { return true } // [app] notify_patient_names: the reason is shown then
	(&notifier{send: func(_, b string) { docBody = b }, names: names}).observe(r.svc.Status(), []engine.DocumentView{d}, false)
	if want := "lab_results.pdf (Élodie Martin): Le fichier n'est pas un PDF."; docBody != want {
		t.Errorf("notification %q, want %q", docBody, want)
	}

	// Why the pass failed, in the header and the notification.
	if awaySt.Status != engine.StatusAttention || awaySt.LastPassError != unreachable {
		t.Fatalf("status with the folder away: %s %q", awaySt.Status, awaySt.LastPassError)
	}
	// Ten minutes later it is a problem: its notification in French.
	var title, body string
	n := notifier{send: func(t, b string) { title, body = t, b }}
	farAway := awaySt
	farAway.Problems = []engine.Problem{{Kind: engine.ProblemUnreachable, Open: true, Title: clinicsync.NewText(activity.ProblemUnreachable),
		Cause: clinicsync.NewText(activity.UnreachableCause, r.root), Fix: clinicsync.NewText(activity.UnreachableFix)}}
	n.observe(farAway, nil, false)
	if want := "Le dossier des documents " + r.root + " est injoignable depuis plus de 10 minutes. " +
		"Connectez son disque ou son partage réseau, ou corrigez le dossier dans Réglages."; title != "Clinic Sync : dossier des documents injoignable" || body != want {
		t.Errorf("notification %q: %q, want %q", title, body, want)
	}
	if got, want := statusText(awaySt), "Attention : Le dossier de destination "+r.root+" est inaccessible."; got != want {
		t.Errorf("header %q, want %q", got, want)
	}
}
