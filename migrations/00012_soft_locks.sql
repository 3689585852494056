-- +goose Up
-- Advisory edit locks, one per file and session; they never block a save.
CREATE TABLE IF NOT EXISTS soft_locks (
    file_id    uuid        NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL,
    device_id  uuid,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (file_id, session_id)
);

-- +goose Down
DROP TABLE IF EXISTS soft_locks;
