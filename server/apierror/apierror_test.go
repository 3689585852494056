package apierror_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/store"
)

func TestFromDomain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))

	require.NoError(t, apierror.FromDomain(ctx, log, nil))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(apierror.FromDomain(ctx, log, fmt.Errorf("get: %w", store.ErrNotFound))))
	require.Equal(t, connect.CodeAborted, connect.CodeOf(apierror.FromDomain(ctx, log, store.ErrConflict)))
	require.Equal(t, connect.CodeDeadlineExceeded, connect.CodeOf(apierror.FromDomain(ctx, log, context.DeadlineExceeded)))
	require.Equal(t, connect.CodeCanceled, connect.CodeOf(apierror.FromDomain(ctx, log, context.Canceled)))
	typed := apierror.InvalidArgument("path", "must be relative")
	require.Equal(t, typed, apierror.FromDomain(ctx, log, typed), "typed errors pass through")

	// Anything else is Internal; the cause is logged, never returned.
	err := apierror.FromDomain(ctx, log, errors.New("pq: password=hunter2 rejected"))
	require.Equal(t, connect.CodeInternal, connect.CodeOf(err))
	require.NotContains(t, err.Error(), "hunter2")
	require.Contains(t, logs.String(), "error_id")
}

func TestTypedErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  *connect.Error
		code connect.Code
	}{
		{apierror.Conflict(&hivesyncv1.Conflict{FileId: "f"}), connect.CodeAborted},
		{apierror.PayloadTooLarge(&hivesyncv1.LimitExceeded{Limit: hivesyncv1.Limit_LIMIT_SINGLE_FILE_SIZE}), connect.CodeInvalidArgument},
		{apierror.QuotaExceeded(&hivesyncv1.LimitExceeded{Limit: hivesyncv1.Limit_LIMIT_PROJECT_STORAGE}), connect.CodeResourceExhausted},
		{apierror.RateLimited(&hivesyncv1.RateLimited{RetryAfter: durationpb.New(0), Bucket: "auth"}), connect.CodeResourceExhausted},
		{apierror.EntitlementRequired(&hivesyncv1.EntitlementRequired{Feature: "ai_docs"}), connect.CodePermissionDenied},
		{apierror.UpgradeRequired(&hivesyncv1.UpgradeRequired{}), connect.CodeFailedPrecondition},
	}
	for _, tc := range cases {
		require.Equal(t, tc.code, tc.err.Code())
		require.Len(t, tc.err.Details(), 1, "exactly one typed detail")
		_, err := tc.err.Details()[0].Value()
		require.NoError(t, err)
	}
}
