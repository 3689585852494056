-- name: EventChannelNext :one
-- EventChannelNext reserves the next sequence number of a channel; the row
-- lock orders concurrent appends to one channel.
INSERT INTO event_channels (channel, last_sequence) VALUES (@channel, 1)
ON CONFLICT (channel) DO UPDATE SET last_sequence = event_channels.last_sequence + 1
RETURNING last_sequence;

-- name: EventInsert :exec
INSERT INTO events (channel, sequence, event_type, payload) VALUES (@channel, @sequence, @event_type, @payload);

-- name: EventNotify :exec
SELECT pg_notify('hivesync_events', @message::text);

-- name: EventListAfter :many
SELECT * FROM events WHERE channel = @channel AND sequence > @after ORDER BY sequence LIMIT @max_events;

-- name: EventListen :exec
-- EventListen subscribes the connection to appended-event notifications.
LISTEN hivesync_events;
