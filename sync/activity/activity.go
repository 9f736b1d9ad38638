// Package activity is the catalogue of the sentences Clinic Sync writes to
// its activity log. A line is stored as one of these keys and its
// arguments (a clinicsync.Text), and put in the reader's language when it
// is shown: the window follows its Language setting, the command line the
// system's locale. The key is the English sentence, with fmt verbs for the
// arguments; assets/translations/fr.json has its French (a test checks
// that every key here has one, with the same verbs).
//
// A key is stored with every line written with it: rewording a sentence
// here leaves the lines written before in their old words (in English,
// the old key having no translation any more), so reword only to fix a
// sentence.
package activity

import "github.com/clinicsync/clinicsync"

var keys []string

// key registers an English sentence as a key.
func key(s string) string {
	keys = append(keys, s)
	return s
}

// Keys returns every key of the catalogue, in the order of this file.
func Keys() []string { return append([]string(nil), keys...) }

// Documents (sync/engine).
var (
	Paused           = key("Synchronisation paused.")
	Resumed          = key("Synchronisation resumed.")
	ResumedDownloads = key("Resumed %d download(s) interrupted by a shutdown.")
	SyncFailed       = key("Synchronisation failed: %s") // the reason ends the sentence
	SyncWorks        = key("Synchronisation works again.")
	NewDocument      = key("New document %s for %s.")      // file, patient
	AlreadyThere     = key("%s for %s was already in %s.") // file, patient, path
	Saved            = key("Saved %s for %s to %s.")       // file, patient, path
	// FailedRetry and FailedRecheck: file, patient, reason (a sentence),
	// then for FailedRetry the time of the next attempt (15:04:05).
	FailedRetry   = key("%s for %s failed: %s Retrying automatically at %s.")
	FailedRecheck = key("%s for %s failed: %s It will be re-checked automatically.")
	// ConfirmRefused is a reason: the platform refused a confirmation.
	ConfirmRefused = key("The platform refused the confirmation: %s")
	ManualRetry    = key("Manual retry of %s for %s.") // file, patient
)

// Parts of lines: a document or a patient without a name.
var (
	docOfType      = key("a %s")        // a document type, when there is no file name
	docByID        = key("document %s") // a document id, when there is neither
	patientByID    = key("patient %s")
	unknownPatient = key("unknown patient")
	inbox          = key("the Inbox (no patient)")
)

// Clinical notes (sync/engine).
var (
	NoteNotProduced = key("%s could not produce note %s: %s")              // platform, note id, the platform's reason
	NoteNotSaved    = key("Note %s for %s could not be saved: %s")         // note id, patient, reason
	NoteUpdated     = key("Updated note %s for %s in %s (changed on %s).") // file, patient, path, platform
	NoteSaved       = key("Saved note %s for %s to %s.")                   // file, patient, path
	NotesFailed     = key("Notes: %s")                                     // reason
)

// Askara's lists (sync/askara, wired in cmd): an item the document or
// notes list carries that cannot be used is left out; said once per item.
var (
	DocumentUnusable = key("Askara listed a document that cannot be used (%s); it is left out.") // reason: "uuid is missing"
	NoteUnusable     = key("Askara listed a note that cannot be used: %s It is left out.")       // reason: a sentence
)

// The webhook relay (sync/relay). A refusal's reason is the answer sent to
// the platform, in English.
var (
	RelayRefused      = key("Webhook relay refused a delivery on /webhooks/%s (HTTP %d): %s.")
	RelayRefusedMany  = key("Webhook relay refused %d deliveries on /webhooks/%s (HTTP %d): %s.")
	SOAPTest          = key("SOAPNoteAPI test event received: the relay is reachable and its signature checks out.")
	EventUnreadable   = key("%s could not be read: %s") // "SOAPNoteAPI <event> <id>", reason
	AzodhaNotWritten  = key("Azodha %s could not be written: %s")
	AzodhaWritten     = key("Azodha %s received; written to %s.")
	AzodhaWrittenU    = key("Azodha %s received (its signature could not be checked: Azodha does not document its scheme); written to %s.")
	AzodhaKept        = key("Azodha %s received; kept as received.")
	AzodhaKeptU       = key("Azodha %s received (its signature could not be checked: Azodha does not document its scheme); kept as received.")
	UnknownEvent      = key("Askara sent an event this version does not handle (%s); acknowledged and ignored.")
	RelayListening    = key("Webhook relay listening on %s (%s).") // address, platforms
	RelayPortTaken    = key("%s is in use by another program (perhaps another user's Clinic Sync on this PC): the webhook relay listens on %s instead.")
	WebhookRemoved    = key("Askara no longer delivers webhooks to %s.")
	WebhookRegistered = key("Askara now delivers new documents, synchronisation requests and notes to %s.")
)

// The service and the command line.
var (
	RelayNotStarted = key("The webhook relay did not start: %s Polling goes on.")
	SettingsSaved   = key("Settings saved and applied.")
	SignedIn        = key("Signed in as %s.")
	SignedOut       = key("Signed out.")
	SignedOutWait   = key("Signed out. Documents wait on Askara until someone signs in again.")
)

// One writer per shared documents folder (sync/engine's lease): the PC
// named writes, this one stands by; it takes over when the writer stops.
var (
	StandingBy  = key("%s writes to the documents folder; this PC stands by and takes over if it stops.") // the writer's PC
	TookOver    = key("This PC writes to the documents folder now: %s stopped renewing its lease.")       // the PC that stopped
	WriterAgain = key("This PC writes to the documents folder now.")
	// LeaseUnkept: the reason is the folder's (sync/dest's UnreliableLease).
	LeaseUnkept = key("%s Clinic Sync writes to it anyway: let only one PC use this folder.")
)

// The network (sync/netclient, wired in cmd): the PC's clock disagrees
// with the platform's Date header by more than 2 minutes; said once.
var (
	ClockAhead  = key("This PC's clock is %d minutes ahead of Askara's: sign-in, signed webhooks and download links can fail. Correct this PC's date and time.")
	ClockBehind = key("This PC's clock is %d minutes behind Askara's: sign-in, signed webhooks and download links can fail. Correct this PC's date and time.")
)

// Problems (sync/engine): a condition that stops documents, written once
// when it becomes a problem (the window's banner, the tray and one
// notification follow it) and once when it clears, never on each retry.
// Its title, cause and fix name folders, never a patient: a notification
// can show on the lock screen.
var (
	ProblemOpened   = key("Documents are stopped (%s): %s %s") // title, cause, fix
	ProblemResolved = key("Resolved: %s.")                     // title

	ProblemPermission  = key("permission denied")
	ProblemReadOnly    = key("read-only folder")
	ProblemDiskFull    = key("disk full")
	ProblemFileLocked  = key("file locked")
	ProblemUnreachable = key("documents folder unreachable")
	ProblemSignedOut   = key("signed out")
	ProblemPlatform    = key("Askara unreachable")

	PermissionCause  = key("Clinic Sync may not write in the documents folder %s.")
	ReadOnlyCause    = key("The documents folder %s is on a read-only disk or share.")
	DiskFullCause    = key("The disk of the documents folder %s is full.")
	FileLockedCause  = key("A file in the documents folder %s has been open in another program for more than 10 minutes.")
	UnreachableCause = key("The documents folder %s has not been reachable for more than 10 minutes.")
	SignedOutCause   = key("Clinic Sync is signed out of Askara: new documents wait there.")
	PlatformCause    = key("Askara has not been reachable for more than 30 minutes.")

	// PermissionFixWindows names Controlled folder access (Windows'
	// ransomware protection), which refuses unknown programs in Documents
	// folders with a plain "access denied".
	PermissionFixWindows = key("If Windows Security's Controlled folder access is on, allow Clinic Sync in Ransomware protection (Allow an app through Controlled folder access); otherwise ask IT to give this user write access to the folder.")
	PermissionFix        = key("Ask IT to give this user write access to the folder.")
	ReadOnlyFix          = key("Make the disk or share writable, or choose another documents folder in Settings.")
	DiskFullFix          = key("Free some space on that disk.")
	FileLockedFix        = key("Close the file in the practice software or the program that holds it open; Clinic Sync then replaces it.")
	UnreachableFix       = key("Connect its drive or network share, or correct the folder in Settings.")
	SignedOutFix         = key("Open Clinic Sync and sign in on the Account tab.")
	PlatformFix          = key("Check this PC's internet connection.") // when the last failure said nothing more useful
)

// reasons are the failure sentences shown in French too: the keys of
// clinicsync.Error (its Message, or the format given to Errorf, Retryablef
// or Permanentf) that a clinic sees most. Any other reason stays English
// inside a translated line. A test makes the real errors and checks that
// their keys are here.
var reasons = []string{
	// The file (sync/dest, sync/askara).
	"The file is not a PDF.",
	"The file is empty.",
	"The download link has expired.",
	"The PDF file is missing on the server.",
	"The download was interrupted.",
	"The download stalled (no data received) and was interrupted.",
	// The destination (sync/dest, sync/engine).
	"Destination folder %s is not reachable.",
	"The destination disk is full.",
	"Clinic Sync may not write to %s.",
	"Could not write to %s.",
	"The file %s is open in another program.",
	// A documents folder several PCs share (sync/engine, sync/dest).
	"%s writes to this folder; this PC stands by.",
	"The documents folder's lease could not be taken yet; Clinic Sync tries again shortly.",
	"The folder %s cannot keep the writer's lease (%s): if several PCs write to it, one document can be written twice.",
	"the share does not replace a file on rename",
	"what was written could not be read back",
	"The folder %s is on a read-only disk or share.",
	"The disk of the documents folder %s has less than %d MB free.",
	"The disk of Clinic Sync's data folder %s has less than %d MB free.",
	// Signed out (sync/askara, sync/auth, sync/engine).
	"Not signed in to Askara; sign in again.",
	"Askara refused the access token; sign in again.",
	"Not signed in to Askara: sign in from the Account tab.",
	"Signed out of Askara: sign in to resume.",
	"Signed out: the document waits for the next sign-in.",
	// The platform (sync/askara, sync/engine).
	"Askara could not be reached at %s; check the internet connection.",
	"Nothing answers at %s: is the simulator or server running?",
	"Askara could not be reached securely at %s (certificate problem).",
	"The file server could not be reached.",
	"The answer from Askara was interrupted.",
	"The platform did not answer the confirmation in time.",
	// The network: proxies, names, certificates (sync/askara's errors.go,
	// for the API, the file server and the sign-in alike).
	"The proxy %s asks for a sign-in: enter its user and password in Settings (Proxy sign-in), or run clinicsync proxy login.",
	"The proxy %s refused the proxy sign-in: correct the user and password in Settings (Proxy sign-in), or run clinicsync proxy login.",
	"The proxy %s does not allow connections to %s: ask IT to allow it.",
	"The proxy %s could not connect to %s (HTTP %d).",
	"The proxy %s (from %s) does not answer: is it running, and is this PC on the clinic's network?",
	"This PC has no network connection; Clinic Sync tries again when it is back.",
	"The certificate of %s was issued by %s, which this PC does not trust: a proxy or antivirus that inspects secure connections is probably in the way. Ask IT for its root certificate and set [network] ca_file.",
	"The certificate of %s is not valid at this PC's date and time: check the clock.",
	"The name %s could not be found (DNS): check the network connection and the address in the configuration file.",
	"Askara does not answer at %s: the service may be down, or this network lets programs out only through a proxy (Settings, Proxy). Clinic Sync keeps trying.",
	// Where a proxy came from (an argument of the sentence above).
	"the environment (%s)",
	"the configuration file ([network] proxy)",
	"the proxy script %s",
	"the proxy script found by WPAD",
	"the system proxy settings",
	// The window's sign-in (sync/auth), shown in the Account tab.
	"Port %d on this computer, where the browser hands the sign-in back, is in use by another program (perhaps another user's Clinic Sync).",
	"Cannot listen on this computer for the sign-in's answer.",
	"Sign-in timed out after %s without an answer from the browser; start the sign-in again.",
	"Sign-in was refused in the browser.",
	"Sign-in failed: %s.",
	"The code %s expired before it was approved; start the sign-in again.",
	"The sign-in was denied on the approval page.",
	// The relay's port, held by another user's relay (sync/relay), shown in Settings.
	"%s is in use by another program (perhaps another user's Clinic Sync on this PC): choose another port in Settings (Webhook relay), and point the proxy or tunnel at it.",
	// Any error.
	"The operation was interrupted.",
	"An internal error occurred.",
}

// Reasons returns the failure sentences that are translated (see
// reasons).
func Reasons() []string { return append([]string(nil), reasons...) }

// Patient names the patient in a line: the name as it is (a string), or a
// Text when there is none. Its English is p.DisplayName().
func Patient(p clinicsync.Patient) any {
	switch {
	case p.FirstName != "" || p.LastName != "":
		return p.DisplayName()
	case p.ExternalID != "":
		return clinicsync.NewText(patientByID, p.ExternalID)
	case p.UUID != "":
		return clinicsync.NewText(patientByID, p.UUID)
	}
	return clinicsync.NewText(unknownPatient)
}

// NotePatient names the patient of a note, or the Inbox when it has none.
func NotePatient(p *clinicsync.Patient) any {
	if p == nil {
		return clinicsync.NewText(inbox)
	}
	return Patient(*p)
}

// Document names a document in a line: its file name as it is, else its
// type, else its id.
func Document(fileName, docType, uuid string) any {
	switch {
	case fileName != "":
		return fileName
	case docType != "":
		return clinicsync.NewText(docOfType, docType)
	}
	return clinicsync.NewText(docByID, uuid)
}
