package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// clock is a settable test clock.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock() *clock {
	c := &clock{}
	c.set(time.Now())
	return c
}
func (c *clock) now() time.Time      { return *c.t.Load() }
func (c *clock) set(t time.Time)     { c.t.Store(&t) }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

type testBundle struct {
	store  *store.Store
	clock  *clock
	keys   *auth.KeyRing
	issuer *auth.Issuer
	authn  *auth.Authenticator
	svc    *auth.Service
}

const (
	accessTTL = 15 * time.Minute
	leeway    = 60 * time.Second
)

func setup(t *testing.T) *testBundle {
	t.Helper()
	st := storetest.Store(t)
	c := newClock()
	keys := auth.NewKeyRing(st, c.now, accessTTL+leeway)
	issuer := auth.NewIssuer(st, keys, auth.IssuerOptions{Issuer: "https://api.hivesync.test", AccessTTL: accessTTL, RefreshTTL: 24 * time.Hour, Now: c.now, ReuseGrace: 30 * time.Second})
	return &testBundle{
		store: st, clock: c, keys: keys, issuer: issuer,
		authn: auth.NewAuthenticator(st, issuer, leeway, c.now),
		svc: auth.NewService(st, auth.NewOAuthServer(st, issuer, auth.OAuthOptions{Issuer: "https://api.hivesync.test", BaseURL: func() string { return "https://api.hivesync.test" }, RequestTTL: 10 * time.Minute,
			CodeTTL: time.Minute, PollInterval: 5 * time.Second, Now: c.now, Log: slog.New(slog.DiscardHandler)}),
			auth.NewIDTokenSignIn(st, issuer, func() []auth.IdentityProvider { return nil }, c.now), auth.NewTOTP(st, c.now), slog.New(slog.DiscardHandler), c.now),
	}
}

func (b *testBundle) user(t *testing.T, email string) dbgen.User {
	t.Helper()
	u, err := b.store.UserUpsertByEmail(context.Background(), dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: email})
	require.NoError(t, err)
	return u
}

func (b *testBundle) session(t *testing.T, u dbgen.User, clientID string, scopes ...hivesyncv1.Scope) auth.TokenPair {
	t.Helper()
	pair, err := b.issuer.StartSession(context.Background(), auth.SessionParams{UserID: u.ID, Client: auth.Clients[clientID], Scopes: scopes})
	require.NoError(t, err)
	return pair
}

func TestAccessTokenRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	u := b.user(t, "Ada@Example.com")
	pair := b.session(t, u, "vscode", hivesyncv1.Scope_SCOPE_PLUGIN, hivesyncv1.Scope_SCOPE_READ)
	require.Equal(t, "Bearer", pair.TokenType)
	require.EqualValues(t, accessTTL.Seconds(), pair.ExpiresIn)

	p, err := b.authn.Authenticate(ctx, pair.AccessToken)
	require.NoError(t, err)
	require.Equal(t, u.ID.String(), p.UserID)
	require.Equal(t, pair.SessionID, p.SessionID)
	require.Equal(t, hivesyncv1.ClientType_CLIENT_TYPE_VSCODE, p.ClientType)
	require.ElementsMatch(t, []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN, hivesyncv1.Scope_SCOPE_READ}, p.Scopes)
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, p.Tier)

	// The same email in another case is the same account.
	require.Equal(t, u.ID, b.user(t, "ada@example.COM").ID)
}

func TestAuthenticatorRejectsBadTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	u := b.user(t, "bob@example.com")
	pair := b.session(t, u, "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	parts := strings.Split(pair.AccessToken, ".")
	require.Len(t, parts, 3)

	otherKeys := auth.NewKeyRing(storetest.Store(t), b.clock.now, accessTTL)
	foreign := auth.NewIssuer(b.store, otherKeys, auth.IssuerOptions{Issuer: "https://api.hivesync.test", AccessTTL: accessTTL, RefreshTTL: time.Hour, Now: b.clock.now})
	forged, err := foreign.StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: auth.Clients["cli"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN}})
	require.NoError(t, err)

	wrongIssuer := auth.NewIssuer(b.store, b.keys, auth.IssuerOptions{Issuer: "https://evil.test", AccessTTL: accessTTL, RefreshTTL: time.Hour, Now: b.clock.now})
	wrongIss, err := wrongIssuer.StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: auth.Clients["cli"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN}})
	require.NoError(t, err)

	for name, token := range map[string]string{
		"garbage":                            "not-a-jwt",
		"tampered_payload":                   parts[0] + "." + parts[1] + "x." + parts[2],
		"tampered_sig":                       parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"alg_none":                           "eyJhbGciOiJub25lIn0." + parts[1] + ".",
		"signed_by_a_key_we_never_published": forged.AccessToken,
		"wrong_issuer":                       wrongIss.AccessToken,
	} {
		_, err := b.authn.Authenticate(ctx, token)
		require.ErrorIs(t, err, access.ErrInvalidToken, name)
	}
}

func TestClockSkewGrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	pair := b.session(t, b.user(t, "skew@example.com"), "cli", hivesyncv1.Scope_SCOPE_PLUGIN)

	b.clock.add(accessTTL + 30*time.Second)
	_, err := b.authn.Authenticate(ctx, pair.AccessToken)
	require.NoError(t, err, "30s past expiry is within the 60s grace")

	b.clock.add(time.Minute)
	_, err = b.authn.Authenticate(ctx, pair.AccessToken)
	require.ErrorIs(t, err, access.ErrInvalidToken, "90s past expiry is not")

	// A token from a server clock 30s ahead is accepted at once (nbf in the future).
	ahead := newClock()
	ahead.set(time.Now().Add(30 * time.Second))
	early := auth.NewIssuer(b.store, b.keys, auth.IssuerOptions{Issuer: "https://api.hivesync.test", AccessTTL: accessTTL, RefreshTTL: time.Hour, Now: ahead.now})
	p2, err := early.StartSession(ctx, auth.SessionParams{UserID: b.user(t, "early@example.com").ID, Client: auth.Clients["cli"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN}})
	require.NoError(t, err)
	b.clock.set(time.Now())
	_, err = b.authn.Authenticate(ctx, p2.AccessToken)
	require.NoError(t, err)
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	u := b.user(t, "rot@example.com")
	old := b.session(t, u, "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	set, err := b.keys.JWKS(ctx)
	require.NoError(t, err)
	require.Len(t, set.Keys, 1)
	oldKid := set.Keys[0].KeyID

	require.NoError(t, b.keys.Rotate(ctx))
	fresh := b.session(t, u, "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	set, err = b.keys.JWKS(ctx)
	require.NoError(t, err)
	require.Len(t, set.Keys, 2, "the retired key stays published while its tokens live")
	require.NotEqual(t, oldKid, kidOf(t, fresh.AccessToken), "the new key signs")
	require.Equal(t, oldKid, kidOf(t, old.AccessToken))

	_, err = b.authn.Authenticate(ctx, old.AccessToken)
	require.NoError(t, err, "tokens signed before the rotation stay valid until they expire")
	_, err = b.authn.Authenticate(ctx, fresh.AccessToken)
	require.NoError(t, err)

	// Past the old tokens' lifetime (+ grace), the old key is gone.
	b.clock.add(accessTTL + leeway + time.Second)
	_, err = b.authn.Authenticate(ctx, old.AccessToken)
	require.ErrorIs(t, err, access.ErrInvalidToken)
	set, err = b.keys.JWKS(ctx)
	require.NoError(t, err)
	for _, k := range set.Keys {
		require.NotEqual(t, oldKid, k.KeyID)
	}
	// The periodic job rotates only keys past their age.
	w := &auth.RotateKeysWorker{Keys: b.keys, MaxAge: 24 * time.Hour, Log: slog.New(slog.DiscardHandler)}
	require.NoError(t, w.Work(ctx, nil))
	same := b.session(t, u, "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	require.Equal(t, kidOf(t, fresh.AccessToken), kidOf(t, same.AccessToken), "a young key is kept")
	b.clock.add(25 * time.Hour)
	require.NoError(t, w.Work(ctx, nil))
	rotated := b.session(t, u, "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	require.NotEqual(t, kidOf(t, fresh.AccessToken), kidOf(t, rotated.AccessToken), "an old key is replaced")

	// A node that never saw the rotation learns the new key on first use.
	otherNode := auth.NewAuthenticator(b.store, auth.NewIssuer(b.store, auth.NewKeyRing(b.store, b.clock.now, accessTTL+leeway),
		auth.IssuerOptions{Issuer: "https://api.hivesync.test", AccessTTL: accessTTL, RefreshTTL: time.Hour, Now: b.clock.now}), leeway, b.clock.now)
	newer := b.session(t, u, "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	_, err = otherNode.Authenticate(ctx, newer.AccessToken)
	require.NoError(t, err)
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	first := b.session(t, b.user(t, "ref@example.com"), "vscode", hivesyncv1.Scope_SCOPE_PLUGIN)

	second, err := b.issuer.Refresh(ctx, first.RefreshToken, "")
	require.NoError(t, err)
	require.Equal(t, first.SessionID, second.SessionID, "same family")
	require.NotEqual(t, first.RefreshToken, second.RefreshToken)
	_, err = b.authn.Authenticate(ctx, second.AccessToken)
	require.NoError(t, err)

	// Presented again at once, it is a client retrying a refresh whose answer
	// was lost (or a second window): it gets a new pair, and the session lives.
	retried, err := b.issuer.Refresh(ctx, first.RefreshToken, "")
	require.NoError(t, err)
	require.Equal(t, first.SessionID, retried.SessionID)
	_, err = b.authn.Authenticate(ctx, second.AccessToken)
	require.NoError(t, err)

	// Presented again later, someone copied it: the family is revoked.
	b.clock.add(31 * time.Second)
	_, err = b.issuer.Refresh(ctx, first.RefreshToken, "")
	require.ErrorIs(t, err, auth.ErrRefreshReused)
	// The whole family is revoked: the legitimate holder's newer tokens too.
	_, err = b.issuer.Refresh(ctx, second.RefreshToken, "")
	require.ErrorIs(t, err, auth.ErrInvalidToken)
	_, err = b.authn.Authenticate(ctx, second.AccessToken)
	require.ErrorIs(t, err, access.ErrInvalidToken)

	_, err = b.issuer.Refresh(ctx, "never-issued", "vscode")
	require.ErrorIs(t, err, auth.ErrInvalidToken)
	require.NotErrorIs(t, err, auth.ErrRefreshReused)
}

func TestConcurrentRefreshesOfOneTokenExactlyOneWins(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Without a grace window, exactly one of concurrent refreshes wins.
	b.issuer = auth.NewIssuer(b.store, b.keys, auth.IssuerOptions{Issuer: "https://api.hivesync.test", AccessTTL: accessTTL, RefreshTTL: time.Hour, Now: b.clock.now})
	ctx := context.Background()
	pair := b.session(t, b.user(t, "race@example.com"), "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.issuer.Refresh(ctx, pair.RefreshToken, "cli"); err == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, wins.Load())

	// With the grace window, concurrent refreshes (two IDE windows) all get
	// tokens and none of them ends the session.
	graceful := auth.NewIssuer(b.store, b.keys, auth.IssuerOptions{Issuer: "https://api.hivesync.test", AccessTTL: accessTTL, RefreshTTL: time.Hour, Now: b.clock.now, ReuseGrace: 30 * time.Second})
	pair = b.session(t, b.user(t, "race2@example.com"), "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	wins.Store(0)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p, err := graceful.Refresh(ctx, pair.RefreshToken, "cli"); err == nil {
				if _, err := b.authn.Authenticate(ctx, p.AccessToken); err == nil {
					wins.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 8, wins.Load())
}

func TestRevocationTakesEffectAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.user(t, "dev@example.com")
	pair := b.session(t, u, "mobile", hivesyncv1.Scope_SCOPE_USER)
	ctx, _ := b.as(t, pair)

	dev, err := b.svc.RegisterDevice(ctx, &hivesyncv1.RegisterDeviceRequest{Platform: "ios", ClientVersion: "3.1", PushToken: "apns-token"})
	require.NoError(t, err)
	require.Equal(t, "mobile on ios", dev.GetDevice().GetName())
	require.True(t, dev.GetDevice().GetHasPushToken())
	again, err := b.svc.RegisterDevice(ctx, &hivesyncv1.RegisterDeviceRequest{DeviceId: dev.GetDevice().GetId(), Platform: "ios", ClientVersion: "3.2"})
	require.NoError(t, err)
	require.Equal(t, dev.GetDevice().GetId(), again.GetDevice().GetId(), "re-registering updates")
	require.Equal(t, "3.2", again.GetDevice().GetClientVersion())

	p, err := b.authn.Authenticate(context.Background(), pair.AccessToken)
	require.NoError(t, err)
	require.Equal(t, dev.GetDevice().GetId(), p.DeviceID, "the session is bound to the device")

	_, err = b.svc.RevokeDevice(ctx, &hivesyncv1.RevokeDeviceRequest{DeviceId: dev.GetDevice().GetId()})
	require.NoError(t, err)
	_, err = b.authn.Authenticate(context.Background(), pair.AccessToken)
	require.ErrorIs(t, err, access.ErrInvalidToken, "revoking the device invalidates its tokens at once")
	_, err = b.issuer.Refresh(context.Background(), pair.RefreshToken, "")
	require.ErrorIs(t, err, auth.ErrInvalidToken)

	// Session revocation and account disabling work the same way.
	other := b.session(t, u, "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	_, err = b.store.SessionRevoke(context.Background(), dbgen.SessionRevokeParams{ID: uuid.MustParse(other.SessionID), UserID: u.ID, Reason: "test"})
	require.NoError(t, err)
	_, err = b.authn.Authenticate(context.Background(), other.AccessToken)
	require.ErrorIs(t, err, access.ErrInvalidToken)
}

func TestScopeEscalationIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	pair := b.session(t, b.user(t, "esc@example.com"), "cli", hivesyncv1.Scope_SCOPE_PLUGIN, hivesyncv1.Scope_SCOPE_WRITE)
	// The session's grant shrinks after the token was minted: the token's
	// wider scopes no longer hold.
	_, err := b.store.Pool().Exec(ctx, "UPDATE sessions SET scopes = '{plugin}' WHERE id = $1", pair.SessionID)
	require.NoError(t, err)
	_, err = b.authn.Authenticate(ctx, pair.AccessToken)
	require.ErrorIs(t, err, access.ErrInvalidToken)

	require.Error(t, auth.CheckGrant(auth.Clients["vscode"], []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_ADMIN}, true), "plugins never hold admin")
	require.Error(t, auth.CheckGrant(auth.Clients["admin"], []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_ADMIN}, false), "admin needs an admin account")
	require.NoError(t, auth.CheckGrant(auth.Clients["admin"], []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_ADMIN}, true))
	require.Error(t, auth.CheckGrant(auth.Clients["cli"], nil, false))
	_, err = auth.ParseScopes([]string{"user", "root"})
	require.ErrorContains(t, err, `unknown scope "root"`)
}

func TestEntitlementTierReachesThePrincipal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	u := b.user(t, "pro@example.com")
	pair := b.session(t, u, "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	exp := b.clock.now().Add(time.Hour)
	_, err := b.store.EntitlementSet(ctx, dbgen.EntitlementSetParams{UserID: u.ID, Tier: int16(hivesyncv1.Tier_TIER_PRO), Source: int16(hivesyncv1.EntitlementSource_ENTITLEMENT_SOURCE_APP_STORE), ExpiresAt: &exp})
	require.NoError(t, err)
	p, err := b.authn.Authenticate(ctx, pair.AccessToken)
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.Tier_TIER_PRO, p.Tier)

	// Once the subscription lapses the tier is Free, even before any job runs.
	b.clock.add(time.Hour)
	fresh := b.session(t, u, "cli", hivesyncv1.Scope_SCOPE_PLUGIN)
	p, err = b.authn.Authenticate(ctx, fresh.AccessToken)
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, p.Tier)
}

func TestDeviceAndSessionRPCs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, mallory := b.user(t, "alice@example.com"), b.user(t, "mallory@example.com")
	alicePair := b.session(t, alice, "mobile", hivesyncv1.Scope_SCOPE_USER)
	actx, _ := b.as(t, alicePair)
	mctx, _ := b.as(t, b.session(t, mallory, "mobile", hivesyncv1.Scope_SCOPE_USER))

	dev, err := b.svc.RegisterDevice(actx, &hivesyncv1.RegisterDeviceRequest{Name: "Alice's phone", Platform: "android"})
	require.NoError(t, err)
	id := dev.GetDevice().GetId()

	// Mallory cannot see, rename, revoke or take over Alice's device.
	list, err := b.svc.ListDevices(mctx, &hivesyncv1.ListDevicesRequest{})
	require.NoError(t, err)
	require.Empty(t, list.GetDevices())
	_, err = b.svc.RenameDevice(mctx, &hivesyncv1.RenameDeviceRequest{DeviceId: id, Name: "mine"})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = b.svc.RevokeDevice(mctx, &hivesyncv1.RevokeDeviceRequest{DeviceId: id})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = b.svc.RegisterDevice(mctx, &hivesyncv1.RegisterDeviceRequest{DeviceId: id, Platform: "android"})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))

	// Another of Alice's own sessions (a plugin) cannot take the phone's
	// device over either: a session registers only its own device.
	plugin, _ := b.as(t, b.session(t, alice, "vscode", hivesyncv1.Scope_SCOPE_PLUGIN))
	_, err = b.svc.RegisterDevice(plugin, &hivesyncv1.RegisterDeviceRequest{DeviceId: id, Platform: "linux"})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	actx, _ = b.as(t, alicePair) // each request re-reads the session, now bound to the phone
	again, err := b.svc.RegisterDevice(actx, &hivesyncv1.RegisterDeviceRequest{Platform: "android"})
	require.NoError(t, err)
	require.Equal(t, id, again.GetDevice().GetId(), "a bound session updates its own device")
	require.Equal(t, "Alice's phone", again.GetDevice().GetName())

	renamed, err := b.svc.RenameDevice(actx, &hivesyncv1.RenameDeviceRequest{DeviceId: id, Name: "  Pixel  "})
	require.NoError(t, err)
	require.Equal(t, "Pixel", renamed.GetDevice().GetName())

	// Bad input is refused before anything is written.
	for _, req := range []*hivesyncv1.RenameDeviceRequest{
		{DeviceId: "not-a-uuid", Name: "x"}, {DeviceId: id, Name: ""}, {DeviceId: id, Name: strings.Repeat("x", 101)},
		{DeviceId: id, Name: "bad\x00name"}, {DeviceId: id, Name: "\xff\xfe"},
	} {
		_, err = b.svc.RenameDevice(actx, req)
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%q", req.GetName())
	}

	// Sessions: listed, current one flagged, others' not revocable.
	sessions, err := b.svc.ListSessions(actx, &hivesyncv1.ListSessionsRequest{})
	require.NoError(t, err)
	require.Len(t, sessions.GetSessions(), 2, "the phone and the plugin")
	require.True(t, sessions.GetSessions()[1].GetCurrent(), "oldest last; the phone's session is the caller's")
	_, err = b.svc.RevokeSession(mctx, &hivesyncv1.RevokeSessionRequest{SessionId: sessions.GetSessions()[1].GetId()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = b.svc.RevokeSession(actx, &hivesyncv1.RevokeSessionRequest{SessionId: "x"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))

	me, err := b.svc.GetCurrentUser(actx, &hivesyncv1.GetCurrentUserRequest{})
	require.NoError(t, err)
	require.Equal(t, "alice@example.com", me.GetUser().GetEmail())
	require.Equal(t, dev.GetDevice().GetId(), me.GetSession().GetDeviceId())

	_, err = b.svc.RevokeSession(actx, &hivesyncv1.RevokeSessionRequest{SessionId: sessions.GetSessions()[1].GetId()})
	require.NoError(t, err)
	_, err = b.svc.GetCurrentUser(context.Background(), &hivesyncv1.GetCurrentUserRequest{})
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
}

// as returns a context carrying the principal of pair's access token, as the
// access interceptor would.
func (b *testBundle) as(t *testing.T, pair auth.TokenPair) (context.Context, *access.Principal) {
	t.Helper()
	p, err := b.authn.Authenticate(context.Background(), pair.AccessToken)
	require.NoError(t, err)
	return access.WithPrincipal(context.Background(), p), p
}

func TestTokenPairJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pair := b.session(t, b.user(t, "json@example.com"), "cli", hivesyncv1.Scope_SCOPE_PLUGIN, hivesyncv1.Scope_SCOPE_READ)
	raw, err := json.Marshal(pair)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	for _, k := range []string{"access_token", "refresh_token", "token_type", "expires_in", "scope", "session_id", "user_id"} {
		require.Contains(t, m, k)
	}
	require.Equal(t, "plugin read", m["scope"])
	require.False(t, errors.Is(err, auth.ErrInvalidToken))
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	require.NoError(t, err)
	var h struct {
		Kid string `json:"kid"`
	}
	require.NoError(t, json.Unmarshal(header, &h))
	return h.Kid
}
