// Package migrations embeds HiveSync's goose migrations so the binary carries
// its own schema. Migrations are forward-only in production, idempotent
// (IF NOT EXISTS) and follow expand-then-contract (spec §34.4).
package migrations

import "embed"

// FS holds every *.sql migration, applied in file-name order by goose.
//
//go:embed *.sql
var FS embed.FS
