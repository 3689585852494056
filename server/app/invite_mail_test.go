package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/files"
)

// An invite made for an email address is mailed to it: who invites, to
// which project, as what, and a link carrying the token, which the invited
// account then accepts. When the mail cannot be sent, no invite is made and
// the owner is told.
func TestEmailInvitesAreMailed(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	owner := newEditorOn(t, b, "owner@mail-invite.test", "desktop")
	proj, err := owner.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Mailed"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()

	inv, err := owner.projects.CreateInvite(ctx, &hivesyncv1.CreateInviteRequest{ProjectId: pid, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR, Email: "friend@mail-invite.test"})
	require.NoError(t, err)
	mail := b.mail.last()
	require.Equal(t, "friend@mail-invite.test", mail.to)
	require.Contains(t, mail.subject, `"Mailed"`)
	require.Contains(t, mail.body, "owner@mail-invite.test invited you")
	require.Contains(t, mail.body, "as editor")
	_, fragment, ok := strings.Cut(mail.body, files.InvitePath+"#token=")
	require.True(t, ok, mail.body)
	token, _, _ := strings.Cut(fragment, "\n")
	require.Equal(t, inv.GetToken(), token)
	friend := newEditorOn(t, b, "friend@mail-invite.test", "desktop")
	joined, err := friend.projects.AcceptInvite(ctx, &hivesyncv1.AcceptInviteRequest{Token: token})
	require.NoError(t, err)
	require.Equal(t, pid, joined.GetProject().GetId())

	// A link invite is not mailed.
	sent := b.mail.count()
	_, err = owner.projects.CreateInvite(ctx, &hivesyncv1.CreateInviteRequest{ProjectId: pid, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_VIEWER})
	require.NoError(t, err)
	require.Equal(t, sent, b.mail.count())

	// The mail server refuses: no invite, and the owner knows.
	b.mail.failWith(errors.New("550 mailbox unavailable"))
	_, err = owner.projects.CreateInvite(ctx, &hivesyncv1.CreateInviteRequest{ProjectId: pid, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_VIEWER, Email: "other@mail-invite.test"})
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err), "%v", err)
	var invites int
	require.NoError(t, b.store.Pool().QueryRow(ctx, "SELECT count(*) FROM project_invites WHERE email = 'other@mail-invite.test'").Scan(&invites))
	require.Zero(t, invites)
}
