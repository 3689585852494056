-- name: FileInsert :one
INSERT INTO files (id, project_id, path, path_key, head_version_id, head_revision)
VALUES (@id, @project_id, @path, @path_key, @head_version_id, 1)
RETURNING *;

-- name: FileVersionInsert :one
INSERT INTO file_versions (id, file_id, revision, content, content_sha256, size_bytes, author_id, device_id, lines_added, lines_removed, idempotency_key)
VALUES (@id, @file_id, @revision, @content, @content_sha256, @size_bytes, @author_id, @device_id, @lines_added, @lines_removed, @idempotency_key)
RETURNING id, file_id, revision, content_sha256, size_bytes, author_id, device_id, lines_added, lines_removed, idempotency_key, created_at;

-- name: FileGetForMember :one
-- FileGetForMember returns a live file with the user's role in its project.
SELECT f.*, m.role FROM files f
JOIN project_members m ON m.project_id = f.project_id AND m.user_id = @user_id
WHERE f.id = @id AND f.deleted_at IS NULL;

-- name: FileLockForSave :one
-- FileLockForSave locks a live file's row for the duration of a save.
SELECT * FROM files WHERE id = @id AND deleted_at IS NULL FOR UPDATE;

-- name: FileAdvanceHead :exec
UPDATE files SET head_version_id = @head_version_id, head_revision = @head_revision WHERE id = @id;

-- name: FileListByProject :many
SELECT f.id, f.project_id, f.path, f.deleted_at, v.id AS version_id, v.revision, v.content_sha256, v.size_bytes, v.author_id, v.device_id,
       v.lines_added, v.lines_removed, v.created_at
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
SELECT id, file_id, revision, content_sha256, size_bytes, author_id, device_id, lines_added, lines_removed, idempotency_key, created_at
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
-- SoftLockUpsert takes or refreshes a session's lock; held reports whether it was new.
INSERT INTO soft_locks (file_id, session_id, user_id, device_id, expires_at)
VALUES (@file_id, @session_id, @user_id, @device_id, @expires_at)
ON CONFLICT (file_id, session_id) DO UPDATE SET expires_at = EXCLUDED.expires_at, device_id = EXCLUDED.device_id
RETURNING (xmax = 0) AS fresh;

-- name: SoftLockDelete :execrows
DELETE FROM soft_locks WHERE file_id = @file_id AND session_id = @session_id;

-- name: SoftLockList :many
SELECT * FROM soft_locks WHERE file_id = @file_id AND expires_at > @now::timestamptz ORDER BY expires_at DESC;

-- name: SoftLockDeleteExpired :execrows
DELETE FROM soft_locks WHERE expires_at < @before::timestamptz;
