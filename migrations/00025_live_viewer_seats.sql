-- +goose Up
-- A viewer's seat (one of the 100) is held while the viewer is connected and
-- for 10 minutes after (spec §4: reconnect silently within 10 minutes);
-- connected sockets renew it at every ping. A lapsed seat no longer counts
-- against the cap, and its viewer joins again with an invite.
ALTER TABLE live_viewers ADD COLUMN IF NOT EXISTS last_seen_at timestamptz NOT NULL DEFAULT now();

-- +goose Down
ALTER TABLE live_viewers DROP COLUMN IF EXISTS last_seen_at;
