package entitlements_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/entitlements"
	"github.com/hivesync/hivesync/server/events"
	"github.com/hivesync/hivesync/store"
	"github.com/hivesync/hivesync/store/dbgen"
	"github.com/hivesync/hivesync/store/storetest"
)

// appleChain is a test PKI shaped like Apple's: root → intermediate (with
// Apple's intermediate marker) → leaf (with the leaf marker).
type appleChain struct {
	root    *x509.Certificate
	x5c     []string
	leafKey *ecdsa.PrivateKey
}

func newAppleChain(t *testing.T, markers bool) *appleChain {
	t.Helper()
	mk := func(tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		require.NoError(t, err)
		c, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		return c
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return k
	}
	marker := func(oid asn1.ObjectIdentifier) []pkix.Extension {
		if !markers {
			return nil
		}
		return []pkix.Extension{{Id: oid, Value: []byte{0x05, 0x00}}}
	}
	validity := func(tmpl *x509.Certificate) *x509.Certificate {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-24*time.Hour), time.Now().Add(24*time.Hour)
		return tmpl
	}
	rootKey, interKey, leafKey := key(), key(), key()
	rootTmpl := validity(&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign})
	root := mk(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	inter := mk(validity(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test WWDR"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, ExtraExtensions: marker(asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 2, 1})}),
		root, &interKey.PublicKey, rootKey)
	leaf := mk(validity(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Test App Store signing"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtraExtensions: marker(asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 11, 1})}),
		inter, &leafKey.PublicKey, interKey)
	enc := base64.StdEncoding.EncodeToString
	return &appleChain{root: root, x5c: []string{enc(leaf.Raw), enc(inter.Raw), enc(root.Raw)}, leafKey: leafKey}
}

func (c *appleChain) sign(t *testing.T, payload any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: c.leafKey}, (&jose.SignerOptions{}).WithHeader("x5c", c.x5c))
	require.NoError(t, err)
	raw, err := json.Marshal(payload)
	require.NoError(t, err)
	obj, err := signer.Sign(raw)
	require.NoError(t, err)
	s, err := obj.CompactSerialize()
	require.NoError(t, err)
	return s
}

type appStoreBundle struct {
	st      *store.Store
	chain   *appleChain
	webhook *entitlements.AppStoreWebhook
	user    dbgen.User
	now     time.Time
}

func setupAppStore(t *testing.T) *appStoreBundle {
	t.Helper()
	st := storetest.Store(t)
	chain := newAppleChain(t, true)
	roots := x509.NewCertPool()
	roots.AddCert(chain.root)
	u, err := st.UserUpsertByEmail(context.Background(), dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: "buyer@store.test"})
	require.NoError(t, err)
	b := &appStoreBundle{st: st, chain: chain, user: u, now: time.Now()}
	b.webhook = &entitlements.AppStoreWebhook{
		Verifier: &entitlements.AppStoreVerifier{Roots: roots, BundleID: "dev.hivesync.app", Environment: "Production"},
		Store:    st, Now: func() time.Time { return b.now }, Log: slog.New(slog.DiscardHandler),
	}
	return b
}

// notification builds a signed notification about one transaction.
func (b *appStoreBundle) notification(t *testing.T, chain *appleChain, typ, subtype, id string, signed time.Time, txn map[string]any) string {
	return b.notificationWith(t, chain, typ, subtype, id, signed, txn, 1, nil)
}

// notificationWith also sets the subscription status and renewal info.
func (b *appStoreBundle) notificationWith(t *testing.T, chain *appleChain, typ, subtype, id string, signed time.Time, txn map[string]any, status int, renewal map[string]any) string {
	t.Helper()
	base := map[string]any{
		"originalTransactionId": "2000000111", "bundleId": "dev.hivesync.app", "productId": "pro.monthly",
		"appAccountToken": b.user.ID.String(), "environment": "Production", "signedDate": signed.UnixMilli(),
		"expiresDate": signed.Add(30 * 24 * time.Hour).UnixMilli(),
	}
	for k, v := range txn {
		base[k] = v
	}
	data := map[string]any{"environment": "Production", "bundleId": "dev.hivesync.app", "signedTransactionInfo": chain.sign(t, base), "status": status}
	if renewal != nil {
		renewal["signedDate"] = signed.UnixMilli()
		data["signedRenewalInfo"] = chain.sign(t, renewal)
	}
	return chain.sign(t, map[string]any{
		"notificationType": typ, "subtype": subtype, "notificationUUID": id, "version": "2.0", "signedDate": signed.UnixMilli(), "data": data,
	})
}

func (b *appStoreBundle) post(t *testing.T, signedPayload string) int {
	t.Helper()
	body, err := json.Marshal(map[string]string{"signedPayload": signedPayload})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	b.webhook.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/webhooks/appstore", strings.NewReader(string(body))))
	return rec.Code
}

func (b *appStoreBundle) tier(t *testing.T) (hivesyncv1.Tier, *time.Time) {
	t.Helper()
	e, err := b.st.EntitlementGet(context.Background(), b.user.ID)
	if err != nil {
		return hivesyncv1.Tier_TIER_FREE, nil
	}
	return hivesyncv1.Tier(e.Tier), e.ExpiresAt
}

func (b *appStoreBundle) events(t *testing.T) []*hivesyncv1.Event {
	t.Helper()
	rows, err := b.st.EventListAfter(context.Background(), dbgen.EventListAfterParams{Channel: "user:" + b.user.ID.String(), After: 0, MaxEvents: 100})
	require.NoError(t, err)
	var out []*hivesyncv1.Event
	for _, r := range rows {
		ev, err := events.Decode(r.Sequence, r.Payload)
		require.NoError(t, err)
		out = append(out, ev)
	}
	return out
}

func TestAppStoreNotifications(t *testing.T) {
	t.Parallel()
	b := setupAppStore(t)
	t0 := b.now.Add(-time.Hour)

	// A free-trial subscription starts a trial.
	require.Equal(t, http.StatusOK, b.post(t, b.notification(t, b.chain, "SUBSCRIBED", "INITIAL_BUY", "n1", t0, map[string]any{"offerDiscountType": "FREE_TRIAL", "offerType": 1, "price": 0})))
	tier, exp := b.tier(t)
	require.Equal(t, hivesyncv1.Tier_TIER_TRIAL, tier)
	require.NotNil(t, exp)
	evs := b.events(t)
	require.Len(t, evs, 1)
	require.Equal(t, "entitlement.updated", evs[0].GetEventType())
	require.Equal(t, int64(1), evs[0].GetSequence())
	require.Equal(t, hivesyncv1.Tier_TIER_TRIAL, evs[0].GetEntitlementUpdated().GetTier())

	// The first paid renewal makes it Pro.
	renewal := b.notification(t, b.chain, "DID_RENEW", "", "n2", t0.Add(time.Minute), nil)
	require.Equal(t, http.StatusOK, b.post(t, renewal))
	tier, _ = b.tier(t)
	require.Equal(t, hivesyncv1.Tier_TIER_PRO, tier)
	require.Len(t, b.events(t), 2)

	// Apple retries: the same notification changes nothing.
	require.Equal(t, http.StatusOK, b.post(t, renewal))
	require.Len(t, b.events(t), 2)

	// A late, older notification does not roll the state back.
	require.Equal(t, http.StatusOK, b.post(t, b.notification(t, b.chain, "EXPIRED", "VOLUNTARY", "n0", t0.Add(-time.Minute), nil)))
	tier, _ = b.tier(t)
	require.Equal(t, hivesyncv1.Tier_TIER_PRO, tier)

	// Untrusted payloads are refused and change nothing.
	stranger := newAppleChain(t, true)
	unmarked := newAppleChain(t, false)
	for name, payload := range map[string]string{
		"chain_to_another_root": b.notification(t, stranger, "EXPIRED", "", "x1", b.now, nil),
		"no_apple_markers":      b.notification(t, unmarked, "EXPIRED", "", "x2", b.now, nil),
		"another_app":           b.notification(t, b.chain, "EXPIRED", "", "x3", b.now, map[string]any{"bundleId": "com.evil"}),
		"too_old":               b.notification(t, b.chain, "EXPIRED", "", "x4", b.now.Add(-10*24*time.Hour), nil),
		"not_a_jws":             "garbage",
	} {
		require.Equal(t, http.StatusBadRequest, b.post(t, payload), name)
	}
	tier, _ = b.tier(t)
	require.Equal(t, hivesyncv1.Tier_TIER_PRO, tier)
	require.Len(t, b.events(t), 2)

	// Another store saying "expired" about another subscription does not end
	// this one: the tier is the best subscription in force.
	ctx := context.Background()
	_, err := b.st.StoreSubscriptionUpsert(ctx, dbgen.StoreSubscriptionUpsertParams{Store: "play", SubscriptionID: "old-play", UserID: &b.user.ID,
		Tier: int16(hivesyncv1.Tier_TIER_FREE), LastSignedAt: b.now})
	require.NoError(t, err)
	require.NoError(t, b.st.InTx(ctx, func(_ pgx.Tx, q dbgen.Querier) error { return entitlements.Recompute(ctx, q, b.user.ID, b.now) }))
	tier, _ = b.tier(t)
	require.Equal(t, hivesyncv1.Tier_TIER_PRO, tier)

	// A failed renewal in Apple's billing grace period keeps access until the
	// grace period ends, although the period itself has expired.
	graceEnd := b.now.Add(6 * 24 * time.Hour)
	require.Equal(t, http.StatusOK, b.post(t, b.notificationWith(t, b.chain, "DID_FAIL_TO_RENEW", "GRACE_PERIOD", "n-grace", b.now.Add(-time.Minute),
		map[string]any{"expiresDate": b.now.Add(-time.Hour).UnixMilli()}, 4, map[string]any{"gracePeriodExpiresDate": graceEnd.UnixMilli()})))
	tier, exp = b.tier(t)
	require.Equal(t, hivesyncv1.Tier_TIER_PRO, tier)
	require.Equal(t, graceEnd.UnixMilli(), exp.UnixMilli())

	// A refund ends it.
	require.Equal(t, http.StatusOK, b.post(t, b.notification(t, b.chain, "REFUND", "", "n3", b.now, map[string]any{"revocationDate": b.now.UnixMilli()})))
	tier, _ = b.tier(t)
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, tier)
	require.Len(t, b.events(t), 4, "trial, pro, grace expiry, free")
}

func TestExpiredEntitlementsLapseToFree(t *testing.T) {
	t.Parallel()
	b := setupAppStore(t)
	ctx := context.Background()
	past := b.now.Add(-time.Second)
	_, err := b.st.EntitlementSet(ctx, dbgen.EntitlementSetParams{UserID: b.user.ID, Tier: int16(hivesyncv1.Tier_TIER_TRIAL),
		Source: int16(hivesyncv1.EntitlementSource_ENTITLEMENT_SOURCE_APP_STORE), ExpiresAt: &past, TrialEndsAt: &past})
	require.NoError(t, err)
	w := &entitlements.ExpireWorker{Store: b.st, Now: func() time.Time { return b.now }, Log: slog.New(slog.DiscardHandler)}
	require.NoError(t, w.Work(ctx, nil))
	tier, _ := b.tier(t)
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, tier)
	evs := b.events(t)
	require.Len(t, evs, 1)
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, evs[0].GetEntitlementUpdated().GetTier())
	require.NoError(t, w.Work(ctx, nil))
	require.Len(t, b.events(t), 1, "nothing left to lapse")
}
