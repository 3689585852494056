-- +goose Up
-- A version's diff metadata is its diff against the version before it:
-- lines_added, lines_removed and now hunks, the number of hunks of that
-- unified diff with 3 lines of context (as DiffVersions shows it; changes
-- closer than 6 lines share a hunk). NULL for versions stored before it was
-- recorded. A nullable column without a default is added without rewriting
-- the table.
ALTER TABLE file_versions ADD COLUMN IF NOT EXISTS hunks integer;

-- +goose Down
ALTER TABLE file_versions DROP COLUMN IF EXISTS hunks;
