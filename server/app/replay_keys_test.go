package app_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
)

// Queue row ids are only unique on their device. Two devices replaying rows
// with the same id on the same file each get their own edit applied: an
// edit is never answered with another device's version and dropped.
func TestReplayedEditsOfTwoDevicesNeverShareAKey(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	// One user, signed in on two devices.
	ed := newEditorOn(t, b, "twodevices@replay.test", "desktop")
	phone, err := hivesyncv1connect.NewDeviceServiceClient(b.h1, b.baseURL, bearer(ed.token)).
		RegisterDevice(ctx, &hivesyncv1.RegisterDeviceRequest{Platform: "ios"})
	require.NoError(t, err)
	other := newEditorOn(t, b, "twodevices@replay.test", "desktop")
	laptop, err := hivesyncv1connect.NewDeviceServiceClient(b.h1, b.baseURL, bearer(other.token)).
		RegisterDevice(ctx, &hivesyncv1.RegisterDeviceRequest{Platform: "macos"})
	require.NoError(t, err)
	require.NotEqual(t, phone.GetDevice().GetId(), laptop.GetDevice().GetId())
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Two devices"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()
	f, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "notes.md", Content: "one\ntwo\n"})
	require.NoError(t, err)
	sync := hivesyncv1connect.NewSyncServiceClient(b.h1, b.baseURL, bearer(ed.token))
	replay := func(device string, e *hivesyncv1.QueuedEdit) *hivesyncv1.ReplayResult {
		t.Helper()
		resp, err := sync.ReplayEdits(ctx, &hivesyncv1.ReplayEditsRequest{ProjectId: pid, DeviceId: device, Edits: []*hivesyncv1.QueuedEdit{e}})
		require.NoError(t, err)
		return resp.GetResults()[0]
	}

	// The phone's queue row 1 saves the file.
	first := replay(phone.GetDevice().GetId(), &hivesyncv1.QueuedEdit{Id: "1", FilePath: "notes.md", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_SAVE,
		BaseRevisionId: f.GetFile().GetHead().GetId(), Content: "one\ntwo\nphone\n"})
	require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, first.GetOutcome(), first.GetReason())

	// The laptop, synced since, replays its own row 1: a patch.
	second := replay(laptop.GetDevice().GetId(), &hivesyncv1.QueuedEdit{Id: "1", FilePath: "notes.md", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_PATCH,
		BaseRevisionId: first.GetVersion().GetId(), Patch: "--- a\n+++ b\n@@ -1,3 +1,3 @@\n-one\n+ONE\n two\n phone\n"})
	require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, second.GetOutcome(), second.GetReason())
	require.NotEqual(t, first.GetVersion().GetId(), second.GetVersion().GetId(), "the laptop's edit is its own version")
	require.EqualValues(t, 3, second.GetVersion().GetRevision())

	// And its row 2, a save, once more with an id the phone also used.
	third := replay(laptop.GetDevice().GetId(), &hivesyncv1.QueuedEdit{Id: "2", FilePath: "notes.md", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_SAVE,
		BaseRevisionId: second.GetVersion().GetId(), Content: "ONE\ntwo\nphone\nlaptop\n"})
	require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, third.GetOutcome(), third.GetReason())
	phoneTwo := replay(phone.GetDevice().GetId(), &hivesyncv1.QueuedEdit{Id: "2", FilePath: "notes.md", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_SAVE,
		BaseRevisionId: third.GetVersion().GetId(), Content: "ONE\ntwo\nphone\nlaptop\nphone again\n"})
	require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, phoneTwo.GetOutcome(), phoneTwo.GetReason())

	got, err := ed.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: f.GetFile().GetId()})
	require.NoError(t, err)
	require.Equal(t, "ONE\ntwo\nphone\nlaptop\nphone again\n", got.GetContent(), "every device's edit landed")

	// Each device's replay is still safe to repeat.
	again := replay(laptop.GetDevice().GetId(), &hivesyncv1.QueuedEdit{Id: "1", FilePath: "notes.md", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_PATCH,
		BaseRevisionId: first.GetVersion().GetId(), Patch: "--- a\n+++ b\n@@ -1,3 +1,3 @@\n-one\n+ONE\n two\n phone\n"})
	require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, again.GetOutcome())
	require.Equal(t, second.GetVersion().GetId(), again.GetVersion().GetId())
	versions, err := ed.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: f.GetFile().GetId()})
	require.NoError(t, err)
	require.Len(t, versions.GetVersions(), 5)
}

// An idempotency key names one save. A save that reuses a key another save
// of the file used (another user's, or a different edit) writes nothing
// and is told so; it is never answered with the other save's version.
func TestAReusedIdempotencyKeyIsNeverAnsweredWithAnotherSave(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	owner, bee := newEditorOn(t, b, "owner@keys.test", "desktop"), newEditorOn(t, b, "bee@keys.test", "desktop")
	proj, err := owner.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Keys"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()
	inv, err := owner.projects.CreateInvite(ctx, &hivesyncv1.CreateInviteRequest{ProjectId: pid, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR})
	require.NoError(t, err)
	_, err = bee.projects.AcceptInvite(ctx, &hivesyncv1.AcceptInviteRequest{Token: inv.GetToken()})
	require.NoError(t, err)
	f, err := owner.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "a.txt", Content: "a\n"})
	require.NoError(t, err)
	fid, base := f.GetFile().GetId(), f.GetFile().GetHead().GetId()

	saved, err := owner.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: fid, BaseRevisionId: base, Content: "b\n", IdempotencyKey: "k1"})
	require.NoError(t, err)
	// The same save retried answers the same version.
	retried, err := owner.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: fid, BaseRevisionId: base, Content: "b\n", IdempotencyKey: "k1"})
	require.NoError(t, err)
	require.Equal(t, saved.GetVersion().GetId(), retried.GetVersion().GetId())

	// Another user's save with the same key and content is not the owner's.
	_, err = bee.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: fid, BaseRevisionId: base, Content: "b\n", IdempotencyKey: "k1"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%v", err)

	// A replayed patch reusing a key for a different edit is refused, not
	// answered with the earlier save.
	sync := hivesyncv1connect.NewSyncServiceClient(b.h1, b.baseURL, bearer(owner.token))
	resp, err := sync.ReplayEdits(ctx, &hivesyncv1.ReplayEditsRequest{ProjectId: pid, Edits: []*hivesyncv1.QueuedEdit{
		{Id: "p", IdempotencyKey: "k1", FilePath: "a.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_PATCH, BaseRevisionId: base,
			Patch: "--- a\n+++ b\n@@ -1 +1 @@\n-a\n+c\n"},
		// The same patch as the first save, under its key: a retry.
		{Id: "q", IdempotencyKey: "k1", FilePath: "a.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_PATCH, BaseRevisionId: base,
			Patch: "--- a\n+++ b\n@@ -1 +1 @@\n-a\n+b\n"},
		// A create reusing the file's first version's key... with its own key
		// used elsewhere and other content: the path is taken.
		{Id: "c", IdempotencyKey: "k1", FilePath: "b.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_CREATE, Content: "new\n"},
	}})
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_REJECTED, resp.GetResults()[0].GetOutcome())
	require.Equal(t, "invalid_argument", resp.GetResults()[0].GetCode())
	require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, resp.GetResults()[1].GetOutcome(), resp.GetResults()[1].GetReason())
	require.Equal(t, saved.GetVersion().GetId(), resp.GetResults()[1].GetVersion().GetId())
	require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, resp.GetResults()[2].GetOutcome(), "a new file: the key is free on it")

	// A replayed create whose key was used on the existing file at that
	// path by a create with other content does not answer that file.
	created, err := sync.ReplayEdits(ctx, &hivesyncv1.ReplayEditsRequest{ProjectId: pid, Edits: []*hivesyncv1.QueuedEdit{
		{Id: "c2", IdempotencyKey: "k1", FilePath: "b.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_CREATE, Content: "other\n"},
	}})
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_REJECTED, created.GetResults()[0].GetOutcome())
	require.Equal(t, "already_exists", created.GetResults()[0].GetCode())

	got, err := owner.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: fid})
	require.NoError(t, err)
	require.Equal(t, "b\n", got.GetContent())
	versions, err := owner.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: fid})
	require.NoError(t, err)
	require.Len(t, versions.GetVersions(), 2, "nothing written by the refused saves")
}

// A deleted file's versions stay readable, so a user can look through them
// before restoring it; the file itself is gone from the tree.
func TestVersionsOfADeletedFileStayReadable(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	ed := newEditor(t, b, "deleted@versions.test")
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Deleted"})
	require.NoError(t, err)
	f, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: proj.GetProject().GetId(), Path: "gone.txt", Content: "v1\n"})
	require.NoError(t, err)
	v2, err := ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetFile().GetId(), BaseRevisionId: f.GetFile().GetHead().GetId(), Content: "v2\n"})
	require.NoError(t, err)
	_, err = ed.files.DeleteFile(ctx, &hivesyncv1.DeleteFileRequest{FileId: f.GetFile().GetId()})
	require.NoError(t, err)

	_, err = ed.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: f.GetFile().GetId()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	versions, err := ed.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: f.GetFile().GetId()})
	require.NoError(t, err)
	require.Len(t, versions.GetVersions(), 2)
	old, err := ed.files.GetVersion(ctx, &hivesyncv1.GetVersionRequest{FileId: f.GetFile().GetId(), RevisionId: f.GetFile().GetHead().GetId()})
	require.NoError(t, err)
	require.Equal(t, "v1\n", old.GetContent())
	diff, err := ed.files.DiffVersions(ctx, &hivesyncv1.DiffVersionsRequest{FileId: f.GetFile().GetId(), FromRevisionId: f.GetFile().GetHead().GetId(),
		ToRevisionId: v2.GetVersion().GetId()})
	require.NoError(t, err)
	require.EqualValues(t, 1, diff.GetLinesAdded())
	require.EqualValues(t, 1, diff.GetLinesRemoved())

	// Still only for members.
	stranger := newEditor(t, b, "stranger@versions.test")
	_, err = stranger.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: f.GetFile().GetId()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
}

// A device that edits files several times while offline queues every edit
// of a file with the base it last knew; replayed in one batch, each edit
// follows the one before it instead of conflicting with it. Edits of a file
// created offline name no base.
func TestReplayedEditsOfOneFileFollowEachOther(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	ed := newEditor(t, b, "chain@replay.test")
	proj, err := ed.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Chain"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()
	f, err := ed.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "a.txt", Content: "one\n"})
	require.NoError(t, err)
	base := f.GetFile().GetHead().GetId()
	sync := hivesyncv1connect.NewSyncServiceClient(b.h1, b.baseURL, bearer(ed.token))
	batch := &hivesyncv1.ReplayEditsRequest{ProjectId: pid, Edits: []*hivesyncv1.QueuedEdit{
		{Id: "1", FilePath: "a.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_SAVE, BaseRevisionId: base, Content: "one\ntwo\n"},
		{Id: "2", FilePath: "a.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_SAVE, BaseRevisionId: base, Content: "one\ntwo\nthree\n"},
		{Id: "3", FilePath: "a.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_PATCH, BaseRevisionId: base,
			Patch: "--- a\n+++ b\n@@ -3 +3,2 @@\n three\n+four\n"},
		{Id: "4", FilePath: "new.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_CREATE, Content: "n1\n"},
		{Id: "5", FilePath: "new.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_SAVE, Content: "n1\nn2\n"},
		{Id: "6", FilePath: "new.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_SAVE, Content: "n1\nn2\nn3\n"},
	}}
	resp, err := sync.ReplayEdits(ctx, batch)
	require.NoError(t, err)
	for _, r := range resp.GetResults() {
		require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_APPLIED, r.GetOutcome(), "%s: %s %s", r.GetEditId(), r.GetReason(), r.GetConflict())
	}
	require.Equal(t, []int64{2, 3, 4, 1, 2, 3}, []int64{resp.GetResults()[0].GetVersion().GetRevision(), resp.GetResults()[1].GetVersion().GetRevision(),
		resp.GetResults()[2].GetVersion().GetRevision(), resp.GetResults()[3].GetVersion().GetRevision(), resp.GetResults()[4].GetVersion().GetRevision(),
		resp.GetResults()[5].GetVersion().GetRevision()})
	got, err := ed.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: f.GetFile().GetId()})
	require.NoError(t, err)
	require.Equal(t, "one\ntwo\nthree\nfour\n", got.GetContent())
	created, err := ed.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: resp.GetResults()[3].GetFileId()})
	require.NoError(t, err)
	require.Equal(t, "n1\nn2\nn3\n", created.GetContent())

	// The batch replayed again writes nothing new and answers the same.
	again, err := sync.ReplayEdits(ctx, batch)
	require.NoError(t, err)
	for i, r := range again.GetResults() {
		require.Equal(t, resp.GetResults()[i].GetVersion().GetId(), r.GetVersion().GetId(), r.GetEditId())
	}

	// Another device's save meanwhile still makes a queued edit a conflict.
	_, err = ed.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetFile().GetId(), BaseRevisionId: resp.GetResults()[2].GetVersion().GetId(), Content: "other\n"})
	require.NoError(t, err)
	late, err := sync.ReplayEdits(ctx, &hivesyncv1.ReplayEditsRequest{ProjectId: pid, Edits: []*hivesyncv1.QueuedEdit{
		{Id: "7", FilePath: "a.txt", Operation: hivesyncv1.EditOperation_EDIT_OPERATION_SAVE, BaseRevisionId: resp.GetResults()[2].GetVersion().GetId(), Content: "mine\n"},
	}})
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.ReplayOutcome_REPLAY_OUTCOME_CONFLICT, late.GetResults()[0].GetOutcome())
}
