package files_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/files"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/storetest"
)

// inviteBundle is a project's owner and a user to invite, served by a
// files.Service on a test clock.
type inviteBundle struct {
	svc        *files.Service
	clock      *testClock
	owner, bee context.Context
	projectID  string
}

func setupInvites(t *testing.T) *inviteBundle {
	t.Helper()
	st := storetest.Store(t)
	clock := &testClock{now: time.Date(2031, 3, 4, 10, 0, 0, 0, time.UTC)}
	as := func(email string) context.Context {
		u, err := st.UserUpsertByEmail(context.Background(), dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: email})
		require.NoError(t, err)
		return access.WithPrincipal(context.Background(), &access.Principal{UserID: u.ID.String()})
	}
	b := &inviteBundle{svc: files.NewService(st, files.Limits{MaxFileBytes: 1 << 20, MaxProjectBytes: 1 << 30}, slog.New(slog.DiscardHandler), clock.Now),
		clock: clock, owner: as("owner@invites.test"), bee: as("bee@invites.test")}
	p, err := b.svc.CreateProject(b.owner, &hivesyncv1.CreateProjectRequest{Name: "Invites"})
	require.NoError(t, err)
	b.projectID = p.GetProject().GetId()
	return b
}

// members lists the project's members as its owner sees them.
func (b *inviteBundle) members(t *testing.T) []*hivesyncv1.Member {
	t.Helper()
	resp, err := b.svc.ListMembers(b.owner, &hivesyncv1.ListMembersRequest{ProjectId: b.projectID})
	require.NoError(t, err)
	return resp.GetMembers()
}

// invite creates an editor invite valid for ttlHours (0: the default).
func (b *inviteBundle) invite(t *testing.T, ttlHours int32) *hivesyncv1.CreateInviteResponse {
	t.Helper()
	inv, err := b.svc.CreateInvite(b.owner, &hivesyncv1.CreateInviteRequest{ProjectId: b.projectID, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR, TtlHours: ttlHours})
	require.NoError(t, err)
	return inv
}

func TestProjectInviteExpiry(t *testing.T) {
	t.Parallel()

	t.Run("expired_invite_is_refused_and_adds_no_member", func(t *testing.T) {
		t.Parallel()
		b := setupInvites(t)
		inv := b.invite(t, 1)
		require.Equal(t, b.clock.Now().Add(time.Hour), inv.GetExpiresAt().AsTime())

		b.clock.Advance(time.Hour) // expires_at is not after now: expired
		_, err := b.svc.AcceptInvite(b.bee, &hivesyncv1.AcceptInviteRequest{Token: inv.GetToken()})
		require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "an expired invite is refused like an unknown one: %v", err)
		require.Len(t, b.members(t), 1, "only the owner")
		_, err = b.svc.GetProject(b.bee, &hivesyncv1.GetProjectRequest{ProjectId: b.projectID})
		require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "the invitee did not join")
	})

	t.Run("invite_accepted_before_it_expires_adds_the_member", func(t *testing.T) {
		t.Parallel()
		b := setupInvites(t)
		inv := b.invite(t, 1)
		b.clock.Advance(time.Hour - time.Second)
		joined, err := b.svc.AcceptInvite(b.bee, &hivesyncv1.AcceptInviteRequest{Token: inv.GetToken()})
		require.NoError(t, err)
		require.Equal(t, b.projectID, joined.GetProject().GetId())
		require.Len(t, b.members(t), 2)
	})

	t.Run("ttl_hours_defaults_to_72_and_must_be_1_to_168", func(t *testing.T) {
		t.Parallel()
		b := setupInvites(t)
		require.Equal(t, b.clock.Now().Add(72*time.Hour), b.invite(t, 0).GetExpiresAt().AsTime())
		require.Equal(t, b.clock.Now().Add(time.Hour), b.invite(t, 1).GetExpiresAt().AsTime())
		require.Equal(t, b.clock.Now().Add(168*time.Hour), b.invite(t, 168).GetExpiresAt().AsTime())
		for _, ttl := range []int32{-1, 169, 10000} {
			_, err := b.svc.CreateInvite(b.owner, &hivesyncv1.CreateInviteRequest{ProjectId: b.projectID, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR, TtlHours: ttl})
			require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "ttl_hours %d", ttl)
			require.Contains(t, err.Error(), "ttl_hours", "the message names the field")
		}
	})
}
