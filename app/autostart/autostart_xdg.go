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

// Enable writes the desktop entry; the session starts it at the next login.
func (e Entry) Enable() error {
	p, err := e.path()
	if err != nil {
		return err
	}
	return install(p, desktopFile(e))
}

// Disable removes the desktop entry. It is not an error if there is none.
func (e Entry) Disable() error {
	p, err := e.path()
	if err != nil {
		return err
	}
	return uninstall(p)
}

// Enabled reports whether the desktop entry exists.
func (e Entry) Enabled() (bool, error) {
	p, err := e.path()
	if err != nil {
		return false, err
	}
	return installed(p)
}
