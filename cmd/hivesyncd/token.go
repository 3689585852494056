package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/pgcluster"
)

const tokenUsage = `usage: hivesyncd token create --user EMAIL [--client ID] [--scopes a,b] [--admin] [--name NAME]

Mints an access/refresh token pair directly against the configured database
(HIVESYNC_DATABASE_URL, or the dev cluster under HIVESYNC_DATA_DIR), creating
the account if it does not exist. For operators, scripts and tests.

  --client   registered client: mobile, desktop, vscode, jetbrains, sublime, neovim, cli, admin (default cli; admin with --admin)
  --scopes   comma-separated scopes (default: every scope the client may hold except admin)
  --admin    make the account an admin and add the admin scope
  --name     display name for a new account
`

// tokenCommand runs `hivesyncd token …`.
func tokenCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		_, _ = io.WriteString(stderr, tokenUsage)
		return errors.New("expected `token create`")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("user", "", "account email")
	clientID := fs.String("client", "", "registered client id")
	scopeList := fs.String("scopes", "", "comma-separated scopes")
	admin := fs.Bool("admin", false, "admin account and scope")
	name := fs.String("name", "", "display name for a new account")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !strings.Contains(*email, "@") {
		return errors.New("--user must be an email address")
	}
	if *clientID == "" {
		*clientID = "cli"
		if *admin {
			*clientID = "admin"
		}
	}
	client, ok := auth.Clients[*clientID]
	if !ok {
		return fmt.Errorf("unknown --client %q", *clientID)
	}
	scopes := client.Scopes
	if *scopeList != "" {
		var err error
		if scopes, err = auth.ParseScopes(strings.Split(*scopeList, ",")); err != nil {
			return err
		}
	} else {
		scopes = withoutAdmin(scopes)
	}
	if *admin {
		scopes = append(scopes, hivesyncv1.Scope_SCOPE_ADMIN)
	}

	return withDatabase(ctx, stderr, func(cfg *app.Config, st *store.Store) error {
		user, err := st.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: *email, DisplayName: *name, IsAdmin: *admin})
		if err != nil {
			return fmt.Errorf("create account: %w", err)
		}
		if err := auth.CheckGrant(client, scopes, user.IsAdmin); err != nil {
			return err
		}
		keys := auth.NewKeyRing(st, time.Now, cfg.AccessTokenTTL+cfg.ClockSkewGrace)
		issuer := auth.NewIssuer(st, keys, auth.IssuerOptions{Issuer: cfg.IssuerURL, AccessTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL, Now: time.Now})
		pair, err := issuer.StartSession(ctx, auth.SessionParams{UserID: user.ID, Client: client, Scopes: scopes})
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(pair)
	})
}

// withDatabase runs fn against the configured database: HIVESYNC_DATABASE_URL,
// or the dev cluster under HIVESYNC_DATA_DIR (attaching to a running
// `hivesyncd dev`, or starting the cluster for the command's duration). The
// schema is migrated first, so commands work on a fresh dev directory too.
func withDatabase(ctx context.Context, stderr io.Writer, fn func(*app.Config, *store.Store) error) error {
	cfg, err := app.LoadConfig(app.ModeDev, os.Getenv)
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, stderr)
	dbURL := cfg.DatabaseURL
	if dbURL == "" {
		cluster, err := pgcluster.Attach(ctx, pgcluster.Options{Dir: filepath.Join(cfg.DataDir, "postgres"), Log: log})
		if err != nil {
			return fmt.Errorf("open the dev database in %s (or set HIVESYNC_DATABASE_URL): %w", cfg.DataDir, err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = cluster.Stop(stopCtx)
		}()
		if err := cluster.EnsureDatabase(ctx, "hivesync"); err != nil {
			return err
		}
		dbURL = cluster.URL("hivesync")
	}
	pool, err := store.Open(ctx, dbURL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.Migrate(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	return fn(cfg, store.New(pool))
}

func withoutAdmin(scopes []hivesyncv1.Scope) []hivesyncv1.Scope {
	out := make([]hivesyncv1.Scope, 0, len(scopes))
	for _, s := range scopes {
		if s != hivesyncv1.Scope_SCOPE_ADMIN {
			out = append(out, s)
		}
	}
	return out
}
