-- name: NodeUpsert :one
-- NodeUpsert registers a node or refreshes its heartbeat.
INSERT INTO nodes (node_id, mode, version, config_hash, started_at, last_seen_at)
VALUES (@node_id, @mode, @version, @config_hash, @started_at, now())
ON CONFLICT (node_id) DO UPDATE
SET mode = EXCLUDED.mode,
    version = EXCLUDED.version,
    config_hash = EXCLUDED.config_hash,
    last_seen_at = now()
RETURNING *;

-- name: NodeListActive :many
-- NodeListActive lists nodes seen since the given time, newest first.
SELECT * FROM nodes
WHERE last_seen_at >= @seen_since
ORDER BY last_seen_at DESC, node_id;

-- name: NodeDelete :exec
-- NodeDelete removes a node on clean shutdown.
DELETE FROM nodes WHERE node_id = @node_id;

-- name: NodeDeleteStale :execrows
-- NodeDeleteStale prunes nodes not seen since the given time.
DELETE FROM nodes WHERE last_seen_at < @seen_before;

-- name: DatabaseNow :one
-- DatabaseNow returns the database clock; used by health checks.
SELECT now()::timestamptz AS now;
