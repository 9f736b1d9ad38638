//go:build !cgo

package main

import "context"

// Without cgo there is no Fyne window: this build is headless only.
func cmdGUI(ctx context.Context, e *env, args []string) error {
	fs := e.flags("gui")
	fs.Bool("hidden", false, "start in the tray without opening the window (start at login)")
	fs.Bool("at-login", false, "started at sign-in by the installer's entry: end at once if start at login is off")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	return exitf(exitConfig, "this build of Clinic Sync has no window (built without cgo); use `clinicsync run`")
}

func (e *env) runGUI(ctx context.Context, o guiOptions) error { return cmdGUI(ctx, e, nil) }

type guiOptions struct {
	hidden bool
	title  string
}
