-- +goose Up
-- Project invites, stored by the hash of their secret; each works once.
CREATE TABLE IF NOT EXISTS project_invites (
    token_hash bytea       PRIMARY KEY,
    project_id uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    role       smallint    NOT NULL,
    email      text        NOT NULL DEFAULT '',
    created_by uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    used_by    uuid
);

-- +goose Down
DROP TABLE IF EXISTS project_invites;
