//go:build !windows

package update

import (
	"path/filepath"

	"github.com/cli/browser"
)

// RunInstaller on macOS and Linux opens the folder that holds the verified
// file (the file manager shows it), for the person to install it the way
// their system does: nothing is executed.
func RunInstaller(path string) error {
	return browser.OpenFile(filepath.Dir(path))
}
