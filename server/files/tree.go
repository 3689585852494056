package files

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// treeChange runs change on a file the caller may edit (deleted files too),
// under the file's row lock, and announces the new state.
func (s *Service) treeChange(ctx context.Context, rawID string, state hivesyncv1.VersionState,
	change func(q dbgen.Querier, f dbgen.File) (dbgen.File, error)) (*hivesyncv1.File, error) {
	userID, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	id, err := parseID("file_id", rawID)
	if err != nil {
		return nil, err
	}
	f, err := s.store.FileGetForMemberAny(ctx, dbgen.FileGetForMemberAnyParams{ID: id, UserID: userID})
	if err != nil {
		return nil, s.mapErr(ctx, store.MapError(err))
	}
	if f.Role < int16(hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR) {
		return nil, errReadOnly
	}
	var out *hivesyncv1.File
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		locked, err := q.FileLockAny(ctx, id)
		if err != nil {
			return store.MapError(err)
		}
		after, err := change(q, locked)
		if err != nil {
			if errors.Is(store.MapError(err), store.ErrConflict) {
				return connect.NewError(connect.CodeAlreadyExists, errors.New("a live file already has that path (paths are compared ignoring case)"))
			}
			return err
		}
		head, err := q.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: after.HeadVersionID, FileID: id})
		if err != nil {
			return err
		}
		out = &hivesyncv1.File{Id: id.String(), ProjectId: after.ProjectID.String(), Path: after.Path, Head: fullVersionProto(head)}
		ev := &hivesyncv1.VersionStateEvent{ProjectId: after.ProjectID.String(), FileId: id.String(), Path: after.Path, State: state,
			RevisionId: head.ID.String(), Revision: head.Revision, ActorUserId: userID.String()}
		if locked.Path != after.Path {
			ev.PreviousPath = locked.Path
		}
		return s.announce(ctx, q, after.ProjectID, &hivesyncv1.Event{Payload: &hivesyncv1.Event_VersionState{VersionState: ev}})
	})
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return out, nil
}

// MoveFile implements hivesyncv1connect.FileServiceHandler.
func (s *Service) MoveFile(ctx context.Context, req *hivesyncv1.MoveFileRequest) (*hivesyncv1.MoveFileResponse, error) {
	path, key, err := NormalizePath(req.GetNewPath())
	if err != nil {
		return nil, apierror.InvalidArgument("new_path", strings.TrimPrefix(err.Error(), ErrBadPath.Error()+": "))
	}
	f, err := s.treeChange(ctx, req.GetFileId(), hivesyncv1.VersionState_VERSION_STATE_MOVED, func(q dbgen.Querier, f dbgen.File) (dbgen.File, error) {
		if f.DeletedAt != nil {
			return f, connect.NewError(connect.CodeFailedPrecondition, errors.New("restore the file before moving it"))
		}
		if err := q.FileSetPath(ctx, dbgen.FileSetPathParams{ID: f.ID, Path: path, PathKey: key}); err != nil {
			return f, err
		}
		f.Path, f.PathKey = path, key
		return f, nil
	})
	if err != nil {
		return nil, err
	}
	return &hivesyncv1.MoveFileResponse{File: f}, nil
}

// DeleteFile implements hivesyncv1connect.FileServiceHandler.
func (s *Service) DeleteFile(ctx context.Context, req *hivesyncv1.DeleteFileRequest) (*hivesyncv1.DeleteFileResponse, error) {
	_, err := s.treeChange(ctx, req.GetFileId(), hivesyncv1.VersionState_VERSION_STATE_DELETED, func(q dbgen.Querier, f dbgen.File) (dbgen.File, error) {
		if f.DeletedAt != nil {
			return f, errNotFound
		}
		return f, q.FileSetDeleted(ctx, dbgen.FileSetDeletedParams{ID: f.ID, Deleted: true})
	})
	if err != nil {
		return nil, err
	}
	return &hivesyncv1.DeleteFileResponse{}, nil
}

// RestoreFile implements hivesyncv1connect.FileServiceHandler.
func (s *Service) RestoreFile(ctx context.Context, req *hivesyncv1.RestoreFileRequest) (*hivesyncv1.RestoreFileResponse, error) {
	f, err := s.treeChange(ctx, req.GetFileId(), hivesyncv1.VersionState_VERSION_STATE_RESTORED, func(q dbgen.Querier, f dbgen.File) (dbgen.File, error) {
		if f.DeletedAt == nil {
			return f, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%q is not deleted", f.Path))
		}
		if err := q.FileSetDeleted(ctx, dbgen.FileSetDeletedParams{ID: f.ID, Deleted: false}); err != nil {
			return f, err
		}
		f.DeletedAt = nil
		return f, nil
	})
	if err != nil {
		return nil, err
	}
	return &hivesyncv1.RestoreFileResponse{File: f}, nil
}
