package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/server/events/wstest"
	"github.com/hivesync/hivesync/server/notify"
	"github.com/hivesync/hivesync/store/dbgen"
)

// adminClient signs in an admin account.
func adminClient(t *testing.T, b *testBundle) hivesyncv1connect.AdminServiceClient {
	t.Helper()
	return hivesyncv1connect.NewAdminServiceClient(b.h1, b.baseURL, bearer(adminKey))
}

func TestAdminBroadcastReachesEverySocketAndIsAcknowledged(t *testing.T) {
	t.Parallel()
	logPath := filepath.Join(t.TempDir(), "logs", "admin-messages.log")
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_ADMIN_API_KEY": adminKey, "HIVESYNC_ADMIN_MESSAGE_LOG": logPath})
	ctx := context.Background()
	adm := adminClient(t, b)
	phone, laptop := newEditorOn(t, b, "a@broadcast.test", "mobile"), newEditorOn(t, b, "b@broadcast.test", "desktop")
	first, second := wstest.Dial(t, b.baseURL), wstest.Dial(t, b.baseURL)
	first.Login(phone.token)
	second.Login(laptop.token)

	_, err := adm.SendMessage(ctx, &hivesyncv1.SendMessageRequest{Title: "", Body: "x"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	sent, err := adm.SendMessage(ctx, &hivesyncv1.SendMessageRequest{Title: "Maintenance", Body: "Back in 5 minutes.",
		Level: hivesyncv1.AdminMessageLevel_ADMIN_MESSAGE_LEVEL_WARNING, RequiresAck: true})
	require.NoError(t, err)
	var seq int64
	for _, ws := range []*wstest.Client{first, second} {
		ev := ws.Next()
		seq = ev.GetSequence()
		require.Equal(t, "admin.message", ev.GetEventType())
		require.Equal(t, events.BroadcastChannel, ev.GetChannel())
		msg := ev.GetAdminMessage()
		require.Equal(t, sent.GetMessage().GetId(), msg.GetId())
		require.Equal(t, "Maintenance", msg.GetTitle())
		require.Equal(t, hivesyncv1.AdminMessageLevel_ADMIN_MESSAGE_LEVEL_WARNING, msg.GetLevel())
		require.True(t, msg.GetRequiresAck())
	}

	// The user dismisses the modal on one device: the ack is recorded once.
	for range 2 {
		first.Send(&hivesyncv1.Event{Id: "dismissed", Payload: &hivesyncv1.Event_Ack{Ack: &hivesyncv1.AckEvent{EventId: sent.GetMessage().GetId()}}})
		require.Equal(t, "dismissed", first.Next().GetAck().GetEventId())
	}
	list, err := adm.ListMessages(ctx, &hivesyncv1.ListMessagesRequest{})
	require.NoError(t, err)
	require.Len(t, list.GetMessages(), 1)
	require.EqualValues(t, 1, list.GetMessages()[0].GetAcknowledgements())

	// The broadcast is on record as JSON Lines.
	f, err := os.Open(logPath)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	require.True(t, sc.Scan())
	var line map[string]any
	require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
	require.Equal(t, sent.GetMessage().GetId(), line["id"])
	require.Equal(t, "warning", line["level"])
	require.Equal(t, true, line["requires_ack"])

	// A client that was offline resumes the broadcast channel and gets it.
	late := wstest.Dial(t, b.baseURL)
	late.Login(laptop.token)
	late.Subscribe(wstest.At(events.BroadcastChannel, seq-1))
	replayed := late.Next()
	require.Equal(t, "admin.message", replayed.GetEventType())
	require.Equal(t, seq, replayed.GetSequence())
}

func TestMigrationNoticeAndBootstrap(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_ADMIN_API_KEY": adminKey})
	ctx := context.Background()
	adm := adminClient(t, b)
	meta := hivesyncv1connect.NewMetaServiceClient(b.h1, b.baseURL)
	user := newEditorOn(t, b, "m@migrate.test", "desktop")
	ws := wstest.Dial(t, b.baseURL)
	ws.Login(user.token)
	before, err := meta.GetBootstrapConfig(ctx, &hivesyncv1.GetBootstrapConfigRequest{})
	require.NoError(t, err)
	require.Nil(t, before.GetConfig().GetMigration())

	for _, bad := range []string{"http://api2.example", "ftp://api2.example", "https://user:pw@api2.example", "api2.example", "https://api2.example/?x=1"} {
		_, err := adm.AnnounceMigration(ctx, &hivesyncv1.AnnounceMigrationRequest{NewUrl: bad})
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), bad)
	}
	later := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	resp, err := adm.AnnounceMigration(ctx, &hivesyncv1.AnnounceMigrationRequest{NewUrl: "https://api2.hivesync.test/", SwitchAfter: timestamppb.New(later)})
	require.NoError(t, err)
	require.Equal(t, "wss://api2.hivesync.test/api/v1/ws", resp.GetNotice().GetNewWsUrl())
	require.EqualValues(t, 3600, resp.GetNotice().GetGracePeriodSeconds())
	ev := ws.Next()
	require.Equal(t, "migration.notice", ev.GetEventType())
	require.Equal(t, "https://api2.hivesync.test", ev.GetMigrationNotice().GetNewUrl())
	require.True(t, later.Equal(ev.GetMigrationNotice().GetSwitchAfter().AsTime()))

	doc, err := meta.GetBootstrapConfig(ctx, &hivesyncv1.GetBootstrapConfigRequest{})
	require.NoError(t, err)
	require.Equal(t, resp.GetNotice().GetId(), doc.GetConfig().GetMigration().GetId())
	require.Equal(t, before.GetConfig().GetApiBase(), doc.GetConfig().GetApiBase(), "before switch_after the old URL stays current")
	require.Greater(t, doc.GetConfig().GetConfigVersion(), before.GetConfig().GetConfigVersion())

	require.EqualValues(t, 3, doc.GetConfig().GetMinClientVersion())

	// A migration may raise the oldest accepted client build, never lower it;
	// the bootstrap document carries it once the switch is due.
	_, err = adm.AnnounceMigration(ctx, &hivesyncv1.AnnounceMigrationRequest{NewUrl: "https://api3.hivesync.test", MinClientVersion: 2})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "below the current minimum (3)")
	_, err = adm.AnnounceMigration(ctx, &hivesyncv1.AnnounceMigrationRequest{NewUrl: "https://api3.hivesync.test", SwitchAfter: timestamppb.New(time.Now().Add(-time.Minute)), MinClientVersion: 7})
	require.NoError(t, err)
	ev = ws.Next()
	require.EqualValues(t, 7, ev.GetMigrationNotice().GetMinClientVersion())
	doc, err = meta.GetBootstrapConfig(ctx, &hivesyncv1.GetBootstrapConfigRequest{})
	require.NoError(t, err)
	require.EqualValues(t, 7, doc.GetConfig().GetMinClientVersion())
	require.Equal(t, "https://api3.hivesync.test", doc.GetConfig().GetApiBase())
	require.Equal(t, "wss://api3.hivesync.test/api/v1/ws", doc.GetConfig().GetWsBase())
	require.Equal(t, before.GetConfig().GetApiBase(), doc.GetConfig().GetFallbackApiBase(), "the old URL becomes the fallback")
}

func TestNotificationsAreDeliveredReplayedAndRead(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	ed := newEditorOn(t, b, "n@notify.test", "desktop")
	nc := hivesyncv1connect.NewNotificationServiceClient(b.h1, b.baseURL, bearer(ed.token))
	u, err := b.store.UserGetByEmail(ctx, "n@notify.test")
	require.NoError(t, err)
	send := func(title string) string {
		var id uuid.UUID
		require.NoError(t, b.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
			id, err = notify.Send(ctx, q, u.ID, notify.Notification{Title: title, Body: "body", DeepLink: "hivesync://projects"}, time.Now())
			return err
		}))
		return id.String()
	}

	ws := wstest.Dial(t, b.baseURL)
	ready := ws.Login(ed.token)
	ws.Subscribe(wstest.At(events.UserChannel(ready.GetUserId()), -1))
	first := send("Bee joined Team")
	ev := ws.Next()
	require.Equal(t, "notification", ev.GetEventType())
	require.Equal(t, first, ev.GetNotification().GetNotificationId())
	ws.Send(&hivesyncv1.Event{Id: "got-it", Payload: &hivesyncv1.Event_Ack{Ack: &hivesyncv1.AckEvent{EventId: first}}})
	require.Equal(t, "got-it", ws.Next().GetAck().GetEventId())
	last := ev.GetSequence()
	require.NoError(t, ws.Conn.Close(4000, ""))

	// Raised while the device was away: replayed when it resumes.
	second := send("Snapshot restored")
	ws = wstest.Dial(t, b.baseURL)
	ws.Login(ed.token)
	ws.Subscribe(wstest.At(events.UserChannel(ready.GetUserId()), last))
	require.Equal(t, second, ws.Next().GetNotification().GetNotificationId())

	list, err := nc.ListNotifications(ctx, &hivesyncv1.ListNotificationsRequest{})
	require.NoError(t, err)
	require.EqualValues(t, 2, list.GetUnread())
	require.Len(t, list.GetNotifications(), 2)
	require.Equal(t, second, list.GetNotifications()[0].GetId(), "newest first")
	require.Nil(t, list.GetNotifications()[0].GetDeliveredAt())
	require.NotNil(t, list.GetNotifications()[1].GetDeliveredAt(), "the acknowledged one is delivered")

	_, err = nc.MarkNotificationsRead(ctx, &hivesyncv1.MarkNotificationsReadRequest{})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	marked, err := nc.MarkNotificationsRead(ctx, &hivesyncv1.MarkNotificationsReadRequest{Ids: []string{first}})
	require.NoError(t, err)
	require.EqualValues(t, 1, marked.GetMarked())
	unread, err := nc.ListNotifications(ctx, &hivesyncv1.ListNotificationsRequest{UnreadOnly: true})
	require.NoError(t, err)
	require.EqualValues(t, 1, unread.GetUnread())
	require.Len(t, unread.GetNotifications(), 1)
	marked, err = nc.MarkNotificationsRead(ctx, &hivesyncv1.MarkNotificationsReadRequest{All: true})
	require.NoError(t, err)
	require.EqualValues(t, 1, marked.GetMarked())

	// Someone else's notifications cannot be marked.
	other := newEditorOn(t, b, "o@notify.test", "desktop")
	third := send("Private")
	marked, err = hivesyncv1connect.NewNotificationServiceClient(b.h1, b.baseURL, bearer(other.token)).
		MarkNotificationsRead(ctx, &hivesyncv1.MarkNotificationsReadRequest{Ids: []string{third}})
	require.NoError(t, err)
	require.Zero(t, marked.GetMarked())
}
