package auth

import (
	"context"
	"errors"
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
	store  *store.Store
	oauth  *OAuthServer
	signIn *IDTokenSignIn
	totp   *TOTP
	log    *slog.Logger
	now    func() time.Time
}

var (
	_ hivesyncv1connect.AuthServiceHandler   = (*Service)(nil)
	_ hivesyncv1connect.DeviceServiceHandler = (*Service)(nil)
)

// NewService returns the handlers; oauth decides pending sign-ins, signIn
// verifies the mobile app's ID tokens and totp is the second factor.
func NewService(st *store.Store, oauth *OAuthServer, signIn *IDTokenSignIn, totp *TOTP, log *slog.Logger, now func() time.Time) *Service {
	return &Service{store: st, oauth: oauth, signIn: signIn, totp: totp, log: log, now: now}
}

// EnrollTotp implements hivesyncv1connect.AuthServiceHandler.
func (s *Service) EnrollTotp(ctx context.Context, _ *hivesyncv1.EnrollTotpRequest) (*hivesyncv1.EnrollTotpResponse, error) {
	_, userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	user, err := s.store.UserGetByID(ctx, userID)
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, store.MapError(err))
	}
	secret, uri, codes, err := s.totp.Enroll(ctx, userID, user.Email)
	if errors.Is(err, ErrAlreadyEnrolled) {
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	}
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.EnrollTotpResponse{Secret: secret, OtpauthUri: uri, RecoveryCodes: codes}, nil
}

// ConfirmTotp implements hivesyncv1connect.AuthServiceHandler.
func (s *Service) ConfirmTotp(ctx context.Context, req *hivesyncv1.ConfirmTotpRequest) (*hivesyncv1.ConfirmTotpResponse, error) {
	_, userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	switch err := s.totp.Confirm(ctx, userID, req.GetCode()); {
	case errors.Is(err, ErrBadCode):
		return nil, apierror.InvalidArgument("code", err.Error())
	case errors.Is(err, ErrAlreadyEnrolled):
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	case err != nil:
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.ConfirmTotpResponse{}, nil
}

// DisableTotp implements hivesyncv1connect.AuthServiceHandler. The access
// interceptor has already checked the second factor.
func (s *Service) DisableTotp(ctx context.Context, _ *hivesyncv1.DisableTotpRequest) (*hivesyncv1.DisableTotpResponse, error) {
	_, userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.totp.Disable(ctx, userID); err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.DisableTotpResponse{}, nil
}

// SignInWithIdToken implements hivesyncv1connect.AuthServiceHandler.
func (s *Service) SignInWithIdToken(ctx context.Context, req *hivesyncv1.SignInWithIdTokenRequest) (*hivesyncv1.SignInWithIdTokenResponse, error) {
	if req.GetProvider() == "" || req.GetIdToken() == "" || req.GetNonce() == "" {
		return nil, apierror.InvalidArgument("provider, id_token, nonce", "are required")
	}
	if err := checkText("display_name", req.GetDisplayName(), 200); err != nil {
		return nil, err
	}
	res, err := s.signIn.SignIn(ctx, req.GetProvider(), req.GetIdToken(), req.GetNonce(), req.GetDisplayName())
	switch {
	case errors.Is(err, ErrIDTokenRejected):
		s.log.WarnContext(ctx, "security: identity token rejected", slog.String("provider", req.GetProvider()), slog.String("reason", err.Error()))
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("the identity token was rejected; sign in with the provider again"))
	case errors.Is(err, ErrAccountDisabled):
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("this account is disabled; contact support"))
	case err != nil:
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.SignInWithIdTokenResponse{
		AccessToken: res.Pair.AccessToken, RefreshToken: res.Pair.RefreshToken, TokenType: res.Pair.TokenType,
		ExpiresIn: res.Pair.ExpiresIn, Scope: res.Pair.Scope, User: userProto(res.User), NewUser: res.NewUser,
	}, nil
}

// ListIdentityProviders implements hivesyncv1connect.AuthServiceHandler.
func (s *Service) ListIdentityProviders(context.Context, *hivesyncv1.ListIdentityProvidersRequest) (*hivesyncv1.ListIdentityProvidersResponse, error) {
	resp := &hivesyncv1.ListIdentityProvidersResponse{}
	for _, p := range s.signIn.Providers() {
		resp.Providers = append(resp.Providers, &hivesyncv1.IdentityProvider{Name: p.Name, Issuer: p.Issuer, ClientIds: p.ClientIDs})
	}
	return resp, nil
}

// caller returns the authenticated principal and its user id.
func caller(ctx context.Context) (*access.Principal, uuid.UUID, error) {
	id, err := access.CallerUserID(ctx)
	if err != nil {
		return nil, uuid.Nil, err
	}
	return access.PrincipalFrom(ctx), id, nil
}

// parseID reads a UUID field, answering invalid_argument for malformed input.
var parseID = apierror.ParseID

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
	enabled, err := s.totp.Enabled(ctx, userID)
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.GetCurrentUserResponse{User: userProto(user), Session: sessionProto(session, p.SessionID), Tier: p.Tier, TotpEnabled: enabled}, nil
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
