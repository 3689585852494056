-- +goose Up
-- Admin broadcasts (spec §32) and their acknowledgements, one per session.
CREATE TABLE IF NOT EXISTS admin_messages (
    id           uuid        PRIMARY KEY,
    title        text        NOT NULL,
    body         text        NOT NULL,
    level        smallint    NOT NULL,
    requires_ack boolean     NOT NULL,
    sent_by      uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS admin_message_acks (
    message_id uuid        NOT NULL REFERENCES admin_messages (id) ON DELETE CASCADE,
    session_id uuid        NOT NULL,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    acked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, session_id)
);

-- Backend moves announced to clients (spec §33); the newest is current.
CREATE TABLE IF NOT EXISTS migration_notices (
    id                   uuid        PRIMARY KEY,
    new_url              text        NOT NULL,
    new_ws_url           text        NOT NULL,
    switch_after         timestamptz NOT NULL,
    grace_period_seconds integer     NOT NULL,
    announced_by         uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);

-- In-app notifications (spec §1 Notification Service), delivered on the
-- user's channel; delivered_at is the first client acknowledgement.
CREATE TABLE IF NOT EXISTS notifications (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        text        NOT NULL,
    body         text        NOT NULL,
    deep_link    text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    read_at      timestamptz
);

CREATE INDEX IF NOT EXISTS notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE IF EXISTS notifications;
DROP TABLE IF EXISTS migration_notices;
DROP TABLE IF EXISTS admin_message_acks;
DROP TABLE IF EXISTS admin_messages;
