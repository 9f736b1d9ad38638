package autostart

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows/registry"
)

const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

func (e Entry) check() error {
	if err := e.validate(filepath.IsAbs); err != nil {
		return err
	}
	if strings.Contains(e.Exec, `"`) {
		return fmt.Errorf("autostart: Exec %q contains a quote", e.Exec)
	}
	return nil
}

// machineWide reports whether a per-machine installation's Run value
// (HKLM, written by the MSI with ALLUSERS=1) starts the program for every
// user. Then the user's own value would start it a second time: Enable
// removes it instead, and the program started at login ends at once when
// the user turned start at login off (clinicsync --at-login).
func (e Entry) machineWide() bool {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, runKey, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	_, _, err = k.GetStringValue(e.Name)
	return err == nil
}

// Enable sets the Run value named e.Name to e's quoted command line (or,
// under a per-machine installation's value, makes sure there is none).
func (e Entry) Enable() error {
	if err := e.check(); err != nil {
		return err
	}
	if e.machineWide() {
		return e.Disable()
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return err
	}
	defer k.Close()
	return k.SetStringValue(e.Name, windowsCommand(e))
}

// Disable deletes the Run value. It is not an error if there is none.
func (e Entry) Disable() error {
	if err := e.check(); err != nil {
		return err
	}
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.DeleteValue(e.Name); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return err
	}
	return nil
}

// Enabled reports whether the user's or the machine's Run value exists. It
// does not consult the StartupApproved key where Task Manager records
// "Disabled".
func (e Entry) Enabled() (bool, error) {
	if err := e.check(); err != nil {
		return false, err
	}
	if e.machineWide() {
		return true, nil
	}
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer k.Close()
	_, _, err = k.GetStringValue(e.Name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, registry.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}
