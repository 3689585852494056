-- name: FileInsert :one
INSERT INTO files (id, project_id, path, path_key, head_version_id, head_revision)
VALUES (@id, @project_id, @path, @path_key, @head_version_id, 1)
RETURNING *;

-- name: FileVersionInsert :one
INSERT INTO file_versions (id, file_id, revision, content, content_sha256, size_bytes, author_id, device_id, lines_added, lines_removed, hunks, idempotency_key)
VALUES (@id, @file_id, @revision, @content, @content_sha256, @size_bytes, @author_id, @device_id, @lines_added, @lines_removed, @hunks, @idempotency_key)
RETURNING id, file_id, revision, content_sha256, size_bytes, author_id, device_id, lines_added, lines_removed, hunks, idempotency_key, created_at;

-- name: FileGetForMember :one
-- FileGetForMember returns a live file with the user's role in its project.
SELECT f.*, m.role FROM files f
JOIN project_members m ON m.project_id = f.project_id AND m.user_id = @user_id
WHERE f.id = @id AND f.deleted_at IS NULL;

-- name: FileSaveBase :one
-- FileSaveBase reads, without locking, everything a save decides on: the live
-- file with the caller's role and its project's storage, the base version
-- (base_found is false when base is not a version of this file), whether the
-- idempotency key was used on this file already, and whether @device_id, when
-- given, is a live device of the caller. Versions never change, so the base's
-- content read here is the head's if FileVersionAppend then finds the base
-- still at the head.
SELECT f.project_id, f.path, f.head_version_id, f.head_revision, m.role, p.storage_bytes,
       (b.id IS NOT NULL)::boolean AS base_found,
       coalesce(b.revision, 0)::bigint AS base_revision,
       coalesce(b.content, '')::text AS base_content,
       EXISTS (SELECT 1 FROM file_versions k WHERE k.file_id = f.id AND k.idempotency_key = @idempotency_key::text) AS key_used,
       EXISTS (SELECT 1 FROM devices d WHERE d.id = sqlc.narg(device_id)::uuid AND d.user_id = @user_id AND d.revoked_at IS NULL) AS device_owned
FROM files f
JOIN project_members m ON m.project_id = f.project_id AND m.user_id = @user_id
JOIN projects p ON p.id = f.project_id
LEFT JOIN file_versions b ON b.id = @base_version_id AND b.file_id = f.id
WHERE f.id = @id AND f.deleted_at IS NULL;

-- name: FileVersionAppend :batchone
-- FileVersionAppend is a whole save in one statement. If the file is live at
-- @path, its head is still @base_version_id (revision @base_revision) and
-- @author_id is still at least @min_role in its project, it locks the file
-- row, charges @size_bytes to the project if its storage stays within
-- @max_project_bytes, inserts the version as revision @base_revision + 1,
-- moves the head to it and appends @event_payload to the event log as the
-- channel's next sequence (event_append's statement, inline: a function
-- call per save cost Postgres CPU; event_sequence_field is inlined by the
-- planner). store/announce.go announces it after the commit. Otherwise
-- it writes nothing and returns no row. As one statement, it holds the rows that every save in a
-- project updates (projects, the project's event_channels row) for the least
-- time possible: from here to the commit, with no round trip in between.
WITH locked AS (
    SELECT f.id, f.project_id, f.head_revision FROM files f
    JOIN project_members m ON m.project_id = f.project_id AND m.user_id = @author_id::uuid AND m.role >= @min_role::smallint
    WHERE f.id = @file_id::uuid AND f.deleted_at IS NULL AND f.path = @path::text
      AND f.head_version_id = @base_version_id::uuid AND f.head_revision = @base_revision::bigint
    FOR UPDATE OF f
), charged AS (
    UPDATE projects p SET storage_bytes = p.storage_bytes + @size_bytes::bigint
    FROM locked
    WHERE p.id = locked.project_id AND p.storage_bytes + @size_bytes::bigint <= @max_project_bytes::bigint
    RETURNING p.id
), version AS (
    INSERT INTO file_versions (id, file_id, revision, content, content_sha256, size_bytes, author_id, device_id, lines_added, lines_removed, hunks, idempotency_key)
    SELECT @id::uuid, locked.id, locked.head_revision + 1, @content::text, @content_sha256::text, @size_bytes::bigint, @author_id::uuid,
           sqlc.narg(device_id)::uuid, @lines_added::integer, @lines_removed::integer, @hunks::integer, sqlc.narg(idempotency_key)::text
    FROM locked, charged
    RETURNING id, file_id, revision, created_at
), head AS (
    UPDATE files f SET head_version_id = version.id, head_revision = version.revision
    FROM version WHERE f.id = version.file_id
), numbered AS (
    INSERT INTO event_channels AS c (channel, last_sequence)
    SELECT @channel::text, 1 FROM version
    ON CONFLICT ON CONSTRAINT event_channels_pkey DO UPDATE SET last_sequence = c.last_sequence + 1
    RETURNING c.last_sequence
), logged AS (
    INSERT INTO events (channel, sequence, event_type, payload)
    SELECT @channel::text, numbered.last_sequence, @event_type::text, @event_payload::bytea || event_sequence_field(numbered.last_sequence)
    FROM numbered
)
SELECT version.created_at, numbered.last_sequence AS sequence
FROM version, numbered;

-- name: FileListByProject :many
SELECT f.id, f.project_id, f.path, f.deleted_at, v.id AS version_id, v.revision, v.content_sha256, v.size_bytes, v.author_id, v.device_id,
       v.lines_added, v.lines_removed, v.hunks, v.created_at
FROM files f JOIN file_versions v ON v.id = f.head_version_id
WHERE f.project_id = @project_id AND (f.deleted_at IS NULL OR @include_deleted::boolean)
  AND (f.path, f.id) > (@after_path::text, @after_id::uuid)
ORDER BY f.path, f.id
LIMIT @max_rows;

-- name: FileVersionGet :one
SELECT * FROM file_versions WHERE id = @id AND file_id = @file_id;

-- name: FileVersionByIdempotencyKey :one
SELECT * FROM file_versions WHERE file_id = @file_id AND idempotency_key = @idempotency_key;

-- name: FileVersionList :many
SELECT id, file_id, revision, content_sha256, size_bytes, author_id, device_id, lines_added, lines_removed, hunks, idempotency_key, created_at
FROM file_versions WHERE file_id = @file_id AND revision < @before_revision
ORDER BY revision DESC
LIMIT @page_size;

-- name: FileIDByPathKey :one
SELECT id FROM files WHERE project_id = @project_id AND path_key = @path_key AND deleted_at IS NULL;

-- name: FileGetForMemberAny :one
-- FileGetForMemberAny is FileGetForMember including deleted files.
SELECT f.*, m.role FROM files f
JOIN project_members m ON m.project_id = f.project_id AND m.user_id = @user_id
WHERE f.id = @id;

-- name: FileLockAny :one
SELECT * FROM files WHERE id = @id FOR UPDATE;

-- name: FileSetPath :exec
UPDATE files SET path = @path, path_key = @path_key WHERE id = @id;

-- name: FileSetDeleted :exec
UPDATE files SET deleted_at = CASE WHEN @deleted::boolean THEN now() ELSE NULL END WHERE id = @id;

-- name: SoftLockUpsert :one
-- SoftLockUpsert takes or refreshes a session's lock. fresh reports whether
-- the session held no live lock on the file at @now (no row, or a row that
-- had lapsed and was not pruned yet), so the lock is a new acquisition that
-- other devices must be told about; a heartbeat of a live lock is not fresh.
-- Both parts read the statement's snapshot, so prior is the row as it was.
WITH prior AS (
    SELECT o.expires_at FROM soft_locks o WHERE o.file_id = @file_id AND o.session_id = @session_id
), taken AS (
    INSERT INTO soft_locks (file_id, session_id, user_id, device_id, expires_at)
    VALUES (@file_id, @session_id, @user_id, @device_id, @expires_at)
    ON CONFLICT (file_id, session_id) DO UPDATE SET expires_at = EXCLUDED.expires_at, device_id = EXCLUDED.device_id
    RETURNING file_id
)
SELECT (NOT EXISTS (SELECT 1 FROM prior WHERE prior.expires_at > @now::timestamptz))::boolean AS fresh FROM taken;

-- name: SoftLockDelete :execrows
DELETE FROM soft_locks WHERE file_id = @file_id AND session_id = @session_id;

-- name: SoftLockList :many
SELECT * FROM soft_locks WHERE file_id = @file_id AND expires_at > @now::timestamptz ORDER BY expires_at DESC;

-- name: SoftLockDeleteLapsed :many
-- SoftLockDeleteLapsed deletes the locks that lapsed before @before and
-- returns each with its project, so the prune job can announce every
-- release on the project's channel in the same transaction. A lock renewed
-- meanwhile is re-checked after its renewal commits and is kept.
WITH gone AS (
    DELETE FROM soft_locks WHERE expires_at < @before::timestamptz
    RETURNING file_id, user_id, device_id, expires_at
)
SELECT f.project_id, gone.file_id, gone.user_id, gone.device_id, gone.expires_at
FROM gone JOIN files f ON f.id = gone.file_id;
