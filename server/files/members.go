package files

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

const ownerRole = int16(hivesyncv1.ProjectRole_PROJECT_ROLE_OWNER)

var errOwnersOnly = connect.NewError(connect.CodePermissionDenied, errors.New("only the project's owners can do this"))
var errLastOwner = connect.NewError(connect.CodeFailedPrecondition, errors.New("a project needs at least one owner; make someone else owner first"))

// membership loads the caller's role in a project (not_found for non-members).
func (s *Service) membership(ctx context.Context, rawProject string) (userID, projectID uuid.UUID, role int16, err error) {
	if userID, err = caller(ctx); err != nil {
		return
	}
	if projectID, err = parseID("project_id", rawProject); err != nil {
		return
	}
	p, err := s.store.ProjectGetForMember(ctx, dbgen.ProjectGetForMemberParams{ID: projectID, UserID: userID})
	if err != nil {
		err = s.mapErr(ctx, store.MapError(err))
		return
	}
	return userID, projectID, p.Role, nil
}

// ListMembers implements hivesyncv1connect.ProjectServiceHandler.
func (s *Service) ListMembers(ctx context.Context, req *hivesyncv1.ListMembersRequest) (*hivesyncv1.ListMembersResponse, error) {
	_, projectID, _, err := s.membership(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	size, err := apierror.PageSize(req.GetPageSize(), 100, 1000)
	if err != nil {
		return nil, err
	}
	params := dbgen.ProjectMembersParams{ProjectID: projectID, AfterRole: ownerRole + 1, MaxRows: size + 1}
	if req.GetPageToken() != "" {
		parts, err := apierror.DecodeCursor(req.GetPageToken(), 3)
		if err != nil {
			return nil, err
		}
		role, rerr := strconv.ParseInt(parts[0], 10, 16)
		at, terr := time.Parse(time.RFC3339Nano, parts[1])
		user, uerr := uuid.Parse(parts[2])
		if rerr != nil || terr != nil || uerr != nil {
			return nil, apierror.InvalidArgument("page_token", "is not a token from a previous page")
		}
		params.AfterRole, params.AfterTime, params.AfterUser = int16(role), at, user
	}
	rows, err := s.store.ProjectMembers(ctx, params)
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	resp := &hivesyncv1.ListMembersResponse{}
	if len(rows) > int(size) {
		rows = rows[:size]
		last := rows[len(rows)-1]
		resp.NextPageToken = apierror.EncodeCursor(strconv.Itoa(int(last.Role)), last.CreatedAt.UTC().Format(time.RFC3339Nano), last.UserID.String())
	}
	for _, r := range rows {
		resp.Members = append(resp.Members, &hivesyncv1.Member{UserId: r.UserID.String(), Email: r.Email, DisplayName: r.DisplayName,
			Role: hivesyncv1.ProjectRole(r.Role), JoinedAt: timestamppb.New(r.CreatedAt)})
	}
	return resp, nil
}

func validRole(r hivesyncv1.ProjectRole) bool {
	return r == hivesyncv1.ProjectRole_PROJECT_ROLE_VIEWER || r == hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR || r == hivesyncv1.ProjectRole_PROJECT_ROLE_OWNER
}

// UpdateMember implements hivesyncv1connect.ProjectServiceHandler.
func (s *Service) UpdateMember(ctx context.Context, req *hivesyncv1.UpdateMemberRequest) (*hivesyncv1.UpdateMemberResponse, error) {
	userID, projectID, role, err := s.membership(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	if role != ownerRole {
		return nil, errOwnersOnly
	}
	target, err := parseID("user_id", req.GetUserId())
	if err != nil {
		return nil, err
	}
	if !validRole(req.GetRole()) {
		return nil, apierror.InvalidArgument("role", "must be viewer, editor or owner")
	}
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		owners, err := q.ProjectMemberLock(ctx, projectID)
		if err != nil {
			return err
		}
		current, err := q.ProjectMemberRole(ctx, dbgen.ProjectMemberRoleParams{ProjectID: projectID, UserID: target})
		if err != nil {
			return store.MapError(err)
		}
		if current == ownerRole && req.GetRole() != hivesyncv1.ProjectRole_PROJECT_ROLE_OWNER && owners <= 1 {
			return errLastOwner
		}
		if _, err := q.ProjectMemberSetRole(ctx, dbgen.ProjectMemberSetRoleParams{ProjectID: projectID, UserID: target, Role: int16(req.GetRole())}); err != nil {
			return err
		}
		if err := auth.Audit(ctx, q, &userID, "project.member_role_changed", &target, map[string]any{"project_id": projectID, "role": req.GetRole().String()}); err != nil {
			return err
		}
		return s.announceMember(ctx, q, projectID, target, userID, hivesyncv1.MemberChange_MEMBER_CHANGE_ROLE_CHANGED, req.GetRole())
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return &hivesyncv1.UpdateMemberResponse{Member: &hivesyncv1.Member{UserId: target.String(), Role: req.GetRole()}}, nil
}

// RemoveMember implements hivesyncv1connect.ProjectServiceHandler.
func (s *Service) RemoveMember(ctx context.Context, req *hivesyncv1.RemoveMemberRequest) (*hivesyncv1.RemoveMemberResponse, error) {
	userID, projectID, role, err := s.membership(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	target, err := parseID("user_id", req.GetUserId())
	if err != nil {
		return nil, err
	}
	if role != ownerRole && target != userID {
		return nil, errOwnersOnly
	}
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		owners, err := q.ProjectMemberLock(ctx, projectID)
		if err != nil {
			return err
		}
		current, err := q.ProjectMemberRole(ctx, dbgen.ProjectMemberRoleParams{ProjectID: projectID, UserID: target})
		if err != nil {
			return store.MapError(err)
		}
		if current == ownerRole && owners <= 1 {
			return errLastOwner
		}
		if _, err := q.ProjectMemberDelete(ctx, dbgen.ProjectMemberDeleteParams{ProjectID: projectID, UserID: target}); err != nil {
			return err
		}
		if err := auth.Audit(ctx, q, &userID, "project.member_removed", &target, map[string]any{"project_id": projectID}); err != nil {
			return err
		}
		return s.announceMember(ctx, q, projectID, target, userID, hivesyncv1.MemberChange_MEMBER_CHANGE_REMOVED, hivesyncv1.ProjectRole_PROJECT_ROLE_UNSPECIFIED)
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return &hivesyncv1.RemoveMemberResponse{}, nil
}

// CreateInvite implements hivesyncv1connect.ProjectServiceHandler.
func (s *Service) CreateInvite(ctx context.Context, req *hivesyncv1.CreateInviteRequest) (*hivesyncv1.CreateInviteResponse, error) {
	userID, projectID, role, err := s.membership(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	if role != ownerRole {
		return nil, errOwnersOnly
	}
	if r := req.GetRole(); r != hivesyncv1.ProjectRole_PROJECT_ROLE_VIEWER && r != hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR {
		return nil, apierror.InvalidArgument("role", "invites grant viewer or editor")
	}
	ttl := req.GetTtlHours()
	switch {
	case ttl == 0:
		ttl = 72
	case ttl < 1 || ttl > 168:
		return nil, apierror.InvalidArgument("ttl_hours", "must be 1 to 168")
	}
	email := strings.TrimSpace(req.GetEmail())
	if email != "" && (!strings.Contains(email, "@") || len(email) > 320) {
		return nil, apierror.InvalidArgument("email", "must be an email address")
	}
	token := uuid.NewString() + uuid.NewString()
	token = strings.ReplaceAll(token, "-", "")
	expires := s.now().Add(time.Duration(ttl) * time.Hour)
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if err := q.InviteInsert(ctx, dbgen.InviteInsertParams{TokenHash: inviteHash(token), ProjectID: projectID, Role: int16(req.GetRole()),
			Email: strings.ToLower(email), CreatedBy: userID, ExpiresAt: expires}); err != nil {
			return err
		}
		if err := auth.Audit(ctx, q, &userID, "project.invite_created", nil, map[string]any{"project_id": projectID, "role": req.GetRole().String(), "for_email": email != ""}); err != nil {
			return err
		}
		// The mail goes out inside the transaction: an invite that could
		// not be sent is not created, and the owner is told.
		return s.mailInvite(ctx, q, projectID, userID, email, req.GetRole(), token, expires)
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return &hivesyncv1.CreateInviteResponse{Token: token, ExpiresAt: timestamppb.New(expires)}, nil
}

// errBadInvite covers unknown, used, expired and someone else's invites alike.
var errBadInvite = connect.NewError(connect.CodeNotFound, errors.New("this invite is unknown, expired, already used or for another account"))

// AcceptInvite implements hivesyncv1connect.ProjectServiceHandler.
func (s *Service) AcceptInvite(ctx context.Context, req *hivesyncv1.AcceptInviteRequest) (*hivesyncv1.AcceptInviteResponse, error) {
	userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetToken() == "" || len(req.GetToken()) > 200 {
		return nil, apierror.InvalidArgument("token", "is required")
	}
	var out *hivesyncv1.Project
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		inv, err := q.InviteUse(ctx, dbgen.InviteUseParams{TokenHash: inviteHash(req.GetToken()), UsedBy: &userID, Now: s.now()})
		if err != nil {
			if errors.Is(store.MapError(err), store.ErrNotFound) {
				return errBadInvite
			}
			return err
		}
		if inv.Email != "" {
			u, err := q.UserGetByID(ctx, userID)
			if err != nil {
				return err
			}
			if !strings.EqualFold(u.Email, inv.Email) {
				return errBadInvite // rolled back: the invite stays usable by its addressee
			}
		}
		if err := q.ProjectMemberUpsert(ctx, dbgen.ProjectMemberUpsertParams{ProjectID: inv.ProjectID, UserID: userID, Role: inv.Role}); err != nil {
			return err
		}
		if err := auth.Audit(ctx, q, &userID, "project.member_joined", &userID, map[string]any{"project_id": inv.ProjectID, "invited_by": inv.CreatedBy}); err != nil {
			return err
		}
		if err := s.announceMember(ctx, q, inv.ProjectID, userID, userID, hivesyncv1.MemberChange_MEMBER_CHANGE_JOINED, hivesyncv1.ProjectRole(inv.Role)); err != nil {
			return err
		}
		p, err := q.ProjectGetForMember(ctx, dbgen.ProjectGetForMemberParams{ID: inv.ProjectID, UserID: userID})
		if err != nil {
			return err
		}
		out = projectProto(p.ID, p.Name, p.StorageBytes, p.CreatedAt, p.Role)
		return nil
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return &hivesyncv1.AcceptInviteResponse{Project: out}, nil
}

// announceMember logs a membership change on the project's channel.
func (s *Service) announceMember(ctx context.Context, q dbgen.Querier, projectID, member, actor uuid.UUID, change hivesyncv1.MemberChange, role hivesyncv1.ProjectRole) error {
	return s.announce(ctx, q, projectID, &hivesyncv1.Event{Payload: &hivesyncv1.Event_MemberChanged{MemberChanged: &hivesyncv1.MemberChangedEvent{
		ProjectId: projectID.String(), UserId: member.String(), Change: change, Role: role, ActorUserId: actor.String(),
	}}})
}

func inviteHash(token string) []byte {
	h := Hash("invite\x00" + token)
	return []byte(h)
}

// InvitePath is where an invite's link points, under the public URL, with
// the token in the fragment (never sent to a server): HiveSync's apps open
// it and call AcceptInvite with the token.
const InvitePath = "/invite"

// mailInvite mails an invite made for an email address to that address:
// who invites, to which project, with which role, until when, and the link.
func (s *Service) mailInvite(ctx context.Context, q dbgen.Querier, projectID, inviter uuid.UUID, email string, role hivesyncv1.ProjectRole, token string, expires time.Time) error {
	if email == "" || s.mailer == nil {
		return nil
	}
	p, err := q.ProjectGetForMember(ctx, dbgen.ProjectGetForMemberParams{ID: projectID, UserID: inviter})
	if err != nil {
		return store.MapError(err)
	}
	from, err := q.UserGetByID(ctx, inviter)
	if err != nil {
		return store.MapError(err)
	}
	roleName := strings.ToLower(strings.TrimPrefix(role.String(), "PROJECT_ROLE_"))
	link := strings.TrimRight(s.baseURL(), "/") + InvitePath + "#token=" + token
	body := fmt.Sprintf("%s invited you to the HiveSync project %q as %s.\n\nOpen this link in HiveSync to join (valid until %s UTC; it works once, for %s):\n\n%s\n\nIf you did not expect it, ignore this email.",
		from.Email, p.Name, roleName, expires.UTC().Format(time.RFC1123), email, link)
	if err := s.mailer.Send(ctx, email, fmt.Sprintf("Join %q on HiveSync", p.Name), body); err != nil {
		s.log.WarnContext(ctx, "send invite email", slog.String("error", err.Error()))
		return connect.NewError(connect.CodeUnavailable, errors.New("the invite email could not be sent; nothing was created, retry later"))
	}
	return nil
}
