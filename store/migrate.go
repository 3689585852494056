package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime/debug"
	"sort"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/hivesync/hivesync/migrations"
)

// MigrationStatus describes the schema a database is at.
type MigrationStatus struct {
	// SchemaVersion is the newest applied HiveSync (goose) migration.
	SchemaVersion int64
	// LatestSchemaVersion is the newest migration this binary carries.
	LatestSchemaVersion int64
	// RiverVersion is River's newest applied migration.
	RiverVersion int
}

// Current reports whether the database is at this binary's schema.
func (m MigrationStatus) Current() bool { return m.SchemaVersion == m.LatestSchemaVersion }

// Migrate applies River's migrations and then ours, each idempotently: running
// it on a migrated database changes nothing. Every applied step is logged.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	riverMigrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("create river migrator: %w", err)
	}
	res, err := riverMigrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("apply river migrations: %w", err)
	}
	for _, v := range res.Versions {
		log.InfoContext(ctx, "applied river migration", slog.Int("version", v.Version), slog.String("name", v.Name))
	}

	provider, db, err := gooseProvider(pool)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply schema migrations: %w", err)
	}
	for _, r := range results {
		log.InfoContext(ctx, "applied schema migration",
			slog.Int64("version", r.Source.Version), slog.String("file", r.Source.Path),
			slog.Duration("took", r.Duration))
	}
	return nil
}

// Status reports which migrations a database has applied.
func Status(ctx context.Context, pool *pgxpool.Pool) (MigrationStatus, error) {
	var st MigrationStatus
	provider, db, err := gooseProvider(pool)
	if err != nil {
		return st, err
	}
	defer func() { _ = db.Close() }()
	if st.SchemaVersion, err = provider.GetDBVersion(ctx); err != nil {
		return st, fmt.Errorf("read schema version: %w", err)
	}
	sources := provider.ListSources()
	if len(sources) > 0 {
		st.LatestSchemaVersion = sources[len(sources)-1].Version
	}
	riverMigrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return st, fmt.Errorf("create river migrator: %w", err)
	}
	existing, err := riverMigrator.ExistingVersions(ctx)
	if err != nil {
		return st, fmt.Errorf("read river versions: %w", err)
	}
	if len(existing) > 0 {
		st.RiverVersion = existing[len(existing)-1].Version
	}
	return st, nil
}

// MigrationsHash identifies the schema this binary produces: a hash of every
// migration file. Test databases are cloned from a template named by it.
func MigrationsHash() (string, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return "", fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return "", fmt.Errorf("read migration %s: %w", name, err)
		}
		_, _ = fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
		_, _ = h.Write(b)
	}
	// River's schema is part of the result too; its version is pinned in go.mod.
	_, _ = h.Write([]byte(riverVersion()))
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// riverVersion is the River module version built into this binary, so test
// templates are rebuilt when River's migrations move.
func riverVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/riverqueue/river" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

func gooseProvider(pool *pgxpool.Pool) (*goose.Provider, *sql.DB, error) {
	db := stdlib.OpenDBFromPool(pool)
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("create schema migrator: %w", err)
	}
	return provider, db, nil
}
