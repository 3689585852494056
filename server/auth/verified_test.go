package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/store/dbgen"
)

// TestVerifiedTokenStandsInOnlyForTheSignature: once a token verified, later
// calls skip its signature check but not its expiry, not the session check,
// and a token that differs in any byte is verified afresh.
func TestVerifiedTokenStandsInOnlyForTheSignature(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	u := b.user(t, "cached@example.com")
	pair := b.session(t, u, "vscode", hivesyncv1.Scope_SCOPE_PLUGIN)

	for range 3 {
		p, err := b.authn.Authenticate(ctx, pair.AccessToken)
		require.NoError(t, err)
		require.Equal(t, pair.SessionID, p.SessionID)
	}

	forged := []byte(pair.AccessToken)
	last := len(forged) - 2 // inside the signature, whose last character may carry padding bits only
	forged[last] = map[bool]byte{true: 'A', false: 'B'}[forged[last] != 'A']
	_, err := b.authn.Authenticate(ctx, string(forged))
	require.ErrorIs(t, err, access.ErrInvalidToken, "another signature is checked, not looked up")

	b.clock.add(accessTTL + leeway + time.Second)
	_, err = b.authn.Authenticate(ctx, pair.AccessToken)
	require.ErrorIs(t, err, access.ErrInvalidToken, "an expired token is refused though it verified before")

	b.clock.set(time.Now())
	other := b.session(t, u, "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	_, err = b.authn.Authenticate(ctx, other.AccessToken)
	require.NoError(t, err)
	_, err = b.store.SessionRevoke(ctx, dbgen.SessionRevokeParams{ID: uuid.MustParse(other.SessionID), UserID: u.ID, Reason: "test"})
	require.NoError(t, err)
	_, err = b.authn.Authenticate(ctx, other.AccessToken)
	require.ErrorIs(t, err, access.ErrInvalidToken, "a revoked session is refused though its token verified before")
}
