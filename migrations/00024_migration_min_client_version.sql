-- +goose Up
-- A migration notice can raise the oldest client build the new server
-- accepts (0: unchanged); the bootstrap document carries it after the switch.
ALTER TABLE migration_notices ADD COLUMN IF NOT EXISTS min_client_version integer NOT NULL DEFAULT 0
    CHECK (min_client_version >= 0);

-- +goose Down
ALTER TABLE migration_notices DROP COLUMN IF EXISTS min_client_version;
