// Package entitlements decides what a user's tier unlocks. Tiers live only in
// the backend; the feature matrix lives only in the contract (the
// `(hivesync.v1.feature_matrix)` option of entitlement_service.proto).
package entitlements

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// RefreshInterval is how often clients must re-read their entitlement at the
// latest, so a Trial → Pro → Free change shows within 15 minutes (spec).
const RefreshInterval = 15 * time.Minute

// Matrix returns the feature matrix declared in the contract.
func Matrix() []*hivesyncv1.Feature {
	opts, _ := hivesyncv1.File_hivesync_v1_entitlement_service_proto.Options().(*descriptorpb.FileOptions)
	m, _ := proto.GetExtension(opts, hivesyncv1.E_FeatureMatrix).(*hivesyncv1.FeatureMatrix)
	return m.GetFeatures()
}

// Unlocked lists the names of the features tier unlocks.
func Unlocked(tier hivesyncv1.Tier) []string {
	var out []string
	for _, f := range Matrix() {
		if access.TierSatisfies(tier, f.GetMinTier()) {
			out = append(out, f.GetName())
		}
	}
	return out
}

// Service implements EntitlementService.
type Service struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
}

var _ hivesyncv1connect.EntitlementServiceHandler = (*Service)(nil)

// NewService returns the handler.
func NewService(st *store.Store, log *slog.Logger, now func() time.Time) *Service {
	return &Service{store: st, log: log, now: now}
}

// GetEntitlement implements hivesyncv1connect.EntitlementServiceHandler.
func (s *Service) GetEntitlement(ctx context.Context, _ *hivesyncv1.GetEntitlementRequest) (*hivesyncv1.GetEntitlementResponse, error) {
	userID, err := access.CallerUserID(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	resp := &hivesyncv1.GetEntitlementResponse{
		Tier:         hivesyncv1.Tier_TIER_FREE,
		Source:       hivesyncv1.EntitlementSource_ENTITLEMENT_SOURCE_DEFAULT,
		RefreshAfter: timestamppb.New(now.Add(RefreshInterval)),
	}
	row, err := s.store.EntitlementGet(ctx, userID)
	switch {
	case errors.Is(store.MapError(err), store.ErrNotFound):
	case err != nil:
		return nil, apierror.FromDomain(ctx, s.log, err)
	default:
		resp.Tier = EffectiveTier(hivesyncv1.Tier(row.Tier), row.ExpiresAt, now)
		if resp.Tier != hivesyncv1.Tier_TIER_FREE {
			resp.Source = hivesyncv1.EntitlementSource(row.Source)
			if row.ExpiresAt != nil {
				resp.ExpiresAt = timestamppb.New(*row.ExpiresAt)
				if row.ExpiresAt.Before(resp.GetRefreshAfter().AsTime()) {
					resp.RefreshAfter = timestamppb.New(*row.ExpiresAt)
				}
			}
			if row.TrialEndsAt != nil && resp.Tier == hivesyncv1.Tier_TIER_TRIAL {
				resp.TrialEndsAt = timestamppb.New(*row.TrialEndsAt)
			}
		}
	}
	resp.Features = Unlocked(resp.Tier)
	return resp, nil
}

// RegisterPurchase implements hivesyncv1connect.EntitlementServiceHandler.
func (s *Service) RegisterPurchase(ctx context.Context, req *hivesyncv1.RegisterPurchaseRequest) (*hivesyncv1.RegisterPurchaseResponse, error) {
	userID, err := access.CallerUserID(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetPurchaseToken() == "" || len(req.GetPurchaseToken()) > 4096 {
		return nil, apierror.InvalidArgument("purchase_token", "is required (at most 4096 characters)")
	}
	if len(req.GetProductId()) > 200 {
		return nil, apierror.InvalidArgument("product_id", "is at most 200 characters")
	}
	err = s.store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		sub, err := q.StoreSubscriptionClaim(ctx, dbgen.StoreSubscriptionClaimParams{Store: "play", SubscriptionID: req.GetPurchaseToken(), UserID: &userID, ProductID: req.GetProductId()})
		if err != nil {
			return err
		}
		if sub.UserID == nil || *sub.UserID != userID {
			return ErrPurchaseTaken
		}
		if sub.LastSignedAt.After(time.Unix(0, 0)) {
			// The store's notification arrived first: apply it now.
			return Recompute(ctx, q, userID, s.now())
		}
		return nil
	})
	if errors.Is(err, ErrPurchaseTaken) {
		return nil, connect.NewError(connect.CodePermissionDenied, err)
	}
	if err != nil {
		return nil, apierror.FromDomain(ctx, s.log, err)
	}
	ent, err := s.GetEntitlement(ctx, &hivesyncv1.GetEntitlementRequest{})
	if err != nil {
		return nil, err
	}
	return &hivesyncv1.RegisterPurchaseResponse{Entitlement: ent}, nil
}

// ListFeatures implements hivesyncv1connect.EntitlementServiceHandler.
func (s *Service) ListFeatures(context.Context, *hivesyncv1.ListFeaturesRequest) (*hivesyncv1.ListFeaturesResponse, error) {
	return &hivesyncv1.ListFeaturesResponse{Features: Matrix()}, nil
}

// EffectiveTier is the tier in force at now: only Trial and Pro are paid
// states, and either lapses to Free at its expiry, even before the periodic
// job records the change.
func EffectiveTier(t hivesyncv1.Tier, expiresAt *time.Time, now time.Time) hivesyncv1.Tier {
	if t != hivesyncv1.Tier_TIER_TRIAL && t != hivesyncv1.Tier_TIER_PRO {
		return hivesyncv1.Tier_TIER_FREE
	}
	if expiresAt != nil && !now.Before(*expiresAt) {
		return hivesyncv1.Tier_TIER_FREE
	}
	return t
}
