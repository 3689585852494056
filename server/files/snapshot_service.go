package files

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"
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
			DeviceID: r.DeviceID, LinesAdded: r.LinesAdded, LinesRemoved: r.LinesRemoved, Hunks: r.Hunks, CreatedAt: r.CreatedAt,
		})})
	}
	return resp, nil
}

// RestoreSnapshot implements hivesyncv1connect.SnapshotServiceHandler. In one
// transaction it makes every file of the snapshot that it can be as in the
// snapshot again: undeleted, at its snapshot path, and with its snapshot
// content as a new version. Nothing is deleted or rewritten; a file it
// cannot bring back keeps its state and is reported as skipped.
func (s *Service) RestoreSnapshot(ctx context.Context, req *hivesyncv1.RestoreSnapshotRequest) (*hivesyncv1.RestoreSnapshotResponse, error) {
	snap, userID, err := s.snapshot(ctx, req.GetSnapshotId())
	if err != nil {
		return nil, err
	}
	if snap.Role < int16(hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR) {
		return nil, errReadOnly
	}
	for range maxRestoreAttempts {
		var resp *hivesyncv1.RestoreSnapshotResponse
		err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
			var err error
			resp, err = s.restore(ctx, q, snap, userID)
			return err
		})
		if !errors.Is(err, errRestoreRaced) {
			if err != nil {
				return nil, s.mapErr(ctx, err)
			}
			return resp, nil
		}
	}
	return nil, connect.NewError(connect.CodeUnavailable, errors.New("other changes kept taking the snapshot's paths during the restore; retry"))
}

// maxRestoreAttempts bounds how many times a restore runs again after
// another call took a path the restore had found free (errRestoreRaced).
// The next attempt sees that file and reports the path as taken.
const maxRestoreAttempts = 3

// errRestoreRaced means a file took one of the snapshot paths the restore
// was putting files back at, between the restore's read of the paths and its
// write: the transaction rolls back and the restore runs again.
var errRestoreRaced = errors.New("a snapshot path was taken during the restore")

// restoringFile is one file of a snapshot during a restore: as in the
// snapshot, as it is now (locked), and what the restore does to it.
type restoringFile struct {
	snap dbgen.SnapshotFilesRow
	// found is false when the file's row no longer exists; now is the
	// locked row otherwise.
	found bool
	now   dbgen.File
	// path and key are the snapshot path, normalized, and its collision key.
	path, key string
	// undelete, move and content are what the restore changes: the file is
	// deleted, is at another path, or its head's content differs.
	undelete, move, content bool
	// vacate is set for a file that holds, under its current path, the
	// snapshot path of another file being put back: it leaves its path key
	// first, so the moves can run in any order (swaps included).
	vacate bool
	skip   *hivesyncv1.SnapshotSkippedFile
}

// claims reports whether the restore must put the file at its snapshot
// path key, which no other live file may then hold.
func (f *restoringFile) claims() bool { return f.skip == nil && (f.undelete || f.move) }

// skipFor leaves the file as it is and says why.
func (f *restoringFile) skipFor(reason hivesyncv1.SnapshotSkipReason, takenBy uuid.UUID) {
	f.skip = &hivesyncv1.SnapshotSkippedFile{FileId: f.snap.FileID.String(), SnapshotPath: f.snap.Path, Reason: reason}
	if f.found {
		f.skip.CurrentPath, f.skip.Deleted = f.now.Path, f.now.DeletedAt != nil
	}
	if takenBy != uuid.Nil {
		f.skip.TakenByFileId = takenBy.String()
	}
	f.undelete, f.move, f.content, f.vacate = false, false, false, false
}

// vacantPathKey is the path key a file holds while the restore moves files
// around it. NormalizePath never returns a key starting with "/", so it
// collides with no path, and it is unique to the file; no restore commits
// with it.
func vacantPathKey(id uuid.UUID) string { return "/restoring/" + id.String() }

// restore is RestoreSnapshot's transaction on q. It takes its locks in the
// order saves take theirs: first every live file of the project and every
// file of the snapshot, deleted ones too, in file id order; then, if it
// appends any version, the project's row; then the project's event channel.
// An append takes the project's rows, and a concurrent save holds its file
// and waits for them, so taking a file lock while holding them could
// deadlock with it. A group of saves (store/savegroup.go) takes its files in
// file id order and may hold the project's rows while it waits for a later
// file: the restore, blocked at an earlier file, holds none after it.
func (s *Service) restore(ctx context.Context, q dbgen.Querier, snap dbgen.SnapshotGetForMemberRow, userID uuid.UUID) (*hivesyncv1.RestoreSnapshotResponse, error) {
	rows, err := q.SnapshotFiles(ctx, snap.ID)
	if err != nil {
		return nil, err
	}
	files := make([]*restoringFile, len(rows)) // by snapshot path
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		files[i], ids[i] = &restoringFile{snap: r}, r.FileID
	}
	locked, err := q.SnapshotLockProjectFiles(ctx, dbgen.SnapshotLockProjectFilesParams{ProjectID: snap.ProjectID, FileIds: ids})
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]dbgen.File, len(locked))
	for _, l := range locked {
		byID[l.ID] = l
	}
	var changedHeads []uuid.UUID
	for _, f := range files {
		now, ok := byID[f.snap.FileID]
		if !ok {
			f.skipFor(hivesyncv1.SnapshotSkipReason_SNAPSHOT_SKIP_REASON_FILE_GONE, uuid.Nil)
			continue
		}
		f.found, f.now = true, now
		if now.HeadVersionID != f.snap.ID {
			changedHeads = append(changedHeads, now.ID)
		}
	}

	// A head other than the snapshot's version may still hold its content
	// (a restore appended it, or a save went back to it).
	if len(changedHeads) > 0 {
		hashes, err := q.SnapshotHeadHashes(ctx, changedHeads)
		if err != nil {
			return nil, err
		}
		headHash := make(map[uuid.UUID]string, len(hashes))
		for _, h := range hashes {
			headHash[h.FileID] = h.ContentSha256
		}
		for _, f := range files {
			if f.found && f.now.HeadVersionID != f.snap.ID {
				f.content = headHash[f.snap.FileID] != f.snap.ContentSha256
			}
		}
	}

	if err := s.planRestorePaths(ctx, q, snap.ProjectID, files); err != nil {
		return nil, err
	}

	resp := &hivesyncv1.RestoreSnapshotResponse{}
	var appendBytes int64
	appends := 0
	for _, f := range files {
		switch {
		case f.skip != nil:
			resp.Skipped = append(resp.Skipped, f.skip)
		case f.content:
			appends++
			appendBytes += f.snap.SizeBytes
		case !f.undelete && !f.move:
			resp.Unchanged++
		}
	}
	if appends > 0 {
		// The project's room is decided for every version before any is
		// written, as a save decides it before its write; the row stays
		// locked, so the appends below find the same room.
		used, err := q.SnapshotProjectLock(ctx, snap.ProjectID)
		if err != nil {
			return nil, err
		}
		if used+appendBytes > s.limits.MaxProjectBytes {
			return nil, s.storageExceeded(used, appendBytes)
		}
	}

	// Paths first, all of them, before the first event: a move that waits
	// for another transaction's new path (to then fail, and run again) must
	// not hold the project's event channel, which that transaction wants.
	// Files take their snapshot paths in path key order, so two restores
	// that want the same paths wait for each other in the same order.
	for _, f := range files {
		if f.vacate {
			if err := q.FileSetPath(ctx, dbgen.FileSetPathParams{ID: f.now.ID, Path: f.now.Path, PathKey: vacantPathKey(f.now.ID)}); err != nil {
				return nil, restorePathErr(err)
			}
		}
	}
	byKey := slices.Clone(files)
	slices.SortFunc(byKey, func(a, b *restoringFile) int { return strings.Compare(a.key, b.key) })
	for _, f := range byKey {
		if f.move || f.vacate {
			if err := q.FileSetPath(ctx, dbgen.FileSetPathParams{ID: f.now.ID, Path: f.path, PathKey: f.key}); err != nil {
				return nil, restorePathErr(err)
			}
		}
		if f.undelete {
			if err := q.FileSetDeleted(ctx, dbgen.FileSetDeletedParams{ID: f.now.ID, Deleted: false}); err != nil {
				return nil, restorePathErr(err)
			}
		}
	}

	// Then each file's events, in the order the equivalent calls would
	// record them: RestoreFile, MoveFile, then the new version.
	for _, f := range files {
		if f.skip != nil {
			continue
		}
		state := func(st hivesyncv1.VersionState, path, previous string) error {
			return s.announce(ctx, q, snap.ProjectID, &hivesyncv1.Event{Payload: &hivesyncv1.Event_VersionState{VersionState: &hivesyncv1.VersionStateEvent{
				ProjectId: snap.ProjectID.String(), FileId: f.now.ID.String(), Path: path, State: st, RevisionId: f.now.HeadVersionID.String(),
				Revision: f.now.HeadRevision, ActorUserId: userID.String(), PreviousPath: previous,
			}}})
		}
		if f.undelete {
			if err := state(hivesyncv1.VersionState_VERSION_STATE_RESTORED, f.now.Path, ""); err != nil {
				return nil, err
			}
			resp.UndeletedFileIds = append(resp.UndeletedFileIds, f.now.ID.String())
		}
		if f.move {
			if err := state(hivesyncv1.VersionState_VERSION_STATE_MOVED, f.path, f.now.Path); err != nil {
				return nil, err
			}
			resp.Moved = append(resp.Moved, &hivesyncv1.SnapshotMovedFile{FileId: f.now.ID.String(), PreviousPath: f.now.Path, Path: f.path})
		}
		if f.content {
			v, err := s.appendSnapshotVersion(ctx, q, f, userID)
			if err != nil {
				return nil, err
			}
			resp.Restored = append(resp.Restored, &hivesyncv1.SnapshotFile{FileId: f.now.ID.String(), Path: f.path, Version: fullVersionProto(v)})
		}
	}
	err = s.announce(ctx, q, snap.ProjectID, &hivesyncv1.Event{Payload: &hivesyncv1.Event_SnapshotRestored{SnapshotRestored: &hivesyncv1.SnapshotEvent{
		ProjectId: snap.ProjectID.String(), SnapshotId: snap.ID.String(), Label: snap.Label, ActorUserId: userID.String(),
		FileCount: int32(len(rows)), RestoredCount: int32(len(resp.Restored)),
	}}})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// planRestorePaths decides, for the locked files of a snapshot, which are
// moved back to their snapshot path or undeleted there, and skips those
// whose snapshot path another live file will still hold after the restore:
// a file created or moved there since, or a file of the snapshot that is
// itself skipped. Two files that swapped paths are both put back.
func (s *Service) planRestorePaths(ctx context.Context, q dbgen.Querier, projectID uuid.UUID, files []*restoringFile) error {
	for _, f := range files {
		if !f.found {
			continue
		}
		path, key, err := NormalizePath(f.snap.Path)
		if err != nil {
			f.skipFor(hivesyncv1.SnapshotSkipReason_SNAPSHOT_SKIP_REASON_PATH_INVALID, uuid.Nil)
			continue
		}
		f.path, f.key = path, key
		f.undelete, f.move = f.now.DeletedAt != nil, f.now.Path != path
	}
	// A snapshot's paths are unique, so each key is claimed once; were it
	// not, the first claim (by snapshot path) wins.
	claimedBy := make(map[string]*restoringFile)
	var keys []string
	for _, f := range files {
		if !f.claims() {
			continue
		}
		if first, ok := claimedBy[f.key]; ok {
			f.skipFor(hivesyncv1.SnapshotSkipReason_SNAPSHOT_SKIP_REASON_PATH_TAKEN, first.now.ID)
			continue
		}
		claimedBy[f.key] = f
		keys = append(keys, f.key)
	}
	if len(keys) == 0 {
		return nil
	}
	holders, err := q.SnapshotPathHolders(ctx, dbgen.SnapshotPathHoldersParams{ProjectID: projectID, PathKeys: keys})
	if err != nil {
		return err
	}
	holderOf := make(map[string]uuid.UUID, len(holders))
	for _, h := range holders {
		holderOf[h.PathKey] = h.ID
	}
	claimant := make(map[uuid.UUID]*restoringFile, len(claimedBy))
	for _, f := range claimedBy {
		claimant[f.now.ID] = f
	}
	// A path held by a file the restore moves away is free; one held by any
	// other file is taken. A file skipped keeps its path, which may be the
	// snapshot path of another file, skipped in turn.
	var kept []*restoringFile
	for _, f := range files {
		if f.skip != nil {
			kept = append(kept, f)
			continue
		}
		if !f.claims() {
			continue
		}
		if h, ok := holderOf[f.key]; ok && h != f.now.ID && claimant[h] == nil {
			f.skipFor(hivesyncv1.SnapshotSkipReason_SNAPSHOT_SKIP_REASON_PATH_TAKEN, h)
			kept = append(kept, f)
		}
	}
	for len(kept) > 0 {
		k := kept[0]
		kept = kept[1:]
		if !k.found || k.now.DeletedAt != nil {
			continue // holds no path
		}
		if f := claimedBy[k.now.PathKey]; f != nil && f != k && f.skip == nil {
			f.skipFor(hivesyncv1.SnapshotSkipReason_SNAPSHOT_SKIP_REASON_PATH_TAKEN, k.now.ID)
			kept = append(kept, f)
		}
	}
	for _, f := range files {
		if f.claims() && f.now.DeletedAt == nil && f.now.PathKey != f.key {
			if other := claimedBy[f.now.PathKey]; other != nil && other.claims() {
				f.vacate = true
			}
		}
	}
	return nil
}

// restorePathErr reads a failed path or undelete write of a restore: a
// unique violation means a file took a snapshot path since the restore read
// the paths (errRestoreRaced).
func restorePathErr(err error) error {
	if errors.Is(store.MapError(err), store.ErrConflict) {
		return errRestoreRaced
	}
	return fmt.Errorf("restore file path: %w", err)
}

// appendSnapshotVersion appends the snapshot's content of f as its new head,
// at its path after the restore, with a version state event.
func (s *Service) appendSnapshotVersion(ctx context.Context, q dbgen.Querier, f *restoringFile, userID uuid.UUID) (dbgen.FileVersion, error) {
	old, err := q.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: f.snap.ID, FileID: f.now.ID})
	if err != nil {
		return dbgen.FileVersion{}, err
	}
	head, err := q.FileVersionGet(ctx, dbgen.FileVersionGetParams{ID: f.now.HeadVersionID, FileID: f.now.ID})
	if err != nil {
		return dbgen.FileVersion{}, err
	}
	v, err := s.appendVersion(ctx, q, versionAppend{
		fileID: f.now.ID, projectID: f.now.ProjectID, path: f.path, head: head.ID, headRevision: head.Revision, headContent: head.Content,
		content: old.Content, contentHash: old.ContentSha256, author: userID,
	}, func(v dbgen.FileVersion) *hivesyncv1.Event {
		return &hivesyncv1.Event{Payload: &hivesyncv1.Event_VersionState{VersionState: &hivesyncv1.VersionStateEvent{
			ProjectId: f.now.ProjectID.String(), FileId: f.now.ID.String(), Path: f.path, State: hivesyncv1.VersionState_VERSION_STATE_SNAPSHOT_RESTORED,
			RevisionId: v.ID.String(), Revision: v.Revision, ActorUserId: userID.String(),
		}}}
	})
	if errors.Is(err, errFileChanged) {
		// The file row is locked and the project's room was checked under
		// its lock: what changed is the caller's role.
		used, serr := q.ProjectStorage(ctx, f.now.ProjectID)
		if serr == nil && used+int64(len(old.Content)) > s.limits.MaxProjectBytes {
			return dbgen.FileVersion{}, s.storageExceeded(used, int64(len(old.Content)))
		}
		return dbgen.FileVersion{}, errReadOnly
	}
	return v, err
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
		case r.CurrentVersionID != r.SnapshotVersionID && !r.SameContent:
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
