-- name: EntitlementGet :one
SELECT * FROM entitlements WHERE user_id = @user_id;

-- name: EntitlementSet :one
-- EntitlementSet records a user's tier (from a store notification or an operator).
INSERT INTO entitlements (user_id, tier, source, expires_at, trial_ends_at, updated_at)
VALUES (@user_id, @tier, @source, @expires_at, @trial_ends_at, now())
ON CONFLICT (user_id) DO UPDATE
SET tier = EXCLUDED.tier, source = EXCLUDED.source, expires_at = EXCLUDED.expires_at,
    trial_ends_at = EXCLUDED.trial_ends_at, updated_at = now()
RETURNING *;
