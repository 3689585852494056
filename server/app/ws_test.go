package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/server/events/wstest"
	"github.com/hivesync/hivesync/server/history"
	"github.com/hivesync/hivesync/server/ratelimit/redistest"
	"github.com/hivesync/hivesync/store/dbgen"
)

// wsProject makes a project with one file for an editor.
func wsProject(t *testing.T, ed editor) (pid, fid, head string) {
	t.Helper()
	ctx := context.Background()
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Live"})
	require.NoError(t, err)
	f, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: proj.GetProject().GetId(), Path: "a.txt", Content: "0\n"})
	require.NoError(t, err)
	return proj.GetProject().GetId(), f.GetFile().GetId(), f.GetFile().GetHead().GetId()
}

// saveN saves n new versions and returns the last head.
func saveN(t *testing.T, ed editor, fid, head string, n int) string {
	t.Helper()
	for i := range n {
		r, err := ed.files.SaveFile(context.Background(), &hivesyncv1.SaveFileRequest{FileId: fid, BaseRevisionId: head, Content: fmt.Sprintf("%d %d\n", time.Now().UnixNano(), i)})
		require.NoError(t, err)
		head = r.GetVersion().GetId()
	}
	return head
}

func TestWebSocketDeliversAndResumesWithoutLoss(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ed := newEditorOn(t, b, "live@ws.test", "desktop")
	pid, fid, head := wsProject(t, ed)
	channel := events.ProjectChannel(pid)

	ws := wstest.Dial(t, b.baseURL)
	ready := ws.Login(ed.token)
	require.NotEmpty(t, ready.GetUserId())
	require.EqualValues(t, 30, ready.GetHeartbeatIntervalSeconds())
	ws.Subscribe(wstest.At(channel, -1))
	head = saveN(t, ed, fid, head, 1)
	got := ws.Next()
	require.Equal(t, "save_file", got.GetEventType())
	require.Equal(t, channel, got.GetChannel())
	require.Equal(t, fid, got.GetSaveFile().GetFileId())
	last := got.GetSequence()

	// The device drops off; three saves happen; it resumes from the last
	// sequence it saw and gets exactly those, in order, then live ones.
	require.NoError(t, ws.Conn.Close(websocket.StatusNormalClosure, ""))
	head = saveN(t, ed, fid, head, 3)
	ws = wstest.Dial(t, b.baseURL)
	ws.Login(ed.token)
	ws.Subscribe(wstest.At(channel, last))
	for i := range 3 {
		ev := ws.Next()
		require.Equal(t, "save_file", ev.GetEventType())
		require.Equal(t, last+int64(i)+1, ev.GetSequence())
	}
	saveN(t, ed, fid, head, 1)
	ev := ws.Next()
	require.Equal(t, last+4, ev.GetSequence())

	// The node reports its open sockets (the closed one goes once its
	// close handshake ends).
	require.Eventually(t, func() bool {
		metrics, err := b.h1.Get(b.baseURL + "/metrics")
		if err != nil {
			return false
		}
		defer func() { _ = metrics.Body.Close() }()
		text, err := io.ReadAll(metrics.Body)
		return err == nil && strings.Contains(string(text), "hivesync_ws_connections 1\n")
	}, 10*time.Second, 20*time.Millisecond)

	// Heartbeats are answered; frames from the server direction are refused.
	ws.Send(&hivesyncv1.Event{Payload: &hivesyncv1.Event_Heartbeat{Heartbeat: &hivesyncv1.HeartbeatEvent{}}})
	require.Equal(t, "heartbeat", ws.Next().GetEventType())
	ws.Send(&hivesyncv1.Event{Id: "x1", Payload: &hivesyncv1.Event_SaveFile{SaveFile: &hivesyncv1.SaveFileEvent{}}})
	bad := ws.Next()
	require.Equal(t, "error", bad.GetEventType())
	require.Equal(t, "invalid_argument", bad.GetError().GetCode())
	require.Equal(t, "x1", bad.GetError().GetEventId())
}

func TestWebSocketAckPositionsLeaveNoGap(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ed := newEditorOn(t, b, "gapless@ws.test", "desktop")
	pid, fid, head := wsProject(t, ed)
	channel := events.ProjectChannel(pid)

	// A new device joins "from now on" and learns where that is; it drops
	// off before any event reaches it and resumes from that position.
	ws := wstest.Dial(t, b.baseURL)
	ws.Login(ed.token)
	pos := ws.Subscribe(wstest.At(channel, -1))[channel]
	require.EqualValues(t, 2, pos, "joined and created came before")
	require.NoError(t, ws.Conn.Close(websocket.StatusNormalClosure, ""))
	saveN(t, ed, fid, head, 1)
	ws = wstest.Dial(t, b.baseURL)
	ws.Login(ed.token)
	require.Equal(t, pos, ws.Subscribe(wstest.At(channel, pos))[channel])
	require.Equal(t, pos+1, ws.Next().GetSequence())

	// 0 means "everything since the channel began".
	ws = wstest.Dial(t, b.baseURL)
	ws.Login(ed.token)
	ws.Subscribe(wstest.At(channel, 0))
	for seq := int64(1); seq <= pos+1; seq++ {
		require.Equal(t, seq, ws.Next().GetSequence())
	}
}

func TestWebSocketBinarySubprotocol(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ed := newEditorOn(t, b, "bin@ws.test", "desktop")
	ws := wstest.Dial(t, b.baseURL, events.SubprotocolBinary)
	require.Equal(t, events.SubprotocolBinary, ws.Conn.Subprotocol())
	frame, err := proto.Marshal(&hivesyncv1.Event{Payload: &hivesyncv1.Event_Auth{Auth: &hivesyncv1.AuthEvent{Token: ed.token}}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, ws.Conn.Write(ctx, websocket.MessageBinary, frame))
	typ, data, err := ws.Conn.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageBinary, typ)
	ev := &hivesyncv1.Event{}
	require.NoError(t, proto.Unmarshal(data, ev))
	require.Equal(t, "ready", ev.GetEventType())
}

func TestWebSocketRefusesUnauthenticatedSockets(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_WS_AUTH_TIMEOUT": "300ms"})
	unauthenticated := websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_UNAUTHENTICATED)

	t.Run("silent_socket_closed_at_the_deadline", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, unauthenticated, wstest.Dial(t, b.baseURL).Closed())
	})
	t.Run("bad_token", func(t *testing.T) {
		t.Parallel()
		ws := wstest.Dial(t, b.baseURL)
		ws.Send(&hivesyncv1.Event{Payload: &hivesyncv1.Event_Auth{Auth: &hivesyncv1.AuthEvent{Token: "garbage"}}})
		ev := ws.Next()
		require.Equal(t, "unauthenticated", ev.GetError().GetCode())
		require.Equal(t, unauthenticated, ws.Closed())
	})
	t.Run("first_frame_not_auth", func(t *testing.T) {
		t.Parallel()
		ws := wstest.Dial(t, b.baseURL)
		ws.Send(&hivesyncv1.Event{Payload: &hivesyncv1.Event_Heartbeat{Heartbeat: &hivesyncv1.HeartbeatEvent{}}})
		require.Equal(t, unauthenticated, ws.Closed())
	})
	t.Run("foreign_browser_origin", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, strings.Replace(b.baseURL, "http://", "ws://", 1)+"/api/v1/ws",
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": []string{"https://evil.example"}}})
		require.Error(t, err)
		defer func() { _ = resp.Body.Close() }()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})
}

func TestWebSocketAuthorizesChannelsLikeTheRPCs(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	alice, bob := newEditorOn(t, b, "alice@ws.test", "desktop"), newEditorOn(t, b, "bob@ws.test", "desktop")
	bobProject, _, _ := wsProject(t, bob)
	ws := wstest.Dial(t, b.baseURL)
	me := ws.Login(alice.token)
	bobReady := wstest.Dial(t, b.baseURL).Login(bob.token)

	for _, channel := range []string{events.ProjectChannel(bobProject), events.UserChannel(bobReady.GetUserId()), "project_sync:not-a-uuid"} {
		ws.Send(&hivesyncv1.Event{Id: channel, Payload: &hivesyncv1.Event_Subscribe{Subscribe: &hivesyncv1.SubscribeEvent{Channels: []*hivesyncv1.ChannelPosition{wstest.At(channel, -1)}}}})
		ev := ws.Next()
		require.Equal(t, "not_found", ev.GetError().GetCode(), channel)
		require.Equal(t, channel, ev.GetError().GetEventId())
	}
	ws.Send(&hivesyncv1.Event{Id: "odd", Payload: &hivesyncv1.Event_Subscribe{Subscribe: &hivesyncv1.SubscribeEvent{Channels: []*hivesyncv1.ChannelPosition{wstest.At("weather", 0)}}}})
	require.Equal(t, "invalid_argument", ws.Next().GetError().GetCode())
	ws.Subscribe(wstest.At(events.UserChannel(me.GetUserId()), -1))
}

func TestWebSocketRehydratesWhenTheGapIsTooOldOrTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_WS_REPLAY_WINDOW": "5"})
	ed := newEditorOn(t, b, "gap@ws.test", "desktop")
	pid, fid, head := wsProject(t, ed)
	channel := events.ProjectChannel(pid)
	ws := wstest.Dial(t, b.baseURL)
	ws.Login(ed.token)
	ws.Subscribe(wstest.At(channel, -1))
	head = saveN(t, ed, fid, head, 1)
	last := ws.Next().GetSequence()
	require.NoError(t, ws.Conn.Close(websocket.StatusNormalClosure, ""))

	t.Run("larger_than_the_window", func(t *testing.T) {
		head = saveN(t, ed, fid, head, 7)
		ws := wstest.Dial(t, b.baseURL)
		ws.Login(ed.token)
		ws.Subscribe(wstest.At(channel, last))
		ev := ws.Next()
		require.Equal(t, "rehydrate", ev.GetEventType())
		require.Equal(t, channel, ev.GetRehydrate().GetChannel())
		require.Equal(t, last+7, ev.GetRehydrate().GetResumeSequence())
		head = saveN(t, ed, fid, head, 1)
		require.Equal(t, last+8, ws.Next().GetSequence(), "live events follow the rehydrate")
		last += 8
	})
	t.Run("pruned_from_the_log", func(t *testing.T) {
		head = saveN(t, ed, fid, head, 2)
		_, err := history.Prune(context.Background(), b.store, time.Now().Add(time.Hour), time.Hour)
		require.NoError(t, err)
		ws := wstest.Dial(t, b.baseURL)
		ws.Login(ed.token)
		ws.Subscribe(wstest.At(channel, last))
		ev := ws.Next()
		require.Equal(t, "rehydrate", ev.GetEventType())
		require.Equal(t, last+2, ev.GetRehydrate().GetResumeSequence())
	})
	t.Run("a_sequence_from_the_future", func(t *testing.T) {
		ws := wstest.Dial(t, b.baseURL)
		ws.Login(ed.token)
		ws.Subscribe(wstest.At(channel, 1_000_000))
		require.Equal(t, "rehydrate", ws.Next().GetEventType())
	})
}

func TestWebSocketRevocationClosesAccess(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_WS_PING_INTERVAL": "200ms"})
	owner, bee := newEditorOn(t, b, "owner@revoke.test", "desktop"), newEditorOn(t, b, "bee@revoke.test", "desktop")
	ctx := context.Background()
	pid, fid, head := wsProject(t, owner)
	inv, err := owner.projects.CreateInvite(ctx, &hivesyncv1.CreateInviteRequest{ProjectId: pid, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR})
	require.NoError(t, err)
	_, err = bee.projects.AcceptInvite(ctx, &hivesyncv1.AcceptInviteRequest{Token: inv.GetToken()})
	require.NoError(t, err)

	ws := wstest.Dial(t, b.baseURL)
	me := ws.Login(bee.token)
	ws.Subscribe(wstest.At(events.ProjectChannel(pid), -1))

	t.Run("a_removed_member_stops_receiving_the_project", func(t *testing.T) {
		_, err := owner.projects.RemoveMember(ctx, &hivesyncv1.RemoveMemberRequest{ProjectId: pid, UserId: me.GetUserId()})
		require.NoError(t, err)
		ev := ws.Next()
		require.Equal(t, "member.changed", ev.GetEventType(), "the removal itself is delivered")
		ev = ws.Next()
		require.Equal(t, "permission_denied", ev.GetError().GetCode())
		require.Contains(t, ev.GetError().GetMessage(), "no longer a member")
		saveN(t, owner, fid, head, 1)
		ws.Send(&hivesyncv1.Event{Payload: &hivesyncv1.Event_Heartbeat{Heartbeat: &hivesyncv1.HeartbeatEvent{}}})
		require.Equal(t, "heartbeat", ws.Next().GetEventType(), "no project event arrives any more")
	})
	t.Run("a_revoked_session_is_closed_within_a_heartbeat", func(t *testing.T) {
		authc := hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(bee.token))
		_, err := authc.RevokeSession(ctx, &hivesyncv1.RevokeSessionRequest{SessionId: me.GetSessionId()})
		require.NoError(t, err)
		require.Equal(t, websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_REVOKED), ws.Closed())
	})
}

func TestWebSocketCutsOffSlowConsumersAndAbuse(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_WS_SEND_QUEUE": "8", "HIVESYNC_WS_MESSAGE_RATE": "5/s", "HIVESYNC_WS_MAX_FRAME_BYTES": "2048"})
	ed := newEditorOn(t, b, "slow@ws.test", "desktop")
	pid, _, _ := wsProject(t, ed)

	t.Run("slow_consumer", func(t *testing.T) {
		ws := wstest.Dial(t, b.baseURL)
		ws.Login(ed.token)
		ws.Subscribe(wstest.At(events.ProjectChannel(pid), -1))
		// The client stops reading while 20,000 events arrive: the server's
		// queue stays at 8 frames and the socket is closed with a reason.
		appendSaves(t, b, pid, 20000, strings.Repeat("p", 200))
		time.Sleep(300 * time.Millisecond)
		require.Equal(t, websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_SLOW_CONSUMER), ws.Closed())
	})
	t.Run("oversize_frame", func(t *testing.T) {
		ws := wstest.Dial(t, b.baseURL)
		ws.Login(ed.token)
		ws.Send(&hivesyncv1.Event{Id: strings.Repeat("x", 4096), Payload: &hivesyncv1.Event_Heartbeat{Heartbeat: &hivesyncv1.HeartbeatEvent{}}})
		require.Equal(t, websocket.StatusMessageTooBig, ws.Closed())
	})
	t.Run("flood_and_garbage", func(t *testing.T) {
		ws := wstest.Dial(t, b.baseURL)
		ws.Login(ed.token)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, ws.Conn.Write(ctx, websocket.MessageText, []byte("{not json")))
		require.Equal(t, "invalid_argument", ws.Next().GetError().GetCode())
		for range 40 {
			if err := ws.Conn.Write(ctx, websocket.MessageText, []byte(`{"heartbeat":{}}`)); err != nil {
				break
			}
		}
		require.Equal(t, websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_BAD_FRAMES), ws.Closed())
	})
}

// peer runs a second node on the same database as b.
func peer(t *testing.T, b *testBundle, vars ...string) string {
	t.Helper()
	all := map[string]string{"HIVESYNC_DATABASE_URL": "postgres://unused", "HIVESYNC_HTTP_ADDR": "127.0.0.1:0",
		"HIVESYNC_NODE_ID": "peer-" + strings.ReplaceAll(t.Name(), "/", "-")}
	for i := 0; i+1 < len(vars); i += 2 {
		all[vars[i]] = vars[i+1]
	}
	cfg, err := app.LoadConfig(app.ModeServe, env(all))
	require.NoError(t, err)
	a, err := app.New(app.Options{Mode: app.ModeServe, Config: cfg, Pool: b.store.Pool(), Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return "http://" + ln.Addr().String()
}

// Events reach clients on every node, over Postgres NOTIFY by default and
// over Redis Pub/Sub when HIVESYNC_REDIS_URL is set. (Two separate
// hivesyncd processes, one of them killed mid-broadcast, are tested in
// cmd/hivesyncd.)
func TestWebSocketEventsCrossNodes(t *testing.T) {
	t.Parallel()
	for _, bus := range []string{"postgres", "redis"} {
		t.Run(bus, func(t *testing.T) {
			t.Parallel()
			var vars []string
			if bus == "redis" {
				// A resync slower than the test: delivery must come from Redis.
				vars = []string{"HIVESYNC_REDIS_URL", redistest.Start(t), "HIVESYNC_WS_RESYNC_INTERVAL", "1h"}
			} else {
				vars = []string{"HIVESYNC_WS_RESYNC_INTERVAL", "1h"}
			}
			own := map[string]string{}
			for i := 0; i+1 < len(vars); i += 2 {
				own[vars[i]] = vars[i+1]
			}
			b := setup(t, app.ModeServe, own)
			other := peer(t, b, vars...)
			ed := newEditorOn(t, b, "nodes@ws.test", "desktop")
			pid, fid, head := wsProject(t, ed)
			channel := events.ProjectChannel(pid)

			// A client on the other node hears saves made through this node.
			ws := wstest.Dial(t, other)
			ws.Login(ed.token)
			ws.Subscribe(wstest.At(channel, -1))
			head = saveN(t, ed, fid, head, 2)
			first, second := ws.Next(), ws.Next()
			require.Equal(t, first.GetSequence()+1, second.GetSequence())

			// The client leaves mid-stream, reconnects to this node and
			// resumes with nothing lost.
			require.NoError(t, ws.Conn.Close(websocket.StatusNormalClosure, ""))
			head = saveN(t, ed, fid, head, 2)
			ws = wstest.Dial(t, b.baseURL)
			ws.Login(ed.token)
			ws.Subscribe(wstest.At(channel, second.GetSequence()))
			require.Equal(t, second.GetSequence()+1, ws.Next().GetSequence())
			require.Equal(t, second.GetSequence()+2, ws.Next().GetSequence())

			// Later saves reach both nodes live.
			ws2 := wstest.Dial(t, other)
			ws2.Login(ed.token)
			ws2.Subscribe(wstest.At(channel, -1))
			saveN(t, ed, fid, head, 1)
			require.Equal(t, second.GetSequence()+3, ws.Next().GetSequence())
			require.Equal(t, second.GetSequence()+3, ws2.Next().GetSequence())
		})
	}
}

func TestHealthWSEchoes(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	resp, err := b.h1.Get(b.baseURL + "/health/ws")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		Status string `json:"status"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "ok", body.Status)

	// A monitor can do the same through its own socket.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, r, err := websocket.Dial(ctx, strings.Replace(b.baseURL, "http://", "ws://", 1)+"/health/ws", nil)
	require.NoError(t, err)
	if r.Body != nil {
		_ = r.Body.Close()
	}
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("ping?")))
	_, got, err := c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "ping?", string(got))
	_, _, err = c.Read(ctx)
	require.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err))
	require.False(t, errors.Is(err, context.DeadlineExceeded))
}

// An event whose announcement never went out (its node died between the
// commit and the announcement) is still delivered: hubs resync channel heads
// with the log.
func TestWebSocketDeliversUnannouncedEventsOnResync(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_WS_RESYNC_INTERVAL": "200ms"})
	ed := newEditorOn(t, b, "resync@ws.test", "desktop")
	pid, _, _ := wsProject(t, ed)
	channel := events.ProjectChannel(pid)
	ws := wstest.Dial(t, b.baseURL)
	ws.Login(ed.token)
	ws.Subscribe(wstest.At(channel, -1))

	enc, err := events.Encode(channel, &hivesyncv1.Event{Payload: &hivesyncv1.Event_SnapshotCreated{SnapshotCreated: &hivesyncv1.SnapshotEvent{ProjectId: pid, SnapshotId: "s", Label: "unannounced"}}}, time.Now())
	require.NoError(t, err)
	// Straight to the log, past the store's announcing wrappers.
	seq, err := dbgen.New(b.store.Pool()).EventAppend(context.Background(), dbgen.EventAppendParams{Channel: enc.Channel, EventType: enc.EventType, Payload: enc.Payload})
	require.NoError(t, err)
	got := ws.Next()
	require.Equal(t, seq, got.GetSequence())
	require.Equal(t, "unannounced", got.GetSnapshotCreated().GetLabel())
}

// Clients older than the server accepts are told to update, with the
// UpgradeRequired detail, and the socket closes with 4026 (not a status a
// client reconnects after). The test server accepts plugin protocol 2 and
// client build 3 and up.
func TestWebSocketRefusesOutdatedClients(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ed := newEditorOn(t, b, "old@ws.test", "desktop")
	upgrade := websocket.StatusCode(hivesyncv1.WsCloseCode_WS_CLOSE_CODE_UPGRADE_REQUIRED)

	// The plugin protocol header of the upgrade request.
	ws := wstest.DialHeader(t, b.baseURL, http.Header{"X-Hivesync-Plugin-Version": {"1"}})
	ev := ws.Next()
	require.Equal(t, "failed_precondition", ev.GetError().GetCode(), "%v", ev)
	require.Equal(t, hivesyncv1.UpgradeRequired_REASON_PLUGIN_PROTOCOL_TOO_OLD, ev.GetError().GetUpgradeRequired().GetReason())
	require.EqualValues(t, 2, ev.GetError().GetUpgradeRequired().GetMinSupportedVersion())
	require.Equal(t, "https://hivesync.test/download", ev.GetError().GetUpgradeRequired().GetUpgradeUrl())
	require.Equal(t, upgrade, ws.Closed())

	register := func(ws *wstest.Client, d *hivesyncv1.DeviceRegisterEvent) *hivesyncv1.Event {
		ws.Send(&hivesyncv1.Event{Id: "reg", Payload: &hivesyncv1.Event_DeviceRegister{DeviceRegister: d}})
		return ws.Next()
	}
	for name, tc := range map[string]struct {
		d      *hivesyncv1.DeviceRegisterEvent
		reason hivesyncv1.UpgradeRequired_Reason
	}{
		"client_build": {&hivesyncv1.DeviceRegisterEvent{DeviceId: uuid.NewString(), ClientBuild: 2}, hivesyncv1.UpgradeRequired_REASON_CLIENT_TOO_OLD},
		"plugin":       {&hivesyncv1.DeviceRegisterEvent{DeviceId: uuid.NewString(), ClientBuild: 9, PluginProtocolVersion: 1}, hivesyncv1.UpgradeRequired_REASON_PLUGIN_PROTOCOL_TOO_OLD},
	} {
		ws := wstest.Dial(t, b.baseURL)
		ws.Login(ed.token)
		ev := register(ws, tc.d)
		require.Equal(t, "reg", ev.GetError().GetEventId(), name)
		require.Equal(t, tc.reason, ev.GetError().GetUpgradeRequired().GetReason(), name)
		require.Equal(t, upgrade, ws.Closed(), name)
	}

	// Current versions pass the check (this device is simply not the
	// caller's) and the socket stays open.
	ws = wstest.DialHeader(t, b.baseURL, http.Header{"X-Hivesync-Plugin-Version": {"3"}})
	ws.Login(ed.token)
	ev = register(ws, &hivesyncv1.DeviceRegisterEvent{DeviceId: uuid.NewString(), ClientBuild: 3, PluginProtocolVersion: 2})
	require.Equal(t, "not_found", ev.GetError().GetCode(), "%v", ev)
	ws.Send(&hivesyncv1.Event{Payload: &hivesyncv1.Event_Heartbeat{Heartbeat: &hivesyncv1.HeartbeatEvent{}}})
	require.Equal(t, "heartbeat", ws.Next().GetEventType())
}

// logReads is the node's hivesync_events_log_reads_total.
func logReads(t *testing.T, b *testBundle) int64 {
	t.Helper()
	return metric(t, b.h1, b.baseURL, "hivesync_events_log_reads_total")
}

// metric is the value of an unlabelled counter or gauge in the /metrics of
// the node at baseURL.
func metric(t *testing.T, client *http.Client, baseURL, name string) int64 {
	t.Helper()
	resp, err := client.Get(baseURL + "/metrics")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	text, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var n float64
			_, err := fmt.Sscan(v, &n)
			require.NoError(t, err)
			return int64(n)
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// Clients resuming on a channel the node follows are served its latest
// events from memory: a reconnect storm costs no read per client. Older
// gaps are read once and kept for the next resumer.
func TestWebSocketResumesRecentEventsFromMemory(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_WS_RESYNC_INTERVAL": "1h"})
	ed := newEditorOn(t, b, "ring@ws.test", "desktop")
	pid, fid, head := wsProject(t, ed)
	channel := events.ProjectChannel(pid)
	before := saveN(t, ed, fid, head, 3) // older events, before anyone follows the channel

	live := wstest.Dial(t, b.baseURL)
	live.Login(ed.token)
	start := live.Subscribe(wstest.At(channel, -1))[channel]
	saveN(t, ed, fid, before, 5)
	for i := range 5 {
		require.Equal(t, start+int64(i)+1, live.Next().GetSequence())
	}

	// Settle: a late announcement of the saves above wakes a read that
	// finds nothing new.
	reads := logReads(t, b)
	for {
		time.Sleep(300 * time.Millisecond)
		now := logReads(t, b)
		if now == reads {
			break
		}
		reads = now
	}
	for range 20 {
		ws := wstest.Dial(t, b.baseURL)
		ws.Login(ed.token)
		ws.Subscribe(wstest.At(channel, start+1))
		for i := range 4 {
			require.Equal(t, start+int64(i)+2, ws.Next().GetSequence())
		}
		require.NoError(t, ws.Conn.Close(websocket.StatusNormalClosure, ""))
	}
	require.Equal(t, reads, logReads(t, b), "20 resumes within the node's recent events read nothing")

	// Resuming from the channel's beginning reads the older events once;
	// they are kept, so the next such resume reads nothing.
	for range 3 {
		ws := wstest.Dial(t, b.baseURL)
		ws.Login(ed.token)
		ws.Subscribe(wstest.At(channel, 0))
		for i := range start + 5 {
			require.Equal(t, i+1, ws.Next().GetSequence())
		}
		require.NoError(t, ws.Conn.Close(websocket.StatusNormalClosure, ""))
	}
	require.Equal(t, reads+1, logReads(t, b), "one read for the three resumes from the beginning")
}

// When Redis, the bus, goes away, saves still work (the shared rate
// limiter fails open) and their events still reach the other node's
// clients: the hubs' resync of channel heads delivers them.
func TestWebSocketEventsSurviveARedisOutage(t *testing.T) {
	t.Parallel()
	redis := redistest.StartServer(t)
	vars := []string{"HIVESYNC_REDIS_URL", redis.URL, "HIVESYNC_WS_RESYNC_INTERVAL", "300ms"}
	b := setup(t, app.ModeServe, map[string]string{vars[0]: vars[1], vars[2]: vars[3]})
	other := peer(t, b, vars...)
	ed := newEditorOn(t, b, "outage@ws.test", "desktop")
	pid, fid, head := wsProject(t, ed)
	channel := events.ProjectChannel(pid)
	ws := wstest.Dial(t, other)
	ws.Login(ed.token)
	ws.Subscribe(wstest.At(channel, -1))
	head = saveN(t, ed, fid, head, 1)
	first := ws.Next()

	redis.Stop()
	saveN(t, ed, fid, head, 2)
	require.Equal(t, first.GetSequence()+1, ws.Next().GetSequence())
	require.Equal(t, first.GetSequence()+2, ws.Next().GetSequence())
}

// A node's own events reach its clients without the bus: the node's
// publisher wakes its hub directly. With Redis, the bus, gone and the
// resync an hour away, a save still reaches a client of the same node.
func TestWebSocketLocalEventsDoNotWaitForTheBus(t *testing.T) {
	t.Parallel()
	redis := redistest.StartServer(t)
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_REDIS_URL": redis.URL, "HIVESYNC_WS_RESYNC_INTERVAL": "1h"})
	ed := newEditorOn(t, b, "local@ws.test", "desktop")
	pid, fid, head := wsProject(t, ed)
	channel := events.ProjectChannel(pid)
	ws := wstest.Dial(t, b.baseURL)
	ws.Login(ed.token)
	start := ws.Subscribe(wstest.At(channel, -1))[channel]

	redis.Stop()
	saveN(t, ed, fid, head, 2)
	require.Equal(t, start+1, ws.Next().GetSequence())
	require.Equal(t, start+2, ws.Next().GetSequence())
}

// The bus echoes a node's announcements back to it; its hub, already woken
// by the publisher, passes over them instead of reading the log again.
// Announcements from other nodes (and from nodes of earlier releases, which
// sent "<channel> <sequence>") are read.
func TestWebSocketHubPassesOverItsOwnAnnouncements(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_WS_RESYNC_INTERVAL": "1h"})
	ed := newEditorOn(t, b, "echo@ws.test", "desktop")
	pid, fid, head := wsProject(t, ed)
	channel := events.ProjectChannel(pid)
	ctx := context.Background()

	// A listener of our own sees what the hub's listener sees, in the
	// same order.
	conn, err := b.store.Pool().Acquire(ctx)
	require.NoError(t, err)
	listener := conn.Hijack()
	t.Cleanup(func() { _ = listener.Close(ctx) })
	_, err = listener.Exec(ctx, "LISTEN hivesync_events")
	require.NoError(t, err)
	heard := func() string {
		t.Helper()
		for {
			wait, cancel := context.WithTimeout(ctx, 10*time.Second)
			n, err := listener.WaitForNotification(wait)
			cancel()
			require.NoError(t, err)
			if c, origin, _ := strings.Cut(n.Payload, " "); c == channel {
				return origin
			}
		}
	}

	ws := wstest.Dial(t, b.baseURL)
	ws.Login(ed.token)
	start := ws.Subscribe(wstest.At(channel, -1))[channel]
	reads := settledLogReads(t, b)
	saveN(t, ed, fid, head, 1)
	require.Equal(t, start+1, ws.Next().GetSequence())
	origin := heard()
	require.NotEmpty(t, origin, "announcements name their origin")
	require.Equal(t, reads+1, settledLogReads(t, b), "the save was read once, its echo not at all")

	// An event announced by another node, and one by a node of an earlier
	// release, are each read.
	for i, from := range []string{"n-another-node", strconv.FormatInt(start+2, 10)} {
		enc, err := events.Encode(channel, &hivesyncv1.Event{Payload: &hivesyncv1.Event_SnapshotCreated{SnapshotCreated: &hivesyncv1.SnapshotEvent{ProjectId: pid, SnapshotId: "s", Label: from}}}, time.Now())
		require.NoError(t, err)
		seq, err := dbgen.New(b.store.Pool()).EventAppend(ctx, dbgen.EventAppendParams{Channel: enc.Channel, EventType: enc.EventType, Payload: enc.Payload})
		require.NoError(t, err)
		_, err = b.store.Pool().Exec(ctx, "SELECT pg_notify('hivesync_events', $1)", channel+" "+from)
		require.NoError(t, err)
		got := ws.Next()
		require.Equal(t, seq, got.GetSequence())
		require.Equal(t, from, got.GetSnapshotCreated().GetLabel())
		require.Equal(t, reads+2+int64(i), settledLogReads(t, b))
	}
}

// settledLogReads is the node's log-read count once it has stopped
// changing (no read under way or about to start).
func settledLogReads(t *testing.T, b *testBundle) int64 {
	t.Helper()
	reads := logReads(t, b)
	for {
		time.Sleep(300 * time.Millisecond)
		now := logReads(t, b)
		if now == reads {
			return reads
		}
		reads = now
	}
}
