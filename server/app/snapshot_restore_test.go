package app_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
)

// restoreBundle is a project whose editor takes and restores snapshots over
// the API.
type restoreBundle struct {
	b     *testBundle
	ed    editor
	snaps hivesyncv1connect.SnapshotServiceClient
	pid   string
}

func setupRestore(t *testing.T) *restoreBundle {
	t.Helper()
	b := setup(t, app.ModeServe, nil)
	ed := newEditorOn(t, b, "restore@files.test", "desktop")
	proj, err := ed.projects.CreateProject(context.Background(), &hivesyncv1.CreateProjectRequest{Name: "Restore"})
	require.NoError(t, err)
	return &restoreBundle{b: b, ed: ed, snaps: hivesyncv1connect.NewSnapshotServiceClient(b.h1, b.baseURL, bearer(ed.token)), pid: proj.GetProject().GetId()}
}

func (r *restoreBundle) create(t *testing.T, path, content string) *hivesyncv1.File {
	t.Helper()
	f, err := r.ed.files.CreateFile(context.Background(), &hivesyncv1.CreateFileRequest{ProjectId: r.pid, Path: path, Content: content})
	require.NoError(t, err)
	return f.GetFile()
}

func (r *restoreBundle) save(t *testing.T, f *hivesyncv1.File, content string) *hivesyncv1.FileVersion {
	t.Helper()
	got, err := r.ed.files.GetFile(context.Background(), &hivesyncv1.GetFileRequest{FileId: f.GetId()})
	require.NoError(t, err)
	saved, err := r.ed.files.SaveFile(context.Background(), &hivesyncv1.SaveFileRequest{FileId: f.GetId(), BaseRevisionId: got.GetFile().GetHead().GetId(), Content: content})
	require.NoError(t, err)
	return saved.GetVersion()
}

func (r *restoreBundle) move(t *testing.T, f *hivesyncv1.File, path string) {
	t.Helper()
	_, err := r.ed.files.MoveFile(context.Background(), &hivesyncv1.MoveFileRequest{FileId: f.GetId(), NewPath: path})
	require.NoError(t, err)
}

func (r *restoreBundle) delete(t *testing.T, f *hivesyncv1.File) {
	t.Helper()
	_, err := r.ed.files.DeleteFile(context.Background(), &hivesyncv1.DeleteFileRequest{FileId: f.GetId()})
	require.NoError(t, err)
}

func (r *restoreBundle) snapshot(t *testing.T) string {
	t.Helper()
	s, err := r.snaps.CreateSnapshot(context.Background(), &hivesyncv1.CreateSnapshotRequest{ProjectId: r.pid, Label: "good"})
	require.NoError(t, err)
	return s.GetSnapshot().GetId()
}

func (r *restoreBundle) restore(t *testing.T, snapshotID string) *hivesyncv1.RestoreSnapshotResponse {
	t.Helper()
	resp, err := r.snaps.RestoreSnapshot(context.Background(), &hivesyncv1.RestoreSnapshotRequest{SnapshotId: snapshotID})
	require.NoError(t, err)
	return resp
}

// get returns a live file and its content.
func (r *restoreBundle) get(t *testing.T, f *hivesyncv1.File) (*hivesyncv1.File, string) {
	t.Helper()
	got, err := r.ed.files.GetFile(context.Background(), &hivesyncv1.GetFileRequest{FileId: f.GetId()})
	require.NoError(t, err)
	return got.GetFile(), got.GetContent()
}

// all lists every file of the project, deleted ones too, by path.
func (r *restoreBundle) all(t *testing.T) []*hivesyncv1.File {
	t.Helper()
	list, err := r.ed.files.ListFiles(context.Background(), &hivesyncv1.ListFilesRequest{ProjectId: r.pid, IncludeDeleted: true})
	require.NoError(t, err)
	return list.GetFiles()
}

// requireSameFiles requires two listings of a project's files to be equal.
func requireSameFiles(t *testing.T, want, got []*hivesyncv1.File, msg string) {
	t.Helper()
	requireSameProto(t, &hivesyncv1.ListFilesResponse{Files: want}, &hivesyncv1.ListFilesResponse{Files: got}, msg)
}

func requireSameProto(t *testing.T, want, got proto.Message, msg string) {
	t.Helper()
	require.Truef(t, proto.Equal(want, got), "%s\nwant: %v\ngot:  %v", msg, want, got)
}

// TestRestoreSnapshot: a restore makes the files of the snapshot as they
// were (content, path, not deleted) without destroying anything, and reports
// precisely what it could not bring back.
func TestRestoreSnapshot(t *testing.T) {
	t.Parallel()

	t.Run("deleted_file_comes_back_with_its_snapshot_content", func(t *testing.T) {
		t.Parallel()
		r := setupRestore(t)
		edited, untouched := r.create(t, "a.txt", "a1\n"), r.create(t, "b.txt", "b1\n")
		snap := r.snapshot(t)
		later := r.save(t, edited, "a2\n")
		r.delete(t, edited)
		r.delete(t, untouched)

		resp := r.restore(t, snap)
		require.ElementsMatch(t, []string{edited.GetId(), untouched.GetId()}, resp.GetUndeletedFileIds())
		require.Len(t, resp.GetRestored(), 1, "only a.txt's content differs")
		require.Equal(t, edited.GetId(), resp.GetRestored()[0].GetFileId())
		require.Equal(t, "a.txt", resp.GetRestored()[0].GetPath())
		require.EqualValues(t, 3, resp.GetRestored()[0].GetVersion().GetRevision(), "a new revision is appended")
		require.Empty(t, resp.GetSkipped())
		require.Empty(t, resp.GetMoved())
		require.Zero(t, resp.GetUnchanged())

		got, content := r.get(t, edited)
		require.Equal(t, "a1\n", content)
		require.Equal(t, "a.txt", got.GetPath())
		for rev, want := range map[string]string{edited.GetHead().GetId(): "a1\n", later.GetId(): "a2\n"} {
			v, err := r.ed.files.GetVersion(context.Background(), &hivesyncv1.GetVersionRequest{FileId: edited.GetId(), RevisionId: rev})
			require.NoError(t, err)
			require.Equal(t, want, v.GetContent(), "earlier versions are intact")
		}
		versions, err := r.ed.files.ListVersions(context.Background(), &hivesyncv1.ListVersionsRequest{FileId: edited.GetId()})
		require.NoError(t, err)
		require.Len(t, versions.GetVersions(), 3)
		got, content = r.get(t, untouched)
		require.Equal(t, "b1\n", content)
		require.Equal(t, untouched.GetHead().GetId(), got.GetHead().GetId(), "same content: undeleted without a new version")
	})

	t.Run("moved_file_goes_back_to_its_snapshot_path", func(t *testing.T) {
		t.Parallel()
		r := setupRestore(t)
		moved, recased := r.create(t, "docs/b.txt", "b\n"), r.create(t, "Readme.md", "r\n")
		x, y := r.create(t, "x.txt", "x\n"), r.create(t, "y.txt", "y\n")
		snap := r.snapshot(t)
		r.move(t, moved, "old/bee.txt")
		r.move(t, recased, "README.md")
		// x and y swap paths.
		r.move(t, x, "tmp.txt")
		r.move(t, y, "x.txt")
		r.move(t, x, "y.txt")

		resp := r.restore(t, snap)
		require.Empty(t, resp.GetRestored(), "no content changed")
		require.Empty(t, resp.GetSkipped())
		got := map[string][2]string{}
		for _, m := range resp.GetMoved() {
			got[m.GetFileId()] = [2]string{m.GetPreviousPath(), m.GetPath()}
		}
		require.Equal(t, map[string][2]string{
			moved.GetId():   {"old/bee.txt", "docs/b.txt"},
			recased.GetId(): {"README.md", "Readme.md"},
			x.GetId():       {"y.txt", "x.txt"},
			y.GetId():       {"x.txt", "y.txt"},
		}, got)
		for f, want := range map[*hivesyncv1.File]string{moved: "docs/b.txt", recased: "Readme.md", x: "x.txt", y: "y.txt"} {
			now, _ := r.get(t, f)
			require.Equal(t, want, now.GetPath())
			require.Equal(t, f.GetHead().GetId(), now.GetHead().GetId(), "a move appends no version")
		}
	})

	t.Run("file_at_a_taken_path_is_reported_and_left_as_it_was", func(t *testing.T) {
		t.Parallel()
		r := setupRestore(t)
		a, c := r.create(t, "a.txt", "a1\n"), r.create(t, "c.txt", "c1\n")
		d, e := r.create(t, "d.txt", "d1\n"), r.create(t, "e.txt", "e1\n")
		snap := r.snapshot(t)
		// a.txt is edited and moved away, and a new file takes its path (in
		// other case: paths collide ignoring case).
		edited := r.save(t, a, "a2\n")
		r.move(t, a, "b.txt")
		takerA := r.create(t, "A.TXT", "new\n")
		// c.txt is deleted and a new c.txt created.
		r.delete(t, c)
		takerC := r.create(t, "c.txt", "new c\n")
		// e.txt now sits at d.txt and a new file at e.txt: e cannot go back,
		// so d.txt stays taken by e and d cannot either.
		r.move(t, d, "d2.txt")
		r.move(t, e, "d.txt")
		takerE := r.create(t, "e.txt", "new e\n")
		before := r.all(t)

		resp := r.restore(t, snap)
		require.Empty(t, resp.GetRestored())
		require.Empty(t, resp.GetMoved())
		require.Empty(t, resp.GetUndeletedFileIds())
		require.Zero(t, resp.GetUnchanged())
		taken := hivesyncv1.SnapshotSkipReason_SNAPSHOT_SKIP_REASON_PATH_TAKEN
		want := []*hivesyncv1.SnapshotSkippedFile{
			{FileId: a.GetId(), SnapshotPath: "a.txt", Reason: taken, CurrentPath: "b.txt", TakenByFileId: takerA.GetId()},
			{FileId: c.GetId(), SnapshotPath: "c.txt", Reason: taken, CurrentPath: "c.txt", Deleted: true, TakenByFileId: takerC.GetId()},
			{FileId: d.GetId(), SnapshotPath: "d.txt", Reason: taken, CurrentPath: "d2.txt", TakenByFileId: e.GetId()},
			{FileId: e.GetId(), SnapshotPath: "e.txt", Reason: taken, CurrentPath: "d.txt", TakenByFileId: takerE.GetId()},
		}
		requireSameProto(t, &hivesyncv1.RestoreSnapshotResponse{Skipped: want}, &hivesyncv1.RestoreSnapshotResponse{Skipped: resp.GetSkipped()}, "skipped, by snapshot path")
		requireSameFiles(t, before, r.all(t), "every file is left as it was")
		got, content := r.get(t, a)
		require.Equal(t, edited.GetId(), got.GetHead().GetId())
		require.Equal(t, "a2\n", content)
		_, err := r.ed.files.GetFile(context.Background(), &hivesyncv1.GetFileRequest{FileId: c.GetId()})
		require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "c.txt stays deleted")

		// Once the path is free again, restoring brings the file back.
		r.move(t, takerA, "a-new.txt")
		resp = r.restore(t, snap)
		require.Len(t, resp.GetMoved(), 1)
		require.Equal(t, a.GetId(), resp.GetMoved()[0].GetFileId())
		require.Len(t, resp.GetRestored(), 1)
		got, content = r.get(t, a)
		require.Equal(t, "a.txt", got.GetPath())
		require.Equal(t, "a1\n", content)
		require.Len(t, resp.GetSkipped(), 3)
	})

	t.Run("restoring_twice_changes_nothing_the_second_time", func(t *testing.T) {
		t.Parallel()
		r := setupRestore(t)
		a, b, c := r.create(t, "a.txt", "a1\n"), r.create(t, "b.txt", "b1\n"), r.create(t, "c.txt", "c1\n")
		d := r.create(t, "d.txt", "d1\n")
		snap := r.snapshot(t)
		r.save(t, a, "a2\n")
		r.move(t, b, "bee.txt")
		r.save(t, c, "c2\n")
		r.delete(t, c)
		r.move(t, d, "dee.txt")
		r.create(t, "D.txt", "taker\n")

		first := r.restore(t, snap)
		require.Len(t, first.GetRestored(), 2, "a.txt and c.txt")
		require.Len(t, first.GetMoved(), 1, "b.txt")
		require.Len(t, first.GetUndeletedFileIds(), 1, "c.txt")
		require.Len(t, first.GetSkipped(), 1, "d.txt")
		after := r.all(t)

		second := r.restore(t, snap)
		require.Empty(t, second.GetRestored())
		require.Empty(t, second.GetMoved())
		require.Empty(t, second.GetUndeletedFileIds())
		require.EqualValues(t, 3, second.GetUnchanged(), "a.txt, b.txt and c.txt are as in the snapshot")
		require.Len(t, second.GetSkipped(), 1, "d.txt's path is still taken")
		requireSameProto(t, first.GetSkipped()[0], second.GetSkipped()[0], "skipped the same way")
		requireSameFiles(t, after, r.all(t), "no file changed")
	})

	t.Run("events_of_the_restore_appear_in_history", func(t *testing.T) {
		t.Parallel()
		r := setupRestore(t)
		a, b := r.create(t, "a.txt", "a1\n"), r.create(t, "b.txt", "b1\n")
		snap := r.snapshot(t)
		r.save(t, a, "a2\n")
		r.delete(t, a)
		r.move(t, b, "bee.txt")
		hc := historyClient(r.b, r.ed)
		seen := len(walkHistory(t, hc, &hivesyncv1.ListHistoryRequest{ProjectId: r.pid, OldestFirst: true}))

		r.restore(t, snap)
		all := walkHistory(t, hc, &hivesyncv1.ListHistoryRequest{ProjectId: r.pid, OldestFirst: true})
		var summaries []string
		for _, e := range all[seen:] {
			summaries = append(summaries, e.GetSummary())
		}
		require.Equal(t, []string{
			"restored deleted file a.txt",
			"restored a.txt from a snapshot (revision 3)",
			"moved bee.txt to b.txt",
			`restored snapshot "good" (1 of 2 files changed)`,
		}, summaries)
		require.Equal(t, []string{"version.state_changed", "version.state_changed", "version.state_changed", "snapshot.restored"}, types(all[seen:]))
	})
}
