-- name: EventAppend :one
-- EventAppend stores an event (encoded without its sequence) as the next of
-- its channel, in one statement (see event_append in
-- migrations/00023_event_announce_after_commit.sql). store.Store announces
-- the channel after the commit; a new query that calls event_append must be
-- added to the announcing wrappers in store/announce.go.
SELECT event_append(@channel::text, @event_type::text, @payload::bytea)::bigint AS sequence;

-- name: EventListAfter :many
SELECT * FROM events WHERE channel = @channel AND sequence > @after ORDER BY sequence LIMIT @max_events;

-- name: EventListen :exec
-- EventListen subscribes the connection to appended-event announcements.
LISTEN hivesync_events;

-- name: EventAnnounce :exec
-- EventAnnounce tells every listening node that channels have new events
-- (one NOTIFY per channel, "<channel> <origin>"). It runs on its own, after
-- the appending transaction committed: a NOTIFY inside a write transaction
-- would serialize every commit of the database.
SELECT pg_notify('hivesync_events', c || ' ' || @origin::text)::text FROM unnest(@channels::text[]) AS c;

-- name: EventChannelHeads :many
-- EventChannelHeads is the last sequence of each listed channel that has
-- events, for the hubs' periodic resync.
SELECT channel, last_sequence FROM event_channels WHERE channel = ANY(@channels::text[]);
