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

-- name: EntitlementExpireDue :many
-- EntitlementExpireDue lists users whose paid tier or trial has passed its
-- expiry (skipping rows another node is handling).
SELECT user_id FROM entitlements
WHERE tier <> 1 AND expires_at IS NOT NULL AND expires_at <= @now::timestamptz
FOR UPDATE SKIP LOCKED;

-- name: StoreNotificationInsert :execrows
-- StoreNotificationInsert records a store notification; zero rows: seen before.
INSERT INTO store_notifications (store, notification_id) VALUES (@store, @notification_id)
ON CONFLICT DO NOTHING;

-- name: StoreSubscriptionGet :one
SELECT * FROM store_subscriptions WHERE store = @store AND subscription_id = @subscription_id;

-- name: StoreSubscriptionUpsert :many
-- StoreSubscriptionUpsert records a subscription's state unless a newer
-- notification was already applied (no row returned then): concurrent or
-- out-of-order deliveries can never roll the state back.
INSERT INTO store_subscriptions (store, subscription_id, user_id, product_id, tier, expires_at, last_signed_at)
VALUES (@store, @subscription_id, @user_id, @product_id, @tier, @expires_at, @last_signed_at)
ON CONFLICT (store, subscription_id) DO UPDATE
SET user_id = coalesce(EXCLUDED.user_id, store_subscriptions.user_id), product_id = EXCLUDED.product_id, tier = EXCLUDED.tier,
    expires_at = EXCLUDED.expires_at, last_signed_at = EXCLUDED.last_signed_at, updated_at = now()
WHERE store_subscriptions.last_signed_at < EXCLUDED.last_signed_at
RETURNING *;

-- name: StoreSubscriptionBest :one
-- StoreSubscriptionBest is the user's best subscription in force: the tier is
-- decided by all of them, not by whichever store spoke last. Locks the
-- user's entitlement row so concurrent notifications apply one at a time.
SELECT s.tier, s.expires_at, s.store FROM store_subscriptions s
WHERE s.user_id = @user_id AND s.tier <> 1 AND (s.expires_at IS NULL OR s.expires_at > @now::timestamptz)
ORDER BY s.tier DESC, s.expires_at DESC NULLS FIRST
LIMIT 1;

-- name: UserLockForEntitlement :exec
SELECT id FROM users WHERE id = @id FOR UPDATE;

-- name: StoreSubscriptionClaim :one
-- StoreSubscriptionClaim binds a purchase to the user who registered it, or
-- creates it (Free until the store's notification arrives). A purchase
-- already bound to someone else is returned unchanged.
INSERT INTO store_subscriptions (store, subscription_id, user_id, product_id, tier, last_signed_at)
VALUES (@store, @subscription_id, @user_id, @product_id, 1, 'epoch')
ON CONFLICT (store, subscription_id) DO UPDATE
SET user_id = coalesce(store_subscriptions.user_id, EXCLUDED.user_id)
RETURNING *;
