package netclient

import (
	"strings"

	"github.com/mattn/go-ieproxy"
)

// ReadSystem reads the system's proxy settings again through
// github.com/mattn/go-ieproxy:
//
//   - Windows (no cgo: system calls): WinHttpGetIEProxyConfigForCurrentUser
//     (the user's Internet Options: manual proxy and its exceptions,
//     automatic configuration script, "automatically detect settings"),
//     else WinHttpGetDefaultProxyConfiguration (netsh winhttp), else the
//     registry's ProxyEnable, ProxyServer, ProxyOverride and AutoConfigURL
//     under HKCU (or HKLM when a policy sets ProxySettingsPerUser=0). A
//     script or WPAD is run per URL by WinHttpGetProxyForUrl.
//   - macOS with cgo (the app's build): CFNetwork's system proxies,
//     scripts included. Without cgo: nothing (as on Linux).
//   - Linux and the rest: nothing; the environment's variables apply.
func ReadSystem() SystemSettings {
	conf := ieproxy.ReloadConf()
	s := SystemSettings{Auto: conf.Automatic.Active, PACURL: conf.Automatic.PreConfiguredURL}
	if s.Auto {
		auto := conf.Automatic
		s.FindProxy = auto.FindProxyForURL
	}
	if conf.Static.Active {
		s.Manual = map[string]string{}
		for k, v := range conf.Static.Protocols {
			if v = strings.TrimSpace(v); v != "" {
				s.Manual[strings.ToLower(k)] = v
			}
		}
		if len(s.Manual) == 0 {
			s.Manual = nil
		}
		s.Bypass = conf.Static.NoProxy
	}
	return s
}
