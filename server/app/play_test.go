package app_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/store/dbgen"
)

const playSA = "rtdn-push@hivesync-prod.iam.gserviceaccount.com"

func TestGooglePlayNotifications(t *testing.T) {
	t.Parallel()
	google := newOIDCProvider(t)
	b := setup(t, app.ModeServe, map[string]string{
		"HIVESYNC_PLAY_PACKAGE_NAME": "dev.hivesync.app", "HIVESYNC_PLAY_PUSH_ISSUER": google.srv.URL,
		"HIVESYNC_PLAY_PUSH_AUDIENCE": "https://api.hivesync.test/api/v1/webhooks/play", "HIVESYNC_PLAY_PUSH_SERVICE_ACCOUNT": playSA,
	})
	ctx := context.Background()
	mobile := func(email string) (hivesyncv1connect.EntitlementServiceClient, dbgen.User) {
		u, err := b.store.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: email})
		require.NoError(t, err)
		pair, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: auth.Clients["mobile"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_USER}})
		require.NoError(t, err)
		return hivesyncv1connect.NewEntitlementServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken)), u
	}
	pushToken := func(key *rsa.PrivateKey, email string) string {
		return google.idToken(t, key, map[string]any{"aud": "https://api.hivesync.test/api/v1/webhooks/play", "email": email, "email_verified": true,
			"nonce": nil, "sub": "1234567890"})
	}
	msgN, fixedID := 0, ""
	push := func(token, pkg string, typ int, purchase string, at time.Time) int {
		msgN++
		id := fmt.Sprint(msgN)
		if fixedID != "" {
			id = fixedID
		}
		data, err := json.Marshal(map[string]any{"version": "1.0", "packageName": pkg, "eventTimeMillis": fmt.Sprint(at.UnixMilli()),
			"subscriptionNotification": map[string]any{"version": "1.0", "notificationType": typ, "purchaseToken": purchase, "subscriptionId": "pro.monthly"}})
		require.NoError(t, err)
		body, err := json.Marshal(map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(data), "messageId": id},
			"subscription": "projects/hivesync/subscriptions/play"})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, b.baseURL+"/api/v1/webhooks/play", strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := b.h1.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	tierOf := func(c hivesyncv1connect.EntitlementServiceClient) hivesyncv1.Tier {
		e, err := c.GetEntitlement(ctx, &hivesyncv1.GetEntitlementRequest{})
		require.NoError(t, err)
		return e.GetTier()
	}
	good := pushToken(google.key, playSA)
	t0 := time.Now().Add(-time.Hour)

	// Register, then the store's notification: Pro.
	ann, _ := mobile("ann@play.test")
	reg, err := ann.RegisterPurchase(ctx, &hivesyncv1.RegisterPurchaseRequest{PurchaseToken: "tok-ann", ProductId: "pro.monthly"})
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, reg.GetEntitlement().GetTier(), "registering alone unlocks nothing")
	require.Equal(t, http.StatusOK, push(good, "dev.hivesync.app", 4, "tok-ann", t0))
	require.Equal(t, hivesyncv1.Tier_TIER_PRO, tierOf(ann))

	// Notification first, then the app registers: Pro at once. Nobody else can claim it.
	require.Equal(t, http.StatusOK, push(good, "dev.hivesync.app", 2, "tok-ben", t0))
	ben, _ := mobile("ben@play.test")
	reg, err = ben.RegisterPurchase(ctx, &hivesyncv1.RegisterPurchaseRequest{PurchaseToken: "tok-ben", ProductId: "pro.monthly"})
	require.NoError(t, err)
	require.Equal(t, hivesyncv1.Tier_TIER_PRO, reg.GetEntitlement().GetTier())
	thief, _ := mobile("thief@play.test")
	_, err = thief.RegisterPurchase(ctx, &hivesyncv1.RegisterPurchaseRequest{PurchaseToken: "tok-ben"})
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, tierOf(thief))

	// Untrusted pushes change nothing.
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, push(pushToken(forger, playSA), "dev.hivesync.app", 13, "tok-ann", time.Now()))
	require.Equal(t, http.StatusUnauthorized, push(pushToken(google.key, "someone@evil.test"), "dev.hivesync.app", 13, "tok-ann", time.Now()))
	require.Equal(t, http.StatusUnauthorized, push("", "dev.hivesync.app", 13, "tok-ann", time.Now()))
	require.Equal(t, http.StatusBadRequest, push(good, "com.evil", 13, "tok-ann", time.Now()))
	// An older notification arriving late does not roll back.
	require.Equal(t, http.StatusOK, push(good, "dev.hivesync.app", 13, "tok-ann", t0.Add(-time.Minute)))
	require.Equal(t, hivesyncv1.Tier_TIER_PRO, tierOf(ann))

	// Expiry ends it; Pub/Sub's redelivery of an already applied message
	// (same messageId) changes nothing, even with another body.
	fixedID = "expiry-1"
	require.Equal(t, http.StatusOK, push(good, "dev.hivesync.app", 13, "tok-ann", time.Now()))
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, tierOf(ann))
	require.Equal(t, http.StatusOK, push(good, "dev.hivesync.app", 2, "tok-ann", time.Now().Add(time.Minute)))
	require.Equal(t, hivesyncv1.Tier_TIER_FREE, tierOf(ann), "a replayed messageId is a no-op")
}
