-- +goose Up
-- A verified phone number (E.164), as an identity provider asserted it in a
-- sign-in (OIDC phone_number with phone_number_verified): how a Live View
-- creator can invite an existing user by phone (spec §4). One account per
-- number; a later verified assertion for another account moves it.
ALTER TABLE users ADD COLUMN IF NOT EXISTS phone_e164 text CHECK (phone_e164 ~ '^\+[1-9][0-9]{6,14}$');
CREATE UNIQUE INDEX IF NOT EXISTS users_phone_e164_idx ON users (phone_e164) WHERE phone_e164 IS NOT NULL;

-- +goose Down
DROP INDEX IF EXISTS users_phone_e164_idx;
ALTER TABLE users DROP COLUMN IF EXISTS phone_e164;
