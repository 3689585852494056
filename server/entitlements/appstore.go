package entitlements

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
)

// Apple's marker extensions on the certificates that sign App Store data.
var (
	oidAppleLeaf         = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 11, 1}
	oidAppleIntermediate = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 2, 1}
)

// ErrUntrusted wraps every reason a store payload is refused.
var ErrUntrusted = errors.New("untrusted store payload")

// AppStoreVerifier verifies App Store signed data (JWS with an x5c chain) the
// way Apple's own libraries do, offline: ES256 only, exactly three
// certificates, the chain anchored in the configured roots (never the root in
// the payload), Apple's marker extensions, checked at the payload's signing
// time.
type AppStoreVerifier struct {
	Roots       *x509.CertPool
	BundleID    string
	Environment string
}

// verify checks one JWS and returns its payload.
func (v *AppStoreVerifier) verify(signed string, signedAt func([]byte) time.Time) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(signed, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: not an ES256 JWS", ErrUntrusted)
	}
	hdr := jws.Signatures[0].Protected
	if x5cCount(signed) != 3 {
		return nil, fmt.Errorf("%w: x5c must hold exactly three certificates", ErrUntrusted)
	}
	raw := jws.UnsafePayloadWithoutVerification()
	opts := x509.VerifyOptions{Roots: v.Roots, CurrentTime: signedAt(raw), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	chains, err := hdr.Certificates(opts)
	if err != nil || len(chains) == 0 || len(chains[0]) != 3 {
		return nil, fmt.Errorf("%w: certificate chain does not verify", ErrUntrusted)
	}
	if !hasExtension(chains[0][0], oidAppleLeaf) || !hasExtension(chains[0][1], oidAppleIntermediate) {
		return nil, fmt.Errorf("%w: not an App Store signing chain", ErrUntrusted)
	}
	payload, err := jws.Verify(chains[0][0].PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: signature", ErrUntrusted)
	}
	return payload, nil
}

// x5cCount is the number of certificates in a compact JWS's protected header.
func x5cCount(signed string) int {
	head, _, _ := strings.Cut(signed, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return 0
	}
	var h struct {
		X5C []string `json:"x5c"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return 0
	}
	return len(h.X5C)
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

// signedDateOf reads signedDate (ms) from a payload, for chain validity.
func signedDateOf(raw []byte) time.Time {
	var p struct {
		SignedDate int64 `json:"signedDate"`
	}
	_ = json.Unmarshal(raw, &p)
	return time.UnixMilli(p.SignedDate)
}

// appStoreNotification is responseBodyV2DecodedPayload.
type appStoreNotification struct {
	NotificationType string `json:"notificationType"`
	Subtype          string `json:"subtype"`
	NotificationUUID string `json:"notificationUUID"`
	SignedDate       int64  `json:"signedDate"`
	Data             *struct {
		Environment           string `json:"environment"`
		BundleID              string `json:"bundleId"`
		SignedTransactionInfo string `json:"signedTransactionInfo"`
		SignedRenewalInfo     string `json:"signedRenewalInfo"`
		Status                int    `json:"status"`
	} `json:"data"`
}

// appStoreTransaction is JWSTransactionDecodedPayload (the fields we use).
type appStoreTransaction struct {
	OriginalTransactionID string `json:"originalTransactionId"`
	BundleID              string `json:"bundleId"`
	ProductID             string `json:"productId"`
	ExpiresDate           int64  `json:"expiresDate"`
	AppAccountToken       string `json:"appAccountToken"`
	RevocationDate        int64  `json:"revocationDate"`
	OfferType             int    `json:"offerType"`
	OfferDiscountType     string `json:"offerDiscountType"`
	Price                 *int64 `json:"price"`
	Environment           string `json:"environment"`
	SignedDate            int64  `json:"signedDate"`
}

// maxNotificationAge covers Apple's retries (about 6.5 days).
const maxNotificationAge = 8 * 24 * time.Hour

// AppStoreWebhook receives App Store Server Notifications V2.
type AppStoreWebhook struct {
	Verifier *AppStoreVerifier
	Store    *store.Store
	Now      func() time.Time
	Log      *slog.Logger
}

// ServeHTTP implements POST /api/v1/webhooks/appstore. Verified
// notifications answer 200 (replays too, as no-ops); untrusted ones 400, and
// change nothing.
func (h *AppStoreWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Verifier == nil {
		http.Error(w, "App Store notifications are not configured (HIVESYNC_APPSTORE_ROOT_CERTS)", http.StatusServiceUnavailable)
		return
	}
	var body struct {
		SignedPayload string `json:"signedPayload"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil || body.SignedPayload == "" {
		http.Error(w, "expected {\"signedPayload\": …}", http.StatusBadRequest)
		return
	}
	err := h.handle(r.Context(), body.SignedPayload)
	if errors.Is(err, ErrUntrusted) {
		h.Log.WarnContext(r.Context(), "security: App Store notification rejected", slog.String("reason", err.Error()))
		http.Error(w, "rejected", http.StatusBadRequest)
		return
	}
	if err != nil {
		h.Log.ErrorContext(r.Context(), "App Store notification failed", slog.String("error", err.Error()))
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *AppStoreWebhook) handle(ctx context.Context, signedPayload string) error {
	raw, err := h.Verifier.verify(signedPayload, signedDateOf)
	if err != nil {
		return err
	}
	var n appStoreNotification
	if err := json.Unmarshal(raw, &n); err != nil || n.NotificationUUID == "" {
		return fmt.Errorf("%w: malformed notification", ErrUntrusted)
	}
	now := h.Now()
	signed := time.UnixMilli(n.SignedDate)
	if signed.After(now.Add(5*time.Minute)) || now.Sub(signed) > maxNotificationAge {
		return fmt.Errorf("%w: signedDate outside the accepted window", ErrUntrusted)
	}
	if n.Data == nil || n.Data.SignedTransactionInfo == "" {
		// Summary, TEST and other notifications without a transaction change
		// nothing; they are acknowledged.
		return nil
	}
	if n.Data.BundleID != h.Verifier.BundleID || (h.Verifier.Environment != "" && n.Data.Environment != h.Verifier.Environment) {
		return fmt.Errorf("%w: notification for another app or environment", ErrUntrusted)
	}
	rawTxn, err := h.Verifier.verify(n.Data.SignedTransactionInfo, signedDateOf)
	if err != nil {
		return err
	}
	var txn appStoreTransaction
	if err := json.Unmarshal(rawTxn, &txn); err != nil || txn.OriginalTransactionID == "" || txn.BundleID != h.Verifier.BundleID {
		return fmt.Errorf("%w: malformed transaction", ErrUntrusted)
	}
	userID, err := uuid.Parse(txn.AppAccountToken)
	if err != nil {
		// Purchases are bound to HiveSync accounts by appAccountToken; one
		// without it cannot be attributed.
		h.Log.WarnContext(ctx, "App Store transaction without a HiveSync appAccountToken ignored")
		return nil
	}
	var grace time.Time
	if n.Data.SignedRenewalInfo != "" {
		rawRenewal, err := h.Verifier.verify(n.Data.SignedRenewalInfo, signedDateOf)
		if err != nil {
			return err
		}
		var renewal struct {
			GracePeriodExpiresDate int64 `json:"gracePeriodExpiresDate"`
		}
		if err := json.Unmarshal(rawRenewal, &renewal); err != nil {
			return fmt.Errorf("%w: malformed renewal info", ErrUntrusted)
		}
		if renewal.GracePeriodExpiresDate > 0 {
			grace = time.UnixMilli(renewal.GracePeriodExpiresDate)
		}
	}
	tier, expires := appStoreTier(n, txn, grace, now)
	return h.Store.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error {
		fresh, err := q.StoreNotificationInsert(ctx, dbgen.StoreNotificationInsertParams{Store: "app_store", NotificationID: n.NotificationUUID})
		if err != nil || fresh == 0 {
			return err // a retry of an applied notification: nothing to do
		}
		if _, err := q.UserGetByID(ctx, userID); err != nil {
			h.Log.WarnContext(ctx, "App Store transaction for an unknown account ignored")
			return nil
		}
		applied, err := q.StoreSubscriptionUpsert(ctx, dbgen.StoreSubscriptionUpsertParams{
			Store: "app_store", SubscriptionID: txn.OriginalTransactionID, UserID: &userID, ProductID: txn.ProductID,
			Tier: int16(tier), ExpiresAt: expires, LastSignedAt: signed,
		})
		if err != nil || len(applied) == 0 {
			return err // older than what we applied: out-of-order delivery
		}
		return Recompute(ctx, q, userID, now)
	})
}

// appStoreTier decides the tier a verified transaction grants now. During a
// billing grace period (status 4) access lasts until the grace period ends.
func appStoreTier(n appStoreNotification, txn appStoreTransaction, grace, now time.Time) (hivesyncv1.Tier, *time.Time) {
	if txn.RevocationDate != 0 {
		return hivesyncv1.Tier_TIER_FREE, nil
	}
	switch n.NotificationType {
	case "EXPIRED", "GRACE_PERIOD_EXPIRED", "REFUND", "REVOKE":
		return hivesyncv1.Tier_TIER_FREE, nil
	case "DID_FAIL_TO_RENEW":
		if n.Subtype != "GRACE_PERIOD" {
			return hivesyncv1.Tier_TIER_FREE, nil
		}
	}
	expires := time.UnixMilli(txn.ExpiresDate)
	if n.Data != nil && n.Data.Status == 4 && grace.After(expires) {
		expires = grace
	}
	if txn.ExpiresDate == 0 || !expires.After(now) {
		return hivesyncv1.Tier_TIER_FREE, nil
	}
	trial := txn.OfferDiscountType == "FREE_TRIAL" || (txn.OfferDiscountType == "" && txn.OfferType == 1 && txn.Price != nil && *txn.Price == 0)
	if trial {
		return hivesyncv1.Tier_TIER_TRIAL, &expires
	}
	return hivesyncv1.Tier_TIER_PRO, &expires
}
