-- +goose Up
-- Identity: accounts (no passwords: the mobile identity provider is the
-- source), devices, token signing keys, sessions (refresh-token families) and
-- entitlements. Enum columns hold the hivesync.v1 enum numbers.
CREATE TABLE IF NOT EXISTS users (
    id               uuid        PRIMARY KEY,
    email            text        NOT NULL,
    email_normalized text        NOT NULL UNIQUE,
    display_name     text        NOT NULL DEFAULT '',
    is_admin         boolean     NOT NULL DEFAULT false,
    disabled_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS devices (
    id                      uuid        PRIMARY KEY,
    user_id                 uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                    text        NOT NULL,
    platform                text        NOT NULL DEFAULT '',
    client_type             smallint    NOT NULL,
    client_version          text        NOT NULL DEFAULT '',
    plugin_protocol_version integer     NOT NULL DEFAULT 0,
    push_token              text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    last_seen_at            timestamptz NOT NULL DEFAULT now(),
    revoked_at              timestamptz
);

CREATE INDEX IF NOT EXISTS devices_user_id_idx ON devices (user_id);

-- Asymmetric keys that sign access tokens. A key signs between activated_at
-- and retired_at, and stays published in the JWKS until expires_at so tokens
-- it signed keep verifying until they expire.
CREATE TABLE IF NOT EXISTS signing_keys (
    kid          text        PRIMARY KEY,
    algorithm    text        NOT NULL,
    private_key  bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz NOT NULL,
    retired_at   timestamptz,
    expires_at   timestamptz
);

-- A session is one sign-in of one client: the family of its refresh tokens.
CREATE TABLE IF NOT EXISTS sessions (
    id            uuid        PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id     uuid        REFERENCES devices (id) ON DELETE SET NULL,
    client_id     text        NOT NULL,
    client_type   smallint    NOT NULL,
    scopes        text[]      NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    revoke_reason text
);

CREATE INDEX IF NOT EXISTS sessions_user_id_idx ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_device_id_idx ON sessions (device_id);

-- Refresh tokens are stored only as SHA-256 hashes. A token is used once:
-- rotation sets rotated_at; presenting a rotated token again revokes its session.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash bytea       PRIMARY KEY,
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz
);

CREATE INDEX IF NOT EXISTS refresh_tokens_session_id_idx ON refresh_tokens (session_id);

CREATE TABLE IF NOT EXISTS entitlements (
    user_id       uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tier          smallint    NOT NULL,
    source        smallint    NOT NULL,
    expires_at    timestamptz,
    trial_ends_at timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE IF EXISTS entitlements;
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS signing_keys;
DROP TABLE IF EXISTS devices;
DROP TABLE IF EXISTS users;
