package store_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/storetest"
)

// A change to a session's standing is reported to this node after its
// commit (never before, never for a rollback), and migration 00027's
// triggers NOTIFY every node with the user's id; writes that change nothing
// the authenticator reads notify nobody.
func TestStandingChangesAreReportedAndNotified(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	st := store.New(pool)
	var reported atomic.Int32
	st.SetStandingListener(func() { reported.Add(1) })

	listener, err := pool.Acquire(ctx)
	require.NoError(t, err)
	conn := listener.Hijack()
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	require.NoError(t, dbgen.New(conn).StandingListen(ctx))
	notified := func() []string {
		var got []string
		for {
			wait, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			n, err := conn.WaitForNotification(wait)
			cancel()
			if err != nil {
				return got
			}
			got = append(got, n.Payload)
		}
	}

	user, err := st.UserInsert(ctx, dbgen.UserInsertParams{ID: uuid.New(), Email: uuid.NewString() + "@standing.test"})
	require.NoError(t, err)
	session, err := st.SessionInsert(ctx, dbgen.SessionInsertParams{ID: uuid.New(), UserID: user.ID, ClientID: "cli", ClientType: 1, Scopes: []string{"user"}})
	require.NoError(t, err)
	require.NoError(t, st.SessionTouch(ctx, session.ID))
	require.Empty(t, notified(), "creating a user or session and touching it notify nobody")
	require.Zero(t, reported.Load())

	boom := errors.New("boom")
	err = st.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if _, err := q.SessionRevoke(ctx, dbgen.SessionRevokeParams{Reason: "test", ID: session.ID, UserID: user.ID}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Empty(t, notified(), "a rolled-back revocation notifies nobody")
	require.Zero(t, reported.Load())

	err = st.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		_, err := q.SessionRevoke(ctx, dbgen.SessionRevokeParams{Reason: "test", ID: session.ID, UserID: user.ID})
		require.Zero(t, reported.Load(), "nothing is reported before the commit")
		return err
	})
	require.NoError(t, err)
	require.EqualValues(t, 1, reported.Load())
	require.Equal(t, []string{user.ID.String()}, notified())

	_, err = st.UserSetDisabled(ctx, dbgen.UserSetDisabledParams{Disabled: true, ID: user.ID})
	require.NoError(t, err)
	require.EqualValues(t, 2, reported.Load())
	require.Equal(t, []string{user.ID.String()}, notified())

	_, err = st.EntitlementSet(ctx, dbgen.EntitlementSetParams{UserID: user.ID, Tier: 3, Source: 1})
	require.NoError(t, err)
	require.Equal(t, []string{user.ID.String()}, notified(), "an entitlement change notifies")

	// An operator's manual change is heard too: the triggers, not the
	// wrappers, are what other nodes rely on.
	_, err = pool.Exec(ctx, "UPDATE users SET is_admin = true WHERE id = $1", user.ID)
	require.NoError(t, err)
	require.Equal(t, []string{user.ID.String()}, notified())
}
