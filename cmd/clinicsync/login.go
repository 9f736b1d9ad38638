package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cli/browser"
	"golang.org/x/oauth2"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/activity"
	"github.com/clinicsync/clinicsync/sync/askara"
	"github.com/clinicsync/clinicsync/sync/auth"
	"github.com/clinicsync/clinicsync/sync/engine"
)

// openBrowser opens the sign-in page in the system browser (tests replace it).
var openBrowser = browser.OpenURL

func cmdLogin(ctx context.Context, e *env, args []string) error {
	fs := e.flags("login")
	device := fs.Bool("device", false, "sign in with a code on another device (no browser on this PC)")
	noBrowser := fs.Bool("no-browser", false, "print the sign-in address instead of opening a browser")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the browser")
	secretIn := fs.Bool("client-secret-stdin", false, "read the client secret Askara issued from standard input and keep it in the keychain")
	if _, err := e.start(fs, args); err != nil {
		return err
	}
	// The sign-in is kept in the keychain: without one, say so now, not
	// after the browser has shown "Signed in".
	if err := e.keychain().Check(); err != nil {
		return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	if *secretIn {
		b, err := io.ReadAll(io.LimitReader(e.stdin, 4096))
		if err != nil {
			return err
		}
		if err := auth.SetClientSecret(keychainService, e.cfg.Askara.ClientID, strings.TrimSpace(string(b))); err != nil {
			return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
		}
		fmt.Fprintln(e.stdout, "The client secret is kept in the keychain.")
	}
	cfg := e.authConfig()
	ctx, nc, err := e.withNet(ctx)
	if err != nil {
		return err
	}
	var tok *oauth2.Token
	if *device {
		tok, err = auth.LoginDevice(ctx, cfg, auth.DeviceOptions{Out: e.stdout})
	} else {
		o := auth.BrowserOptions{Out: e.stdout, Timeout: *timeout}
		if !*noBrowser {
			o.Open = openBrowser
		}
		tok, err = auth.LoginBrowser(ctx, cfg, o)
		if errors.Is(err, auth.ErrPortInUse) {
			return exitf(exitConfig, "%s Sign in with a code instead: clinicsync login --device", clinicsync.ErrorMessage(err))
		}
	}
	if err != nil {
		return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	account := ""
	if client, cerr := askara.New(askara.Options{BaseURL: e.runtime().API, HTTPClient: nc.HTTP(),
		TokenSource: oauth2.StaticTokenSource(tok), UserAgent: "ClinicSync/" + version}); cerr == nil {
		if me, merr := client.Me(ctx); merr == nil {
			account = me.String()
		} else {
			fmt.Fprintf(e.stderr, "clinicsync: signed in, but who you are could not be read: %s\n", clinicsync.ErrorMessage(merr))
		}
	}
	src := auth.NewSource(ctx, cfg, e.keychain(), e.log)
	if err := src.Adopt(tok, account); err != nil {
		return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	if account == "" {
		account = "Askara"
	}
	fmt.Fprintf(e.stdout, "Signed in as %s. The sign-in is kept in this computer's keychain.\n", account)
	e.reader().Note(ctx, engine.LevelInfo, clinicsync.NewText(activity.SignedIn, account))
	return nil
}

func cmdLogout(ctx context.Context, e *env, args []string) error {
	fs := e.flags("logout")
	if _, err := e.start(fs, args); err != nil {
		return err
	}
	k := e.keychain()
	saved, err := k.Load()
	if err != nil {
		return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	if saved == nil {
		fmt.Fprintln(e.stdout, "Not signed in.")
		return nil
	}
	ctx, _, err = e.withNet(ctx)
	if err != nil {
		return err
	}
	if err := auth.Revoke(ctx, e.authConfig(), saved.RefreshToken); err != nil {
		fmt.Fprintf(e.stderr, "clinicsync: %s The sign-in is removed from this computer anyway.\n", clinicsync.ErrorMessage(err))
	}
	if err := k.Delete(); err != nil {
		return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	e.reader().Note(ctx, engine.LevelInfo, clinicsync.NewText(activity.SignedOut))
	fmt.Fprintln(e.stdout, "Signed out; the sign-in was removed from the keychain.")
	return nil
}
