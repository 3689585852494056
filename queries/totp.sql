-- name: TotpUpsertPending :exec
-- TotpUpsertPending stores a new, unconfirmed secret (replacing an unconfirmed one).
INSERT INTO user_totp (user_id, secret) VALUES (@user_id, @secret)
ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, last_step = 0, created_at = now()
WHERE user_totp.confirmed_at IS NULL;

-- name: TotpGet :one
SELECT * FROM user_totp WHERE user_id = @user_id;

-- name: TotpGetForUpdate :one
SELECT * FROM user_totp WHERE user_id = @user_id FOR UPDATE;

-- name: TotpAccept :exec
-- TotpAccept records the time step of an accepted code (and confirms enrolment).
UPDATE user_totp SET last_step = @last_step, confirmed_at = coalesce(confirmed_at, now())
WHERE user_id = @user_id;

-- name: TotpDelete :exec
DELETE FROM user_totp WHERE user_id = @user_id;

-- name: RecoveryCodesDelete :exec
DELETE FROM user_recovery_codes WHERE user_id = @user_id;

-- name: RecoveryCodeInsert :exec
INSERT INTO user_recovery_codes (user_id, code_hash) VALUES (@user_id, @code_hash);

-- name: RecoveryCodeUse :execrows
UPDATE user_recovery_codes SET used_at = now()
WHERE user_id = @user_id AND code_hash = @code_hash AND used_at IS NULL;

-- name: AuditInsert :exec
INSERT INTO audit_log (actor_user_id, action, target_user_id, details)
VALUES (@actor_user_id, @action, @target_user_id, @details);

-- name: AuditList :many
SELECT * FROM audit_log
WHERE (sqlc.narg('target_user_id')::uuid IS NULL OR target_user_id = sqlc.narg('target_user_id'))
  AND id < @before_id
ORDER BY id DESC
LIMIT @page_size;
