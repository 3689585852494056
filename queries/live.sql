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
-- LiveViewerCount is how many viewers hold a seat: seen since @held_since.
SELECT count(*)::int FROM live_viewers WHERE session_id = @session_id AND last_seen_at > @held_since;

-- name: LiveViewerInsert :execrows
-- LiveViewerInsert gives the user a seat, unless they hold one already
-- (then it affects no row): a new viewer, or one whose seat lapsed.
INSERT INTO live_viewers (session_id, user_id, last_seen_at) VALUES (@session_id, @user_id, @now)
ON CONFLICT (session_id, user_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at, joined_at = EXCLUDED.last_seen_at
WHERE live_viewers.last_seen_at <= @held_since;

-- name: LiveViewerIs :one
-- LiveViewerIs reports whether the user may watch a running session: its
-- creator, or a viewer holding a seat (seen since @held_since).
SELECT EXISTS (
    SELECT 1 FROM live_sessions s
    WHERE s.id = @session_id AND s.ended_at IS NULL
      AND (s.creator_id = @user_id OR EXISTS (
          SELECT 1 FROM live_viewers v WHERE v.session_id = s.id AND v.user_id = @user_id AND v.last_seen_at > @held_since))
)::boolean;

-- name: LiveViewerSeen :execrows
-- LiveViewerSeen renews a held seat of a connected viewer.
UPDATE live_viewers SET last_seen_at = @now
WHERE session_id = @session_id AND user_id = @user_id AND last_seen_at > @held_since;
