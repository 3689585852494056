-- +goose Up
-- History is the project's channel of the event log. Retention prunes the
-- log by age, oldest first, in small batches; this index finds them.
CREATE INDEX IF NOT EXISTS events_created_at_idx ON events (created_at);

-- +goose Down
DROP INDEX IF EXISTS events_created_at_idx;
