package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// Service implements AuthService and DeviceService.
type Service struct {
	store *store.Store
	oauth *OAuthServer
	log   *slog.Logger
	now   func() time.Time
}

var (
	_ hivesyncv1connect.AuthServiceHandler   = (*Service)(nil)
	_ hivesyncv1connect.DeviceServiceHandler = (*Service)(nil)
)

// NewService returns the handlers; oauth decides pending sign-ins.
func NewService(st *store.Store, oauth *OAuthServer, log *slog.Logger, now func() time.Time) *Service {
	return &Service{store: st, oauth: oauth, log: log, now: now}
}

// caller returns the authenticated principal; the access interceptor
// guarantees one for every non-public method.
func caller(ctx context.Context) (*access.Principal, uuid.UUID, error) {
	p := access.PrincipalFrom(ctx)
	if p == nil {
		return nil, uuid.Nil, connect.NewError(connect.CodeUnauthenticated, errors.New("this call needs a HiveSync access token"))
	}
	id, err := uuid.Parse(p.UserID)
	if err != nil {
		return nil, uuid.Nil, fmt.Errorf("principal user id: %w", err)
	}
	return p, id, nil
}

// parseID reads a UUID field, answering invalid_argument for malformed input.
func parseID(field, value string) (uuid.UUID, error) {
	id, err := uuid.Parse(value)
	if err != nil {
		return uuid.Nil, apierror.InvalidArgument(field, "must be a UUID")
	}
	return id, nil
}

// GetCurrentUser implements hivesyncv1connect.AuthServiceHandler.
func (s *Service) GetCurrentUser(ctx context.Context, _ *hivesyncv1.GetCurrentUserRequest) (*hivesyncv1.GetCurrentUserResponse, error) {
	p, userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	user, err := s.store.UserGetByID(ctx, userID)
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, store.MapError(err))
	}
	sessionID, err := uuid.Parse(p.SessionID)
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	session, err := s.store.SessionGet(ctx, sessionID)
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, store.MapError(err))
	}
	return &hivesyncv1.GetCurrentUserResponse{User: userProto(user), Session: sessionProto(session, p.SessionID), Tier: p.Tier}, nil
}

// ListSessions implements hivesyncv1connect.AuthServiceHandler.
func (s *Service) ListSessions(ctx context.Context, _ *hivesyncv1.ListSessionsRequest) (*hivesyncv1.ListSessionsResponse, error) {
	p, userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.SessionListActive(ctx, userID)
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	resp := &hivesyncv1.ListSessionsResponse{}
	for _, r := range rows {
		resp.Sessions = append(resp.Sessions, sessionProto(r, p.SessionID))
	}
	return resp, nil
}

// RevokeSession implements hivesyncv1connect.AuthServiceHandler.
func (s *Service) RevokeSession(ctx context.Context, req *hivesyncv1.RevokeSessionRequest) (*hivesyncv1.RevokeSessionResponse, error) {
	_, userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	id, err := parseID("session_id", req.GetSessionId())
	if err != nil {
		return nil, err
	}
	n, err := s.store.SessionRevoke(ctx, dbgen.SessionRevokeParams{ID: id, UserID: userID, Reason: "revoked_by_user"})
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	if n == 0 {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such active session"))
	}
	return &hivesyncv1.RevokeSessionResponse{}, nil
}

// DescribeDeviceCode implements hivesyncv1connect.AuthServiceHandler.
func (s *Service) DescribeDeviceCode(ctx context.Context, req *hivesyncv1.DescribeDeviceCodeRequest) (*hivesyncv1.DescribeDeviceCodeResponse, error) {
	if _, _, err := caller(ctx); err != nil {
		return nil, err
	}
	g, err := s.oauth.Pending(ctx, req.GetUserCode())
	if errors.Is(err, store.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no pending sign-in with this code; it may have expired"))
	}
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	scopes, _ := ParseScopes(g.Scopes)
	kind := hivesyncv1.SignInKind_SIGN_IN_KIND_DEVICE
	if g.Kind == "code" {
		kind = hivesyncv1.SignInKind_SIGN_IN_KIND_BROWSER
	}
	return &hivesyncv1.DescribeDeviceCodeResponse{
		ClientId: g.ClientID, ClientType: Clients[g.ClientID].Type, Scopes: scopes, Kind: kind, ExpiresAt: timestamppb.New(g.ExpiresAt),
	}, nil
}

// ApproveDeviceCode implements hivesyncv1connect.AuthServiceHandler.
func (s *Service) ApproveDeviceCode(ctx context.Context, req *hivesyncv1.ApproveDeviceCodeRequest) (*hivesyncv1.ApproveDeviceCodeResponse, error) {
	_, userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetUserCode() == "" {
		return nil, apierror.InvalidArgument("user_code", "is required")
	}
	g, err := s.oauth.Decide(ctx, userID, req.GetUserCode(), req.GetApprove())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no pending sign-in with this code; it may have expired or been decided"))
	case errors.Is(err, ErrGrantNotAllowed):
		return nil, connect.NewError(connect.CodePermissionDenied, err)
	case err != nil:
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.ApproveDeviceCodeResponse{ClientId: g.ClientID}, nil
}

func userProto(u dbgen.User) *hivesyncv1.User {
	return &hivesyncv1.User{Id: u.ID.String(), Email: u.Email, DisplayName: u.DisplayName, IsAdmin: u.IsAdmin, CreatedAt: timestamppb.New(u.CreatedAt)}
}

func sessionProto(s dbgen.Session, current string) *hivesyncv1.Session {
	scopes, _ := ParseScopes(s.Scopes)
	out := &hivesyncv1.Session{
		Id: s.ID.String(), ClientId: s.ClientID, ClientType: hivesyncv1.ClientType(s.ClientType), Scopes: scopes,
		CreatedAt: timestamppb.New(s.CreatedAt), LastUsedAt: timestamppb.New(s.LastUsedAt), Current: s.ID.String() == current,
	}
	if s.DeviceID != nil {
		out.DeviceId = s.DeviceID.String()
	}
	return out
}
