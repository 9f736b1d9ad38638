package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/clinicsync/clinicsync/sync/service"
)

// cmdSupportBundle writes the support bundle the window's Export button
// makes (service.ExportBundleWith: versions, status, settings, the system,
// the proxy, the activity log, the document list, the debug log's end),
// for IT at a remote prompt or from an RMM script, where there is no
// window. It works before the configuration is complete or while it has a
// problem: that is when support needs a bundle.
func cmdSupportBundle(ctx context.Context, e *env, args []string) error {
	fs := e.flags("support-bundle")
	out := fs.String("out", "", "write the bundle to `FILE` (default: clinicsync-support-DATE-TIME.zip in the current folder)")
	redactNames := fs.Bool("redact-names", false, "replace every patient's name with a stable token (name-1a2b3c4d) in every file")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	problem, err := e.setupToRead()
	if err != nil {
		return err
	}
	if problem != nil { // said, and in the bundle's status too
		fmt.Fprintln(e.stderr, "clinicsync:", problem)
	}
	if e.store == nil { // nothing has run yet: the bundle shows an empty state
		if err := e.openEmptyStore(); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(filepath.Join(e.dataDir, "clinicsync.log")); err == nil && !fi.IsDir() {
		e.logFile = filepath.Join(e.dataDir, "clinicsync.log") // the tray app's debug log
	}
	if problem != nil {
		// As for the window's first-run setup: the service is built
		// around a configuration that is not usable (an address or a
		// proxy that does not parse) and its status says so.
		e.setupNeed = &service.FirstRun{}
	}
	svc, err := e.service(ctx, nil)
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = service.BundleFileName(time.Now())
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return exitf(exitConfig, "cannot write the support bundle: %v", err)
	}
	if err := svc.ExportBundleWith(ctx, f, service.BundleOptions{RedactNames: *redactNames}); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return exitf(exitConfig, "cannot write the support bundle: %v", err)
	}
	abs, _ := filepath.Abs(path)
	fmt.Fprintf(e.stdout, "Support bundle written to %s\n", abs)
	return nil
}
