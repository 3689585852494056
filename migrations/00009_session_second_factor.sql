-- +goose Up
-- When a session last passed a second-factor check: admin calls under
-- HIVESYNC_REQUIRE_ADMIN_2FA accept it for a while instead of one code per call.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS second_factor_at timestamptz;

-- +goose Down
ALTER TABLE sessions DROP COLUMN IF EXISTS second_factor_at;
