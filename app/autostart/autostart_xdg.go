//go:build unix && !darwin

package autostart

import (
	"os"
	"path/filepath"
)

// path is the XDG autostart entry for e:
// $XDG_CONFIG_HOME/autostart/<ID>.desktop, ~/.config when unset.
func (e Entry) path() (string, error) {
	if err := e.validate(filepath.IsAbs); err != nil {
		return "", err
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "autostart", e.ID+".desktop"), nil
}

// content is the file this platform writes.
func (e Entry) content() []byte { return desktopFile(e) }
