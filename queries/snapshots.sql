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
SELECT sf.file_id, sf.path, v.id, v.revision, v.content_sha256, v.size_bytes, v.author_id, v.device_id, v.lines_added, v.lines_removed, v.hunks, v.created_at
FROM snapshot_files sf JOIN file_versions v ON v.id = sf.version_id
WHERE sf.snapshot_id = @snapshot_id ORDER BY sf.path;

-- name: SnapshotDiff :many
-- SnapshotDiff pairs the snapshot's files with the project's files now.
-- Absent sides come back as '' and the nil UUID. same_content compares the
-- two versions' content hashes: a head that is another version with the
-- snapshot's content (a restore appended it) is not a modification.
SELECT coalesce(sf.file_id, f.id)::uuid AS file_id,
       coalesce(sf.path, '')::text AS snapshot_path,
       coalesce(sf.version_id, '00000000-0000-0000-0000-000000000000')::uuid AS snapshot_version_id,
       coalesce(f.path, '')::text AS current_path,
       coalesce(f.head_version_id, '00000000-0000-0000-0000-000000000000')::uuid AS current_version_id,
       (f.id IS NULL OR f.deleted_at IS NOT NULL)::boolean AS gone,
       coalesce(sv.content_sha256 = hv.content_sha256, false)::boolean AS same_content
FROM (SELECT * FROM snapshot_files WHERE snapshot_id = @snapshot_id) sf
FULL OUTER JOIN (SELECT * FROM files WHERE project_id = @project_id) f ON f.id = sf.file_id
LEFT JOIN file_versions sv ON sv.id = sf.version_id
LEFT JOIN file_versions hv ON hv.id = f.head_version_id
ORDER BY coalesce(sf.path, f.path);

-- name: SnapshotHeadHashes :many
-- SnapshotHeadHashes returns the content hash of each given file's head
-- version, so a restore tells which files differ from the snapshot without
-- reading their content. The restore has locked the files: the heads hold.
SELECT f.id AS file_id, v.content_sha256
FROM files f JOIN file_versions v ON v.id = f.head_version_id
WHERE f.id = ANY(@file_ids::uuid[]);

-- name: SnapshotPathHolders :many
-- SnapshotPathHolders returns the live files of a project at any of the
-- given path keys: a restore puts a file back at its snapshot path only when
-- no other file will hold that path.
SELECT id, path_key FROM files
WHERE project_id = @project_id AND deleted_at IS NULL AND path_key = ANY(@path_keys::text[]);

-- name: SnapshotProjectLock :one
-- SnapshotProjectLock takes the project's row as a save's storage charge
-- does (FOR NO KEY UPDATE, after the files) and returns the storage used, so
-- a restore decides the project's room for all its versions before it
-- writes any, and nothing changes it until the restore commits.
SELECT storage_bytes FROM projects WHERE id = @id FOR NO KEY UPDATE;

-- name: SnapshotLockProjectFiles :many
-- SnapshotLockProjectFiles locks, in file id order, every live file of a
-- project and every file in @file_ids (a snapshot's, deleted ones too),
-- before a restore writes anything, and returns them as locked. A group of
-- saves may hold one file of the project and the project's row while it
-- waits for a later file; the restore, holding only files before the one it
-- waits for, never holds that later file, so the two cannot deadlock.
SELECT f.* FROM files f
WHERE f.project_id = @project_id AND (f.deleted_at IS NULL OR f.id = ANY(@file_ids::uuid[]))
ORDER BY f.id
FOR UPDATE;
