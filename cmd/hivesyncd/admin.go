package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/store"
)

const adminUsage = `usage: hivesyncd admin login-link --user EMAIL

Creates a one-time sign-in link (valid 15 minutes) for an account and prints it:
the recovery path for the sole admin, who cannot call the admin API when locked
out. Run it on the server, against the configured database (or the dev
database). It is written to the audit log.
`

// adminCommand runs `hivesyncd admin …`.
func adminCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "login-link" {
		_, _ = io.WriteString(stderr, adminUsage)
		return errors.New("expected `admin login-link`")
	}
	fs := flag.NewFlagSet("admin login-link", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("user", "", "account email")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !strings.Contains(*email, "@") {
		return errors.New("--user must be an email address")
	}
	return withDatabase(ctx, stderr, func(cfg *app.Config, st *store.Store) error {
		user, err := st.UserGetByEmail(ctx, *email)
		if err != nil {
			return fmt.Errorf("no account %s: %w", *email, store.MapError(err))
		}
		keys := auth.NewKeyRing(st, time.Now, cfg.AccessTokenTTL+cfg.ClockSkewGrace)
		issuer := auth.NewIssuer(st, keys, auth.IssuerOptions{Issuer: cfg.IssuerURL, AccessTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL, Now: time.Now})
		links := auth.NewLoginLinks(st, issuer, discardMailer{}, func() string { return cfg.PublicURL }, 15*time.Minute, time.Now)
		link, _, expires, err := links.Create(ctx, user.ID, nil)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n(valid until %s; redeem it with POST %s, form field token)\n", link, expires.UTC().Format(time.RFC3339), auth.LoginLinkPath)
		return err
	})
}

// discardMailer sends nothing: the operator gets the link on stdout.
type discardMailer struct{}

func (discardMailer) Send(context.Context, string, string, string) error { return nil }
