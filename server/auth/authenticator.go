package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/entitlements"
	"github.com/hivesync/hivesync/store"
)

// Authenticator verifies access tokens for the access interceptor. Beyond the
// signature (checked once per token, see verifiedTokens) and lifetime it
// checks, on every request, that the session, the user and the device are
// still in good standing, so revoking any of them takes effect at once; and
// it reads the user's tier from the entitlement. While Listen runs, that
// standing comes from a cache every change to it empties (standing.go).
type Authenticator struct {
	adminKey  string
	issuer    *Issuer
	store     *store.Store
	leeway    time.Duration
	now       func() time.Time
	verified  verifiedTokens
	standings standings
}

var _ access.Authenticator = (*Authenticator)(nil)

// NewAuthenticator returns an authenticator tolerating leeway of clock skew.
func NewAuthenticator(st *store.Store, issuer *Issuer, leeway time.Duration, now func() time.Time) *Authenticator {
	return &Authenticator{issuer: issuer, store: st, leeway: leeway, now: now}
}

// WithAdminAPIKey accepts key as a bearer credential for admin-scope calls
// (spec §3: "Admin API key required for /admin"). Empty disables it.
func (a *Authenticator) WithAdminAPIKey(key string) *Authenticator {
	a.adminKey = key
	return a
}

// Authenticate implements access.Authenticator.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*access.Principal, error) {
	if a.adminKey != "" && subtle.ConstantTimeCompare([]byte(token), []byte(a.adminKey)) == 1 {
		return &access.Principal{ClientType: hivesyncv1.ClientType_CLIENT_TYPE_ADMIN, Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_ADMIN}, Tier: hivesyncv1.Tier_TIER_FREE}, nil
	}
	claims, err := a.verify(ctx, token)
	if errors.Is(err, ErrInvalidToken) {
		return nil, fmt.Errorf("%w: %w", access.ErrInvalidToken, err)
	}
	if err != nil {
		return nil, fmt.Errorf("verify token: %w", err) // the keys could not be loaded
	}
	sid, err := uuid.Parse(claims.SessionID)
	if err != nil {
		return nil, fmt.Errorf("%w: bad session id", access.ErrInvalidToken)
	}
	st, err := a.standingOf(ctx, sid)
	row := st.row
	if errors.Is(store.MapError(err), store.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown session", access.ErrInvalidToken)
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	switch {
	case row.RevokedAt != nil:
		return nil, fmt.Errorf("%w: session revoked", access.ErrInvalidToken)
	case row.UserDisabledAt != nil:
		return nil, fmt.Errorf("%w: account disabled", access.ErrInvalidToken)
	case row.DeviceRevokedAt != nil:
		return nil, fmt.Errorf("%w: device revoked", access.ErrInvalidToken)
	case row.UserID.String() != claims.Subject:
		return nil, fmt.Errorf("%w: subject does not own the session", access.ErrInvalidToken)
	}
	scopes, err := claims.TokenScopes()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", access.ErrInvalidToken, err)
	}
	if st.badRow || !subset(scopes, st.granted) {
		return nil, fmt.Errorf("%w: scope escalation", access.ErrInvalidToken)
	}
	if !row.UserIsAdmin && slices.Contains(scopes, hivesyncv1.Scope_SCOPE_ADMIN) {
		// Demoted since the session began: the admin scope is gone at once.
		scopes = slices.DeleteFunc(slices.Clone(scopes), func(s hivesyncv1.Scope) bool { return s == hivesyncv1.Scope_SCOPE_ADMIN })
	}
	clientType := hivesyncv1.ClientType(row.ClientType)
	if c := clientByID(claims.ClientID); c.Type != clientType || claims.ClientType != ClientTypeName(clientType) {
		return nil, fmt.Errorf("%w: client type mismatch", access.ErrInvalidToken)
	}
	p := &access.Principal{
		UserID:     row.UserID.String(),
		SessionID:  row.ID.String(),
		ClientType: clientType,
		Scopes:     scopes,
		Tier:       hivesyncv1.Tier_TIER_FREE,
	}
	if row.Tier != nil {
		p.Tier = entitlements.EffectiveTier(hivesyncv1.Tier(*row.Tier), row.TierExpiresAt, a.now())
	}
	if row.DeviceID != nil {
		p.DeviceID = row.DeviceID.String()
	}
	p.SecondFactorAt = row.SecondFactorAt
	return p, nil
}
