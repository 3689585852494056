package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	hivesyncv1 "github.com/hivesync/hivesync/gen/hivesync/v1"
	"github.com/hivesync/hivesync/server/apierror"
	"github.com/hivesync/hivesync/server/ratelimit"
)

// Interceptor enforces, for every call: the plugin protocol version (unless
// the rule skips it), authentication of the bearer token, and the method's
// access rule. It fails closed: an unknown procedure is refused, and every
// refusal of a presented token is logged as a security warning.
type Interceptor struct {
	limiter         ratelimit.Limiter
	secondFactor    SecondFactor
	requireAdmin2FA bool
	rules           Rules
	auth            Authenticator
	versions        VersionPolicy
	deepLink        string
	log             *slog.Logger
}

// NewInterceptor builds the interceptor. auth may be nil while no method needs
// a token; calls that do are then refused as unauthenticated.
func NewInterceptor(rules Rules, auth Authenticator, versions VersionPolicy, upgradeDeepLink string, log *slog.Logger) *Interceptor {
	return &Interceptor{rules: rules, auth: auth, versions: versions, deepLink: upgradeDeepLink, log: log}
}

var _ connect.Interceptor = (*Interceptor)(nil)

// SecondFactorHeader carries a TOTP or recovery code for sensitive actions.
const SecondFactorHeader = "X-HiveSync-OTP"

// SecondFactor checks step-up codes. enrolled is false when the user has no
// confirmed second factor; ok is true when code is valid (and now spent), in
// which case the session is remembered as having passed the check.
type SecondFactor interface {
	Check(ctx context.Context, userID, sessionID, code string) (enrolled, ok bool, err error)
}

// AdminSecondFactorTTL is how long a passed check covers admin calls (under
// HIVESYNC_REQUIRE_ADMIN_2FA); actions marked requires_second_factor always
// need a fresh code.
const AdminSecondFactorTTL = 15 * time.Minute

// WithSecondFactor makes the interceptor enforce requires_second_factor, and,
// with requireForAdmins, two-factor enrolment for every admin-scope call.
func (i *Interceptor) WithSecondFactor(sf SecondFactor, requireForAdmins bool) *Interceptor {
	i.secondFactor, i.requireAdmin2FA = sf, requireForAdmins
	return i
}

// WithLimiter makes the interceptor enforce each rule's rate_limit bucket.
func (i *Interceptor) WithLimiter(l ratelimit.Limiter) *Interceptor {
	i.limiter = l
	return i
}

// WrapUnary implements connect.Interceptor.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := i.admit(ctx, req.Spec().Procedure, req.Header(), req.Peer().Addr)
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor; clients are not checked.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.admit(ctx, conn.Spec().Procedure, conn.RequestHeader(), conn.Peer().Addr)
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// PluginVersionFrom returns the plugin protocol version the caller declared,
// zero when it declared none.
func PluginVersionFrom(ctx context.Context) int32 {
	v, _ := ctx.Value(pluginVersionKey{}).(int32)
	return v
}

type pluginVersionKey struct{}

func (i *Interceptor) admit(ctx context.Context, procedure string, header http.Header, peer string) (context.Context, error) {
	versionHeader, authorization := header.Get(PluginVersionHeader), header.Get("Authorization")
	rule, ok := i.rules[procedure]
	if !ok {
		i.log.WarnContext(ctx, "security: call to a procedure without an access rule", slog.String("procedure", procedure))
		return ctx, connect.NewError(connect.CodeNotFound, errors.New("no such procedure"))
	}
	if !rule.GetSkipVersionCheck() {
		version, err := i.versions.PluginVersion(versionHeader)
		if err != nil {
			return ctx, err
		}
		ctx = context.WithValue(ctx, pluginVersionKey{}, version)
	}
	var principal *Principal
	if token, found := bearerToken(authorization); found {
		if i.auth == nil {
			if !rule.GetPublic() {
				i.log.WarnContext(ctx, "security: token presented but no authenticator is configured", slog.String("procedure", procedure))
				return ctx, connect.NewError(connect.CodeUnauthenticated, errors.New("this server cannot verify tokens"))
			}
		} else {
			p, err := i.auth.Authenticate(ctx, token)
			if err != nil && !errors.Is(err, ErrInvalidToken) {
				// The token could not be checked (the database is out of
				// reach): not a reason for the client to drop its session.
				i.log.WarnContext(ctx, "could not verify an access token", slog.String("procedure", procedure), slog.String("error", err.Error()))
				return ctx, connect.NewError(connect.CodeUnavailable, errors.New("the access token cannot be checked right now; retry shortly"))
			}
			if err != nil {
				i.log.WarnContext(ctx, "security: rejected token", slog.String("procedure", procedure), slog.String("reason", err.Error()))
				return ctx, connect.NewError(connect.CodeUnauthenticated, errors.New("the access token is invalid, expired or revoked"))
			}
			principal = p
			ctx = WithPrincipal(ctx, p)
		}
	} else if authorization != "" {
		return ctx, connect.NewError(connect.CodeUnauthenticated, errors.New("the Authorization header must be \"Bearer <token>\""))
	}
	if cerr, denial := Authorize(rule, principal, i.deepLink); cerr != nil {
		if denial != DenialNoToken && denial != DenialEntitlement {
			i.log.WarnContext(ctx, "security: access denied", slog.String("procedure", procedure), slog.String("reason", string(denial)),
				slog.String("client_type", principal.ClientType.String()))
		}
		return ctx, cerr
	}
	if bucket := rule.GetRateLimit(); bucket != "" && i.limiter != nil {
		key := "ip:" + ClientIP(peer)
		if principal != nil {
			key = "user:" + principal.UserID
		}
		ok, retry, err := i.limiter.Allow(ctx, bucket, key)
		if err != nil {
			// A broken limiter store must not lock everyone out.
			i.log.WarnContext(ctx, "rate limiter unavailable", slog.String("error", err.Error()))
		} else if !ok {
			return ctx, apierror.RateLimited(&hivesyncv1.RateLimited{RetryAfter: durationpb.New(retry), Bucket: bucket})
		}
	}
	adminCall := principal != nil && slices.Contains(rule.GetScopes(), hivesyncv1.Scope_SCOPE_ADMIN) && slices.Contains(principal.Scopes, hivesyncv1.Scope_SCOPE_ADMIN)
	// The admin API key (a principal without a user) has no second factor.
	if principal != nil && principal.UserID != "" && i.secondFactor != nil && (rule.GetRequiresSecondFactor() || (i.requireAdmin2FA && adminCall)) {
		recent := principal.SecondFactorAt != nil && time.Since(*principal.SecondFactorAt) < AdminSecondFactorTTL
		if rule.GetRequiresSecondFactor() || !recent {
			if err := i.stepUp(ctx, principal, header.Get(SecondFactorHeader), i.requireAdmin2FA && adminCall); err != nil {
				return ctx, err
			}
		}
	}
	return ctx, nil
}

// stepUp checks the second factor of a sensitive call. Failed codes count
// against the "otp" rate-limit bucket, so codes cannot be brute-forced.
func (i *Interceptor) stepUp(ctx context.Context, p *Principal, code string, mustBeEnrolled bool) error {
	required := func(enrolled bool, msg string) error {
		return apierror.WithDetail(connect.CodePermissionDenied, msg,
			&hivesyncv1.SecondFactorRequired{Enrolled: enrolled, Header: SecondFactorHeader, Message: msg})
	}
	if code != "" && i.limiter != nil {
		ok, retry, err := i.limiter.Allow(ctx, "otp", "user:"+p.UserID)
		if err != nil {
			// Without the limiter, codes could be brute-forced: fail closed.
			i.log.WarnContext(ctx, "rate limiter unavailable; refusing second-factor attempt", slog.String("error", err.Error()))
			return connect.NewError(connect.CodeUnavailable, errors.New("try again shortly"))
		}
		if !ok {
			return apierror.RateLimited(&hivesyncv1.RateLimited{RetryAfter: durationpb.New(retry), Bucket: "otp"})
		}
	}
	enrolled, ok, err := i.secondFactor.Check(ctx, p.UserID, p.SessionID, code)
	if err != nil {
		return fmt.Errorf("check second factor: %w", err)
	}
	switch {
	case !enrolled && mustBeEnrolled:
		return required(false, "Admin actions need two-factor authentication: enable it first.")
	case !enrolled:
		return nil
	case code == "":
		return required(true, "This action needs your two-factor code.")
	case !ok:
		i.log.WarnContext(ctx, "security: wrong second-factor code")
		return required(true, "The two-factor code is wrong or was already used.")
	}
	return nil
}

// ClientIP is the IP of a peer address ("ip:port").
func ClientIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}
