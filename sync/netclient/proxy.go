package netclient

import (
	"net"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/http/httpproxy"
)

// Source says where the proxy decision for a URL came from.
type Source string

const (
	SourceNone   Source = ""            // no proxy anywhere: direct
	SourceEnv    Source = "environment" // HTTP_PROXY, HTTPS_PROXY, NO_PROXY
	SourceConfig Source = "config"      // [network] proxy in the configuration file
	SourceSystem Source = "system"      // the system's manual proxy (Windows Internet Options, macOS System Settings)
	SourcePAC    Source = "pac"         // the system's automatic configuration script, or WPAD
)

// Route is the way to one URL: a proxy (nil: direct) and where that
// decision came from. It never holds credentials.
type Route struct {
	Proxy  *url.URL // scheme://host:port of the proxy; nil: direct
	Source Source
	// Detail completes Source: the variable (HTTPS_PROXY), the script's
	// address ("" for WPAD).
	Detail string

	user *url.Userinfo // from the environment's proxy URL, for the transport only
}

// Direct reports whether the route uses no proxy.
func (r Route) Direct() bool { return r.Proxy == nil }

// Host is the proxy's host:port ("" when direct).
func (r Route) Host() string {
	if r.Proxy == nil {
		return ""
	}
	return r.Proxy.Host
}

// From says where the decision came from, in a few words for Diagnostics
// and messages ("the system proxy settings").
func (r Route) From() string {
	switch r.Source {
	case SourceEnv:
		if r.Detail != "" {
			return "the environment (" + r.Detail + ")"
		}
		return "the environment"
	case SourceConfig:
		return "the configuration file ([network] proxy)"
	case SourceSystem:
		return "the system proxy settings"
	case SourcePAC:
		if r.Detail != "" {
			return "the proxy script " + r.Detail
		}
		return "the proxy script found by WPAD"
	}
	return "no proxy is set"
}

// String describes the route for Diagnostics and the support bundle:
// "http://proxy:3128, from the system proxy settings" or "direct
// (no proxy is set)".
func (r Route) String() string {
	if r.Proxy == nil {
		if r.Source == SourceNone {
			return "direct (no proxy is set)"
		}
		return "direct, by " + r.From()
	}
	return r.Proxy.Scheme + "://" + r.Proxy.Host + ", from " + r.From()
}

// SystemSettings are the operating system's proxy settings for this user:
// on Windows the Internet Options (as WinHTTP and WinINet read them), on
// macOS the System Settings, none elsewhere. system.go reads them through
// github.com/mattn/go-ieproxy; tests inject their own.
type SystemSettings struct {
	// Manual is the manual proxy when it is switched on: "host:port" per
	// scheme ("http", "https"; "" is the one for every scheme).
	Manual map[string]string
	// Bypass is the manual proxy's exceptions, comma-separated
	// ("*.clinic.lan,<local>,10.*").
	Bypass string
	// Auto: an automatic configuration script (PACURL) or, with PACURL
	// empty, WPAD auto-detection.
	Auto   bool
	PACURL string
	// FindProxy runs the script for a URL and returns its first proxy
	// ("host:port"), or "" for DIRECT or when the script gave nothing.
	FindProxy func(rawURL string) string
}

// route decides the way to u, in this order: the environment's
// HTTP(S)_PROXY (with its NO_PROXY) when either is set; then NO_PROXY
// alone; then the configuration's proxy ("direct" or a URL); then the
// system's script (PAC or WPAD), then its manual proxy with its bypass
// list. Loopback addresses are always reached directly.
func route(u *url.URL, getenv func(string) string, configured string, sys SystemSettings) Route {
	if isLoopback(u.Hostname()) {
		return Route{}
	}
	env := envConfig(getenv)
	if env.HTTPProxy != "" || env.HTTPSProxy != "" {
		p, err := env.ProxyFunc()(u)
		if err != nil || p == nil {
			return Route{Source: SourceEnv, Detail: "NO_PROXY"}
		}
		r := Route{Proxy: &url.URL{Scheme: p.Scheme, Host: p.Host}, Source: SourceEnv, Detail: envName(u)}
		r.user = p.User
		return r
	}
	if env.NoProxy != "" {
		noProxyOnly := httpproxy.Config{HTTPProxy: "http://x", HTTPSProxy: "http://x", NoProxy: env.NoProxy}
		if p, _ := noProxyOnly.ProxyFunc()(u); p == nil {
			return Route{Source: SourceEnv, Detail: "NO_PROXY"}
		}
	}
	switch c := strings.TrimSpace(configured); {
	case strings.EqualFold(c, "direct"):
		return Route{Source: SourceConfig}
	case c != "":
		if p, err := ParseProxy(c); err == nil {
			return Route{Proxy: p, Source: SourceConfig}
		}
		return Route{Source: SourceConfig} // Problems() refuses such a value before it gets here
	}
	if sys.Auto && sys.FindProxy != nil {
		if hp := firstProxy(sys.FindProxy(u.String())); hp != "" {
			return Route{Proxy: &url.URL{Scheme: "http", Host: hp}, Source: SourcePAC, Detail: sys.PACURL}
		}
	}
	if len(sys.Manual) > 0 {
		hp := sys.Manual[strings.ToLower(u.Scheme)]
		if hp == "" {
			hp = sys.Manual[""]
		}
		hp = strings.TrimPrefix(strings.TrimPrefix(hp, "http://"), "HTTP://")
		if hp == "" || bypassed(u.Hostname(), sys.Bypass) {
			return Route{Source: SourceSystem}
		}
		return Route{Proxy: &url.URL{Scheme: "http", Host: hp}, Source: SourceSystem}
	}
	return Route{}
}

// envConfig reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY (either case) as
// net/http does, from getenv.
func envConfig(getenv func(string) string) *httpproxy.Config {
	get := func(names ...string) string {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	return &httpproxy.Config{
		HTTPProxy:  get("HTTP_PROXY", "http_proxy"),
		HTTPSProxy: get("HTTPS_PROXY", "https_proxy"),
		NoProxy:    get("NO_PROXY", "no_proxy"),
	}
}

// EnvProxySet reports whether HTTP_PROXY or HTTPS_PROXY (either case) is
// set in getenv: the environment then wins over [network] proxy.
func EnvProxySet(getenv func(string) string) bool {
	c := envConfig(getenv)
	return c.HTTPProxy != "" || c.HTTPSProxy != ""
}

func envName(u *url.URL) string {
	if strings.EqualFold(u.Scheme, "https") {
		return "HTTPS_PROXY"
	}
	return "HTTP_PROXY"
}

// ParseProxy reads a proxy address as [network] proxy gives it:
// "http://host:port" or "host:port" (http assumed). Credentials are not
// accepted here: they belong in the keychain.
func ParseProxy(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Hostname() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, errBadProxy
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "80")
	}
	return &url.URL{Scheme: "http", Host: u.Host}, nil
}

type proxyError string

func (e proxyError) Error() string { return string(e) }

const errBadProxy = proxyError(`a proxy must be "direct" or an address such as http://proxy.clinic.lan:3128, without a user name or password`)

// firstProxy is the first proxy of a script's answer: WinHTTP gives
// "host:port" or a list ("a:1;b:2", "http=a:1"); a PAC string may also
// read "PROXY a:1; DIRECT".
func firstProxy(s string) string {
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "DIRECT":
			return ""
		case "PROXY", "HTTP", "HTTPS":
			if len(f) < 2 {
				continue
			}
			f = f[1:]
		case "SOCKS", "SOCKS4", "SOCKS5":
			continue // not offered by Clinic Sync
		}
		hp := f[0]
		if _, v, ok := strings.Cut(hp, "="); ok && !strings.Contains(hp, "://") {
			hp = v // "http=host:port"
		}
		hp = strings.TrimPrefix(hp, "http://")
		if hp != "" {
			return hp
		}
	}
	return ""
}

// bypassed reports whether host is in a Windows-style exception list:
// "<local>" (names without a dot), wildcards ("*.clinic.lan", "10.*"),
// and plain names or domains (".clinic.lan" or "clinic.lan" also match
// their sub-domains, as NO_PROXY does).
func bypassed(host, list string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, e := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		e = strings.ToLower(strings.TrimSpace(e))
		switch {
		case e == "":
		case e == "<local>":
			if !strings.Contains(host, ".") {
				return true
			}
		case e == "*":
			return true
		case strings.HasPrefix(e, "*.") && !strings.Contains(e[2:], "*"):
			if strings.HasSuffix(host, e[1:]) || host == e[2:] {
				return true
			}
		case strings.Contains(e, "*"):
			if ok, _ := path.Match(e, host); ok {
				return true
			}
		default:
			e = strings.TrimPrefix(e, ".")
			if h, _, err := net.SplitHostPort(e); err == nil {
				e = h
			}
			if host == e || strings.HasSuffix(host, "."+e) {
				return true
			}
		}
	}
	return false
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
