-- name: SnapshotInsert :one
INSERT INTO snapshots (id, project_id, label, created_by) VALUES (@id, @project_id, @label, @created_by) RETURNING *;

-- name: SnapshotCapture :execrows
-- SnapshotCapture records every live file's head in one statement: one
-- consistent view, whatever saves run concurrently.
INSERT INTO snapshot_files (snapshot_id, file_id, version_id, path)
SELECT @snapshot_id, f.id, f.head_version_id, f.path FROM files f
WHERE f.project_id = @project_id AND f.deleted_at IS NULL;

-- name: SnapshotGetForMember :one
SELECT s.*, m.role, (SELECT count(*) FROM snapshot_files sf WHERE sf.snapshot_id = s.id)::int AS file_count
FROM snapshots s JOIN project_members m ON m.project_id = s.project_id AND m.user_id = @user_id
WHERE s.id = @id;

-- name: SnapshotList :many
SELECT s.*, (SELECT count(*) FROM snapshot_files sf WHERE sf.snapshot_id = s.id)::int AS file_count
FROM snapshots s WHERE s.project_id = @project_id AND (s.created_at, s.id) < (@before_time::timestamptz, @before_id::uuid)
ORDER BY s.created_at DESC, s.id DESC
LIMIT @max_rows;

-- name: SnapshotFiles :many
SELECT sf.file_id, sf.path, v.id, v.revision, v.content_sha256, v.size_bytes, v.author_id, v.device_id, v.lines_added, v.lines_removed, v.created_at
FROM snapshot_files sf JOIN file_versions v ON v.id = sf.version_id
WHERE sf.snapshot_id = @snapshot_id ORDER BY sf.path;

-- name: SnapshotDiff :many
-- SnapshotDiff pairs the snapshot's files with the project's files now.
-- Absent sides come back as '' and the nil UUID.
SELECT coalesce(sf.file_id, f.id)::uuid AS file_id,
       coalesce(sf.path, '')::text AS snapshot_path,
       coalesce(sf.version_id, '00000000-0000-0000-0000-000000000000')::uuid AS snapshot_version_id,
       coalesce(f.path, '')::text AS current_path,
       coalesce(f.head_version_id, '00000000-0000-0000-0000-000000000000')::uuid AS current_version_id,
       (f.id IS NULL OR f.deleted_at IS NOT NULL)::boolean AS gone
FROM (SELECT * FROM snapshot_files WHERE snapshot_id = @snapshot_id) sf
FULL OUTER JOIN (SELECT * FROM files WHERE project_id = @project_id) f ON f.id = sf.file_id
ORDER BY coalesce(sf.path, f.path);
