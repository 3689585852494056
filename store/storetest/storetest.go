// Package storetest gives each test its own freshly migrated Postgres
// database, cloned from a template (pgtestdb), on a real server: the one at
// HIVESYNC_TEST_DATABASE_URL when set, otherwise a private ephemeral cluster
// started by Main for the test process. There is no in-memory stand-in.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver pgtestdb uses
	"github.com/peterldowns/pgtestdb"

	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/pgcluster"
)

// EnvURL names the variable pointing tests at an existing server (a URL to
// any database on it, as a superuser).
const EnvURL = "HIVESYNC_TEST_DATABASE_URL"

var serverURL string

// Main starts a private cluster unless EnvURL is set, runs the tests, and
// stops the cluster. Call it from TestMain of every package that uses the store.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if u := os.Getenv(EnvURL); u != "" {
		serverURL = u
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "hivesync-test-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ctx := context.Background()
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Ephemeral: true, MaxConnections: 300})
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest: start postgres:", err)
		return 1
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_ = cluster.Stop(stopCtx)
	}()
	serverURL = cluster.URL("postgres")
	return m.Run()
}

// URL returns the URL of a new, migrated database that is dropped when the
// test passes (and kept for inspection when it fails).
func URL(t testing.TB) string {
	t.Helper()
	if serverURL == "" {
		t.Fatalf("storetest: no database server; call storetest.Main from TestMain")
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatalf("storetest: parse %s: %v", EnvURL, err)
	}
	password, _ := u.User.Password()
	conf := pgtestdb.Config{
		DriverName: "pgx",
		User:       u.User.Username(),
		Password:   password,
		Host:       u.Hostname(),
		Port:       u.Port(),
		Database:   u.Path[1:],
		Options:    "sslmode=disable",
	}
	return pgtestdb.Custom(t, conf, migrator{}).URL()
}

// Pool returns a pool on a new, migrated database, closed after the test.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := store.Open(ctx, URL(t), 10)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Store returns a Store on a new, migrated database.
func Store(t testing.TB) *store.Store {
	t.Helper()
	return store.New(Pool(t))
}

// migrator builds the template with the same code production uses.
type migrator struct{}

func (migrator) Hash() (string, error) { return store.MigrationsHash() }

func (migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	pool, err := store.Open(ctx, conf.URL(), 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	return store.Migrate(ctx, pool, slog.New(slog.DiscardHandler))
}

// EmptyURL returns the URL of a new database with no schema at all, dropped
// after the test; for testing migrations themselves.
func EmptyURL(t testing.TB) string {
	t.Helper()
	if serverURL == "" {
		t.Fatalf("storetest: no database server; call storetest.Main from TestMain")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("storetest: connect: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	name := fmt.Sprintf("empty_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("storetest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, serverURL); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
