-- name: EventAppend :one
-- EventAppend stores an event (encoded without its sequence) as the next of
-- its channel and announces it on commit, in one statement (see event_append
-- in migrations/00014_event_append.sql).
SELECT event_append(@channel::text, @event_type::text, @payload::bytea)::bigint AS sequence;

-- name: EventListAfter :many
SELECT * FROM events WHERE channel = @channel AND sequence > @after ORDER BY sequence LIMIT @max_events;

-- name: EventListen :exec
-- EventListen subscribes the connection to appended-event notifications.
LISTEN hivesync_events;
