package netclient

import (
	"strings"

	"golang.org/x/sys/windows/registry"
)

// registryManual is the manual proxy of the registry's Internet Settings
// (ProxyEnable, ProxyServer, ProxyOverride; HKLM instead of HKCU when a
// policy sets ProxySettingsPerUser=0), as WinINet reads them: the same
// values go-ieproxy reads when WinHTTP reports nothing at all. ReadSystem
// uses it when WinHTTP's view of the user's settings names no manual
// proxy but has "automatically detect settings" on: Windows' default,
// where go-ieproxy stops looking, and the whole answer of Wine's WinHTTP,
// which does not read these values.
func registryManual() (manual map[string]string, bypass string) {
	k, err := internetSettings()
	if err != nil {
		return nil, ""
	}
	defer k.Close()
	if on, _, err := k.GetIntegerValue("ProxyEnable"); err != nil || on == 0 {
		return nil, ""
	}
	server, _, _ := k.GetStringValue("ProxyServer")
	override, _, _ := k.GetStringValue("ProxyOverride")
	return parseProxyServer(server), strings.ReplaceAll(override, ";", ",")
}

// registryScript is the registry's AutoConfigURL (the automatic
// configuration script), for the same cases as registryManual.
func registryScript() string {
	k, err := internetSettings()
	if err != nil {
		return ""
	}
	defer k.Close()
	v, _, _ := k.GetStringValue("AutoConfigURL")
	return strings.TrimSpace(v)
}

// internetSettings opens the user's Internet Settings, or the machine's
// when a policy sets ProxySettingsPerUser=0.
func internetSettings() (registry.Key, error) {
	hkey := registry.CURRENT_USER
	if k, err := registry.OpenKey(registry.LOCAL_MACHINE, `Software\Policies\Microsoft\Windows\CurrentVersion\Internet Settings`, registry.QUERY_VALUE); err == nil {
		if v, _, err := k.GetIntegerValue("ProxySettingsPerUser"); err == nil && v == 0 {
			hkey = registry.LOCAL_MACHINE
		}
		k.Close()
	}
	return registry.OpenKey(hkey, `Software\Microsoft\Windows\CurrentVersion\Internet Settings`, registry.QUERY_VALUE)
}
