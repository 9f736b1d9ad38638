//go:build unix

package autostart

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// install writes data to path atomically (a temporary file in the same
// directory, synced, then renamed over path), creating the directory.
func install(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil { // persist the rename
		d.Sync()
		d.Close()
	}
	return nil
}

// uninstall removes path; a missing file is not an error.
func uninstall(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// installed reports whether path exists.
func installed(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// Enable writes the start-at-login file (a LaunchAgent on macOS, an XDG
// autostart entry elsewhere); it takes effect at the next login.
func (e Entry) Enable() error {
	p, err := e.path()
	if err != nil {
		return err
	}
	return install(p, e.content())
}

// Disable removes the file. It is not an error if there is none.
func (e Entry) Disable() error {
	p, err := e.path()
	if err != nil {
		return err
	}
	return uninstall(p)
}

// Enabled reports whether the file exists.
func (e Entry) Enabled() (bool, error) {
	p, err := e.path()
	if err != nil {
		return false, err
	}
	return installed(p)
}
