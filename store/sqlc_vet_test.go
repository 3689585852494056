package store_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/store/storetest"
)

// TestSQLCVet prepares every query in queries/ against a freshly migrated
// database (sqlc's db-prepare rule), so a query that no longer matches the
// schema fails the tests, not production.
func TestSQLCVet(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	cmd := exec.Command("go", "tool", "-modfile=tools/go.mod", "sqlc", "vet")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "HIVESYNC_VET_DATABASE_URL="+storetest.URL(t))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "sqlc vet:\n%s", out)
}
