//go:build !windows

package config

import "runtime"

// SystemPolicy are the places an administrator's settings are read from:
// /Library/Application Support/ClinicSync/policy.toml on macOS (a managed
// preferences profile is not read), /etc/clinicsync/policy.toml elsewhere.
func SystemPolicy() []PolicySource {
	if runtime.GOOS == "darwin" {
		return []PolicySource{PolicyFile("/Library/Application Support/ClinicSync/policy.toml")}
	}
	return []PolicySource{PolicyFile("/etc/clinicsync/policy.toml")}
}
