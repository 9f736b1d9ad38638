package update

import (
	"os/exec"
	"strings"
)

// RunInstaller starts a verified installer and returns: an MSI through
// msiexec with a progress bar (/passive; the MSI closes and restarts the
// running app), any other file as a program.
func RunInstaller(path string) error {
	if strings.EqualFold(ext(path), ".msi") {
		return exec.Command("msiexec", "/i", path, "/passive").Start()
	}
	return exec.Command(path).Start()
}
