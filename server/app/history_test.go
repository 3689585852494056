package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/server/history"
	"github.com/hivesync/hivesync/store/dbgen"
)

// bearerAll authenticates unary and streaming calls alike.
type bearerAll string

func (t bearerAll) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(t))
		return next(ctx, req)
	}
}

func (t bearerAll) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(t))
		return conn
	}
}

func (t bearerAll) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func historyClient(b *testBundle, ed editor) hivesyncv1connect.HistoryServiceClient {
	return hivesyncv1connect.NewHistoryServiceClient(b.h1, b.baseURL, connect.WithInterceptors(bearerAll(ed.token)))
}

// walkHistory pages through a project's whole history with the given page size.
func walkHistory(t *testing.T, hc hivesyncv1connect.HistoryServiceClient, req *hivesyncv1.ListHistoryRequest) []*hivesyncv1.HistoryEntry {
	t.Helper()
	var out []*hivesyncv1.HistoryEntry
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10000, "pagination does not end")
		resp, err := hc.ListHistory(context.Background(), req)
		require.NoError(t, err)
		out = append(out, resp.GetEntries()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

func types(entries []*hivesyncv1.HistoryEntry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.GetEvent().GetEventType())
	}
	return out
}

func TestHistoryLogsEveryChange(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	owner, bee := newEditorOn(t, b, "owner@history.test", "desktop"), newEditorOn(t, b, "bee@history.test", "desktop")
	outsider := newEditorOn(t, b, "out@history.test", "desktop")
	snaps := hivesyncv1connect.NewSnapshotServiceClient(b.h1, b.baseURL, bearer(owner.token))
	hc := historyClient(b, owner)

	proj, err := owner.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Logged"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()
	f, err := owner.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "a.txt", Content: "one\n"})
	require.NoError(t, err)
	fid, base := f.GetFile().GetId(), f.GetFile().GetHead().GetId()
	saved, err := owner.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: fid, BaseRevisionId: base, Content: "two\n"})
	require.NoError(t, err)
	_, err = owner.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: fid, BaseRevisionId: base, Content: "stale\n"})
	require.Equal(t, connect.CodeAborted, connect.CodeOf(err))
	_, err = owner.files.AcquireLock(ctx, &hivesyncv1.AcquireLockRequest{FileId: fid})
	require.NoError(t, err)
	snap, err := snaps.CreateSnapshot(ctx, &hivesyncv1.CreateSnapshotRequest{ProjectId: pid, Label: "v1"})
	require.NoError(t, err)
	_, err = owner.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: fid, BaseRevisionId: saved.GetVersion().GetId(), Content: "three\n"})
	require.NoError(t, err)
	_, err = snaps.RestoreSnapshot(ctx, &hivesyncv1.RestoreSnapshotRequest{SnapshotId: snap.GetSnapshot().GetId()})
	require.NoError(t, err)
	_, err = owner.files.MoveFile(ctx, &hivesyncv1.MoveFileRequest{FileId: fid, NewPath: "docs/a.txt"})
	require.NoError(t, err)
	_, err = owner.files.DeleteFile(ctx, &hivesyncv1.DeleteFileRequest{FileId: fid})
	require.NoError(t, err)
	_, err = owner.files.RestoreFile(ctx, &hivesyncv1.RestoreFileRequest{FileId: fid})
	require.NoError(t, err)
	inv, err := owner.projects.CreateInvite(ctx, &hivesyncv1.CreateInviteRequest{ProjectId: pid, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR})
	require.NoError(t, err)
	_, err = bee.projects.AcceptInvite(ctx, &hivesyncv1.AcceptInviteRequest{Token: inv.GetToken()})
	require.NoError(t, err)
	me, err := b.store.UserGetByEmail(ctx, "bee@history.test")
	require.NoError(t, err)
	_, err = owner.projects.UpdateMember(ctx, &hivesyncv1.UpdateMemberRequest{ProjectId: pid, UserId: me.ID.String(), Role: hivesyncv1.ProjectRole_PROJECT_ROLE_VIEWER})
	require.NoError(t, err)
	_, err = bee.projects.RemoveMember(ctx, &hivesyncv1.RemoveMemberRequest{ProjectId: pid, UserId: me.ID.String()})
	require.NoError(t, err)

	want := []string{
		"member.changed", "version.state_changed", "save_file", "conflict.detected", "snapshot.created", "save_file",
		"version.state_changed", "snapshot.restored", "version.state_changed", "version.state_changed", "version.state_changed",
		"member.changed", "member.changed", "member.changed",
	}
	t.Run("oldest_first_lists_the_whole_story_without_lock_noise", func(t *testing.T) {
		all := walkHistory(t, hc, &hivesyncv1.ListHistoryRequest{ProjectId: pid, OldestFirst: true})
		require.Equal(t, want, types(all))
		summaries := make([]string, 0, len(all))
		for i, e := range all {
			if i > 0 {
				require.Greater(t, e.GetEvent().GetSequence(), all[i-1].GetEvent().GetSequence())
			}
			summaries = append(summaries, e.GetSummary())
		}
		joined := strings.Join(summaries, "\n")
		for _, s := range []string{
			"created a.txt", "saved a.txt (revision 2)", "refused a stale save of a.txt (another device had saved revision 2; nothing was overwritten)",
			`took snapshot "v1" of 1 files`, `restored snapshot "v1" (1 of 1 files changed)`, "moved a.txt to docs/a.txt",
			"deleted docs/a.txt", "restored deleted file docs/a.txt", "joined as editor", "is now viewer", "left the project",
		} {
			require.Contains(t, joined, s)
		}
		conflict := all[3].GetEvent().GetSaveConflict()
		require.Equal(t, base, conflict.GetBaseRevisionId())
		require.Equal(t, saved.GetVersion().GetId(), conflict.GetHeadRevisionId())
		require.NotEmpty(t, conflict.GetAuthorUserId())
		require.Equal(t, conflict.GetAuthorUserId(), all[1].GetEvent().GetVersionState().GetActorUserId())
	})
	t.Run("newest_first_pages_are_the_same_log_reversed", func(t *testing.T) {
		for _, size := range []int32{1, 3, 1000} {
			page := walkHistory(t, hc, &hivesyncv1.ListHistoryRequest{ProjectId: pid, PageSize: size})
			got := types(page)
			for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
				got[i], got[j] = got[j], got[i]
			}
			require.Equal(t, want, got, "page size %d", size)
		}
	})
	t.Run("filters_by_type_and_locks_only_on_request", func(t *testing.T) {
		locks := walkHistory(t, hc, &hivesyncv1.ListHistoryRequest{ProjectId: pid, EventTypes: []string{"lock.changed"}})
		require.Equal(t, []string{"lock.changed"}, types(locks))
		require.Contains(t, locks[0].GetSummary(), "started editing")
		saves := walkHistory(t, hc, &hivesyncv1.ListHistoryRequest{ProjectId: pid, EventTypes: []string{"save_file", "conflict.detected"}, OldestFirst: true})
		require.Equal(t, []string{"save_file", "conflict.detected", "save_file"}, types(saves))
	})
	t.Run("bad_requests_are_typed", func(t *testing.T) {
		_, err := hc.ListHistory(ctx, &hivesyncv1.ListHistoryRequest{ProjectId: pid, EventTypes: []string{"save"}})
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		_, err = hc.ListHistory(ctx, &hivesyncv1.ListHistoryRequest{ProjectId: pid, PageToken: "-4"})
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		_, err = hc.ListHistory(ctx, &hivesyncv1.ListHistoryRequest{ProjectId: pid, PageSize: 1001})
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		_, err = historyClient(b, outsider).ListHistory(ctx, &hivesyncv1.ListHistoryRequest{ProjectId: pid})
		require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "non-members learn nothing")
		_, err = historyClient(b, bee).ListHistory(ctx, &hivesyncv1.ListHistoryRequest{ProjectId: pid})
		require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "a member who left loses the history")
	})
	t.Run("rest_route", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, b.baseURL+"/api/v1/projects/"+pid+"/history?pageSize=1&eventTypes=save_file", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+owner.token)
		resp, err := b.h1.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var page hivesyncv1.ListHistoryResponse
		require.NoError(t, protojson.Unmarshal(body, &page))
		require.Equal(t, []string{"save_file"}, types(page.GetEntries()))
		require.NotEmpty(t, page.GetNextPageToken())
	})
}

// appendSaves logs n synthetic save events on a project's channel directly
// (the export test needs more entries than it is worth making by saving).
func appendSaves(t *testing.T, b *testBundle, pid string, n int, path string) {
	t.Helper()
	require.NoError(t, b.store.InTx(context.Background(), func(_ pgx.Tx, q dbgen.Querier) error {
		for i := range n {
			_, err := events.Append(context.Background(), q, events.ProjectChannel(pid), &hivesyncv1.Event{Payload: &hivesyncv1.Event_SaveFile{SaveFile: &hivesyncv1.SaveFileEvent{
				ProjectId: pid, FileId: "f", Path: path, Revision: int64(i + 2), AuthorUserId: "u",
			}}}, time.Now())
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

func export(t *testing.T, hc hivesyncv1connect.HistoryServiceClient, pid, format string) (string, []byte, int) {
	t.Helper()
	stream, err := hc.ExportHistory(context.Background(), &hivesyncv1.ExportHistoryRequest{ProjectId: pid, Format: format})
	require.NoError(t, err)
	var body bytes.Buffer
	contentType, chunks := "", 0
	for stream.Receive() {
		chunks++
		contentType = stream.Msg().GetContentType()
		body.Write(stream.Msg().GetData())
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	return contentType, body.Bytes(), chunks
}

func TestHistoryExportStreamsEveryFormat(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	owner := newEditorOn(t, b, "exp@history.test", "desktop")
	viewer := newEditorOn(t, b, "view@history.test", "desktop")
	hc := historyClient(b, owner)
	proj, err := owner.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Export"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()
	f, err := owner.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "=cmd.txt", Content: "x\n"})
	require.NoError(t, err)
	_, err = owner.files.AcquireLock(ctx, &hivesyncv1.AcquireLockRequest{FileId: f.GetFile().GetId()})
	require.NoError(t, err)
	const synthetic = 1234 // more than two export pages
	appendSaves(t, b, pid, synthetic, "src/a,\"quoted\".ts")
	entries := 2 + synthetic // joined + created; the lock is left out

	t.Run("jsonl", func(t *testing.T) {
		ct, body, chunks := export(t, hc, pid, "jsonl")
		require.Equal(t, "application/x-ndjson", ct)
		require.Greater(t, chunks, 1, "the export is streamed in chunks")
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		require.Len(t, lines, entries)
		prev := int64(0)
		for _, line := range lines {
			var e hivesyncv1.HistoryEntry
			require.NoError(t, protojson.Unmarshal([]byte(line), &e))
			require.Greater(t, e.GetEvent().GetSequence(), prev)
			prev = e.GetEvent().GetSequence()
		}
	})
	t.Run("csv", func(t *testing.T) {
		ct, body, _ := export(t, hc, pid, "csv")
		require.Equal(t, "text/csv; charset=utf-8", ct)
		records, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		require.NoError(t, err)
		require.Len(t, records, 1+entries)
		require.Equal(t, []string{"sequence", "time", "event_type", "actor_user_id", "device_id", "file_id", "path", "revision", "summary"}, records[0])
		require.Equal(t, "version.state_changed", records[2][2])
		require.Equal(t, "'=cmd.txt", records[2][6], "a formula-looking path is defused")
		require.Equal(t, "src/a,\"quoted\".ts", records[3][6], "commas and quotes survive")
		require.Equal(t, "2", records[3][7])
		_, err = time.Parse(time.RFC3339Nano, records[1][1])
		require.NoError(t, err)
	})
	t.Run("txt", func(t *testing.T) {
		ct, body, _ := export(t, hc, pid, "txt")
		require.Equal(t, "text/plain; charset=utf-8", ct)
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		require.Len(t, lines, entries)
		require.Contains(t, lines[1], "#2  created =cmd.txt  (user ")
	})
	t.Run("rest_body_is_the_file", func(t *testing.T) {
		_, viaConnect, _ := export(t, hc, pid, "csv")
		req, err := http.NewRequest(http.MethodPost, b.baseURL+"/api/v1/projects/"+pid+"/export/csv", strings.NewReader("{}"))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+owner.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := b.h1.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Equal(t, fmt.Sprintf(`attachment; filename="hivesync-history-%s.csv"`, pid), resp.Header.Get("Content-Disposition"))
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, string(viaConnect), string(body))

		// Failures before the first byte are ordinary REST errors.
		for _, c := range []struct {
			path, token string
			status      int
		}{
			{"/api/v1/projects/" + pid + "/export/xlsx", owner.token, http.StatusBadRequest},
			{"/api/v1/projects/" + pid + "/export/csv", viewer.token, http.StatusNotFound},
			{"/api/v1/projects/" + pid + "/export/csv", "", http.StatusUnauthorized},
		} {
			req, err := http.NewRequest(http.MethodPost, b.baseURL+c.path, strings.NewReader("{}"))
			require.NoError(t, err)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := b.h1.Do(req)
			require.NoError(t, err)
			errBody, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, c.status, resp.StatusCode, c.path)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			require.Contains(t, string(errBody), `"message"`)
		}
	})
	t.Run("empty_and_refused", func(t *testing.T) {
		other, err := owner.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Quiet"})
		require.NoError(t, err)
		_, body, _ := export(t, hc, other.GetProject().GetId(), "csv")
		require.Equal(t, "sequence,time,event_type,actor_user_id,device_id,file_id,path,revision,summary\n", strings.SplitAfterN(string(body), "\n", 2)[0])
		stream, err := hc.ExportHistory(ctx, &hivesyncv1.ExportHistoryRequest{ProjectId: pid, Format: "xlsx"})
		require.NoError(t, err)
		require.False(t, stream.Receive())
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(stream.Err()))
		stream, err = historyClient(b, viewer).ExportHistory(ctx, &hivesyncv1.ExportHistoryRequest{ProjectId: pid, Format: "csv"})
		require.NoError(t, err)
		require.False(t, stream.Receive())
		require.Equal(t, connect.CodeNotFound, connect.CodeOf(stream.Err()))
	})
}

func TestPurgeProjectIsOwnerOnlyAndTotal(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	owner, bee := newEditorOn(t, b, "owner@purge.test", "desktop"), newEditorOn(t, b, "bee@purge.test", "desktop")
	snaps := hivesyncv1connect.NewSnapshotServiceClient(b.h1, b.baseURL, bearer(owner.token))
	proj, err := owner.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Doomed"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()
	keep, err := owner.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Kept"})
	require.NoError(t, err)
	kept, err := owner.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: keep.GetProject().GetId(), Path: "k.txt", Content: "k\n"})
	require.NoError(t, err)
	f, err := owner.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "a.txt", Content: "1\n"})
	require.NoError(t, err)
	_, err = owner.files.SaveFile(ctx, &hivesyncv1.SaveFileRequest{FileId: f.GetFile().GetId(), BaseRevisionId: f.GetFile().GetHead().GetId(), Content: "2\n"})
	require.NoError(t, err)
	_, err = owner.files.CreateFile(ctx, &hivesyncv1.CreateFileRequest{ProjectId: pid, Path: "b.txt", Content: "b\n"})
	require.NoError(t, err)
	_, err = snaps.CreateSnapshot(ctx, &hivesyncv1.CreateSnapshotRequest{ProjectId: pid})
	require.NoError(t, err)
	inv, err := owner.projects.CreateInvite(ctx, &hivesyncv1.CreateInviteRequest{ProjectId: pid, Role: hivesyncv1.ProjectRole_PROJECT_ROLE_EDITOR})
	require.NoError(t, err)
	_, err = bee.projects.AcceptInvite(ctx, &hivesyncv1.AcceptInviteRequest{Token: inv.GetToken()})
	require.NoError(t, err)
	before := walkHistory(t, historyClient(b, owner), &hivesyncv1.ListHistoryRequest{ProjectId: pid})

	_, err = historyClient(b, bee).PurgeProject(ctx, &hivesyncv1.PurgeProjectRequest{ProjectId: pid, ConfirmName: "Doomed"})
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "editors cannot purge")
	_, err = historyClient(b, owner).PurgeProject(ctx, &hivesyncv1.PurgeProjectRequest{ProjectId: pid, ConfirmName: "doomed"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "the name must match exactly")
	_, err = owner.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: f.GetFile().GetId()})
	require.NoError(t, err, "refused purges change nothing")

	// Over REST, as the spec writes it.
	req, err := http.NewRequest(http.MethodDelete, b.baseURL+"/api/v1/projects/"+pid+"/purge?confirmName=Doomed", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+owner.token)
	resp, err := b.h1.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var purged hivesyncv1.PurgeProjectResponse
	require.NoError(t, protojson.Unmarshal(body, &purged))
	require.EqualValues(t, 2, purged.GetFiles())
	require.EqualValues(t, 3, purged.GetVersions())
	require.EqualValues(t, len(before), purged.GetHistoryEntries())

	_, err = owner.projects.GetProject(ctx, &hivesyncv1.GetProjectRequest{ProjectId: pid})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = owner.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: f.GetFile().GetId()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = owner.files.ListVersions(ctx, &hivesyncv1.ListVersionsRequest{FileId: f.GetFile().GetId()})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = historyClient(b, owner).PurgeProject(ctx, &hivesyncv1.PurgeProjectRequest{ProjectId: pid, ConfirmName: "Doomed"})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "a purge cannot be repeated")
	left, err := b.store.EventListAfter(ctx, dbgen.EventListAfterParams{Channel: events.ProjectChannel(pid), After: 0, MaxEvents: 100})
	require.NoError(t, err)
	require.Len(t, left, 1, "only the purge notice remains on the channel")
	require.Equal(t, "project.purged", left[0].EventType)
	audit, err := b.store.AuditList(ctx, dbgen.AuditListParams{BeforeID: 1 << 62, PageSize: 50})
	require.NoError(t, err)
	require.Equal(t, "project.purged", audit[0].Action)
	require.NotContains(t, string(audit[0].Details), "Doomed", "the audit log keeps ids, not user content")

	got, err := owner.files.GetFile(ctx, &hivesyncv1.GetFileRequest{FileId: kept.GetFile().GetId()})
	require.NoError(t, err, "other projects are untouched")
	require.Equal(t, "k\n", got.GetContent())
}

func TestHistoryRetentionPrunesOnlyOldEntries(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	owner := newEditorOn(t, b, "old@history.test", "desktop")
	proj, err := owner.projects.CreateProject(ctx, &hivesyncv1.CreateProjectRequest{Name: "Aging"})
	require.NoError(t, err)
	pid := proj.GetProject().GetId()
	appendSaves(t, b, pid, 7, "old.txt")
	old, err := b.store.EventListAfter(ctx, dbgen.EventListAfterParams{Channel: events.ProjectChannel(pid), After: 0, MaxEvents: 100})
	require.NoError(t, err)
	require.Len(t, old, 8)
	cutoff := old[len(old)-1].CreatedAt.Add(time.Microsecond)
	appendSaves(t, b, pid, 3, "new.txt")

	n, err := history.Prune(ctx, b.store, cutoff, 0)
	require.NoError(t, err)
	require.Zero(t, n, "a zero retention keeps everything")
	n, err = history.Prune(ctx, b.store, cutoff, time.Hour)
	require.NoError(t, err)
	require.EqualValues(t, 8, n, "exactly the old entries are gone")
	left := walkHistory(t, historyClient(b, owner), &hivesyncv1.ListHistoryRequest{ProjectId: pid, OldestFirst: true})
	require.Len(t, left, 3)
	for _, e := range left {
		require.Equal(t, "new.txt", e.GetEvent().GetSaveFile().GetPath())
	}
	n, err = history.Prune(ctx, b.store, cutoff, time.Hour)
	require.NoError(t, err)
	require.Zero(t, n, "pruning again finds nothing")
}
