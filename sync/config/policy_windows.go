package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/windows/registry"
)

// SystemPolicy are the places an administrator's settings are read from
// on Windows, highest precedence first: Group Policy's keys (computer,
// then user), %ProgramData%\ClinicSync\policy.toml, then the values the
// MSI's public properties wrote (HKLM for a per-machine installation, HKCU
// for a per-user one). The installer keeps its values out of
// Software\Policies, which belongs to Group Policy: an upgrade or an
// uninstall removes the values the MSI wrote, and must not remove Group
// Policy's.
func SystemPolicy() []PolicySource {
	pd := os.Getenv("ProgramData")
	if pd == "" {
		pd = `C:\ProgramData`
	}
	return []PolicySource{
		RegistryPolicy(registry.LOCAL_MACHINE, `HKLM`, `Software\Policies\ClinicSync`),
		RegistryPolicy(registry.CURRENT_USER, `HKCU`, `Software\Policies\ClinicSync`),
		PolicyFile(filepath.Join(pd, "ClinicSync", "policy.toml")),
		RegistryPolicy(registry.LOCAL_MACHINE, `HKLM`, `Software\ClinicSync`),
		RegistryPolicy(registry.CURRENT_USER, `HKCU`, `Software\ClinicSync`),
	}
}

// RegistryPolicy reads the values of a registry key: strings as they are,
// numbers (REG_DWORD, as Group Policy templates write yes/no) in decimal.
func RegistryPolicy(root registry.Key, rootName, path string) PolicySource {
	return PolicySource{Where: rootName + `\` + path, Read: func() (map[string]string, error) {
		k, err := registry.OpenKey(root, path, registry.QUERY_VALUE)
		if errors.Is(err, registry.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		defer k.Close()
		names, err := k.ReadValueNames(0)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, n := range names {
			if n == "" { // the key's default value
				continue
			}
			if s, _, err := k.GetStringValue(n); err == nil {
				out[n] = s
			} else if i, _, err := k.GetIntegerValue(n); err == nil {
				out[n] = strconv.FormatUint(i, 10)
			}
		}
		return out, nil
	}}
}
