//go:build !windows

package toast

func register(displayName, iconPath string) error { return ErrUnsupported }

func show(string) error { return ErrUnsupported }
