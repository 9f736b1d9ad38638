// Package failpoint lets crash tests kill the real process at a named step
// (the etcd gofail idea, without code generation): when the environment
// variable CLINICSYNC_FAILPOINT names a point, the process kills itself
// there, abruptly (SIGKILL on Unix, TerminateProcess on Windows), the way a
// power cut or a crash would end it. Unset, Hit costs one comparison.
package failpoint

import "os"

// Env names the point to die at.
const Env = "CLINICSYNC_FAILPOINT"

var armed = os.Getenv(Env)

// Points: the steps between a webhook's 200 and the document's
// confirmation, in order (cmd/clinicsync's crash test walks them all).
const (
	RelayProcessing   = "relay-processing"    // a stored delivery is being processed
	RelayEventSeen    = "relay-event-seen"    // its event key is recorded
	EngineAdmitted    = "engine-admitted"     // the pushed document is recorded (requeued)
	EngineDownloading = "engine-downloading"  // state downloading, before the download
	EnginePublished   = "engine-published"    // the file is in place, not yet recorded
	EngineSaved       = "engine-saved"        // recorded saved, not yet confirmed
	EngineConfirmSent = "engine-confirm-sent" // the platform answered 200, not yet recorded
)

// Points lists them in order.
var Points = []string{RelayProcessing, RelayEventSeen, EngineAdmitted, EngineDownloading,
	EnginePublished, EngineSaved, EngineConfirmSent}

// Hit kills the process when name is the armed point.
func Hit(name string) {
	if armed == "" || armed != name {
		return
	}
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Kill()
	}
	select {} // the kill is asynchronous: never go on past the point
}
