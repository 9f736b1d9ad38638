//go:build !unix && !windows

package autostart

import "errors"

// Enable is not supported on this platform.
func (e Entry) Enable() error { return errors.ErrUnsupported }

// Disable is not supported on this platform.
func (e Entry) Disable() error { return errors.ErrUnsupported }

// Enabled is not supported on this platform.
func (e Entry) Enabled() (bool, error) { return false, errors.ErrUnsupported }
