-- name: AdminMessageInsert :one
INSERT INTO admin_messages (id, title, body, level, requires_ack, sent_by)
VALUES (@id, @title, @body, @level, @requires_ack, @sent_by)
RETURNING *;

-- name: AdminMessageList :many
-- AdminMessageList pages broadcasts newest first, with acknowledgement counts.
SELECT m.*, (SELECT count(*) FROM admin_message_acks a WHERE a.message_id = m.id)::bigint AS acknowledgements
FROM admin_messages m
WHERE (m.created_at, m.id) < (@before_time::timestamptz, @before_id::uuid)
ORDER BY m.created_at DESC, m.id DESC
LIMIT @max_rows;

-- name: AdminMessageAck :execrows
-- AdminMessageAck records a session's acknowledgement once.
INSERT INTO admin_message_acks (message_id, session_id, user_id)
SELECT m.id, @session_id, @user_id FROM admin_messages m WHERE m.id = @message_id
ON CONFLICT DO NOTHING;

-- name: MigrationNoticeInsert :one
INSERT INTO migration_notices (id, new_url, new_ws_url, switch_after, grace_period_seconds, min_client_version, announced_by)
VALUES (@id, @new_url, @new_ws_url, @switch_after, @grace_period_seconds, @min_client_version, @announced_by)
RETURNING *;

-- name: MigrationNoticeLatest :one
SELECT * FROM migration_notices ORDER BY created_at DESC, id DESC LIMIT 1;

-- name: MigrationNoticeCount :one
SELECT count(*)::bigint FROM migration_notices;

-- name: NotificationInsert :one
INSERT INTO notifications (id, user_id, title, body, deep_link)
VALUES (@id, @user_id, @title, @body, @deep_link)
RETURNING *;

-- name: NotificationList :many
SELECT * FROM notifications
WHERE user_id = @user_id AND (read_at IS NULL OR NOT @unread_only::boolean)
  AND (created_at, id) < (@before_time::timestamptz, @before_id::uuid)
ORDER BY created_at DESC, id DESC
LIMIT @max_rows;

-- name: NotificationUnreadCount :one
SELECT count(*)::bigint FROM notifications WHERE user_id = @user_id AND read_at IS NULL;

-- name: NotificationMarkRead :execrows
UPDATE notifications SET read_at = @now::timestamptz, delivered_at = coalesce(delivered_at, @now::timestamptz)
WHERE user_id = @user_id AND read_at IS NULL AND (@mark_all::boolean OR id = ANY(@ids::uuid[]));

-- name: NotificationDelivered :execrows
UPDATE notifications SET delivered_at = @now::timestamptz
WHERE id = @id AND user_id = @user_id AND delivered_at IS NULL;
