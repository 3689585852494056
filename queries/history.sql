-- name: HistoryPageNewest :many
-- HistoryPageNewest is a page of a channel's log before a sequence, newest
-- first. With no types given, transient lock events are left out.
SELECT sequence, event_type, payload FROM events
WHERE channel = @channel AND sequence < @before
  AND CASE WHEN cardinality(@event_types::text[]) = 0 THEN event_type <> 'lock.changed'
           ELSE event_type = ANY(@event_types::text[]) END
ORDER BY sequence DESC
LIMIT @max_rows;

-- name: HistoryPageOldest :many
-- HistoryPageOldest is a page of a channel's log after a sequence (and up to
-- an upper bound), oldest first, with the same type rule.
SELECT sequence, event_type, payload FROM events
WHERE channel = @channel AND sequence > @after AND sequence <= @until
  AND CASE WHEN cardinality(@event_types::text[]) = 0 THEN event_type <> 'lock.changed'
           ELSE event_type = ANY(@event_types::text[]) END
ORDER BY sequence
LIMIT @max_rows;

-- name: EventChannelLast :one
-- EventChannelLast is the last sequence handed out on a channel.
SELECT last_sequence FROM event_channels WHERE channel = @channel;

-- name: EventDeleteChannel :execrows
DELETE FROM events WHERE channel = @channel;

-- name: EventChannelDeleteLiveByProject :execrows
-- EventChannelDeleteLiveByProject deletes the sequence rows of the Live View
-- channels (@channel_prefix || session id) of every session of a project.
-- A purge runs it before EventDeleteLiveByProject: it waits for appends in
-- flight on those channels, which the next statement then sees.
DELETE FROM event_channels
WHERE channel IN (SELECT @channel_prefix::text || s.id::text FROM live_sessions s WHERE s.project_id = @project_id);

-- name: EventDeleteLiveByProject :execrows
-- EventDeleteLiveByProject deletes the events of the Live View channels of
-- every session of a project: they carry the file text that was streamed.
DELETE FROM events
WHERE channel IN (SELECT @channel_prefix::text || s.id::text FROM live_sessions s WHERE s.project_id = @project_id);

-- name: EventPruneBatch :execrows
-- EventPruneBatch deletes up to batch_size events older than cutoff, in
-- table order (the BRIN index on created_at finds the block ranges that hold
-- them; sorting them all to take the oldest would cost every batch the whole
-- backlog); the retention job repeats it until nothing is left to prune.
DELETE FROM events e
USING (SELECT o.channel, o.sequence FROM events o WHERE o.created_at < @cutoff LIMIT @batch_size) old
WHERE e.channel = old.channel AND e.sequence = old.sequence;

-- name: ProjectLockForPurge :one
-- ProjectLockForPurge locks a project the caller owns, with its size.
SELECT p.id, p.name,
       (SELECT count(*) FROM files f WHERE f.project_id = p.id)::bigint AS files,
       (SELECT count(*) FROM file_versions v JOIN files f ON f.id = v.file_id WHERE f.project_id = p.id)::bigint AS versions
FROM projects p
JOIN project_members m ON m.project_id = p.id AND m.user_id = @user_id AND m.role = @owner_role
WHERE p.id = @id
FOR UPDATE OF p;

-- name: ProjectDelete :execrows
DELETE FROM projects WHERE id = @id;
