-- +goose Up
-- One-time sign-in links for account recovery (spec §35.3), stored hashed.
CREATE TABLE IF NOT EXISTS login_links (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

CREATE INDEX IF NOT EXISTS login_links_user_id_idx ON login_links (user_id);

-- +goose Down
DROP TABLE IF EXISTS login_links;
