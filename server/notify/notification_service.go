// Package notify raises in-app notifications and serves NotificationService:
// each notification is a row (delivered and read are recorded) and an event
// on the user's channel, so connected clients get it at once and a client
// that resumes gets those it missed.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// Notification is what a domain raises for a user.
type Notification struct {
	// Title is a short heading; Body the text; DeepLink an optional
	// hivesync:// link to the related screen.
	Title, Body, DeepLink string
}

// Send stores n for user and announces it on the user's channel, in q's
// transaction: it exists and is delivered only if that transaction commits.
func Send(ctx context.Context, q dbgen.Querier, userID uuid.UUID, n Notification, now time.Time) (uuid.UUID, error) {
	title, body := truncate(n.Title, 200), truncate(n.Body, 2000)
	if title == "" {
		return uuid.Nil, errors.New("a notification needs a title")
	}
	row, err := q.NotificationInsert(ctx, dbgen.NotificationInsertParams{ID: uuid.New(), UserID: userID, Title: title, Body: body, DeepLink: n.DeepLink})
	if err != nil {
		return uuid.Nil, fmt.Errorf("store notification: %w", err)
	}
	_, err = events.Append(ctx, q, events.UserChannel(userID.String()), &hivesyncv1.Event{Payload: &hivesyncv1.Event_Notification{Notification: &hivesyncv1.NotificationEvent{
		NotificationId: row.ID.String(), Title: title, Body: body, DeepLink: n.DeepLink,
	}}}, now)
	return row.ID, err
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// Delivered records that a client of userID received notification id; it
// reports false when id is not one of the user's undelivered notifications.
func Delivered(ctx context.Context, st *store.Store, id, userID uuid.UUID, now time.Time) (bool, error) {
	n, err := st.NotificationDelivered(ctx, dbgen.NotificationDeliveredParams{ID: id, UserID: userID, Now: now})
	return n > 0, err
}

// Service implements NotificationService.
type Service struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
}

var _ hivesyncv1connect.NotificationServiceHandler = (*Service)(nil)

// NewService returns the handler.
func NewService(st *store.Store, log *slog.Logger, now func() time.Time) *Service {
	return &Service{store: st, log: log, now: now}
}

// ListNotifications implements hivesyncv1connect.NotificationServiceHandler.
func (s *Service) ListNotifications(ctx context.Context, req *hivesyncv1.ListNotificationsRequest) (*hivesyncv1.ListNotificationsResponse, error) {
	userID, err := access.CallerUserID(ctx)
	if err != nil {
		return nil, err
	}
	size, err := apierror.PageSize(req.GetPageSize(), 50, 200)
	if err != nil {
		return nil, err
	}
	before, beforeID, err := apierror.TimeCursor(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	rows, err := s.store.NotificationList(ctx, dbgen.NotificationListParams{UserID: userID, UnreadOnly: req.GetUnreadOnly(), BeforeTime: before, BeforeID: beforeID, MaxRows: size + 1})
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	unread, err := s.store.NotificationUnreadCount(ctx, userID)
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	resp := &hivesyncv1.ListNotificationsResponse{Unread: unread}
	if len(rows) > int(size) {
		rows = rows[:size]
		resp.NextPageToken = apierror.EncodeTimeCursor(rows[len(rows)-1].CreatedAt, rows[len(rows)-1].ID)
	}
	for _, r := range rows {
		n := &hivesyncv1.Notification{Id: r.ID.String(), Title: r.Title, Body: r.Body, DeepLink: r.DeepLink, CreatedAt: timestamppb.New(r.CreatedAt)}
		if r.DeliveredAt != nil {
			n.DeliveredAt = timestamppb.New(*r.DeliveredAt)
		}
		if r.ReadAt != nil {
			n.ReadAt = timestamppb.New(*r.ReadAt)
		}
		resp.Notifications = append(resp.Notifications, n)
	}
	return resp, nil
}

// MarkNotificationsRead implements hivesyncv1connect.NotificationServiceHandler.
func (s *Service) MarkNotificationsRead(ctx context.Context, req *hivesyncv1.MarkNotificationsReadRequest) (*hivesyncv1.MarkNotificationsReadResponse, error) {
	userID, err := access.CallerUserID(ctx)
	if err != nil {
		return nil, err
	}
	if !req.GetAll() && len(req.GetIds()) == 0 {
		return nil, apierror.InvalidArgument("ids", "name notifications, or set all")
	}
	if len(req.GetIds()) > 500 {
		return nil, apierror.InvalidArgument("ids", "at most 500 at a time")
	}
	ids := make([]uuid.UUID, 0, len(req.GetIds()))
	for _, raw := range req.GetIds() {
		id, err := apierror.ParseID("ids", raw)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	n, err := s.store.NotificationMarkRead(ctx, dbgen.NotificationMarkReadParams{UserID: userID, Now: s.now(), MarkAll: req.GetAll(), Ids: ids})
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.MarkNotificationsReadResponse{Marked: n}, nil
}
