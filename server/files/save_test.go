package files_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/server/files"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// saveBundle is a project with an owner and an editor, served by one
// files.Service (one node).
type saveBundle struct {
	svc           *files.Service
	store         *store.Store
	owner, editor context.Context
	editorID      uuid.UUID
	projectID     string
}

func setupSave(t *testing.T, maxProjectBytes int64) *saveBundle {
	t.Helper()
	st := storetest.Store(t)
	as := func(email string) (context.Context, uuid.UUID) {
		u, err := st.UserUpsertByEmail(context.Background(), dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: email})
		require.NoError(t, err)
		return access.WithPrincipal(context.Background(), &access.Principal{UserID: u.ID.String()}), u.ID
	}
	b := &saveBundle{store: st, svc: files.NewService(st, files.Limits{MaxFileBytes: 1 << 20, MaxProjectBytes: maxProjectBytes}, slog.New(slog.DiscardHandler), time.Now)}
	b.owner, _ = as("owner@save.test")
	b.editor, b.editorID = as("editor@save.test")
	p, err := b.svc.CreateProject(b.owner, &hivesyncv1.CreateProjectRequest{Name: "save"})
	require.NoError(t, err)
	b.projectID = p.GetProject().GetId()
	require.NoError(t, st.ProjectMemberUpsert(context.Background(), dbgen.ProjectMemberUpsertParams{
		ProjectID: uuid.MustParse(b.projectID), UserID: b.editorID, Role: int16(hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR),
	}))
	return b
}

// createAndSave creates a file as the editor and saves it once, so this
// node holds the new head as the base of the next save.
func (b *saveBundle) createAndSave(t *testing.T, path string) (fileID, head string) {
	t.Helper()
	f, err := b.svc.CreateFile(b.editor, &hivesyncv1.CreateFileRequest{ProjectId: b.projectID, Path: path, Content: "a\nb\n"})
	require.NoError(t, err)
	saved, err := b.svc.SaveFile(b.editor, &hivesyncv1.SaveFileRequest{FileId: f.GetFile().GetId(), BaseRevisionId: f.GetFile().GetHead().GetId(), Content: "a\nB\n"})
	require.NoError(t, err)
	require.Equal(t, int32(1), saved.GetVersion().GetLinesAdded())
	require.Equal(t, int32(1), saved.GetVersion().GetLinesRemoved())
	return f.GetFile().GetId(), saved.GetVersion().GetId()
}

func (b *saveBundle) head(t *testing.T, fileID string) string {
	t.Helper()
	f, err := b.svc.GetFile(b.owner, &hivesyncv1.GetFileRequest{FileId: fileID})
	require.NoError(t, err)
	return f.GetFile().GetHead().GetId()
}

// projectEvents decodes the project's event log.
func (b *saveBundle) projectEvents(t *testing.T) []*hivesyncv1.Event {
	t.Helper()
	rows, err := b.store.EventListAfter(context.Background(), dbgen.EventListAfterParams{Channel: events.ProjectChannel(b.projectID), MaxEvents: 1000})
	require.NoError(t, err)
	out := make([]*hivesyncv1.Event, len(rows))
	for i, r := range rows {
		out[i], err = events.Decode(r.Sequence, r.Payload)
		require.NoError(t, err)
		raw := &hivesyncv1.Event{}
		require.NoError(t, proto.Unmarshal(r.Payload, raw))
		require.Equal(t, r.Sequence, raw.GetSequence(), "a save's stored event carries its sequence")
	}
	return out
}

// TestSaveOnABaseThisNodeCreated: a save whose base the node still holds
// skips the read, and the write alone must refuse what the read would have.
func TestSaveOnABaseThisNodeCreated(t *testing.T) {
	t.Parallel()

	t.Run("moved_file_is_saved_under_its_new_path", func(t *testing.T) {
		t.Parallel()
		b := setupSave(t, 1<<20)
		fileID, head := b.createAndSave(t, "src/old.go")
		_, err := b.svc.MoveFile(b.owner, &hivesyncv1.MoveFileRequest{FileId: fileID, NewPath: "src/new.go"})
		require.NoError(t, err)
		saved, err := b.svc.SaveFile(b.editor, &hivesyncv1.SaveFileRequest{FileId: fileID, BaseRevisionId: head, Content: "a\nB\nc\n"})
		require.NoError(t, err)
		evs := b.projectEvents(t)
		last := evs[len(evs)-1].GetSaveFile()
		require.Equal(t, saved.GetVersion().GetId(), last.GetRevisionId())
		require.Equal(t, "src/new.go", last.GetPath())
	})

	t.Run("demoted_editor_is_refused", func(t *testing.T) {
		t.Parallel()
		b := setupSave(t, 1<<20)
		fileID, head := b.createAndSave(t, "a.go")
		_, err := b.store.ProjectMemberSetRole(context.Background(), dbgen.ProjectMemberSetRoleParams{
			ProjectID: uuid.MustParse(b.projectID), UserID: b.editorID, Role: int16(hivesyncv1.ProjectRole_PROJECT_ROLE_VIEWER),
		})
		require.NoError(t, err)
		_, err = b.svc.SaveFile(b.editor, &hivesyncv1.SaveFileRequest{FileId: fileID, BaseRevisionId: head, Content: "viewer\n"})
		require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
		require.Equal(t, head, b.head(t, fileID), "nothing written")
	})

	t.Run("project_storage_limit_holds", func(t *testing.T) {
		t.Parallel()
		b := setupSave(t, 100) // "a\nb\n" and "a\nB\n" use 8 bytes
		fileID, head := b.createAndSave(t, "a.go")
		_, err := b.svc.SaveFile(b.editor, &hivesyncv1.SaveFileRequest{FileId: fileID, BaseRevisionId: head, Content: strings.Repeat("x\n", 50)})
		require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(err))
		require.Equal(t, head, b.head(t, fileID), "nothing written")
	})

	t.Run("retry_with_its_key_answers_the_first_save", func(t *testing.T) {
		t.Parallel()
		b := setupSave(t, 1<<20)
		fileID, head := b.createAndSave(t, "a.go")
		req := &hivesyncv1.SaveFileRequest{FileId: fileID, BaseRevisionId: head, Content: "keyed\n", IdempotencyKey: "k1"}
		first, err := b.svc.SaveFile(b.editor, req)
		require.NoError(t, err)
		again, err := b.svc.SaveFile(b.editor, req)
		require.NoError(t, err)
		require.Equal(t, first.GetVersion().GetId(), again.GetVersion().GetId())
		// The key on the new head, with other content, is another save.
		_, err = b.svc.SaveFile(b.editor, &hivesyncv1.SaveFileRequest{FileId: fileID, BaseRevisionId: first.GetVersion().GetId(), Content: "other\n", IdempotencyKey: "k1"})
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		require.Equal(t, first.GetVersion().GetId(), b.head(t, fileID))
	})

	t.Run("stale_base_returns_conflict_with_diff", func(t *testing.T) {
		t.Parallel()
		b := setupSave(t, 1<<20)
		fileID, head := b.createAndSave(t, "a.go")
		_, err := b.svc.SaveFile(b.owner, &hivesyncv1.SaveFileRequest{FileId: fileID, BaseRevisionId: head, Content: "a\nB\nowner\n"})
		require.NoError(t, err)
		_, err = b.svc.SaveFile(b.editor, &hivesyncv1.SaveFileRequest{FileId: fileID, BaseRevisionId: head, Content: "a\nB\neditor\n"})
		require.Equal(t, connect.CodeAborted, connect.CodeOf(err))
		var conflict *hivesyncv1.Conflict
		var ce *connect.Error
		require.ErrorAs(t, err, &ce)
		for _, d := range ce.Details() {
			if v, derr := d.Value(); derr == nil {
				conflict, _ = v.(*hivesyncv1.Conflict)
			}
		}
		require.NotNil(t, conflict)
		require.Contains(t, conflict.GetUnifiedDiff(), "\n+owner\n")
		evs := b.projectEvents(t)
		require.NotNil(t, evs[len(evs)-1].GetSaveConflict(), "the refused save is in the history")
	})
}

// TestAppendedEventsAreNumberedInOrder: events are numbered 1, 2, 3… per
// channel, and read back with their numbers; the stored payloads carry them
// too, for readers of the previous release.
func TestAppendedEventsAreNumberedInOrder(t *testing.T) {
	t.Parallel()
	st := storetest.Store(t)
	channel := events.ProjectChannel(uuid.NewString())
	for i := range 130 {
		ev, err := events.Append(context.Background(), st, channel, &hivesyncv1.Event{Payload: &hivesyncv1.Event_Heartbeat{Heartbeat: &hivesyncv1.HeartbeatEvent{}}}, time.Now())
		require.NoError(t, err)
		require.Equal(t, int64(i+1), ev.GetSequence())
	}
	rows, err := st.EventListAfter(context.Background(), dbgen.EventListAfterParams{Channel: channel, MaxEvents: 1000})
	require.NoError(t, err)
	require.Len(t, rows, 130)
	for i, r := range rows {
		require.Equal(t, int64(i+1), r.Sequence)
		ev, err := events.Decode(r.Sequence, r.Payload)
		require.NoError(t, err)
		require.Equal(t, r.Sequence, ev.GetSequence())
		// The previous release reads the number from the payload.
		raw := &hivesyncv1.Event{}
		require.NoError(t, proto.Unmarshal(r.Payload, raw))
		require.Equal(t, r.Sequence, raw.GetSequence(), "the stored payload carries its sequence")
		require.Equal(t, channel, ev.GetChannel())
		require.Equal(t, "heartbeat", ev.GetEventType())
	}
}
