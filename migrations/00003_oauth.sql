-- +goose Up
-- Pending sign-ins of the OAuth flows. Both flows end with the user approving
-- on the phone (the mobile app is the identity source):
--   kind 'device': RFC 8628; the client polls the token endpoint with device_code.
--   kind 'code':   authorization code + PKCE; the browser page waits for the
--                  approval, then redirects to the client with a one-time code.
-- Secrets (device codes, authorization codes) are stored only as SHA-256 hashes.
CREATE TABLE IF NOT EXISTS oauth_grants (
    id               uuid        PRIMARY KEY,
    kind             text        NOT NULL CHECK (kind IN ('device', 'code')),
    client_id        text        NOT NULL,
    scopes           text[]      NOT NULL,
    user_code        text        NOT NULL UNIQUE,
    device_code_hash bytea       UNIQUE,
    redirect_uri     text        NOT NULL DEFAULT '',
    state            text        NOT NULL DEFAULT '',
    code_challenge   text        NOT NULL DEFAULT '',
    auth_code_hash   bytea       UNIQUE,
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    user_id          uuid        REFERENCES users (id) ON DELETE CASCADE,
    poll_interval_s  integer     NOT NULL DEFAULT 5,
    last_polled_at   timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS oauth_grants_expires_at_idx ON oauth_grants (expires_at);

-- +goose Down
DROP TABLE IF EXISTS oauth_grants;
