// Command hivesyncd is the HiveSync server.
//
//	hivesyncd serve    API + WebSocket + workers (needs HIVESYNC_DATABASE_URL, migrated)
//	hivesyncd worker   River workers only, plus health probes and metrics
//	hivesyncd migrate  apply database migrations and exit
//	hivesyncd dev      zero-config: private Postgres under HIVESYNC_DATA_DIR, migrate, serve
//	hivesyncd token    token create: mint an access/refresh pair for operators and tests
//	hivesyncd version  print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/pgcluster"
)

const usage = `usage: hivesyncd <command>

commands:
  serve     run the API, WebSocket gateway and workers (HIVESYNC_DATABASE_URL, migrated database)
  worker    run background workers only, with health probes and metrics
  migrate   apply database migrations (ours and River's) and exit
  dev       zero-config development server with its own Postgres under HIVESYNC_DATA_DIR
  token     token create --user EMAIL [--client cli] [--scopes user,plugin] [--admin]: mint a token pair
  admin     admin login-link --user EMAIL: print a one-time sign-in link (account recovery)
  version   print the version

Configuration comes from HIVESYNC_* environment variables; see README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hivesyncd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		_, _ = io.WriteString(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, app.ModeServe, stderr)
	case "worker":
		return serve(ctx, app.ModeWorker, stderr)
	case "migrate":
		return migrate(ctx, stdout, stderr)
	case "dev":
		return dev(ctx, stdout, stderr)
	case "token":
		return tokenCommand(ctx, args[1:], stdout, stderr)
	case "admin":
		return adminCommand(ctx, args[1:], stdout, stderr)
	case "version":
		_, err := fmt.Fprintln(stdout, app.Version)
		return err
	case "help", "-h", "--help":
		_, err := io.WriteString(stdout, usage)
		return err
	}
	_, _ = io.WriteString(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func load(mode app.Mode, stderr io.Writer) (*app.Config, *slog.Logger, error) {
	cfg, err := app.LoadConfig(mode, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	log := app.NewLogger(cfg, stderr)
	if mode == app.ModeServe || mode == app.ModeWorker || mode == app.ModeDev {
		app.TuneRuntime(os.Getenv, log)
	}
	for _, name := range cfg.UnknownVariables(os.Environ()) {
		log.Warn("unknown configuration variable ignored", slog.String("name", name))
	}
	return cfg, log, nil
}

// serve runs a production node against an already migrated database.
func serve(ctx context.Context, mode app.Mode, stderr io.Writer) error {
	cfg, log, err := load(mode, stderr)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	st, err := store.Status(ctx, pool)
	if err != nil {
		return fmt.Errorf("read migration state (run `hivesyncd migrate` first?): %w", err)
	}
	if !st.Current() {
		return fmt.Errorf("database schema is at version %d, this build needs %d: run `hivesyncd migrate`", st.SchemaVersion, st.LatestSchemaVersion)
	}
	a, err := app.New(app.Options{Mode: mode, Config: cfg, Pool: pool, Log: log})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

func migrate(ctx context.Context, stdout, stderr io.Writer) error {
	cfg, log, err := load(app.ModeMigrate, stderr)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.Migrate(ctx, pool, log); err != nil {
		return err
	}
	st, err := store.Status(ctx, pool)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "database migrated: schema version %d, river version %d\n", st.SchemaVersion, st.RiverVersion)
	return err
}

// dev runs everything with no configuration: a private Postgres cluster (unless
// HIVESYNC_DATABASE_URL is set), migrations, and the server on 127.0.0.1:8080.
func dev(ctx context.Context, stdout, stderr io.Writer) error {
	cfg, log, err := load(app.ModeDev, stderr)
	if err != nil {
		return err
	}
	var cluster *pgcluster.Cluster
	dbNote := "HIVESYNC_DATABASE_URL"
	if cfg.DatabaseURL == "" {
		dir := filepath.Join(cfg.DataDir, "postgres")
		if err := prepareDataDir(cfg.DataDir); err != nil {
			return err
		}
		cluster, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Log: log})
		if errors.Is(err, pgcluster.ErrNoPostgres) {
			return err
		}
		if err != nil {
			return fmt.Errorf("start private postgres in %s: %w", dir, err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := cluster.Stop(stopCtx); err != nil {
				log.Warn("stopping private postgres", slog.String("error", err.Error()))
			}
		}()
		if err := cluster.EnsureDatabase(ctx, "hivesync"); err != nil {
			return err
		}
		cfg.DatabaseURL = cluster.URL("hivesync")
		abs, _ := filepath.Abs(dir)
		dbNote = fmt.Sprintf("private postgres on 127.0.0.1:%d, data in %s", cluster.Port(), abs)
	}
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.Migrate(ctx, pool, log); err != nil {
		return err
	}
	a, err := app.New(app.Options{Mode: app.ModeDev, Config: cfg, Pool: pool, Log: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (set HIVESYNC_HTTP_ADDR to use another address): %w", cfg.HTTPAddr, err)
	}
	base := "http://" + ln.Addr().String()
	_, _ = fmt.Fprintf(stdout, strings.Join([]string{
		"",
		"HiveSync dev server",
		"  API (Connect, gRPC, gRPC-Web): %[1]s/hivesync.v1.MetaService/GetCompatibility",
		"  REST:                          %[1]s/api/v1/meta/compatibility",
		"  Health:                        %[1]s/healthz  %[1]s/health/ready",
		"  Metrics:                       %[1]s/metrics",
		"  Database:                      %[2]s",
		"Press Ctrl-C to stop.",
		"",
	}, "\n"), base, dbNote)
	if cluster != nil {
		// If postgres dies under us, stop serving rather than fail every request.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-cluster.Exited():
				log.Error("private postgres exited unexpectedly; shutting down")
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	return a.Serve(ctx, ln)
}

func openPool(ctx context.Context, cfg *app.Config) (*pgxpool.Pool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return store.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
}

// prepareDataDir creates HIVESYNC_DATA_DIR. When we run as root, Postgres runs
// as an unprivileged user that must be able to pass through it, so it gets
// traverse-only (x) bits; nothing in it becomes readable to others.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create HIVESYNC_DATA_DIR %s: %w", dir, err)
	}
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat HIVESYNC_DATA_DIR: %w", err)
	}
	if err := os.Chmod(dir, st.Mode().Perm()|0o111); err != nil {
		return fmt.Errorf("make HIVESYNC_DATA_DIR traversable: %w", err)
	}
	return nil
}
