// Package admin serves AdminService: operators' account recovery (disable,
// enable, login links), the audit log, broadcasts and migration notices.
package admin

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// Service implements AdminService.
type Service struct {
	store    *store.Store
	links    *auth.LoginLinks
	log      *slog.Logger
	now      func() time.Time
	messages *MessageLog
	// minClientVersion is this server's oldest accepted client build; a
	// migration may only raise it.
	minClientVersion int32
}

var _ hivesyncv1connect.AdminServiceHandler = (*Service)(nil)

// NewService returns the handler.
func NewService(st *store.Store, links *auth.LoginLinks, log *slog.Logger, now func() time.Time, messages *MessageLog) *Service {
	return &Service{store: st, links: links, log: log, now: now, messages: messages}
}

// WithMinClientVersion sets the oldest client build this server accepts.
func (s *Service) WithMinClientVersion(v int32) *Service {
	s.minClientVersion = v
	return s
}

// actor is the calling admin's user id; nil for the admin API key.
func actor(ctx context.Context) *uuid.UUID {
	p := access.PrincipalFrom(ctx)
	if p == nil {
		return nil
	}
	id, err := uuid.Parse(p.UserID)
	if err != nil {
		return nil
	}
	return &id
}

// userID reads a user id field.
var userID = apierror.ParseID

// LookupUser implements hivesyncv1connect.AdminServiceHandler.
func (s *Service) LookupUser(ctx context.Context, req *hivesyncv1.LookupUserRequest) (*hivesyncv1.LookupUserResponse, error) {
	if !strings.Contains(req.GetEmail(), "@") {
		return nil, apierror.InvalidArgument("email", "must be an email address")
	}
	u, err := s.store.UserGetByEmail(ctx, req.GetEmail())
	if errors.Is(store.MapError(err), store.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no account with this email"))
	}
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	resp := &hivesyncv1.LookupUserResponse{User: &hivesyncv1.User{Id: u.ID.String(), Email: u.Email, DisplayName: u.DisplayName, IsAdmin: u.IsAdmin, CreatedAt: timestamppb.New(u.CreatedAt)}}
	if u.DisabledAt != nil {
		resp.DisabledAt = timestamppb.New(*u.DisabledAt)
	}
	return resp, nil
}

// DisableUser implements hivesyncv1connect.AdminServiceHandler.
func (s *Service) DisableUser(ctx context.Context, req *hivesyncv1.DisableUserRequest) (*hivesyncv1.DisableUserResponse, error) {
	id, err := userID("user_id", req.GetUserId())
	if err != nil {
		return nil, err
	}
	who := actor(ctx)
	if who != nil && *who == id {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("an admin cannot disable their own account"))
	}
	var revoked int64
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if _, err := q.UserSetDisabled(ctx, dbgen.UserSetDisabledParams{ID: id, Disabled: true}); err != nil {
			return store.MapError(err)
		}
		if revoked, err = q.SessionRevokeAllForUser(ctx, dbgen.SessionRevokeAllForUserParams{UserID: id, Reason: "account_disabled"}); err != nil {
			return err
		}
		return auth.Audit(ctx, q, who, "user.disabled", &id, map[string]any{"reason": req.GetReason(), "sessions_revoked": revoked})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such user"))
	}
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.DisableUserResponse{SessionsRevoked: revoked}, nil
}

// EnableUser implements hivesyncv1connect.AdminServiceHandler.
func (s *Service) EnableUser(ctx context.Context, req *hivesyncv1.EnableUserRequest) (*hivesyncv1.EnableUserResponse, error) {
	id, err := userID("user_id", req.GetUserId())
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if _, err := q.UserSetDisabled(ctx, dbgen.UserSetDisabledParams{ID: id, Disabled: false}); err != nil {
			return store.MapError(err)
		}
		return auth.Audit(ctx, q, actor(ctx), "user.enabled", &id, map[string]any{"reason": req.GetReason()})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such user"))
	}
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.EnableUserResponse{}, nil
}

// RegenerateLoginLink implements hivesyncv1connect.AdminServiceHandler.
func (s *Service) RegenerateLoginLink(ctx context.Context, req *hivesyncv1.RegenerateLoginLinkRequest) (*hivesyncv1.RegenerateLoginLinkResponse, error) {
	id, err := userID("user_id", req.GetUserId())
	if err != nil {
		return nil, err
	}
	_, user, expires, err := s.links.Create(ctx, id, actor(ctx))
	if errors.Is(err, store.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such user"))
	}
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.RegenerateLoginLinkResponse{SentTo: user.Email, ExpiresAt: timestamppb.New(expires)}, nil
}

// ListAuditLog implements hivesyncv1connect.AdminServiceHandler.
func (s *Service) ListAuditLog(ctx context.Context, req *hivesyncv1.ListAuditLogRequest) (*hivesyncv1.ListAuditLogResponse, error) {
	size, before, err := apierror.Page(req.GetPageSize(), req.GetPageToken(), 50, 200)
	if err != nil {
		return nil, err
	}
	var target *uuid.UUID
	if req.GetUserId() != "" {
		id, err := userID("user_id", req.GetUserId())
		if err != nil {
			return nil, err
		}
		target = &id
	}
	rows, err := s.store.AuditList(ctx, dbgen.AuditListParams{TargetUserID: target, BeforeID: before, PageSize: size + 1})
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	resp := &hivesyncv1.ListAuditLogResponse{}
	for i, r := range rows {
		if i == int(size) {
			resp.NextPageToken = strconv.FormatInt(rows[i-1].ID, 10)
			break
		}
		e := &hivesyncv1.AuditEntry{Id: r.ID, At: timestamppb.New(r.At), Action: r.Action, DetailsJson: string(r.Details)}
		if r.ActorUserID != nil {
			e.ActorUserId = r.ActorUserID.String()
		}
		if r.TargetUserID != nil {
			e.TargetUserId = r.TargetUserID.String()
		}
		resp.Entries = append(resp.Entries, e)
	}
	return resp, nil
}
