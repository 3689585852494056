package app

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
)

func TestRequestTimeoutCancelsSlowHandlers(t *testing.T) {
	t.Parallel()
	slow := connect.UnaryFunc(func(ctx context.Context, _ connect.AnyRequest) (connect.AnyResponse, error) {
		_, ok := ctx.Deadline()
		require.True(t, ok, "the handler sees a deadline")
		<-ctx.Done()
		return nil, ctx.Err()
	})
	wrapped := requestTimeout(10 * time.Millisecond).WrapUnary(slow)
	_, err := wrapped(context.Background(), connect.NewRequest(&struct{}{}))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
