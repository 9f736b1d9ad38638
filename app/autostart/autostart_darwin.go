package autostart

import (
	"os"
	"path/filepath"
)

// path is the LaunchAgent for e: ~/Library/LaunchAgents/<ID>.plist.
func (e Entry) path() (string, error) {
	if err := e.validate(filepath.IsAbs); err != nil {
		return "", err
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "Library", "LaunchAgents", e.ID+".plist"), nil
}

// Enable writes the LaunchAgent; launchd runs it at the next login.
func (e Entry) Enable() error {
	p, err := e.path()
	if err != nil {
		return err
	}
	return install(p, plist(e))
}

// Disable removes the LaunchAgent. It is not an error if there is none.
func (e Entry) Disable() error {
	p, err := e.path()
	if err != nil {
		return err
	}
	return uninstall(p)
}

// Enabled reports whether the LaunchAgent exists.
func (e Entry) Enabled() (bool, error) {
	p, err := e.path()
	if err != nil {
		return false, err
	}
	return installed(p)
}
