package entitlements_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/entitlements"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestFeatureMatrixIsTheOneSourceOfGates(t *testing.T) {
	t.Parallel()
	matrix := map[string]*hivesyncv1.Feature{}
	for _, f := range entitlements.Matrix() {
		require.NotContains(t, matrix, f.GetName(), "duplicate feature")
		require.NotEmpty(t, f.GetTitle())
		require.Contains(t, []hivesyncv1.Tier{hivesyncv1.Tier_TIER_FREE, hivesyncv1.Tier_TIER_PRO}, f.GetMinTier(), f.GetName())
		matrix[f.GetName()] = f
	}
	for _, pro := range []string{"ai_docs", "github_branching", "github_auto_push", "offline_snapshots", "offline_extended_history", "ai_docs_github_over_500_lines"} {
		require.Equal(t, hivesyncv1.Tier_TIER_PRO, matrix[pro].GetMinTier(), pro)
	}
	// Every gated RPC names a feature of the matrix with the same tier.
	protoregistry.GlobalFiles.RangeFilesByPackage("hivesync.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			methods := f.Services().Get(i).Methods()
			for j := range methods.Len() {
				rule, _ := access.RuleOf(methods.Get(j))
				if rule.GetFeature() == "" && rule.GetMinTier() == hivesyncv1.Tier_TIER_UNSPECIFIED {
					continue
				}
				feature, ok := matrix[rule.GetFeature()]
				require.Truef(t, ok, "%s names feature %q, which the matrix lacks", methods.Get(j).FullName(), rule.GetFeature())
				require.Equal(t, feature.GetMinTier(), rule.GetMinTier(), methods.Get(j).FullName())
			}
		}
		return true
	})
}

func TestGetEntitlement(t *testing.T) {
	t.Parallel()
	st := storetest.Store(t)
	now := time.Now()
	svc := entitlements.NewService(st, slog.New(slog.DiscardHandler), func() time.Time { return now })
	ctx := context.Background()
	as := func(u dbgen.User) context.Context {
		return access.WithPrincipal(ctx, &access.Principal{UserID: u.ID.String()})
	}
	mk := func(email string) dbgen.User {
		u, err := st.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: email})
		require.NoError(t, err)
		return u
	}

	free := mk("free@e.test")
	resp, err := svc.GetEntitlement(as(free), &hivesyncv1.GetEntitlementRequest{})
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, resp.GetTier())
	require.Equal(t, hivesyncv1.EntitlementSource_ENTITLEMENT_SOURCE_DEFAULT, resp.GetSource())
	require.Contains(t, resp.GetFeatures(), "file_sync")
	require.NotContains(t, resp.GetFeatures(), "ai_docs")
	require.Equal(t, now.Add(entitlements.RefreshInterval).Unix(), resp.GetRefreshAfter().AsTime().Unix())

	trial := mk("trial@e.test")
	ends := now.Add(5 * time.Minute)
	_, err = st.EntitlementSet(ctx, dbgen.EntitlementSetParams{UserID: trial.ID, Tier: int16(hivesyncv1.Tier_TIER_TRIAL),
		Source: int16(hivesyncv1.EntitlementSource_ENTITLEMENT_SOURCE_APP_STORE), ExpiresAt: &ends, TrialEndsAt: &ends})
	require.NoError(t, err)
	resp, err = svc.GetEntitlement(as(trial), &hivesyncv1.GetEntitlementRequest{})
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.Tier_TIER_TRIAL, resp.GetTier())
	require.Contains(t, resp.GetFeatures(), "ai_docs", "a trial unlocks Pro features")
	require.Equal(t, ends.Unix(), resp.GetTrialEndsAt().AsTime().Unix())
	require.Equal(t, ends.Unix(), resp.GetRefreshAfter().AsTime().Unix(), "ask again when the trial ends, not 15 minutes later")

	lapsed := mk("lapsed@e.test")
	before := now.Add(-time.Second)
	_, err = st.EntitlementSet(ctx, dbgen.EntitlementSetParams{UserID: lapsed.ID, Tier: int16(hivesyncv1.Tier_TIER_PRO),
		Source: int16(hivesyncv1.EntitlementSource_ENTITLEMENT_SOURCE_PLAY_STORE), ExpiresAt: &before})
	require.NoError(t, err)
	resp, err = svc.GetEntitlement(as(lapsed), &hivesyncv1.GetEntitlementRequest{})
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, resp.GetTier(), "an expired subscription is Free")
	require.NotContains(t, resp.GetFeatures(), "ai_docs")

	_, err = svc.GetEntitlement(ctx, &hivesyncv1.GetEntitlementRequest{})
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))

	features, err := svc.ListFeatures(ctx, &hivesyncv1.ListFeaturesRequest{})
	require.NoError(t, err)
	require.Len(t, features.GetFeatures(), len(entitlements.Matrix()))
}

func TestEffectiveTier(t *testing.T) {
	t.Parallel()
	now := time.Now()
	later, earlier := now.Add(time.Minute), now.Add(-time.Minute)
	require.Equal(t, hivesyncv1.Tier_TIER_PRO, entitlements.EffectiveTier(hivesyncv1.Tier_TIER_PRO, nil, now))
	require.Equal(t, hivesyncv1.Tier_TIER_PRO, entitlements.EffectiveTier(hivesyncv1.Tier_TIER_PRO, &later, now))
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, entitlements.EffectiveTier(hivesyncv1.Tier_TIER_PRO, &earlier, now))
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, entitlements.EffectiveTier(hivesyncv1.Tier(42), nil, now), "unknown tiers fail closed")
}
