package files

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
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
		return s.storageExceeded(used, n)
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
			// Another create that used the key (another user, other content)
			// is not this one: it goes on, and finds the path taken.
			v, err := q.FileVersionByIdempotencyKey(ctx, dbgen.FileVersionByIdempotencyKeyParams{FileID: existing, IdempotencyKey: idem})
			if err == nil && v.AuthorID == userID && v.ContentSha256 == Hash(content) {
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
		added, _, hunks := CountChanges("", content)
		version, err := q.FileVersionInsert(ctx, dbgen.FileVersionInsertParams{
			ID: versionID, FileID: fileID, Revision: 1, Content: content, ContentSha256: Hash(content), SizeBytes: int64(len(content)),
			AuthorID: userID, LinesAdded: int32(added), Hunks: pgtype.Int4{Int32: int32(hunks), Valid: true}, IdempotencyKey: idem,
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

// fileWithHistory loads a file the caller may read, deleted or not: the
// versions of a deleted file stay readable (a user looks through them
// before restoring it), though the file itself is gone from the tree.
func (s *Service) fileWithHistory(ctx context.Context, rawID string) (dbgen.FileGetForMemberAnyRow, error) {
	userID, err := caller(ctx)
	if err != nil {
		return dbgen.FileGetForMemberAnyRow{}, err
	}
	id, err := parseID("file_id", rawID)
	if err != nil {
		return dbgen.FileGetForMemberAnyRow{}, err
	}
	f, err := s.store.FileGetForMemberAny(ctx, dbgen.FileGetForMemberAnyParams{ID: id, UserID: userID})
	if err != nil {
		return dbgen.FileGetForMemberAnyRow{}, s.mapErr(ctx, store.MapError(err))
	}
	return f, nil
}

// SaveFile implements hivesyncv1connect.FileServiceHandler. Of concurrent
// saves on one base exactly one wins (the compare-and-set runs under the file
// row's lock); the others get Conflict and nothing of theirs is written.
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
	content, err := s.checkContent(req.GetContent())
	if err != nil {
		return nil, err
	}
	v, err := s.save(ctx, saveRequest{
		userID: userID, fileID: fileID, base: base, content: content, contentHash: Hash(content),
		key: req.GetIdempotencyKey(), device: req.GetDeviceId(),
	})
	if err != nil {
		return nil, err
	}
	return &hivesyncv1.SaveFileResponse{Version: fullVersionProto(v)}, nil
}

// saveRequest is one save: of file by user, on base.
type saveRequest struct {
	userID, fileID, base uuid.UUID
	// content (checked and normalized) and contentHash are the new content
	// when the caller has it; otherwise edit makes it from the base's content
	// (a queued patch) and save checks it.
	content, contentHash string
	edit                 func(baseContent string) (string, error)
	// key is the idempotency key, device the saving device's id ("" for the
	// caller's session's device).
	key, device string
}

// maxSaveReads bounds how many times a save reads the file: a write that
// finds the file changed since the read (another save won, the file was
// renamed or deleted, the role or the project's room changed) reads again,
// and that read almost always decides (Conflict, NotFound…) at once.
const maxSaveReads = 4

// save appends a version made from the base's content, if base is still the
// head; otherwise it returns a Conflict and writes nothing. A repeated
// idempotency key answers the version it created, unless the content's hash
// (when known) shows a different save reusing the key, which is refused.
//
// A save is one read and one write, each a single statement. The read
// (FileSaveBase, no lock) decides everything that can be refused: membership
// and role, device, idempotency, conflict, limits; and gives the base's
// content for the line counts. The write (FileVersionAppend) locks the file
// row and appends the version only if the head is still the base (and the
// rest still holds), in the same statement as the storage charge and the
// save_file event. Deciding a conflict from the read is exact: the head only
// ever moves to a new version, so a base that is not the head never is again.
// When this node created the base (recentVersions), the save is the write
// alone, and falls back to the read if the write finds anything changed.
func (s *Service) save(ctx context.Context, r saveRequest) (dbgen.FileVersion, error) {
	key := strings.TrimSpace(r.key)
	if len(key) > 200 {
		return dbgen.FileVersion{}, apierror.InvalidArgument("idempotency_key", "must be at most 200 characters")
	}
	var idem *string
	if key != "" {
		idem = &key
	}
	device, explicitDevice, deviceErr := saveDevice(ctx, r.device)
	if r.edit == nil && r.device == "" {
		// The usual save: on the head this node's previous save of the file
		// returned. Anything the read would refuse fails the write instead,
		// and is then answered by the read below.
		if b, ok := s.recent.take(r.base, r.fileID); ok {
			v, err := s.commit(ctx, r, b, r.content, r.contentHash, device, idem)
			if !errors.Is(err, errFileChanged) {
				return v, s.mapErr(ctx, err)
			}
		}
	}
	for range maxSaveReads {
		st, err := s.store.FileSaveBase(ctx, dbgen.FileSaveBaseParams{ID: r.fileID, UserID: r.userID, BaseVersionID: r.base, IdempotencyKey: key, DeviceID: explicitDevice})
		if err != nil {
			return dbgen.FileVersion{}, s.mapErr(ctx, store.MapError(err))
		}
		switch {
		case st.Role < int16(hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR):
			return dbgen.FileVersion{}, errReadOnly
		case deviceErr != nil:
			return dbgen.FileVersion{}, deviceErr
		case explicitDevice != nil && !st.DeviceOwned:
			return dbgen.FileVersion{}, apierror.InvalidArgument("device_id", "is not one of your devices")
		case st.KeyUsed:
			hash := r.contentHash
			if r.edit != nil {
				// A queued patch: the content it made on its base is what the
				// first attempt stored, if this is that attempt's retry.
				hash = "-" // matches no version: the patch no longer applies
				if raw, err := r.edit(st.BaseContent); err == nil && st.BaseFound {
					if content, err := s.checkContent(raw); err == nil {
						hash = Hash(content)
					}
				}
			}
			return s.saved(ctx, r.fileID, r.userID, key, hash)
		case st.HeadVersionID != r.base:
			return dbgen.FileVersion{}, s.refuse(ctx, r, st, device)
		}
		content, hash := r.content, r.contentHash
		if r.edit != nil {
			raw, err := r.edit(st.BaseContent)
			if err != nil {
				return dbgen.FileVersion{}, err
			}
			if content, err = s.checkContent(raw); err != nil {
				return dbgen.FileVersion{}, err
			}
			hash = Hash(content)
		}
		if used := st.StorageBytes; used+int64(len(content)) > s.limits.MaxProjectBytes {
			return dbgen.FileVersion{}, s.storageExceeded(used, int64(len(content)))
		}
		base := recentVersion{id: r.base, fileID: r.fileID, projectID: st.ProjectID, path: st.Path, revision: st.HeadRevision, content: st.BaseContent}
		v, err := s.commit(ctx, r, base, content, hash, device, idem)
		if !errors.Is(err, errFileChanged) {
			return v, s.mapErr(ctx, err)
		}
	}
	return dbgen.FileVersion{}, connect.NewError(connect.CodeUnavailable, errors.New("the file kept changing during the save; retry"))
}

// commit appends content as the version after base, if base is still the
// head (else errFileChanged), with the save_file event, and remembers the new
// version for the next save on it.
func (s *Service) commit(ctx context.Context, r saveRequest, base recentVersion, content, hash string, device *uuid.UUID, key *string) (dbgen.FileVersion, error) {
	v, err := s.appendVersion(ctx, s.store, versionAppend{
		fileID: r.fileID, projectID: base.projectID, path: base.path, head: base.id, headRevision: base.revision, headContent: base.content,
		content: content, contentHash: hash, author: r.userID, device: device, key: key,
	}, func(v dbgen.FileVersion) *hivesyncv1.Event {
		ev := &hivesyncv1.SaveFileEvent{ProjectId: base.projectID.String(), FileId: r.fileID.String(), Path: base.path, RevisionId: v.ID.String(),
			Revision: v.Revision, ContentSha256: v.ContentSha256, AuthorUserId: r.userID.String()}
		if device != nil {
			ev.DeviceId = device.String()
		}
		return &hivesyncv1.Event{Payload: &hivesyncv1.Event_SaveFile{SaveFile: ev}}
	})
	if err != nil {
		return dbgen.FileVersion{}, err
	}
	s.recent.add(recentVersion{id: v.ID, fileID: r.fileID, projectID: base.projectID, path: base.path, revision: v.Revision, content: content})
	return v, nil
}

// saveDevice is the saving device: the caller's session's when raw is
// empty, else raw (explicit), which must then be one of the caller's devices
// (FileSaveBase checks). A malformed raw is an error kept for after the
// membership checks, as the device check always came after them.
func saveDevice(ctx context.Context, raw string) (device, explicit *uuid.UUID, err error) {
	if raw == "" {
		return sessionDevice(ctx), nil, nil
	}
	d, err := parseID("device_id", raw)
	if err != nil {
		return nil, nil, err
	}
	return &d, &d, nil
}

// saved answers a save retried with its idempotency key: the version the
// first attempt created, unless that version is another save's that reused
// the key: another user's, or (when contentHash is known) other content.
// Then nothing is written and the caller is told, never handed a version
// that is not its own.
func (s *Service) saved(ctx context.Context, fileID, userID uuid.UUID, key, contentHash string) (dbgen.FileVersion, error) {
	prior, err := s.store.FileVersionByIdempotencyKey(ctx, dbgen.FileVersionByIdempotencyKeyParams{FileID: fileID, IdempotencyKey: &key})
	if err != nil {
		return dbgen.FileVersion{}, s.mapErr(ctx, err)
	}
	if prior.AuthorID != userID || contentHash != "" && prior.ContentSha256 != contentHash {
		return dbgen.FileVersion{}, apierror.InvalidArgument("idempotency_key", "was already used for a save with other content")
	}
	return prior, nil
}

// refuse answers a save on a base that is no longer the head: a Conflict
// with what a merge view needs, logged in the project's history.
func (s *Service) refuse(ctx context.Context, r saveRequest, st dbgen.FileSaveBaseRow, device *uuid.UUID) error {
	baseContent := ""
	if st.BaseFound {
		baseContent = st.BaseContent
	}
	// The client's content is its edit of its own base, normalized as it
	// would have been stored (so its hash compares with ours).
	clientContent := r.content
	if r.edit != nil {
		if raw, err := r.edit(baseContent); err == nil {
			var err error
			if clientContent, err = s.checkContent(raw); err != nil {
				return err // invalid content is refused as such, stale or not
			}
		}
	}
	head, err := s.store.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: st.HeadVersionID, FileID: r.fileID})
	if err != nil {
		return s.mapErr(ctx, store.MapError(err))
	}
	detail := &hivesyncv1.Conflict{
		FileId: r.fileID.String(), Path: st.Path, BaseRevisionId: r.base.String(), HeadRevisionId: head.ID.String(),
		HeadRevision: head.Revision, HeadContentSha256: head.ContentSha256, ClientContentSha256: Hash(clientContent),
	}
	if st.BaseFound {
		detail.UnifiedDiff = Compare(fmt.Sprintf("%s@%d", st.Path, st.BaseRevision), fmt.Sprintf("%s@%d", st.Path, head.Revision), baseContent, head.Content).Unified
	}
	ev := &hivesyncv1.SaveConflictEvent{ProjectId: st.ProjectID.String(), FileId: r.fileID.String(), Path: st.Path,
		BaseRevisionId: r.base.String(), HeadRevisionId: head.ID.String(), HeadRevision: head.Revision, AuthorUserId: r.userID.String(),
		ClientContentSha256: detail.ClientContentSha256}
	if device != nil {
		ev.DeviceId = device.String()
	}
	// The history records the refused save. The author gets the Conflict
	// either way, so failing to log it is only logged.
	if err := s.announce(ctx, s.store, st.ProjectID, &hivesyncv1.Event{Payload: &hivesyncv1.Event_SaveConflict{SaveConflict: ev}}); err != nil {
		s.log.WarnContext(ctx, "record save conflict", slog.String("error", err.Error()))
	}
	return apierror.Conflict(detail)
}

// storageExceeded is the error of a project without room for n more bytes.
func (s *Service) storageExceeded(used, n int64) error {
	return apierror.QuotaExceeded(&hivesyncv1.LimitExceeded{
		Limit: hivesyncv1.Limit_LIMIT_PROJECT_STORAGE, Max: s.limits.MaxProjectBytes, Actual: used + n,
		Message: fmt.Sprintf("the project would use %d bytes; projects may use at most %d bytes", used+n, s.limits.MaxProjectBytes),
	})
}

// errFileChanged means FileVersionAppend found the file no longer as read:
// its head, path or deletion, the author's role or the project's room.
var errFileChanged = errors.New("the file changed since it was read")

// versionAppend is a new version of a file whose head was read as head.
type versionAppend struct {
	fileID, projectID uuid.UUID
	path              string
	head              uuid.UUID
	headRevision      int64
	headContent       string
	content           string
	contentHash       string
	author            uuid.UUID
	device            *uuid.UUID
	key               *string
}

// appendVersion stores a.content as the next version of the file, moves the
// head to it, charges the project's storage and appends the event made for
// the version to the project's channel, all in one statement on q, and only
// if the file is still as read (else errFileChanged, nothing written). Saves
// and snapshot restores both append through here.
func (s *Service) appendVersion(ctx context.Context, q dbgen.Querier, a versionAppend, event func(dbgen.FileVersion) *hivesyncv1.Event) (dbgen.FileVersion, error) {
	added, removed, hunks := CountChanges(a.headContent, a.content)
	v := dbgen.FileVersion{
		ID: uuid.New(), FileID: a.fileID, Revision: a.headRevision + 1, ContentSha256: a.contentHash, SizeBytes: int64(len(a.content)),
		AuthorID: a.author, DeviceID: a.device, LinesAdded: int32(added), LinesRemoved: int32(removed),
		Hunks: pgtype.Int4{Int32: int32(hunks), Valid: true}, IdempotencyKey: a.key,
	}
	enc, err := events.Encode(events.ProjectChannel(a.projectID.String()), event(v), s.now())
	if err != nil {
		return dbgen.FileVersion{}, err
	}
	row, err := store.AppendFileVersion(ctx, q, dbgen.FileVersionAppendParams{
		FileID: a.fileID, Path: a.path, BaseVersionID: a.head, BaseRevision: a.headRevision,
		AuthorID: a.author, MinRole: int16(hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR), MaxProjectBytes: s.limits.MaxProjectBytes,
		ID: v.ID, Content: a.content, ContentSha256: v.ContentSha256, SizeBytes: v.SizeBytes, DeviceID: v.DeviceID,
		LinesAdded: v.LinesAdded, LinesRemoved: v.LinesRemoved, Hunks: v.Hunks.Int32, IdempotencyKey: v.IdempotencyKey,
		Channel: enc.Channel, EventType: enc.EventType, EventPayload: enc.Payload,
	})
	if err := store.MapError(err); errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		// No row: a condition failed. A unique violation: the idempotency
		// key was used meanwhile. Either way a new read tells which.
		return dbgen.FileVersion{}, errFileChanged
	} else if err != nil {
		return dbgen.FileVersion{}, fmt.Errorf("append file version: %w", err)
	}
	v.CreatedAt = row.CreatedAt
	return v, nil
}

// device is the saving device: the caller's own (by the given id, which must
// be one of the caller's devices), or none.
func (s *Service) device(ctx context.Context, userID uuid.UUID, raw string) (*uuid.UUID, error) {
	if raw == "" {
		return sessionDevice(ctx), nil
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

// sessionDevice is the device of the caller's session, if it has one.
func sessionDevice(ctx context.Context) *uuid.UUID {
	if p := access.PrincipalFrom(ctx); p != nil && p.DeviceID != "" {
		if d, err := uuid.Parse(p.DeviceID); err == nil {
			return &d
		}
	}
	return nil
}

// announce appends an event to the project's channel in q's transaction (or
// on its own when q is the store).
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
			DeviceID: r.DeviceID, LinesAdded: r.LinesAdded, LinesRemoved: r.LinesRemoved, Hunks: r.Hunks, CreatedAt: r.CreatedAt,
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
	f, err := s.fileWithHistory(ctx, req.GetFileId())
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
			SizeBytes: r.SizeBytes, AuthorID: r.AuthorID, DeviceID: r.DeviceID, LinesAdded: r.LinesAdded, LinesRemoved: r.LinesRemoved, Hunks: r.Hunks, CreatedAt: r.CreatedAt}))
	}
	return resp, nil
}

// GetVersion implements hivesyncv1connect.FileServiceHandler.
func (s *Service) GetVersion(ctx context.Context, req *hivesyncv1.GetVersionRequest) (*hivesyncv1.GetVersionResponse, error) {
	f, err := s.fileWithHistory(ctx, req.GetFileId())
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
	f, err := s.fileWithHistory(ctx, req.GetFileId())
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
	d := Compare(fmt.Sprintf("%s@%d", f.Path, from.Revision), fmt.Sprintf("%s@%d", f.Path, to.Revision), from.Content, to.Content)
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
		AuthorID: v.AuthorID, DeviceID: v.DeviceID, LinesAdded: v.LinesAdded, LinesRemoved: v.LinesRemoved, Hunks: v.Hunks, CreatedAt: v.CreatedAt})
}

func fullVersionProto(v dbgen.FileVersion) *hivesyncv1.FileVersion {
	out := &hivesyncv1.FileVersion{
		Id: v.ID.String(), Revision: v.Revision, ContentSha256: v.ContentSha256, SizeBytes: v.SizeBytes, AuthorUserId: v.AuthorID.String(),
		LinesAdded: v.LinesAdded, LinesRemoved: v.LinesRemoved, CreatedAt: timestamppb.New(v.CreatedAt),
	}
	if v.DeviceID != nil {
		out.DeviceId = v.DeviceID.String()
	}
	if v.Hunks.Valid {
		out.Hunks = &v.Hunks.Int32
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
