package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/app"
)

// restDo sends one REST request as a plugin author would: JSON in, with the
// caller's bearer token when there is one. It returns the response and its
// whole body.
func restDo(t *testing.T, b *testBundle, method, path, token string, body any) (status int, header http.Header, out []byte) {
	t.Helper()
	var in io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		in = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.baseURL+path, in)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := b.h1.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	out, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, out
}

// restCall is restDo for JSON answers: the status and the decoded body.
func restCall(t *testing.T, b *testBundle, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	status, _, raw := restDo(t, b, method, path, token, body)
	var out map[string]any
	require.NoErrorf(t, json.Unmarshal(raw, &out), "%s %s answered %d with %q", method, path, status, raw)
	return status, out
}

// jsonAt walks nested JSON objects by key; nil when a key is missing.
func jsonAt(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// jsonList is the JSON array at keys as objects (empty when missing).
func jsonList(t *testing.T, v any, keys ...string) []map[string]any {
	t.Helper()
	raw, _ := jsonAt(v, keys...).([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, item := range raw {
		m, ok := item.(map[string]any)
		require.Truef(t, ok, "%v is not an object", item)
		out = append(out, m)
	}
	return out
}

// restStatus decodes a REST error body: a google.rpc.Status whose details
// are typed Any messages.
func restStatus(t *testing.T, body map[string]any) *status.Status {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	var st status.Status
	require.NoError(t, protojson.Unmarshal(raw, &st), string(raw))
	return &st
}

func TestRESTFilesCoversEveryRouteOfAPluginFlow(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	owner := newEditorOn(t, b, "owner@rest.test", "desktop")
	mate := newEditorOn(t, b, "mate@rest.test", "desktop")
	stranger := newEditorOn(t, b, "stranger@rest.test", "desktop")
	call := func(t *testing.T, method, path, token string, body any) (int, map[string]any) {
		t.Helper()
		return restCall(t, b, method, path, token, body)
	}

	const projectName = "REST flow"
	var pid, fid, firstRev, secondRev, snapshotID string

	t.Run("projects_are_created_read_and_listed", func(t *testing.T) {
		code, out := call(t, http.MethodPost, "/api/v1/projects", owner.token, map[string]any{"name": projectName})
		require.Equal(t, http.StatusOK, code, out)
		pid, _ = jsonAt(out, "project", "id").(string)
		require.NotEmpty(t, pid)
		require.Equal(t, "PROJECT_ROLE_OWNER", jsonAt(out, "project", "role"))

		code, out = call(t, http.MethodGet, "/api/v1/projects/"+pid, owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, projectName, jsonAt(out, "project", "name"))

		code, out = call(t, http.MethodGet, "/api/v1/projects?pageSize=10", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		projects := jsonList(t, out, "projects")
		require.Len(t, projects, 1)
		require.Equal(t, pid, projects[0]["id"])
	})

	t.Run("files_are_created_read_and_saved_on_the_head", func(t *testing.T) {
		code, out := call(t, http.MethodPost, "/api/v1/projects/"+pid+"/files", owner.token,
			map[string]any{"path": "src/app.ts", "content": "one\r\ntwo\r\n"})
		require.Equal(t, http.StatusOK, code, out)
		fid, _ = jsonAt(out, "file", "id").(string)
		firstRev, _ = jsonAt(out, "file", "head", "id").(string)
		require.NotEmpty(t, fid)
		require.NotEmpty(t, firstRev)
		require.Equal(t, pid, jsonAt(out, "file", "projectId"))
		require.Equal(t, "1", jsonAt(out, "file", "head", "revision"), "int64 is a JSON string in protojson")

		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid, owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "one\ntwo\n", out["content"], "CRLF is stored as LF")
		require.Equal(t, "src/app.ts", jsonAt(out, "file", "path"))

		code, out = call(t, http.MethodPut, "/api/v1/files/"+fid, owner.token,
			map[string]any{"baseRevisionId": firstRev, "content": "one\nTWO\n", "idempotencyKey": "rest-1"})
		require.Equal(t, http.StatusOK, code, out)
		secondRev, _ = jsonAt(out, "version", "id").(string)
		require.NotEmpty(t, secondRev)
		require.Equal(t, "2", jsonAt(out, "version", "revision"))
		require.EqualValues(t, 1, jsonAt(out, "version", "linesAdded"))
		require.EqualValues(t, 1, jsonAt(out, "version", "linesRemoved"))
	})

	t.Run("stale_save_is_409_with_a_typed_conflict", func(t *testing.T) {
		code, out := call(t, http.MethodPut, "/api/v1/files/"+fid, owner.token,
			map[string]any{"baseRevisionId": firstRev, "content": "one\ntwo\nthree\n"})
		require.Equal(t, http.StatusConflict, code, out)
		st := restStatus(t, out)
		require.Equal(t, int32(connect.CodeAborted), st.GetCode())
		require.NotEmpty(t, st.GetMessage())
		require.Len(t, st.GetDetails(), 1)
		detail, err := st.GetDetails()[0].UnmarshalNew()
		require.NoError(t, err)
		conflict, ok := detail.(*hivesyncv1.Conflict)
		require.Truef(t, ok, "detail is a %T", detail)
		require.Equal(t, fid, conflict.GetFileId())
		require.Equal(t, firstRev, conflict.GetBaseRevisionId())
		require.Equal(t, secondRev, conflict.GetHeadRevisionId())
		require.EqualValues(t, 2, conflict.GetHeadRevision())
		require.Contains(t, conflict.GetUnifiedDiff(), "+TWO")

		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid+"/versions", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Len(t, jsonList(t, out, "versions"), 2, "the stale save wrote nothing")
	})

	t.Run("versions_are_listed_read_and_diffed", func(t *testing.T) {
		code, out := call(t, http.MethodGet, "/api/v1/projects/"+pid+"/files", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		listed := jsonList(t, out, "files")
		require.Len(t, listed, 1)
		require.Equal(t, "src/app.ts", listed[0]["path"])
		require.Equal(t, secondRev, jsonAt(listed[0], "head", "id"))

		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid+"/versions?pageSize=1", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		page := jsonList(t, out, "versions")
		require.Len(t, page, 1)
		require.Equal(t, secondRev, page[0]["id"], "newest first")
		token, _ := out["nextPageToken"].(string)
		require.NotEmpty(t, token)
		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid+"/versions?pageSize=1&pageToken="+url.QueryEscape(token), owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		page = jsonList(t, out, "versions")
		require.Len(t, page, 1)
		require.Equal(t, firstRev, page[0]["id"])

		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid+"/versions/"+firstRev, owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "one\ntwo\n", out["content"], "old versions are kept")
		require.Equal(t, "1", jsonAt(out, "version", "revision"))

		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid+"/diff?fromRevisionId="+firstRev+"&toRevisionId="+secondRev, owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Contains(t, out["unifiedDiff"], "-two")
		require.Contains(t, out["unifiedDiff"], "+TWO")
		require.EqualValues(t, 1, out["linesAdded"])
		require.EqualValues(t, 1, out["linesRemoved"])
	})

	t.Run("snapshot_is_taken_before_the_tree_changes", func(t *testing.T) {
		code, out := call(t, http.MethodPost, "/api/v1/projects/"+pid+"/snapshots", owner.token, map[string]any{"label": "before cleanup"})
		require.Equal(t, http.StatusOK, code, out)
		snapshotID, _ = jsonAt(out, "snapshot", "id").(string)
		require.NotEmpty(t, snapshotID)
		require.Equal(t, "before cleanup", jsonAt(out, "snapshot", "label"))
		require.EqualValues(t, 1, jsonAt(out, "snapshot", "fileCount"))
	})

	t.Run("files_are_moved_deleted_and_restored", func(t *testing.T) {
		code, out := call(t, http.MethodPost, "/api/v1/files/"+fid+"/move", owner.token, map[string]any{"newPath": "src/main.ts"})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "src/main.ts", jsonAt(out, "file", "path"))
		require.Equal(t, secondRev, jsonAt(out, "file", "head", "id"), "versions stay with the file")

		code, out = call(t, http.MethodDelete, "/api/v1/files/"+fid, owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		code, out = call(t, http.MethodGet, "/api/v1/projects/"+pid+"/files", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Empty(t, jsonList(t, out, "files"), "a deleted file leaves the tree")
		code, out = call(t, http.MethodGet, "/api/v1/projects/"+pid+"/files?includeDeleted=true", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		listed := jsonList(t, out, "files")
		require.Len(t, listed, 1)
		require.NotEmpty(t, listed[0]["deletedAt"])

		code, out = call(t, http.MethodPost, "/api/v1/files/"+fid+"/restore", owner.token, map[string]any{})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "src/main.ts", jsonAt(out, "file", "path"))
		require.Nil(t, jsonAt(out, "file", "deletedAt"))
		code, out = call(t, http.MethodPost, "/api/v1/files/"+fid+"/restore", owner.token, map[string]any{})
		require.Equal(t, http.StatusBadRequest, code, "a live file cannot be restored: %v", out)
		require.Equal(t, int32(connect.CodeFailedPrecondition), restStatus(t, out).GetCode())
	})

	t.Run("soft_locks_are_acquired_and_released", func(t *testing.T) {
		code, out := call(t, http.MethodPost, "/api/v1/files/"+fid+"/lock", owner.token, map[string]any{"ttlSeconds": 60})
		require.Equal(t, http.StatusOK, code, out)
		require.Len(t, jsonList(t, out, "locks"), 1)
		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid, owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Len(t, jsonList(t, out, "locks"), 1)

		code, out = call(t, http.MethodDelete, "/api/v1/files/"+fid+"/lock", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid, owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Empty(t, jsonList(t, out, "locks"))
	})

	t.Run("queued_edits_are_replayed_once", func(t *testing.T) {
		batch := map[string]any{"edits": []map[string]any{
			{"id": "q1", "filePath": "notes.md", "operation": "EDIT_OPERATION_CREATE", "content": "# notes\n"},
			{"id": "q2", "filePath": "src/main.ts", "operation": "EDIT_OPERATION_SAVE", "baseRevisionId": firstRev, "content": "stale\n"},
			{"id": "q3", "filePath": "src/main.ts", "operation": "EDIT_OPERATION_SAVE", "baseRevisionId": secondRev, "content": "one\nTWO\nthree\n"},
		}}
		code, out := call(t, http.MethodPost, "/api/v1/projects/"+pid+"/sync/replay", owner.token, batch)
		require.Equal(t, http.StatusOK, code, out)
		results := jsonList(t, out, "results")
		require.Len(t, results, 3)
		outcomes := map[string]any{}
		for _, r := range results {
			outcomes[r["editId"].(string)] = r["outcome"]
		}
		require.Equal(t, map[string]any{
			"q1": "REPLAY_OUTCOME_APPLIED",
			"q2": "REPLAY_OUTCOME_CONFLICT",
			"q3": "REPLAY_OUTCOME_APPLIED",
		}, outcomes)
		require.Equal(t, "2", jsonAt(results[1], "conflict", "headRevision"))
		require.Equal(t, fid, results[2]["fileId"])
		require.Equal(t, "3", jsonAt(results[2], "version", "revision"))

		code, again := call(t, http.MethodPost, "/api/v1/projects/"+pid+"/sync/replay", owner.token, batch)
		require.Equal(t, http.StatusOK, code, again)
		repeated := jsonList(t, again, "results")
		require.Len(t, repeated, 3)
		require.Equal(t, jsonAt(results[0], "version", "id"), jsonAt(repeated[0], "version", "id"), "no second version")
		require.Equal(t, jsonAt(results[2], "version", "id"), jsonAt(repeated[2], "version", "id"), "no second version")
	})

	t.Run("snapshots_are_listed_read_diffed_and_restored", func(t *testing.T) {
		code, out := call(t, http.MethodGet, "/api/v1/projects/"+pid+"/snapshots", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		snaps := jsonList(t, out, "snapshots")
		require.Len(t, snaps, 1)
		require.Equal(t, snapshotID, snaps[0]["id"])

		code, out = call(t, http.MethodGet, "/api/v1/snapshots/"+snapshotID, owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		inSnapshot := jsonList(t, out, "files")
		require.Len(t, inSnapshot, 1)
		require.Equal(t, "src/app.ts", inSnapshot[0]["path"])
		require.Equal(t, secondRev, jsonAt(inSnapshot[0], "version", "id"))

		code, out = call(t, http.MethodGet, "/api/v1/snapshots/"+snapshotID+"/diff", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		changes := map[string]any{}
		for _, f := range jsonList(t, out, "files") {
			changes[f["currentPath"].(string)] = f["change"]
		}
		require.Equal(t, "SNAPSHOT_CHANGE_ADDED", changes["notes.md"])
		require.Equal(t, "SNAPSHOT_CHANGE_MODIFIED", changes["src/main.ts"], "moved and edited reads as modified")

		code, out = call(t, http.MethodPost, "/api/v1/snapshots/"+snapshotID+"/restore", owner.token, map[string]any{})
		require.Equal(t, http.StatusOK, code, out)
		restored := jsonList(t, out, "restored")
		require.Len(t, restored, 1)
		require.Equal(t, "src/app.ts", restored[0]["path"])
		require.Equal(t, "4", jsonAt(restored[0], "version", "revision"), "restoring appends a version")
		moved := jsonList(t, out, "moved")
		require.Len(t, moved, 1)
		require.Equal(t, "src/main.ts", moved[0]["previousPath"])
		require.Equal(t, "src/app.ts", moved[0]["path"])
		require.Empty(t, jsonList(t, out, "skipped"))

		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid, owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "one\nTWO\n", out["content"])
	})

	t.Run("members_are_invited_changed_and_removed", func(t *testing.T) {
		code, out := call(t, http.MethodGet, "/api/v1/projects/"+pid+"/members", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		members := jsonList(t, out, "members")
		require.Len(t, members, 1)
		require.Equal(t, "owner@rest.test", members[0]["email"])

		code, out = call(t, http.MethodPost, "/api/v1/projects/"+pid+"/invites", owner.token, map[string]any{"role": "PROJECT_ROLE_VIEWER", "ttlHours": 24})
		require.Equal(t, http.StatusOK, code, out)
		invite, _ := out["token"].(string)
		require.NotEmpty(t, invite)
		require.NotEmpty(t, out["expiresAt"])

		code, out = call(t, http.MethodPost, "/api/v1/invites/"+url.PathEscape(invite)+"/accept", mate.token, map[string]any{})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, pid, jsonAt(out, "project", "id"))
		require.Equal(t, "PROJECT_ROLE_VIEWER", jsonAt(out, "project", "role"))

		code, out = call(t, http.MethodGet, "/api/v1/projects/"+pid+"/members", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		var mateID string
		for _, m := range jsonList(t, out, "members") {
			if m["email"] == "mate@rest.test" {
				mateID, _ = m["userId"].(string)
				require.Equal(t, "PROJECT_ROLE_VIEWER", m["role"])
			}
		}
		require.NotEmpty(t, mateID)

		code, out = call(t, http.MethodPut, "/api/v1/files/"+fid, mate.token, map[string]any{"baseRevisionId": firstRev, "content": "x\n"})
		require.Equal(t, http.StatusForbidden, code, "viewers cannot save: %v", out)

		code, out = call(t, http.MethodPatch, "/api/v1/projects/"+pid+"/members/"+mateID, owner.token, map[string]any{"role": "PROJECT_ROLE_EDITOR"})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "PROJECT_ROLE_EDITOR", jsonAt(out, "member", "role"))
		require.Equal(t, mateID, jsonAt(out, "member", "userId"))

		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid, mate.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		head, _ := jsonAt(out, "file", "head", "id").(string)
		code, out = call(t, http.MethodPut, "/api/v1/files/"+fid, mate.token, map[string]any{"baseRevisionId": head, "content": "one\nTWO\nmate\n"})
		require.Equal(t, http.StatusOK, code, out)

		code, out = call(t, http.MethodDelete, "/api/v1/projects/"+pid+"/members/"+mateID, owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid, mate.token, nil)
		require.Equal(t, http.StatusNotFound, code, "a removed member loses the file: %v", out)
	})

	t.Run("history_is_listed_and_exported_as_jsonl", func(t *testing.T) {
		code, out := call(t, http.MethodGet, "/api/v1/projects/"+pid+"/history?oldestFirst=true&pageSize=1000", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		entries := jsonList(t, out, "entries")
		var types []string
		for _, e := range entries {
			types = append(types, jsonAt(e, "event", "eventType").(string))
			require.NotEmpty(t, e["summary"])
		}
		for _, want := range []string{"member.changed", "save_file", "conflict.detected", "snapshot.created", "snapshot.restored"} {
			require.Contains(t, types, want)
		}
		require.NotContains(t, types, "lock.changed", "locks are left out unless asked for")

		code, out = call(t, http.MethodGet, "/api/v1/projects/"+pid+"/history?eventTypes=save_file&eventTypes=conflict.detected&pageSize=2", owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		page := jsonList(t, out, "entries")
		require.Len(t, page, 2)
		for _, e := range page {
			require.Contains(t, []any{"save_file", "conflict.detected"}, jsonAt(e, "event", "eventType"))
		}
		require.NotEmpty(t, out["nextPageToken"])

		status, header, body := restDo(t, b, http.MethodPost, "/api/v1/projects/"+pid+"/export/jsonl", owner.token, map[string]any{})
		require.Equal(t, http.StatusOK, status, string(body))
		require.Equal(t, "application/x-ndjson", header.Get("Content-Type"))
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		require.Len(t, lines, len(entries), "one line per history entry")
		for i, line := range lines {
			var entry hivesyncv1.HistoryEntry
			require.NoError(t, protojson.Unmarshal([]byte(line), &entry), line)
			require.Equal(t, jsonAt(entries[i], "event", "id"), entry.GetEvent().GetId(), "oldest first, as listed")
		}
	})

	t.Run("unauthenticated_calls_get_401", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, "/api/v1/projects"},
			{http.MethodGet, "/api/v1/projects/" + pid},
			{http.MethodGet, "/api/v1/files/" + fid},
		} {
			code, out := call(t, c.method, c.path, "", nil)
			require.Equal(t, http.StatusUnauthorized, code, c.path)
			require.Equal(t, int32(connect.CodeUnauthenticated), restStatus(t, out).GetCode(), c.path)
		}
		code, out := call(t, http.MethodPut, "/api/v1/files/"+fid, "", map[string]any{"baseRevisionId": firstRev, "content": "x\n"})
		require.Equal(t, http.StatusUnauthorized, code, out)
	})

	t.Run("non_members_get_404", func(t *testing.T) {
		for _, path := range []string{
			"/api/v1/files/" + fid,
			"/api/v1/files/" + fid + "/versions",
			"/api/v1/projects/" + pid,
			"/api/v1/projects/" + pid + "/files",
			"/api/v1/snapshots/" + snapshotID,
		} {
			code, out := call(t, http.MethodGet, path, stranger.token, nil)
			require.Equal(t, http.StatusNotFound, code, path)
			require.Equal(t, int32(connect.CodeNotFound), restStatus(t, out).GetCode(), path)
		}
	})

	t.Run("bad_paths_get_400_naming_the_field", func(t *testing.T) {
		for _, c := range []struct{ path, why string }{
			{"../etc/passwd", `path: "." and ".." are not allowed`},
			{strings.Repeat("x", 5000), "path: longer than 1024 bytes"},
		} {
			code, out := call(t, http.MethodPost, "/api/v1/projects/"+pid+"/files", owner.token, map[string]any{"path": c.path, "content": "x"})
			require.Equal(t, http.StatusBadRequest, code, out)
			st := restStatus(t, out)
			require.Equal(t, int32(connect.CodeInvalidArgument), st.GetCode())
			require.Equal(t, c.why, st.GetMessage())
		}
		code, out := call(t, http.MethodPost, "/api/v1/files/"+fid+"/move", owner.token, map[string]any{"newPath": "/abs"})
		require.Equal(t, http.StatusBadRequest, code, out)
		require.True(t, strings.HasPrefix(restStatus(t, out).GetMessage(), "new_path: "), out)
	})

	t.Run("malformed_uuids_get_400", func(t *testing.T) {
		for _, c := range []struct{ method, path, field string }{
			{http.MethodGet, "/api/v1/files/not-a-uuid", "file_id"},
			{http.MethodGet, "/api/v1/projects/not-a-uuid/files", "project_id"},
			{http.MethodGet, "/api/v1/files/" + fid + "/versions/not-a-uuid", "revision_id"},
			{http.MethodGet, "/api/v1/snapshots/not-a-uuid", "snapshot_id"},
		} {
			code, out := call(t, c.method, c.path, owner.token, nil)
			require.Equal(t, http.StatusBadRequest, code, c.path)
			st := restStatus(t, out)
			require.Equal(t, int32(connect.CodeInvalidArgument), st.GetCode(), c.path)
			require.Equal(t, c.field+": must be a UUID", st.GetMessage(), c.path)
		}
	})

	t.Run("purge_needs_the_exact_name_and_removes_everything", func(t *testing.T) {
		code, out := call(t, http.MethodDelete, "/api/v1/projects/"+pid+"/purge?confirmName="+url.QueryEscape("rest flow"), owner.token, nil)
		require.Equal(t, http.StatusBadRequest, code, out)
		require.Equal(t, int32(connect.CodeInvalidArgument), restStatus(t, out).GetCode())

		code, out = call(t, http.MethodDelete, "/api/v1/projects/"+pid+"/purge?confirmName="+url.QueryEscape(projectName), owner.token, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "2", out["files"])
		require.Equal(t, "6", out["versions"])
		require.NotEmpty(t, out["historyEntries"])

		code, out = call(t, http.MethodGet, "/api/v1/projects/"+pid, owner.token, nil)
		require.Equal(t, http.StatusNotFound, code, out)
		code, out = call(t, http.MethodGet, "/api/v1/files/"+fid, owner.token, nil)
		require.Equal(t, http.StatusNotFound, code, out)
	})
}
