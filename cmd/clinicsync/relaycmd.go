package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/clinicsync/clinicsync"
	"github.com/clinicsync/clinicsync/sync/auth"
	"github.com/clinicsync/clinicsync/sync/platforms"
)

// cmdRelay: `clinicsync relay secret PLATFORM` keeps a platform's webhook
// signing secret, read from standard input, in the keychain (never in the
// configuration file); `clinicsync relay secret PLATFORM --delete` removes it.
func cmdRelay(ctx context.Context, e *env, args []string) error {
	fs := e.flags("relay")
	del := fs.Bool("delete", false, "remove the secret")
	pos, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "secret" || !slices.Contains(platforms.Names(), pos[1]) {
		return exitf(exitConfig, "usage: clinicsync relay secret PLATFORM [--delete] < secret.txt  (PLATFORM: %s)",
			strings.Join(platforms.Names(), ", "))
	}
	platform := pos[1]
	if *del {
		if err := auth.SetWebhookSecret(keychainService, platform, ""); err != nil {
			return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
		}
		fmt.Fprintf(e.stdout, "The %s signing secret was removed from the keychain.\n", platform)
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(e.stdin, 4096))
	if err != nil {
		return err
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return exitf(exitConfig, "no secret on standard input")
	}
	if err := auth.SetWebhookSecret(keychainService, platform, secret); err != nil {
		return exitf(exitConfig, "%s", clinicsync.ErrorMessage(err))
	}
	fmt.Fprintf(e.stdout, "The %s signing secret is kept in the keychain; a running Clinic Sync uses it after a restart or a settings change.\n", platform)
	return nil
}
