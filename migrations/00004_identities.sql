-- +goose Up
-- Links between accounts and identity-provider subjects: a returning user is
-- found by (provider, subject), so a changed email at the provider cannot
-- move them to another account.
CREATE TABLE IF NOT EXISTS user_identities (
    provider   text        NOT NULL,
    subject    text        NOT NULL,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);

CREATE INDEX IF NOT EXISTS user_identities_user_id_idx ON user_identities (user_id);

-- ID tokens already exchanged, by hash, until they expire: each is used once.
CREATE TABLE IF NOT EXISTS id_token_uses (
    token_hash bytea       PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS id_token_uses;
DROP TABLE IF EXISTS user_identities;
