package app_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/store/dbgen"
)

const adminKey = "k3y-for-tests-0123456789abcdefghijklmnop"

func TestAdminAccountRecovery(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_ADMIN_API_KEY": adminKey})
	ctx := context.Background()
	mk := func(email string, isAdmin bool) dbgen.User {
		u, err := b.store.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: email, IsAdmin: isAdmin})
		require.NoError(t, err)
		return u
	}
	root, bob := mk("root@admin.test", true), mk("bob@admin.test", false)
	rootPair, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: root.ID, Client: auth.Clients["admin"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_ADMIN}})
	require.NoError(t, err)
	bobPair, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: bob.ID, Client: auth.Clients["vscode"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN}})
	require.NoError(t, err)
	adm := hivesyncv1connect.NewAdminServiceClient(b.h1, b.baseURL, bearer(rootPair.AccessToken))

	found, err := adm.LookupUser(ctx, &hivesyncv1.LookupUserRequest{Email: "BOB@admin.test"})
	require.NoError(t, err)
	require.Equal(t, bob.ID.String(), found.GetUser().GetId())

	// Disabling ends bob's sessions at once.
	dis, err := adm.DisableUser(ctx, &hivesyncv1.DisableUserRequest{UserId: bob.ID.String(), Reason: "lost laptop"})
	require.NoError(t, err)
	require.EqualValues(t, 1, dis.GetSessionsRevoked())
	_, err = whoAmI(t, b, bobPair.AccessToken)
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
	_, err = adm.DisableUser(ctx, &hivesyncv1.DisableUserRequest{UserId: root.ID.String()})
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err), "no self-lockout")
	_, err = adm.DisableUser(ctx, &hivesyncv1.DisableUserRequest{UserId: uuid.NewString()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))

	// A login link for a disabled account does not sign in; once enabled it does, once.
	_, err = adm.RegenerateLoginLink(ctx, &hivesyncv1.RegenerateLoginLinkRequest{UserId: bob.ID.String()})
	require.NoError(t, err)
	token := linkToken(t, b.mail.last().body)
	code, _ := postForm(t, b, auth.LoginLinkPath, url.Values{"token": {token}})
	require.Equal(t, "access_denied", code)

	_, err = adm.EnableUser(ctx, &hivesyncv1.EnableUserRequest{UserId: bob.ID.String(), Reason: "found it"})
	require.NoError(t, err)
	sent, err := adm.RegenerateLoginLink(ctx, &hivesyncv1.RegenerateLoginLinkRequest{UserId: bob.ID.String()})
	require.NoError(t, err)
	require.Equal(t, "bob@admin.test", sent.GetSentTo())
	mail := b.mail.last()
	require.Equal(t, "bob@admin.test", mail.to)
	fresh := linkToken(t, mail.body)
	code, body := postForm(t, b, auth.LoginLinkPath, url.Values{"token": {fresh}})
	require.Empty(t, code, body)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	me, err := whoAmI(t, b, tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, "desktop", me.GetSession().GetClientId())
	code, _ = postForm(t, b, auth.LoginLinkPath, url.Values{"token": {fresh}})
	require.Equal(t, "invalid_grant", code, "a login link works once")
	linkPage, err := b.h1.Get(strings.SplitN(mail.body, "\n", 4)[2])
	require.NoError(t, err)
	_ = linkPage.Body.Close()
	require.Equal(t, 200, linkPage.StatusCode, "the mailed link opens a page")
	require.Contains(t, linkPage.Header.Get("Content-Security-Policy"), "default-src 'none'")

	// The audit log has it all, newest first, paged.
	page, err := adm.ListAuditLog(ctx, &hivesyncv1.ListAuditLogRequest{UserId: bob.ID.String(), PageSize: 3})
	require.NoError(t, err)
	require.Len(t, page.GetEntries(), 3)
	require.Equal(t, "user.login_link_used", page.GetEntries()[0].GetAction())
	require.NotEmpty(t, page.GetNextPageToken())
	rest, err := adm.ListAuditLog(ctx, &hivesyncv1.ListAuditLogRequest{UserId: bob.ID.String(), PageSize: 3, PageToken: page.GetNextPageToken()})
	require.NoError(t, err)
	var actions []string
	for _, e := range append(page.GetEntries(), rest.GetEntries()...) {
		actions = append(actions, e.GetAction())
	}
	require.Equal(t, []string{"user.login_link_used", "user.login_link_created", "user.enabled", "user.login_link_created", "user.disabled"}, actions)
	require.Equal(t, root.ID.String(), rest.GetEntries()[len(rest.GetEntries())-1].GetActorUserId())
	require.Contains(t, rest.GetEntries()[len(rest.GetEntries())-1].GetDetailsJson(), "lost laptop")

	// The admin API key works in place of an admin token; a wrong key does not.
	byKey := hivesyncv1connect.NewAdminServiceClient(b.h1, b.baseURL, bearer(adminKey))
	_, err = byKey.LookupUser(ctx, &hivesyncv1.LookupUserRequest{Email: "bob@admin.test"})
	require.NoError(t, err)
	_, err = hivesyncv1connect.NewAdminServiceClient(b.h1, b.baseURL, bearer(strings.ToUpper(adminKey))).LookupUser(ctx, &hivesyncv1.LookupUserRequest{Email: "bob@admin.test"})
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
	_, err = hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(adminKey)).GetCurrentUser(ctx, &hivesyncv1.GetCurrentUserRequest{})
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "the API key is not a user")
}

var linkPattern = regexp.MustCompile(`#token=([A-Za-z0-9_-]+)`)

func linkToken(t *testing.T, body string) string {
	t.Helper()
	m := linkPattern.FindStringSubmatch(body)
	require.NotNil(t, m, body)
	return m[1]
}
