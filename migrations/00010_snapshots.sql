-- +goose Up
-- Snapshots: the head version of every live file at one instant. Rows are
-- only ever inserted.
CREATE TABLE IF NOT EXISTS snapshots (
    id         uuid        PRIMARY KEY,
    project_id uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    label      text        NOT NULL DEFAULT '',
    created_by uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS snapshots_project_idx ON snapshots (project_id, created_at);

CREATE TABLE IF NOT EXISTS snapshot_files (
    snapshot_id uuid NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    file_id     uuid NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    version_id  uuid NOT NULL REFERENCES file_versions (id) ON DELETE CASCADE,
    path        text NOT NULL,
    PRIMARY KEY (snapshot_id, file_id)
);

-- +goose Down
DROP TABLE IF EXISTS snapshot_files;
DROP TABLE IF EXISTS snapshots;
