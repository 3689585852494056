// Package store is HiveSync's only door to Postgres: a pgx v5 pool, the
// sqlc-generated queries in store/dbgen, transactions, and the migration
// runner (goose for our schema, rivermigrate for River's). Domain packages
// call Store; they never hold SQL of their own.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"

	"github.com/hivesync/hivesync/store/dbgen"
)

// ErrNotFound is returned when a row a caller asked for does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write loses a compare-and-set race or hits
// a unique constraint.
var ErrConflict = errors.New("conflict")

// Store wraps the generated queries with the pool they run on. Its embedded
// Querier runs each query in its own implicit transaction; InTx groups several.
type Store struct {
	dbgen.Querier
	pool      *pgxpool.Pool
	announcer atomic.Pointer[Announcer]
	standing  atomic.Pointer[func()]
	groups    *saveGroups
	single    *dbgen.Queries // sends a batch of one as a plain query (savegroup.go)
}

// New wraps an open pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{Querier: dbgen.New(pool), pool: pool, groups: newSaveGroups(groupSlots(pool)),
		single: dbgen.New(oneQueryBatches{pool})}
}

// Pool returns the underlying pool, for River and health checks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers and returns its clock.
func (s *Store) Ping(ctx context.Context) (time.Time, error) {
	now, err := s.DatabaseNow(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("ping database: %w", MapError(err))
	}
	return now, nil
}

// MapError turns driver errors into the store's sentinels, leaving others
// untouched: no rows becomes ErrNotFound, a unique or exclusion violation
// becomes ErrConflict.
func MapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "23P01") {
		return fmt.Errorf("%w: %s", ErrConflict, pgErr.ConstraintName)
	}
	return err
}

// Unavailable reports whether err is the database being out of reach for a
// moment (a dropped connection, a restart, a failover, too many clients)
// rather than anything wrong with the request, so the same call may succeed
// when retried. Cancellations and deadlines of the caller's own context are
// not included.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: shutdown and
		// restart; 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") || pgErr.Code == "53300"
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// Open connects a pool to url with at most maxConns connections and checks
// that the database answers within the context's deadline.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		// google/uuid values go to and from the wire as 16 bytes, not
		// through their text form (database/sql's Valuer and Scanner).
		pgxuuid.Register(conn.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}
