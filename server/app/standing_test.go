package app_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/store/dbgen"
)

// A busy client's requests do not each read its session from the database,
// yet every change to the session's standing takes effect: on the node that
// made it before the call returns, on other nodes as soon as the trigger's
// notification arrives (well within auth.StandingTTL, the bound for a
// notification lost with its connection; the waits below are shorter, so
// they pass only through notifications).
func TestSessionStandingIsCachedUntilItChanges(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	other := peer(t, b)
	ctx := context.Background()
	const notified = auth.StandingTTL / 2
	reads := func(baseURL string) int64 {
		return metric(t, b.h1, baseURL, "hivesync_auth_session_reads_total")
	}
	user, err := b.store.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: "busy@standing.test"})
	require.NoError(t, err)
	session := func() auth.TokenPair {
		pair, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: user.ID, Client: auth.Clients["desktop"], Scopes: auth.Clients["desktop"].DefaultScopes()})
		require.NoError(t, err)
		return pair
	}
	who := func(baseURL, token string) (*hivesyncv1.GetCurrentUserResponse, error) {
		return hivesyncv1connect.NewAuthServiceClient(b.h1, baseURL, bearer(token)).GetCurrentUser(ctx, &hivesyncv1.GetCurrentUserRequest{})
	}
	refused := func(baseURL, token string) bool {
		_, err := who(baseURL, token)
		return connect.CodeOf(err) == connect.CodeUnauthenticated
	}
	// The nodes listen once they serve; until then every request reads.
	awaitListening := func(baseURL, token string) {
		require.Eventually(t, func() bool {
			_, err := who(baseURL, token)
			require.NoError(t, err)
			before := reads(baseURL)
			_, err = who(baseURL, token)
			require.NoError(t, err)
			return reads(baseURL) == before
		}, 10*time.Second, 20*time.Millisecond)
	}

	laptop, phone := session(), session()
	awaitListening(b.baseURL, laptop.AccessToken)
	awaitListening(other, phone.AccessToken)

	t.Run("a_busy_session_is_read_once", func(t *testing.T) {
		before := reads(b.baseURL)
		for range 50 {
			_, err := who(b.baseURL, laptop.AccessToken)
			require.NoError(t, err)
		}
		require.Zero(t, reads(b.baseURL)-before)
	})

	t.Run("an_entitlement_changed_elsewhere_shows_at_once", func(t *testing.T) {
		me, err := who(other, phone.AccessToken)
		require.NoError(t, err)
		require.Equal(t, hivesyncv1.Tier_TIER_FREE, me.GetTier())
		// Written by another node's store (a webhook served there).
		_, err = b.store.EntitlementSet(ctx, dbgen.EntitlementSetParams{UserID: user.ID, Tier: int16(hivesyncv1.Tier_TIER_PRO), Source: 1})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			me, err := who(other, phone.AccessToken)
			return err == nil && me.GetTier() == hivesyncv1.Tier_TIER_PRO
		}, notified, 5*time.Millisecond)
	})

	t.Run("a_revocation_is_immediate_here_and_notified_elsewhere", func(t *testing.T) {
		stolen := session()
		for _, node := range []string{b.baseURL, other} {
			_, err := who(node, stolen.AccessToken)
			require.NoError(t, err, "cached on both nodes")
		}
		_, err := hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(laptop.AccessToken)).
			RevokeSession(ctx, &hivesyncv1.RevokeSessionRequest{SessionId: stolen.SessionID})
		require.NoError(t, err)
		require.True(t, refused(b.baseURL, stolen.AccessToken), "refused by the revoking node as soon as the revocation returned")
		require.Eventually(t, func() bool { return refused(other, stolen.AccessToken) }, notified, 5*time.Millisecond)
		_, err = who(b.baseURL, laptop.AccessToken)
		require.NoError(t, err, "the user's other sessions stand")
	})

	t.Run("an_operators_manual_change_is_heard", func(t *testing.T) {
		_, err := b.store.Pool().Exec(ctx, "UPDATE users SET disabled_at = now() WHERE id = $1", user.ID)
		require.NoError(t, err)
		for _, c := range []struct{ node, token string }{{b.baseURL, laptop.AccessToken}, {other, phone.AccessToken}} {
			require.Eventually(t, func() bool { return refused(c.node, c.token) }, notified, 5*time.Millisecond)
		}
	})
}
