package files_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
)

// A restore locks every file it may change before it appends anything. A
// save holds its file and then takes the project's rows; a restore that
// already held those rows (after appending to an earlier file) and then
// waited for the save's file would deadlock with it. Here a transaction
// acts out that save on the file the restore reaches last, by path and by
// id: the restore waits for it holding files only, and both finish.
func TestRestoreDoesNotDeadlockWithASave(t *testing.T) {
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
	require.Eventually(t, func() bool {
		var waiting bool
		require.NoError(t, b.store.Pool().QueryRow(ctx,
			"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock')").Scan(&waiting))
		return waiting
	}, 10*time.Second, 5*time.Millisecond, "the restore waits for the held file")

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
		require.NoError(t, err)
		require.Equal(t, int64(4), f.GetFile().GetHead().GetRevision(), "restored as a new version")
	}
}

// uuidLess reports whether a sorts before b as Postgres and the restore
// order them (bytewise).
func uuidLess(a, b string) bool {
	ua, ub := uuid.MustParse(a), uuid.MustParse(b)
	return bytes.Compare(ua[:], ub[:]) < 0
}
