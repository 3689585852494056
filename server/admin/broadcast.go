package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// MessageLog appends sent broadcasts to a JSON Lines file (spec §32.4).
type MessageLog struct {
	path string
	mu   sync.Mutex
}

// NewMessageLog writes to path; an empty path logs nothing.
func NewMessageLog(path string) *MessageLog { return &MessageLog{path: path} }

// Append writes one line for m.
func (l *MessageLog) Append(m *hivesyncv1.AdminMessage, sentBy string) error {
	if l == nil || l.path == "" {
		return nil
	}
	line, err := json.Marshal(map[string]any{
		"id": m.GetId(), "title": m.GetTitle(), "body": m.GetBody(), "requires_ack": m.GetRequiresAck(),
		"level":   strings.ToLower(strings.TrimPrefix(m.GetLevel().String(), "ADMIN_MESSAGE_LEVEL_")),
		"sent_at": m.GetSentAt().AsTime().UTC().Format(time.RFC3339Nano), "sent_by": sentBy,
	})
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(l.path), 0o750); err != nil {
		return fmt.Errorf("create admin message log dir: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("open admin message log: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("write admin message log: %w", err)
	}
	return f.Close()
}

// SendMessage implements hivesyncv1connect.AdminServiceHandler.
func (s *Service) SendMessage(ctx context.Context, req *hivesyncv1.SendMessageRequest) (*hivesyncv1.SendMessageResponse, error) {
	title, body := strings.TrimSpace(req.GetTitle()), strings.TrimSpace(req.GetBody())
	switch {
	case title == "" || utf8.RuneCountInString(title) > 200 || strings.ContainsAny(title, "\n\r\x00"):
		return nil, apierror.InvalidArgument("title", "must be 1 to 200 characters on one line")
	case body == "" || utf8.RuneCountInString(body) > 5000 || strings.ContainsRune(body, 0):
		return nil, apierror.InvalidArgument("body", "must be 1 to 5000 characters")
	}
	level := req.GetLevel()
	if level == hivesyncv1.AdminMessageLevel_ADMIN_MESSAGE_LEVEL_UNSPECIFIED {
		level = hivesyncv1.AdminMessageLevel_ADMIN_MESSAGE_LEVEL_INFO
	}
	if _, ok := hivesyncv1.AdminMessageLevel_name[int32(level)]; !ok {
		return nil, apierror.InvalidArgument("level", "must be info, warning or critical")
	}
	sender := actor(ctx)
	var out *hivesyncv1.AdminMessage
	err := s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		row, err := q.AdminMessageInsert(ctx, dbgen.AdminMessageInsertParams{ID: uuid.New(), Title: title, Body: body, Level: int16(level),
			RequiresAck: req.GetRequiresAck(), SentBy: sender})
		if err != nil {
			return err
		}
		out = messageProto(row, 0)
		if err := auth.Audit(ctx, q, sender, "admin.message_sent", nil, map[string]any{"message_id": row.ID, "level": level.String()}); err != nil {
			return err
		}
		_, err = events.Append(ctx, q, events.BroadcastChannel, &hivesyncv1.Event{Payload: &hivesyncv1.Event_AdminMessage{AdminMessage: &hivesyncv1.AdminMessageEvent{
			Id: row.ID.String(), Title: title, Body: body, Level: level, RequiresAck: req.GetRequiresAck(),
		}}}, s.now())
		return err
	})
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	by := ""
	if sender != nil {
		by = sender.String()
	}
	if err := s.messages.Append(out, by); err != nil {
		// The message went out; the file is a record of it, so say so loudly.
		s.log.ErrorContext(ctx, "admin message sent but not written to the log file", slog.String("message_id", out.GetId()), slog.String("error", err.Error()))
	}
	return &hivesyncv1.SendMessageResponse{Message: out}, nil
}

func messageProto(m dbgen.AdminMessage, acks int64) *hivesyncv1.AdminMessage {
	return &hivesyncv1.AdminMessage{Id: m.ID.String(), Title: m.Title, Body: m.Body, Level: hivesyncv1.AdminMessageLevel(m.Level),
		RequiresAck: m.RequiresAck, SentAt: timestamppb.New(m.CreatedAt), Acknowledgements: acks}
}

// ListMessages implements hivesyncv1connect.AdminServiceHandler.
func (s *Service) ListMessages(ctx context.Context, req *hivesyncv1.ListMessagesRequest) (*hivesyncv1.ListMessagesResponse, error) {
	size, err := apierror.PageSize(req.GetPageSize(), 50, 200)
	if err != nil {
		return nil, err
	}
	before, beforeID, err := apierror.TimeCursor(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	rows, err := s.store.AdminMessageList(ctx, dbgen.AdminMessageListParams{BeforeTime: before, BeforeID: beforeID, MaxRows: size + 1})
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	resp := &hivesyncv1.ListMessagesResponse{}
	if len(rows) > int(size) {
		rows = rows[:size]
		resp.NextPageToken = apierror.EncodeTimeCursor(rows[len(rows)-1].CreatedAt, rows[len(rows)-1].ID)
	}
	for _, r := range rows {
		resp.Messages = append(resp.Messages, messageProto(dbgen.AdminMessage{ID: r.ID, Title: r.Title, Body: r.Body, Level: r.Level,
			RequiresAck: r.RequiresAck, SentBy: r.SentBy, CreatedAt: r.CreatedAt}, r.Acknowledgements))
	}
	return resp, nil
}

// AnnounceMigration implements hivesyncv1connect.AdminServiceHandler.
func (s *Service) AnnounceMigration(ctx context.Context, req *hivesyncv1.AnnounceMigrationRequest) (*hivesyncv1.AnnounceMigrationResponse, error) {
	api, err := migrationURL("new_url", req.GetNewUrl(), "https", "http")
	if err != nil {
		return nil, err
	}
	ws := req.GetNewWsUrl()
	if ws == "" {
		u, _ := url.Parse(api)
		u.Scheme = map[string]string{"https": "wss", "http": "ws"}[u.Scheme]
		u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/ws"
		ws = u.String()
	}
	if ws, err = migrationURL("new_ws_url", ws, "wss", "ws"); err != nil {
		return nil, err
	}
	grace := req.GetGracePeriodSeconds()
	switch {
	case grace == 0:
		grace = 3600
	case grace < 0 || grace > 7*24*3600:
		return nil, apierror.InvalidArgument("grace_period_seconds", "must be between 0 and 604800")
	}
	switchAfter := s.now()
	if req.GetSwitchAfter() != nil {
		if err := req.GetSwitchAfter().CheckValid(); err != nil {
			return nil, apierror.InvalidArgument("switch_after", "is not a valid time")
		}
		switchAfter = req.GetSwitchAfter().AsTime()
	}
	minClient := req.GetMinClientVersion()
	if minClient != 0 && minClient < s.minClientVersion {
		return nil, apierror.InvalidArgument("min_client_version", fmt.Sprintf("must be 0 (unchanged) or at least the current %d", s.minClientVersion))
	}
	sender := actor(ctx)
	var notice *hivesyncv1.MigrationNoticeEvent
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		row, err := q.MigrationNoticeInsert(ctx, dbgen.MigrationNoticeInsertParams{ID: uuid.New(), NewUrl: api, NewWsUrl: ws,
			SwitchAfter: switchAfter, GracePeriodSeconds: grace, MinClientVersion: minClient, AnnouncedBy: sender})
		if err != nil {
			return err
		}
		notice = NoticeProto(row)
		if err := auth.Audit(ctx, q, sender, "admin.migration_announced", nil, map[string]any{"notice_id": row.ID, "new_url": api}); err != nil {
			return err
		}
		_, err = events.Append(ctx, q, events.BroadcastChannel, &hivesyncv1.Event{Payload: &hivesyncv1.Event_MigrationNotice{MigrationNotice: notice}}, s.now())
		return err
	})
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.AnnounceMigrationResponse{Notice: notice}, nil
}

// NoticeProto is a stored migration notice as clients receive it.
func NoticeProto(row dbgen.MigrationNotice) *hivesyncv1.MigrationNoticeEvent {
	return &hivesyncv1.MigrationNoticeEvent{Id: row.ID.String(), NewUrl: row.NewUrl, NewWsUrl: row.NewWsUrl,
		SwitchAfter: timestamppb.New(row.SwitchAfter), GracePeriodSeconds: row.GracePeriodSeconds, MinClientVersion: row.MinClientVersion}
}

// migrationURL checks an announced URL: absolute, the secure scheme (the
// plain one only for loopback hosts), no credentials, query or fragment.
func migrationURL(field, raw, secure, plain string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", apierror.InvalidArgument(field, "must be an absolute URL without credentials, query or fragment")
	}
	switch u.Scheme {
	case secure:
	case plain:
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", apierror.InvalidArgument(field, "must use "+secure+" (plain "+plain+" only for loopback)")
		}
	default:
		return "", apierror.InvalidArgument(field, "must use "+secure)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// Acknowledge records a session's acknowledgement of a broadcast; it
// reports false when id is not a broadcast.
func Acknowledge(ctx context.Context, st *store.Store, messageID, sessionID, userID uuid.UUID) (bool, error) {
	n, err := st.AdminMessageAck(ctx, dbgen.AdminMessageAckParams{MessageID: messageID, SessionID: sessionID, UserID: userID})
	return n > 0, err
}
