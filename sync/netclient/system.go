package netclient

import (
	"net/url"
	"strings"
	"sync"
	"time"

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
	if conf.Automatic.PreConfiguredURL == "" {
		if u := registryScript(); u != "" { // a script WinHTTP did not report (see registryManual)
			conf.Automatic = ieproxy.ProxyScriptConf{Active: true, PreConfiguredURL: u}
		}
	}
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
	if s.Manual == nil {
		s.Manual, s.Bypass = registryManual()
	}
	return s
}

// parseProxyServer reads Internet Settings' ProxyServer: "host:port" for
// every scheme, or "http=host:port;https=host:port" per scheme.
func parseProxyServer(v string) map[string]string {
	m := map[string]string{}
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if k, hp, ok := strings.Cut(part, "="); ok {
			m[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(hp)
		} else {
			m[""] = part
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// cachePAC remembers a script's answer per scheme and host for pacTTL:
// WinHTTP may fetch the script, or look for WPAD, at every call, and a
// script's choice depends on the host in practice. Reload starts afresh.
func cachePAC(s SystemSettings, now func() time.Time) SystemSettings {
	find := s.FindProxy
	if find == nil {
		return s
	}
	type entry struct {
		proxy string
		at    time.Time
	}
	var mu sync.Mutex
	cache := map[string]entry{}
	s.FindProxy = func(raw string) string {
		key := raw
		if u, err := url.Parse(raw); err == nil {
			key = u.Scheme + "://" + u.Host
		}
		mu.Lock()
		e, ok := cache[key]
		mu.Unlock()
		if ok && now().Sub(e.at) < pacTTL {
			return e.proxy
		}
		p := find(raw)
		mu.Lock()
		cache[key] = entry{p, now()}
		mu.Unlock()
		return p
	}
	return s
}

const pacTTL = 5 * time.Minute
