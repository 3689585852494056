-- name: LiveSessionRunning :one
-- LiveSessionRunning is the creator's running session on a project, locked.
SELECT * FROM live_sessions WHERE creator_id = @creator_id AND project_id = @project_id AND ended_at IS NULL FOR UPDATE;

-- name: LiveSessionInsert :one
INSERT INTO live_sessions (id, project_id, file_id, creator_id) VALUES (@id, @project_id, @file_id, @creator_id)
RETURNING *;

-- name: LiveSessionGet :one
SELECT s.*, (SELECT count(*) FROM live_viewers v WHERE v.session_id = s.id)::int AS viewers
FROM live_sessions s WHERE s.id = @id;

-- name: LiveSessionLock :one
SELECT * FROM live_sessions WHERE id = @id FOR UPDATE;

-- name: LiveSessionTouch :exec
-- LiveSessionTouch records creator activity unless it was recorded after
-- touched_before (callers pass a minute ago, so it writes once a minute).
UPDATE live_sessions SET last_activity_at = @now::timestamptz
WHERE id = @id AND ended_at IS NULL AND last_activity_at < @touched_before::timestamptz;

-- name: LiveSessionEnd :one
UPDATE live_sessions SET ended_at = @now::timestamptz, end_reason = @reason
WHERE id = @id AND ended_at IS NULL
RETURNING *;

-- name: LiveSessionsIdle :many
SELECT id FROM live_sessions WHERE ended_at IS NULL AND last_activity_at < @cutoff::timestamptz LIMIT 500;

-- name: LiveInviteInsert :exec
INSERT INTO live_invites (token_hash, session_id, invitee_id, expires_at) VALUES (@token_hash, @session_id, @invitee_id, @expires_at);

-- name: LiveInviteGet :one
SELECT * FROM live_invites WHERE token_hash = @token_hash AND expires_at > @now::timestamptz;

-- name: LiveViewerCount :one
SELECT count(*)::int FROM live_viewers WHERE session_id = @session_id;

-- name: LiveViewerInsert :execrows
INSERT INTO live_viewers (session_id, user_id) VALUES (@session_id, @user_id) ON CONFLICT DO NOTHING;

-- name: LiveViewerIs :one
-- LiveViewerIs reports whether the user may watch a running session.
SELECT EXISTS (
    SELECT 1 FROM live_sessions s
    WHERE s.id = @session_id AND s.ended_at IS NULL
      AND (s.creator_id = @user_id OR EXISTS (SELECT 1 FROM live_viewers v WHERE v.session_id = s.id AND v.user_id = @user_id))
)::boolean;
