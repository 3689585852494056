package pgcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/store/pgcluster"
)

// tempDir is a directory directly under the system temp dir: when the tests
// run as root, postgres runs as another user and must be able to reach it
// (t.TempDir nests it in a directory only root can enter).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgcluster-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// Postgres refuses to run as root, so under root pgcluster runs the server
// as an unprivileged user; a data directory inside root's private temp dir is
// then unreachable and must be explained. Without root there is no hand-over
// and nothing to test (CI and `make dev` in containers run as root).
func TestUnreachableDirIsExplained(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("not root: the server runs as the caller, so no directory is unreachable to it")
	}
	_, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: filepath.Join(t.TempDir(), "pg")})
	require.ErrorContains(t, err, "cannot enter")
	require.ErrorContains(t, err, "HIVESYNC_DATA_DIR")
}

func TestFindBinaries(t *testing.T) {
	t.Parallel()
	dir, err := pgcluster.FindBinaries()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "initdb"))
	require.FileExists(t, filepath.Join(dir, "postgres"))
}

func TestClusterKeepsDataAcrossRestarts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := tempDir(t)

	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, c.EnsureDatabase(ctx, "keep"))
	require.NoError(t, c.EnsureDatabase(ctx, "keep"), "idempotent")
	conn, err := pgx.Connect(ctx, c.URL("keep"))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('saved')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, c.Stop(ctx))
	<-c.Exited()
	require.NoError(t, c.Stop(ctx), "stopping twice is harmless")

	// The password is not world-readable.
	st, err := os.Stat(filepath.Join(dir, "superuser.password"))
	require.NoError(t, err)
	require.Zero(t, st.Mode().Perm()&0o077)

	c2, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, c2.Stop(ctx)) }()
	require.Equal(t, c.Password(), c2.Password())
	conn, err = pgx.Connect(ctx, c2.URL("keep"))
	require.NoError(t, err)
	defer func() { _ = conn.Close(ctx) }()
	var v string
	require.NoError(t, conn.QueryRow(ctx, "SELECT v FROM t").Scan(&v))
	require.Equal(t, "saved", v)

	// Only the generated password gets in.
	bad, err := pgx.ParseConfig(c2.URL("keep"))
	require.NoError(t, err)
	bad.Password = "wrong"
	_, err = pgx.ConnectConfig(ctx, bad)
	require.Error(t, err)
}

func TestStartFailsClearlyWithoutBinaries(t *testing.T) {
	t.Parallel()
	_, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: tempDir(t), BinDir: t.TempDir()})
	require.ErrorContains(t, err, "initdb")
}

func TestSecondServerOnSameDataDirIsRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := tempDir(t)
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Ephemeral: true})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Stop(ctx)) }()
	_, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Ephemeral: true})
	require.ErrorContains(t, err, "postgres exited during startup")
}
