package files

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

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

// Limits are the spec §35.1 storage limits.
type Limits struct {
	MaxFileBytes    int64
	MaxProjectBytes int64
}

// Service implements ProjectService and FileService.
type Service struct {
	store  *store.Store
	limits Limits
	log    *slog.Logger
	now    func() time.Time
	recent *recentVersions
	// mailer sends invites made for an email address, with links under
	// baseURL; without it such invites only restrict who may accept them.
	mailer  auth.Mailer
	baseURL func() string
}

var (
	_ hivesyncv1connect.ProjectServiceHandler = (*Service)(nil)
	_ hivesyncv1connect.FileServiceHandler    = (*Service)(nil)
)

// NewService returns the handlers.
func NewService(st *store.Store, limits Limits, log *slog.Logger, now func() time.Time) *Service {
	return &Service{store: st, limits: limits, log: log, now: now, recent: newRecentVersions()}
}

// WithInviteMail makes CreateInvite mail an invite made for an email
// address to that address, with a link under baseURL (InvitePath).
func (s *Service) WithInviteMail(mailer auth.Mailer, baseURL func() string) *Service {
	s.mailer, s.baseURL = mailer, baseURL
	return s
}

var errNotFound = connect.NewError(connect.CodeNotFound, errors.New("not found"))

// caller is the signed-in user.
var caller = access.CallerUserID

// parseID reads a UUID field; malformed ids are invalid_argument.
var parseID = apierror.ParseID

// CreateProject implements hivesyncv1connect.ProjectServiceHandler.
func (s *Service) CreateProject(ctx context.Context, req *hivesyncv1.CreateProjectRequest) (*hivesyncv1.CreateProjectResponse, error) {
	userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.GetName())
	if name == "" || utf8.RuneCountInString(name) > 200 || !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\n\r") {
		return nil, apierror.InvalidArgument("name", "must be 1 to 200 characters on one line")
	}
	var p dbgen.Project
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		if p, err = q.ProjectInsert(ctx, dbgen.ProjectInsertParams{ID: uuid.New(), Name: name, OwnerID: userID}); err != nil {
			return err
		}
		if err := q.ProjectMemberInsert(ctx, dbgen.ProjectMemberInsertParams{ProjectID: p.ID, UserID: userID, Role: int16(hivesyncv1.ProjectRole_PROJECT_ROLE_OWNER)}); err != nil {
			return err
		}
		return s.announceMember(ctx, q, p.ID, userID, userID, hivesyncv1.MemberChange_MEMBER_CHANGE_JOINED, hivesyncv1.ProjectRole_PROJECT_ROLE_OWNER)
	})
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.CreateProjectResponse{Project: projectProto(p.ID, p.Name, p.StorageBytes, p.CreatedAt, int16(hivesyncv1.ProjectRole_PROJECT_ROLE_OWNER))}, nil
}

// GetProject implements hivesyncv1connect.ProjectServiceHandler.
func (s *Service) GetProject(ctx context.Context, req *hivesyncv1.GetProjectRequest) (*hivesyncv1.GetProjectResponse, error) {
	userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	id, err := parseID("project_id", req.GetProjectId())
	if err != nil {
		return nil, err
	}
	p, err := s.store.ProjectGetForMember(ctx, dbgen.ProjectGetForMemberParams{ID: id, UserID: userID})
	if errors.Is(store.MapError(err), store.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	return &hivesyncv1.GetProjectResponse{Project: projectProto(p.ID, p.Name, p.StorageBytes, p.CreatedAt, p.Role)}, nil
}

// ListProjects implements hivesyncv1connect.ProjectServiceHandler.
func (s *Service) ListProjects(ctx context.Context, req *hivesyncv1.ListProjectsRequest) (*hivesyncv1.ListProjectsResponse, error) {
	userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	size, err := apierror.PageSize(req.GetPageSize(), 100, 1000)
	if err != nil {
		return nil, err
	}
	before, beforeID, err := apierror.TimeCursor(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	rows, err := s.store.ProjectListForUser(ctx, dbgen.ProjectListForUserParams{UserID: userID, BeforeTime: before, BeforeID: beforeID, MaxRows: size + 1})
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	resp := &hivesyncv1.ListProjectsResponse{}
	if len(rows) > int(size) {
		rows = rows[:size]
		resp.NextPageToken = apierror.EncodeTimeCursor(rows[len(rows)-1].CreatedAt, rows[len(rows)-1].ID)
	}
	for _, p := range rows {
		resp.Projects = append(resp.Projects, projectProto(p.ID, p.Name, p.StorageBytes, p.CreatedAt, p.Role))
	}
	return resp, nil
}

func projectProto(id uuid.UUID, name string, storage int64, created time.Time, role int16) *hivesyncv1.Project {
	return &hivesyncv1.Project{Id: id.String(), Name: name, StorageBytes: storage, CreatedAt: timestamppb.New(created), Role: hivesyncv1.ProjectRole(role)}
}
