package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/storetest"
)

// groupBundle is a store whose groups of saves the test can hold, with one
// file in each of several projects of one editor.
type groupBundle struct {
	st      *store.Store
	rec     *recorder
	author  uuid.UUID
	files   []groupFile
	release chan struct{} // closing it lets the held first group run
	sizes   chan int      // the size of every group, as it starts
}

type groupFile struct {
	project, id, head uuid.UUID
	path              string
}

// setupGroups makes projects with a file each (at revision 1) and holds
// the first group of saves until b.release is closed, so that saves made
// meanwhile queue behind it.
func setupGroups(t *testing.T, slots, projects int) *groupBundle {
	t.Helper()
	ctx := context.Background()
	st := storetest.Store(t)
	b := &groupBundle{st: st, rec: &recorder{}, release: make(chan struct{}), sizes: make(chan int, 100)}
	st.SetAnnouncer(b.rec)
	u, err := st.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: uuid.NewString() + "@groups.test"})
	require.NoError(t, err)
	b.author = u.ID
	for i := range projects {
		p, err := st.ProjectInsert(ctx, dbgen.ProjectInsertParams{ID: uuid.New(), Name: fmt.Sprint("p", i), OwnerID: u.ID})
		require.NoError(t, err)
		require.NoError(t, st.ProjectMemberInsert(ctx, dbgen.ProjectMemberInsertParams{ProjectID: p.ID, UserID: u.ID, Role: 3}))
		b.files = append(b.files, b.newFile(t, p.ID, nil))
	}
	store.SetGroupSlots(st, slots)
	var held atomic.Bool
	store.OnGroup(st, func(size int) {
		b.sizes <- size
		if held.CompareAndSwap(false, true) {
			<-b.release
		}
	})
	return b
}

// newFile adds a file at revision 1 to project, its version carrying key.
func (b *groupBundle) newFile(t *testing.T, project uuid.UUID, key *string) groupFile {
	t.Helper()
	ctx := context.Background()
	f := groupFile{project: project, id: uuid.New(), head: uuid.New(), path: "src/" + uuid.NewString()[:8] + ".go"}
	_, err := b.st.FileInsert(ctx, dbgen.FileInsertParams{ID: f.id, ProjectID: project, Path: f.path, PathKey: f.path, HeadVersionID: f.head})
	require.NoError(t, err)
	_, err = b.st.FileVersionInsert(ctx, dbgen.FileVersionInsertParams{
		ID: f.head, FileID: f.id, Revision: 1, Content: "a\n", ContentSha256: "x", SizeBytes: 2, AuthorID: b.author, IdempotencyKey: key,
	})
	require.NoError(t, err)
	return f
}

// save is a save of f on its first revision.
func (b *groupBundle) save(f groupFile, key *string) dbgen.FileVersionAppendParams {
	return dbgen.FileVersionAppendParams{
		AuthorID: b.author, MinRole: 2, FileID: f.id, Path: f.path, BaseVersionID: f.head, BaseRevision: 1,
		SizeBytes: 3, MaxProjectBytes: 1 << 30, ID: uuid.New(), Content: "ab\n", ContentSha256: "y",
		LinesAdded: 1, LinesRemoved: 1, IdempotencyKey: key,
		Channel: "project_sync:" + f.project.String(), EventType: "save_file", EventPayload: []byte{},
	}
}

type saveResult struct {
	row dbgen.FileVersionAppendRow
	err error
}

// start makes the save in the background.
func (b *groupBundle) start(ctx context.Context, arg dbgen.FileVersionAppendParams) <-chan saveResult {
	out := make(chan saveResult, 1)
	go func() {
		row, err := b.st.AppendFileVersion(ctx, arg)
		out <- saveResult{row, err}
	}()
	return out
}

// holdFirst starts arg as the first group and waits until it is held.
func (b *groupBundle) holdFirst(t *testing.T, arg dbgen.FileVersionAppendParams) <-chan saveResult {
	t.Helper()
	res := b.start(context.Background(), arg)
	require.Equal(t, 1, <-b.sizes)
	return res
}

func (b *groupBundle) waitQueued(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return store.QueuedSaves(b.st) == n }, 10*time.Second, time.Millisecond)
}

func (b *groupBundle) revision(t *testing.T, f groupFile) int64 {
	t.Helper()
	var rev int64
	require.NoError(t, b.st.Pool().QueryRow(context.Background(), "SELECT head_revision FROM files WHERE id = $1", f.id).Scan(&rev))
	return rev
}

func (b *groupBundle) versions(t *testing.T, f groupFile) int {
	t.Helper()
	var n int
	require.NoError(t, b.st.Pool().QueryRow(context.Background(), "SELECT count(*) FROM file_versions WHERE file_id = $1", f.id).Scan(&n))
	return n
}

// Saves that arrive while a group is on its way go together in the next
// group, and every one of them is committed, numbered and announced as if
// it had been made alone.
func TestSavesOfOneMomentAreCommittedTogether(t *testing.T) {
	t.Parallel()
	b := setupGroups(t, 1, 5)
	first := b.holdFirst(t, b.save(b.files[0], nil))
	var rest []<-chan saveResult
	for _, f := range b.files[1:] {
		rest = append(rest, b.start(context.Background(), b.save(f, nil)))
	}
	b.waitQueued(t, 4)
	require.Empty(t, b.rec.announced(), "nothing is announced before its commit")
	close(b.release)

	require.Equal(t, 4, <-b.sizes, "the four queued saves make one group")
	for i, res := range append([]<-chan saveResult{first}, rest...) {
		r := <-res
		require.NoError(t, r.err)
		require.Equal(t, int64(1), r.row.Sequence, "the first event of project %d", i)
		require.Equal(t, int64(2), b.revision(t, b.files[i]))
		require.Equal(t, 2, b.versions(t, b.files[i]))
	}
	require.Len(t, b.rec.announced(), 5)
}

// A save whose compare-and-set fails writes nothing and leaves its group
// alone. A save that fails with an error rolls its group back in Postgres,
// so each save of the group is run again on its own: the good ones land
// exactly once, the bad one gets its own error.
func TestAFailedSaveDoesNotFailItsGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupGroups(t, 1, 3)
	key := "replayed-edit"
	keyed := b.newFile(t, b.files[2].project, &key)

	first := b.holdFirst(t, b.save(b.files[0], nil))
	stale := b.save(b.files[1], nil)
	stale.BaseRevision = 7
	staleRes := b.start(ctx, stale)
	goodRes := b.start(ctx, b.save(b.files[2], nil))
	dupRes := b.start(ctx, b.save(keyed, &key)) // the key its file's version already has
	b.waitQueued(t, 3)
	close(b.release)
	require.Equal(t, 3, <-b.sizes)

	require.NoError(t, (<-first).err)
	r := <-staleRes
	require.ErrorIs(t, r.err, pgx.ErrNoRows, "a failed compare-and-set returns no row")
	r = <-goodRes
	require.NoError(t, r.err)
	r = <-dupRes
	require.ErrorIs(t, store.MapError(r.err), store.ErrConflict, "the unique violation is the bad save's own")

	require.Equal(t, int64(1), b.revision(t, b.files[1]))
	require.Equal(t, int64(2), b.revision(t, b.files[2]))
	require.Equal(t, 2, b.versions(t, b.files[2]), "the good save landed once, though its group was run twice")
	require.Equal(t, int64(1), b.revision(t, keyed))
	var events int
	require.NoError(t, b.st.Pool().QueryRow(ctx, "SELECT count(*) FROM events WHERE channel = $1", "project_sync:"+b.files[2].project.String()).Scan(&events))
	require.Equal(t, 1, events, "one event for the one save of that project")
}

// A caller that gives up while its save still waits for a group takes it
// back: it is never written.
func TestAQueuedSaveCanBeWithdrawn(t *testing.T) {
	t.Parallel()
	b := setupGroups(t, 1, 2)
	first := b.holdFirst(t, b.save(b.files[0], nil))
	ctx, cancel := context.WithCancel(context.Background())
	res := b.start(ctx, b.save(b.files[1], nil))
	b.waitQueued(t, 1)
	cancel()
	require.ErrorIs(t, (<-res).err, context.Canceled)
	require.Zero(t, store.QueuedSaves(b.st))
	close(b.release)
	require.NoError(t, (<-first).err)
	require.Equal(t, int64(1), b.revision(t, b.files[1]), "the withdrawn save was not made")
}

// Two groups never hold one project's rows at once: a save of a project
// waits for that project's group even with a slot free, while a save of
// another project goes at once.
func TestSavesOfAProjectWaitForItsGroup(t *testing.T) {
	t.Parallel()
	b := setupGroups(t, 2, 2)
	second := b.newFile(t, b.files[0].project, nil)
	first := b.holdFirst(t, b.save(b.files[0], nil))
	sameProject := b.start(context.Background(), b.save(second, nil))
	b.waitQueued(t, 1)
	other := <-b.start(context.Background(), b.save(b.files[1], nil))
	require.NoError(t, other.err, "another project's save did not wait")
	require.Equal(t, 1, <-b.sizes)
	require.Equal(t, 1, store.QueuedSaves(b.st), "the same project's save still waits")

	close(b.release)
	require.NoError(t, (<-first).err)
	r := <-sameProject
	require.NoError(t, r.err)
	require.Equal(t, int64(2), r.row.Sequence, "numbered after the save it waited for")
}

// Saves in a transaction are part of it and announced after its commit.
func TestASaveInATransactionIsAnnouncedAfterItsCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupGroups(t, 1, 1)
	close(b.release)
	boom := errors.New("boom")
	err := b.st.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		_, err := store.AppendFileVersion(ctx, q, b.save(b.files[0], nil))
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, int64(1), b.revision(t, b.files[0]), "rolled back with its transaction")
	require.Empty(t, b.rec.announced())

	require.NoError(t, b.st.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		_, err := store.AppendFileVersion(ctx, q, b.save(b.files[0], nil))
		require.NoError(t, err)
		require.Empty(t, b.rec.announced(), "not before the commit")
		return nil
	}))
	require.Equal(t, int64(2), b.revision(t, b.files[0]))
	require.Equal(t, []string{"project_sync:" + b.files[0].project.String()}, b.rec.announced())
}

// Saves reach Postgres only through AppendFileVersion, which groups them
// and announces their events: the generated FileVersionAppend called
// directly would do neither.
func TestSavesGoThroughAppendFileVersion(t *testing.T) {
	t.Parallel()
	direct := regexp.MustCompile(`\.FileVersionAppend\(`)
	require.NoError(t, filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "dbgen" || d.Name() == "gen" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || filepath.Base(path) == "savegroup.go" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		require.False(t, direct.Match(src), "%s calls FileVersionAppend directly; use store.AppendFileVersion", path)
		return nil
	}))
}

// A save that Postgres rolls back to break a deadlock is run again: the
// caller gets its version, not the deadlock. Here another transaction holds
// the project's row and then wants the file the save holds. The save began
// waiting first, so its backend is the first to check for a cycle after
// deadlock_timeout, finds it, and gives way.
func TestASaveRolledBackByADeadlockIsRunAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupGroups(t, 4, 1)
	f := b.files[0]
	other, err := b.st.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = other.Rollback(ctx) }()
	_, err = other.Exec(ctx, "UPDATE projects SET storage_bytes = storage_bytes WHERE id = $1", f.project)
	require.NoError(t, err)

	close(b.release) // no group is held
	res := b.start(ctx, b.save(f, nil))
	require.Eventually(t, func() bool {
		var waiting bool
		require.NoError(t, b.st.Pool().QueryRow(ctx,
			"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock')").Scan(&waiting))
		return waiting
	}, 10*time.Second, 5*time.Millisecond, "the save holds the file and waits for the project's row")

	// The other transaction now wants the file: a cycle, which the save's
	// backend breaks after its deadlock_timeout by rolling the save back.
	_, err = other.Exec(ctx, "SELECT 1 FROM files WHERE id = $1 FOR UPDATE", f.id)
	require.NoError(t, err)
	require.NoError(t, other.Commit(ctx))

	r := <-res
	require.NoError(t, r.err, "the save was run again after the deadlock")
	require.Equal(t, int64(2), b.revision(t, f))
}
