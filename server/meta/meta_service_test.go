package meta_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/meta"
)

func setup(t *testing.T, now time.Time) *meta.Service {
	t.Helper()
	svc, err := meta.New(meta.Options{
		ServerVersion: "1.2.3",
		Versions:      access.VersionPolicy{MinPluginProtocol: 2, CurrentPluginProtocol: 3, MinClient: 4, UpgradeURL: "https://dl.test"},
		Bootstrap: func(context.Context) (*hivesyncv1.BootstrapConfig, error) {
			return &hivesyncv1.BootstrapConfig{ApiBase: "https://api.test"}, nil
		},
		DriftWarningThreshold: 2 * time.Minute,
		Now:                   func() time.Time { return now },
	})
	require.NoError(t, err)
	return svc
}

func TestEventSchemaCoversEveryPayload(t *testing.T) {
	t.Parallel()
	schema, err := meta.EventSchema()
	require.NoError(t, err)
	payload := (&hivesyncv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("payload")
	require.Len(t, schema.GetEventTypes(), payload.Fields().Len(), "one event type per payload field")
	seen := map[string]bool{}
	for _, et := range schema.GetEventTypes() {
		require.False(t, seen[et.GetSpec().GetEventType()], "duplicate %s", et.GetSpec().GetEventType())
		seen[et.GetSpec().GetEventType()] = true
		require.NotEmpty(t, et.GetSpec().GetSummary(), et.GetPayloadField())
	}
	// The descriptors are a complete, self-contained set a client can load.
	files, err := protodesc.NewFiles(schema.GetDescriptors())
	require.NoError(t, err)
	d, err := files.FindDescriptorByName("hivesync.v1.SaveFileEvent")
	require.NoError(t, err)
	require.Equal(t, "SaveFileEvent", string(d.Name()))
}

func TestGetServerTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	svc := setup(t, now)
	ctx := context.Background()

	resp, err := svc.GetServerTime(ctx, &hivesyncv1.GetServerTimeRequest{})
	require.NoError(t, err)
	require.Equal(t, now, resp.GetServerTime().AsTime())
	require.Nil(t, resp.GetDrift(), "no client time, no drift")
	require.Equal(t, 2*time.Minute, resp.GetDriftWarningThreshold().AsDuration())

	resp, err = svc.GetServerTime(ctx, &hivesyncv1.GetServerTimeRequest{ClientTime: timestamppb.New(now.Add(-3 * time.Minute))})
	require.NoError(t, err)
	require.Equal(t, 3*time.Minute, resp.GetDrift().AsDuration(), "a client 3 minutes behind")

	_, err = svc.GetServerTime(ctx, &hivesyncv1.GetServerTimeRequest{ClientTime: &timestamppb.Timestamp{Seconds: 1, Nanos: -5}})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
}

func TestGetCompatibility(t *testing.T) {
	t.Parallel()
	svc := setup(t, time.Now())
	resp, err := svc.GetCompatibility(context.Background(), &hivesyncv1.GetCompatibilityRequest{ClientVersion: 4})
	require.NoError(t, err)
	require.Equal(t, "1.2.3", resp.GetServerVersion())
	require.Zero(t, resp.GetPluginProtocolVersion(), "no header was sent")
	require.False(t, resp.GetUpgradeRecommended())

	_, err = svc.GetCompatibility(context.Background(), &hivesyncv1.GetCompatibilityRequest{ClientVersion: 3})
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))
}

func TestGetBootstrapConfig(t *testing.T) {
	t.Parallel()
	resp, err := setup(t, time.Now()).GetBootstrapConfig(context.Background(), &hivesyncv1.GetBootstrapConfigRequest{})
	require.NoError(t, err)
	require.Equal(t, "https://api.test", resp.GetConfig().GetApiBase())
}
