package files_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
)

// A restore locks every file it may change before it appends anything. A
// save holds its file and then takes the project's rows; a restore that
// already held those rows (after appending to an earlier file) and then
// waited for the save's file would deadlock with it. Here a transaction
// acts out that save on the file the restore reaches last, by path and by
// id: the restore waits for it holding files only, and both finish. A file
// deleted since the snapshot is locked in the same pass as the others.
func TestRestoreDoesNotDeadlockWithASave(t *testing.T) {
	t.Parallel()
	for name, deleteLast := range map[string]bool{"last_file_edited": false, "last_file_edited_and_deleted": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setupSave(t, 1<<30)
			first, _ := b.createAndSave(t, "a.go")
			var last string
			for i := 0; last == ""; i++ {
				require.Less(t, i, 50)
				id, _ := b.createAndSave(t, fmt.Sprintf("b%02d.go", i))
				if uuidLess(first, id) {
					last = id
				}
			}
			snap, err := b.svc.CreateSnapshot(b.editor, &hivesyncv1.CreateSnapshotRequest{ProjectId: b.projectID, Label: "before"})
			require.NoError(t, err)
			for _, id := range []string{first, last} {
				_, err := b.svc.SaveFile(b.editor, &hivesyncv1.SaveFileRequest{FileId: id, BaseRevisionId: b.head(t, id), Content: "changed\n"})
				require.NoError(t, err)
			}
			if deleteLast {
				_, err := b.svc.DeleteFile(b.editor, &hivesyncv1.DeleteFileRequest{FileId: last})
				require.NoError(t, err)
			}

			save, err := b.store.Pool().Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = save.Rollback(ctx) }()
			_, err = save.Exec(ctx, "SELECT 1 FROM files WHERE id = $1 FOR UPDATE", uuid.MustParse(last))
			require.NoError(t, err)

			restored := make(chan error, 1)
			go func() {
				_, err := b.svc.RestoreSnapshot(b.editor, &hivesyncv1.RestoreSnapshotRequest{SnapshotId: snap.GetSnapshot().GetId()})
				restored <- err
			}()
			b.awaitLockWait(t, "the restore waits for the held file")

			// The save takes the project's row, as every save does. The restore
			// must not hold it now.
			lockCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_, err = save.Exec(lockCtx, "UPDATE projects SET storage_bytes = storage_bytes WHERE id = $1", uuid.MustParse(b.projectID))
			require.NoError(t, err, "the restore held the project's row while waiting for a file")
			require.NoError(t, save.Commit(ctx))
			require.NoError(t, <-restored)
			for _, id := range []string{first, last} {
				f, err := b.svc.GetFile(b.owner, &hivesyncv1.GetFileRequest{FileId: id})
				require.NoError(t, err, "deleted files are restored")
				require.Equal(t, int64(4), f.GetFile().GetHead().GetRevision(), "restored as a new version")
				require.Equal(t, "a\nB\n", f.GetContent())
			}
		})
	}
}

// TestRestoreDoesNotDeadlockWithAGroupOfSaves acts out a group of saves
// (store/savegroup.go): in one transaction, a save of a file created after
// the snapshot takes that file and the project's row, and the next save of
// the group then takes a later file, one the snapshot has. The restore must
// not hold that later file while it waits: it locks every live file of the
// project in file id order, so it waits at the group's first file.
func TestRestoreDoesNotDeadlockWithAGroupOfSaves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSave(t, 1<<30)
	inSnapshot, _ := b.createAndSave(t, "s.go")
	snap, err := b.svc.CreateSnapshot(b.editor, &hivesyncv1.CreateSnapshotRequest{ProjectId: b.projectID, Label: "before"})
	require.NoError(t, err)
	_, err = b.svc.SaveFile(b.editor, &hivesyncv1.SaveFileRequest{FileId: inSnapshot, BaseRevisionId: b.head(t, inSnapshot), Content: "changed\n"})
	require.NoError(t, err)
	var earlier string // created since, and before inSnapshot in id order
	for i := 0; earlier == ""; i++ {
		require.Less(t, i, 50)
		id, _ := b.createAndSave(t, fmt.Sprintf("new%02d.go", i))
		if uuidLess(id, inSnapshot) {
			earlier = id
		}
	}

	group, err := b.store.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = group.Rollback(ctx) }()
	_, err = group.Exec(ctx, "SELECT 1 FROM files WHERE id = $1 FOR UPDATE", uuid.MustParse(earlier))
	require.NoError(t, err)
	_, err = group.Exec(ctx, "UPDATE projects SET storage_bytes = storage_bytes WHERE id = $1", uuid.MustParse(b.projectID))
	require.NoError(t, err)

	restored := make(chan error, 1)
	go func() {
		_, err := b.svc.RestoreSnapshot(b.editor, &hivesyncv1.RestoreSnapshotRequest{SnapshotId: snap.GetSnapshot().GetId()})
		restored <- err
	}()
	b.awaitLockWait(t, "the restore waits for the group")

	// The group's next save takes its file. The restore must not hold it.
	lockCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = group.Exec(lockCtx, "SELECT 1 FROM files WHERE id = $1 FOR UPDATE", uuid.MustParse(inSnapshot))
	require.NoError(t, err, "the restore held a later file while waiting for the group")
	require.NoError(t, group.Commit(ctx))
	require.NoError(t, <-restored)
	f, err := b.svc.GetFile(b.owner, &hivesyncv1.GetFileRequest{FileId: inSnapshot})
	require.NoError(t, err)
	require.Equal(t, "a\nB\n", f.GetContent(), "restored")
}

// awaitLockWait waits until a statement of the test's database waits for a
// lock.
func (b *saveBundle) awaitLockWait(t *testing.T, msg string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var waiting bool
		require.NoError(t, b.store.Pool().QueryRow(context.Background(),
			"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock')").Scan(&waiting))
		return waiting
	}, 10*time.Second, 5*time.Millisecond, msg)
}

// TestRestoreChecksStorageBeforeWriting: the versions a restore appends,
// for deleted files too, must fit in the project together; when they do
// not, the restore fails with LimitExceeded and writes nothing, not even
// the files that would have fit alone.
func TestRestoreChecksStorageBeforeWriting(t *testing.T) {
	t.Parallel()
	b := setupSave(t, 100)
	content := strings.Repeat("x", 29) + "\n" // 30 bytes
	var ids []string
	for _, path := range []string{"a.txt", "b.txt"} {
		f, err := b.svc.CreateFile(b.editor, &hivesyncv1.CreateFileRequest{ProjectId: b.projectID, Path: path, Content: content})
		require.NoError(t, err)
		ids = append(ids, f.GetFile().GetId())
	}
	snap, err := b.svc.CreateSnapshot(b.editor, &hivesyncv1.CreateSnapshotRequest{ProjectId: b.projectID})
	require.NoError(t, err)
	heads := map[string]string{}
	for _, id := range ids {
		saved, err := b.svc.SaveFile(b.editor, &hivesyncv1.SaveFileRequest{FileId: id, BaseRevisionId: b.head(t, id), Content: "y\n"})
		require.NoError(t, err)
		heads[id] = saved.GetVersion().GetId()
	}
	_, err = b.svc.DeleteFile(b.editor, &hivesyncv1.DeleteFileRequest{FileId: ids[0]})
	require.NoError(t, err)
	used := b.storage(t)
	require.EqualValues(t, 64, used)
	eventsBefore := len(b.projectEvents(t))

	_, err = b.svc.RestoreSnapshot(b.editor, &hivesyncv1.RestoreSnapshotRequest{SnapshotId: snap.GetSnapshot().GetId()})
	require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(err))
	var ce *connect.Error
	require.ErrorAs(t, err, &ce)
	var limit *hivesyncv1.LimitExceeded
	for _, d := range ce.Details() {
		if v, derr := d.Value(); derr == nil {
			if l, ok := v.(*hivesyncv1.LimitExceeded); ok {
				limit = l
			}
		}
	}
	require.NotNil(t, limit)
	require.Equal(t, hivesyncv1.Limit_LIMIT_PROJECT_STORAGE, limit.GetLimit())
	require.EqualValues(t, 124, limit.GetActual(), "both versions counted")

	require.Equal(t, used, b.storage(t), "nothing charged")
	require.Len(t, b.projectEvents(t), eventsBefore, "nothing announced")
	_, err = b.svc.GetFile(b.owner, &hivesyncv1.GetFileRequest{FileId: ids[0]})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "the deleted file stays deleted")
	require.Equal(t, heads[ids[1]], b.head(t, ids[1]), "no version appended")
}

// TestRestoreRunsAgainWhenAPathIsTakenMeanwhile: a file that takes a
// snapshot path after the restore found it free (here a move not yet
// committed) makes the restore's move fail; the restore runs again, finds
// the path taken and reports it instead of failing.
func TestRestoreRunsAgainWhenAPathIsTakenMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSave(t, 1<<20)
	moved, _ := b.createAndSave(t, "a.go")
	snap, err := b.svc.CreateSnapshot(b.editor, &hivesyncv1.CreateSnapshotRequest{ProjectId: b.projectID})
	require.NoError(t, err)
	_, err = b.svc.MoveFile(b.editor, &hivesyncv1.MoveFileRequest{FileId: moved, NewPath: "b.go"})
	require.NoError(t, err)
	taker, _ := b.createAndSave(t, "c.go")

	move, err := b.store.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = move.Rollback(ctx) }()
	_, err = move.Exec(ctx, "UPDATE files SET path = 'A.go', path_key = 'a.go' WHERE id = $1", uuid.MustParse(taker))
	require.NoError(t, err)

	type result struct {
		resp *hivesyncv1.RestoreSnapshotResponse
		err  error
	}
	restored := make(chan result, 1)
	go func() {
		resp, err := b.svc.RestoreSnapshot(b.editor, &hivesyncv1.RestoreSnapshotRequest{SnapshotId: snap.GetSnapshot().GetId()})
		restored <- result{resp, err}
	}()
	b.awaitLockWait(t, "the restore's move waits for the uncommitted one")
	require.NoError(t, move.Commit(ctx))

	r := <-restored
	require.NoError(t, r.err)
	require.Empty(t, r.resp.GetMoved())
	require.Len(t, r.resp.GetSkipped(), 1)
	skipped := r.resp.GetSkipped()[0]
	require.Equal(t, hivesyncv1.SnapshotSkipReason_SNAPSHOT_SKIP_REASON_PATH_TAKEN, skipped.GetReason())
	require.Equal(t, taker, skipped.GetTakenByFileId())
	require.Equal(t, "b.go", skipped.GetCurrentPath())
	f, err := b.svc.GetFile(b.owner, &hivesyncv1.GetFileRequest{FileId: moved})
	require.NoError(t, err)
	require.Equal(t, "b.go", f.GetFile().GetPath())
}

// storage is the project's storage meter.
func (b *saveBundle) storage(t *testing.T) int64 {
	t.Helper()
	used, err := b.store.ProjectStorage(context.Background(), uuid.MustParse(b.projectID))
	require.NoError(t, err)
	return used
}

// uuidLess reports whether a sorts before b as Postgres and the restore
// order them (bytewise).
func uuidLess(a, b string) bool {
	ua, ub := uuid.MustParse(a), uuid.MustParse(b)
	return bytes.Compare(ua[:], ub[:]) < 0
}
