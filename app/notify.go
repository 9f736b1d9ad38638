package app

import (
	"sync"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/service"
)

// notifier decides which desktop notifications to send: one per new
// problem (a document that failed for good, sign-in needed, destination
// unreachable), never one per retry, and none for what the user just did
// (signing out).
type notifier struct {
	send func(title, body string)

	mu          sync.Mutex
	signedOut   bool
	unreachable bool
	told        map[string]bool // documents already notified
}

func (n *notifier) observe(st service.Status, failedForGood []engine.DocumentView, userSignedOut bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.told == nil {
		n.told = map[string]bool{}
	}
	var out [][2]string
	if st.SignedOut && !n.signedOut && !userSignedOut && !st.Account.Managed {
		out = append(out, [2]string{T("Clinic Sync: sign-in needed"),
			T("Documents are waiting on Askara. Open Clinic Sync and sign in.")})
	}
	n.signedOut = st.SignedOut
	unreachable := st.LastPassCode == clinicsync.EDestination
	if unreachable && !n.unreachable {
		out = append(out, [2]string{T("Clinic Sync: documents folder unreachable"), lastPassError(st)})
	}
	n.unreachable = unreachable
	var fresh []engine.DocumentView
	for _, d := range failedForGood {
		if !n.told[d.UUID] {
			n.told[d.UUID] = true
			fresh = append(fresh, d)
		}
	}
	switch {
	case len(fresh) == 1:
		d := fresh[0]
		out = append(out, [2]string{T("Clinic Sync: a document could not be saved"),
			displayFile(d) + " (" + d.Patient.DisplayName() + "): " + reasonText(d)})
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
