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
WHERE m.user_id = @user_id
ORDER BY p.created_at DESC, p.id;

-- name: ProjectAddStorage :one
-- ProjectAddStorage charges bytes to a project only while it stays within max.
UPDATE projects SET storage_bytes = storage_bytes + @delta::bigint
WHERE id = @id AND storage_bytes + @delta::bigint <= @max_bytes::bigint
RETURNING storage_bytes;

-- name: ProjectStorage :one
SELECT storage_bytes FROM projects WHERE id = @id;
