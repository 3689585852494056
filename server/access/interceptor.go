package access

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"connectrpc.com/connect"
)

// Interceptor enforces, for every call: the plugin protocol version (unless
// the rule skips it), authentication of the bearer token, and the method's
// access rule. It fails closed: an unknown procedure is refused, and every
// refusal of a presented token is logged as a security warning.
type Interceptor struct {
	rules    Rules
	auth     Authenticator
	versions VersionPolicy
	deepLink string
	log      *slog.Logger
}

// NewInterceptor builds the interceptor. auth may be nil while no method needs
// a token; calls that do are then refused as unauthenticated.
func NewInterceptor(rules Rules, auth Authenticator, versions VersionPolicy, upgradeDeepLink string, log *slog.Logger) *Interceptor {
	return &Interceptor{rules: rules, auth: auth, versions: versions, deepLink: upgradeDeepLink, log: log}
}

var _ connect.Interceptor = (*Interceptor)(nil)

// WrapUnary implements connect.Interceptor.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := i.admit(ctx, req.Spec().Procedure, req.Header().Get(PluginVersionHeader), req.Header().Get("Authorization"))
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
		h := conn.RequestHeader()
		ctx, err := i.admit(ctx, conn.Spec().Procedure, h.Get(PluginVersionHeader), h.Get("Authorization"))
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

func (i *Interceptor) admit(ctx context.Context, procedure, versionHeader, authorization string) (context.Context, error) {
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
	return ctx, nil
}

func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}
