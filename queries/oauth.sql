-- name: OAuthGrantInsert :one
INSERT INTO oauth_grants (id, kind, client_id, scopes, user_code, device_code_hash, redirect_uri, state, code_challenge, poll_interval_s, expires_at)
VALUES (@id, @kind, @client_id, @scopes, @user_code, @device_code_hash, @redirect_uri, @state, @code_challenge, @poll_interval_s, @expires_at)
RETURNING *;

-- name: OAuthGrantByUserCode :one
SELECT * FROM oauth_grants WHERE user_code = @user_code;

-- name: OAuthGrantByID :one
SELECT * FROM oauth_grants WHERE id = @id;

-- name: OAuthGrantDecide :one
-- OAuthGrantDecide records the user's approval or denial of a pending,
-- unexpired sign-in; it changes nothing otherwise.
UPDATE oauth_grants SET status = @status::text, user_id = @user_id
WHERE user_code = @user_code AND status = 'pending' AND expires_at > @now::timestamptz
RETURNING *;

-- name: OAuthGrantLockByDeviceCode :one
-- OAuthGrantLockByDeviceCode loads a device grant for a token-endpoint poll,
-- locking it until the transaction ends so concurrent polls queue up.
SELECT * FROM oauth_grants
WHERE device_code_hash = @device_code_hash AND kind = 'device'
FOR UPDATE;

-- name: OAuthGrantSetPoll :exec
UPDATE oauth_grants SET poll_interval_s = @poll_interval_s, last_polled_at = @last_polled_at
WHERE id = @id;

-- name: OAuthGrantConsume :one
-- OAuthGrantConsume turns an approved grant into a used one, exactly once.
UPDATE oauth_grants SET status = 'consumed'
WHERE id = @id AND status = 'approved' AND expires_at > @now::timestamptz
RETURNING *;

-- name: OAuthGrantIssueCode :one
-- OAuthGrantIssueCode attaches a one-time authorization code to an approved
-- code grant and shortens its life to the code's.
UPDATE oauth_grants SET auth_code_hash = @auth_code_hash, expires_at = @expires_at
WHERE id = @id AND kind = 'code' AND status = 'approved' AND auth_code_hash IS NULL
RETURNING *;

-- name: OAuthGrantByAuthCode :one
SELECT * FROM oauth_grants WHERE auth_code_hash = @auth_code_hash AND kind = 'code';

-- name: OAuthGrantDeleteExpired :execrows
DELETE FROM oauth_grants WHERE expires_at < @before::timestamptz;
