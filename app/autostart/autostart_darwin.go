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

// content is the file this platform writes.
func (e Entry) content() []byte { return plist(e) }
