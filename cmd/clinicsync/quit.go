package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/clinicsync/clinicsync/app/instance"
)

// relaunchFile, in the data folder, says how to start Clinic Sync again
// after an upgrade: quit --for-update writes it, relaunch reads it.
const relaunchFile = "relaunch.json"

// relaunchMaxAge: an older note (an upgrade that failed and was never
// retried) is dropped rather than followed.
const relaunchMaxAge = 24 * time.Hour

// cmdQuit asks the copy of Clinic Sync running for this user (the tray app,
// or run) to end, and waits until it has: the installer does this before
// it replaces the program, so that no file is in use.
func cmdQuit(_ context.Context, e *env, args []string) error {
	fs := e.flags("quit")
	forUpdate := fs.Bool("for-update", false, "remember how it was started, for clinicsync relaunch (the installer, around an upgrade)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for it to end")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	if err := e.locate(); err != nil {
		return err
	}
	l, err := instance.Quit(e.dataDir, *timeout)
	if err != nil {
		return exitf(exitUnavailable, "%v", err)
	}
	if l == nil {
		fmt.Fprintln(e.stdout, "Clinic Sync is not running.")
		return nil
	}
	if *forUpdate {
		b, _ := json.Marshal(l)
		if err := os.WriteFile(filepath.Join(e.dataDir, relaunchFile), b, 0o600); err != nil {
			return exitf(exitConfig, "Clinic Sync quit, but how to start it again could not be written: %v", err)
		}
	}
	fmt.Fprintf(e.stdout, "Clinic Sync %s has quit.\n", l.Version)
	return nil
}

// cmdRelaunch starts Clinic Sync again as quit --for-update found it: the
// same program name (from this program's folder: the new version) and
// arguments. It does nothing without that note, or when a copy runs.
func cmdRelaunch(_ context.Context, e *env, args []string) error {
	fs := e.flags("relaunch")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	if err := e.locate(); err != nil {
		return err
	}
	note := filepath.Join(e.dataDir, relaunchFile)
	fi, err := os.Stat(note)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	b, err := os.ReadFile(note)
	os.Remove(note)
	var l instance.Launch
	if err == nil {
		err = json.Unmarshal(b, &l)
	}
	if err != nil || time.Since(fi.ModTime()) > relaunchMaxAge || instance.Running(e.dataDir) {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return exitf(exitConfig, "%v", err)
	}
	exe := self
	if l.Exe != "" {
		if p := filepath.Join(filepath.Dir(self), filepath.Base(l.Exe)); p != self {
			if _, err := os.Stat(p); err == nil {
				exe = p
			}
		}
	}
	c := exec.Command(exe, l.Args...)
	if err := c.Start(); err != nil {
		return exitf(exitConfig, "Clinic Sync could not be started again: %v", err)
	}
	c.Process.Release()
	fmt.Fprintf(e.stdout, "Clinic Sync started again: %s %v\n", exe, l.Args)
	return nil
}
