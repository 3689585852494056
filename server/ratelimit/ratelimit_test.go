package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/server/ratelimit"
)

func TestParseLimit(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.ParseLimit("30/min")
	require.NoError(t, err)
	require.Equal(t, ratelimit.Limit{Burst: 30, Per: time.Minute}, l)
	for _, bad := range []string{"", "30", "x/min", "0/s", "5/week"} {
		_, err := ratelimit.ParseLimit(bad)
		require.Error(t, err, bad)
	}
}

func TestMemoryLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	m := ratelimit.NewMemory(map[string]ratelimit.Limit{"auth": {Burst: 3, Per: time.Minute}}, func() time.Time { return now })
	ctx := context.Background()
	for range 3 {
		ok, _, err := m.Allow(ctx, "auth", "ip:1")
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, retry, err := m.Allow(ctx, "auth", "ip:1")
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, 20*time.Second, retry, "one token refills every minute/3")

	ok, _, _ = m.Allow(ctx, "auth", "ip:2")
	require.True(t, ok, "keys are independent")
	ok, _, _ = m.Allow(ctx, "other", "ip:1")
	require.True(t, ok, "unconfigured buckets are unlimited")

	now = now.Add(20 * time.Second)
	ok, _, _ = m.Allow(ctx, "auth", "ip:1")
	require.True(t, ok, "refilled")
	ok, _, _ = m.Allow(ctx, "auth", "ip:1")
	require.False(t, ok, "a refused request does not consume a token, but none is left")

	// Idle keys are forgotten: memory is bounded by active callers.
	now = now.Add(2 * time.Minute)
	_, _, _ = m.Allow(ctx, "auth", "ip:3")
	require.Equal(t, 1, m.Size())
}
