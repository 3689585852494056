package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/events/wstest"
	"github.com/hivesync/hivesync/server/live"
	"github.com/hivesync/hivesync/store/dbgen"
)

func liveClient(b *testBundle, ed editor) hivesyncv1connect.LiveServiceClient {
	return hivesyncv1connect.NewLiveServiceClient(b.h1, b.baseURL, bearer(ed.token))
}

func TestLiveViewStreamsReadOnlyToInvitedViewers(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	creator := newEditorOn(t, b, "creator@live.test", "desktop")
	viewer := newEditorOn(t, b, "viewer@live.test", "mobile")
	stranger := newEditorOn(t, b, "stranger@live.test", "mobile")
	pid, fid, _ := wsProject(t, creator)

	inv, err := liveClient(b, creator).CreateLiveInvite(ctx, &hivesyncv1.CreateLiveInviteRequest{ProjectId: pid, FileId: fid})
	require.NoError(t, err)
	session := inv.GetSession()
	require.Equal(t, "live:"+session.GetId(), session.GetChannel())
	require.Contains(t, inv.GetQrPayload(), inv.GetToken())
	require.WithinDuration(t, time.Now().Add(time.Hour), inv.GetExpiresAt().AsTime(), time.Minute)
	again, err := liveClient(b, creator).CreateLiveInvite(ctx, &hivesyncv1.CreateLiveInviteRequest{ProjectId: pid})
	require.NoError(t, err)
	require.Equal(t, session.GetId(), again.GetSession().GetId(), "one running session per creator and project")
	_, err = liveClient(b, stranger).CreateLiveInvite(ctx, &hivesyncv1.CreateLiveInviteRequest{ProjectId: pid})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "only members stream a project")

	// The viewer joins over REST, as the spec writes it.
	req, err := http.NewRequest(http.MethodPost, b.baseURL+"/api/v1/live/"+inv.GetToken()+"/join", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+viewer.token)
	resp, err := b.h1.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var joined hivesyncv1.JoinLiveResponse
	require.NoError(t, protojson.Unmarshal(body, &joined))
	require.EqualValues(t, 1, joined.GetSession().GetViewers())
	_, err = liveClient(b, stranger).JoinLive(ctx, &hivesyncv1.JoinLiveRequest{Token: "nope"})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))

	channel := session.GetChannel()
	creatorWS, viewerWS, strangerWS := wstest.Dial(t, b.baseURL), wstest.Dial(t, b.baseURL), wstest.Dial(t, b.baseURL)
	creatorWS.Login(creator.token)
	viewerWS.Login(viewer.token)
	strangerWS.Login(stranger.token)
	viewerWS.Subscribe(wstest.At(channel, -1))
	strangerWS.Send(&hivesyncv1.Event{Id: "peek", Payload: &hivesyncv1.Event_Subscribe{Subscribe: &hivesyncv1.SubscribeEvent{Channels: []*hivesyncv1.ChannelPosition{wstest.At(channel, -1)}}}})
	require.Equal(t, "not_found", strangerWS.Next().GetError().GetCode(), "only joined viewers watch")

	creatorWS.Send(&hivesyncv1.Event{Id: "t1", Payload: &hivesyncv1.Event_LiveText{LiveText: &hivesyncv1.LiveTextEvent{SessionId: session.GetId(), Path: "a.txt", Text: "hello", Offset: -1}}})
	require.Equal(t, "t1", creatorWS.Next().GetAck().GetEventId())
	got := viewerWS.Next()
	require.Equal(t, "live.text", got.GetEventType())
	require.Equal(t, "hello", got.GetLiveText().GetText())

	viewerWS.Send(&hivesyncv1.Event{Id: "v1", Payload: &hivesyncv1.Event_LiveText{LiveText: &hivesyncv1.LiveTextEvent{SessionId: session.GetId(), Text: "hijack"}}})
	refused := viewerWS.Next()
	require.Equal(t, "failed_precondition", refused.GetError().GetCode(), "viewers are read-only")

	// Preview updates: at most one every 2 seconds.
	diff := func(id string) *hivesyncv1.Event {
		return &hivesyncv1.Event{Id: id, Payload: &hivesyncv1.Event_DiffUpdate{DiffUpdate: &hivesyncv1.DiffUpdateEvent{SessionId: session.GetId(), Path: "a.txt", UnifiedDiff: "@@ -1 +1 @@\n-a\n+b\n"}}}
	}
	creatorWS.Send(diff("d1"))
	require.Equal(t, "d1", creatorWS.Next().GetAck().GetEventId())
	creatorWS.Send(diff("d2"))
	throttled := creatorWS.Next()
	require.Equal(t, "failed_precondition", throttled.GetError().GetCode())
	require.Equal(t, "d2", throttled.GetError().GetEventId())
	require.Equal(t, "diff_update", viewerWS.Next().GetEventType())

	// The AI comment overlay (published by the server, never by clients)
	// reaches the viewers beside the text.
	lv := live.NewService(b.store, slog.New(slog.DiscardHandler), time.Now)
	sid := uuid.MustParse(session.GetId())
	require.NoError(t, lv.PublishOverlay(ctx, sid, 3, "This loop never ends when n is negative."))
	overlay := viewerWS.Next()
	require.Equal(t, "live.overlay", overlay.GetEventType())
	require.EqualValues(t, 3, overlay.GetLiveOverlay().GetLine())
	require.Equal(t, "This loop never ends when n is negative.", overlay.GetLiveOverlay().GetNote())
	require.Error(t, lv.PublishOverlay(ctx, sid, 3, ""))
	creatorWS.Send(&hivesyncv1.Event{Id: "o1", Payload: &hivesyncv1.Event_LiveOverlay{LiveOverlay: &hivesyncv1.LiveOverlayEvent{SessionId: session.GetId(), Note: "fake"}}})
	require.Equal(t, "error", creatorWS.Next().GetEventType(), "clients cannot send overlays")

	// A viewer cannot end it; the creator can, and viewers are told.
	_, err = liveClient(b, viewer).EndLive(ctx, &hivesyncv1.EndLiveRequest{SessionId: session.GetId()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = liveClient(b, creator).EndLive(ctx, &hivesyncv1.EndLiveRequest{SessionId: session.GetId()})
	require.NoError(t, err)
	ended := viewerWS.Next()
	require.Equal(t, "live.ended", ended.GetEventType())
	require.Equal(t, "creator_stopped", ended.GetLiveEnded().GetReason())
	require.Equal(t, "permission_denied", viewerWS.Next().GetError().GetCode(), "the channel closes")
	_, err = liveClient(b, viewer).JoinLive(ctx, &hivesyncv1.JoinLiveRequest{Token: inv.GetToken()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "an ended session takes no viewers")
	require.ErrorIs(t, lv.PublishOverlay(ctx, sid, 1, "late"), live.ErrSessionEnded)
}

func TestLiveInvitesBoundToAnAccountAndCapped(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_WS_PING_INTERVAL": "1s"})
	ctx := context.Background()
	creator := newEditorOn(t, b, "c@cap.test", "desktop")
	friend, other := newEditorOn(t, b, "friend@cap.test", "mobile"), newEditorOn(t, b, "other@cap.test", "mobile")
	pid, _, _ := wsProject(t, creator)

	_, err := liveClient(b, creator).CreateLiveInvite(ctx, &hivesyncv1.CreateLiveInviteRequest{ProjectId: pid, InviteeEmail: "nobody@cap.test"})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	inv, err := liveClient(b, creator).CreateLiveInvite(ctx, &hivesyncv1.CreateLiveInviteRequest{ProjectId: pid, InviteeEmail: "FRIEND@cap.test"})
	require.NoError(t, err)
	require.NotEmpty(t, inv.GetInviteeUserId())
	_, err = liveClient(b, other).JoinLive(ctx, &hivesyncv1.JoinLiveRequest{Token: inv.GetToken()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "a bound invite is for its addressee only")
	_, err = liveClient(b, friend).JoinLive(ctx, &hivesyncv1.JoinLiveRequest{Token: inv.GetToken()})
	require.NoError(t, err)
	notes, err := hivesyncv1connect.NewNotificationServiceClient(b.h1, b.baseURL, bearer(friend.token)).ListNotifications(ctx, &hivesyncv1.ListNotificationsRequest{})
	require.NoError(t, err)
	require.Len(t, notes.GetNotifications(), 1)
	require.Equal(t, inv.GetQrPayload(), notes.GetNotifications()[0].GetDeepLink())

	// Fill the session to its cap of 100 viewers.
	open, err := liveClient(b, creator).CreateLiveInvite(ctx, &hivesyncv1.CreateLiveInviteRequest{ProjectId: pid})
	require.NoError(t, err)
	sid := uuid.MustParse(open.GetSession().GetId())
	var filler uuid.UUID
	for i := range live.MaxViewers - 1 {
		u, err := b.store.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: fmt.Sprintf("v%d@cap.test", i)})
		require.NoError(t, err)
		_, err = b.store.LiveViewerInsert(ctx, dbgen.LiveViewerInsertParams{SessionID: sid, UserID: u.ID, Now: time.Now(), HeldSince: time.Now().Add(-live.SeatHold)})
		require.NoError(t, err)
		filler = u.ID
	}
	_, err = liveClient(b, other).JoinLive(ctx, &hivesyncv1.JoinLiveRequest{Token: open.GetToken()})
	require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(err))
	limit := typedDetail[*hivesyncv1.LimitExceeded](t, err)
	require.Equal(t, hivesyncv1.Limit_LIMIT_LIVE_VIEWERS, limit.GetLimit())
	_, err = liveClient(b, friend).JoinLive(ctx, &hivesyncv1.JoinLiveRequest{Token: inv.GetToken()})
	require.NoError(t, err, "a viewer already in rejoins")

	// A seat lapses 10 minutes after its viewer's last connection: the cap
	// frees up, and the viewer joins again with an invite.
	away := func(user uuid.UUID, d time.Duration) {
		_, err := b.store.Pool().Exec(ctx, "UPDATE live_viewers SET last_seen_at = now() - $3::interval WHERE session_id = $1 AND user_id = $2", sid, user, d.String())
		require.NoError(t, err)
	}
	seen := func(user uuid.UUID) time.Duration {
		var ago float64
		require.NoError(t, b.store.Pool().QueryRow(ctx, "SELECT extract(epoch FROM now() - last_seen_at) FROM live_viewers WHERE session_id = $1 AND user_id = $2", sid, user).Scan(&ago))
		return time.Duration(ago * float64(time.Second))
	}
	away(filler, live.SeatHold+time.Minute)
	_, err = liveClient(b, other).JoinLive(ctx, &hivesyncv1.JoinLiveRequest{Token: open.GetToken()})
	require.NoError(t, err, "the lapsed seat is free again")
	lapsed := wstest.Dial(t, b.baseURL)
	friendID := uuid.MustParse(lapsed.Login(friend.token).GetUserId())
	away(friendID, live.SeatHold+time.Minute)
	lapsed.Send(&hivesyncv1.Event{Id: "back", Payload: &hivesyncv1.Event_Subscribe{Subscribe: &hivesyncv1.SubscribeEvent{Channels: []*hivesyncv1.ChannelPosition{wstest.At(open.GetSession().GetChannel(), -1)}}}})
	refused := lapsed.Next()
	require.Equal(t, "not_found", refused.GetError().GetCode(), "%v", refused)
	_, err = liveClient(b, friend).JoinLive(ctx, &hivesyncv1.JoinLiveRequest{Token: inv.GetToken()})
	require.NoError(t, err, "the lapsed viewer joins again")

	// A connected viewer's seat is renewed at every ping, so it never lapses.
	viewerWS := wstest.Dial(t, b.baseURL)
	viewerWS.Login(friend.token)
	viewerWS.Subscribe(wstest.At(open.GetSession().GetChannel(), -1))
	away(friendID, live.SeatHold-time.Minute)
	require.Eventually(t, func() bool {
		// The test client reads (and so answers pings) only when asked to.
		viewerWS.Send(&hivesyncv1.Event{Payload: &hivesyncv1.Event_Heartbeat{Heartbeat: &hivesyncv1.HeartbeatEvent{}}})
		require.Equal(t, "heartbeat", viewerWS.Next().GetEventType())
		return seen(friendID) < time.Minute
	}, 10*time.Second, 200*time.Millisecond)

	// An hour without the creator ends it.
	later := live.NewService(b.store, slog.New(slog.DiscardHandler), func() time.Time { return time.Now().Add(live.IdleTimeout + time.Minute) })
	require.NoError(t, later.EndIdle(ctx))
	ended := viewerWS.Next()
	require.Equal(t, "idle_timeout", ended.GetLiveEnded().GetReason())
}

// A creator can invite an existing user by phone number: the number an
// identity provider verified at the user's sign-in (OIDC phone_number and
// phone_number_verified).
func TestLiveInviteByVerifiedPhoneNumber(t *testing.T) {
	t.Parallel()
	idp := newOIDCProvider(t)
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_OIDC_PROVIDERS": "apple=" + idp.srv.URL + "|dev.hivesync.ios"})
	ctx := context.Background()
	authc := hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL)
	signIn := func(claims map[string]any) *hivesyncv1.SignInWithIdTokenResponse {
		resp, err := authc.SignInWithIdToken(ctx, &hivesyncv1.SignInWithIdTokenRequest{Provider: "apple", IdToken: idp.idToken(t, idp.key, claims), Nonce: "n-0S6_WzA2Mj"})
		require.NoError(t, err)
		return resp
	}
	phoneOf := func(userID string) *string {
		var p *string
		require.NoError(t, b.store.Pool().QueryRow(ctx, "SELECT phone_e164 FROM users WHERE id = $1", userID).Scan(&p))
		return p
	}
	// An unverified number is not recorded; a verified one is, normalized.
	grace := signIn(map[string]any{"jti": "1", "phone_number": "+1 415 555 0100", "phone_number_verified": false})
	require.Nil(t, phoneOf(grace.GetUser().GetId()))
	grace = signIn(map[string]any{"jti": "2", "phone_number": "+1 415 555 0100", "phone_number_verified": true})
	require.Equal(t, "+14155550100", *phoneOf(grace.GetUser().GetId()))

	creator := newEditorOn(t, b, "creator@phone.test", "desktop")
	pid, _, _ := wsProject(t, creator)
	lc := liveClient(b, creator)
	inv, err := lc.CreateLiveInvite(ctx, &hivesyncv1.CreateLiveInviteRequest{ProjectId: pid, InviteePhone: "+1 (415) 555-0100"})
	require.NoError(t, err)
	require.Equal(t, grace.GetUser().GetId(), inv.GetInviteeUserId())

	for name, req := range map[string]*hivesyncv1.CreateLiveInviteRequest{
		"no country code": {ProjectId: pid, InviteePhone: "415 555 0100"},
		"letters":         {ProjectId: pid, InviteePhone: "+1 415 CALL NOW"},
		"email and phone": {ProjectId: pid, InviteePhone: "+14155550100", InviteeEmail: "grace@example.com"},
	} {
		_, err := lc.CreateLiveInvite(ctx, req)
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), name)
	}
	_, err = lc.CreateLiveInvite(ctx, &hivesyncv1.CreateLiveInviteRequest{ProjectId: pid, InviteePhone: "+1 415 555 0199"})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "no account has it")

	// A number verified later for another account moves to it.
	other := signIn(map[string]any{"jti": "3", "sub": "other-subject", "email": "other@example.com", "phone_number": "+14155550100", "phone_number_verified": true})
	require.Nil(t, phoneOf(grace.GetUser().GetId()))
	inv, err = lc.CreateLiveInvite(ctx, &hivesyncv1.CreateLiveInviteRequest{ProjectId: pid, InviteePhone: "+14155550100"})
	require.NoError(t, err)
	require.Equal(t, other.GetUser().GetId(), inv.GetInviteeUserId())
}
