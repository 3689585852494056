-- name: UserGetByEmail :one
SELECT * FROM users WHERE email_normalized = lower(@email);

-- name: UserSetDisabled :one
UPDATE users SET disabled_at = CASE WHEN @disabled::boolean THEN coalesce(disabled_at, now()) ELSE NULL END
WHERE id = @id
RETURNING *;

-- name: SessionRevokeAllForUser :execrows
UPDATE sessions SET revoked_at = now(), revoke_reason = @reason::text
WHERE user_id = @user_id AND revoked_at IS NULL;

-- name: LoginLinkReplace :exec
-- LoginLinkReplace drops a user's unused links (so only the newest works) and
-- stores a new one.
WITH dropped AS (DELETE FROM login_links WHERE user_id = @user_id AND used_at IS NULL)
INSERT INTO login_links (token_hash, user_id, expires_at) VALUES (@token_hash, @user_id, @expires_at);

-- name: LoginLinkUse :one
-- LoginLinkUse spends a link, once, before it expires.
UPDATE login_links SET used_at = now()
WHERE token_hash = @token_hash AND used_at IS NULL AND expires_at > @now::timestamptz
RETURNING user_id;
