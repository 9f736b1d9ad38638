package service

import (
	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/auth"
	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/dest"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// Runtime is the configuration file as the running parts take it. RuntimeOf
// is the one mapping from the file to them: cmd builds the parts with it at
// start, Apply gives it to them again on Save. A new setting is added to
// config.Config, its validation (Config.Problems), RuntimeOf and the
// Settings form (app/settings.go), nowhere else; a test fails for a key of
// the file that RuntimeOf neither maps nor names as read elsewhere.
type Runtime struct {
	// API is the Askara API's address (askara.Options.BaseURL).
	API string
	// Auth is the sign-in; its ClientSecret is the file's, which cmd
	// takes only when neither the environment nor the keychain has one.
	Auth auth.Config
	// Engine is the engine's configuration and Destination where it
	// writes documents, notes and event files (engine.New,
	// Engine.Reconfigure): the practice software's folder, a dest.Layout.
	// Another kind of destination is chosen here.
	Engine      engine.Config
	Destination clinicsync.Destination
	// Notes says whether clinical notes are synchronised (Engine.EnableNotes).
	Notes bool
	// Retention is how many days of activity log and webhook bodies are
	// kept (Engine.SetRetention).
	Retention int
	// Relay is the webhook relay's settings: relay.Manager.Apply takes the
	// section whole, and config.Relay.Equal says when they changed.
	Relay config.Relay
	// Network is the one HTTP client's proxy and extra roots
	// (netclient.Options, Client.Configure).
	Network config.Network
	// Updates is the update check's settings (update.Updater.Reconfigure).
	Updates config.Updates
}

// RuntimeOf maps c onto the running parts' settings. tuned is the engine
// configuration the file's values go onto: what the file does not hold
// (backoff, retry windows, which tests tune) is kept. cmd passes
// engine.Config{} (the engine's defaults), Apply the running engine's.
func RuntimeOf(c config.Config, tuned engine.Config) Runtime {
	a := c.Askara
	tuned.SoftwareID = c.Destination.SoftwareID
	tuned.PollInterval = a.PollInterval.Duration
	tuned.Workers = c.Sync.Workers
	tuned.MinFree = int64(c.Sync.MinFreeMB) << 20
	return Runtime{
		API: a.APIURL,
		Auth: auth.Config{AuthorizeURL: a.AuthorizeURL, TokenURL: a.TokenURL, DeviceURL: a.DeviceURL, RevokeURL: a.RevokeURL,
			ClientID: a.ClientID, ClientSecret: a.ClientSecret, Scopes: a.Scopes, RedirectPort: a.RedirectPort,
			AnyPort: a.AnyLoopbackPort},
		Engine:      tuned,
		Destination: dest.Layout{Root: c.Destination.Root, Template: c.Destination.PatientFolder},
		Notes:       c.Notes.Enabled,
		Retention:   c.Sync.RetentionDays,
		Relay:       c.Relay,
		Network:     c.Network,
		Updates:     c.Updates,
	}
}
