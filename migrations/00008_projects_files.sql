-- +goose Up
-- Projects, members and files. Every version of a file is a row of
-- file_versions (content as UTF-8 TEXT, LF line endings); files.head_* points
-- at the latest and moves only by compare-and-set under a row lock.
CREATE TABLE IF NOT EXISTS projects (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL,
    owner_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    storage_bytes bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS project_members (
    project_id uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       smallint    NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);

CREATE INDEX IF NOT EXISTS project_members_user_idx ON project_members (user_id);

CREATE TABLE IF NOT EXISTS files (
    id              uuid        PRIMARY KEY,
    project_id      uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    path            text        NOT NULL,
    path_key        text        NOT NULL,
    head_version_id uuid        NOT NULL,
    head_revision   bigint      NOT NULL,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Paths are unique per project ignoring case (a macOS or Windows checkout
-- could not hold both), among files that are not deleted.
CREATE UNIQUE INDEX IF NOT EXISTS files_project_path_key_idx ON files (project_id, path_key) WHERE deleted_at IS NULL;

CREATE TABLE IF NOT EXISTS file_versions (
    id              uuid        PRIMARY KEY,
    file_id         uuid        NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    revision        bigint      NOT NULL,
    content         text        NOT NULL,
    content_sha256  text        NOT NULL,
    size_bytes      bigint      NOT NULL,
    author_id       uuid        NOT NULL,
    device_id       uuid,
    lines_added     integer     NOT NULL DEFAULT 0,
    lines_removed   integer     NOT NULL DEFAULT 0,
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (file_id, revision)
);

CREATE UNIQUE INDEX IF NOT EXISTS file_versions_idempotency_idx ON file_versions (file_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- +goose Down
DROP TABLE IF EXISTS file_versions;
DROP TABLE IF EXISTS files;
DROP TABLE IF EXISTS project_members;
DROP TABLE IF EXISTS projects;
