package auth_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/server/auth"
)

// TestDevicePollingOnAFakeClock covers the time rules of RFC 8628 without
// sleeping: slow_down grows the interval by 5 s and a client that obeys it is
// answered; an unapproved code expires.
func TestDevicePollingOnAFakeClock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	o := auth.NewOAuthServer(b.store, b.issuer, auth.OAuthOptions{
		Issuer: "https://api.hivesync.test", BaseURL: func() string { return "https://api.hivesync.test" },
		RequestTTL: 10 * time.Minute, CodeTTL: time.Minute, PollInterval: 5 * time.Second, Now: b.clock.now, Log: slog.New(slog.DiscardHandler),
	})
	mux := http.NewServeMux()
	o.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	post := func(path string, form url.Values) map[string]any {
		resp, err := srv.Client().PostForm(srv.URL+path, form)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	start := post(auth.PathDeviceAuthorization, url.Values{"client_id": {"cli"}})
	require.EqualValues(t, 5, start["interval"])
	require.EqualValues(t, 600, start["expires_in"])
	poll := func() any {
		return post(auth.PathToken, url.Values{"grant_type": {auth.GrantDeviceCode}, "device_code": {start["device_code"].(string)}, "client_id": {"cli"}})["error"]
	}

	require.Equal(t, "authorization_pending", poll())
	b.clock.add(2 * time.Second)
	require.Equal(t, "slow_down", poll(), "2 s after the last poll, with a 5 s interval")
	b.clock.add(10 * time.Second)
	require.Equal(t, "authorization_pending", poll(), "a client that waits the grown interval (10 s) is answered")
	b.clock.add(9 * time.Second)
	require.Equal(t, "slow_down", poll(), "9 s is inside the 10 s interval")

	b.clock.add(10 * time.Minute)
	require.Equal(t, "expired_token", poll())

	// Approved codes yield tokens exactly once.
	start = post(auth.PathDeviceAuthorization, url.Values{"client_id": {"cli"}})
	u := b.user(t, "once@device.test")
	_, err := o.Decide(t.Context(), u.ID, start["user_code"].(string), true)
	require.NoError(t, err)
	tokens := post(auth.PathToken, url.Values{"grant_type": {auth.GrantDeviceCode}, "device_code": {start["device_code"].(string)}, "client_id": {"cli"}})
	require.NotEmpty(t, tokens["access_token"])
	b.clock.add(5 * time.Second)
	require.Equal(t, "invalid_grant", poll2(post, start))
	_, err = o.Decide(t.Context(), u.ID, start["user_code"].(string), true)
	require.Error(t, err, "a decided code cannot be decided again")
}

func poll2(post func(string, url.Values) map[string]any, start map[string]any) any {
	return post(auth.PathToken, url.Values{"grant_type": {auth.GrantDeviceCode}, "device_code": {start["device_code"].(string)}, "client_id": {"cli"}})["error"]
}

func TestRedirectRules(t *testing.T) {
	t.Parallel()
	vscode := auth.Clients["vscode"]
	require.True(t, vscode.AllowsRedirect("vscode://hivesync.auth/complete"))
	require.True(t, vscode.AllowsRedirect("http://127.0.0.1:49152/cb"))
	require.True(t, vscode.AllowsRedirect("http://[::1]:49152/cb"))
	for _, bad := range []string{"vscode://hivesync.auth/complete/x", "https://127.0.0.1/cb", "http://localhost.evil.test/cb",
		"http://user@127.0.0.1/cb", "http://127.0.0.1/cb#frag", "http://localhost:1234/cb", "javascript:alert(1)"} {
		require.False(t, vscode.AllowsRedirect(bad), bad)
	}
	require.Empty(t, auth.Clients["mobile"].RedirectURIs)
	require.NotContains(t, auth.Clients["cli"].DefaultScopes(), auth.Clients["admin"].Scopes[0])
}

func TestCleanupDeletesExpiredSignInRecords(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	o := auth.NewOAuthServer(b.store, b.issuer, auth.OAuthOptions{
		Issuer: "https://api.hivesync.test", BaseURL: func() string { return "https://api.hivesync.test" },
		RequestTTL: 10 * time.Minute, CodeTTL: time.Minute, PollInterval: 5 * time.Second, Now: b.clock.now, Log: slog.New(slog.DiscardHandler),
	})
	mux := http.NewServeMux()
	o.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	resp, err := srv.Client().PostForm(srv.URL+auth.PathDeviceAuthorization, url.Values{"client_id": {"cli"}})
	require.NoError(t, err)
	var start map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&start))
	_ = resp.Body.Close()

	w := &auth.CleanupWorker{Store: b.store, Now: b.clock.now, Log: slog.New(slog.DiscardHandler)}
	require.NoError(t, w.Work(ctx, nil))
	_, err = b.store.OAuthGrantByUserCode(ctx, strings.ReplaceAll(start["user_code"].(string), "-", ""))
	require.NoError(t, err, "a live request is kept")

	b.clock.add(10*time.Minute + 25*time.Hour)
	require.NoError(t, w.Work(ctx, nil))
	_, err = b.store.OAuthGrantByUserCode(ctx, strings.ReplaceAll(start["user_code"].(string), "-", ""))
	require.Error(t, err, "an expired request is deleted a day after it lapsed")
}
