package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivesync/hivesync/server/ratelimit"
	"github.com/hivesync/hivesync/server/ratelimit/redistest"
)

func TestRedisLimiterIsSharedAcrossNodes(t *testing.T) {
	t.Parallel()
	url := redistest.Start(t)
	ctx := context.Background()
	limits := map[string]ratelimit.Limit{"auth": {Burst: 3, Per: time.Minute}}
	nodeA, clientA, err := ratelimit.NewRedis(ctx, url, limits)
	require.NoError(t, err)
	t.Cleanup(func() { _ = clientA.Close() })
	nodeB, clientB, err := ratelimit.NewRedis(ctx, url, limits)
	require.NoError(t, err)
	t.Cleanup(func() { _ = clientB.Close() })

	for _, node := range []ratelimit.Limiter{nodeA, nodeB, nodeA} {
		ok, _, err := node.Allow(ctx, "auth", "ip:9")
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, retry, err := nodeB.Allow(ctx, "auth", "ip:9")
	require.NoError(t, err)
	require.False(t, ok, "the fourth request is refused whichever node it reaches")
	require.Positive(t, retry)
	ok, _, _ = nodeA.Allow(ctx, "other", "ip:9")
	require.True(t, ok)

	_, _, err = ratelimit.NewRedis(ctx, "redis://127.0.0.1:1/0", limits)
	require.Error(t, err)
}
