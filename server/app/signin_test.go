package app_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/server/ratelimit/redistest"
)

// oidcProvider is a stand-in identity provider at the network edge: an
// httptest server speaking OIDC discovery and JWKS, signing real RS256 JWTs.
type oidcProvider struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newOIDCProvider(t *testing.T) *oidcProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p := &oidcProvider{key: key}
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/keys", "authorization_endpoint": p.srv.URL + "/auth",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	return p
}

// idToken signs claims (defaults filled in) with key.
func (p *oidcProvider) idToken(t *testing.T, key *rsa.PrivateKey, override map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	require.NoError(t, err)
	now := time.Now()
	claims := map[string]any{
		"iss": p.srv.URL, "sub": "000123.abc", "aud": "dev.hivesync.ios", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"nonce": "n-0S6_WzA2Mj", "email": "Grace@Example.com", "email_verified": "true", "jti": time.Now().String(),
	}
	for k, v := range override {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	require.NoError(t, err)
	return tok
}

func TestMobileSignInWithIdToken(t *testing.T) {
	t.Parallel()
	idp := newOIDCProvider(t)
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_OIDC_PROVIDERS": "apple=" + idp.srv.URL + "|dev.hivesync.ios,dev.hivesync.android"})
	ctx := context.Background()
	client := hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL)
	signIn := func(token, nonce string) (*hivesyncv1.SignInWithIdTokenResponse, error) {
		return client.SignInWithIdToken(ctx, &hivesyncv1.SignInWithIdTokenRequest{Provider: "apple", IdToken: token, Nonce: nonce, DisplayName: "Grace"})
	}

	providers, err := client.ListIdentityProviders(ctx, &hivesyncv1.ListIdentityProvidersRequest{})
	require.NoError(t, err)
	require.Len(t, providers.GetProviders(), 1)
	require.Equal(t, "apple", providers.GetProviders()[0].GetName())

	first := idp.idToken(t, idp.key, nil)
	resp, err := signIn(first, "n-0S6_WzA2Mj")
	require.NoError(t, err)
	require.True(t, resp.GetNewUser())
	require.Equal(t, "Grace@Example.com", resp.GetUser().GetEmail())
	require.Equal(t, "Grace", resp.GetUser().GetDisplayName())
	require.Equal(t, "user read write live preview", resp.GetScope())
	me, err := whoAmI(t, b, resp.GetAccessToken())
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.ClientType_CLIENT_TYPE_MOBILE, me.GetSession().GetClientType())

	_, err = signIn(first, "n-0S6_WzA2Mj")
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "an ID token is exchanged once")

	again, err := signIn(idp.idToken(t, idp.key, map[string]any{"email": "grace@example.com", "jti": "2"}), "n-0S6_WzA2Mj")
	require.NoError(t, err)
	require.False(t, again.GetNewUser())
	require.Equal(t, resp.GetUser().GetId(), again.GetUser().GetId())

	// The same email from another subject (another identity) does not get in.
	_, err = signIn(idp.idToken(t, idp.key, map[string]any{"sub": "someone-else", "jti": "x-sub"}), "n-0S6_WzA2Mj")
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "no takeover by email")

	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		token, nonce string
	}{
		"wrong_nonce":      {idp.idToken(t, idp.key, map[string]any{"jti": "3"}), "other"},
		"other_audience":   {idp.idToken(t, idp.key, map[string]any{"aud": "com.evil.app"}), "n-0S6_WzA2Mj"},
		"expired":          {idp.idToken(t, idp.key, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), "n-0S6_WzA2Mj"},
		"other_issuer":     {idp.idToken(t, idp.key, map[string]any{"iss": "https://evil.test"}), "n-0S6_WzA2Mj"},
		"forged_signature": {idp.idToken(t, forger, nil), "n-0S6_WzA2Mj"},
		"unverified_email": {idp.idToken(t, idp.key, map[string]any{"email_verified": false}), "n-0S6_WzA2Mj"},
		"no_email":         {idp.idToken(t, idp.key, map[string]any{"email": nil}), "n-0S6_WzA2Mj"},
		"not_a_jwt":        {"garbage", "n-0S6_WzA2Mj"},
	} {
		_, err := signIn(tc.token, tc.nonce)
		require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), name)
	}
	_, err = client.SignInWithIdToken(ctx, &hivesyncv1.SignInWithIdTokenRequest{Provider: "myspace", IdToken: first, Nonce: "x"})
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
	_, err = client.SignInWithIdToken(ctx, &hivesyncv1.SignInWithIdTokenRequest{Provider: "apple"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))

	// The phone refreshes at the OAuth token endpoint as client "mobile".
	code, body := postForm(t, b, auth.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {resp.GetRefreshToken()}, "client_id": {"mobile"}})
	require.Empty(t, code, body)
	code, _ = postForm(t, b, auth.PathToken, url.Values{"grant_type": {auth.GrantDeviceCode}, "device_code": {"x"}, "client_id": {"mobile"}})
	require.Equal(t, "invalid_client", code)

	// A disabled account cannot sign in.
	_, err = b.store.Pool().Exec(ctx, "UPDATE users SET disabled_at = now() WHERE id = $1", resp.GetUser().GetId())
	require.NoError(t, err)
	_, err = signIn(idp.idToken(t, idp.key, map[string]any{"jti": "4"}), "n-0S6_WzA2Mj")
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
}

// TestDevModeSignsInOffline: under `dev`, the built-in identity provider lets
// the phone sign in with no network, then approve a CLI's device login.
func TestDevModeSignsInOffline(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeDev, map[string]string{"HIVESYNC_DEVICE_POLL_INTERVAL": "1s"})
	ctx := context.Background()
	resp, err := b.h1.PostForm(b.baseURL+auth.DevIDPPath+"/token", url.Values{"email": {"dev@offline.test"}, "nonce": {"abc"}})
	require.NoError(t, err)
	var idt struct {
		IDToken string `json:"id_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&idt))
	_ = resp.Body.Close()

	client := hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL)
	signedIn, err := client.SignInWithIdToken(ctx, &hivesyncv1.SignInWithIdTokenRequest{Provider: "dev", IdToken: idt.IDToken, Nonce: "abc"})
	require.NoError(t, err)

	cli := oauthConfig(b, "cli")
	da, err := cli.DeviceAuth(ctx)
	require.NoError(t, err)
	phone := hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(signedIn.GetAccessToken()))
	_, err = phone.ApproveDeviceCode(ctx, &hivesyncv1.ApproveDeviceCodeRequest{UserCode: da.UserCode, Approve: true})
	require.NoError(t, err)
	tok, err := cli.DeviceAccessToken(ctx, da)
	require.NoError(t, err)
	me, err := whoAmI(t, b, tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, "dev@offline.test", me.GetUser().GetEmail())

	// The dev provider exists only in dev mode.
	serve := setup(t, app.ModeServe, nil)
	r, err := serve.h1.Get(serve.baseURL + auth.DevIDPPath + "/jwks")
	require.NoError(t, err)
	_ = r.Body.Close()
	require.Equal(t, http.StatusNotFound, r.StatusCode)
}

func TestAuthEndpointsAreRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_RATE_LIMIT_AUTH": "3/min"})
	ctx := context.Background()
	client := hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL)
	for range 3 {
		_, err := client.SignInWithIdToken(ctx, &hivesyncv1.SignInWithIdTokenRequest{Provider: "none", IdToken: "x", Nonce: "n"})
		require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
	}
	_, err := client.SignInWithIdToken(ctx, &hivesyncv1.SignInWithIdTokenRequest{Provider: "none", IdToken: "x", Nonce: "n"})
	require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(err))
	d := typedDetail[*hivesyncv1.RateLimited](t, err)
	require.Equal(t, "auth", d.GetBucket())
	require.InDelta(t, 20, d.GetRetryAfter().AsDuration().Seconds(), 1)
	// Methods without a bucket are not limited.
	for range 5 {
		_, err := client.ListIdentityProviders(ctx, &hivesyncv1.ListIdentityProvidersRequest{})
		require.NoError(t, err)
	}

	// The OAuth endpoints share the bucket, per client IP: 429 with Retry-After.
	// (Device polls and refreshes are exempt: slow_down paces the former.)
	resp, err := b.h1.PostForm(b.baseURL+auth.PathToken, url.Values{"grant_type": {"refresh_token"}, "client_id": {"cli"}, "refresh_token": {"x"}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "refreshes are not rate limited per IP")
	resp, err = b.h1.PostForm(b.baseURL+auth.PathDeviceAuthorization, url.Values{"client_id": {"cli"}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
}

// TestRateLimitsHoldAcrossNodes: with HIVESYNC_REDIS_URL two nodes share one
// budget.
func TestRateLimitsHoldAcrossNodes(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	vars := map[string]string{"HIVESYNC_RATE_LIMIT_AUTH": "2/min", "HIVESYNC_REDIS_URL": url}
	a, b := setup(t, app.ModeServe, vars), setup(t, app.ModeServe, vars)
	ctx := context.Background()
	call := func(n *testBundle) error {
		_, err := hivesyncv1connect.NewAuthServiceClient(n.h1, n.baseURL).SignInWithIdToken(ctx, &hivesyncv1.SignInWithIdTokenRequest{Provider: "none", IdToken: "x", Nonce: "n"})
		return err
	}
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(call(a)))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(call(b)))
	require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(call(a)), "the budget spent on node b counts on node a")
}
