package files

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

var _ hivesyncv1connect.SnapshotServiceHandler = (*Service)(nil)

// CreateSnapshot implements hivesyncv1connect.SnapshotServiceHandler.
func (s *Service) CreateSnapshot(ctx context.Context, req *hivesyncv1.CreateSnapshotRequest) (*hivesyncv1.CreateSnapshotResponse, error) {
	userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	projectID, err := parseID("project_id", req.GetProjectId())
	if err != nil {
		return nil, err
	}
	label := strings.TrimSpace(req.GetLabel())
	if utf8.RuneCountInString(label) > 200 || !utf8.ValidString(label) {
		return nil, apierror.InvalidArgument("label", "must be at most 200 characters")
	}
	var out *hivesyncv1.Snapshot
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		p, err := q.ProjectGetForMember(ctx, dbgen.ProjectGetForMemberParams{ID: projectID, UserID: userID})
		if err != nil {
			return store.MapError(err)
		}
		if p.Role < int16(hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR) {
			return errReadOnly
		}
		snap, err := q.SnapshotInsert(ctx, dbgen.SnapshotInsertParams{ID: uuid.New(), ProjectID: projectID, Label: label, CreatedBy: userID})
		if err != nil {
			return err
		}
		n, err := q.SnapshotCapture(ctx, dbgen.SnapshotCaptureParams{SnapshotID: snap.ID, ProjectID: projectID})
		if err != nil {
			return err
		}
		out = snapshotProto(snap, int32(n))
		return s.announce(ctx, q, projectID, &hivesyncv1.Event{Payload: &hivesyncv1.Event_SnapshotCreated{SnapshotCreated: &hivesyncv1.SnapshotEvent{
			ProjectId: projectID.String(), SnapshotId: snap.ID.String(), Label: label, ActorUserId: userID.String(), FileCount: int32(n),
		}}})
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return &hivesyncv1.CreateSnapshotResponse{Snapshot: out}, nil
}

// ListSnapshots implements hivesyncv1connect.SnapshotServiceHandler.
func (s *Service) ListSnapshots(ctx context.Context, req *hivesyncv1.ListSnapshotsRequest) (*hivesyncv1.ListSnapshotsResponse, error) {
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
	size, err := apierror.PageSize(req.GetPageSize(), 100, 1000)
	if err != nil {
		return nil, err
	}
	before, beforeID, err := apierror.TimeCursor(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	rows, err := s.store.SnapshotList(ctx, dbgen.SnapshotListParams{ProjectID: projectID, BeforeTime: before, BeforeID: beforeID, MaxRows: size + 1})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	resp := &hivesyncv1.ListSnapshotsResponse{}
	if len(rows) > int(size) {
		rows = rows[:size]
		resp.NextPageToken = apierror.EncodeTimeCursor(rows[len(rows)-1].CreatedAt, rows[len(rows)-1].ID)
	}
	for _, r := range rows {
		resp.Snapshots = append(resp.Snapshots, snapshotProto(dbgen.Snapshot{ID: r.ID, ProjectID: r.ProjectID, Label: r.Label, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}, r.FileCount))
	}
	return resp, nil
}

// snapshot loads a snapshot the caller can see.
func (s *Service) snapshot(ctx context.Context, raw string) (dbgen.SnapshotGetForMemberRow, uuid.UUID, error) {
	userID, err := caller(ctx)
	if err != nil {
		return dbgen.SnapshotGetForMemberRow{}, uuid.Nil, err
	}
	id, err := parseID("snapshot_id", raw)
	if err != nil {
		return dbgen.SnapshotGetForMemberRow{}, uuid.Nil, err
	}
	snap, err := s.store.SnapshotGetForMember(ctx, dbgen.SnapshotGetForMemberParams{ID: id, UserID: userID})
	if err != nil {
		return dbgen.SnapshotGetForMemberRow{}, uuid.Nil, s.mapErr(ctx, store.MapError(err))
	}
	return snap, userID, nil
}

// GetSnapshot implements hivesyncv1connect.SnapshotServiceHandler.
func (s *Service) GetSnapshot(ctx context.Context, req *hivesyncv1.GetSnapshotRequest) (*hivesyncv1.GetSnapshotResponse, error) {
	snap, _, err := s.snapshot(ctx, req.GetSnapshotId())
	if err != nil {
		return nil, err
	}
	rows, err := s.store.SnapshotFiles(ctx, snap.ID)
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	resp := &hivesyncv1.GetSnapshotResponse{Snapshot: snapshotProto(dbgen.Snapshot{ID: snap.ID, ProjectID: snap.ProjectID, Label: snap.Label, CreatedBy: snap.CreatedBy, CreatedAt: snap.CreatedAt}, snap.FileCount)}
	for _, r := range rows {
		resp.Files = append(resp.Files, &hivesyncv1.SnapshotFile{FileId: r.FileID.String(), Path: r.Path, Version: fullVersionProto(dbgen.FileVersion{
			ID: r.ID, FileID: r.FileID, Revision: r.Revision, ContentSha256: r.ContentSha256, SizeBytes: r.SizeBytes, AuthorID: r.AuthorID,
			DeviceID: r.DeviceID, LinesAdded: r.LinesAdded, LinesRemoved: r.LinesRemoved, CreatedAt: r.CreatedAt,
		})})
	}
	return resp, nil
}

// RestoreSnapshot implements hivesyncv1connect.SnapshotServiceHandler. In one
// transaction, each file whose head differs from the snapshot gets a new
// version with the snapshot's content; nothing is deleted or rewritten.
func (s *Service) RestoreSnapshot(ctx context.Context, req *hivesyncv1.RestoreSnapshotRequest) (*hivesyncv1.RestoreSnapshotResponse, error) {
	snap, userID, err := s.snapshot(ctx, req.GetSnapshotId())
	if err != nil {
		return nil, err
	}
	if snap.Role < int16(hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR) {
		return nil, errReadOnly
	}
	resp := &hivesyncv1.RestoreSnapshotResponse{}
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		rows, err := q.SnapshotFiles(ctx, snap.ID)
		if err != nil {
			return err
		}
		// Every file is locked before the first version is appended, in
		// file id order. An append takes the project's rows; a concurrent
		// save holds its file and waits for them, so taking a file lock
		// while holding them could deadlock with it. Groups of saves take
		// their files in the same order (store/savegroup.go).
		byID := slices.Clone(rows)
		slices.SortFunc(byID, func(a, b dbgen.SnapshotFilesRow) int { return bytes.Compare(a.FileID[:], b.FileID[:]) })
		live := make(map[uuid.UUID]dbgen.File, len(rows))
		for _, r := range byID {
			locked, err := q.FileLockForSave(ctx, r.FileID)
			if errors.Is(store.MapError(err), store.ErrNotFound) {
				continue // the file is gone; restoring deleted files comes with delete/restore
			}
			if err != nil {
				return err
			}
			live[r.FileID] = locked
		}
		for _, r := range rows {
			locked, ok := live[r.FileID]
			if !ok {
				continue
			}
			if locked.HeadVersionID == r.ID {
				resp.Unchanged++
				continue
			}
			old, err := q.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: r.ID, FileID: r.FileID})
			if err != nil {
				return err
			}
			head, err := q.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: locked.HeadVersionID, FileID: r.FileID})
			if err != nil {
				return err
			}
			v, err := s.appendVersion(ctx, q, versionAppend{
				fileID: r.FileID, projectID: locked.ProjectID, path: locked.Path, head: head.ID, headRevision: head.Revision, headContent: head.Content,
				content: old.Content, contentHash: old.ContentSha256, author: userID,
			}, func(v dbgen.FileVersion) *hivesyncv1.Event {
				return &hivesyncv1.Event{Payload: &hivesyncv1.Event_VersionState{VersionState: &hivesyncv1.VersionStateEvent{
					ProjectId: locked.ProjectID.String(), FileId: r.FileID.String(), Path: locked.Path, State: hivesyncv1.VersionState_VERSION_STATE_SNAPSHOT_RESTORED,
					RevisionId: v.ID.String(), Revision: v.Revision, ActorUserId: userID.String(),
				}}}
			})
			if errors.Is(err, errFileChanged) {
				// The file row is locked: what changed is the project's
				// room or the caller's role.
				used, serr := q.ProjectStorage(ctx, locked.ProjectID)
				if serr == nil && used+int64(len(old.Content)) > s.limits.MaxProjectBytes {
					return s.storageExceeded(used, int64(len(old.Content)))
				}
				return errReadOnly
			}
			if err != nil {
				return err
			}
			resp.Restored = append(resp.Restored, &hivesyncv1.SnapshotFile{FileId: r.FileID.String(), Path: locked.Path, Version: fullVersionProto(v)})
		}
		return s.announce(ctx, q, snap.ProjectID, &hivesyncv1.Event{Payload: &hivesyncv1.Event_SnapshotRestored{SnapshotRestored: &hivesyncv1.SnapshotEvent{
			ProjectId: snap.ProjectID.String(), SnapshotId: snap.ID.String(), Label: snap.Label, ActorUserId: userID.String(),
			FileCount: int32(len(rows)), RestoredCount: int32(len(resp.Restored)),
		}}})
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return resp, nil
}

func snapshotProto(s dbgen.Snapshot, files int32) *hivesyncv1.Snapshot {
	return &hivesyncv1.Snapshot{Id: s.ID.String(), ProjectId: s.ProjectID.String(), Label: s.Label, FileCount: files,
		CreatedByUserId: s.CreatedBy.String(), CreatedAt: timestamppb.New(s.CreatedAt)}
}

// DiffSnapshot implements hivesyncv1connect.SnapshotServiceHandler.
func (s *Service) DiffSnapshot(ctx context.Context, req *hivesyncv1.DiffSnapshotRequest) (*hivesyncv1.DiffSnapshotResponse, error) {
	snap, _, err := s.snapshot(ctx, req.GetSnapshotId())
	if err != nil {
		return nil, err
	}
	rows, err := s.store.SnapshotDiff(ctx, dbgen.SnapshotDiffParams{SnapshotID: snap.ID, ProjectID: snap.ProjectID})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	resp := &hivesyncv1.DiffSnapshotResponse{}
	for _, r := range rows {
		inSnapshot := r.SnapshotVersionID != uuid.Nil
		d := &hivesyncv1.SnapshotFileDiff{FileId: r.FileID.String(), SnapshotPath: r.SnapshotPath}
		if inSnapshot {
			d.SnapshotRevisionId = r.SnapshotVersionID.String()
		}
		if !r.Gone {
			d.CurrentPath, d.CurrentRevisionId = r.CurrentPath, r.CurrentVersionID.String()
		}
		switch {
		case !inSnapshot && r.Gone:
			continue // created and deleted since: not part of either state
		case !inSnapshot:
			d.Change = hivesyncv1.SnapshotChange_SNAPSHOT_CHANGE_ADDED
		case r.Gone:
			d.Change = hivesyncv1.SnapshotChange_SNAPSHOT_CHANGE_REMOVED
		case r.CurrentVersionID != r.SnapshotVersionID:
			d.Change = hivesyncv1.SnapshotChange_SNAPSHOT_CHANGE_MODIFIED
		case r.CurrentPath != r.SnapshotPath:
			d.Change = hivesyncv1.SnapshotChange_SNAPSHOT_CHANGE_MOVED
		default:
			resp.Unchanged++
			continue
		}
		resp.Files = append(resp.Files, d)
	}
	return resp, nil
}
