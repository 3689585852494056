-- +goose Up
-- Live View sessions (spec §4): one running session per creator and
-- project; invites are hashed tokens valid for an hour; viewers are capped
-- at 100 per session.
CREATE TABLE IF NOT EXISTS live_sessions (
    id               uuid        PRIMARY KEY,
    project_id       uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    file_id          uuid        REFERENCES files (id) ON DELETE SET NULL,
    creator_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    end_reason       text        NOT NULL DEFAULT ''
);

CREATE UNIQUE INDEX IF NOT EXISTS live_sessions_running_idx ON live_sessions (creator_id, project_id) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS live_sessions_idle_idx ON live_sessions (last_activity_at) WHERE ended_at IS NULL;

CREATE TABLE IF NOT EXISTS live_invites (
    token_hash bytea       PRIMARY KEY,
    session_id uuid        NOT NULL REFERENCES live_sessions (id) ON DELETE CASCADE,
    invitee_id uuid        REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS live_viewers (
    session_id uuid        NOT NULL REFERENCES live_sessions (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, user_id)
);

-- +goose Down
DROP TABLE IF EXISTS live_viewers;
DROP TABLE IF EXISTS live_invites;
DROP TABLE IF EXISTS live_sessions;
