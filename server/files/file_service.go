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
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// errReadOnly answers viewers who try to write.
var errReadOnly = connect.NewError(connect.CodePermissionDenied, errors.New("viewers cannot change files"))

// checkContent normalizes content and applies the single-file limit before
// anything is written.
func (s *Service) checkContent(raw string) (string, error) {
	content, err := NormalizeContent(raw)
	if err != nil {
		return "", apierror.InvalidArgument("content", strings.TrimPrefix(err.Error(), ErrBadContent.Error()+": "))
	}
	if n := int64(len(content)); n > s.limits.MaxFileBytes {
		return "", apierror.PayloadTooLarge(&hivesyncv1.LimitExceeded{
			Limit: hivesyncv1.Limit_LIMIT_SINGLE_FILE_SIZE, Max: s.limits.MaxFileBytes, Actual: n,
			Message: fmt.Sprintf("the file is %d bytes; files may be at most %d bytes", n, s.limits.MaxFileBytes),
		})
	}
	return content, nil
}

// charge adds bytes to the project's storage, refusing to pass the limit.
func (s *Service) charge(ctx context.Context, q dbgen.Querier, projectID uuid.UUID, n int64) error {
	_, err := q.ProjectAddStorage(ctx, dbgen.ProjectAddStorageParams{ID: projectID, Delta: n, MaxBytes: s.limits.MaxProjectBytes})
	if errors.Is(store.MapError(err), store.ErrNotFound) {
		used, _ := q.ProjectStorage(ctx, projectID)
		return apierror.QuotaExceeded(&hivesyncv1.LimitExceeded{
			Limit: hivesyncv1.Limit_LIMIT_PROJECT_STORAGE, Max: s.limits.MaxProjectBytes, Actual: used + n,
			Message: fmt.Sprintf("the project would use %d bytes; projects may use at most %d bytes", used+n, s.limits.MaxProjectBytes),
		})
	}
	return err
}

// CreateFile implements hivesyncv1connect.FileServiceHandler.
func (s *Service) CreateFile(ctx context.Context, req *hivesyncv1.CreateFileRequest) (*hivesyncv1.CreateFileResponse, error) {
	userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	projectID, err := parseID("project_id", req.GetProjectId())
	if err != nil {
		return nil, err
	}
	file, err := s.create(ctx, userID, projectID, req.GetPath(), req.GetContent(), "")
	if err != nil {
		return nil, err
	}
	return &hivesyncv1.CreateFileResponse{File: file}, nil
}

// create adds a file with its first version, all checks first.
func (s *Service) create(ctx context.Context, userID, projectID uuid.UUID, rawPath, rawContent, key string) (*hivesyncv1.File, error) {
	path, pathKey, err := NormalizePath(rawPath)
	if err != nil {
		return nil, apierror.InvalidArgument("path", strings.TrimPrefix(err.Error(), ErrBadPath.Error()+": "))
	}
	content, err := s.checkContent(rawContent)
	if err != nil {
		return nil, err
	}
	var idem *string
	if key != "" {
		idem = &key
	}
	var out *hivesyncv1.File
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		p, err := q.ProjectGetForMember(ctx, dbgen.ProjectGetForMemberParams{ID: projectID, UserID: userID})
		if err != nil {
			return store.MapError(err)
		}
		if p.Role < int16(hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR) {
			return errReadOnly
		}
		if existing, err := q.FileIDByPathKey(ctx, dbgen.FileIDByPathKeyParams{ProjectID: projectID, PathKey: pathKey}); err == nil && idem != nil {
			// A replayed create that already happened answers the same file.
			if v, err := q.FileVersionByIdempotencyKey(ctx, dbgen.FileVersionByIdempotencyKeyParams{FileID: existing, IdempotencyKey: idem}); err == nil {
				out = &hivesyncv1.File{Id: existing.String(), ProjectId: projectID.String(), Path: path, Head: fullVersionProto(v)}
				return nil
			}
		}
		if err := s.charge(ctx, q, projectID, int64(len(content))); err != nil {
			return err
		}
		fileID, versionID := uuid.New(), uuid.New()
		if _, err = q.FileInsert(ctx, dbgen.FileInsertParams{ID: fileID, ProjectID: projectID, Path: path, PathKey: pathKey, HeadVersionID: versionID}); err != nil {
			if errors.Is(store.MapError(err), store.ErrConflict) {
				return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("a file %q already exists (paths are compared ignoring case)", path))
			}
			return err
		}
		d, err := Compare("/dev/null", path, "", content)
		if err != nil {
			return err
		}
		version, err := q.FileVersionInsert(ctx, dbgen.FileVersionInsertParams{
			ID: versionID, FileID: fileID, Revision: 1, Content: content, ContentSha256: Hash(content), SizeBytes: int64(len(content)),
			AuthorID: userID, LinesAdded: int32(d.LinesAdded), IdempotencyKey: idem,
		})
		if err != nil {
			return err
		}
		out = &hivesyncv1.File{Id: fileID.String(), ProjectId: projectID.String(), Path: path, Head: versionProto(version)}
		return s.announce(ctx, q, projectID, &hivesyncv1.Event{Payload: &hivesyncv1.Event_VersionState{VersionState: &hivesyncv1.VersionStateEvent{
			ProjectId: projectID.String(), FileId: fileID.String(), Path: path, State: hivesyncv1.VersionState_VERSION_STATE_CREATED,
			RevisionId: versionID.String(), Revision: 1, ActorUserId: userID.String(),
		}}})
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return out, nil
}

// GetFile implements hivesyncv1connect.FileServiceHandler.
func (s *Service) GetFile(ctx context.Context, req *hivesyncv1.GetFileRequest) (*hivesyncv1.GetFileResponse, error) {
	f, err := s.file(ctx, req.GetFileId())
	if err != nil {
		return nil, err
	}
	v, err := s.store.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: f.HeadVersionID, FileID: f.ID})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	locks, err := s.store.SoftLockList(ctx, dbgen.SoftLockListParams{FileID: f.ID, Now: s.now()})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return &hivesyncv1.GetFileResponse{File: &hivesyncv1.File{Id: f.ID.String(), ProjectId: f.ProjectID.String(), Path: f.Path, Head: fullVersionProto(v)},
		Content: v.Content, Locks: lockProtos(locks)}, nil
}

// file loads a live file the caller may read.
func (s *Service) file(ctx context.Context, rawID string) (dbgen.FileGetForMemberRow, error) {
	userID, err := caller(ctx)
	if err != nil {
		return dbgen.FileGetForMemberRow{}, err
	}
	id, err := parseID("file_id", rawID)
	if err != nil {
		return dbgen.FileGetForMemberRow{}, err
	}
	f, err := s.store.FileGetForMember(ctx, dbgen.FileGetForMemberParams{ID: id, UserID: userID})
	if err != nil {
		return dbgen.FileGetForMemberRow{}, s.mapErr(ctx, store.MapError(err))
	}
	return f, nil
}

// SaveFile implements hivesyncv1connect.FileServiceHandler. The file row is
// locked for the save, so of concurrent saves on one base exactly one wins;
// the others get Conflict and nothing of theirs is written.
func (s *Service) SaveFile(ctx context.Context, req *hivesyncv1.SaveFileRequest) (*hivesyncv1.SaveFileResponse, error) {
	userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	fileID, err := parseID("file_id", req.GetFileId())
	if err != nil {
		return nil, err
	}
	base, err := parseID("base_revision_id", req.GetBaseRevisionId())
	if err != nil {
		return nil, err
	}
	content := req.GetContent()
	normalized, err := s.checkContent(content)
	if err != nil {
		return nil, err
	}
	expect := Hash(normalized)
	v, err := s.save(ctx, userID, fileID, base, func(string) (string, error) { return content, nil }, req.GetIdempotencyKey(), req.GetDeviceId(), expect)
	if err != nil {
		return nil, err
	}
	return &hivesyncv1.SaveFileResponse{Version: fullVersionProto(v)}, nil
}

// save appends a version made from the base's content by edit, if base is
// still the head; otherwise it returns a Conflict and writes nothing.
//
// A repeated idempotency key answers the version it created, unless
// expectHash (the new content's hash, when known) shows a different save
// reusing the key, which is refused.
func (s *Service) save(ctx context.Context, userID, fileID, base uuid.UUID, edit func(baseContent string) (string, error), rawKey, rawDevice string, expectHash string) (dbgen.FileVersion, error) {
	key := strings.TrimSpace(rawKey)
	if len(key) > 200 {
		return dbgen.FileVersion{}, apierror.InvalidArgument("idempotency_key", "must be at most 200 characters")
	}
	f, err := s.store.FileGetForMember(ctx, dbgen.FileGetForMemberParams{ID: fileID, UserID: userID})
	if err != nil {
		return dbgen.FileVersion{}, s.mapErr(ctx, store.MapError(err))
	}
	if f.Role < int16(hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR) {
		return dbgen.FileVersion{}, errReadOnly
	}
	device, err := s.device(ctx, userID, rawDevice)
	if err != nil {
		return dbgen.FileVersion{}, err
	}
	var saved dbgen.FileVersion
	var refused *hivesyncv1.SaveConflictEvent
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		locked, err := q.FileLockForSave(ctx, f.ID)
		if err != nil {
			return store.MapError(err)
		}
		if key != "" {
			if prior, err := q.FileVersionByIdempotencyKey(ctx, dbgen.FileVersionByIdempotencyKeyParams{FileID: f.ID, IdempotencyKey: &key}); err == nil {
				if expectHash != "" && prior.ContentSha256 != expectHash {
					return apierror.InvalidArgument("idempotency_key", "was already used for a save with other content")
				}
				saved = prior // a retry of a save that already happened
				return nil
			}
		}
		head, err := q.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: locked.HeadVersionID, FileID: f.ID})
		if err != nil {
			return err
		}
		if base != locked.HeadVersionID {
			// The client's content is its edit of its own base, normalized
			// as it would have been stored (so its hash compares with ours).
			baseContent := ""
			if bv, err := q.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: base, FileID: f.ID}); err == nil {
				baseContent = bv.Content
			}
			clientContent := ""
			if raw, err := edit(baseContent); err == nil {
				if clientContent, err = s.checkContent(raw); err != nil {
					return err // invalid content is refused as such, stale or not
				}
			}
			refused = &hivesyncv1.SaveConflictEvent{ProjectId: locked.ProjectID.String(), FileId: f.ID.String(), Path: locked.Path,
				BaseRevisionId: base.String(), HeadRevisionId: head.ID.String(), HeadRevision: head.Revision, AuthorUserId: userID.String(),
				ClientContentSha256: Hash(clientContent)}
			if device != nil {
				refused.DeviceId = device.String()
			}
			return s.conflict(ctx, q, locked, head, base, clientContent)
		}
		raw, err := edit(head.Content)
		if err != nil {
			return err
		}
		content, err := s.checkContent(raw)
		if err != nil {
			return err
		}
		row, err := s.appendVersion(ctx, q, locked, head, content, userID, device, key)
		if err != nil {
			return err
		}
		saved = dbgen.FileVersion{ID: row.ID, FileID: row.FileID, Revision: row.Revision, ContentSha256: row.ContentSha256, SizeBytes: row.SizeBytes,
			AuthorID: row.AuthorID, DeviceID: row.DeviceID, LinesAdded: row.LinesAdded, LinesRemoved: row.LinesRemoved, CreatedAt: row.CreatedAt}
		ev := &hivesyncv1.SaveFileEvent{ProjectId: locked.ProjectID.String(), FileId: f.ID.String(), Path: locked.Path, RevisionId: row.ID.String(),
			Revision: row.Revision, ContentSha256: row.ContentSha256, AuthorUserId: userID.String()}
		if device != nil {
			ev.DeviceId = device.String()
		}
		return s.announce(ctx, q, locked.ProjectID, &hivesyncv1.Event{Payload: &hivesyncv1.Event_SaveFile{SaveFile: ev}})
	})
	if err != nil {
		if refused != nil {
			s.recordConflict(ctx, f.ProjectID, refused)
		}
		return dbgen.FileVersion{}, s.mapErr(ctx, err)
	}
	return saved, nil
}

// recordConflict logs a refused save in the project's history (and tells the
// other devices) after the save's own transaction rolled back. The author
// already has the Conflict answer, so failing to log it is only logged.
func (s *Service) recordConflict(ctx context.Context, projectID uuid.UUID, ev *hivesyncv1.SaveConflictEvent) {
	err := s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		return s.announce(ctx, q, projectID, &hivesyncv1.Event{Payload: &hivesyncv1.Event_SaveConflict{SaveConflict: ev}})
	})
	if err != nil {
		s.log.WarnContext(ctx, "record save conflict", slog.String("error", err.Error()))
	}
}

// appendVersion stores content as the next version of a locked file and
// moves the head to it, charging the project's storage first. Saves and
// snapshot restores both append through here.
func (s *Service) appendVersion(ctx context.Context, q dbgen.Querier, locked dbgen.File, head dbgen.FileVersion, content string,
	author uuid.UUID, device *uuid.UUID, key string) (dbgen.FileVersionInsertRow, error) {
	if err := s.charge(ctx, q, locked.ProjectID, int64(len(content))); err != nil {
		return dbgen.FileVersionInsertRow{}, err
	}
	d, err := Compare(locked.Path, locked.Path, head.Content, content)
	if err != nil {
		return dbgen.FileVersionInsertRow{}, err
	}
	var idem *string
	if key != "" {
		idem = &key
	}
	row, err := q.FileVersionInsert(ctx, dbgen.FileVersionInsertParams{
		ID: uuid.New(), FileID: locked.ID, Revision: locked.HeadRevision + 1, Content: content, ContentSha256: Hash(content),
		SizeBytes: int64(len(content)), AuthorID: author, DeviceID: device, LinesAdded: int32(d.LinesAdded), LinesRemoved: int32(d.LinesRemoved),
		IdempotencyKey: idem,
	})
	if err != nil {
		return dbgen.FileVersionInsertRow{}, err
	}
	if err := q.FileAdvanceHead(ctx, dbgen.FileAdvanceHeadParams{ID: locked.ID, HeadVersionID: row.ID, HeadRevision: row.Revision}); err != nil {
		return dbgen.FileVersionInsertRow{}, err
	}
	return row, nil
}

// device is the saving device: the caller's own (by the given id, which must
// be one of the caller's devices), or none.
func (s *Service) device(ctx context.Context, userID uuid.UUID, raw string) (*uuid.UUID, error) {
	if raw == "" {
		if p := access.PrincipalFrom(ctx); p != nil && p.DeviceID != "" {
			d, err := uuid.Parse(p.DeviceID)
			if err == nil {
				return &d, nil
			}
		}
		return nil, nil
	}
	d, err := parseID("device_id", raw)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.DeviceOwnedBy(ctx, dbgen.DeviceOwnedByParams{ID: d, UserID: userID}); err != nil {
		if errors.Is(store.MapError(err), store.ErrNotFound) {
			return nil, apierror.InvalidArgument("device_id", "is not one of your devices")
		}
		return nil, s.mapErr(ctx, err)
	}
	return &d, nil
}

// conflict builds the Conflict answer: the server head, hashes, and a diff
// from the client's base to the head, enough for a merge view.
func (s *Service) conflict(ctx context.Context, q dbgen.Querier, f dbgen.File, head dbgen.FileVersion, base uuid.UUID, content string) error {
	detail := &hivesyncv1.Conflict{
		FileId: f.ID.String(), Path: f.Path, BaseRevisionId: base.String(), HeadRevisionId: head.ID.String(),
		HeadRevision: head.Revision, HeadContentSha256: head.ContentSha256, ClientContentSha256: Hash(content),
	}
	if baseVersion, err := q.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: base, FileID: f.ID}); err == nil {
		d, err := Compare(fmt.Sprintf("%s@%d", f.Path, baseVersion.Revision), fmt.Sprintf("%s@%d", f.Path, head.Revision), baseVersion.Content, head.Content)
		if err != nil {
			return err
		}
		detail.UnifiedDiff = d.Unified
	} else if !errors.Is(store.MapError(err), store.ErrNotFound) {
		return err
	}
	return apierror.Conflict(detail)
}

// announce appends an event to the project's channel in the same transaction.
func (s *Service) announce(ctx context.Context, q dbgen.Querier, projectID uuid.UUID, ev *hivesyncv1.Event) error {
	_, err := events.Append(ctx, q, events.ProjectChannel(projectID.String()), ev, s.now())
	return err
}

// ListFiles implements hivesyncv1connect.FileServiceHandler.
func (s *Service) ListFiles(ctx context.Context, req *hivesyncv1.ListFilesRequest) (*hivesyncv1.ListFilesResponse, error) {
	userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	projectID, err := parseID("project_id", req.GetProjectId())
	if err != nil {
		return nil, err
	}
	if _, err := s.store.ProjectGetForMember(ctx, dbgen.ProjectGetForMemberParams{ID: projectID, UserID: userID}); err != nil {
		return nil, s.mapErr(ctx, store.MapError(err))
	}
	size, err := apierror.PageSize(req.GetPageSize(), 1000, 5000)
	if err != nil {
		return nil, err
	}
	params := dbgen.FileListByProjectParams{ProjectID: projectID, IncludeDeleted: req.GetIncludeDeleted(), MaxRows: size + 1}
	if req.GetPageToken() != "" {
		if params.AfterPath, params.AfterID, err = pathCursor(req.GetPageToken()); err != nil {
			return nil, err
		}
	}
	rows, err := s.store.FileListByProject(ctx, params)
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	resp := &hivesyncv1.ListFilesResponse{}
	if len(rows) > int(size) {
		rows = rows[:size]
		last := rows[len(rows)-1]
		resp.NextPageToken = apierror.EncodeCursor(last.Path, last.ID.String())
	}
	for _, r := range rows {
		file := &hivesyncv1.File{Id: r.ID.String(), ProjectId: r.ProjectID.String(), Path: r.Path, Head: fullVersionProto(dbgen.FileVersion{
			ID: r.VersionID, FileID: r.ID, Revision: r.Revision, ContentSha256: r.ContentSha256, SizeBytes: r.SizeBytes, AuthorID: r.AuthorID,
			DeviceID: r.DeviceID, LinesAdded: r.LinesAdded, LinesRemoved: r.LinesRemoved, CreatedAt: r.CreatedAt,
		})}
		if r.DeletedAt != nil {
			file.DeletedAt = timestamppb.New(*r.DeletedAt)
		}
		resp.Files = append(resp.Files, file)
	}
	return resp, nil
}

// ListVersions implements hivesyncv1connect.FileServiceHandler.
func (s *Service) ListVersions(ctx context.Context, req *hivesyncv1.ListVersionsRequest) (*hivesyncv1.ListVersionsResponse, error) {
	f, err := s.file(ctx, req.GetFileId())
	if err != nil {
		return nil, err
	}
	size, before, err := apierror.Page(req.GetPageSize(), req.GetPageToken(), 100, 1000)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.FileVersionList(ctx, dbgen.FileVersionListParams{FileID: f.ID, BeforeRevision: before, PageSize: size + 1})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	resp := &hivesyncv1.ListVersionsResponse{}
	for i, r := range rows {
		if i == int(size) {
			resp.NextPageToken = strconv.FormatInt(rows[i-1].Revision, 10)
			break
		}
		resp.Versions = append(resp.Versions, fullVersionProto(dbgen.FileVersion{ID: r.ID, FileID: r.FileID, Revision: r.Revision, ContentSha256: r.ContentSha256,
			SizeBytes: r.SizeBytes, AuthorID: r.AuthorID, DeviceID: r.DeviceID, LinesAdded: r.LinesAdded, LinesRemoved: r.LinesRemoved, CreatedAt: r.CreatedAt}))
	}
	return resp, nil
}

// GetVersion implements hivesyncv1connect.FileServiceHandler.
func (s *Service) GetVersion(ctx context.Context, req *hivesyncv1.GetVersionRequest) (*hivesyncv1.GetVersionResponse, error) {
	f, err := s.file(ctx, req.GetFileId())
	if err != nil {
		return nil, err
	}
	id, err := parseID("revision_id", req.GetRevisionId())
	if err != nil {
		return nil, err
	}
	v, err := s.store.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: id, FileID: f.ID})
	if err != nil {
		return nil, s.mapErr(ctx, store.MapError(err))
	}
	return &hivesyncv1.GetVersionResponse{Version: fullVersionProto(v), Content: v.Content}, nil
}

// DiffVersions implements hivesyncv1connect.FileServiceHandler.
func (s *Service) DiffVersions(ctx context.Context, req *hivesyncv1.DiffVersionsRequest) (*hivesyncv1.DiffVersionsResponse, error) {
	f, err := s.file(ctx, req.GetFileId())
	if err != nil {
		return nil, err
	}
	fromID, err := parseID("from_revision_id", req.GetFromRevisionId())
	if err != nil {
		return nil, err
	}
	toID := f.HeadVersionID
	if req.GetToRevisionId() != "" {
		if toID, err = parseID("to_revision_id", req.GetToRevisionId()); err != nil {
			return nil, err
		}
	}
	from, err := s.store.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: fromID, FileID: f.ID})
	if err != nil {
		return nil, s.mapErr(ctx, store.MapError(err))
	}
	to, err := s.store.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: toID, FileID: f.ID})
	if err != nil {
		return nil, s.mapErr(ctx, store.MapError(err))
	}
	d, err := Compare(fmt.Sprintf("%s@%d", f.Path, from.Revision), fmt.Sprintf("%s@%d", f.Path, to.Revision), from.Content, to.Content)
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return &hivesyncv1.DiffVersionsResponse{UnifiedDiff: d.Unified, LinesAdded: int32(d.LinesAdded), LinesRemoved: int32(d.LinesRemoved)}, nil
}

// mapErr turns store and domain errors into API errors; a missing row is
// not_found whether the file is absent or the caller is not a member.
func (s *Service) mapErr(ctx context.Context, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	return apierror.FromDomain(ctx, s.log, err)
}

func versionProto(v dbgen.FileVersionInsertRow) *hivesyncv1.FileVersion {
	return fullVersionProto(dbgen.FileVersion{ID: v.ID, FileID: v.FileID, Revision: v.Revision, ContentSha256: v.ContentSha256, SizeBytes: v.SizeBytes,
		AuthorID: v.AuthorID, DeviceID: v.DeviceID, LinesAdded: v.LinesAdded, LinesRemoved: v.LinesRemoved, CreatedAt: v.CreatedAt})
}

func fullVersionProto(v dbgen.FileVersion) *hivesyncv1.FileVersion {
	out := &hivesyncv1.FileVersion{
		Id: v.ID.String(), Revision: v.Revision, ContentSha256: v.ContentSha256, SizeBytes: v.SizeBytes, AuthorUserId: v.AuthorID.String(),
		LinesAdded: v.LinesAdded, LinesRemoved: v.LinesRemoved, CreatedAt: timestamppb.New(v.CreatedAt),
	}
	if v.DeviceID != nil {
		out.DeviceId = v.DeviceID.String()
	}
	return out
}

// pathCursor reads a ListFiles page token (path, id).
func pathCursor(token string) (string, uuid.UUID, error) {
	parts, err := apierror.DecodeCursor(token, 2)
	if err != nil {
		return "", uuid.Nil, err
	}
	id, err := uuid.Parse(parts[1])
	if err != nil {
		return "", uuid.Nil, apierror.InvalidArgument("page_token", "is not a token from a previous page")
	}
	return parts[0], id, nil
}

// timeCursor reads a page token (time, id) of a newest-first listing; no
// token starts after the end of time.
func timeCursor(token string) (time.Time, uuid.UUID, error) {
	if token == "" {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), uuid.Max, nil
	}
	parts, err := apierror.DecodeCursor(token, 2)
	if err != nil {
		return time.Time{}, uuid.Nil, err
	}
	at, terr := time.Parse(time.RFC3339Nano, parts[0])
	id, ierr := uuid.Parse(parts[1])
	if terr != nil || ierr != nil {
		return time.Time{}, uuid.Nil, apierror.InvalidArgument("page_token", "is not a token from a previous page")
	}
	return at, id, nil
}

// encodeTimeCursor is the page token after a row sorted by (time, id).
func encodeTimeCursor(at time.Time, id uuid.UUID) string {
	return apierror.EncodeCursor(at.UTC().Format(time.RFC3339Nano), id.String())
}
