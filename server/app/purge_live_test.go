package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/live"
)

// channelRows counts a channel's rows in the event log and its sequence row.
func channelRows(t *testing.T, b *testBundle, channel string) (events, sequences int) {
	t.Helper()
	require.NoError(t, b.store.Pool().QueryRow(context.Background(),
		"SELECT (SELECT count(*) FROM events WHERE channel = $1), (SELECT count(*) FROM event_channels WHERE channel = $1)", channel).
		Scan(&events, &sequences))
	return events, sequences
}

// A purge removes everything a user streamed in the project's Live View
// sessions, ended or running: their channels hold the file text.
func TestPurgeProjectDeletesItsLiveViewChannels(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	owner := newEditorOn(t, b, "owner@purgelive.test", "desktop")
	u, err := b.store.UserGetByEmail(ctx, "owner@purgelive.test")
	require.NoError(t, err)
	creator := &access.Principal{UserID: u.ID.String()}
	lv := live.NewService(b.store, slog.New(slog.DiscardHandler), time.Now)
	doomed, _, _ := wsProject(t, owner)
	kept, _, _ := wsProject(t, owner)

	// stream starts a session on the project and streams text to it.
	stream := func(projectID, text string) string {
		t.Helper()
		inv, err := liveClient(b, owner).CreateLiveInvite(ctx, &hivesyncv1.CreateLiveInviteRequest{ProjectId: projectID})
		require.NoError(t, err)
		sid := inv.GetSession().GetId()
		routed, err := lv.RouteClientEvent(ctx, creator, &hivesyncv1.Event{Payload: &hivesyncv1.Event_LiveText{LiveText: &hivesyncv1.LiveTextEvent{
			SessionId: sid, Path: "a.txt", Text: text, Offset: -1}}})
		require.True(t, routed)
		require.NoError(t, err)
		require.NoError(t, lv.PublishOverlay(ctx, uuid.MustParse(sid), 1, "a note on "+text))
		return inv.GetSession().GetChannel()
	}
	ended := stream(doomed, "secret one")
	_, err = liveClient(b, owner).EndLive(ctx, &hivesyncv1.EndLiveRequest{SessionId: ended[len(live.ChannelPrefix):]})
	require.NoError(t, err)
	running := stream(doomed, "secret two")
	require.NotEqual(t, ended, running)
	other := stream(kept, "kept text")
	for _, channel := range []string{ended, running, other} {
		n, seq := channelRows(t, b, channel)
		require.Positive(t, n, "the session streamed on %s", channel)
		require.Equal(t, 1, seq)
	}
	otherBefore, _ := channelRows(t, b, other)

	_, err = historyClient(b, owner).PurgeProject(ctx, &hivesyncv1.PurgeProjectRequest{ProjectId: doomed, ConfirmName: "Live"})
	require.NoError(t, err)

	for _, channel := range []string{ended, running} {
		n, seq := channelRows(t, b, channel)
		require.Zero(t, n, "no event of %s outlives the purge", channel)
		require.Zero(t, seq, "nor the channel's sequence row")
	}
	n, seq := channelRows(t, b, other)
	require.Equal(t, otherBefore, n, "another project's Live View keeps its events")
	require.Equal(t, 1, seq)
}
