// Package app is Clinic Sync's Fyne user interface: the tray menu, the
// window (status header, Activity, Documents, Notes, Settings, Account,
// Diagnostics) and the view-model goroutine that turns engine events into
// widget updates inside fyne.Do. It reads snapshots and events and sends
// commands through Backend; it never touches the store. It does not import
// fyne.io/fyne/v2/app (cmd does), so it builds and tests without cgo.
package app

import (
	"context"
	"io"
	"time"

	"github.com/clinicsync/clinicsync/sync/config"
	"github.com/clinicsync/clinicsync/sync/engine"
	"github.com/clinicsync/clinicsync/sync/events"
	"github.com/clinicsync/clinicsync/sync/service"
)

// Backend is what the UI needs from the rest of the program;
// *service.Service implements it.
type Backend interface {
	Status() service.Status
	// Events is the bus the engine, the relay and the sign-in publish
	// on: the window reads the status again when one says it changed.
	Events() *events.Bus
	SyncNow()
	Pause()
	Resume()
	Retry(ctx context.Context, uuid string) (time.Duration, error)
	Activity(ctx context.Context, q engine.LogQuery) ([]engine.LogEntry, error)
	Documents(ctx context.Context, f engine.DocumentFilter) ([]engine.DocumentView, error)
	Document(ctx context.Context, uuid string) (engine.DocumentView, error)
	Notes(ctx context.Context, inboxOnly bool) ([]engine.NoteView, error)
	Settings() config.Config
	// Policy is the administrator's settings: Settings shows the keys it
	// locks read-only.
	Policy() config.Policy
	// Setup says whether the first-run setup is needed (the configuration
	// file is missing or has problems); Apply finishes it.
	Setup() service.SetupState
	// CheckFolder checks a documents folder with a real test write.
	CheckFolder(path string) error
	Preview(ctx context.Context, c config.Config) (string, error)
	Apply(ctx context.Context, c config.Config) ([]config.Problem, error)
	// SignIn signs in with the browser or a code, telling o.Prompt what
	// the person must see while it waits; CancelSignIn ends the wait.
	SignIn(ctx context.Context, o service.SignInOptions) error
	CancelSignIn()
	SignOut(ctx context.Context) error
	ExportBundle(ctx context.Context, w io.Writer) error
	SetWebhookSecret(ctx context.Context, platform, secret string) error
	// Proxy describes the proxy in effect for the Askara API and where it
	// came from ("" when unknown); it may run the system's proxy script.
	Proxy() string
	// SetProxyCredentials keeps the proxy sign-in in the keychain ("" user
	// removes it).
	SetProxyCredentials(user, password string) error
	// CheckForUpdates asks for an update check now; InstallUpdate runs
	// the verified update the status offers (Status.Update).
	CheckForUpdates()
	InstallUpdate(ctx context.Context) error
}

var _ Backend = (*service.Service)(nil)
