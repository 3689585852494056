-- name: ProjectInsert :one
INSERT INTO projects (id, name, owner_id) VALUES (@id, @name, @owner_id) RETURNING *;

-- name: ProjectMemberInsert :exec
INSERT INTO project_members (project_id, user_id, role) VALUES (@project_id, @user_id, @role);

-- name: ProjectGetForMember :one
-- ProjectGetForMember returns a project with the user's role; no row for non-members.
SELECT p.*, m.role FROM projects p
JOIN project_members m ON m.project_id = p.id AND m.user_id = @user_id
WHERE p.id = @id;

-- name: ProjectListForUser :many
SELECT p.*, m.role FROM projects p
JOIN project_members m ON m.project_id = p.id
WHERE m.user_id = @user_id AND (p.created_at, p.id) < (@before_time::timestamptz, @before_id::uuid)
ORDER BY p.created_at DESC, p.id DESC
LIMIT @max_rows;

-- name: ProjectAddStorage :one
-- ProjectAddStorage charges bytes to a project only while it stays within max.
UPDATE projects SET storage_bytes = storage_bytes + @delta::bigint
WHERE id = @id AND storage_bytes + @delta::bigint <= @max_bytes::bigint
RETURNING storage_bytes;

-- name: ProjectStorage :one
SELECT storage_bytes FROM projects WHERE id = @id;

-- name: ProjectMembers :many
SELECT m.user_id, m.role, m.created_at, u.email, u.display_name FROM project_members m
JOIN users u ON u.id = m.user_id
WHERE m.project_id = @project_id
  AND (m.role < @after_role::smallint OR (m.role = @after_role::smallint AND (m.created_at, m.user_id) > (@after_time::timestamptz, @after_user::uuid)))
ORDER BY m.role DESC, m.created_at, m.user_id
LIMIT @max_rows;

-- name: ProjectMemberLock :one
-- ProjectMemberLock locks a project's owner rows so role changes serialize.
SELECT count(*) FILTER (WHERE role = 3)::int AS owners FROM (
  SELECT role FROM project_members WHERE project_id = @project_id FOR UPDATE
) m;

-- name: ProjectMemberSetRole :execrows
UPDATE project_members SET role = @role WHERE project_id = @project_id AND user_id = @user_id;

-- name: ProjectMemberDelete :execrows
DELETE FROM project_members WHERE project_id = @project_id AND user_id = @user_id;

-- name: ProjectMemberRole :one
SELECT role FROM project_members WHERE project_id = @project_id AND user_id = @user_id;

-- name: ProjectMemberUpsert :exec
-- ProjectMemberUpsert adds a member, or raises (never lowers) their role.
INSERT INTO project_members (project_id, user_id, role) VALUES (@project_id, @user_id, @role)
ON CONFLICT (project_id, user_id) DO UPDATE SET role = greatest(project_members.role, EXCLUDED.role);

-- name: InviteInsert :exec
INSERT INTO project_invites (token_hash, project_id, role, email, created_by, expires_at)
VALUES (@token_hash, @project_id, @role, @email, @created_by, @expires_at);

-- name: InviteUse :one
-- InviteUse spends an unexpired invite once.
UPDATE project_invites SET used_at = now(), used_by = @used_by
WHERE token_hash = @token_hash AND used_at IS NULL AND expires_at > @now::timestamptz
RETURNING *;
