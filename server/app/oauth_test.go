package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/store/dbgen"
)

// phone is the mobile app of a signed-in user: it approves sign-ins.
type phone struct {
	auth hivesyncv1connect.AuthServiceClient
	user dbgen.User
}

func newPhone(t *testing.T, b *testBundle, email string) phone {
	t.Helper()
	ctx := context.Background()
	u, err := b.store.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: email})
	require.NoError(t, err)
	pair, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: auth.Clients["mobile"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_USER}})
	require.NoError(t, err)
	return phone{auth: hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken)), user: u}
}

func bearer(token string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}))
}

func oauthConfig(b *testBundle, clientID string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: clientID,
		Scopes:   scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:       b.baseURL + auth.PathAuthorize,
			DeviceAuthURL: b.baseURL + auth.PathDeviceAuthorization,
			TokenURL:      b.baseURL + auth.PathToken,
			AuthStyle:     oauth2.AuthStyleInParams,
		},
	}
}

func whoAmI(t *testing.T, b *testBundle, accessToken string) (*hivesyncv1.GetCurrentUserResponse, error) {
	t.Helper()
	return hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(accessToken)).GetCurrentUser(context.Background(), &hivesyncv1.GetCurrentUserRequest{})
}

// TestDeviceFlowWithTheStandardClient runs RFC 8628 end to end with
// golang.org/x/oauth2 as the CLI and a mobile session as the approver.
func TestDeviceFlowWithTheStandardClient(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_DEVICE_POLL_INTERVAL": "1s", "HIVESYNC_REFRESH_REUSE_GRACE": "1ms"})
	ctx := context.Background()
	p := newPhone(t, b, "ada@device.test")
	conf := oauthConfig(b, "cli", "plugin", "read")

	da, err := conf.DeviceAuth(ctx)
	require.NoError(t, err)
	require.Regexp(t, `^[B-Z]{4}-[B-Z]{4}$`, da.UserCode)
	require.Equal(t, b.baseURL+"/device", da.VerificationURI)
	require.EqualValues(t, 1, da.Interval)

	// The phone sees what it approves, typed sloppily.
	sloppy := strings.ToLower(strings.ReplaceAll(da.UserCode, "-", " "))
	desc, err := p.auth.DescribeDeviceCode(ctx, &hivesyncv1.DescribeDeviceCodeRequest{UserCode: sloppy})
	require.NoError(t, err)
	require.Equal(t, "cli", desc.GetClientId())
	require.Equal(t, hivesyncv1.SignInKind_SIGN_IN_KIND_DEVICE, desc.GetKind())
	require.ElementsMatch(t, []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN, hivesyncv1.Scope_SCOPE_READ}, desc.GetScopes())

	done := make(chan *oauth2.Token, 1)
	go func() {
		tok, err := conf.DeviceAccessToken(ctx, da)
		if err != nil {
			t.Errorf("device access token: %v", err)
		}
		done <- tok
	}()
	time.Sleep(1500 * time.Millisecond) // let the CLI poll while approval is pending
	_, err = p.auth.ApproveDeviceCode(ctx, &hivesyncv1.ApproveDeviceCodeRequest{UserCode: da.UserCode, Approve: true})
	require.NoError(t, err)
	tok := <-done
	require.NotNil(t, tok)
	require.Equal(t, "plugin read", tok.Extra("scope"))

	me, err := whoAmI(t, b, tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, "ada@device.test", me.GetUser().GetEmail())
	require.Equal(t, "cli", me.GetSession().GetClientId())

	// The code is decided once and yields tokens once.
	_, err = p.auth.ApproveDeviceCode(ctx, &hivesyncv1.ApproveDeviceCodeRequest{UserCode: da.UserCode, Approve: true})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))

	// The standard client refreshes transparently once the access token expires.
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, tok).Token()
	require.NoError(t, err)
	require.NotEqual(t, tok.AccessToken, fresh.AccessToken)
	require.NotEqual(t, tok.RefreshToken, fresh.RefreshToken, "refresh tokens rotate")
	_, err = whoAmI(t, b, fresh.AccessToken)
	require.NoError(t, err)

	// Replaying the first refresh token revokes the whole session.
	code, _ := postForm(t, b, auth.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"cli"}})
	require.Equal(t, "invalid_grant", code)
	_, err = whoAmI(t, b, fresh.AccessToken)
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
}

func TestDeviceFlowRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_DEVICE_POLL_INTERVAL": "60s"})
	ctx := context.Background()
	p := newPhone(t, b, "bob@device.test")
	conf := oauthConfig(b, "neovim")

	da, err := conf.DeviceAuth(ctx)
	require.NoError(t, err)
	poll := func(client string) string {
		code, _ := postForm(t, b, auth.PathToken, url.Values{"grant_type": {auth.GrantDeviceCode}, "device_code": {da.DeviceCode}, "client_id": {client}})
		return code
	}
	require.Equal(t, "authorization_pending", poll("neovim"))
	require.Equal(t, "slow_down", poll("neovim"), "a second poll inside the interval")
	require.Equal(t, "invalid_grant", poll("sublime"), "another client cannot redeem the code")

	_, err = p.auth.ApproveDeviceCode(ctx, &hivesyncv1.ApproveDeviceCodeRequest{UserCode: da.UserCode, Approve: false})
	require.NoError(t, err)
	_, err = p.auth.DescribeDeviceCode(ctx, &hivesyncv1.DescribeDeviceCodeRequest{UserCode: da.UserCode})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "a decided code is no longer pending")

	// Unknown clients, scopes and grants are refused with RFC 6749 errors.
	code, _ := postForm(t, b, auth.PathDeviceAuthorization, url.Values{"client_id": {"toaster"}})
	require.Equal(t, "invalid_client", code)
	code, _ = postForm(t, b, auth.PathDeviceAuthorization, url.Values{"client_id": {"mobile"}})
	require.Equal(t, "invalid_client", code, "the phone signs in through its identity provider")
	code, _ = postForm(t, b, auth.PathDeviceAuthorization, url.Values{"client_id": {"vscode"}, "scope": {"admin"}})
	require.Equal(t, "invalid_scope", code)
	code, _ = postForm(t, b, auth.PathToken, url.Values{"grant_type": {"password"}, "client_id": {"cli"}})
	require.Equal(t, "unsupported_grant_type", code)

	// Only an admin account can approve an admin sign-in.
	code, body := postForm(t, b, auth.PathDeviceAuthorization, url.Values{"client_id": {"admin"}, "scope": {"admin"}})
	require.Empty(t, code, body)
	var adminDA struct {
		UserCode string `json:"user_code"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &adminDA))
	_, err = p.auth.ApproveDeviceCode(ctx, &hivesyncv1.ApproveDeviceCodeRequest{UserCode: adminDA.UserCode, Approve: true})
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
}

var (
	userCodeInPage = regexp.MustCompile(`class="code">([B-Z]{4}-[B-Z]{4})<`)
	pollURLInPage  = regexp.MustCompile(`fetch\("([^"]+)"`)
)

// TestBrowserFlowWithPKCE runs the authorization code flow with mandatory
// PKCE (S256) using golang.org/x/oauth2, the phone approving in the middle.
func TestBrowserFlowWithPKCE(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	p := newPhone(t, b, "cy@browser.test")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Transport: b.h1.Transport}

	conf := oauthConfig(b, "jetbrains", "plugin")
	conf.RedirectURL = "http://127.0.0.1:50123/callback"
	start := func(verifier string) (userCode, pollURL string) {
		resp, err := noRedirect.Get(conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)))
		require.NoError(t, err)
		page, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
		m := userCodeInPage.FindSubmatch(page)
		require.NotNil(t, m, string(page))
		pm := pollURLInPage.FindSubmatch(page)
		require.NotNil(t, pm, string(page))
		return string(m[1]), strings.ReplaceAll(string(pm[1]), `\u0026`, "&")
	}
	status := func(pollURL string) map[string]string {
		resp, err := b.h1.Get(b.baseURL + pollURL)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		var s map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
		return s
	}

	verifier := oauth2.GenerateVerifier()
	userCode, pollURL := start(verifier)
	require.Equal(t, "pending", status(pollURL)["status"])
	desc, err := p.auth.DescribeDeviceCode(ctx, &hivesyncv1.DescribeDeviceCodeRequest{UserCode: userCode})
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.SignInKind_SIGN_IN_KIND_BROWSER, desc.GetKind())
	_, err = p.auth.ApproveDeviceCode(ctx, &hivesyncv1.ApproveDeviceCodeRequest{UserCode: userCode, Approve: true})
	require.NoError(t, err)

	s := status(pollURL)
	require.Equal(t, "approved", s["status"])
	redirect, err := url.Parse(s["redirect"])
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:50123", redirect.Host)
	require.Equal(t, "st4te", redirect.Query().Get("state"))
	require.Equal(t, "done", status(pollURL)["status"], "the code is handed out once")

	tok, err := conf.Exchange(ctx, redirect.Query().Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	me, err := whoAmI(t, b, tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, "cy@browser.test", me.GetUser().GetEmail())
	require.Equal(t, "jetbrains", me.GetSession().GetClientId())

	_, err = conf.Exchange(ctx, redirect.Query().Get("code"), oauth2.VerifierOption(verifier))
	require.ErrorContains(t, err, "invalid_grant", "a code is redeemed once")

	// A stolen code is useless without the verifier.
	other := oauth2.GenerateVerifier()
	userCode, pollURL = start(other)
	_, err = p.auth.ApproveDeviceCode(ctx, &hivesyncv1.ApproveDeviceCodeRequest{UserCode: userCode, Approve: true})
	require.NoError(t, err)
	redirect, err = url.Parse(status(pollURL)["redirect"])
	require.NoError(t, err)
	_, err = conf.Exchange(ctx, redirect.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	require.ErrorContains(t, err, "invalid_grant")

	// Without PKCE the client is sent back with an error, not a page.
	resp, err := noRedirect.Get(conf.AuthCodeURL("s"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Location"), "error=invalid_request")

	// A redirect the client never registered is never followed.
	evil := *conf
	evil.RedirectURL = "https://evil.test/callback"
	resp, err = noRedirect.Get(evil.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Location"))

	// vscode's registered custom scheme works; /auth/desktop is the spec's entry point.
	vs := oauthConfig(b, "vscode")
	vs.RedirectURL = "vscode://hivesync.auth/complete"
	u, err := url.Parse(vs.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	require.NoError(t, err)
	u.Path = auth.PathDesktop
	resp, err = noRedirect.Get(u.String())
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestRevocationAndMetadata(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	u, err := b.store.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: "rev@o.test"})
	require.NoError(t, err)
	pair, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: auth.Clients["sublime"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN}})
	require.NoError(t, err)

	code, _ := postForm(t, b, auth.PathRevoke, url.Values{"token": {"unknown"}, "client_id": {"sublime"}})
	require.Empty(t, code, "unknown tokens revoke silently")
	code, _ = postForm(t, b, auth.PathRevoke, url.Values{"client_id": {"sublime"}})
	require.Equal(t, "invalid_request", code, "a token is required")
	code, _ = postForm(t, b, auth.PathRevoke, url.Values{"token": {pair.RefreshToken}, "client_id": {"cli"}})
	require.Empty(t, code)
	_, err = whoAmI(t, b, pair.AccessToken)
	require.NoError(t, err, "another client cannot revoke the session")
	_, err = whoAmI(t, b, pair.AccessToken)
	require.NoError(t, err)
	code, _ = postForm(t, b, auth.PathRevoke, url.Values{"token": {pair.RefreshToken}, "client_id": {"sublime"}})
	require.Empty(t, code)
	_, err = whoAmI(t, b, pair.AccessToken)
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "revoking the refresh token ends the session")

	resp, err := b.h1.Get(b.baseURL + auth.PathMetadata)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var meta map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&meta))
	require.Equal(t, b.cfg.IssuerURL, meta["issuer"])
	require.Equal(t, b.baseURL+auth.PathToken, meta["token_endpoint"])
	require.Equal(t, []any{"S256"}, meta["code_challenge_methods_supported"])
	require.Contains(t, meta["grant_types_supported"], auth.GrantDeviceCode)

	jwks, err := b.h1.Get(meta["jwks_uri"].(string))
	require.NoError(t, err)
	defer func() { _ = jwks.Body.Close() }()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(jwks.Body).Decode(&set))
	require.NotEmpty(t, set.Keys)
	require.Equal(t, "ES256", set.Keys[0]["alg"])
	require.NotContains(t, set.Keys[0], "d", "never the private part")
}

// postForm posts a form and returns the OAuth error code ("" on 2xx) and body.
func postForm(t *testing.T, b *testBundle, path string, form url.Values) (string, string) {
	t.Helper()
	resp, err := b.h1.PostForm(b.baseURL+path, form)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 {
		return "", string(body)
	}
	var e struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	return e.Error, string(body)
}
