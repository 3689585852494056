package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func nodeParams(id string) dbgen.NodeUpsertParams {
	return dbgen.NodeUpsertParams{NodeID: id, Mode: "serve", Version: "test", ConfigHash: "abc", StartedAt: time.Now().UTC()}
}

func TestInTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("commits_when_fn_succeeds", func(t *testing.T) {
		t.Parallel()
		st := storetest.Store(t)
		err := st.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
			_, err := q.NodeUpsert(ctx, nodeParams("a"))
			return err
		})
		require.NoError(t, err)
		nodes, err := st.NodeListActive(ctx, time.Now().Add(-time.Minute))
		require.NoError(t, err)
		require.Len(t, nodes, 1)
		require.Equal(t, "a", nodes[0].NodeID)
	})

	t.Run("rolls_back_when_fn_fails", func(t *testing.T) {
		t.Parallel()
		st := storetest.Store(t)
		boom := errors.New("boom")
		err := st.InTx(ctx, func(tx pgx.Tx, q dbgen.Querier) error {
			if _, err := q.NodeUpsert(ctx, nodeParams("b")); err != nil {
				return err
			}
			// The tx is real: a statement on it sees the uncommitted row.
			var n int
			require.NoError(t, tx.QueryRow(ctx, "SELECT count(*) FROM nodes").Scan(&n))
			require.Equal(t, 1, n)
			return boom
		})
		require.ErrorIs(t, err, boom)
		nodes, err := st.NodeListActive(ctx, time.Now().Add(-time.Minute))
		require.NoError(t, err)
		require.Empty(t, nodes)
	})
}

func TestNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Store(t)

	first, err := st.NodeUpsert(ctx, nodeParams("n1"))
	require.NoError(t, err)
	p := nodeParams("n1")
	p.ConfigHash = "changed"
	second, err := st.NodeUpsert(ctx, p)
	require.NoError(t, err)
	require.Equal(t, "changed", second.ConfigHash, "upsert refreshes the row")
	require.False(t, second.LastSeenAt.Before(first.LastSeenAt))

	_, err = st.NodeUpsert(ctx, nodeParams("n2"))
	require.NoError(t, err)
	deleted, err := st.NodeDeleteStale(ctx, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Zero(t, deleted, "fresh nodes are not stale")
	deleted, err = st.NodeDeleteStale(ctx, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 2, deleted)

	_, err = st.NodeUpsert(ctx, nodeParams("n3"))
	require.NoError(t, err)
	require.NoError(t, st.NodeDelete(ctx, "n3"))
	nodes, err := st.NodeListActive(ctx, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Empty(t, nodes)
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)

	st, err := store.Status(ctx, pool)
	require.NoError(t, err)
	require.True(t, st.Current())
	require.Positive(t, st.SchemaVersion)
	require.Positive(t, st.RiverVersion)

	// Running it again on a migrated database changes nothing.
	require.NoError(t, store.Migrate(ctx, pool, slog.New(slog.DiscardHandler)))
	again, err := store.Status(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, st, again)

	hash, err := store.MigrationsHash()
	require.NoError(t, err)
	require.Len(t, hash, 16)
}

func TestPing(t *testing.T) {
	t.Parallel()
	st := storetest.Store(t)
	now, err := st.Ping(context.Background())
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), now, time.Minute)

	st.Pool().Close()
	_, err = st.Ping(context.Background())
	require.Error(t, err)
}

func TestOpen(t *testing.T) {
	t.Parallel()
	_, err := store.Open(context.Background(), "not a url ::", 2)
	require.ErrorContains(t, err, "parse database url")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = store.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", 2)
	require.ErrorContains(t, err, "connect to database")
}

func TestMapError(t *testing.T) {
	t.Parallel()
	require.NoError(t, store.MapError(nil))
	require.ErrorIs(t, store.MapError(fmt.Errorf("get: %w", pgx.ErrNoRows)), store.ErrNotFound)
	require.ErrorIs(t, store.MapError(&pgconn.PgError{Code: "23505", ConstraintName: "nodes_pkey"}), store.ErrConflict)
	other := errors.New("other")
	require.Equal(t, other, store.MapError(other))

	// A real unique violation from the database maps too.
	st := storetest.Store(t)
	ctx := context.Background()
	_, err := st.Pool().Exec(ctx, "INSERT INTO nodes VALUES ('x','serve','v','h',now(),now())")
	require.NoError(t, err)
	_, err = st.Pool().Exec(ctx, "INSERT INTO nodes VALUES ('x','serve','v','h',now(),now())")
	require.ErrorIs(t, store.MapError(err), store.ErrConflict)
}

func TestUnavailableIsOnlyTheDatabaseOutOfReach(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		&pgconn.PgError{Code: "57P01"}, // terminated by an administrator
		&pgconn.PgError{Code: "57P03"}, // starting up
		&pgconn.PgError{Code: "08006"}, // connection failure
		&pgconn.PgError{Code: "53300"}, // too many connections
		fmt.Errorf("load: %w", io.ErrUnexpectedEOF),
		&net.OpError{Op: "dial", Err: errors.New("connection refused")},
	} {
		require.True(t, store.Unavailable(err), "%v", err)
	}
	for _, err := range []error{
		nil,
		&pgconn.PgError{Code: "23505"}, // unique violation: the request's fault
		&pgconn.PgError{Code: "22P02"},
		pgx.ErrNoRows,
		context.Canceled,
		fmt.Errorf("query: %w", context.DeadlineExceeded),
		errors.New("boom"),
	} {
		require.False(t, store.Unavailable(err), "%v", err)
	}
}

// event_sequence_field (migration 00030) appends field 4 of
// hivesync.v1.Event exactly as protobuf encodes it, at every varint length.
func TestEventSequenceFieldIsProtobufs(t *testing.T) {
	t.Parallel()
	pool := storetest.Pool(t)
	for _, s := range []int64{0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455, 268435456,
		34359738367, 34359738368, 1 << 42, 1<<63 - 1} {
		var got []byte
		require.NoError(t, pool.QueryRow(context.Background(), "SELECT event_sequence_field($1)", s).Scan(&got))
		want := protowire.AppendVarint(protowire.AppendTag(nil, 4, protowire.VarintType), uint64(s))
		require.Equal(t, want, got, "sequence %d", s)
	}
}
