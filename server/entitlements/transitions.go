package entitlements

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"google.golang.org/protobuf/types/known/timestamppb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// Change is a new entitlement state for a user.
type Change struct {
	UserID      uuid.UUID
	Tier        hivesyncv1.Tier
	Source      hivesyncv1.EntitlementSource
	ExpiresAt   *time.Time
	TrialEndsAt *time.Time
}

// Apply records c in q's transaction and, when the tier or its expiry
// changed, appends an entitlement.updated event on the user's channel.
func Apply(ctx context.Context, q dbgen.Querier, c Change, now time.Time) error {
	before, err := q.EntitlementGet(ctx, c.UserID)
	changed := true
	switch {
	case err == nil:
		changed = hivesyncv1.Tier(before.Tier) != c.Tier || !sameTime(before.ExpiresAt, c.ExpiresAt)
	case !errors.Is(store.MapError(err), store.ErrNotFound):
		return fmt.Errorf("load entitlement: %w", err)
	}
	if _, err := q.EntitlementSet(ctx, dbgen.EntitlementSetParams{
		UserID: c.UserID, Tier: int16(c.Tier), Source: int16(c.Source), ExpiresAt: c.ExpiresAt, TrialEndsAt: c.TrialEndsAt,
	}); err != nil {
		return fmt.Errorf("store entitlement: %w", err)
	}
	if !changed {
		return nil
	}
	return announce(ctx, q, c.UserID, c.Tier, c.ExpiresAt, now)
}

func announce(ctx context.Context, q dbgen.Querier, userID uuid.UUID, tier hivesyncv1.Tier, expiresAt *time.Time, now time.Time) error {
	payload := &hivesyncv1.EntitlementUpdatedEvent{Tier: tier}
	if expiresAt != nil {
		payload.ExpiresAt = timestamppb.New(*expiresAt)
	}
	_, err := events.Append(ctx, q, events.UserChannel(userID.String()),
		&hivesyncv1.Event{Payload: &hivesyncv1.Event_EntitlementUpdated{EntitlementUpdated: payload}}, now)
	return err
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// Recompute sets the user's entitlement from all their store subscriptions
// in force (the best tier wins), under a lock on the user so concurrent
// notifications apply one after the other.
func Recompute(ctx context.Context, q dbgen.Querier, userID uuid.UUID, now time.Time) error {
	if err := q.UserLockForEntitlement(ctx, userID); err != nil {
		return fmt.Errorf("lock user: %w", err)
	}
	best, err := q.StoreSubscriptionBest(ctx, dbgen.StoreSubscriptionBestParams{UserID: &userID, Now: now})
	if errors.Is(store.MapError(err), store.ErrNotFound) {
		return Apply(ctx, q, Change{UserID: userID, Tier: hivesyncv1.Tier_TIER_FREE, Source: hivesyncv1.EntitlementSource_ENTITLEMENT_SOURCE_DEFAULT}, now)
	}
	if err != nil {
		return fmt.Errorf("load subscriptions: %w", err)
	}
	c := Change{UserID: userID, Tier: hivesyncv1.Tier(best.Tier), ExpiresAt: best.ExpiresAt, Source: hivesyncv1.EntitlementSource_ENTITLEMENT_SOURCE_APP_STORE}
	if best.Store == "play" {
		c.Source = hivesyncv1.EntitlementSource_ENTITLEMENT_SOURCE_PLAY_STORE
	}
	if c.Tier == hivesyncv1.Tier_TIER_TRIAL {
		c.TrialEndsAt = best.ExpiresAt
	}
	return Apply(ctx, q, c, now)
}

// ExpireArgs is the periodic River job that lapses expired trials and
// subscriptions to Free (the spec's "within 15 minutes"), announcing each.
type ExpireArgs struct{}

// Kind implements river.JobArgs.
func (ExpireArgs) Kind() string { return "entitlements.expire" }

// ExpireWorker works ExpireArgs.
type ExpireWorker struct {
	river.WorkerDefaults[ExpireArgs]
	Store *store.Store
	Now   func() time.Time
	Log   *slog.Logger
}

// Work implements river.Worker: one transaction for the lapse and its events.
func (w *ExpireWorker) Work(ctx context.Context, _ *river.Job[ExpireArgs]) error {
	now := w.Now()
	return w.Store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		users, err := q.EntitlementExpireDue(ctx, now)
		if err != nil {
			return fmt.Errorf("expire entitlements: %w", err)
		}
		for _, u := range users {
			if err := Recompute(ctx, q, u, now); err != nil {
				return err
			}
		}
		if len(users) > 0 {
			w.Log.InfoContext(ctx, "expired entitlements recomputed", slog.Int("count", len(users)))
		}
		return nil
	})
}

// ExpireEvery is how often the job runs: well inside the spec's 15 minutes.
const ExpireEvery = 5 * time.Minute
