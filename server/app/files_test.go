package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/server/files"
	"github.com/hivesync/hivesync/store/dbgen"
)

type editor struct {
	projects hivesyncv1connect.ProjectServiceClient
	files    hivesyncv1connect.FileServiceClient
	token    string
}

func newEditor(t *testing.T, b *testBundle, email string) editor {
	t.Helper()
	return newEditorOn(t, b, email, "vscode")
}

// newEditorOn signs the user in on a given client (desktop holds the user
// scope that team management needs; plugins do not).
func newEditorOn(t *testing.T, b *testBundle, email, clientID string) editor {
	t.Helper()
	ctx := context.Background()
	u, err := b.store.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: email})
	require.NoError(t, err)
	pair, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: auth.Clients[clientID], Scopes: auth.Clients[clientID].DefaultScopes()})
	require.NoError(t, err)
	return editor{
		projects: hivesyncv1connect.NewProjectServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken)),
		files:    hivesyncv1connect.NewFileServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken)),
		token:    pair.AccessToken,
	}
}

func TestFilesSaveWithCompareAndSet(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	ed := newEditor(t, b, "ed@files.test")
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Demo"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()

	created, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "src/App.tsx", Content: "line 1\r\nline 2\r\n"})
	require.NoError(t, err)
	f := created.GetFile()
	require.EqualValues(t, 1, f.GetHead().GetRevision())
	got, err := ed.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: f.GetId()})
	require.NoError(t, err)
	require.Equal(t, "line 1\nline 2\n", got.GetContent(), "CRLF is stored as LF")

	// Two devices start from revision 1. The first save wins; the second gets
	// a typed Conflict with a diff and writes nothing.
	base := f.GetHead().GetId()
	first, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetId(), BaseRevisionId: base, Content: "line 1\nline two\n"})
	require.NoError(t, err)
	require.EqualValues(t, 2, first.GetVersion().GetRevision())
	require.EqualValues(t, 1, first.GetVersion().GetLinesAdded())
	_, err = ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetId(), BaseRevisionId: base, Content: "line 1\nline 2\nline 3\n"})
	require.Equal(t, connect.CodeAborted, connect.CodeOf(err))
	c := typedDetail[*hivesyncv1.Conflict](t, err)
	require.Equal(t, first.GetVersion().GetId(), c.GetHeadRevisionId())
	require.EqualValues(t, 2, c.GetHeadRevision())
	require.Contains(t, c.GetUnifiedDiff(), "-line 2")
	require.Contains(t, c.GetUnifiedDiff(), "+line two")
	_, err = ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetId(), BaseRevisionId: base, Content: "a\r\nb\r\n"})
	require.Equal(t, files.Hash("a\nb\n"), typedDetail[*hivesyncv1.Conflict](t, err).GetClientContentSha256(),
		"the client's hash is of the text as it would be stored (LF)")
	_, err = ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetId(), BaseRevisionId: uuid.NewString(), Content: "z\n"})
	require.Equal(t, files.Hash("z\n"), typedDetail[*hivesyncv1.Conflict](t, err).GetClientContentSha256(), "an unknown base still hashes the client's content")
	_, err = ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetId(), BaseRevisionId: base, Content: "nul\x00"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "invalid content is refused even on a stale base")
	versions, err := ed.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: f.GetId()})
	require.NoError(t, err)
	require.Len(t, versions.GetVersions(), 2, "the stale save wrote nothing")

	// A retried save with the same idempotency key creates one version.
	for range 2 {
		r, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetId(), BaseRevisionId: first.GetVersion().GetId(), Content: "v3\n", IdempotencyKey: "k-3"})
		require.NoError(t, err)
		require.EqualValues(t, 3, r.GetVersion().GetRevision())
	}
	versions, err = ed.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: f.GetId()})
	require.NoError(t, err)
	require.Len(t, versions.GetVersions(), 3)
	_, err = ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetId(), BaseRevisionId: first.GetVersion().GetId(), Content: "other\n", IdempotencyKey: "k-3"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "a key reused for different content is refused")
	_, err = ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetId(), BaseRevisionId: first.GetVersion().GetId(), Content: "x\n", DeviceId: uuid.NewString()})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "device_id must be one of the caller's devices")

	// Listing pages newest first; a token continues below where it stopped.
	var revisions []int64
	token := ""
	for {
		page, err := ed.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: f.GetId(), PageSize: 2, PageToken: token})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.GetVersions()), 2)
		for _, v := range page.GetVersions() {
			revisions = append(revisions, v.GetRevision())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	require.Equal(t, []int64{3, 2, 1}, revisions)
	_, err = ed.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: f.GetId(), PageSize: 1001})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	_, err = ed.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: f.GetId(), PageToken: "not-a-token"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))

	d, err := ed.files.DiffVersions(ctx, &hivesyncv1.DiffVersionsRequest{FileId: f.GetId(), FromRevisionId: base})
	require.NoError(t, err)
	require.Contains(t, d.GetUnifiedDiff(), "+v3")
	old, err := ed.files.GetVersion(ctx, &hivesyncv1.GetVersionRequest{FileId: f.GetId(), RevisionId: base})
	require.NoError(t, err)
	require.Equal(t, "line 1\nline 2\n", old.GetContent(), "old versions are kept")

	// Every change, and every refused stale save, was announced on the
	// project's channel.
	rows, err := b.store.EventListAfter(ctx, dbgen.EventListAfterParams{Channel: "project_sync:" + pid, After: 0, MaxEvents: 10})
	require.NoError(t, err)
	var logged []string
	for _, r := range rows {
		logged = append(logged, r.EventType)
	}
	require.Equal(t, []string{"member.changed", "version.state_changed", "save_file", "conflict.detected", "conflict.detected", "conflict.detected", "save_file"}, logged)
}

func TestConcurrentSavesExactlyOneWins(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	ed := newEditor(t, b, "race@files.test")
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Race"})
	require.NoError(t, err)
	created, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: proj.GetProject().GetId(), Path: "a.txt", Content: "0\n"})
	require.NoError(t, err)
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: created.GetFile().GetId(), BaseRevisionId: created.GetFile().GetHead().GetId(), Content: strings.Repeat("x", i) + "\n"})
			switch connect.CodeOf(err) {
			case connect.CodeAborted:
				conflicts.Add(1)
			default:
				if err == nil {
					wins.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, wins.Load())
	require.EqualValues(t, 11, conflicts.Load())
	versions, err := ed.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: created.GetFile().GetId()})
	require.NoError(t, err)
	require.Len(t, versions.GetVersions(), 2, "no forked head")
}

func TestFilesRefuseBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_MAX_SINGLE_FILE_SIZE_BYTES": "100", "HIVESYNC_MAX_PROJECT_STORAGE_BYTES": "250"})
	ctx := context.Background()
	ed := newEditor(t, b, "bad@files.test")
	stranger := newEditor(t, b, "stranger@files.test")
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Limits"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()

	for _, path := range []string{"../etc/passwd", "/abs", `a\b`, "a/.git/config", "x\x00y"} {
		_, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: path, Content: "x"})
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), path)
	}
	_, err = ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "bin", Content: "a\x00b"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	_, err = ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "big", Content: strings.Repeat("x", 101)})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	require.Equal(t, hivesyncv1.Limit_LIMIT_SINGLE_FILE_SIZE, typedDetail[*hivesyncv1.LimitExceeded](t, err).GetLimit())

	f, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "Notes.md", Content: strings.Repeat("n", 100)})
	require.NoError(t, err)
	_, err = ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "notes.MD", Content: "x"})
	require.Equal(t, connect.CodeAlreadyExists, connect.CodeOf(err), "paths collide ignoring case")
	_, err = ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetFile().GetId(), BaseRevisionId: f.GetFile().GetHead().GetId(), Content: strings.Repeat("m", 100)})
	require.NoError(t, err)
	_, err = ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "more.md", Content: strings.Repeat("z", 100)})
	require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(err), "250 bytes of project storage are used up")
	require.Equal(t, hivesyncv1.Limit_LIMIT_PROJECT_STORAGE, typedDetail[*hivesyncv1.LimitExceeded](t, err).GetLimit())
	list, err := ed.files.ListFiles(ctx, &hivesyncv1.ListFilesRequest{ProjectId: pid})
	require.NoError(t, err)
	require.Len(t, list.GetFiles(), 1, "refused requests wrote nothing")

	// Strangers see nothing.
	_, err = stranger.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: f.GetFile().GetId()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = stranger.projects.GetProject(ctx, &hivesyncv1.GetProjectRequest{ProjectId: pid})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	mine, err := stranger.projects.ListProjects(ctx, &hivesyncv1.ListProjectsRequest{})
	require.NoError(t, err)
	require.Empty(t, mine.GetProjects())
}

func TestReplayOfflineEdits(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_MAX_SINGLE_FILE_SIZE_BYTES": "1000"})
	ctx := context.Background()
	ed := newEditor(t, b, "offline@files.test")
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Offline"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()
	main, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "main.go", Content: "package main\n\nfunc main() {}\n"})
	require.NoError(t, err)
	base := main.GetFile().GetHead().GetId()

	// Meanwhile another device changed main.go.
	other, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: main.GetFile().GetId(), BaseRevisionId: base, Content: "package main\n\nfunc main() { run() }\n"})
	require.NoError(t, err)

	sync := hivesyncv1connect.NewSyncServiceClient(b.h1, b.baseURL, bearer(mustToken(t, b, "offline@files.test")))
	batch := &hivesyncv1.ReplayEditsRequest{ProjectId: pid, Edits: []*hivesyncv1.QueuedEdit{
		{Id: "q1", FilePath: "notes.md", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_CREATE, Content: "# notes\n"},
		{Id: "q2", FilePath: "main.go", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_SAVE, BaseRevisionId: base, Content: "package main\n"},
		{Id: "q3", FilePath: "../escape", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_CREATE, Content: "x"},
		{Id: "q4", FilePath: "main.go", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_PATCH, BaseRevisionId: other.GetVersion().GetId(),
			Patch: "--- a\n+++ b\n@@ -3 +3 @@\n-func main() { run() }\n+func main() { run(); stop() }\n"},
		{Id: "q5", FilePath: "big.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_CREATE, Content: strings.Repeat("x", 1001)},
	}}
	resp, err := sync.ReplayEdits(ctx, batch)
	require.NoError(t, err)
	outcomes := map[string]hivesyncv1.ReplayOutcome{}
	for _, r := range resp.GetResults() {
		outcomes[r.GetEditId()] = r.GetOutcome()
	}
	require.Equal(t, map[string]hivesyncv1.ReplayOutcome{
		"q1": hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED,
		"q2": hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_CONFLICT, // its base is stale: surfaced, not overwritten
		"q3": hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_REJECTED,
		"q4": hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, // one bad entry never blocks the others
		"q5": hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_REJECTED,
	}, outcomes)
	require.EqualValues(t, 2, resp.GetResults()[1].GetConflict().GetHeadRevision())
	require.Equal(t, "invalid_argument", resp.GetResults()[2].GetCode())
	got, err := ed.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: main.GetFile().GetId()})
	require.NoError(t, err)
	require.Equal(t, "package main\n\nfunc main() { run(); stop() }\n", got.GetContent())

	// Replaying the same batch again creates nothing new.
	again, err := sync.ReplayEdits(ctx, batch)
	require.NoError(t, err)
	require.Equal(t, resp.GetResults()[0].GetVersion().GetId(), again.GetResults()[0].GetVersion().GetId())
	require.Equal(t, resp.GetResults()[3].GetVersion().GetId(), again.GetResults()[3].GetVersion().GetId())
	versions, err := ed.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: main.GetFile().GetId()})
	require.NoError(t, err)
	require.Len(t, versions.GetVersions(), 3)
	list, err := ed.files.ListFiles(ctx, &hivesyncv1.ListFilesRequest{ProjectId: pid})
	require.NoError(t, err)
	require.Len(t, list.GetFiles(), 2)
}

func mustToken(t *testing.T, b *testBundle, email string) string {
	t.Helper()
	ctx := context.Background()
	u, err := b.store.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: email})
	require.NoError(t, err)
	pair, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: auth.Clients["cli"], Scopes: auth.Clients["cli"].DefaultScopes()})
	require.NoError(t, err)
	return pair.AccessToken
}

func TestSnapshotsAreTrueStatesAndRestoreAppends(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	ed := newEditor(t, b, "snap@files.test")
	snaps := hivesyncv1connect.NewSnapshotServiceClient(b.h1, b.baseURL, bearer(mustToken(t, b, "snap@files.test")))
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Snap"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()
	a, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "a.txt", Content: "a1\n"})
	require.NoError(t, err)
	bf, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "b.txt", Content: "b1\n"})
	require.NoError(t, err)

	snap, err := snaps.CreateSnapshot(ctx, &hivesyncv1.CreateSnapshotRequest{ProjectId: pid, Label: "before refactor"})
	require.NoError(t, err)
	require.EqualValues(t, 2, snap.GetSnapshot().GetFileCount())

	a2, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: a.GetFile().GetId(), BaseRevisionId: a.GetFile().GetHead().GetId(), Content: "a2\n"})
	require.NoError(t, err)
	_, err = ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "c.txt", Content: "new\n"})
	require.NoError(t, err)

	diff, err := snaps.DiffSnapshot(ctx, &hivesyncv1.DiffSnapshotRequest{SnapshotId: snap.GetSnapshot().GetId()})
	require.NoError(t, err)
	require.EqualValues(t, 1, diff.GetUnchanged(), "b.txt")
	require.Len(t, diff.GetFiles(), 2)
	require.Equal(t, hivesyncv1.SnapshotChange_SNAPSHOT_CHANGE_MODIFIED, diff.GetFiles()[0].GetChange(), "a.txt")
	require.Equal(t, hivesyncv1.SnapshotChange_SNAPSHOT_CHANGE_ADDED, diff.GetFiles()[1].GetChange(), "c.txt")
	_, err = ed.files.MoveFile(ctx, &hivesyncv1.MoveFileRequest{FileId: bf.GetFile().GetId(), NewPath: "bee.txt"})
	require.NoError(t, err)
	diff, err = snaps.DiffSnapshot(ctx, &hivesyncv1.DiffSnapshotRequest{SnapshotId: snap.GetSnapshot().GetId()})
	require.NoError(t, err)
	require.Zero(t, diff.GetUnchanged())
	require.Equal(t, hivesyncv1.SnapshotChange_SNAPSHOT_CHANGE_MOVED, diff.GetFiles()[1].GetChange(), "b.txt is now bee.txt")

	restored, err := snaps.RestoreSnapshot(ctx, &hivesyncv1.RestoreSnapshotRequest{SnapshotId: snap.GetSnapshot().GetId()})
	require.NoError(t, err)
	require.Len(t, restored.GetRestored(), 1, "only a.txt's content changed")
	require.Zero(t, restored.GetUnchanged(), "b.txt had moved")
	require.EqualValues(t, 3, restored.GetRestored()[0].GetVersion().GetRevision(), "restore appends")
	require.Len(t, restored.GetMoved(), 1)
	require.Equal(t, bf.GetFile().GetId(), restored.GetMoved()[0].GetFileId())
	require.Equal(t, "bee.txt", restored.GetMoved()[0].GetPreviousPath())
	require.Equal(t, "b.txt", restored.GetMoved()[0].GetPath(), "a moved file goes back to its snapshot path")
	require.Empty(t, restored.GetSkipped())
	require.Empty(t, restored.GetUndeletedFileIds())
	got, err := ed.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: a.GetFile().GetId()})
	require.NoError(t, err)
	require.Equal(t, "a1\n", got.GetContent())
	later, err := ed.files.GetVersion(ctx, &hivesyncv1.GetVersionRequest{FileId: a.GetFile().GetId(), RevisionId: a2.GetVersion().GetId()})
	require.NoError(t, err)
	require.Equal(t, "a2\n", later.GetContent(), "the later version was not destroyed")
	list, err := ed.files.ListFiles(ctx, &hivesyncv1.ListFilesRequest{ProjectId: pid})
	require.NoError(t, err)
	require.Len(t, list.GetFiles(), 3, "files created after the snapshot are left alone")

	// The snapshot itself never changed.
	again, err := snaps.GetSnapshot(ctx, &hivesyncv1.GetSnapshotRequest{SnapshotId: snap.GetSnapshot().GetId()})
	require.NoError(t, err)
	require.Len(t, again.GetFiles(), 2)
	require.Equal(t, a.GetFile().GetHead().GetId(), again.GetFiles()[0].GetVersion().GetId())

	// Snapshots taken while another device keeps saving still capture every
	// file (one statement reads all heads at one instant).
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		head := got.GetFile().GetHead().GetId()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: a.GetFile().GetId(), BaseRevisionId: head, Content: strings.Repeat("z", i%50) + "\n"})
			if err == nil {
				head = r.GetVersion().GetId()
			}
		}
	}()
	for range 5 {
		s, err := snaps.CreateSnapshot(ctx, &hivesyncv1.CreateSnapshotRequest{ProjectId: pid})
		require.NoError(t, err)
		g, err := snaps.GetSnapshot(ctx, &hivesyncv1.GetSnapshotRequest{SnapshotId: s.GetSnapshot().GetId()})
		require.NoError(t, err)
		require.Len(t, g.GetFiles(), 3)
	}
	close(stop)
	wg.Wait()
	all, err := snaps.ListSnapshots(ctx, &hivesyncv1.ListSnapshotsRequest{ProjectId: pid})
	require.NoError(t, err)
	require.Len(t, all.GetSnapshots(), 6)
}

func TestMembersAndInvites(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	owner, bee := newEditorOn(t, b, "owner@team.test", "desktop"), newEditorOn(t, b, "bee@team.test", "desktop")
	outsider := newEditorOn(t, b, "out@team.test", "desktop")
	proj, err := owner.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Team"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()
	f, err := owner.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "x.md", Content: "x\n"})
	require.NoError(t, err)

	inv, err := owner.projects.CreateInvite(ctx, &hivesyncv1.CreateInviteRequest{ProjectId: pid, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR})
	require.NoError(t, err)
	joined, err := bee.projects.AcceptInvite(ctx, &hivesyncv1.AcceptInviteRequest{Token: inv.GetToken()})
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR, joined.GetProject().GetRole())
	_, err = outsider.projects.AcceptInvite(ctx, &hivesyncv1.AcceptInviteRequest{Token: inv.GetToken()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "an invite works once")

	saved, err := bee.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetFile().GetId(), BaseRevisionId: f.GetFile().GetHead().GetId(), Content: "y\n"})
	require.NoError(t, err)
	_, err = bee.projects.CreateInvite(ctx, &hivesyncv1.CreateInviteRequest{ProjectId: pid, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR})
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "only owners invite")

	members, err := bee.projects.ListMembers(ctx, &hivesyncv1.ListMembersRequest{ProjectId: pid})
	require.NoError(t, err)
	require.Len(t, members.GetMembers(), 2)
	beeID := members.GetMembers()[1].GetUserId()
	ownerID := members.GetMembers()[0].GetUserId()

	// Demoted to viewer, bee reads but cannot write.
	_, err = owner.projects.UpdateMember(ctx, &hivesyncv1.UpdateMemberRequest{ProjectId: pid, UserId: beeID, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_VIEWER})
	require.NoError(t, err)
	_, err = bee.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetFile().GetId(), BaseRevisionId: saved.GetVersion().GetId(), Content: "z\n"})
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
	_, err = bee.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: f.GetFile().GetId()})
	require.NoError(t, err)

	// The last owner can neither step down nor leave.
	_, err = owner.projects.UpdateMember(ctx, &hivesyncv1.UpdateMemberRequest{ProjectId: pid, UserId: ownerID, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR})
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))
	_, err = owner.projects.RemoveMember(ctx, &hivesyncv1.RemoveMemberRequest{ProjectId: pid, UserId: ownerID})
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))

	// An invite for an email works only for that account.
	named, err := owner.projects.CreateInvite(ctx, &hivesyncv1.CreateInviteRequest{ProjectId: pid, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_VIEWER, Email: "Named@Team.test"})
	require.NoError(t, err)
	_, err = outsider.projects.AcceptInvite(ctx, &hivesyncv1.AcceptInviteRequest{Token: named.GetToken()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	named2 := newEditorOn(t, b, "named@team.test", "desktop")
	_, err = named2.projects.AcceptInvite(ctx, &hivesyncv1.AcceptInviteRequest{Token: named.GetToken()})
	require.NoError(t, err, "the refused attempt did not spend it")

	// Bee leaves; the project is then invisible to bee.
	_, err = bee.projects.RemoveMember(ctx, &hivesyncv1.RemoveMemberRequest{ProjectId: pid, UserId: beeID})
	require.NoError(t, err)
	_, err = bee.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: f.GetFile().GetId()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = bee.projects.ListMembers(ctx, &hivesyncv1.ListMembersRequest{ProjectId: pid})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
}

func TestMoveDeleteRestore(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	ed := newEditor(t, b, "tree@files.test")
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Tree"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()
	a, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "a.txt", Content: "a\n"})
	require.NoError(t, err)
	_, err = ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "b.txt", Content: "b\n"})
	require.NoError(t, err)
	id := a.GetFile().GetId()

	moved, err := ed.files.MoveFile(ctx, &hivesyncv1.MoveFileRequest{FileId: id, NewPath: "docs/A.txt"})
	require.NoError(t, err)
	require.Equal(t, "docs/A.txt", moved.GetFile().GetPath())
	require.Equal(t, a.GetFile().GetHead().GetId(), moved.GetFile().GetHead().GetId(), "versions stay with the file")
	_, err = ed.files.MoveFile(ctx, &hivesyncv1.MoveFileRequest{FileId: id, NewPath: "B.TXT"})
	require.Equal(t, connect.CodeAlreadyExists, connect.CodeOf(err))
	_, err = ed.files.MoveFile(ctx, &hivesyncv1.MoveFileRequest{FileId: id, NewPath: "../out"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))

	_, err = ed.files.DeleteFile(ctx, &hivesyncv1.DeleteFileRequest{FileId: id})
	require.NoError(t, err)
	_, err = ed.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: id})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	live, err := ed.files.ListFiles(ctx, &hivesyncv1.ListFilesRequest{ProjectId: pid})
	require.NoError(t, err)
	require.Len(t, live.GetFiles(), 1)
	all, err := ed.files.ListFiles(ctx, &hivesyncv1.ListFilesRequest{ProjectId: pid, IncludeDeleted: true})
	require.NoError(t, err)
	require.Len(t, all.GetFiles(), 2)
	require.NotNil(t, all.GetFiles()[1].GetDeletedAt())

	// Another file takes the path meanwhile: restoring refuses to overwrite it.
	taker, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "docs/a.txt", Content: "new\n"})
	require.NoError(t, err)
	_, err = ed.files.RestoreFile(ctx, &hivesyncv1.RestoreFileRequest{FileId: id})
	require.Equal(t, connect.CodeAlreadyExists, connect.CodeOf(err))
	_, err = ed.files.MoveFile(ctx, &hivesyncv1.MoveFileRequest{FileId: taker.GetFile().GetId(), NewPath: "docs/new.txt"})
	require.NoError(t, err)
	restored, err := ed.files.RestoreFile(ctx, &hivesyncv1.RestoreFileRequest{FileId: id})
	require.NoError(t, err)
	require.Equal(t, "docs/A.txt", restored.GetFile().GetPath())
	got, err := ed.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: id})
	require.NoError(t, err)
	require.Equal(t, "a\n", got.GetContent(), "nothing was lost by deleting")
	_, err = ed.files.RestoreFile(ctx, &hivesyncv1.RestoreFileRequest{FileId: id})
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))
}

func TestSoftLocksAreAdvisory(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	laptop, phone := newEditor(t, b, "lock@files.test"), newEditorOn(t, b, "lock@files.test", "desktop")
	proj, err := laptop.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Locks"})
	require.NoError(t, err)
	f, err := laptop.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: proj.GetProject().GetId(), Path: "l.txt", Content: "1\n"})
	require.NoError(t, err)
	id := f.GetFile().GetId()

	held, err := laptop.files.AcquireLock(ctx, &hivesyncv1.AcquireLockRequest{FileId: id})
	require.NoError(t, err)
	require.Len(t, held.GetLocks(), 1)
	_, err = laptop.files.AcquireLock(ctx, &hivesyncv1.AcquireLockRequest{FileId: id, TtlSeconds: 120}) // heartbeat
	require.NoError(t, err)
	_, err = laptop.files.AcquireLock(ctx, &hivesyncv1.AcquireLockRequest{FileId: id, TtlSeconds: 5})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))

	seen, err := phone.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: id})
	require.NoError(t, err)
	require.Len(t, seen.GetLocks(), 1, "other devices see who is editing")
	_, err = phone.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: id, BaseRevisionId: seen.GetFile().GetHead().GetId(), Content: "2\n"})
	require.NoError(t, err, "a soft lock never blocks a save")

	_, err = laptop.files.ReleaseLock(ctx, &hivesyncv1.ReleaseLockRequest{FileId: id})
	require.NoError(t, err)
	seen, err = phone.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: id})
	require.NoError(t, err)
	require.Empty(t, seen.GetLocks())

	rows, err := b.store.EventListAfter(ctx, dbgen.EventListAfterParams{Channel: "project_sync:" + proj.GetProject().GetId(), After: 0, MaxEvents: 20})
	require.NoError(t, err)
	var locks int
	for _, r := range rows {
		if r.EventType == "lock.changed" {
			locks++
		}
	}
	require.Equal(t, 2, locks, "taken and released are announced; heartbeats are not")

	// Lapsed lock rows are pruned.
	_, err = laptop.files.AcquireLock(ctx, &hivesyncv1.AcquireLockRequest{FileId: id, TtlSeconds: 10})
	require.NoError(t, err)
	later := func() time.Time { return time.Now().Add(time.Hour) }
	require.NoError(t, (&files.PruneLocksWorker{Store: b.store, Now: later}).Work(ctx, nil))
	left, err := b.store.SoftLockDeleteLapsed(ctx, later())
	require.NoError(t, err)
	require.Empty(t, left, "the job already deleted it")
}

// pages walks a listing to its end with page size 2 and returns every item.
func pages[T any](t *testing.T, list func(token string) ([]T, string, error)) []T {
	t.Helper()
	var all []T
	token := ""
	for range 100 {
		items, next, err := list(token)
		require.NoError(t, err)
		require.LessOrEqual(t, len(items), 2)
		all = append(all, items...)
		if next == "" {
			return all
		}
		token = next
	}
	t.Fatal("pagination does not end")
	return nil
}

func TestListsPageWithStableTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	owner := newEditorOn(t, b, "pager@files.test", "desktop")
	snaps := hivesyncv1connect.NewSnapshotServiceClient(b.h1, b.baseURL, bearer(owner.token))
	var pid string
	for i := range 5 {
		p, err := owner.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: fmt.Sprintf("P%d", i)})
		require.NoError(t, err)
		pid = p.GetProject().GetId()
	}
	paths := []string{"b.txt", "a/z.txt", "a.txt", "c/d/e.txt", "B2.txt", "zz.txt", "a/a.txt"}
	for _, p := range paths {
		_, err := owner.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: p, Content: p})
		require.NoError(t, err)
	}
	for range 3 {
		_, err := snaps.CreateSnapshot(ctx, &hivesyncv1.CreateSnapshotRequest{ProjectId: pid})
		require.NoError(t, err)
	}
	for i := range 3 {
		joiner := newEditorOn(t, b, fmt.Sprintf("m%d@files.test", i), "desktop")
		inv, err := owner.projects.CreateInvite(ctx, &hivesyncv1.CreateInviteRequest{ProjectId: pid, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_VIEWER + hivesyncv1.ProjectRole(i%2)})
		require.NoError(t, err)
		_, err = joiner.projects.AcceptInvite(ctx, &hivesyncv1.AcceptInviteRequest{Token: inv.GetToken()})
		require.NoError(t, err)
	}

	t.Run("files", func(t *testing.T) {
		whole, err := owner.files.ListFiles(ctx, &hivesyncv1.ListFilesRequest{ProjectId: pid})
		require.NoError(t, err)
		require.Len(t, whole.GetFiles(), len(paths))
		require.Empty(t, whole.GetNextPageToken())
		paged := pages(t, func(token string) ([]*hivesyncv1.File, string, error) {
			r, err := owner.files.ListFiles(ctx, &hivesyncv1.ListFilesRequest{ProjectId: pid, PageSize: 2, PageToken: token})
			return r.GetFiles(), r.GetNextPageToken(), err
		})
		require.Equal(t, len(whole.GetFiles()), len(paged))
		for i := range paged {
			require.Equal(t, whole.GetFiles()[i].GetPath(), paged[i].GetPath())
		}
	})
	t.Run("projects", func(t *testing.T) {
		paged := pages(t, func(token string) ([]*hivesyncv1.Project, string, error) {
			r, err := owner.projects.ListProjects(ctx, &hivesyncv1.ListProjectsRequest{PageSize: 2, PageToken: token})
			return r.GetProjects(), r.GetNextPageToken(), err
		})
		var names []string
		for _, p := range paged {
			names = append(names, p.GetName())
		}
		require.Equal(t, []string{"P4", "P3", "P2", "P1", "P0"}, names, "newest first")
	})
	t.Run("snapshots", func(t *testing.T) {
		paged := pages(t, func(token string) ([]*hivesyncv1.Snapshot, string, error) {
			r, err := snaps.ListSnapshots(ctx, &hivesyncv1.ListSnapshotsRequest{ProjectId: pid, PageSize: 2, PageToken: token})
			return r.GetSnapshots(), r.GetNextPageToken(), err
		})
		require.Len(t, paged, 3)
		for i := 1; i < len(paged); i++ {
			require.False(t, paged[i].GetCreatedAt().AsTime().After(paged[i-1].GetCreatedAt().AsTime()))
			require.NotEqual(t, paged[i].GetId(), paged[i-1].GetId())
		}
	})
	t.Run("members", func(t *testing.T) {
		paged := pages(t, func(token string) ([]*hivesyncv1.Member, string, error) {
			r, err := owner.projects.ListMembers(ctx, &hivesyncv1.ListMembersRequest{ProjectId: pid, PageSize: 2, PageToken: token})
			return r.GetMembers(), r.GetNextPageToken(), err
		})
		require.Len(t, paged, 4)
		require.Equal(t, hivesyncv1.ProjectRole_PROJECT_ROLE_OWNER, paged[0].GetRole(), "owners first")
		seen := map[string]bool{}
		for i, m := range paged {
			require.False(t, seen[m.GetUserId()])
			seen[m.GetUserId()] = true
			if i > 0 {
				require.LessOrEqual(t, m.GetRole(), paged[i-1].GetRole())
			}
		}
	})
	t.Run("bad_tokens_and_sizes", func(t *testing.T) {
		_, err := owner.files.ListFiles(ctx, &hivesyncv1.ListFilesRequest{ProjectId: pid, PageToken: "not-a-token"})
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		_, err = owner.projects.ListProjects(ctx, &hivesyncv1.ListProjectsRequest{PageToken: "%%%"})
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		_, err = owner.projects.ListMembers(ctx, &hivesyncv1.ListMembersRequest{ProjectId: pid, PageToken: "eA"})
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		_, err = snaps.ListSnapshots(ctx, &hivesyncv1.ListSnapshotsRequest{ProjectId: pid, PageSize: -1})
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		_, err = owner.files.ListFiles(ctx, &hivesyncv1.ListFilesRequest{ProjectId: pid, PageSize: 5001})
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	})
}
