package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/auth"
)

// cmdProxy: `clinicsync proxy login --user NAME` keeps the proxy sign-in
// (the password read from standard input) in the keychain, for a proxy
// that asks (407); `clinicsync proxy logout` removes it; `clinicsync proxy
// show` says which proxy reaches Askara and where that came from.
func cmdProxy(ctx context.Context, e *env, args []string) error {
	fs := e.flags("proxy")
	user := fs.String("user", "", "the proxy user, DOMAIN\\user for a Windows domain (login)")
	pos, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	usage := exitf(exitConfig, "usage: clinicsync proxy login --user NAME < password.txt | proxy logout | proxy show")
	if len(pos) != 1 {
		return usage
	}
	switch pos[0] {
	case "login":
		if strings.TrimSpace(*user) == "" {
			return exitf(exitConfig, "give the proxy user: clinicsync proxy login --user NAME < password.txt")
		}
		b, err := io.ReadAll(io.LimitReader(e.stdin, 4096))
		if err != nil {
			return err
		}
		password := strings.TrimRight(string(b), "\r\n")
		if password == "" {
			return exitf(exitConfig, "no password on standard input")
		}
		if err := auth.SetProxyCredentials(keychainService, strings.TrimSpace(*user), password); err != nil {
			return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
		}
		fmt.Fprintln(e.stdout, "The proxy sign-in is kept in the keychain; Clinic Sync sends it when the proxy asks.")
	case "logout":
		if err := auth.SetProxyCredentials(keychainService, "", ""); err != nil {
			return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
		}
		fmt.Fprintln(e.stdout, "The proxy sign-in was removed from the keychain.")
	case "show":
		if problem, err := e.setupToRead(); err != nil {
			return err
		} else if problem != nil {
			fmt.Fprintf(e.stderr, "clinicsync: %s\n", problem)
		}
		nc, err := e.net()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Askara API %s: %s\n", e.cfg.Askara.APIURL, nc.Route(e.cfg.Askara.APIURL))
		fmt.Fprintf(e.stdout, "Sign-in %s: %s\n", e.cfg.Askara.TokenURL, nc.Route(e.cfg.Askara.TokenURL))
		_, _, kept := auth.ProxyCredentials(keychainService)
		fmt.Fprintf(e.stdout, "Proxy sign-in kept in the keychain: %v\n", kept)
	default:
		return usage
	}
	return nil
}
