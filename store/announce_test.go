package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/storetest"
)

type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Announce(channels ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, channels...)
}

func (r *recorder) announced() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// Appended events are announced once they are committed, never before and
// never when the transaction rolls back: a hub told early would read
// nothing and could miss the event, one told about a rollback reads for
// nothing.
func TestEventsAreAnnouncedAfterTheirCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Store(t)

	// Without an announcer appends still work (hubs find them by resyncing).
	_, err := st.EventAppend(ctx, dbgen.EventAppendParams{Channel: "c:0", EventType: "t", Payload: []byte{}})
	require.NoError(t, err)

	rec := &recorder{}
	st.SetAnnouncer(rec)

	_, err = st.EventAppend(ctx, dbgen.EventAppendParams{Channel: "c:1", EventType: "t", Payload: []byte{}})
	require.NoError(t, err)
	require.Equal(t, []string{"c:1"}, rec.announced(), "a statement on the pool is its own transaction")

	err = st.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		for _, c := range []string{"c:2", "c:3", "c:2"} {
			if _, err := q.EventAppend(ctx, dbgen.EventAppendParams{Channel: c, EventType: "t", Payload: []byte{}}); err != nil {
				return err
			}
		}
		require.Equal(t, []string{"c:1"}, rec.announced(), "nothing is announced before the commit")
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{"c:1", "c:2", "c:3"}, rec.announced(), "each channel once, after the commit")

	boom := errors.New("boom")
	err = st.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if _, err := q.EventAppend(ctx, dbgen.EventAppendParams{Channel: "c:4", EventType: "t", Payload: []byte{}}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, []string{"c:1", "c:2", "c:3"}, rec.announced(), "a rolled-back append is not announced")

	// A failed append is not announced either.
	err = st.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		_, err := q.EventAppend(ctx, dbgen.EventAppendParams{Channel: "c:5", EventType: "t", Payload: nil})
		return err
	})
	require.Error(t, err)
	require.NotContains(t, rec.announced(), "c:5")

	// The log itself no longer notifies inside the transaction.
	var src string
	require.NoError(t, st.Pool().QueryRow(ctx, "SELECT prosrc FROM pg_proc WHERE proname = 'event_append'").Scan(&src))
	require.NotContains(t, src, "pg_notify")
}
