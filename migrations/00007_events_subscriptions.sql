-- +goose Up
-- The append-only event log: every realtime event is a row, numbered per
-- channel ("user:<id>", "project_sync:<id>", "live:<id>"), written in the
-- same transaction as the change it announces. The WebSocket gateway delivers
-- and replays from here (a NOTIFY on hivesync_events wakes it).
CREATE TABLE IF NOT EXISTS event_channels (
    channel       text   PRIMARY KEY,
    last_sequence bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS events (
    channel    text        NOT NULL,
    sequence   bigint      NOT NULL,
    event_type text        NOT NULL,
    payload    bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, sequence)
);

-- Store subscriptions, keyed by the store's stable id (Apple
-- originalTransactionId, Google purchase token). last_signed_at orders
-- out-of-order notifications. user_id is NULL for a Google Play purchase whose
-- notification arrived before the app registered the purchase token.
CREATE TABLE IF NOT EXISTS store_subscriptions (
    store           text        NOT NULL,
    subscription_id text        NOT NULL,
    user_id         uuid        REFERENCES users (id) ON DELETE CASCADE,
    product_id      text        NOT NULL DEFAULT '',
    tier            smallint    NOT NULL,
    expires_at      timestamptz,
    last_signed_at  timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store, subscription_id)
);

-- Notifications already applied (Apple notificationUUID, Pub/Sub messageId):
-- store retries are answered 200 and change nothing.
CREATE TABLE IF NOT EXISTS store_notifications (
    store           text        NOT NULL,
    notification_id text        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store, notification_id)
);

-- +goose Down
DROP TABLE IF EXISTS store_notifications;
DROP TABLE IF EXISTS store_subscriptions;
DROP TABLE IF EXISTS events;
DROP TABLE IF EXISTS event_channels;
