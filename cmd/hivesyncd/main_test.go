package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/store/storetest"
)

// childCommand, when set, makes the test binary run hivesyncd with these
// arguments instead of the tests, so a test can start real server processes
// (and kill them).
const childCommand = "HIVESYNCD_TEST_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(childCommand); args != "" {
		os.Args = append([]string{"hivesyncd"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	storetest.Main(m)
}

// syncBuffer is a bytes.Buffer safe to read while the server writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestTokenCreate(t *testing.T) {
	t.Setenv("HIVESYNC_DATABASE_URL", storetest.URL(t))
	ctx := context.Background()
	var out, errOut bytes.Buffer
	require.NoError(t, run(ctx, []string{"token", "create", "--user", "ops@example.com", "--admin"}, &out, &errOut), errOut.String())
	var pair map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &pair))
	require.Equal(t, "user read admin", pair["scope"])
	require.NotEmpty(t, pair["refresh_token"])

	out.Reset()
	require.NoError(t, run(ctx, []string{"token", "create", "--user", "ops@example.com", "--client", "cli", "--scopes", "plugin,read"}, &out, &errOut))
	require.NoError(t, json.Unmarshal(out.Bytes(), &pair))
	require.Equal(t, "plugin read", pair["scope"])

	// The sole admin's recovery: a one-time link printed on the server.
	out.Reset()
	require.NoError(t, run(ctx, []string{"admin", "login-link", "--user", "ops@example.com"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "/auth/login-link#token=")
	require.Error(t, run(ctx, []string{"admin", "login-link", "--user", "ghost@example.com"}, &out, &errOut))
	require.Error(t, run(ctx, []string{"admin"}, &out, &errOut))

	for _, args := range [][]string{
		{"token"},
		{"token", "create", "--user", "not-an-email"},
		{"token", "create", "--user", "a@b.c", "--client", "toaster"},
		{"token", "create", "--user", "a@b.c", "--scopes", "root"},
		{"token", "create", "--user", "a@b.c", "--client", "vscode", "--scopes", "admin"},
		{"token", "create", "--user", "nobody@example.com", "--client", "admin", "--scopes", "admin"},
	} {
		require.Error(t, run(ctx, args, &out, &errOut), "%v", args)
	}
}

func TestCommands(t *testing.T) {
	ctx := context.Background()
	var out, errOut bytes.Buffer
	require.NoError(t, run(ctx, []string{"version"}, &out, &errOut))
	require.NotEmpty(t, strings.TrimSpace(out.String()))

	out.Reset()
	require.NoError(t, run(ctx, []string{"help"}, &out, &errOut))
	require.Contains(t, out.String(), "usage: hivesyncd")

	require.ErrorContains(t, run(ctx, []string{"frobnicate"}, &out, &errOut), `unknown command "frobnicate"`)
	require.ErrorContains(t, run(ctx, nil, &out, &errOut), "no command")

	t.Setenv("HIVESYNC_DATABASE_URL", "")
	require.ErrorContains(t, run(ctx, []string{"serve"}, &out, &errOut), "HIVESYNC_DATABASE_URL")
	t.Setenv("HIVESYNC_LOG_LEVEL", "shout")
	require.ErrorContains(t, run(ctx, []string{"dev"}, &out, &errOut), "HIVESYNC_LOG_LEVEL")
}

func TestMigrateThenServe(t *testing.T) {
	url := storetest.EmptyURL(t)
	t.Setenv("HIVESYNC_DATABASE_URL", url)
	t.Setenv("HIVESYNC_HTTP_ADDR", "127.0.0.1:0")
	ctx := context.Background()
	var out, errOut syncBuffer

	// serve refuses a database that was never migrated.
	err := run(ctx, []string{"serve"}, &out, &errOut)
	require.ErrorContains(t, err, "hivesyncd migrate")

	require.NoError(t, run(ctx, []string{"migrate"}, &out, &errOut))
	require.Contains(t, out.String(), "database migrated")
	require.NoError(t, run(ctx, []string{"migrate"}, &out, &errOut), "migrate is idempotent")

	// Now serve starts, and stops cleanly when its context ends.
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(sctx, []string{"serve"}, &out, &errOut) }()
	require.Eventually(t, func() bool { return strings.Contains(errOut.String(), "hivesync serving") }, 30*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

var baseURLPattern = regexp.MustCompile(`REST:\s+(http://[0-9.:]+)/api`)

// TestDevIsZeroConfigAndKeepsData runs `hivesyncd dev` twice on one data
// directory: each run starts its own Postgres, serves, and shuts everything
// down on cancel; data written in the first run is there in the second.
func TestDevIsZeroConfigAndKeepsData(t *testing.T) {
	dataDir, err := os.MkdirTemp("", "hivesyncd-dev-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dataDir) })
	t.Setenv("HIVESYNC_DATABASE_URL", "")
	t.Setenv("HIVESYNC_DATA_DIR", dataDir)
	t.Setenv("HIVESYNC_HTTP_ADDR", "127.0.0.1:0")

	devRun := func(check func(base string)) {
		var out, errOut syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"dev"}, &out, &errOut) }()
		var base string
		defer func() {
			if t.Failed() {
				t.Logf("dev stdout:\n%s\ndev stderr:\n%s", out.String(), errOut.String())
			}
		}()
		deadline := time.Now().Add(90 * time.Second)
		for base == "" {
			select {
			case err := <-done:
				t.Fatalf("dev exited early: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
			if m := baseURLPattern.FindStringSubmatch(out.String()); m != nil {
				base = m[1]
			}
			require.True(t, time.Now().Before(deadline), "dev never printed its URLs")
		}
		require.Eventually(t, func() bool {
			resp, err := http.Get(base + "/health/ready")
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, 30*time.Second, 20*time.Millisecond)
		check(base)
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(60 * time.Second):
			t.Fatal("dev did not shut down")
		}
		require.Contains(t, errOut.String(), "private postgres stopped", "postgres is stopped, not orphaned")
	}

	dbURL := func() string {
		pw, err := os.ReadFile(filepath.Join(dataDir, "postgres", "superuser.password"))
		require.NoError(t, err)
		pid, err := os.ReadFile(filepath.Join(dataDir, "postgres", "pgdata", "postmaster.pid"))
		require.NoError(t, err)
		port := strings.Split(string(pid), "\n")[3]
		return "postgres://postgres:" + strings.TrimSpace(string(pw)) + "@127.0.0.1:" + strings.TrimSpace(port) + "/hivesync?sslmode=disable"
	}
	ctx := context.Background()
	devRun(func(string) {
		conn, err := pgx.Connect(ctx, dbURL())
		require.NoError(t, err)
		_, err = conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
		require.NoError(t, err)
		require.NoError(t, conn.Close(ctx))
	})
	_, err = os.Stat(filepath.Join(dataDir, "postgres", "pgdata", "postmaster.pid"))
	require.True(t, os.IsNotExist(err), "postgres removed its pid file: it shut down cleanly")

	devRun(func(base string) {
		// `token create` attaches to the running dev database and mints a
		// token this server accepts.
		var tok, tokErr bytes.Buffer
		require.NoError(t, run(ctx, []string{"token", "create", "--user", "dev@example.com", "--client", "vscode"}, &tok, &tokErr), tokErr.String())
		var pair struct {
			AccessToken string `json:"access_token"`
			Scope       string `json:"scope"`
		}
		require.NoError(t, json.Unmarshal(tok.Bytes(), &pair))
		require.Equal(t, "plugin read write live", pair.Scope)
		req, err := http.NewRequest(http.MethodGet, base+"/api/v1/me", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
		me, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(me.Body)
		_ = me.Body.Close()
		require.Equal(t, http.StatusOK, me.StatusCode, string(body))
		require.Contains(t, string(body), "dev@example.com")

		resp, err := http.Get(base + "/healthz")
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		conn, err := pgx.Connect(ctx, dbURL())
		require.NoError(t, err)
		defer func() { _ = conn.Close(ctx) }()
		var v string
		require.NoError(t, conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v))
		require.Equal(t, "still here", v)
	})
}
