package app_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/app"
	"github.com/hivesync/hivesync/server/auth"
	"github.com/hivesync/hivesync/store/dbgen"
)

func withHeader(k, v string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(k, v)
			return next(ctx, req)
		}
	}))
}

func TestTwoFactorStepUp(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, nil)
	ctx := context.Background()
	u, err := b.store.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: "totp@2fa.test"})
	require.NoError(t, err)
	pair, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: auth.Clients["mobile"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_USER}})
	require.NoError(t, err)
	authc := hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken))
	devices := hivesyncv1connect.NewDeviceServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken))
	dev, err := devices.RegisterDevice(ctx, &hivesyncv1.RegisterDeviceRequest{Platform: "ios"})
	require.NoError(t, err)

	enrol, err := authc.EnrollTotp(ctx, &hivesyncv1.EnrollTotpRequest{})
	require.NoError(t, err)
	require.Contains(t, enrol.GetOtpauthUri(), "otpauth://totp/HiveSync:totp@2fa.test")
	require.Len(t, enrol.GetRecoveryCodes(), 10)
	// Not enforced before confirmation, and a wrong code does not confirm.
	_, err = authc.ConfirmTotp(ctx, &hivesyncv1.ConfirmTotpRequest{Code: "000000"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	now := time.Now()
	code, err := totp.GenerateCode(enrol.GetSecret(), now)
	require.NoError(t, err)
	_, err = authc.ConfirmTotp(ctx, &hivesyncv1.ConfirmTotpRequest{Code: code})
	require.NoError(t, err)
	me, err := authc.GetCurrentUser(ctx, &hivesyncv1.GetCurrentUserRequest{})
	require.NoError(t, err)
	require.True(t, me.GetTotpEnabled())
	_, err = authc.EnrollTotp(ctx, &hivesyncv1.EnrollTotpRequest{})
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))

	// A sensitive action now needs the code.
	_, err = devices.RevokeDevice(ctx, &hivesyncv1.RevokeDeviceRequest{DeviceId: dev.GetDevice().GetId()})
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
	d := typedDetail[*hivesyncv1.SecondFactorRequired](t, err)
	require.True(t, d.GetEnrolled())
	require.Equal(t, access.SecondFactorHeader, d.GetHeader())
	with := func(c string) hivesyncv1connect.DeviceServiceClient {
		return hivesyncv1connect.NewDeviceServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken), withHeader(access.SecondFactorHeader, c))
	}
	_, err = with(code).RevokeDevice(ctx, &hivesyncv1.RevokeDeviceRequest{DeviceId: dev.GetDevice().GetId()})
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "the code that confirmed enrolment cannot be replayed")

	// A recovery code works once.
	recovery := enrol.GetRecoveryCodes()[0]
	laptop, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: auth.Clients["cli"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN}})
	require.NoError(t, err)
	_, err = hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken), withHeader(access.SecondFactorHeader, recovery)).
		RevokeSession(ctx, &hivesyncv1.RevokeSessionRequest{SessionId: laptop.SessionID})
	require.NoError(t, err)
	_, err = with(recovery).RevokeDevice(ctx, &hivesyncv1.RevokeDeviceRequest{DeviceId: dev.GetDevice().GetId()})
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "recovery codes are single-use")

	// The next time step's code disables 2FA.
	next, err := totp.GenerateCode(enrol.GetSecret(), now.Add(30*time.Second))
	require.NoError(t, err)
	_, err = hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken), withHeader(access.SecondFactorHeader, next)).
		DisableTotp(ctx, &hivesyncv1.DisableTotpRequest{})
	require.NoError(t, err)
	me, err = authc.GetCurrentUser(ctx, &hivesyncv1.GetCurrentUserRequest{})
	require.NoError(t, err)
	require.False(t, me.GetTotpEnabled())

	var actions []string
	rows, err := b.store.AuditList(ctx, dbgen.AuditListParams{TargetUserID: &u.ID, BeforeID: 1 << 62, PageSize: 10})
	require.NoError(t, err)
	for _, r := range rows {
		actions = append(actions, r.Action)
	}
	require.Equal(t, []string{"totp.disabled", "totp.recovery_code_used", "totp.enabled"}, actions)
}

func TestAdminsCanBeRequiredToUseTwoFactor(t *testing.T) {
	t.Parallel()
	b := setup(t, app.ModeServe, map[string]string{"HIVESYNC_REQUIRE_ADMIN_2FA": "true"})
	ctx := context.Background()
	u, err := b.store.UserUpsertByEmail(ctx, dbgen.UserUpsertByEmailParams{ID: uuid.New(), Email: "root@2fa.test", IsAdmin: true})
	require.NoError(t, err)
	pair, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: auth.Clients["admin"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_ADMIN, hivesyncv1.Scope_SCOPE_USER}})
	require.NoError(t, err)
	_, err = whoAmI(t, b, pair.AccessToken)
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
	require.False(t, typedDetail[*hivesyncv1.SecondFactorRequired](t, err).GetEnrolled())
	// Two-factor is managed from the phone only, not from the admin client.
	_, err = hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken)).EnrollTotp(ctx, &hivesyncv1.EnrollTotpRequest{})
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
	phone, err := b.app.Issuer().StartSession(ctx, auth.SessionParams{UserID: u.ID, Client: auth.Clients["mobile"], Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_USER}})
	require.NoError(t, err)
	mobile := hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(phone.AccessToken))
	enrol, err := mobile.EnrollTotp(ctx, &hivesyncv1.EnrollTotpRequest{})
	require.NoError(t, err)
	now := time.Now()
	code, err := totp.GenerateCode(enrol.GetSecret(), now)
	require.NoError(t, err)
	_, err = mobile.ConfirmTotp(ctx, &hivesyncv1.ConfirmTotpRequest{Code: code})
	require.NoError(t, err)

	// One code covers the admin session for a while, not a code per call.
	next, err := totp.GenerateCode(enrol.GetSecret(), now.Add(30*time.Second))
	require.NoError(t, err)
	adm := hivesyncv1connect.NewAuthServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken), withHeader(access.SecondFactorHeader, next))
	_, err = adm.GetCurrentUser(ctx, &hivesyncv1.GetCurrentUserRequest{})
	require.NoError(t, err)
	for range 3 {
		_, err = whoAmI(t, b, pair.AccessToken)
		require.NoError(t, err, "the session passed the check moments ago")
	}

	// Demoting the admin removes the admin scope as soon as the node hears
	// of it: an operator's UPDATE reaches it as the trigger's notification,
	// well within the standing cache's bound.
	_, err = b.store.Pool().Exec(ctx, "UPDATE users SET is_admin = false WHERE id = $1", u.ID)
	require.NoError(t, err)
	admin := hivesyncv1connect.NewAdminServiceClient(b.h1, b.baseURL, bearer(pair.AccessToken))
	require.Eventually(t, func() bool {
		_, err := admin.LookupUser(ctx, &hivesyncv1.LookupUserRequest{Email: "root@2fa.test"})
		return connect.CodeOf(err) == connect.CodePermissionDenied
	}, auth.StandingTTL/2, 5*time.Millisecond)
}
