-- +goose Up
-- nodes records every running hivesyncd process so operators can see that all
-- nodes share one configuration (spec §34.14, /health/env) and which version
-- each runs. Rows are refreshed by a heartbeat and pruned by a River job.
CREATE TABLE IF NOT EXISTS nodes (
    node_id      text        PRIMARY KEY,
    mode         text        NOT NULL,
    version      text        NOT NULL,
    config_hash  text        NOT NULL,
    started_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS nodes_last_seen_at_idx ON nodes (last_seen_at);

-- +goose Down
DROP TABLE IF EXISTS nodes;
