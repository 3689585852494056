package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/server/app"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := app.LoadConfig(app.ModeDev, env(nil))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", cfg.HTTPAddr)
	require.Equal(t, ".hivesync", cfg.DataDir)
	require.Equal(t, "http://127.0.0.1:8080", cfg.PublicURL)
	require.Equal(t, "ws://127.0.0.1:8080/api/v1/ws", cfg.PublicWSURL)
	require.EqualValues(t, 5_000_000, cfg.MaxSingleFileSizeBytes)
	require.EqualValues(t, 500_000_000, cfg.MaxProjectStorageBytes)
	require.Equal(t, []string{"openai", "anthropic", "local"}, cfg.AIProviderOrder)
	require.Equal(t, 60*time.Second, cfg.PreviewBuildTimeout)
	require.Equal(t, 30*time.Second, cfg.AITimeout)
	require.Equal(t, 2, cfg.WorkerConcurrency)
	require.Equal(t, 120*time.Second, cfg.DriftWarningThreshold)

	serve, err := app.LoadConfig(app.ModeServe, env(map[string]string{"HIVESYNC_DATABASE_URL": "postgres://x/y"}))
	require.NoError(t, err)
	require.Equal(t, ":8080", serve.HTTPAddr, "serve listens on all interfaces")
	require.Equal(t, "http://localhost:8080", serve.PublicURL)
}

func TestLoadConfigOverrides(t *testing.T) {
	t.Parallel()
	cfg, err := app.LoadConfig(app.ModeServe, env(map[string]string{
		"HIVESYNC_DATABASE_URL":               "postgres://x/y",
		"HIVESYNC_PUBLIC_URL":                 "https://api.hivesync.net/",
		"HIVESYNC_MAX_SINGLE_FILE_SIZE_BYTES": "1_000",
		"HIVESYNC_AI_PROVIDER_ORDER":          `["anthropic", "openai"]`,
		"HIVESYNC_AI_TIMEOUT":                 "15s",
	}))
	require.NoError(t, err)
	require.Equal(t, "https://api.hivesync.net", cfg.PublicURL)
	require.Equal(t, "wss://api.hivesync.net/api/v1/ws", cfg.PublicWSURL)
	require.EqualValues(t, 1000, cfg.MaxSingleFileSizeBytes)
	require.Equal(t, []string{"anthropic", "openai"}, cfg.AIProviderOrder)
	require.Equal(t, 15*time.Second, cfg.AITimeout)
}

func TestLoadConfigRejectsBadValuesNamingTheVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]map[string]string{
		"HIVESYNC_MAX_SINGLE_FILE_SIZE_BYTES":      {"HIVESYNC_MAX_SINGLE_FILE_SIZE_BYTES": "5MB"},
		"HIVESYNC_HTTP_ADDR":                       {"HIVESYNC_HTTP_ADDR": "8080"},
		"HIVESYNC_AI_TIMEOUT":                      {"HIVESYNC_AI_TIMEOUT": "-1s"},
		"HIVESYNC_LOG_LEVEL":                       {"HIVESYNC_LOG_LEVEL": "loud"},
		"HIVESYNC_AI_PROVIDER_ORDER":               {"HIVESYNC_AI_PROVIDER_ORDER": "openai,skynet"},
		"HIVESYNC_PUBLIC_URL":                      {"HIVESYNC_PUBLIC_URL": "api.hivesync.net"},
		"HIVESYNC_WORKER_CONCURRENCY":              {"HIVESYNC_WORKER_CONCURRENCY": "0"},
		"HIVESYNC_CURRENT_PLUGIN_PROTOCOL_VERSION": {"HIVESYNC_MIN_PLUGIN_PROTOCOL_VERSION": "3", "HIVESYNC_CURRENT_PLUGIN_PROTOCOL_VERSION": "2"},
	}
	for name, vars := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := app.LoadConfig(app.ModeDev, env(vars))
			require.ErrorContains(t, err, name)
		})
	}
	_, err := app.LoadConfig(app.ModeServe, env(nil))
	require.ErrorContains(t, err, "HIVESYNC_DATABASE_URL", "only dev starts its own database")
}

func TestConfigHash(t *testing.T) {
	t.Parallel()
	base := map[string]string{"HIVESYNC_DATABASE_URL": "postgres://a/b", "HIVESYNC_LOG_HASH_SALT": "s1", "HIVESYNC_NODE_ID": "n1",
		"HIVESYNC_PUBLIC_URL": "https://api.hivesync.net"}
	a, err := app.LoadConfig(app.ModeServe, env(base))
	require.NoError(t, err)

	other := map[string]string{"HIVESYNC_DATABASE_URL": "postgres://secret/c", "HIVESYNC_LOG_HASH_SALT": "s2", "HIVESYNC_NODE_ID": "n2", "HIVESYNC_HTTP_ADDR": ":9090",
		"HIVESYNC_PUBLIC_URL": "https://api.hivesync.net"}
	b, err := app.LoadConfig(app.ModeServe, env(other))
	require.NoError(t, err)
	require.Equal(t, a.Hash(), b.Hash(), "secrets and per-node settings stay out of the hash")
	for _, kv := range a.Effective() {
		require.NotEqual(t, "HIVESYNC_DATABASE_URL", kv[0])
		require.NotEqual(t, "HIVESYNC_LOG_HASH_SALT", kv[0])
	}

	base["HIVESYNC_MAX_SINGLE_FILE_SIZE_BYTES"] = "10"
	c, err := app.LoadConfig(app.ModeServe, env(base))
	require.NoError(t, err)
	require.NotEqual(t, a.Hash(), c.Hash(), "a differing limit is a misconfiguration the hash reveals")
}

func TestUnknownVariables(t *testing.T) {
	t.Parallel()
	cfg, err := app.LoadConfig(app.ModeDev, env(nil))
	require.NoError(t, err)
	got := cfg.UnknownVariables([]string{"HIVESYNC_HTTP_ADDR=x", "HIVESYNC_MAX_FILE=1", "PATH=/bin", "HIVESYNC_AAA=1"})
	require.Equal(t, []string{"HIVESYNC_AAA", "HIVESYNC_MAX_FILE"}, got)
}

func TestDurationBucket(t *testing.T) {
	t.Parallel()
	require.Equal(t, "<10ms", app.DurationBucket(time.Millisecond))
	require.Equal(t, "10-50ms", app.DurationBucket(20*time.Millisecond))
	require.Equal(t, "50-250ms", app.DurationBucket(100*time.Millisecond))
	require.Equal(t, "250ms-1s", app.DurationBucket(500*time.Millisecond))
	require.Equal(t, "1-5s", app.DurationBucket(2*time.Second))
	require.Equal(t, ">=5s", app.DurationBucket(time.Minute))
}

func TestHashUserID(t *testing.T) {
	t.Parallel()
	h := app.HashUserID("salt", "user-1")
	require.Len(t, h, 16)
	require.NotContains(t, h, "user-1")
	require.Equal(t, h, app.HashUserID("salt", "user-1"))
	require.NotEqual(t, h, app.HashUserID("other", "user-1"))
}
