package app

import (
	"sync"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/service"
)

// notifier decides which desktop notifications to send: one when a
// problem that stops documents opens (the engine's Problems: a folder
// that refuses writes, a full disk, a file held open for ten minutes,
// signed out, ...), one per document that failed for good, never one per
// retry, and none for what the user just did (signing out). A
// notification can show on the lock screen: it names folders, never a
// patient, unless the setting allows names for failed documents.
type notifier struct {
	send func(title, body string)
	// names says whether a failed document's notification may name its
	// patient ([app] notify_patient_names).
	names func() bool

	mu   sync.Mutex
	open map[engine.ProblemKind]bool // the problems open at the last look
	told map[string]bool             // documents already notified
}

func (n *notifier) observe(st service.Status, failedForGood []engine.DocumentView, userSignedOut bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.told == nil {
		n.told = map[string]bool{}
	}
	var out [][2]string
	open := map[engine.ProblemKind]bool{}
	for _, p := range st.Problems {
		open[p.Kind] = true
		if n.open[p.Kind] {
			continue // said when it opened
		}
		if p.Kind == engine.ProblemSignedOut && (userSignedOut || st.Account.Managed) {
			continue
		}
		out = append(out, [2]string{Tf("Clinic Sync: %s", TText(p.Title)), TText(p.Cause) + " " + TText(p.Fix)})
	}
	n.open = open
	var fresh []engine.DocumentView
	for _, d := range failedForGood {
		if !n.told[d.UUID] {
			n.told[d.UUID] = true
			fresh = append(fresh, d)
		}
	}
	switch {
	case len(fresh) == 1 && n.names != nil && n.names():
		d := fresh[0]
		out = append(out, [2]string{T("Clinic Sync: a document could not be saved"),
			displayFile(d) + " (" + d.Patient.DisplayName() + "): " + reasonText(d)})
	case len(fresh) == 1:
		out = append(out, [2]string{T("Clinic Sync: a document could not be saved"),
			T("1 document needs attention; open Clinic Sync to see why.")})
	case len(fresh) > 1:
		out = append(out, [2]string{T("Clinic Sync: documents could not be saved"),
			Tf("%d documents need attention; open Clinic Sync to see why.", len(fresh))})
	}
	for _, m := range out {
		n.send(clinicsync.CleanText(m[0]), clinicsync.CleanText(m[1]))
	}
}

// forget lets a document notify again once it was delivered and failed anew.
func (n *notifier) forget(uuid string) {
	n.mu.Lock()
	delete(n.told, uuid)
	n.mu.Unlock()
}
