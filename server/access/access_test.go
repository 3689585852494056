package access_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/gen/hivesync/v1/hivesyncv1connect"
	"github.com/hivesync/hivesync/server/access"
	"github.com/hivesync/hivesync/server/meta"
)

// allServices is every service declared in the contract.
func allServices(t *testing.T) []protoreflect.ServiceDescriptor {
	t.Helper()
	var out []protoreflect.ServiceDescriptor
	protoregistry.GlobalFiles.RangeFilesByPackage("hivesync.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			out = append(out, f.Services().Get(i))
		}
		return true
	})
	require.NotEmpty(t, out)
	return out
}

func TestEveryMethodOfEveryServiceHasAnAccessRule(t *testing.T) {
	t.Parallel()
	methods := 0
	for _, svc := range allServices(t) {
		for i := range svc.Methods().Len() {
			m := svc.Methods().Get(i)
			rule, ok := access.RuleOf(m)
			require.Truef(t, ok, "%s has no (hivesync.v1.access) rule", m.FullName())
			require.Truef(t, rule.GetPublic() || len(rule.GetScopes()) > 0, "%s is neither public nor scoped", m.FullName())
			methods++
		}
	}
	rules, err := access.RulesFor(allServices(t)...)
	require.NoError(t, err)
	require.Len(t, rules, methods)
}

func TestRulesForRejectsMethodsWithoutRules(t *testing.T) {
	t.Parallel()
	_, err := access.RulesFor(fakeService{})
	require.ErrorContains(t, err, "has no (hivesync.v1.access) rule")
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	pro := &hivesyncv1.AccessRule{Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_USER, hivesyncv1.Scope_SCOPE_PLUGIN}, Feature: "ai_docs", MinTier: hivesyncv1.Tier_TIER_PRO}
	desktopOnly := &hivesyncv1.AccessRule{Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_USER}, ClientTypes: []hivesyncv1.ClientType{hivesyncv1.ClientType_CLIENT_TYPE_DESKTOP}}
	user := func(tier hivesyncv1.Tier, ct hivesyncv1.ClientType, scopes ...hivesyncv1.Scope) *access.Principal {
		return &access.Principal{UserID: "u", Tier: tier, ClientType: ct, Scopes: scopes}
	}
	cases := []struct {
		name   string
		rule   *hivesyncv1.AccessRule
		p      *access.Principal
		code   connect.Code
		denial access.Denial
	}{
		{"public_needs_no_token", &hivesyncv1.AccessRule{Public: true}, nil, 0, access.DenialNone},
		{"no_token", pro, nil, connect.CodeUnauthenticated, access.DenialNoToken},
		{"wrong_scope", pro, user(hivesyncv1.Tier_TIER_PRO, hivesyncv1.ClientType_CLIENT_TYPE_VSCODE, hivesyncv1.Scope_SCOPE_PREVIEW), connect.CodePermissionDenied, access.DenialScope},
		{"admin_scope_is_not_a_wildcard", pro, user(hivesyncv1.Tier_TIER_PRO, hivesyncv1.ClientType_CLIENT_TYPE_ADMIN, hivesyncv1.Scope_SCOPE_ADMIN), connect.CodePermissionDenied, access.DenialScope},
		{"free_tier_gets_entitlement_required", pro, user(hivesyncv1.Tier_TIER_FREE, hivesyncv1.ClientType_CLIENT_TYPE_VSCODE, hivesyncv1.Scope_SCOPE_PLUGIN), connect.CodePermissionDenied, access.DenialEntitlement},
		{"trial_unlocks_pro", pro, user(hivesyncv1.Tier_TIER_TRIAL, hivesyncv1.ClientType_CLIENT_TYPE_VSCODE, hivesyncv1.Scope_SCOPE_PLUGIN), 0, access.DenialNone},
		{"pro_allowed", pro, user(hivesyncv1.Tier_TIER_PRO, hivesyncv1.ClientType_CLIENT_TYPE_MOBILE, hivesyncv1.Scope_SCOPE_USER), 0, access.DenialNone},
		{"other_client_type_refused", desktopOnly, user(hivesyncv1.Tier_TIER_FREE, hivesyncv1.ClientType_CLIENT_TYPE_VSCODE, hivesyncv1.Scope_SCOPE_USER), connect.CodePermissionDenied, access.DenialClientType},
		{"matching_client_type", desktopOnly, user(hivesyncv1.Tier_TIER_FREE, hivesyncv1.ClientType_CLIENT_TYPE_DESKTOP, hivesyncv1.Scope_SCOPE_USER), 0, access.DenialNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err, denial := access.Authorize(tc.rule, tc.p, "hivesync://upgrade")
			require.Equal(t, tc.denial, denial)
			if tc.code == 0 {
				require.Nil(t, err)
				return
			}
			require.NotNil(t, err)
			require.Equal(t, tc.code, err.Code())
			if tc.denial == access.DenialEntitlement {
				d := detail[*hivesyncv1.EntitlementRequired](t, err)
				require.Equal(t, "ai_docs", d.GetFeature())
				require.Equal(t, hivesyncv1.Tier_TIER_PRO, d.GetRequiredTier())
				require.Equal(t, hivesyncv1.Tier_TIER_FREE, d.GetCurrentTier())
				require.Equal(t, "hivesync://upgrade", d.GetUpgradeDeepLink())
				require.Contains(t, d.GetMessage(), "mobile app")
			}
		})
	}
}

func TestTierSatisfies(t *testing.T) {
	t.Parallel()
	require.True(t, access.TierSatisfies(hivesyncv1.Tier_TIER_FREE, hivesyncv1.Tier_TIER_UNSPECIFIED))
	require.True(t, access.TierSatisfies(hivesyncv1.Tier_TIER_FREE, hivesyncv1.Tier_TIER_FREE))
	require.False(t, access.TierSatisfies(hivesyncv1.Tier_TIER_FREE, hivesyncv1.Tier_TIER_PRO))
	require.False(t, access.TierSatisfies(hivesyncv1.Tier_TIER_UNSPECIFIED, hivesyncv1.Tier_TIER_PRO))
	require.True(t, access.TierSatisfies(hivesyncv1.Tier_TIER_TRIAL, hivesyncv1.Tier_TIER_PRO))
	require.True(t, access.TierSatisfies(hivesyncv1.Tier_TIER_PRO, hivesyncv1.Tier_TIER_TRIAL))
}

func TestVersionPolicy(t *testing.T) {
	t.Parallel()
	v := access.VersionPolicy{MinPluginProtocol: 2, CurrentPluginProtocol: 4, MinClient: 3, UpgradeURL: "https://x.test/dl"}

	n, err := v.PluginVersion("")
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = v.PluginVersion(" 5 ")
	require.NoError(t, err, "newer plugins are accepted")
	require.EqualValues(t, 5, n)
	for _, bad := range []string{"abc", "0", "-1", "1.2", "99999999999"} {
		_, err = v.PluginVersion(bad)
		require.Equalf(t, connect.CodeInvalidArgument, connect.CodeOf(err), "header %q", bad)
	}
	_, err = v.PluginVersion("1")
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))
	d := detail[*hivesyncv1.UpgradeRequired](t, err)
	require.Equal(t, hivesyncv1.UpgradeRequired_REASON_PLUGIN_PROTOCOL_TOO_OLD, d.GetReason())
	require.EqualValues(t, 1, d.GetClientVersion())
	require.EqualValues(t, 2, d.GetMinSupportedVersion())
	require.EqualValues(t, 4, d.GetCurrentVersion())
	require.Equal(t, "https://x.test/dl", d.GetUpgradeUrl())

	require.NoError(t, v.ClientVersion(0))
	require.NoError(t, v.ClientVersion(3))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(v.ClientVersion(-1)))
	err = v.ClientVersion(2)
	d = detail[*hivesyncv1.UpgradeRequired](t, err)
	require.Equal(t, hivesyncv1.UpgradeRequired_REASON_CLIENT_TOO_OLD, d.GetReason())
	require.EqualValues(t, 3, d.GetMinSupportedVersion())
}

// tokens is a test Authenticator: a fixed table of tokens. (The real one, with
// signed JWTs, belongs to the identity issue; the interceptor only sees this
// interface.)
type tokens map[string]*access.Principal

func (tk tokens) Authenticate(_ context.Context, token string) (*access.Principal, error) {
	if p, ok := tk[token]; ok {
		return p, nil
	}
	if token == "db-down" {
		return nil, errors.New("load session: connection refused")
	}
	return nil, access.ErrInvalidToken
}

func TestInterceptorOverRealHTTP(t *testing.T) {
	t.Parallel()
	svc, err := meta.New(meta.Options{ServerVersion: "t", Versions: access.VersionPolicy{MinPluginProtocol: 2, CurrentPluginProtocol: 3},
		Bootstrap: func(context.Context) (*hivesyncv1.BootstrapConfig, error) { return &hivesyncv1.BootstrapConfig{}, nil }})
	require.NoError(t, err)
	rules, err := access.RulesFor(hivesyncv1.File_hivesync_v1_meta_service_proto.Services().Get(0))
	require.NoError(t, err)
	// Make one method private and Pro-gated to exercise every branch.
	rules["/hivesync.v1.MetaService/GetEventSchema"] = &hivesyncv1.AccessRule{
		Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN}, Feature: "schema", MinTier: hivesyncv1.Tier_TIER_PRO,
	}
	auth := tokens{
		"free": {UserID: "u1", Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN}, Tier: hivesyncv1.Tier_TIER_FREE},
		"pro":  {UserID: "u2", Scopes: []hivesyncv1.Scope{hivesyncv1.Scope_SCOPE_PLUGIN}, Tier: hivesyncv1.Tier_TIER_PRO},
	}
	interceptor := access.NewInterceptor(rules, auth, access.VersionPolicy{MinPluginProtocol: 2, CurrentPluginProtocol: 3}, "hivesync://upgrade", slog.New(slog.DiscardHandler))
	mux := http.NewServeMux()
	mux.Handle(hivesyncv1connect.NewMetaServiceHandler(svc, connect.WithInterceptors(interceptor)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	call := func(token, version string) error {
		client := hivesyncv1connect.NewMetaServiceClient(srv.Client(), srv.URL, connect.WithInterceptors(headers{token: token, version: version}))
		_, err := client.GetEventSchema(context.Background(), &hivesyncv1.GetEventSchemaRequest{})
		return err
	}
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(call("", "3")))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(call("forged", "3")))
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(call("db-down", "3")),
		"a token that cannot be checked is not a revoked one: the client must keep its session and retry")
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(call("free", "3")))
	detail[*hivesyncv1.EntitlementRequired](t, call("free", "3"))
	require.NoError(t, call("pro", "3"))
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(call("pro", "1")), "version is checked before anything else")

	// A token that is presented must be valid, even on a public method.
	client := hivesyncv1connect.NewMetaServiceClient(srv.Client(), srv.URL, connect.WithInterceptors(headers{token: "forged", version: "1"}))
	_, err = client.GetServerTime(context.Background(), &hivesyncv1.GetServerTimeRequest{})
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "a presented token must be valid even on public methods")
	client = hivesyncv1connect.NewMetaServiceClient(srv.Client(), srv.URL, connect.WithInterceptors(headers{version: "1"}))
	_, err = client.GetServerTime(context.Background(), &hivesyncv1.GetServerTimeRequest{})
	require.NoError(t, err, "GetServerTime skips the version check")

	// A malformed Authorization header is refused.
	client = hivesyncv1connect.NewMetaServiceClient(srv.Client(), srv.URL, connect.WithInterceptors(headers{raw: "Basic abc", version: "3"}))
	_, err = client.GetCompatibility(context.Background(), &hivesyncv1.GetCompatibilityRequest{})
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
}

func TestInterceptorRefusesUnknownProcedures(t *testing.T) {
	t.Parallel()
	svc, err := meta.New(meta.Options{Bootstrap: func(context.Context) (*hivesyncv1.BootstrapConfig, error) { return &hivesyncv1.BootstrapConfig{}, nil }})
	require.NoError(t, err)
	interceptor := access.NewInterceptor(access.Rules{}, nil, access.VersionPolicy{MinPluginProtocol: 1, CurrentPluginProtocol: 1}, "", slog.New(slog.DiscardHandler))
	mux := http.NewServeMux()
	mux.Handle(hivesyncv1connect.NewMetaServiceHandler(svc, connect.WithInterceptors(interceptor)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := hivesyncv1connect.NewMetaServiceClient(srv.Client(), srv.URL)
	_, err = client.GetCompatibility(context.Background(), &hivesyncv1.GetCompatibilityRequest{})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "fail closed when a procedure has no rule")
}

type headers struct{ token, version, raw string }

func (h headers) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if h.token != "" {
			req.Header().Set("Authorization", "Bearer "+h.token)
		}
		if h.raw != "" {
			req.Header().Set("Authorization", h.raw)
		}
		if h.version != "" {
			req.Header().Set(access.PluginVersionHeader, h.version)
		}
		return next(ctx, req)
	}
}

func (h headers) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (h headers) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// detail extracts the one typed error detail of type T from err.
func detail[T interface{ ProtoReflect() protoreflect.Message }](t *testing.T, err error) T {
	t.Helper()
	var ce *connect.Error
	require.True(t, errors.As(err, &ce), "not a connect error: %v", err)
	for _, d := range ce.Details() {
		v, derr := d.Value()
		require.NoError(t, derr)
		if typed, ok := v.(T); ok {
			return typed
		}
	}
	var zero T
	t.Fatalf("no %T detail in %v", zero, err)
	return zero
}

// fakeService is a service descriptor whose one method carries no rule.
type fakeService struct{ protoreflect.ServiceDescriptor }

func (fakeService) FullName() protoreflect.FullName         { return "test.Fake" }
func (fakeService) Methods() protoreflect.MethodDescriptors { return fakeMethods{} }

type fakeMethods struct{ protoreflect.MethodDescriptors }

func (fakeMethods) Len() int                              { return 1 }
func (fakeMethods) Get(int) protoreflect.MethodDescriptor { return fakeMethod{} }

type fakeMethod struct{ protoreflect.MethodDescriptor }

func (fakeMethod) Name() protoreflect.Name            { return "Nope" }
func (fakeMethod) Options() protoreflect.ProtoMessage { return nil }
