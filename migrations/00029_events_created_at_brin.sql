-- +goose Up
-- Events are appended in time order, so a BRIN index (one summary per range
-- of table blocks) finds the old ones for retention as the btree did, at a
-- fraction of the cost. Every append inserted into the btree's rightmost
-- leaf, one page all concurrent saves of the database contended for; at 8
-- clients dropping it cut a save's CPU by about 6% (BENCHMARKS.md). The
-- BRIN index only widens a block range's summary. Pruning takes old events
-- in table order instead of oldest first (queries/history.sql).
CREATE INDEX IF NOT EXISTS events_created_at_brin ON events USING brin (created_at);
DROP INDEX IF EXISTS events_created_at_idx;

-- +goose Down
CREATE INDEX IF NOT EXISTS events_created_at_idx ON events (created_at);
DROP INDEX IF EXISTS events_created_at_brin;
