package entitlements

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// PlayOptions configure Google Play Real-Time Developer Notifications,
// delivered by a Cloud Pub/Sub push subscription with OIDC authentication.
type PlayOptions struct {
	// PackageName is the Android app's package; other packages are refused.
	PackageName string
	// Issuer signs the push tokens ("https://accounts.google.com").
	Issuer string
	// Audience is the push subscription's configured audience.
	Audience string
	// ServiceAccount is the email the push tokens must be issued for.
	ServiceAccount string
	// RenewalGrace is how long a purchase or renewal keeps Pro without a
	// newer notification (Play's notifications carry no expiry).
	RenewalGrace time.Duration
}

// PlayWebhook receives RTDN pushes at POST /api/v1/webhooks/play.
type PlayWebhook struct {
	Options PlayOptions
	Store   *store.Store
	Now     func() time.Time
	Log     *slog.Logger

	once     sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// Play subscription notification types (RTDN).
const (
	playRecovered = 1
	playRenewed   = 2
	playPurchased = 4
	playOnHold    = 5
	playRestarted = 7
	playPaused    = 10
	playRevoked   = 12
	playExpired   = 13
)

func (h *PlayWebhook) pushVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	h.once.Lock()
	defer h.once.Unlock()
	if h.verifier != nil {
		return h.verifier, nil
	}
	base := oidc.ClientContext(context.WithoutCancel(ctx), &http.Client{Timeout: 10 * time.Second})
	p, err := oidc.NewProvider(base, h.Options.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover push token issuer: %w", err)
	}
	h.verifier = p.Verifier(&oidc.Config{ClientID: h.Options.Audience, SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256}, Now: h.Now})
	return h.verifier, nil
}

// ServeHTTP implements the push endpoint. Pub/Sub retries on non-2xx, so
// untrusted pushes get 401/400 and verified ones 200 (replays as no-ops).
func (h *PlayWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Options.PackageName == "" || h.Options.Audience == "" || h.Options.ServiceAccount == "" {
		http.Error(w, "Google Play notifications are not configured (HIVESYNC_PLAY_*)", http.StatusServiceUnavailable)
		return
	}
	ctx := r.Context()
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		http.Error(w, "missing push token", http.StatusUnauthorized)
		return
	}
	v, err := h.pushVerifier(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "play push verifier", slog.String("error", err.Error()))
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	idt, err := v.Verify(ctx, token)
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	if err == nil {
		err = idt.Claims(&claims)
	}
	if err != nil || claims.Email != h.Options.ServiceAccount || !claims.EmailVerified {
		h.Log.WarnContext(ctx, "security: Google Play push rejected")
		http.Error(w, "untrusted push", http.StatusUnauthorized)
		return
	}
	var push struct {
		Message struct {
			Data      string `json:"data"`
			MessageID string `json:"messageId"`
		} `json:"message"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&push); err != nil || push.Message.MessageID == "" {
		http.Error(w, "malformed push", http.StatusBadRequest)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(push.Message.Data)
	var n struct {
		PackageName     string `json:"packageName"`
		EventTimeMillis string `json:"eventTimeMillis"`
		Subscription    *struct {
			NotificationType int    `json:"notificationType"`
			PurchaseToken    string `json:"purchaseToken"`
			SubscriptionID   string `json:"subscriptionId"`
		} `json:"subscriptionNotification"`
	}
	if err != nil || json.Unmarshal(raw, &n) != nil || n.PackageName != h.Options.PackageName {
		http.Error(w, "malformed or foreign notification", http.StatusBadRequest)
		return
	}
	if n.Subscription == nil || n.Subscription.PurchaseToken == "" {
		w.WriteHeader(http.StatusOK) // test and one-time-product notifications
		return
	}
	var ms int64
	_, _ = fmt.Sscan(n.EventTimeMillis, &ms)
	if err := h.apply(ctx, push.Message.MessageID, time.UnixMilli(ms), n.Subscription.NotificationType, n.Subscription.PurchaseToken, n.Subscription.SubscriptionID); err != nil {
		h.Log.ErrorContext(ctx, "play notification failed", slog.String("error", err.Error()))
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// apply records one notification and, when the purchase is registered to a
// user, moves their entitlement.
func (h *PlayWebhook) apply(ctx context.Context, messageID string, at time.Time, typ int, token, product string) error {
	now := h.Now()
	var tier hivesyncv1.Tier
	var expires *time.Time
	switch typ {
	case playRecovered, playRenewed, playPurchased, playRestarted:
		tier = hivesyncv1.Tier_TIER_PRO
		e := now.Add(h.Options.RenewalGrace)
		expires = &e
	case playOnHold, playPaused, playRevoked, playExpired:
		tier = hivesyncv1.Tier_TIER_FREE
	default: // 3 canceled (runs to the period's end), 6 in grace, 20 pending purchase canceled, price changes…: no change
		return h.Store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
			_, err := q.StoreNotificationInsert(ctx, dbgen.StoreNotificationInsertParams{Store: "play", NotificationID: messageID})
			return err
		})
	}
	return h.Store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		fresh, err := q.StoreNotificationInsert(ctx, dbgen.StoreNotificationInsertParams{Store: "play", NotificationID: messageID})
		if err != nil || fresh == 0 {
			return err
		}
		applied, err := q.StoreSubscriptionUpsert(ctx, dbgen.StoreSubscriptionUpsertParams{
			Store: "play", SubscriptionID: token, ProductID: product, Tier: int16(tier), ExpiresAt: expires, LastSignedAt: at,
		})
		if err != nil || len(applied) == 0 {
			return err // out of order
		}
		if applied[0].UserID == nil {
			return nil // not registered yet: applied when the app registers it
		}
		return Recompute(ctx, q, *applied[0].UserID, now)
	})
}

// ErrPurchaseTaken means a purchase token is registered to another account.
var ErrPurchaseTaken = errors.New("this purchase belongs to another account")
