-- name: UserUpsertByEmail :one
-- UserUpsertByEmail returns the account for an email, creating it if needed.
INSERT INTO users (id, email, email_normalized, display_name, is_admin)
VALUES (@id, @email, lower(@email), @display_name, @is_admin)
ON CONFLICT (email_normalized) DO UPDATE
SET is_admin = users.is_admin OR EXCLUDED.is_admin
RETURNING *;

-- name: UserGetByID :one
SELECT * FROM users WHERE id = @id;

-- name: SigningKeyInsert :exec
INSERT INTO signing_keys (kid, algorithm, private_key, activated_at)
VALUES (@kid, @algorithm, @private_key, @activated_at);

-- name: SigningKeyListPublished :many
-- SigningKeyListPublished lists keys whose tokens may still be valid, newest first.
SELECT * FROM signing_keys
WHERE expires_at IS NULL OR expires_at > @now::timestamptz
ORDER BY activated_at DESC, created_at DESC, kid;

-- name: SigningKeyRetireOthers :exec
-- SigningKeyRetireOthers stops every key but one from signing, keeping them
-- published until expires_at.
UPDATE signing_keys
SET retired_at = @now::timestamptz, expires_at = @expires_at::timestamptz
WHERE kid <> @kid AND retired_at IS NULL;

-- name: SessionInsert :one
INSERT INTO sessions (id, user_id, device_id, client_id, client_type, scopes)
VALUES (@id, @user_id, @device_id, @client_id, @client_type, @scopes)
RETURNING *;

-- name: SessionPrincipal :one
-- SessionPrincipal loads what the authenticator needs for one request: the
-- session, its user and device state, and the user's entitlement.
SELECT s.id, s.user_id, s.device_id, s.client_type, s.scopes, s.revoked_at, s.second_factor_at,
       u.disabled_at AS user_disabled_at, u.is_admin AS user_is_admin,
       d.revoked_at AS device_revoked_at,
       e.tier AS tier, e.expires_at AS tier_expires_at
FROM sessions s
JOIN users u ON u.id = s.user_id
LEFT JOIN devices d ON d.id = s.device_id
LEFT JOIN entitlements e ON e.user_id = s.user_id
WHERE s.id = @id;

-- name: SessionGet :one
SELECT * FROM sessions WHERE id = @id;

-- name: SessionListActive :many
SELECT * FROM sessions
WHERE user_id = @user_id AND revoked_at IS NULL
ORDER BY last_used_at DESC, id;

-- name: SessionRevoke :execrows
-- SessionRevoke revokes one of a user's sessions.
UPDATE sessions SET revoked_at = now(), revoke_reason = @reason::text
WHERE id = @id AND user_id = @user_id AND revoked_at IS NULL;

-- name: SessionRevokeByDevice :execrows
UPDATE sessions SET revoked_at = now(), revoke_reason = @reason::text
WHERE device_id = @device_id AND revoked_at IS NULL;

-- name: SessionBindDevice :exec
UPDATE sessions SET device_id = @device_id WHERE id = @id;

-- name: SessionTouch :exec
UPDATE sessions SET last_used_at = now() WHERE id = @id;

-- name: RefreshTokenInsert :exec
INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
VALUES (@token_hash, @session_id, @expires_at);

-- name: RefreshTokenGet :one
SELECT r.*, s.revoked_at AS session_revoked_at
FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
WHERE r.token_hash = @token_hash;

-- name: RefreshTokenRotate :one
-- RefreshTokenRotate marks a token used, only if it was unused: the
-- compare-and-set that makes two concurrent refreshes impossible.
UPDATE refresh_tokens SET rotated_at = now()
WHERE token_hash = @token_hash AND rotated_at IS NULL AND expires_at > now()
RETURNING session_id;

-- name: DeviceUpsert :one
-- DeviceUpsert registers a device, or updates one the same user owns.
INSERT INTO devices (id, user_id, name, platform, client_type, client_version, plugin_protocol_version, push_token)
VALUES (@id, @user_id, @name, @platform, @client_type, @client_version, @plugin_protocol_version, @push_token)
ON CONFLICT (id) DO UPDATE
SET name = CASE WHEN EXCLUDED.name = '' THEN devices.name ELSE EXCLUDED.name END,
    platform = EXCLUDED.platform,
    client_version = EXCLUDED.client_version,
    plugin_protocol_version = EXCLUDED.plugin_protocol_version,
    push_token = coalesce(EXCLUDED.push_token, devices.push_token),
    last_seen_at = now()
WHERE devices.user_id = EXCLUDED.user_id AND devices.revoked_at IS NULL AND devices.client_type = EXCLUDED.client_type
RETURNING *;

-- name: DeviceListActive :many
SELECT * FROM devices
WHERE user_id = @user_id AND revoked_at IS NULL
ORDER BY last_seen_at DESC, id;

-- name: DeviceRename :one
UPDATE devices SET name = @name
WHERE id = @id AND user_id = @user_id AND revoked_at IS NULL
RETURNING *;

-- name: DeviceRevoke :execrows
UPDATE devices SET revoked_at = now(), push_token = NULL
WHERE id = @id AND user_id = @user_id AND revoked_at IS NULL;

-- name: AdvisoryXactLock :exec
-- AdvisoryXactLock serializes a critical section across nodes until the
-- transaction ends (key creation, for one).
SELECT pg_advisory_xact_lock(@lock_key::bigint);

-- name: SessionRevokeAny :execrows
-- SessionRevokeAny revokes a session whoever owns it (security responses).
UPDATE sessions SET revoked_at = now(), revoke_reason = @reason::text
WHERE id = @id AND revoked_at IS NULL;

-- name: IdentityGet :one
SELECT * FROM user_identities WHERE provider = @provider AND subject = @subject;

-- name: IdentityInsert :exec
INSERT INTO user_identities (provider, subject, user_id, email)
VALUES (@provider, @subject, @user_id, @email);

-- name: IDTokenUseInsert :execrows
-- IDTokenUseInsert records an ID token's use; zero rows means it was used before.
INSERT INTO id_token_uses (token_hash, expires_at) VALUES (@token_hash, @expires_at)
ON CONFLICT (token_hash) DO NOTHING;

-- name: IDTokenUseDeleteExpired :execrows
DELETE FROM id_token_uses WHERE expires_at < @before::timestamptz;

-- name: UserInsert :one
INSERT INTO users (id, email, email_normalized, display_name)
VALUES (@id, @email, lower(@email), @display_name)
ON CONFLICT (email_normalized) DO UPDATE SET email_normalized = EXCLUDED.email_normalized
RETURNING *, (xmax = 0) AS inserted;

-- name: SessionMarkSecondFactor :exec
UPDATE sessions SET second_factor_at = @at::timestamptz WHERE id = @id;

-- name: LoginLinkDeleteExpired :execrows
DELETE FROM login_links WHERE expires_at < @before::timestamptz;

-- name: RefreshTokenDeleteExpired :execrows
DELETE FROM refresh_tokens WHERE expires_at < @before::timestamptz;

-- name: IdentityCountForUser :one
SELECT count(*) FROM user_identities WHERE user_id = @user_id;

-- name: DeviceOwnedBy :one
SELECT id FROM devices WHERE id = @id AND user_id = @user_id AND revoked_at IS NULL;

-- name: SessionStandings :many
-- SessionStandings is the standing of many sessions at once: the WebSocket
-- gateway re-checks every open socket's session each ping interval with
-- one query per batch, not one per socket.
SELECT s.id, s.revoked_at, u.disabled_at AS user_disabled_at, d.revoked_at AS device_revoked_at
FROM sessions s
JOIN users u ON u.id = s.user_id
LEFT JOIN devices d ON d.id = s.device_id
WHERE s.id = ANY(@ids::uuid[]);

-- name: UserPhoneClear :exec
-- UserPhoneClear releases a number from any other account, before
-- UserPhoneSet gives it to the account that just proved it.
UPDATE users SET phone_e164 = NULL WHERE phone_e164 = @phone::text AND id <> @id;

-- name: UserPhoneSet :exec
UPDATE users SET phone_e164 = @phone::text WHERE id = @id;

-- name: UserGetByPhone :one
SELECT * FROM users WHERE phone_e164 = @phone::text;

-- name: StandingListen :exec
-- StandingListen subscribes the connection to changes of sessions, users,
-- devices and entitlements (migration 00027's triggers): the payload is the
-- id of the user whose requests must be authenticated afresh.
LISTEN hivesync_standing;
