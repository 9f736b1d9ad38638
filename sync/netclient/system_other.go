//go:build !windows

package netclient

// registryManual: only Windows has Internet Settings in a registry.
func registryManual() (map[string]string, string) { return nil, "" }

// registryScript: only Windows has Internet Settings in a registry.
func registryScript() string { return "" }
